"""Attacks on a terminal: output nobody reads, keys nobody edits, viewers that do not keep up.
Each must stay within a bound (memory) and leave the terminal usable."""

from __future__ import annotations

import asyncio

from pocketos import AsyncVM
from pocketos.terminal.clients import HIGH_WATER
from pocketos.terminal.terminal import MAX_KEYS
from pocketos.terminal.tty import MAX_INPUT

WAIT = 30.0
PROMPT = "user@pocketos:~$ "
SLACK = 256 * 1024  # one program write past the mark


def test_output_nobody_reads_stops_the_program_instead_of_growing() -> None:
    async def go() -> tuple[int, bytes]:
        async with AsyncVM() as vm:
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
            # the program now waits for the reader; Ctrl-C still gets through (its echo is
            # lost: the reader is too far behind)
            await t.write(b"\x03")
            await t.read_until(PROMPT, WAIT)
            await t.write("echo alive\r")
            tail = await t.read_until("\n" + PROMPT, WAIT)
            await t.close()
            return most, tail

    most, tail = asyncio.run(go())
    assert most <= HIGH_WATER + SLACK
    assert tail == b"echo alive\r\nalive\r\n" + PROMPT.encode()


def test_a_viewer_that_does_not_read_is_dropped() -> None:
    async def go() -> tuple[str | None, int]:
        async with AsyncVM() as vm:
            t = vm.open_shell()
            lazy = t.attach("viewer")
            await t.read_until(PROMPT, WAIT)
            await t.write("yes\r")
            while not lazy.detached:
                assert await t.read()
            kept = len(lazy._buf)
            await t.write(b"\x03")
            await t.read_until(PROMPT, WAIT)
            await t.close()
            return lazy.reason, kept

    reason, kept = asyncio.run(go())
    assert reason == "lagging"
    assert kept <= HIGH_WATER + SLACK


def test_keys_flooding_the_prompt_are_refused_past_a_bound() -> None:
    async def go() -> tuple[bool, int, bytes]:
        async with AsyncVM() as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            refused = False
            chunk = b"x" * 65536
            for _ in range(200):  # 12.5 MiB offered, nobody reading the echo
                try:
                    await t.write(chunk)
                except BlockingIOError:
                    refused = True
                    break
            queued = len(t._keys) + len(t.owner._buf)
            while t._keys or t.owner._buf:  # the reader catches up; the prompt edits the rest
                await t.read()
            await t.write(b"\x03")
            await t.read_until("^C\r\n" + PROMPT, WAIT)
            await t.write("echo alive\r")
            tail = await t.read_until("alive\r\n" + PROMPT, WAIT)
            await t.close()
            return refused, queued, tail

    refused, queued, tail = asyncio.run(go())
    assert refused
    assert queued <= MAX_KEYS + HIGH_WATER + SLACK
    assert tail.endswith(b"echo alive\r\nalive\r\n" + PROMPT.encode())


def test_keys_for_a_program_that_does_not_read_are_bounded() -> None:
    async def go() -> tuple[int, bytes]:
        async with AsyncVM() as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            await t.write("sleep infinity\r")
            await t.read_until("infinity\r\n", WAIT)
            for _ in range(100):  # 6.4 MiB of lines nobody reads
                await t.write(b"y" * 65535 + b"\r")
                while await t.read() and len(t.owner._buf):
                    pass
            queued = t.disc.queued + len(t.disc.line)
            await t.write(b"\x03")
            # keys typed before the prompt is back would be the next line's typeahead
            await t.read_until("^C\r\n" + PROMPT, WAIT)
            await t.write("echo alive\r")
            tail = await t.read_until("alive\r\n" + PROMPT, WAIT)
            await t.close()
            return queued, tail

    queued, tail = asyncio.run(go())
    assert queued <= MAX_INPUT
    assert tail.endswith(b"alive\r\n" + PROMPT.encode())
