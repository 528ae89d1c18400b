"""The direct path between the driver and a VM host: persistent sockets (one per event loop,
shared by its calls), skipping Ray's task machinery (about 1 ms a call) for a handle's calls.

Ray still starts, places, watches and kills the hosts; this module only carries the same
``(method, args)`` requests the Ray path sends, and the same ``("ok"|"err", value)`` replies.

- Address: a Linux abstract Unix socket when the driver is on the host's node (no file left
  behind when the host dies), TCP on the node's IP otherwise.
- Authentication before anything is unpickled: the host sends a random nonce, the client answers
  with HMAC-SHA256(cluster secret, nonce) and its own nonce, which the host answers the same way.
  The secret never crosses the wire; a peer without it is disconnected after 48 bytes.
- Framing: a 4-byte big-endian length and a 4-byte request id, then a pickle; a reply carries its
  request's id. A coroutine caller shares one connection per event loop with every other call on
  that loop (one reader on the loop; several replies that arrive together are read at one
  wake-up); the host runs the calls of one connection concurrently and answers each when it is
  done. A blocking caller uses a connection of its own for one call at a time, from a pool.
- A connection that breaks (EOF, reset, refused) raises :class:`HostGone` in every call waiting
  on it: the handle treats it as the host's death, the same recovery path as Ray's
  ``RayActorError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import pickle
import secrets
import socket
import struct
import sys
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, cast

__all__ = ["HostGone", "WireClient", "WireServer", "CALLS", "encode_request"]

MAGIC = b"PKOS1"
NONCE = 16
DIGEST = 32
_LEN = struct.Struct("!II")  # body length, request id
_MAX_FRAME = 2**32 - 1
AUTH_TIMEOUT = 10.0  # seconds a peer has to authenticate before it is dropped
#: connections a host holds at once before they authenticate; past it the oldest is dropped
#: (a legitimate handshake takes one round trip, so only a flood of idle peers loses its slot)
MAX_UNAUTHENTICATED = 128
CONNECT_TIMEOUT = 10.0

#: host methods a client may call over the wire (the handle's calls, not placement)
CALLS = frozenset(
    {
        "call",
        "attr",
        "info",
        "release",
        "shell_open",
        "shell_call",
        "session_create",
        "session_resume",
        "session_call",
        "session_attr",
    }
)


class HostGone(ConnectionError):
    """The connection to a host broke, or the peer at its address is not that host."""


def _mac(secret: bytes, side: bytes, nonce: bytes) -> bytes:
    return hmac.new(secret, side + nonce, hashlib.sha256).digest()


def encode_request(fn: str, args: tuple[Any, ...]) -> bytes | None:
    """The frame for a request, or None when its arguments need Ray's serializer (a lambda, a
    local class): the caller then sends it through Ray."""
    try:
        body = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None
    return _LEN.pack(len(body), 0) + body if len(body) <= _MAX_FRAME else None


def _encode_reply(reply: Any, rid: int) -> bytes:
    try:
        body = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        try:  # what Ray itself would have used (a value of a class defined in a function ...)
            import cloudpickle

            body = cloudpickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            from pocketos.cluster.errors import ClusterError

            err = ClusterError(f"the reply could not be sent: {type(exc).__name__}: {exc}")
            body = pickle.dumps(("err", err))
    if len(body) > _MAX_FRAME:
        from pocketos.cluster.errors import ClusterError

        err = ClusterError(f"the reply is too large to send ({len(body)} bytes; at most 4 GiB)")
        body = pickle.dumps(("err", err))
    return _LEN.pack(len(body), rid) + body


# --- host side ------------------------------------------------------------------------------
class WireServer:
    """Serves ``target``'s :data:`CALLS` to authenticated clients, on the running event loop."""

    def __init__(
        self,
        target: Any,
        secret: bytes,
        *,
        auth_timeout: float = AUTH_TIMEOUT,
        max_unauthenticated: int = MAX_UNAUTHENTICATED,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the cluster secret must have at least 16 bytes")
        if max_unauthenticated < 1:
            raise ValueError("max_unauthenticated must be at least 1")
        self._target = target
        self._secret = secret
        self._auth_timeout = auth_timeout
        self._max_unauthenticated = max_unauthenticated
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._addresses: dict[str, Any] = {}
        #: connections that have not authenticated yet, oldest first
        self._unauthenticated: dict[_Served, None] = {}
        self.refused = 0  # connections dropped for failing authentication (or for a newer one)

    @property
    def unauthenticated(self) -> int:
        """How many connections are waiting to authenticate."""
        return len(self._unauthenticated)

    def _admit(self, conn: _Served) -> None:
        """Count a new connection as unauthenticated, dropping the oldest such one past the
        cap: idle peers cannot pile up sockets (descriptors) on the host."""
        waiting = self._unauthenticated
        waiting[conn] = None
        while len(waiting) > self._max_unauthenticated:
            next(iter(waiting))._refuse()

    async def listen(self, *, unix: bool = True, tcp_host: str | None = None) -> dict[str, Any]:
        """Start the listeners asked for (idempotent); returns every address listened on."""
        if unix and "unix" not in self._addresses:
            if sys.platform.startswith("linux"):
                name = "\0pocketos-host-" + secrets.token_hex(12)
                loop = asyncio.get_running_loop()
                self._servers["unix"] = await loop.create_unix_server(self._connection, name)
                self._addresses["unix"] = name
            else:  # no abstract sockets: the loopback instead
                tcp_host = tcp_host or "127.0.0.1"
        if tcp_host is not None and "tcp" not in self._addresses:
            loop = asyncio.get_running_loop()
            srv = await loop.create_server(self._connection, tcp_host, 0)
            self._servers["tcp"] = srv
            port = srv.sockets[0].getsockname()[1]
            self._addresses["tcp"] = (tcp_host, port)
        return dict(self._addresses)

    def close(self) -> None:
        for srv in self._servers.values():
            srv.close()
        self._servers.clear()
        self._addresses.clear()

    def _connection(self) -> _Served:
        return _Served(self)

    def _dispatch(self, fn: Any, args: Any) -> Any:
        """Start a call: its reply, or an awaitable of it."""
        if fn not in CALLS or not isinstance(args, tuple):
            return ("err", AttributeError(f"a VM host has no call {fn!r}"))
        method: Callable[..., Any] = getattr(self._target, fn)
        try:
            return method(*args)
        except Exception as exc:  # a bad call: the host stays up and says what was wrong
            return ("err", _portable(exc))


def _portable(exc: BaseException) -> BaseException:
    from pocketos.cluster.host import _portable as portable

    return portable(exc)


class _Served(asyncio.Protocol):
    """One client connection on the host: authenticate it, then run each request as it
    arrives (several at once when the client sends them so) and write each reply when its call
    is done. Nothing the peer sends is unpickled before it has proved it knows the secret."""

    def __init__(self, server: WireServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._nonce = secrets.token_bytes(NONCE)
        self._authed = False
        self._buf = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._calls: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        with contextlib.suppress(Exception):
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport.write(MAGIC + self._nonce)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._server._auth_timeout, self._refuse)
        self._server._admit(self)

    def _refuse(self) -> None:
        self._server._unauthenticated.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None and not self._transport.is_closing():
            self._server.refused += 1
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        # calls still running go on to their end: their replies have nowhere to go
        self._server._unauthenticated.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
        self._buf.clear()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._authed:
            if len(buf) < DIGEST + NONCE:
                return
            answer = bytes(buf[: DIGEST + NONCE])
            if not hmac.compare_digest(
                answer[:DIGEST], _mac(self._server._secret, b"client", self._nonce)
            ):
                self._refuse()
                return
            if self._timer is not None:
                self._timer.cancel()
            self._server._unauthenticated.pop(self, None)
            assert self._transport is not None
            self._transport.write(_mac(self._server._secret, b"host", answer[DIGEST:]))
            self._authed = True
            del buf[: DIGEST + NONCE]
        at = 0
        while len(buf) - at >= _LEN.size:
            n, rid = _LEN.unpack_from(buf, at)
            if len(buf) - at - _LEN.size < n:
                break
            body = memoryview(buf)[at + _LEN.size : at + _LEN.size + n]
            try:
                request = pickle.loads(body)
            except Exception:  # an authenticated peer that does not speak the protocol
                assert self._transport is not None
                self._transport.abort()
                return
            finally:
                body.release()
            at += _LEN.size + n
            self._start(request, rid)
        if at:
            del buf[:at]

    def _start(self, request: Any, rid: int) -> None:
        try:
            fn, args = request
        except (TypeError, ValueError):
            fn, args = None, None
        value = self._server._dispatch(fn, args)
        if isinstance(value, Awaitable):
            task = asyncio.ensure_future(self._finish(value, rid))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        else:
            self._reply(value, rid)

    async def _finish(self, pending: Awaitable[Any], rid: int) -> None:
        try:
            value = await pending
        except Exception as exc:
            value = ("err", _portable(exc))
        self._reply(value, rid)

    def _reply(self, value: Any, rid: int) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_encode_reply(value, rid))


