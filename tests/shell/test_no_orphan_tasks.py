"""No asyncio task of the shell outlives the exec that started it: background jobs, their
pipelines and the jobs of subshells are ended (and awaited) when the exec ends, whether the
script finished, timed out or was killed by a limit."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import AsyncVM

SCRIPTS = [
    # jobs that would never end, a pipeline in the background, a subshell's own job
    "sleep 100000 & { yes | cat > /dev/null; } & (sleep 100000 &) ; echo done",
    # a foreground pipeline that never ends, stopped by the timeout
    "sleep 100000 & yes | cat > /dev/null",
    # jobs started inside a function inside a command substitution
    "f() { sleep 100000 & yes > /dev/null & echo x; }; v=$(f); echo $v",
    # pipeline stages that start the group's first jobs at the same time
    "f() { true & wait; }; f | f | f; echo done",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_task_outlives_the_exec(script: str) -> None:
    async def go() -> set[asyncio.Task[object]]:
        async with AsyncVM(limits={"timeout": 2}) as vm:
            before = asyncio.all_tasks()
            r = await vm.exec(script)
            assert r.exit_code in (0, 124), r
            return asyncio.all_tasks() - before

    left = asyncio.run(go())
    assert not left, left


def test_jobs_of_a_kept_shell_end_with_it() -> None:
    """A session shell keeps its jobs between commands; closing it ends them all."""

    async def go() -> tuple[int, set[asyncio.Task[object]]]:
        async with AsyncVM() as vm:
            before = asyncio.all_tasks()
            sh = vm.shell()
            r = await sh.run("sleep 100000 & yes | cat > /dev/null &")
            assert r.exit_code == 0, r
            running = len(asyncio.all_tasks() - before)
            await sh.aclose()
            return running, asyncio.all_tasks() - before

    running, left = asyncio.run(go())
    assert running >= 2
    assert not left, left


def test_no_task_outlives_an_exec_timed_out_at_any_moment() -> None:
    """The timeout lands at a different point of the script's start each time (while the
    job starts, while the shell ends its jobs ...): never is a task left behind."""

    async def go() -> list[set[asyncio.Task[object]]]:
        leftovers = []
        async with AsyncVM() as vm:
            for i in range(20):
                before = asyncio.all_tasks()
                r = await vm.exec(
                    "sleep 100000 & yes | cat > /dev/null", timeout=0.01 + 0.02 * (i % 10)
                )
                assert r.exit_code == 124, r
                leftovers.append(asyncio.all_tasks() - before)
        return leftovers

    assert not any(asyncio.run(go()))
