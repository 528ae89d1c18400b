"""``pocketos_http``: HTTP for Python inside a pocketos VM, through the VM's network gateway.

This file is guest code: ``python3`` in the VM serves it as the module ``pocketos_http`` and
also uses it to give ``http.client`` (and so ``urllib.request``) a connection class that talks
to the gateway instead of a socket. Every request is checked by the VM's ``network`` policy,
audited and counted against the exec's limits, on the host side::

    import pocketos_http
    r = pocketos_http.get("https://api.example.com/v1/items", headers={"Accept": "..."})
    r.status, r.reason, r.headers["content-type"], r.body, r.text, r.json()

    import urllib.request
    urllib.request.urlopen("https://api.example.com/").read()

A request the policy refuses raises :class:`Blocked` (a ``PermissionError``); through urllib it
is a ``urllib.error.URLError`` whose reason reads ``blocked by policy (network.fetch on HOST)``.
"""

from __future__ import annotations

import io
import json as _json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = [
    "request",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "Response",
    "Headers",
    "NetworkError",
    "Blocked",
    "Timeout",
]


class NetworkError(OSError):
    """A request that did not complete; ``kind`` names why (``blocked``, ``resolve``,
    ``connect``, ``timeout``, ``too_large``, ``redirects``, ``url``, ``protocol``, ``tls``,
    ``read``, ``limit``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return self.message


class Blocked(NetworkError, PermissionError):
    """The VM's network policy refused the request."""


class Timeout(NetworkError, TimeoutError):
    """The request ran out of time."""


def _error(kind: str, message: str) -> NetworkError:
    if kind == "blocked":
        return Blocked(kind, message)
    if kind == "timeout":
        return Timeout(kind, message)
    return NetworkError(kind, message)


class Headers(Mapping[str, str]):
    """Response headers: case-insensitive lookup, repeated headers joined with ``", "``;
    ``items_all()`` gives every (name, value) pair as received."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = [(str(k), str(v)) for k, v in pairs]

    def __getitem__(self, name: str) -> str:
        low = name.lower()
        found = [v for k, v in self._pairs if k.lower() == low]
        if not found:
            raise KeyError(name)
        return ", ".join(found)

    def __iter__(self) -> Iterator[str]:
        seen: list[str] = []
        for k, _ in self._pairs:
            if k.lower() not in [s.lower() for s in seen]:
                seen.append(k)
        return iter(seen)

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._pairs})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._pairs)

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k.lower() == name.lower()]

    def items_all(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class Response:
    """A complete response: ``status``, ``reason``, ``headers``, ``body`` (bytes), ``url``
    (after redirects), ``ok`` (status below 400), ``text`` and ``json()``."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        url: str,
        redirected: bool = False,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = Headers(headers)
        self.body = body
        self.url = url
        self.redirected = redirected

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def content(self) -> bytes:
        return self.body

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        for part in ctype.split(";")[1:]:
            k, _, v = part.strip().partition("=")
            if k.lower() == "charset" and v:
                charset = v.strip('"')
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.body)

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise NetworkError("status", f"{self.status} {self.reason} for url: {self.url}")

    def __repr__(self) -> str:
        return f"<Response [{self.status}]>"


def _exchange(meta: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    import _host  # type: ignore[import-not-found]  # the runtime's door to the host (only inside the VM)

    answer = _host.call(b"h" + _json.dumps(meta).encode() + b"\n" + body)
    head, _, rest = bytes(answer).partition(b"\n")
    info = _json.loads(head)
    if "error" in info:
        raise _error(str(info.get("kind", "")), str(info["error"]))
    return info, rest


def _header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in items]


def request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    *,
    json: Any = None,
    data: Any = None,
    timeout: float | None = None,
    follow_redirects: bool = True,
) -> Response:
    """Send one request through the VM's gateway and return the whole response.

    ``body`` is bytes or text (UTF-8); ``json=`` sends a JSON body, ``data=`` a dict as a form
    (or bytes/text as is). Redirects are followed (each hop checked by the policy) unless
    ``follow_redirects=False``. Raises :class:`NetworkError` (``Blocked``, ``Timeout``, ...);
    an HTTP error status is a normal response."""
    pairs = _header_pairs(headers)
    names = {k.lower() for k, _ in pairs}
    payload: bytes = b""
    if json is not None:
        payload = _json.dumps(json).encode()
        if "content-type" not in names:
            pairs.append(("Content-Type", "application/json"))
    elif data is not None:
        if isinstance(data, Mapping):
            from urllib.parse import urlencode

            payload = urlencode(data).encode()
            if "content-type" not in names:
                pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
        else:
            payload = data.encode() if isinstance(data, str) else bytes(data)
    elif body is not None:
        payload = body.encode() if isinstance(body, str) else bytes(body)
    meta = {
        "method": method.upper(),
        "url": url,
        "headers": pairs,
        "timeout": timeout,
        "follow": bool(follow_redirects),
        "decode": True,
        "has_body": bool(payload) or method.upper() in ("POST", "PUT", "PATCH"),
    }
    info, rest = _exchange(meta, payload)
    return Response(
        int(info["status"]),
        str(info.get("reason", "")),
        [(k, v) for k, v in info.get("headers", [])],
        rest,
        str(info.get("url", url)),
        bool(info.get("redirected")),
    )