# --- driver side ----------------------------------------------------------------------------
def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise HostGone("the host closed the connection")
        got += k
    return bytes(buf)


_CHUNK = 1 << 12  # a small reply in one recv; a larger buffer costs more to allocate


def _gone() -> HostGone:
    return HostGone("the host closed the connection")


def _body(first: bytes) -> tuple[bytearray | bytes, int]:
    """From the first bytes of a reply frame (at least its header): the buffer for its body,
    and how much of it ``first`` already filled."""
    n, _ = _LEN.unpack_from(first)
    got = len(first) - _LEN.size
    if got >= n:
        return first[_LEN.size :], n
    buf = bytearray(n)  # one buffer, filled in place: a large reply is not copied again
    buf[:got] = first[_LEN.size :]
    return buf, got


def _read_reply(sock: socket.socket) -> Any:
    """One reply frame: usually a single recv (the header and a small body arrive together)."""
    first = b""
    while len(first) < _LEN.size:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            raise _gone()
        first += chunk
    buf, got = _body(first)
    view = memoryview(buf)
    while got < len(buf):
        k = sock.recv_into(view[got:])
        if not k:
            raise _gone()
        got += k
    return pickle.loads(buf)


#: TCP keepalive: a node that vanishes without closing its sockets (power, network) is
#: noticed after about KEEPIDLE + KEEPINTVL * KEEPCNT seconds, even during a long exec
KEEPIDLE, KEEPINTVL, KEEPCNT = 10, 5, 3


