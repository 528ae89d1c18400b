"""A fake Anthropic Messages API on 127.0.0.1 for real agent CLIs: streaming (SSE) answers
that make the agent write a file, then run a command, then finish."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WRITE = {"file_path": "/home/user/hello.txt", "content": "hi from the agent\n"}
COMMAND = {
    "command": "echo ran > /home/user/ran.txt",
    "description": "make ran.txt",
    "timeout": 60000,
}


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
    )


def _message(model: str, block: dict[str, Any], delta: dict[str, Any], stop: str) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }
    return _sse(
        [
            ("message_start", start),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            ),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": 1},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )


def anthropic_reply(body: dict[str, Any]) -> bytes:
    model = str(body.get("model") or "fake")
    tools = [str(t.get("name")) for t in body.get("tools") or []]
    results = sum(
        1
        for m in body.get("messages") or []
        if isinstance(m.get("content"), list)
        for c in m["content"]
        if isinstance(c, dict) and c.get("type") == "tool_result"
    )

    def text(t: str) -> bytes:
        return _message(
            model, {"type": "text", "text": ""}, {"type": "text_delta", "text": t}, "end_turn"
        )

    def tool(names: tuple[str, ...], args: dict[str, Any], n: int) -> bytes | None:
        name = next((t for t in tools if t in names), None)
        if name is None:
            return None
        block = {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
        return _message(model, block, delta, "tool_use")

    if not body.get("stream") or not tools:
        return text("ok")
    if results == 0:
        return tool(("mcp__acp__Write", "Write"), WRITE, 1) or text("no write tool")
    if results == 1:
        return tool(("mcp__acp__Bash", "Bash"), COMMAND, 2) or text("no bash tool")
    return text("done")


class _Anthropic(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: list[str]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        data = (
            anthropic_reply(body)
            if body.get("stream")
            else json.dumps(
                {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model"),
                    "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                }
            ).encode()
        )
        self.send_response(200)
        ctype = "text/event-stream" if body.get("stream") else "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def anthropic_server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Anthropic)
    srv.requests = []  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()
