"""Attack: end a stopped wasm guest while it is paused inside a call to the host.

A stopped guest (python3, node) pauses in the middle of a host call (its output, its stdin
read). Ending it there (KILL, TERM then CONT, the exec's timeout, closing the VM, CONT racing
KILL) must unwind it as a normal guest stop: an exception crossing a wasmtime host-function
frame, or a host call answering after its store is gone, aborts the whole host process
("thread caused non-unwinding panic"). Such an abort cannot be caught in-process, so the
scenarios run in a child Python process and the oracle is how that child ends: a normal exit
that reports every round, no signal, no "panic" on its stderr.

What is checked does not depend on timing: only that every round ended and the child exited
normally (how far each guest got before it was ended varies, and is not looked at).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.wasm.conftest import need_js, need_python

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r"""
import asyncio, sys
from pocketos import AsyncVM

RUNTIME = sys.argv[1]
ROUNDS = int(sys.argv[2])
if RUNTIME == "python3":
    WRITER = ["python3", "-c", "import sys\nwhile True:\n    print('x' * 64, flush=True)\n"]
    READER = ["python3", "-c",
              "import sys\nfor l in sys.stdin:\n    print(l.strip().upper(), flush=True)\n"]
else:
    WRITER = ["node", "-e", "while (true) console.log('x'.repeat(64))"]
    READER = ["node", "-e",
              "let l; while ((l = std.in.getline()) !== null) console.log(l.toUpperCase())"]
ENDS = ["KILL", "TERM", "timeout", "close", "cont-kill"]
MODES = ["output", "read", "read-pending"]


async def paused(group, info):
    # paused at a host call, or already ended (the exec's timeout can end a stopped guest
    # before it reaches one: what is checked is that ending it never aborts the host)
    while getattr(group, "_change", None) is None and info.status == "running":
        await asyncio.sleep(0.002)


async def one(mode, end):
    limits = {"timeout": 2.0} if end == "timeout" else None
    vm = AsyncVM(isolation="in-process")
    await vm.__aenter__()
    closed = False
    try:
        p = await vm.spawn(WRITER if mode == "output" else READER, limits=limits)
        group = p.info.group
        if mode == "output":
            await asyncio.wait_for(p.stdout.readuntil(b"\n"), 300)
            vm.kill(p.pid, "STOP")
            await asyncio.wait_for(paused(group, p.info), 60)
        elif mode == "read":
            await p.write(b"a\n")
            await asyncio.wait_for(p.stdout.readuntil(b"\n"), 300)
            vm.kill(p.pid, "STOP")
            await p.write(b"b\n")
            await asyncio.wait_for(paused(group, p.info), 60)
        else:  # stopped while its stdin read is still waiting in the host
            await p.write(b"a\n")
            await asyncio.wait_for(p.stdout.readuntil(b"\n"), 300)
            vm.kill(p.pid, "STOP")
        if end == "KILL":
            vm.kill(p.pid, "KILL")
        elif end == "TERM":
            vm.kill(p.pid, "TERM")
            vm.kill(p.pid, "CONT")
        elif end == "cont-kill":
            vm.kill(p.pid, "CONT")
            vm.kill(p.pid, "KILL")
        elif end == "close":
            closed = True
            await vm.__aexit__(None, None, None)
            return
        if end != "timeout" and mode == "read-pending":
            p.close_stdin()
        await asyncio.wait_for(p.wait(), 120)
    finally:
        if not closed:
            await vm.__aexit__(None, None, None)


async def main():
    n = 0
    for r in range(ROUNDS):
        for end in ENDS:
            for mode in MODES:
                if end == "timeout" and mode == "read-pending":
                    continue  # a running guest waiting on stdin is not under the exec timeout
                await one(mode, end)
                n += 1
    print(f"ROUNDS-OK {n}", flush=True)


asyncio.run(main())
"""


@pytest.mark.parametrize("runtime", ["python3", "node"])
def test_ending_a_guest_paused_in_a_host_call_never_aborts_the_host(runtime: str) -> None:
    if runtime == "python3":
        need_python()
    else:
        need_js()
    rounds = int(os.environ.get("POCKETOS_WASMKILL_ROUNDS", "2"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, runtime, str(rounds)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    err = proc.stderr
    assert proc.returncode >= 0, (
        f"the host process died of {signal.Signals(-proc.returncode).name}: {err[-3000:]}"
    )
    assert "panic" not in err, err[-3000:]
    assert proc.returncode == 0, err[-3000:]
    assert proc.stdout.strip() == f"ROUNDS-OK {rounds * 14}", (proc.stdout, err[-3000:])


@pytest.mark.parametrize("close_first", [True, False])
def test_a_door_wait_ends_when_the_vm_loop_is_closed(close_first: bool) -> None:
    """A guest thread waiting in the door (its stdin, an HTTP request) for a loop that is
    closed without cancelling it gives up instead of holding its thread (and so the host
    process's exit) forever."""
    import asyncio
    import threading

    from pocketos.wasm.bridge import LoopBridge
    from pocketos.wasm.door import GuestStopped, wait_for

    loop = asyncio.new_event_loop()
    bridge = LoopBridge(loop, threading.Event())
    never = asyncio.Event()  # nobody sets it: only the closed loop can end the wait
    if close_first:
        loop.close()
    else:
        threading.Thread(target=loop.close).start()
    wait = never.wait()
    try:
        with pytest.raises(GuestStopped):
            wait_for(bridge, wait, bridge.cancel or threading.Event())
    finally:
        wait.close()  # the closed loop never ran it
    assert loop.is_closed()


def test_concurrent_node_guests_each_report_their_own_exit() -> None:
    """Guests ending inside a host call at the same time on different threads (proc_exit)
    each report their own status: wasmtime-py hands a host call's exception back through one
    process-wide slot, so the status must not be read from it."""
    need_js()
    import asyncio

    from pocketos import AsyncVM

    async def go() -> list[tuple[int, int]]:
        async with AsyncVM(isolation="in-process") as vm:
            got: list[tuple[int, int]] = []
            for _ in range(8):
                procs = [
                    (code, await vm.spawn(["node", "-e", f"process.exit({code})"]))
                    for code in range(1, 7)
                ]
                for code, p in procs:
                    got.append((code, await p.wait(120)))
            return got

    for want, code in asyncio.run(go()):
        assert code == want
