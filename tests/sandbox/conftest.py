"""Shared fixtures for the heavy-sandbox tests: they need bubblewrap and FUSE (root)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
from pocketos.sandbox import unavailable_reason

REASON = unavailable_reason()
if REASON is None and not os.path.exists("/usr/bin/python3"):
    REASON = "the host has no /usr/bin/python3 (the tests' programs use it)"
needs_sandbox = pytest.mark.skipif(REASON is not None, reason=f"sandbox: {REASON}")


def make_vm(policy: dict[str, Any] | None = None, **kw: Any) -> VM:
    pol: dict[str, Any] = {**DEFAULT_POLICY, "sandbox": "allow"}
    pol.update(policy or {})
    return VM(policy=pol, **kw)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    """A real HTTP server on the host's 127.0.0.1; yields its port."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()
