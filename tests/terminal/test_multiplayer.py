"""Several clients on one terminal: all see the same output; one writer unless the owner
allows more; a late client gets the recent output first."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import AsyncVM

WAIT = 30.0
PROMPT = "user@pocketos:~$ "
ISOLATION = {"isolation": "in-process"}


@pytest.fixture(autouse=True, params=["in-process", "process"])
def isolation(request: pytest.FixtureRequest) -> str:
    """Every test runs on an in-process VM and on one in a worker process."""
    ISOLATION["isolation"] = request.param
    return str(request.param)


def test_viewers_see_what_the_owner_sees_and_cannot_type() -> None:
    async def go() -> None:
        async with AsyncVM(**ISOLATION) as vm:
            t = vm.open_shell()
            viewer = t.attach(role="viewer")
            assert await t.read_until(PROMPT, WAIT) == PROMPT.encode()
            assert await viewer.read_until(PROMPT, WAIT) == PROMPT.encode()
            await t.write("echo shared\r")
            mine = await t.read_until("\n" + PROMPT, WAIT)
            theirs = await viewer.read_until("\n" + PROMPT, WAIT)
            assert mine == theirs == b"echo shared\r\nshared\r\n" + PROMPT.encode()
            # a late viewer starts with the recent output
            late = t.attach("viewer")
            assert (await late.read()).endswith(b"shared\r\n" + PROMPT.encode())
            with pytest.raises(PermissionError, match="viewer cannot type"):
                await viewer.write("rm -rf /\r")
            with pytest.raises(PermissionError, match="cannot resize"):
                viewer.resize(10, 10)
            viewer.detach()
            assert viewer.detached and viewer.reason == "left"
            assert await viewer.read() == b""
            await t.close()
            assert await late.read() == b""

    asyncio.run(go())


def test_one_writer_unless_the_owner_allows_more() -> None:
    async def go() -> None:
        async with AsyncVM(**ISOLATION) as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            with pytest.raises(PermissionError, match="already has 1 writer"):
                t.attach(role="writer")
            t.allow_writers(2)
            other = t.attach(role="writer", replay=False)
            with pytest.raises(PermissionError):
                t.attach(role="writer")
            await other.write("echo from-other\r")
            seen = await t.read_until("\n" + PROMPT, WAIT)
            assert seen == b"echo from-other\r\nfrom-other\r\n" + PROMPT.encode()
            assert await other.read_until("\n" + PROMPT, WAIT) == seen
            other.resize(100, 40)
            await t.write("echo $COLUMNS\r")
            assert (await other.read_until("\n" + PROMPT, WAIT)).endswith(
                b"\r\n100\r\n" + PROMPT.encode()
            )
            with pytest.raises(ValueError, match="role must be"):
                t.attach(role="admin")
            with pytest.raises(ValueError):
                t.allow_writers(0)
            await t.close()
            with pytest.raises(ConnectionError, match="has ended"):
                t.attach()

    asyncio.run(go())


def test_on_output_callback_sees_every_byte() -> None:
    async def go() -> bytes:
        async with AsyncVM(**ISOLATION) as vm:
            t = vm.open_shell()
            seen = bytearray()
            stop = t.on_output(seen.extend)
            await t.read_until(PROMPT, WAIT)
            await t.write("printf 'a\\nb\\n'\r")
            await t.read_until("\n" + PROMPT, WAIT)
            stop()
            await t.write("echo unseen\r")
            await t.read_until("\n" + PROMPT, WAIT)
            await t.close()
            return bytes(seen)

    assert asyncio.run(go()) == (
        PROMPT.encode() + b"printf 'a\\nb\\n'\r\na\r\nb\r\n" + PROMPT.encode()
    )
