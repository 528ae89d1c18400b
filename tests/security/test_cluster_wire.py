"""Attacks on the direct connection to a VM host (pocketos.cluster.wire): whoever can reach the
host's socket but does not hold the cluster's secret gets nothing run and nothing unpickled.

The host class is plain Python, so it is served here in-process on an asyncio loop: no Ray."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import pickle
import socket
import struct
import threading
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pocketos.cluster.host import VMHost
from pocketos.cluster.wire import (
    DIGEST,
    MAGIC,
    NONCE,
    HostGone,
    WireClient,
    WireServer,
    _mac,
    encode_request,
)

SECRET = b"s" * 32
T = TypeVar("T")


class _Boom:
    """A pickle that runs a command when loaded: what an attacker would send."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (os.system, (f"touch {self.path}",))


@asynccontextmanager
async def served(**kw: Any) -> AsyncIterator[tuple[VMHost, WireServer, dict[str, Any]]]:
    host = VMHost("h", secret=SECRET)
    assert host.create("vm", {"options": {}})[0] == "ok"
    server = WireServer(host, SECRET, **kw)
    addr = await server.listen(unix=True, tcp_host="127.0.0.1")
    try:
        yield host, server, addr
    finally:
        server.close()
        await host.shutdown()


def raw(addr: dict[str, Any]) -> socket.socket:
    """A plain TCP connection to the host, as anyone on the network could open."""
    sock = socket.create_connection(tuple(addr["tcp"]))
    sock.settimeout(60)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the host sends until it closes the connection."""
    out = b""
    while chunk := sock.recv(4096):
        out += chunk
    return out


async def off_loop(fn: Callable[[], T]) -> T:
    """Blocking client code, run while the host's loop keeps serving."""
    return await asyncio.to_thread(fn)


def test_the_right_secret_gets_calls_through_on_unix_and_tcp() -> None:
    async def go() -> None:
        async with served() as (_, _, addr):
            for where in ({"unix": addr["unix"]}, {"tcp": addr["tcp"]}):
                client = WireClient(where, SECRET)
                frame = encode_request("call", ("vm", "exec", ("echo $((6*7))",), {}))
                assert frame is not None
                status, res = await client.call(frame)
                assert (status, res.stdout) == ("ok", "42\n")
                status, res = await off_loop(lambda c=client, f=frame: c.call_sync(f))
                assert (status, res.stdout) == ("ok", "42\n")
                if "tcp" in where:  # a node that vanishes without a FIN is noticed (keepalive)
                    (sock,) = client._idle_sync
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                client.close()

    asyncio.run(go())


def test_large_replies_and_a_host_that_dies_mid_reply() -> None:
    """A reply bigger than one recv arrives whole on both paths; a reply cut short (the host's
    process ended half-way) is a dead host, not a hang."""
    data = os.urandom(3 * 2**20 + 5)

    def cut(listener: socket.socket, partial: bytes) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(MAGIC + b"x" * NONCE)
            mine = conn.recv(DIGEST + NONCE)[DIGEST:]
            conn.sendall(_mac(SECRET, b"host", mine))
            conn.recv(4096)
            conn.sendall(partial)  # then the process "dies"

    async def go() -> None:
        async with served() as (host, _, addr):
            assert (await host.call("vm", "write_file", ("/home/user/big", data), {}))[0] == "ok"
            client = WireClient({"unix": addr["unix"]}, SECRET)
            frame = encode_request("call", ("vm", "read_file", ("/home/user/big",), {}))
            assert frame is not None
            assert await client.call(frame) == ("ok", data)
            assert await off_loop(lambda: client.call_sync(frame)) == ("ok", data)
            client.close()
        partials = (struct.pack("!II", 1000, 1) + b"\x80" * 10, b"\0\0")  # body cut, header cut
        for sync, partial in [(s, p) for s in (True, False) for p in partials]:
            with socket.create_server(("127.0.0.1", 0)) as listener:
                task = asyncio.create_task(off_loop(lambda s=listener, p=partial: cut(s, p)))
                client = WireClient({"tcp": listener.getsockname()[:2]}, SECRET)
                frame = encode_request("call", ("vm", "exists", ("/",), {}))
                assert frame is not None
                with pytest.raises(HostGone, match="closed the connection"):
                    if sync:
                        await off_loop(lambda c=client, f=frame: c.call_sync(f))
                    else:
                        await client.call(frame)
                await task

    asyncio.run(go())


def test_a_wrong_secret_is_refused_before_anything_runs() -> None:
    async def go() -> None:
        async with served() as (_, server, addr):
            client = WireClient({"tcp": addr["tcp"]}, b"w" * 32)
            frame = encode_request("call", ("vm", "exec", ("echo hi",), {}))
            assert frame is not None
            with pytest.raises(HostGone, match="refused"):
                await client.call(frame)
            assert server.refused == 1
            assert not client.connected

    asyncio.run(go())


