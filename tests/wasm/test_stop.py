"""A stopped wasm guest pauses at its calls to the host (stdin, output) until CONT. Waits are
on state (the guest reaching the pause), never on the clock."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import AsyncVM
from tests.wasm.conftest import need_js, need_python

UPPER_PY = "import sys\nfor l in sys.stdin:\n    print(l.strip().upper(), flush=True)\n"
UPPER_JS = "let l; while ((l = std.in.getline()) !== null) console.log(l.toUpperCase())"


async def _paused(group: object) -> None:
    """Until a process of ``group`` waits for CONT (the guest runs on a thread of its own, so
    this looks at the group between turns of the loop)."""
    while getattr(group, "_change", None) is None:
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("runtime", ["python3", "node"])
def test_a_stopped_guest_pauses_at_its_next_host_call_until_continued(runtime: str) -> None:
    if runtime == "python3":
        need_python()
        argv = ["python3", "-c", UPPER_PY]
    else:
        need_js()
        argv = ["node", "-e", UPPER_JS]

    async def go() -> tuple[bytes, bytes, int]:
        async with AsyncVM(isolation="in-process") as vm:
            p = await vm.spawn(argv)
            await p.write(b"a\n")
            first = await asyncio.wait_for(p.stdout.readuntil(b"\n"), 120)
            group = p.info.group
            assert group is not None
            vm.kill(p.pid, "STOP")
            await p.write(b"b\n")
            # the guest gets "b" (its read was already waiting) and pauses at its output
            await asyncio.wait_for(_paused(group), 120)
            before = bytes(p.stdout.buf)
            vm.kill(p.pid, "CONT")
            second = await asyncio.wait_for(p.stdout.readuntil(b"\n"), 120)
            p.close_stdin()
            return first + before, second, await p.wait(60)

    before, after, code = asyncio.run(go())
    assert before == b"A\n"  # and nothing more while it was stopped
    assert after == b"B\n"
    assert code == 0
