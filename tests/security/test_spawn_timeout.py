"""A spawned process ends at its timeout like an exec, also when it is blocked (a sleep, a
read of a pipe nobody writes) and never reaches a deadline check of its own. Before, only a
busy process ended there: `spawn(["sleep", "infinity"], limits={"timeout": 2})` ran forever."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import VM, AsyncVM


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["sleep", "infinity"], b""),
        (["cat"], None),  # its stdin is a pipe the test never writes or closes
        (["bash", "-c", "read -r x; echo never"], None),
    ],
)
def test_a_blocked_spawned_process_ends_at_its_timeout(
    argv: list[str], stdin: bytes | None
) -> None:
    with VM() as vm:
        p = vm.spawn(argv, stdin=stdin, limits={"timeout": 0.5})
        code = p.wait(timeout=60)  # a guard against a hang, not a measurement
        assert code == 124
        assert f"{argv[0]}: timed out after 0.5s" in p.read_stderr().decode()
        listed = [x for x in vm.list_processes() if x["status"] == "running"]
        assert listed == []


def test_a_spawned_process_within_its_timeout_is_untouched() -> None:
    with VM() as vm:
        p = vm.spawn(["bash", "-c", "echo hi; exit 3"], stdin=b"", limits={"timeout": 60})
        assert p.wait(timeout=60) == 3
        assert p.read_stdout().decode() == "hi\n"


def test_an_async_spawned_process_ends_at_its_timeout() -> None:
    async def go() -> int:
        async with AsyncVM() as vm:
            p = await vm.spawn(["sleep", "infinity"], stdin=b"", limits={"timeout": 0.5})
            return await p.wait(timeout=60)

    assert asyncio.run(go()) == 124
