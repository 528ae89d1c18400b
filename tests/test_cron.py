"""Cron: due times from croniter, overlap skip/queue/allow, audit events, persistence with a
durable VM. Time is a fake clock handed to the scheduler; nothing sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM, AsyncVM
from pocketos.cron import Scheduler

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def kinds(vm: AsyncVM) -> list[tuple[str, str]]:
    return [(e.kind, e.reason) for e in vm.audit_log() if e.kind.startswith("cron.")]


def test_exec_job_runs_when_due_and_is_audited() -> None:
    async def main() -> None:
        vm = AsyncVM()
        clock = Clock(T0)
        s = Scheduler(vm, clock)
        job = s.add("*/5 * * * *", exec="echo tick >> /tmp/log")
        assert job.next_run == T0 + 300
        assert s.tick(T0 + 299) == []
        await asyncio.gather(*s.tick(T0 + 300))
        assert job.next_run == T0 + 600
        await asyncio.gather(*s.tick(T0 + 600))
        assert vm.read_text("/tmp/log") == "tick\ntick\n"
        assert job.runs == 2
        assert kinds(vm) == [("cron.run", ""), ("cron.run", "")]
        await vm.aclose()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("overlap", "runs", "audit"),
    [
        ("skip", 1, ["cron.run", "cron.skip"]),
        ("queue", 2, ["cron.run", "cron.queue", "cron.run"]),
        ("allow", 2, ["cron.run", "cron.run"]),
    ],
)
def test_overlap(overlap: str, runs: int, audit: list[str]) -> None:
    async def main() -> None:
        vm = AsyncVM()
        release = asyncio.Event()
        concurrent = []
        active = 0

        async def slow(_vm: Any) -> None:
            nonlocal active
            active += 1
            concurrent.append(active)
            await release.wait()
            active -= 1

        s = Scheduler(vm, Clock(T0))
        job = s.add("* * * * *", callback=slow, overlap=overlap)
        first = s.tick(T0 + 60)
        await asyncio.sleep(0)  # let the first run reach its wait
        second = s.tick(T0 + 120)
        release.set()
        await asyncio.gather(*first, *second)
        assert job.runs == runs
        assert [k for k, _ in kinds(vm)] == audit
        assert max(concurrent) == (2 if overlap == "allow" else 1)
        await vm.aclose()

    asyncio.run(main())


def test_failures_are_audited_not_raised() -> None:
    async def main() -> None:
        vm = AsyncVM()
        s = Scheduler(vm, Clock(T0))
        job = s.add("* * * * *", exec="echo nope >&2; exit 3")
        await asyncio.gather(*s.tick(T0 + 60))
        assert job.failures == 1
        assert kinds(vm)[-1] == ("cron.error", "RuntimeError: exit status 3: nope")
        await vm.aclose()

    asyncio.run(main())


def test_one_shot_at_and_bad_input() -> None:
    with VM() as vm:
        s = Scheduler(vm.async_vm, Clock(T0))
        job = s.add(at=T0 + 10, exec="true")
        assert job.next_run == T0 + 10
        with pytest.raises(ValueError, match="invalid cron expression"):
            s.add("61 * * * *", exec="true")
        with pytest.raises(ValueError, match="exactly one of exec=, prompt=, callback="):
            s.add("* * * * *")
        with pytest.raises(ValueError, match="overlap must be one of skip, queue, allow"):
            s.add("* * * * *", exec="true", overlap="maybe")
        with pytest.raises(ValueError, match="cron expression or at="):
            s.add(exec="true")
        with pytest.raises(KeyError):
            vm.unschedule("nope")


def test_schedules_start_in_a_running_loop_and_stop_with_the_vm() -> None:
    async def main() -> None:
        vm = AsyncVM()
        ran = asyncio.Event()

        def mark(_vm: Any) -> None:
            ran.set()

        vm.schedule(at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), callback=mark)  # already due
        await ran.wait()
        assert [s["runs"] for s in vm.schedules()] == [1]
        await vm.aclose()  # cancels the scheduler task
        assert not vm._tasks

    asyncio.run(main())


def test_schedules_persist_with_a_durable_vm(tmp_path: Path) -> None:
    with VM.open("cronbox", store=tmp_path) as vm:
        job = vm.schedule("0 3 * * *", exec="echo nightly >> /var/log/n", overlap="queue")
        vm.schedule("0 4 * * *", callback=lambda v: None)  # callbacks are not saved
    with VM.open("cronbox", store=tmp_path) as vm:
        (saved,) = vm.schedules()
        assert (saved["id"], saved["cron"], saved["exec"], saved["overlap"]) == (
            job.id,
            "0 3 * * *",
            "echo nightly >> /var/log/n",
            "queue",
        )