def test_a_pickle_sent_instead_of_the_proof_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    def attack(addr: dict[str, Any]) -> bytes:
        with raw(addr) as sock:
            body = pickle.dumps(("call", (_Boom(marker),)))
            sock.sendall(struct.pack("!I", len(body)) + body + b"\0" * 64)
            return read_all(sock)

    async def go() -> None:
        async with served() as (_, server, addr):
            got = await off_loop(lambda: attack(addr))
            assert got.startswith(MAGIC) and len(got) == len(MAGIC) + NONCE  # only the challenge
            assert server.refused == 1

    asyncio.run(go())
    assert not marker.exists()


def test_a_replayed_proof_does_not_open_a_second_connection(tmp_path: Path) -> None:
    """A proof seen on the wire answers one challenge only: the next connection has a fresh
    nonce, so replaying it gets the connection dropped."""
    marker = tmp_path / "pwned"

    def attack(addr: dict[str, Any]) -> tuple[bytes, bytes]:
        with raw(addr) as first:
            hello = first.recv(len(MAGIC) + NONCE)
            proof = _mac(SECRET, b"client", hello[len(MAGIC) :])  # sniffed from a real client
            first.sendall(proof + b"n" * NONCE)
            answered = first.recv(32)
        with raw(addr) as second:
            second.recv(len(MAGIC) + NONCE)
            body = pickle.dumps(("call", (_Boom(marker),)))
            second.sendall(proof + b"n" * NONCE + struct.pack("!I", len(body)) + body)
            return answered, read_all(second)

    async def go() -> None:
        async with served() as (_, server, addr):
            answered, rest = await off_loop(lambda: attack(addr))
            assert answered == _mac(SECRET, b"host", b"n" * NONCE)
            assert rest == b"" and server.refused == 1

    asyncio.run(go())
    assert not marker.exists()


def test_a_silent_peer_is_dropped_after_the_auth_timeout() -> None:
    async def go() -> None:
        async with served(auth_timeout=0.05) as (_, server, addr):
            with raw(addr) as sock:
                got = await off_loop(lambda: read_all(sock))  # sends nothing at all
            assert len(got) == len(MAGIC) + NONCE
            assert server.refused == 1

    asyncio.run(go())


