"""The network gateway: the only way a VM reaches the network.

Every request (and every redirect hop) is checked against the VM's ``network`` policy, the host
name is resolved here (``getaddrinfo`` in a worker thread) and every address it answers is
checked before the connection is made to that very address, so a DNS answer cannot change
between the check and the connect. Private, loopback, link-local and unspecified addresses are
refused unless a rule names that address or that host literally (a wildcard pattern or a
default allow never reaches them, which is what stops DNS rebinding). Credentials are injected by header
transforms at this layer and never enter the VM. Sizes, times and request counts are bounded;
each request leaves one ``network`` audit event.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from pocketos.errors import LimitExceeded, PocketOSError
from pocketos.kernel.audit import AuditLog
from pocketos.kernel.budget import Budget
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import PermissionRequest, Policy, match_host_pattern
from pocketos.kernel.policyspec import canonical_url

__all__ = [
    "Gateway",
    "Response",
    "NetworkError",
    "Transform",
    "is_private_address",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_REDIRECTS",
]

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_REDIRECTS = 20
REDIRECT_CODES = (301, 302, 303, 307, 308)

#: resolver(host, port) -> addresses (strings); sync (run in a thread) or async
Resolver = Callable[[str, int], "list[str] | Awaitable[list[str]]"]

_EXTRA_PRIVATE = [ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("100.64.0.0/10")]


_SSL_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One SSL context per verify mode (building one costs tens of milliseconds)."""
    ctx = _SSL_CONTEXTS.get(verify)
    if ctx is None:
        ctx = httpx.create_ssl_context(verify=verify)
        _SSL_CONTEXTS[verify] = ctx
    return ctx


class NetworkError(PocketOSError):
    """A request that did not complete. ``kind`` is one of ``blocked``, ``resolve``,
    ``connect``, ``timeout``, ``too_large``, ``redirects``, ``url``, ``protocol``, ``tls``,
    ``read``; ``curl_code`` is the matching curl exit status."""

    CODES = {
        "blocked": 7,
        "resolve": 6,
        "connect": 7,
        "timeout": 28,
        "too_large": 63,
        "redirects": 47,
        "url": 3,
        "protocol": 1,
        "tls": 35,
        "read": 56,
    }

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.curl_code = self.CODES.get(kind, 1)


@dataclass
class Transform:
    """Headers the gateway adds to requests whose URL matches ``match`` (a host pattern like
    the policy's: ``api.github.com``, ``*.example.com``, ``https://api.x.com/v1/``)."""

    match: str
    headers: dict[str, str]

    @classmethod
    def coerce(cls, value: Transform | Mapping[str, Any]) -> Transform:
        if isinstance(value, Transform):
            return value
        if not isinstance(value, Mapping):
            raise ValueError("a network transform must be a mapping {match, headers}")
        unknown = set(value) - {"match", "headers"}
        if unknown:
            raise ValueError(f"network transform: unknown key(s) {', '.join(sorted(unknown))}")
        match = value.get("match")
        headers = value.get("headers")
        if not isinstance(match, str) or not match.strip():
            raise ValueError("network transform: 'match' must be a non-empty host pattern")
        if not isinstance(headers, Mapping) or not headers:
            raise ValueError("network transform: 'headers' must be a non-empty mapping")
        for k, v in headers.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k:
                raise ValueError("network transform: header names and values must be strings")
        return cls(match.strip(), dict(headers))


@dataclass
class Response:
    """A response as the guest sees it. ``history`` holds the redirect responses before it
    (without bodies)."""

    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    method: str
    #: the request headers as the guest gave them (never the injected ones)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    history: list[Response] = field(default_factory=list)
    elapsed: float = 0.0
    remote_ip: str = ""
    #: bytes of body received (also when the body was streamed to a callback)
    size: int = 0

    def header(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def content(self) -> bytes:
        return self.body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def is_private_address(ip: str) -> bool:
    """True for loopback, private, link-local, unspecified, reserved, multicast and
    carrier-grade NAT addresses (IPv4-mapped IPv6 is judged by its IPv4 address)."""
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            ip.split("%", 1)[0]
        )
    except ValueError:
        return True
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None:
            addr = mapped
        elif addr.teredo is not None:
            addr = addr.teredo[1]
    bad = (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_unspecified
        or addr.is_reserved
        or addr.is_multicast
    )
    if isinstance(addr, ipaddress.IPv6Address):
        bad = bad or addr.is_site_local
    if bad:
        return True
    return any(addr in net for net in _EXTRA_PRIVATE if net.version == addr.version)


