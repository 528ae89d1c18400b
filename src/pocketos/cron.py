"""Cron for a VM: run a script, an agent prompt or a callback on a cron expression.

    job = vm.schedule("*/5 * * * *", exec="cd /work && make check", overlap="skip")
    await vm.run_schedules()          # runs due jobs while the host process runs

Expressions are croniter's (five fields, optional seconds, ``@hourly``…); ``at=`` gives a
one-shot time instead. ``overlap`` says what happens when a job comes due while its previous
run is still going: ``skip`` (the default) drops it, ``queue`` runs it right after, ``allow``
runs both. Every run, skip and failure is an audit event (``cron.run``, ``cron.skip``,
``cron.error``). Schedules with ``exec``/``prompt`` are saved with a durable VM and come back
with it; callbacks cannot be saved. Orchestration (retries, fleets, calendars) stays with
control planes: this is a runtime convenience.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Job", "Scheduler", "OVERLAP"]

OVERLAP = ("skip", "queue", "allow")


def _next_after(expr: str, after: float) -> float:
    from croniter import croniter

    base = _dt.datetime.fromtimestamp(after, _dt.UTC)
    nxt = croniter(expr, base).get_next(_dt.datetime)
    return float(nxt.timestamp())


@dataclass
class Job:
    """One schedule."""

    id: str
    cron: str | None
    at: float | None
    exec: str | None = None
    prompt: str | None = None
    callback: Callable[..., Any] | None = None
    overlap: str = "skip"
    agent: str = "pocketos"
    next_run: float | None = None
    running: int = 0
    queued: int = 0
    runs: int = 0
    skipped: int = 0
    failures: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """The saved form (no callback, no counters)."""
        return {
            "id": self.id,
            "cron": self.cron,
            "at": self.at,
            "exec": self.exec,
            "prompt": self.prompt,
            "overlap": self.overlap,
            "agent": self.agent,
        }


class Scheduler:
    """The schedules of one VM. ``tick(now)`` starts what is due; ``run()`` ticks forever."""

    def __init__(self, vm: Any, clock: Callable[[], float] = time.time) -> None:
        self.vm = vm
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._wake = asyncio.Event()

    def add(
        self,
        cron: str | None = None,
        *,
        exec: str | None = None,
        prompt: str | None = None,
        callback: Callable[..., Any] | None = None,
        overlap: str = "skip",
        at: float | _dt.datetime | None = None,
        agent: str = "pocketos",
        id: str | None = None,
    ) -> Job:
        actions = [x is not None for x in (exec, prompt, callback)]
        if sum(actions) != 1:
            raise ValueError("schedule needs exactly one of exec=, prompt=, callback=")
        if (cron is None) == (at is None):
            raise ValueError("schedule needs a cron expression or at= (one of them)")
        if overlap not in OVERLAP:
            raise ValueError(f"overlap must be one of {', '.join(OVERLAP)}, not {overlap!r}")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        when = at.timestamp() if isinstance(at, _dt.datetime) else at
        now = self.clock()
        if cron is not None:
            from croniter import croniter

            if not croniter.is_valid(cron):
                raise ValueError(f"invalid cron expression {cron!r}")
            first = _next_after(cron, now)
        else:
            assert when is not None
            first = float(when)
        job = Job(
            id or uuid.uuid4().hex[:12],
            cron,
            float(when) if when is not None else None,
            exec,
            prompt,
            callback,
            overlap,
            agent,
            next_run=first,
        )
        self.jobs[job.id] = job
        self._wake.set()
        return job

    def remove(self, job_id: str) -> None:
        if self.jobs.pop(job_id, None) is None:
            raise KeyError(f"no schedule {job_id!r}")
        self._wake.set()

    def saved(self) -> list[dict[str, Any]]:
        return [
            j.to_dict()
            for j in self.jobs.values()
            if j.callback is None and (j.cron is not None or j.next_run is not None)
        ]

    def next_due(self) -> float | None:
        times = [j.next_run for j in self.jobs.values() if j.next_run is not None]
        return min(times) if times else None

    # --- running -----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[asyncio.Task[Any]]:
        """Start every job due at ``now``; returns the runs started (await them to finish)."""
        t = self.clock() if now is None else now
        started = []
        for job in list(self.jobs.values()):
            if job.next_run is None or job.next_run > t:
                continue
            job.next_run = _next_after(job.cron, t) if job.cron is not None else None
            if job.running and job.overlap == "skip":
                job.skipped += 1
                self._audit("cron.skip", job, reason="previous run still going")
                continue
            if job.running and job.overlap == "queue":
                job.queued += 1
                self._audit("cron.queue", job)
                continue
            started.append(self._start(job))
        return started

    def _start(self, job: Job) -> asyncio.Task[Any]:
        job.running += 1
        task = asyncio.get_running_loop().create_task(self._run(job))
        job.tasks.add(task)
        task.add_done_callback(job.tasks.discard)
        return task

    async def _run(self, job: Job) -> None:
        try:
            while True:
                job.runs += 1
                self._audit("cron.run", job, run=job.runs)
                try:
                    await self._action(job)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a failing job is audited, never fatal to the host
                    job.failures += 1
                    self._audit("cron.error", job, reason=f"{type(exc).__name__}: {exc}")
                if job.queued and job.id in self.jobs:
                    job.queued -= 1
                    continue
                break
        finally:
            job.running -= 1

    async def _action(self, job: Job) -> None:
        vm = self.vm
        if job.exec is not None:
            r = await vm.exec(job.exec)
            if r.exit_code != 0:
                raise RuntimeError(f"exit status {r.exit_code}: {r.stderr.strip()[:200]}")
        elif job.prompt is not None:
            session = await vm.create_session(job.agent)
            try:
                await session.prompt(job.prompt)
            finally:
                await session.close()
        else:
            assert job.callback is not None
            out = job.callback(vm)
            if inspect.isawaitable(out):
                await out

    def _audit(self, kind: str, job: Job, reason: str = "", **detail: Any) -> None:
        what = job.exec or job.prompt or getattr(job.callback, "__name__", "callback")
        self.vm.kernel.audit.record(
            kind,
            capability="cron",
            resource=job.id,
            decision="allow" if kind in ("cron.run", "cron.queue") else "",
            reason=reason,
            actor="cron",
            schedule=job.cron or f"at {job.at}",
            action=str(what)[:200],
            **detail,
        )

    async def run(self, *, until: float | None = None) -> None:
        """Start jobs as they come due (until ``until``, a clock time, or forever); on return
        or cancellation, the runs in progress are awaited or cancelled."""
        try:
            while True:
                now = self.clock()
                if until is not None and now >= until:
                    break
                self.tick(now)
                nxt = self.next_due()
                wait = None if nxt is None else max(0.0, nxt - self.clock())
                if until is not None:
                    wait = (
                        max(0.0, until - self.clock())
                        if wait is None
                        else min(wait, max(0.0, until - self.clock()))
                    )
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
            pending = [t for j in self.jobs.values() for t in j.tasks]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        except asyncio.CancelledError:
            for j in self.jobs.values():
                for t in j.tasks:
                    t.cancel()
            raise