def test_a_peer_without_the_secret_cannot_pose_as_the_host() -> None:
    """The client checks the host's proof too: an impostor listening at a dead host's address
    gets no request."""
    got: list[bytes] = []

    def impostor(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(MAGIC + b"x" * NONCE)
            got.append(conn.recv(32 + NONCE))
            conn.sendall(b"y" * 32)
            got.append(read_all(conn))

    async def go() -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            task = asyncio.create_task(off_loop(lambda: impostor(listener)))
            client = WireClient({"tcp": ("127.0.0.1", port)}, SECRET)
            frame = encode_request("call", ("vm", "write_file", ("/secret", "data"), {}))
            assert frame is not None
            with pytest.raises(HostGone, match="does not know the cluster secret"):
                await off_loop(lambda: client.call_sync(frame))
            await task
        assert got[1] == b""  # the request was never sent

    asyncio.run(go())


def test_an_authenticated_client_reaches_only_the_handle_calls() -> None:
    async def go() -> None:
        async with served() as (host, _, addr):
            client = WireClient({"unix": addr["unix"]}, SECRET)
            for fn, args in (
                ("shutdown", ()),
                ("create", ("x", {"options": {}})),
                ("__init__", ("h",)),
                ("endpoint", (None,)),
            ):
                frame = encode_request(fn, args)
                assert frame is not None
                status, err = await client.call(frame)
                assert status == "err" and isinstance(err, AttributeError), fn
            # a malformed call is an error reply, and the host keeps serving
            frame = encode_request("call", ("vm",))
            assert frame is not None
            status, err = await client.call(frame)
            assert status == "err" and isinstance(err, TypeError)
            assert host.info()[1]["vms"] == 1
            frame = encode_request("call", ("vm", "exists", ("/",), {}))
            assert frame is not None
            assert await client.call(frame) == ("ok", True)
            client.close()

    asyncio.run(go())


def test_arguments_only_ray_can_serialize_are_not_sent_directly() -> None:
    assert encode_request("call", ("vm", "exec", (lambda: 1,), {})) is None
    assert encode_request("call", ("vm", "exec", ("true",), {})) is not None


class _Gated:
    """A host stand-in whose ``call`` waits until ``attr`` opens its gate: calls that can only
    finish if the host runs them concurrently, and in the reverse order they were sent."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}

    async def call(self, n: int) -> tuple[str, int]:
        await self.gates.setdefault(n, asyncio.Event()).wait()
        return ("ok", n)

    def attr(self, n: int) -> tuple[str, int]:
        self.gates.setdefault(n, asyncio.Event()).set()
        return ("ok", -n)


def test_concurrent_calls_share_one_connection_and_get_their_own_replies() -> None:
    async def go() -> None:
        target = _Gated()
        server = WireServer(target, SECRET)
        addr = await server.listen(unix=True)
        client = WireClient(addr, SECRET)
        try:
            waiting = [
                asyncio.ensure_future(client.call(encode_request("call", (n,)) or b""))
                for n in range(5)
            ]
            cancelled = asyncio.ensure_future(client.call(encode_request("call", (99,)) or b""))
            await asyncio.sleep(0)
            cancelled.cancel()  # its reply, if any, is dropped; the connection stays
            for n in reversed(range(5)):  # each opened by a call on the same connection
                assert await client.call(encode_request("attr", (n,)) or b"") == ("ok", -n)
                assert await waiting[n] == ("ok", n)
            assert len(client._muxes) == 1
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            assert await client.call(encode_request("attr", (99,)) or b"") == ("ok", -99)
        finally:
            client.close()
            server.close()

    asyncio.run(go())


def test_a_host_that_dies_with_calls_in_flight_fails_each_of_them() -> None:
    """A host process that ends while several calls of one connection run: each caller gets
    HostGone (the handle's sign of a dead host), none hangs."""

    def host(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(MAGIC + b"x" * NONCE)
            mine = conn.recv(DIGEST + NONCE)[DIGEST:]
            conn.sendall(_mac(SECRET, b"host", mine))
            got = b""
            for _ in range(4):  # four requests arrive, then the process "dies"
                while len(got) < 8 or len(got) < 8 + struct.unpack_from("!I", got)[0]:
                    got += conn.recv(4096)
                got = got[8 + struct.unpack_from("!I", got)[0] :]
        listener.close()

    async def go() -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        dying = asyncio.create_task(off_loop(lambda: host(listener)))
        client = WireClient({"tcp": listener.getsockname()[:2]}, SECRET)
        frames = [encode_request("call", ("vm", "exec", (f"echo {n}",), {})) for n in range(4)]
        waiting = [asyncio.ensure_future(client.call(f or b"")) for f in frames]
        for w in waiting:
            with pytest.raises(HostGone, match="closed the connection"):
                await w
        await dying
        with pytest.raises(HostGone):  # nobody listens there any more
            await client.call(frames[0] or b"")
        client.close()

    asyncio.run(go())


def test_idle_unauthenticated_peers_are_capped() -> None:
    """Peers that connect and never authenticate cannot pile up sockets on the host: past
    ``max_unauthenticated`` the oldest is dropped, and a client with the secret still gets in
    while the newest ones are held open (their auth timeout is far away)."""
    cap, flood = 8, 40
    hello = len(MAGIC) + NONCE

    async def go() -> None:
        async with served(max_unauthenticated=cap, auth_timeout=600) as (_, server, addr):

            def connect_all() -> list[socket.socket]:
                socks = [raw(addr) for _ in range(flood)]
                for s in socks:  # every one was accepted: each got the host's hello
                    got = b""
                    while len(got) < hello:
                        chunk = s.recv(hello - len(got))
                        assert chunk, "the host closed a connection before its hello"
                        got += chunk
                return socks

            socks = await off_loop(connect_all)
            try:
                assert (server.unauthenticated, server.refused) == (cap, flood - cap)
                # the oldest were dropped (accepted in the order they connected) ...
                for s in socks[: flood - cap]:
                    assert await off_loop(functools.partial(_read_to_end, s)) == b""
                # ... the newest are still open, and a real client gets through
                for s in socks[flood - cap :]:
                    s.setblocking(False)
                    with pytest.raises(BlockingIOError):
                        s.recv(1)
                client = WireClient({"tcp": addr["tcp"]}, SECRET)
                frame = encode_request("call", ("vm", "exists", ("/",), {}))
                assert frame is not None
                assert await client.call(frame) == ("ok", True)
                assert await off_loop(lambda: client.call_sync(frame)) == ("ok", True)
                client.close()
                # the first client connection displaced the oldest idle peer on arrival; once it
                # had authenticated, the second found a free slot
                assert (server.unauthenticated, server.refused) == (cap - 1, flood - cap + 1)
            finally:
                for s in socks:
                    s.close()

    asyncio.run(go())


def _read_to_end(sock: socket.socket) -> bytes:
    """What arrives until the host ends the connection (a reset counts as the end)."""
    try:
        return read_all(sock)
    except ConnectionResetError:
        return b""


def test_an_unauthenticated_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_unauthenticated"):
        WireServer(_Gated(), SECRET, max_unauthenticated=0)


def test_a_loop_that_ends_closes_its_connection_without_a_resource_warning() -> None:
    """A coroutine caller's connection belongs to its event loop: when ``asyncio.run`` returns
    the connection is closed with the loop, not left as a transport collected unclosed."""
    loop = asyncio.new_event_loop()
    server = WireServer(_Gated(), SECRET)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        addr = asyncio.run_coroutine_threadsafe(server.listen(unix=True), loop).result(60)
        client = WireClient(addr, SECRET)
        frame = encode_request("attr", (3,))
        assert frame is not None

        async def one() -> Any:
            return await client.call(frame)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert asyncio.run(one()) == ("ok", -3)
            (mux,) = client._muxes.values()
            assert mux.lost is not None  # closed as its loop shut down
            assert asyncio.run(one()) == ("ok", -3)  # a new loop, a new connection
            client.close()
            del mux
            gc.collect()
        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(60)
        loop.close()
