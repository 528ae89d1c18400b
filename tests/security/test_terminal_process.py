"""Attacks on a terminal whose shell runs in a worker process: output nobody reads must stop
the program (not grow the worker's or the host's memory), and a worker that dies under an open
terminal must end the terminal with a clear status while the host carries on."""

from __future__ import annotations

import asyncio
import os
import signal

from pocketos import AsyncVM
from pocketos.isolation.terms import CHUNK, WINDOW
from pocketos.terminal.clients import HIGH_WATER

WAIT = 30.0
PROMPT = "user@pocketos:~$ "
#: what the host may hold for a reader that does not read: its high-water mark, the window of
#: unacknowledged output in flight, one frame
BOUND = HIGH_WATER + WINDOW + CHUNK


def test_output_nobody_reads_stops_the_program_in_the_worker() -> None:
    async def go() -> tuple[int, int, bytes]:
        async with AsyncVM(isolation="process") as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            full = asyncio.Event()
            most = 0

            def watch(_: bytes) -> None:
                nonlocal most
                most = max(most, len(t.owner._buf))
                if len(t.owner._buf) > HIGH_WATER:
                    full.set()

            t.on_output(watch)
            await t.write("yes\r")  # never ends by itself
            await asyncio.wait_for(full.wait(), WAIT)
            # the worker's loop keeps running (each request runs it too) and `yes` would go on
            # writing; flow control holds it, so what the host holds stays bounded
            for _ in range(20):
                r = await vm.exec("echo ok")
                assert r.stdout == "ok\n"
            held = len(t.owner._buf)
            await t.write(b"\x03")
            await t.read_until(PROMPT, WAIT)
            await t.write("echo alive\r")
            tail = await t.read_until("\n" + PROMPT, WAIT)
            await t.close()
            return most, held, tail

    most, held, tail = asyncio.run(go())
    assert most <= BOUND
    assert held <= BOUND
    assert tail.endswith(b"echo alive\r\nalive\r\n" + PROMPT.encode())


def test_a_worker_killed_under_an_open_terminal_ends_it_clearly() -> None:
    async def go() -> tuple[int, bytes, str, bool]:
        async with AsyncVM(isolation="process") as vm:
            t = vm.open_shell()
            viewer = t.attach("viewer")
            await t.read_until(PROMPT, WAIT)
            await t.write("sleep infinity\r")
            await t.read_until("infinity\r\n", WAIT)
            os.kill(vm._worker.pid, signal.SIGKILL)
            status = await t.wait(WAIT)
            rest = await t.read()
            seen = b""
            while chunk := await viewer.read():
                seen += chunk
            ended = True
            try:
                await t.write("echo more\r")
                ended = False
            except ConnectionError:
                pass
            # the host and the VM carry on: the next request starts a new worker
            r = await vm.exec("echo back")
            return status, rest, r.stdout, ended and seen.endswith(rest)

    status, rest, back, ended = asyncio.run(go())
    assert status == 128 + signal.SIGKILL
    assert b"pocketos: the worker was killed (SIGKILL); the terminal has ended" in rest
    assert back == "back\n"
    assert ended


def test_a_worker_sending_more_than_its_window_is_killed() -> None:
    """The host does not trust the worker: terminal output past the window it was given (here
    a frame as a compromised worker would send it, put where the host's reader puts frames)
    is a protocol violation, and the worker is killed before the host buffers it."""

    async def go() -> tuple[int, bytes, str]:
        async with AsyncVM(isolation="process") as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            w = vm._worker
            w._dispatch_term({"term": 10**6, "data": b"x" * (WINDOW + CHUNK + 1)})
            status = await t.wait(WAIT)
            rest = await t.read()
            r = await vm.exec("echo back")
            return status, rest, r.stdout

    status, rest, back = asyncio.run(go())
    assert status == 2
    assert b"the worker broke the protocol and was killed" in rest
    assert back == "back\n"


def test_closing_a_terminal_nobody_reads_ends_it_and_keeps_the_worker() -> None:
    async def go() -> tuple[int, int, str]:
        async with AsyncVM(isolation="process") as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            full = asyncio.Event()
            t.on_output(lambda _: full.set() if len(t.owner._buf) > HIGH_WATER else None)
            await t.write("yes\r")
            await asyncio.wait_for(full.wait(), WAIT)
            status = await asyncio.wait_for(t.close(), WAIT)
            r = await vm.exec("echo same worker")
            return status, vm.restarts, r.stdout

    status, restarts, out = asyncio.run(go())
    assert status == 0 and restarts == 0 and out == "same worker\n"


def test_files_a_terminal_wrote_survive_the_worker_once_committed() -> None:
    """Keys are requests, and each commits the VM's filesystem: what a command line wrote
    before the next key survives the worker's death."""

    async def go() -> tuple[int, str]:
        async with AsyncVM(isolation="process") as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            await t.write("echo kept > /home/user/f\r")
            await t.read_until("\n" + PROMPT, WAIT)
            await t.write(b"\x15")  # Ctrl-U at the prompt: a key, nothing else
            os.kill(vm._worker.pid, signal.SIGKILL)
            status = await t.wait(WAIT)
            return status, vm.read_text("/home/user/f")

    assert asyncio.run(go()) == (128 + signal.SIGKILL, "kept\n")
