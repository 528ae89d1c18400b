"""A small stand-in for the Paperclip REST API (issues and comments only), on 127.0.0.1 in a
thread, for runner tests that do not need a real Paperclip. Records every request."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeAPI:
    token: str = "run-jwt"
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def handle(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "Unauthorized"}
        m = re.fullmatch(r"/api/issues/([^/]+)(/comments|/children)?", path)
        if not m or m.group(1) not in self.issues:
            return 404, {"error": "Issue not found"}
        iid, sub = m.group(1), m.group(2)
        issue = self.issues[iid]
        if sub == "/comments":
            if method == "GET":
                return 200, self.comments.get(iid, [])
            c = {"id": f"c{len(self.requests)}", "body": body["body"], "createdAt": "2026"}
            self.comments.setdefault(iid, []).append(c)
            return 201, c
        if sub == "/children":
            cid = f"{iid}-{len(self.issues)}"
            self.issues[cid] = {"id": cid, "title": body["title"], "parentId": iid}
            return 201, self.issues[cid]
        if method == "PATCH":
            if body.get("status") not in ("todo", "in_progress", "done", "blocked"):
                return 400, {"error": "Validation error", "details": "bad status"}
            issue.update(status=body["status"])
            return 200, issue
        return 200, issue

    def __enter__(self) -> FakeAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _go(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append(
                    {"method": self.command, "path": self.path, "headers": hdrs, "json": body}
                )
                status, out = api.handle(self.command, self.path, hdrs, body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _go

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
