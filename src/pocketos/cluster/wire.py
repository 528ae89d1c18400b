"""The direct path between the driver and a VM host: a persistent socket per caller, skipping
Ray's task machinery (about 1 ms a call) for the calls a handle makes.

Ray still starts, places, watches and kills the hosts; this module only carries the same
``(method, args)`` requests the Ray path sends, and the same ``("ok"|"err", value)`` replies.

- Address: a Linux abstract Unix socket when the driver is on the host's node (no file left
  behind when the host dies), TCP on the node's IP otherwise.
- Authentication before anything is unpickled: the host sends a random nonce, the client answers
  with HMAC-SHA256(cluster secret, nonce) and its own nonce, which the host answers the same way.
  The secret never crosses the wire; a peer without it is disconnected after 48 bytes.
- Framing: a 4-byte big-endian length, then a pickle. One request at a time per connection: a
  client keeps a pool of idle connections, so concurrent calls use several.
- A connection that breaks (EOF, reset, refused) raises :class:`HostGone`: the handle treats it as
  the host's death, the same recovery path as Ray's ``RayActorError``.
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
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["HostGone", "WireClient", "WireServer", "CALLS", "encode_request"]

MAGIC = b"PKOS1"
NONCE = 16
DIGEST = 32
_LEN = struct.Struct("!I")
_MAX_FRAME = 2**32 - 1
AUTH_TIMEOUT = 10.0  # seconds a peer has to authenticate before it is dropped
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
    return _LEN.pack(len(body)) + body if len(body) <= _MAX_FRAME else None


def _encode_reply(reply: Any) -> bytes:
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
    return _LEN.pack(len(body)) + body


# --- host side ------------------------------------------------------------------------------
class WireServer:
    """Serves ``target``'s :data:`CALLS` to authenticated clients, on the running event loop."""

    def __init__(self, target: Any, secret: bytes, *, auth_timeout: float = AUTH_TIMEOUT) -> None:
        if len(secret) < 16:
            raise ValueError("the cluster secret must have at least 16 bytes")
        self._target = target
        self._secret = secret
        self._auth_timeout = auth_timeout
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._addresses: dict[str, Any] = {}
        self.refused = 0  # connections dropped for failing authentication

    async def listen(self, *, unix: bool = True, tcp_host: str | None = None) -> dict[str, Any]:
        """Start the listeners asked for (idempotent); returns every address listened on."""
        if unix and "unix" not in self._addresses:
            if sys.platform.startswith("linux"):
                name = "\0pocketos-host-" + secrets.token_hex(12)
                self._servers["unix"] = await asyncio.start_unix_server(self._serve, name)
                self._addresses["unix"] = name
            else:  # no abstract sockets: the loopback instead
                tcp_host = tcp_host or "127.0.0.1"
        if tcp_host is not None and "tcp" not in self._addresses:
            srv = await asyncio.start_server(self._serve, tcp_host, 0)
            self._servers["tcp"] = srv
            port = srv.sockets[0].getsockname()[1]
            self._addresses["tcp"] = (tcp_host, port)
        return dict(self._addresses)

    def close(self) -> None:
        for srv in self._servers.values():
            srv.close()
        self._servers.clear()
        self._addresses.clear()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        nonce = secrets.token_bytes(NONCE)
        writer.write(MAGIC + nonce)
        try:
            answer = await asyncio.wait_for(reader.readexactly(DIGEST + NONCE), self._auth_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            self.refused += 1
            return False
        if not hmac.compare_digest(answer[:DIGEST], _mac(self._secret, b"client", nonce)):
            self.refused += 1
            return False
        writer.write(_mac(self._secret, b"host", answer[DIGEST:]))
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if not await self._handshake(reader, writer):
                return
            while True:
                (n,) = _LEN.unpack(await reader.readexactly(_LEN.size))
                fn, args = pickle.loads(await reader.readexactly(n))
                writer.write(_encode_reply(await self._dispatch(fn, args)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away: a call it was waiting for ran to its end regardless
        finally:
            writer.close()

    async def _dispatch(self, fn: Any, args: Any) -> Any:
        if fn not in CALLS or not isinstance(args, tuple):
            return ("err", AttributeError(f"a VM host has no call {fn!r}"))
        method: Callable[..., Any] = getattr(self._target, fn)
        try:
            value = method(*args)
            if isinstance(value, Awaitable):
                value = await value
        except Exception as exc:  # a bad call: the host stays up and says what was wrong
            from pocketos.cluster.host import _portable

            return ("err", _portable(exc))
        return value


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
    (n,) = _LEN.unpack_from(first)
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


async def _aread_reply(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> Any:
    first = b""
    while len(first) < _LEN.size:
        chunk = await loop.sock_recv(sock, _CHUNK)
        if not chunk:
            raise _gone()
        first += chunk
    buf, got = _body(first)
    view = memoryview(buf)
    while got < len(buf):
        k = await loop.sock_recv_into(sock, view[got:])
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


class WireClient:
    """The driver's connections to one host: ``call_sync`` uses blocking sockets, ``call``
    non-blocking ones on whichever event loop awaits it. A connection is used by one call at a
    time and goes back to its pool after the reply; one that broke or whose call was cancelled
    is closed instead."""

    def __init__(self, address: dict[str, Any], secret: bytes) -> None:
        self.address = dict(address)
        self._secret = secret
        self._lock = threading.Lock()
        self._idle_sync: list[socket.socket] = []
        self._idle_async: list[socket.socket] = []
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
        """:meth:`call_sync` for a coroutine: waiting does not block the event loop."""
        loop = asyncio.get_running_loop()
        sock = self._take(self._idle_async)
        if sock is None:
            sock = await asyncio.to_thread(self._open)
            sock.setblocking(False)
        try:
            await loop.sock_sendall(sock, frame)
            reply = await _aread_reply(loop, sock)
        except BaseException as exc:
            _broken(sock, exc)
            raise
        self._give(self._idle_async, sock)
        return reply

    def close(self) -> None:
        with self._lock:
            self.closed = True
            socks, self._idle_sync, self._idle_async = self._idle_sync + self._idle_async, [], []
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()


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