def _tune_tcp(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPIDLE),
        ("TCP_KEEPINTVL", KEEPINTVL),
        ("TCP_KEEPCNT", KEEPCNT),
    ):
        opt = getattr(socket, name, None)
        if opt is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, opt, value)


def _broken(sock: socket.socket, exc: BaseException) -> None:
    """A call failed half-way: its connection is unusable (a reply may still be on its way).
    An OS error on it means the host is gone."""
    sock.close()
    if isinstance(exc, OSError) and not isinstance(exc, HostGone):
        raise HostGone(f"the connection to the host broke: {exc}") from exc


class _Mux(asyncio.Protocol):
    """The connection a coroutine caller shares with every other call on its event loop: each
    request gets an id, and the one reader registered on the loop hands each reply to the call
    that waits for it. The connection ending fails every call still waiting with HostGone."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.lost: str | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 1
        self._buf = bytearray()
        self._closer: AsyncGenerator[None, None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    async def close_with_loop(self) -> None:
        """Close the connection when the loop shuts down (``asyncio.run`` returning), while
        the loop can still run the transport's close: once the loop has ended, closing only
        the socket leaves the transport to be collected unclosed (a ResourceWarning)."""

        async def closer() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                if self.transport is not None:
                    self.transport.abort()

        # a suspended async generator is one the loop finalizes in shutdown_asyncgens()
        self._closer = closer()
        await self._closer.__anext__()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None or isinstance(exc, HostGone):
            self.lost = "the host closed the connection"
        else:
            self.lost = f"the connection to the host broke: {exc}"
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(HostGone(self.lost))
        self._buf.clear()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        at = 0
        while len(buf) - at >= _LEN.size:
            n, rid = _LEN.unpack_from(buf, at)
            if len(buf) - at - _LEN.size < n:
                break
            fut = self._pending.pop(rid, None)
            if fut is not None and not fut.done():  # else: its caller was cancelled
                body = memoryview(buf)[at + _LEN.size : at + _LEN.size + n]
                try:
                    fut.set_result(pickle.loads(body))
                except Exception as exc:  # a reply this process cannot load
                    fut.set_exception(exc)
                finally:
                    body.release()
            at += _LEN.size + n
        if at:
            del buf[:at]

    async def call(self, frame: bytes) -> Any:
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise HostGone(self.lost or "the host closed the connection")
        rid = self._next
        self._next = rid + 1 if rid < 2**32 - 1 else 1
        fut = self.loop.create_future()
        self._pending[rid] = fut
        head = _LEN.pack(len(frame) - _LEN.size, rid)
        if len(frame) <= 1 << 16:
            self.transport.write(head + frame[_LEN.size :])
        else:  # no copy of a large request
            self.transport.write(head)
            self.transport.write(memoryview(frame)[_LEN.size :])
        try:
            return await fut
        finally:
            self._pending.pop(rid, None)

    def abort(self) -> None:
        """End the connection from any thread."""
        if self.loop.is_closed():
            self.sock.close()
        elif self.transport is not None:
            self.loop.call_soon_threadsafe(self.transport.abort)


class WireClient:
    """The driver's connections to one host: ``call_sync`` uses blocking sockets from a pool,
    one call at a time each (one that broke is closed); ``call`` shares one connection per event
    loop among all its calls (a cancelled call leaves it open: its reply is dropped)."""

    def __init__(self, address: dict[str, Any], secret: bytes) -> None:
        self.address = dict(address)
        self._secret = secret
        self._lock = threading.Lock()
        self._idle_sync: list[socket.socket] = []
        self._muxes: dict[asyncio.AbstractEventLoop, _Mux] = {}
        self._connecting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.closed = False
        self.connected = False  # a handshake has succeeded once: a refused connect is a death

    def __repr__(self) -> str:
        return f"<WireClient {self.describe()}>"

    def describe(self) -> str:
        if "tcp" in self.address:
            return "tcp {}:{}".format(*self.address["tcp"])
        return "unix @" + str(self.address["unix"]).lstrip("\0")

    def _open(self) -> socket.socket:
        if self.closed:
            raise HostGone("the connection to this host was closed")
        where: Any = self.address.get("unix")
        fam = socket.AF_UNIX
        if "tcp" in self.address:
            where = tuple(self.address["tcp"])
            fam = socket.AF_INET6 if ":" in where[0] else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(where)
            except OSError as exc:
                raise HostGone(f"cannot connect to the host ({self.describe()}): {exc}") from exc
            if fam != socket.AF_UNIX:
                _tune_tcp(sock)
            self._authenticate(sock)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self.connected = True
        return sock

    def _authenticate(self, sock: socket.socket) -> None:
        try:
            hello = _recv_exact(sock, len(MAGIC) + NONCE)
            if not hello.startswith(MAGIC):
                raise HostGone(f"the peer at {self.describe()} is not a pocketos host")
            mine = secrets.token_bytes(NONCE)
            sock.sendall(_mac(self._secret, b"client", hello[len(MAGIC) :]) + mine)
            proof = _recv_exact(sock, DIGEST)
        except OSError as exc:  # timeouts included
            raise HostGone(f"the host at {self.describe()} refused the connection: {exc}") from exc
        if not hmac.compare_digest(proof, _mac(self._secret, b"host", mine)):
            raise HostGone(f"the peer at {self.describe()} does not know the cluster secret")

    def _take(self, pool: list[socket.socket]) -> socket.socket | None:
        with self._lock:
            return pool.pop() if pool else None

    def _give(self, pool: list[socket.socket], sock: socket.socket) -> None:
        with self._lock:
            if not self.closed:
                pool.append(sock)
                return
        sock.close()

    def call_sync(self, frame: bytes) -> Any:
        """Send a frame from :func:`encode_request`; the host's reply."""
        sock = self._take(self._idle_sync)
        if sock is None:
            sock = self._open()
        try:
            sock.sendall(frame)
            reply = _read_reply(sock)
        except BaseException as exc:
            _broken(sock, exc)
            raise
        self._give(self._idle_sync, sock)
        return reply

    async def call(self, frame: bytes) -> Any:
        """:meth:`call_sync` for a coroutine: waiting does not block the event loop, and
        concurrent calls share this loop's connection."""
        loop = asyncio.get_running_loop()
        mux = self._muxes.get(loop)
        if mux is None or mux.lost is not None:
            mux = await self._mux(loop)
        return await mux.call(frame)

    async def _mux(self, loop: asyncio.AbstractEventLoop) -> _Mux:
        """This loop's connection, opened by the first call that needs it."""
        with self._lock:
            self._forget_closed_loops()
            gate = self._connecting.setdefault(loop, asyncio.Lock())
        async with gate:
            mux = self._muxes.get(loop)
            if mux is not None and mux.lost is None:
                return mux
            sock = await asyncio.to_thread(self._open)
            try:
                sock.setblocking(False)
                mux = _Mux(sock)
                await loop.create_connection(lambda: mux, sock=sock)
                await mux.close_with_loop()
            except BaseException:
                sock.close()
                raise
            with self._lock:
                if self.closed:
                    mux.abort()
                    raise HostGone("the connection to this host was closed")
                self._muxes[loop] = mux
            return mux

    def _forget_closed_loops(self) -> None:
        """Close the connections of event loops that have ended (``asyncio.run`` returned)."""
        for loop in [lp for lp in self._muxes if lp.is_closed()]:
            with contextlib.suppress(OSError):
                self._muxes.pop(loop).sock.close()
        for loop in [lp for lp in self._connecting if lp.is_closed()]:
            del self._connecting[loop]

    def close(self) -> None:
        """Close every connection: calls still waiting on one raise HostGone."""
        with self._lock:
            self.closed = True
            socks, self._idle_sync = self._idle_sync, []
            muxes, self._muxes = list(self._muxes.values()), {}
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
        for mux in muxes:
            with contextlib.suppress(OSError, RuntimeError):
                mux.abort()


def node_ip() -> str:
    """This process's address for other nodes: Ray's idea of it when Ray is loaded (it is
    never imported here), else the host name's."""
    ray = sys.modules.get("ray")
    if ray is not None:
        with contextlib.suppress(Exception):
            return str(ray.util.get_node_ip_address())
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def new_secret() -> bytes:
    return os.urandom(32)
