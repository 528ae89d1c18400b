"""The sandbox's only way out: listeners inside its network namespace, served by the VM.

A sandbox has no network interface but loopback. Before its program starts, sockets are
opened *inside* its namespace (a short-lived thread joins the namespace with ``setns``) and
accepted here, on the VM's event loop:

- an HTTP(S) proxy (``CONNECT host:port`` and absolute-form ``GET http://…``) whose every
  connection is decided by the VM's network policy through the gateway (host and port rules,
  the private-range rule, ``ask`` handlers) and recorded in the audit log;
- one forwarder per allowed loopback port (``127.0.0.1:PORT`` inside reaches
  ``127.0.0.1:PORT`` on the host), each connection checked the same way.

Nothing else listens, so any other connection is refused at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import re
import socket
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["NetBridge", "loopback_ports"]

CLONE_NEWNET = 0x40000000
MAX_HEAD = 64 * 1024
_LOOPBACK = re.compile(r"^(?:[a-z]+://)?(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)(?:/.*)?$")


def loopback_ports(policy: Any) -> list[int]:
    """The loopback ports the VM's network rules allow by name (``127.0.0.1:8080``,
    ``localhost:8080``, ``http://127.0.0.1:8080/v1``)."""
    dp = policy.domains.get("network")
    out: list[int] = []
    if dp is None:
        return out
    for rule in dp.rules:
        if rule.mode == "deny" or rule.patterns is None:
            continue
        for pat in rule.patterns:
            m = _LOOPBACK.match(pat.strip().lower())
            if m and int(m.group(1)) not in out:
                out.append(int(m.group(1)))
    return out


def open_in_netns(
    pid: int, proxy_port: int, ports: Iterable[int]
) -> tuple[socket.socket, list[socket.socket]]:
    """Listening sockets inside ``pid``'s network namespace: the proxy and one per port in
    ``ports``."""
    result: dict[str, Any] = {}

    def work() -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"cannot enter the sandbox's network: {os.strerror(err)}")
            try:
                socks: list[socket.socket] = []
                proxy = _listen(proxy_port)
                for port in ports:
                    socks.append(_listen(port))
                result["ok"] = (proxy, socks)
            finally:
                libc.setns(own, CLONE_NEWNET)
        except BaseException as exc:  # handed to the caller
            result["err"] = exc
        finally:
            os.close(own)
            os.close(target)

    t = threading.Thread(target=work, name="pocketos-sandbox-netns")
    t.start()
    t.join()
    if "err" in result:
        raise result["err"]
    return result["ok"]  # type: ignore[no-any-return]


def _listen(port: int) -> socket.socket:
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets whose proto says TCP, and an
    # accepted socket inherits the listener's (0 otherwise), so a reply written in two parts
    # would wait for the peer's delayed ACK (40 ms)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    s.setblocking(False)
    return s


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


class NetBridge:
    """Serves a sandbox's proxy and port forwards until :meth:`close`."""

    def __init__(self, kernel: Any, pid: int | None = None) -> None:
        self.kernel = kernel
        self.pid = pid
        self.proxy_port = 0
        self._servers: list[asyncio.AbstractServer] = []
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self, netns_pid: int, proxy_port: int, ports: Iterable[int]) -> None:
        proxy, forwards = open_in_netns(netns_pid, proxy_port, ports)
        self.proxy_port = proxy.getsockname()[1]
        self._servers.append(await asyncio.start_server(self._on_proxy, sock=proxy))
        for s in forwards:
            port = s.getsockname()[1]
            self._servers.append(
                await asyncio.start_server(
                    lambda r, w, p=port: self._on_forward(r, w, p),  # type: ignore[misc]
                    sock=s,
                )
            )

    async def close(self) -> None:
        for srv in self._servers:
            srv.close()
        for t in list(self._conns):
            t.cancel()
        for t in list(self._conns):
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._servers.clear()

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)

    # --- policy --------------------------------------------------------------------------
    async def _open(self, url: str, method: str) -> tuple[asyncio.StreamReader, Any]:
        """Authorize ``url`` by the VM's policy and connect to it; raise on refusal."""
        gw = self.kernel.network
        if gw is None:
            from pocketos.net.gateway import NetworkError

            self.kernel.audit.record(
                "network",
                capability="network.http",
                resource=url,
                decision="deny",
                reason="the VM has no network",
                pid=self.pid,
            )
            raise NetworkError("blocked", "blocked by policy (the VM has no network)")
        await gw._authorize("http", url, method, self.pid)
        addrs = await gw._checked_addresses("http", url, method, self.pid)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        gw.audit.record(
            "network",
            capability="network.http",
            resource=url,
            decision="allow",
            pid=self.pid,
            method=method,
            via="sandbox",
        )
        last: OSError | None = None
        for a in addrs:
            try:
                return await asyncio.open_connection(a, port)
            except OSError as exc:
                last = exc
        raise last or OSError("cannot connect")

    # --- forwards ------------------------------------------------------------------------
    async def _on_forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        self._track()
        try:
            try:
                ur, uw = await self._open(f"http://127.0.0.1:{port}/", "CONNECT")
            except Exception:
                return
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(_pipe(reader, uw))
                    tg.create_task(_pipe(ur, writer))
            finally:
                uw.close()
        except asyncio.CancelledError:
            pass  # the bridge is closing: end quietly (the server's callback reads the result)
        finally:
            writer.close()

    # --- proxy ---------------------------------------------------------------------------
    async def _on_proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            await self._proxy(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the bridge is closing
        finally:
            writer.close()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            await _answer(writer, 431, "request header too large")
            return
        line, _, rest = head.partition(b"\r\n")
        try:
            method, target, version = line.decode("latin-1").split(" ", 2)
        except ValueError:
            await _answer(writer, 400, "bad request line")
            return
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            if not host or not port.isdigit():
                await _answer(writer, 400, "CONNECT needs host:port")
                return
            url = f"https://{host}:{port}/" if port != "443" else f"https://{host}/"
            try:
                ur, uw = await self._open(url, "CONNECT")
            except Exception as exc:
                await _answer(writer, 403, str(exc))
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await _answer(writer, 400, "only absolute http:// URLs and CONNECT are proxied")
                return
            try:
                ur, uw = await self._open(target, method.upper())
            except Exception as exc:
                await _answer(writer, 403, str(exc))
                return
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            # the rest of this connection goes to the host just authorized, whatever it says
            uw.write(f"{method} {path} {version}\r\n".encode("latin-1") + rest)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_pipe(reader, uw))
                tg.create_task(_pipe(ur, writer))
        finally:
            uw.close()


async def _answer(writer: asyncio.StreamWriter, code: int, text: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large"}[code]
    body = f"pocketos sandbox proxy: {text}\n".encode()
    writer.write(
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
