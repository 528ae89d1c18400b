"""A real HTTP server on 127.0.0.1 for the gateway and curl/wget tests, and VM helpers."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
from pocketos.net import install


@dataclass
class Server:
    host: str
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            ctype: str = "text/plain",
        ) -> None:
            self.send_response_only(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        def _handle(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            parts = urlsplit(self.path)
            server.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
            )
            path = parts.path
            q = parse_qs(parts.query)
            if path == "/hello":
                self._reply(200, b"hello\n")
            elif path == "/headers":
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                self._reply(
                    200, json.dumps(hdrs, sort_keys=True).encode() + b"\n", ctype="application/json"
                )
            elif path == "/echo":
                self._reply(200, f"{self.command} {body.decode('latin-1')}\n".encode())
            elif path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                self._reply(code, f"status {code}\n".encode())
            elif path == "/redirect":
                self._reply(int(q.get("code", ["302"])[0]), b"", {"Location": q["to"][0]})
            elif path.startswith("/chain/"):
                k = int(path.rsplit("/", 1)[1])
                if k == 0:
                    self._reply(200, b"end of chain\n")
                else:
                    self._reply(302, b"", {"Location": f"/chain/{k - 1}"})
            elif path.startswith("/big/"):
                self._reply(200, b"x" * int(path.rsplit("/", 1)[1]))
            elif path == "/gzip":
                self._reply(
                    200, gzip.compress(b"unzipped\n", mtime=0), {"Content-Encoding": "gzip"}
                )
            elif path == "/hang":
                server.release.wait(10)
                self._reply(200, b"late\n")
            else:
                self._reply(404, b"not found\n")

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    return H


@pytest.fixture(scope="session")
def http_server() -> Iterator[Server]:
    srv = Server("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(srv))
    httpd.daemon_threads = True
    srv.port = httpd.server_address[1]
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh_requests(http_server: Server) -> None:
    http_server.requests.clear()


def policy(*rules: dict[str, Any], default: str = "deny") -> dict[str, Any]:
    pol = dict(DEFAULT_POLICY)
    pol["network"] = {"default": default, "rules": list(rules)} if rules else default
    return pol


def allow(*hosts: str) -> dict[str, Any]:
    return {"mode": "allow", "hosts": list(hosts)}


def make_vm(
    *rules: dict[str, Any],
    network: dict[str, Any] | None = None,
    default: str = "deny",
    **options: Any,
) -> VM:
    vm = VM(policy=policy(*rules, default=default), **options)
    install(vm.kernel, network)
    return vm
