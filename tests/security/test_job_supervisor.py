"""Attacks on the background-job supervisor: however a guest's jobs end (a fork bomb whose
jobs start jobs while they are being cancelled, an exec timeout, a cancellation that arrives
while the jobs are being closed), no ``pocketos-jobs`` task outlives the exec that made it."""

from __future__ import annotations

import asyncio

from pocketos import AsyncVM
from pocketos.shell.jobs import JobGroup


def _supervisors() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "pocketos-jobs" and not t.done()]


def test_a_fork_bomb_leaves_no_job_supervisor_running() -> None:
    async def go() -> list[tuple[int, int]]:
        out = []
        async with AsyncVM() as vm:
            for _ in range(3):
                r = await vm.exec(":(){ :|:& };:", timeout=60)
                out.append((r.exit_code, len(_supervisors())))
        return out

    assert asyncio.run(go()) == [(0, 0)] * 3


def test_jobs_cut_by_the_exec_timeout_leave_no_job_supervisor_running() -> None:
    async def go() -> list[tuple[int, int]]:
        out = []
        async with AsyncVM() as vm:
            for script in ("sleep infinity & yes | xargs -n1 true", "set -m; sleep infinity"):
                r = await vm.exec(script, timeout=0.5)
                out.append((r.exit_code, len(_supervisors())))
        return out

    assert asyncio.run(go()) == [(124, 0), (124, 0)]


def test_a_cancellation_while_closing_still_waits_for_the_supervisor() -> None:
    async def go() -> tuple[bool, bool, bool]:
        group = JobGroup()
        release = asyncio.Event()

        async def stubborn() -> int:
            # a job that takes a while to end once cancelled (as a shell running its traps)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                while not release.is_set():
                    try:
                        await release.wait()
                    except asyncio.CancelledError:
                        pass
            return 143

        job = await group.start(stubborn())
        await asyncio.sleep(0)
        closing = asyncio.create_task(group.close())
        await asyncio.sleep(0)
        sup = _supervisors()
        closing.cancel()  # the second cancellation: the closer's own
        for _ in range(20):
            await asyncio.sleep(0)
        still_closing = not closing.done()
        release.set()
        try:
            await closing
        except asyncio.CancelledError:
            pass
        return still_closing, all(t.done() for t in sup) and job.done(), closing.cancelled()

    assert asyncio.run(go()) == (True, True, True)


def test_a_job_started_while_closing_is_refused() -> None:
    async def go() -> tuple[bool, int]:
        group = JobGroup()
        refused = False

        async def starts_another() -> int:
            nonlocal refused
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                try:
                    await group.start(asyncio.sleep(0, 0))
                except asyncio.CancelledError:
                    refused = True
            return 143

        await group.start(starts_another())
        await asyncio.sleep(0)
        await group.close()
        return refused, len(_supervisors())

    assert asyncio.run(go()) == (True, 0)