def get(url: str, **kw: Any) -> Response:
    return request("GET", url, **kw)


def head(url: str, **kw: Any) -> Response:
    return request("HEAD", url, **kw)


def post(url: str, body: bytes | str | None = None, **kw: Any) -> Response:
    return request("POST", url, body=body, **kw)


def put(url: str, body: bytes | str | None = None, **kw: Any) -> Response:
    return request("PUT", url, body=body, **kw)


def patch(url: str, body: bytes | str | None = None, **kw: Any) -> Response:
    return request("PATCH", url, body=body, **kw)


def delete(url: str, **kw: Any) -> Response:
    return request("DELETE", url, **kw)


# --- http.client over the gateway ------------------------------------------------------------
_DROP_REQUEST = ("host", "content-length", "transfer-encoding", "connection")


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def _wire_response(info: dict[str, Any], body: bytes, method: str) -> bytes:
    status = int(info["status"])
    reason = str(info.get("reason", "")) or "-"
    lines = [f"HTTP/1.1 {status} {reason}"]
    for k, v in info.get("headers", []):
        low = str(k).lower()
        if low == "transfer-encoding" or (low == "content-length" and method != "HEAD"):
            continue
        lines.append(f"{k}: {v}")
    if method != "HEAD":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


class _GatewaySocket:
    """What an ``HTTPConnection`` holds instead of a socket: it collects the request bytes
    http.client writes and, when the response is read, sends them through the gateway."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pending = bytearray()
        self.answer = b""

    def sendall(self, data: Any) -> None:
        self.pending += bytes(data)

    def send(self, data: Any) -> int:
        self.sendall(data)
        return len(data)

    def _complete(self) -> bool:
        head, sep, body = bytes(self.pending).partition(b"\r\n\r\n")
        if not sep:
            return False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            name = k.strip().lower()
            if name == b"content-length":
                return len(body) >= int(v.strip() or b"0")
            if name == b"transfer-encoding" and b"chunked" in v.lower():
                return body.endswith(b"0\r\n\r\n")
        return True

    def exchange(self, force: bool = False) -> None:
        """Send the pending request once it is complete (errors surface in ``request()``)."""
        if self.pending and (force or self._complete()):
            raw, self.pending = bytes(self.pending), bytearray()
            self.answer = self.conn._pocketos_exchange(raw)

    def makefile(self, mode: str = "rb", *args: Any, **kw: Any) -> io.BytesIO:
        self.exchange(force=True)
        answer, self.answer = self.answer, b""
        return io.BytesIO(answer)

    def settimeout(self, value: Any) -> None:
        pass

    def setsockopt(self, *args: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _exchange_wire(conn: Any, raw: bytes, scheme: str) -> bytes:
    head_raw, _, body = raw.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    method, target = lines[0].split(" ")[:2]
    pairs: list[tuple[str, str]] = []
    chunked = False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        low = k.strip().lower()
        if low == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        if low in _DROP_REQUEST:
            continue
        pairs.append((k.strip(), v.strip()))
    if chunked:
        body = _dechunk(body)
    if target.startswith(("http://", "https://")):
        url = target
    else:
        host = conn.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        default = 443 if scheme == "https" else 80
        netloc = host if conn.port in (None, default) else f"{host}:{conn.port}"
        url = f"{scheme}://{netloc}{target}"
    timeout = conn.timeout if isinstance(conn.timeout, (int, float)) else None
    meta = {
        "method": method,
        "url": url,
        "headers": pairs,
        "timeout": timeout,
        "follow": False,
        "decode": False,
        "has_body": bool(body) or method in ("POST", "PUT", "PATCH"),
    }
    info, rest = _exchange(meta, body)
    return _wire_response(info, rest, method)


def _patch_http_client(hc: Any) -> None:
    """Give ``http.client`` connection classes that go through the gateway (also
    ``HTTPSConnection``, which the runtime lacks without ``ssl``)."""
    base = hc.HTTPConnection
    if getattr(base, "_pocketos", False):
        return

    class HTTPConnection(base):  # type: ignore[misc, valid-type]
        _pocketos = True
        _pocketos_scheme = "http"

        def __init__(
            self, host: str, port: int | None = None, *args: Any, context: Any = None, **kw: Any
        ) -> None:
            kw.pop("key_file", None)
            kw.pop("cert_file", None)
            kw.pop("check_hostname", None)
            super().__init__(host, port, *args, **kw)

        def connect(self) -> None:
            self.sock = _GatewaySocket(self)

        def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
            super().endheaders(message_body, encode_chunked=encode_chunked)
            if isinstance(self.sock, _GatewaySocket):
                self.sock.exchange()

        def _pocketos_exchange(self, raw: bytes) -> bytes:
            return _exchange_wire(self, raw, self._pocketos_scheme)

    class HTTPSConnection(HTTPConnection):
        default_port = 443
        _pocketos_scheme = "https"

    HTTPConnection.__module__ = HTTPSConnection.__module__ = "http.client"
    hc.HTTPConnection = HTTPConnection
    hc.HTTPSConnection = HTTPSConnection
    hc._create_https_context = lambda *a, **k: None
    names = list(getattr(hc, "__all__", []))
    if "HTTPSConnection" not in names:
        names.append("HTTPSConnection")
        hc.__all__ = names
