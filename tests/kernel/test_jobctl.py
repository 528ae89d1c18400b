"""The kernel's stop/continue state machine: process groups, STOP/TSTP/TTIN/TTOU, CONT,
deadly signals to a stopped process, and the safe points where a stopped process pauses.
Nothing here waits on the clock: "did not run" is checked after letting the loop turn."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import AsyncVM
from pocketos.kernel.jobctl import ProcessGroup, checkpoint, use_group
from pocketos.kernel.process import ProcessKilled


async def _turns(n: int = 200) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_group_stop_continue_and_listeners() -> None:
    g = ProcessGroup()
    seen: list[int | None] = []
    remove = g.listen(lambda grp: seen.append(grp.stop_signal))
    assert not g.stopped
    g.stop(20)
    g.stop(19)  # a second stop only changes the signal reported
    assert (g.stopped, g.stop_signal) == (True, 19)
    g.cont()
    g.cont()  # continuing a running group changes nothing
    remove()
    g.stop(20)
    assert seen == [20, None]


def test_checkpoint_pauses_until_continued() -> None:
    async def go() -> list[str]:
        g = ProcessGroup()
        log: list[str] = []

        async def work() -> None:
            use_group(g)
            for i in range(3):
                await checkpoint()
                log.append(f"step {i}")
                if i == 0:
                    g.stop(19)

        t = asyncio.create_task(work())
        await _turns()
        log.append("stopped" if not t.done() else "ran on")
        g.cont()
        await t
        return log

    assert asyncio.run(go()) == ["step 0", "stopped", "step 1", "step 2"]


def test_stopped_process_ends_at_its_deadline() -> None:
    from pocketos.errors import LimitExceeded
    from pocketos.kernel.budget import Budget, use_budget
    from pocketos.kernel.limits import Limits

    async def go() -> str:
        g = ProcessGroup()
        g.stop(20)

        async def work() -> None:
            use_group(g)
            use_budget(Budget(Limits(), timeout=0.0))  # a deadline already passed
            await checkpoint()

        try:
            await work()
        except LimitExceeded as exc:
            return exc.limit
        return "not ended"

    assert asyncio.run(go()) == "timeout"


@pytest.mark.parametrize("stop", ["STOP", "TSTP", "TTIN", "TTOU", 19])
def test_a_stopped_reader_takes_no_input_until_continued(stop: str | int) -> None:
    async def go() -> tuple[bytes, bool, bytes]:
        async with AsyncVM(isolation="in-process") as vm:
            p = await vm.spawn(["cat"])
            vm.kill(p.pid, stop)
            stopped = [r for r in vm.list_processes() if r["pid"] == p.pid][0]["stopped"]
            await p.write(b"hello\n")
            await _turns()
            before = bytes(p.stdout.buf)
            vm.kill(p.pid, "CONT")
            p.close_stdin()
            await p.wait(30)
            return before, stopped, await p.stdout.read()

    before, stopped, after = asyncio.run(go())
    assert (before, stopped, after) == (b"", True, b"hello\n")


def test_term_waits_for_cont_kill_does_not() -> None:
    async def go() -> tuple[bool, int, int]:
        async with AsyncVM(isolation="in-process") as vm:
            a = await vm.spawn(["sleep", "infinity"])
            vm.kill(a.pid, "STOP")
            vm.kill(a.pid, "TERM")
            await _turns()
            still = a.exit_code is None
            vm.kill(a.pid, "CONT")
            term = await a.wait(30)
            b = await vm.spawn(["sleep", "infinity"])
            vm.kill(b.pid, "TSTP")
            vm.kill(b.pid, "KILL")
            return still, term, await b.wait(30)

    assert asyncio.run(go()) == (True, 143, 137)


def test_kill_reaches_a_stopped_process_that_is_not_a_task_of_its_own() -> None:
    """A command run by a shell shares the shell's task: KILL wakes it where it pauses."""

    async def go() -> int:
        g = ProcessGroup()
        from pocketos.kernel.jobctl import use_process
        from pocketos.kernel.process import ProcessInfo

        info = ProcessInfo(1, 0, 1, ["x"], "/", {})
        info.group = g
        g.stop(19)

        async def work() -> int:
            use_group(g)
            use_process(info)
            try:
                await checkpoint()
            except ProcessKilled as exc:
                return exc.signum
            return 0

        t = asyncio.create_task(work())
        await _turns()
        info.pending_signal = 9
        g.poke()
        return await t

    assert asyncio.run(go()) == 9
