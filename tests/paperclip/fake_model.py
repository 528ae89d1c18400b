"""A fake OpenAI-compatible model server on 127.0.0.1, in a thread, for runs started by other
processes (the runner, Paperclip). Its replies are scripted by conversation state, not by
arrival order: the reply to a request is chosen from the last user message (which rule
matches it) and how many tool results follow it. Every request is recorded."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.agent.fake_llm import Reply, openai_text, openai_tool

__all__ = ["Rule", "FakeModel", "tool", "text"]

Step = Callable[[str], Reply]


def tool(name: str, args: dict[str, Any], usage: tuple[int, int] = (1000, 100)) -> Step:
    return lambda call_id: openai_tool(name, args, call_id, usage)


def text(body: str, usage: tuple[int, int] = (1000, 100)) -> Step:
    return lambda call_id: openai_text(body, usage)


@dataclass
class Rule:
    """When the last user message matches ``pattern``, answer step ``n`` after ``n`` tool
    results; after the last step, say ``done``."""

    pattern: str
    steps: list[Step]
    done: str = "Done."
    usage: tuple[int, int] = (1000, 100)


@dataclass
class FakeModel:
    rules: list[Rule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: (input, output) tokens of every reply sent
    reported: list[tuple[int, int]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply_for(self, body: dict[str, Any]) -> tuple[Reply, tuple[int, int]]:
        msgs = body.get("messages") or []
        last_user = -1
        for i, m in enumerate(msgs):
            if m.get("role") == "user":
                last_user = i
        prompt = str(msgs[last_user].get("content") or "") if last_user >= 0 else ""
        n = sum(1 for m in msgs[last_user + 1 :] if m.get("role") == "tool")
        for rule in self.rules:
            if re.search(rule.pattern, prompt):
                if n < len(rule.steps):
                    step = rule.steps[n]
                    r = step(f"call_{len(self.requests)}")
                    return r, _usage_of(r)
                return openai_text(rule.done, rule.usage), rule.usage
        return openai_text("Nothing to do.", (10, 5)), (10, 5)

    def __enter__(self) -> FakeModel:
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                data = json.dumps({"object": "list", "data": [{"id": "gpt-4.1"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with model._lock:
                    model.requests.append({"path": self.path, "json": body})
                    reply, usage = model.reply_for(body)
                    model.reported.append(usage)
                self.send_response(reply.status)
                for k, v in {"content-type": "application/json", **reply.headers}.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(reply.body)))
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _usage_of(r: Reply) -> tuple[int, int]:
    m = re.search(rb'"prompt_tokens": (\d+), "completion_tokens": (\d+)', r.body)
    assert m is not None
    return int(m.group(1)), int(m.group(2))