def _pattern_names_host(pattern: str) -> bool:
    """A pattern names one host (or IP) literally: no ``*`` in its host part."""
    p = pattern.strip()
    if p == "*":
        return False
    if "://" in p:
        p = p.split("://", 1)[1]
    host = p.split("/", 1)[0]
    return "*" not in host and bool(host)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def _system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.run_in_executor(None, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        if addr not in out:
            out.append(addr)
    return out


class Gateway:
    """The network gateway of one VM (``kernel.network``)."""

    def __init__(
        self,
        policy: Policy,
        audit: AuditLog,
        *,
        transforms: Iterable[Transform | Mapping[str, Any]] = (),
        limits: Limits | None = None,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        vm_id: str = "",
        timeout: float | None = DEFAULT_TIMEOUT,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_response_bytes: int | None = None,
    ) -> None:
        self.policy = policy
        self.audit = audit
        self.transforms = [Transform.coerce(t) for t in transforms]
        self.limits = limits or Limits()
        self.resolver = resolver
        self.transport = transport
        self.vm_id = vm_id
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.max_response_bytes = max_response_bytes
        #: the ``network=`` options this gateway was built from (see ``pocketos.net.install``)
        self.options: dict[str, Any] = {}
        #: the event loop the gateway serves (for request_sync from worker threads)
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- policy --------------------------------------------------------------------------
    async def _authorize(self, op: str, url: str, method: str, pid: int | None) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or _default_port(parts.scheme)
        extra = {"host": host, "port": port, "url": url, "scheme": parts.scheme, "method": method}
        decision = self.policy.decide("network", op, host, extra)
        cap = f"network.{op}"
        if decision == "ask":
            self.audit.record(
                "permission",
                capability=cap,
                resource=host,
                decision="ask",
                pid=pid,
                url=_safe_url(url),
            )
            req = PermissionRequest(
                "network", op, host, self.vm_id, pid, {**extra, "url": _safe_url(url)}
            )
            if await self.policy.ask_async(req):
                return
            self._deny(op, url, method, pid, "refused by handler or no answer")
            raise NetworkError("blocked", f"blocked by policy ({cap} on {host}, not granted)")
        if decision != "allow":
            self._deny(op, url, method, pid, "policy")
            raise NetworkError("blocked", f"blocked by policy ({cap} on {host})")

    def _named_explicitly(
        self, op: str, name: str, port: int, url: str, scheme: str, method: str, asked_for: str
    ) -> bool:
        """Whether the rule deciding for ``name`` (an IP or a host name) is an allow (or an
        answered ask) whose matching pattern names ``name`` literally, without wildcards."""
        dp = self.policy.domains.get("network")
        if dp is None:
            return False
        verdict: tuple[str, bool] | None = None
        for rule in dp.rules:
            if (
                rule.operations is not None
                and op not in rule.operations
                and "*" not in rule.operations
            ):
                continue
            methods = getattr(rule, "methods", None)
            if methods is not None and method.upper() not in methods:
                continue
            if rule.patterns is None:
                verdict = (rule.mode, False)
                continue
            hits = [p for p in rule.patterns if match_host_pattern(p, name, port, url, scheme)]
            if hits:
                verdict = (rule.mode, any(_pattern_names_host(p) for p in hits))
        if verdict is None or not verdict[1]:
            return False
        # an ``ask`` rule was answered when the URL was authorized (for its host)
        return verdict[0] == "allow" or (verdict[0] == "ask" and name == asked_for)

    def _private_allowed(
        self, op: str, ip: str, host: str, port: int, url: str, scheme: str, method: str
    ) -> bool:
        """A private address is reachable only through a rule naming the address itself or
        naming the host literally (a wildcard or a default allow never reaches it)."""
        parts = urlsplit(url)
        host_in_url = f"[{ip}]" if ":" in ip else ip
        netloc = host_in_url + (f":{parts.port}" if parts.port else "")
        ip_url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        if self._named_explicitly(op, ip, port, ip_url, scheme, method, host):
            return True
        return host != ip and self._named_explicitly(op, host, port, url, scheme, method, host)

    def _deny(self, op: str, url: str, method: str, pid: int | None, reason: str) -> None:
        self.audit.record(
            "network",
            capability=f"network.{op}",
            resource=_safe_url(url),
            decision="deny",
            reason=reason,
            pid=pid,
            method=method,
        )

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        try:
            if self.resolver is not None:
                res = self.resolver(host, port)
                if asyncio.iscoroutine(res) or isinstance(res, Awaitable):
                    res = await res
                addrs = [str(a) for a in res]  # type: ignore[union-attr]
            else:
                addrs = await _system_resolve(host, port)
        except (OSError, UnicodeError):
            addrs = []
        if not addrs:
            raise NetworkError("resolve", f"Could not resolve host: {host}")
        return addrs

    async def _checked_addresses(
        self, op: str, url: str, method: str, pid: int | None
    ) -> list[str]:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or _default_port(parts.scheme)
        addrs = await self._resolve(host, port)
        for a in addrs:
            if is_private_address(a) and not self._private_allowed(
                op, a, host, port, url, parts.scheme, method
            ):
                self._deny(op, url, method, pid, f"private address {a}")
                raise NetworkError(
                    "blocked",
                    f"blocked by policy (network.{op} on {host}: address {a} is "
                    f"private; allow it by naming the host or the address in a rule)",
                )
        return addrs

    # --- requests ------------------------------------------------------------------------
    def _transform_headers(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or _default_port(parts.scheme)
        out: dict[str, str] = {}
        for t in self.transforms:
            if match_host_pattern(t.match, host, port, url, parts.scheme):
                out.update(t.headers)
        return out

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        timeout: float | None = None,
        follow_redirects: bool = False,
        max_redirects: int | None = None,
        max_bytes: int | None = None,
        budget: Budget | None = None,
        pid: int | None = None,
        operation: str = "fetch",
        decode: bool = False,
        verify: bool = True,
        on_head: Callable[[Response], Awaitable[None]] | None = None,
        on_data: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> Response:
        """Send one request (following redirects when asked) and return the response.

        Streaming: ``on_head`` receives the final response before its body arrives (its
        ``history`` already set, ``body`` empty) and ``on_data`` receives the body chunk by
        chunk; the returned response then has an empty ``body`` (``size`` counts the bytes).

        Raises :class:`NetworkError` (policy, DNS, connect, timeout, size, redirects) or
        :class:`~pocketos.errors.LimitExceeded` (the exec's request/byte budget)."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        t = timeout if timeout is not None else self.timeout
        try:
            async with asyncio.timeout(t):  # None: no deadline of the gateway's own
                return await self._request(
                    method,
                    url,
                    headers,
                    body,
                    follow_redirects,
                    max_redirects,
                    max_bytes,
                    budget,
                    pid,
                    operation,
                    decode,
                    verify,
                    on_head,
                    on_data,
                )
        except TimeoutError:
            raise NetworkError("timeout", f"Operation timed out after {t:g} seconds")

    async def _request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] | None,
        body: bytes | None,
        follow: bool,
        max_redirects: int | None,
        max_bytes: int | None,
        budget: Budget | None,
        pid: int | None,
        op: str,
        decode: bool,
        verify: bool,
        on_head: Callable[[Response], Awaitable[None]] | None,
        on_data: Callable[[bytes], Awaitable[None]] | None,
    ) -> Response:
        hdrs = list(headers.items() if isinstance(headers, Mapping) else (headers or []))
        method = method.upper()
        history: list[Response] = []
        limit_redirects = self.max_redirects if max_redirects is None else max_redirects
        start = time.perf_counter()
        total = 0
        while True:
            url, hdrs = _normalize(url, hdrs)
            await self._authorize(op, url, method, pid)
            addrs = await self._checked_addresses(op, url, method, pid)
            self._count_request(budget)
            remaining = self._remaining_bytes(budget, max_bytes, total)
            resp = await self._send(
                method,
                url,
                hdrs,
                body,
                addrs,
                remaining,
                budget,
                pid,
                op,
                decode,
                verify,
                follow,
                history,
                on_head,
                on_data,
            )
            total += resp.size
            loc = resp.header("location")
            if not (follow and resp.status in REDIRECT_CODES and loc):
                resp.elapsed = time.perf_counter() - start
                return resp
            if len(history) >= limit_redirects:
                raise NetworkError("redirects", f"Maximum ({limit_redirects}) redirects followed")
            history = [*history, resp]
            new_url = urljoin(url, loc)
            if urlsplit(new_url).scheme not in ("http", "https"):
                raise NetworkError(
                    "protocol", f'Protocol "{urlsplit(new_url).scheme}" not supported'
                )
            if (
                resp.status == 303
                and method != "HEAD"
                or (resp.status in (301, 302) and method == "POST")
            ):
                method = "GET"
                body = None
                hdrs = [
                    (k, v) for k, v in hdrs if k.lower() not in ("content-type", "content-length")
                ]
            old_host = urlsplit(url).hostname
            if urlsplit(new_url).hostname != old_host:
                hdrs = [
                    (k, v) for k, v in hdrs if k.lower() not in ("authorization", "cookie", "host")
                ]
            url = new_url

    def _count_request(self, budget: Budget | None) -> None:
        if budget is None:
            return
        budget.network_requests += 1
        lim = budget.limits.max_network_requests
        if budget.network_requests > lim:
            if budget.limit_hit is None:
                budget.limit_hit = "max_network_requests"
            raise LimitExceeded(
                "max_network_requests", f"too many network requests (max_network_requests={lim})"
            )

    def _remaining_bytes(
        self, budget: Budget | None, max_bytes: int | None, used: int
    ) -> int | None:
        caps = []
        if max_bytes is not None:
            caps.append(max_bytes - used)
        if self.max_response_bytes is not None:
            caps.append(self.max_response_bytes)
        return min(caps) if caps else None

    async def _send(
        self,
        method: str,
        url: str,
        hdrs: list[tuple[str, str]],
        body: bytes | None,
        addrs: list[str],
        cap: int | None,
        budget: Budget | None,
        pid: int | None,
        op: str,
        decode: bool,
        verify: bool,
        follow: bool = False,
        history: list[Response] | None = None,
        on_head: Callable[[Response], Awaitable[None]] | None = None,
        on_data: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        guest = list(hdrs)
        names = {k.lower() for k, _ in guest}
        injected = self._transform_headers(url)
        send_headers = [(k, v) for k, v in guest if k.lower() not in {n.lower() for n in injected}]
        send_headers += list(injected.items())
        if "host" not in names:
            send_headers.insert(0, ("Host", parts.netloc.rpartition("@")[2]))
        start = time.perf_counter()
        last_exc: Exception | None = None
        status_for_audit = 0
        size = 0
        try:
            for ip in addrs:
                target = httpx.URL(url)
                if self.transport is None:
                    target = target.copy_with(host=ip)
                ext = {"sni_hostname": host} if parts.scheme == "https" else {}
                client = httpx.AsyncClient(
                    verify=_ssl_context(verify),
                    trust_env=False,
                    follow_redirects=False,
                    timeout=None,
                    transport=self.transport,
                )
                try:
                    req = client.build_request(
                        method, target, headers=send_headers, content=body, extensions=ext
                    )
                    for default in ("accept", "accept-encoding", "connection", "user-agent"):
                        if default not in names and default not in {n.lower() for n in injected}:
                            del req.headers[default]
                    if decode and "accept-encoding" not in names:
                        req.headers["Accept-Encoding"] = "gzip, deflate"
                    try:
                        r = await client.send(req, stream=True)
                    except httpx.ConnectError as exc:
                        last_exc = exc
                        continue
                    status_for_audit = r.status_code
                    head = Response(
                        status=r.status_code,
                        reason=r.reason_phrase,
                        http_version=r.http_version,
                        headers=[
                            (k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw
                        ],
                        body=b"",
                        url=url,
                        method=method,
                        request_headers=guest,
                        history=list(history or []),
                        remote_ip=ip,
                    )
                    final = not (
                        follow and r.status_code in REDIRECT_CODES and head.header("location")
                    )
                    try:
                        if final and on_head is not None:
                            await on_head(head)
                        sink = on_data if final else None
                        chunks: list[bytes] = []
                        it = r.aiter_bytes() if decode else r.aiter_raw()
                        async for chunk in it:
                            size += len(chunk)
                            if cap is not None and size > cap:
                                raise NetworkError(
                                    "too_large",
                                    f"Exceeded the maximum allowed file size "
                                    f"({cap}) with {size} bytes",
                                )
                            self._count_bytes(budget, len(chunk))
                            if sink is not None:
                                await sink(chunk)
                            else:
                                chunks.append(chunk)
                    finally:
                        await r.aclose()
                    head.body = b"".join(chunks)
                    head.size = size
                    return head
                finally:
                    await client.aclose()
            raise NetworkError(
                "connect",
                f"Failed to connect to {host} port "
                f"{parts.port or _default_port(parts.scheme)}: "
                f"{_reason(last_exc)}",
            )
        except httpx.TimeoutException:
            raise NetworkError("timeout", "Operation timed out")
        except httpx.RemoteProtocolError as exc:
            raise NetworkError("read", f"Failure when receiving data from the peer: {exc}")
        except httpx.HTTPError as exc:
            text = str(exc)
            if "SSL" in text or "certificate" in text.lower():
                raise NetworkError("tls", f"SSL connect error: {text}")
            raise NetworkError("read", text or type(exc).__name__)
        finally:
            self.audit.record(
                "network",
                capability=f"network.{op}",
                resource=_safe_url(url),
                decision="allow",
                pid=pid,
                method=method,
                status=status_for_audit,
                bytes=size,
                duration=round(time.perf_counter() - start, 6),
            )

    def _count_bytes(self, budget: Budget | None, n: int) -> None:
        if budget is None:
            return
        budget.network_bytes += n
        lim = budget.limits.max_network_bytes
        if budget.network_bytes > lim:
            if budget.limit_hit is None:
                budget.limit_hit = "max_network_bytes"
            raise LimitExceeded(
                "max_network_bytes", f"network byte limit exceeded (max_network_bytes={lim})"
            )

    def request_sync(self, method: str, url: str, **kw: Any) -> Response:
        """:meth:`request` for a worker thread (the wasm runtimes' HTTP door). Runs on the
        gateway's event loop when it has one, else on a private loop. Never call it from
        the event loop thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "request_sync() called from a running event loop; use 'await gateway.request(...)'"
            )
        loop = self.loop
        if loop is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self.request(method, url, **kw), loop)
            return fut.result()
        return asyncio.run(self.request(method, url, **kw))


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no address"
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 10:
        if isinstance(e, ConnectionRefusedError):
            return "Connection refused"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        e = e.__cause__ or e.__context__
        seen += 1
    text = str(exc)
    if "refused" in text.lower():
        return "Connection refused"
    return (
        "Couldn't connect to server"
        if "connection attempts failed" in text
        else (text or type(exc).__name__)
    )


def _safe_url(url: str) -> str:
    """The URL without user info (audit events never carry credentials)."""
    try:
        p = urlsplit(url)
    except ValueError:
        return url
    netloc = p.netloc.rpartition("@")[2]
    return urlunsplit((p.scheme, netloc, p.path, p.query, ""))


def _normalize(url: str, hdrs: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Check the URL; turn ``user:pass@`` into a Basic Authorization header; return the URL
    in its canonical form (see :func:`pocketos.kernel.policyspec.canonical_url`)."""
    try:
        p = urlsplit(url)
        p.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise NetworkError("url", f"URL rejected: {exc}")
    if p.scheme not in ("http", "https"):
        raise NetworkError("protocol", f'Protocol "{p.scheme}" not supported')
    if not p.hostname:
        raise NetworkError("url", "URL rejected: No host part in the URL")
    if "@" in p.netloc:
        userinfo = p.netloc.rpartition("@")[0]
        if not any(k.lower() == "authorization" for k, _ in hdrs):
            user, _, pw = userinfo.partition(":")
            from urllib.parse import unquote

            token = base64.b64encode(f"{unquote(user)}:{unquote(pw)}".encode()).decode()
            hdrs = [*hdrs, ("Authorization", f"Basic {token}")]
    # the one spelling policy rules and header transforms are matched against, and the one
    # sent: dot segments removed as the HTTP client would, no user info, no fragment
    return canonical_url(url), hdrs
