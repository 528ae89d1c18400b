"""Fake model APIs on 127.0.0.1 for real agent CLIs: OpenAI Responses, OpenAI Chat
Completions, Gemini and Anthropic Messages, all streaming. Each answers the same script
whatever the agent: write /home/user/hello.txt with its file-writing tool, then run a command
with its shell tool, then say "done". Tool arguments are filled from the JSON schema the
agent sent, so one script fits every CLI's tool names and shapes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.sandbox.fake_models import anthropic_reply

PATH = "/home/user/hello.txt"
CONTENT = "hi from the agent\n"
COMMAND = "echo ran > /home/user/ran.txt"
#: the write as a command, for an agent whose model gets no file-writing tool
WRITE_COMMAND = f"printf 'hi from the agent\\n' > {PATH}"
PATCH = f"*** Begin Patch\n*** Add File: {PATH}\n+{CONTENT.rstrip()}\n*** End Patch\n"

WRITE_TOOLS = ("write", "write_file", "Write", "apply_patch", "create_file")
SHELL_TOOLS = ("bash", "shell", "run_shell_command", "shell_command", "exec_command", "Bash")


def _args(name: str, schema: dict[str, Any], command: str = COMMAND) -> dict[str, Any]:
    """Arguments for tool ``name`` from its JSON schema."""
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for key, spec in props.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        low = key.lower()
        if low in ("file_path", "filepath", "path", "absolute_path"):
            out[key] = PATH
        elif low == "content":
            out[key] = CONTENT
        elif low in ("command", "cmd"):
            out[key] = ["bash", "-lc", command] if kind == "array" else command
        elif low == "input" and name == "apply_patch":
            out[key] = PATCH
        elif low == "description":
            out[key] = "make ran.txt"
        elif low in ("workdir", "dir_path", "directory", "cwd"):
            out[key] = "/home/user"
    return out


def next_step(tools: dict[str, dict[str, Any]], results: int) -> tuple[str, Any] | None:
    """(tool name, arguments or patch text) to call next, or None to finish."""
    if results == 0:
        for want in WRITE_TOOLS:
            if want in tools:
                if tools[want].get("__freeform__"):
                    return want, PATCH
                return want, _args(want, tools[want])
    if results > 1:
        return None
    for want in SHELL_TOOLS:
        if want in tools:
            return want, _args(want, tools[want], WRITE_COMMAND if results == 0 else COMMAND)
    return None


def _sse(items: list[Any], event_names: bool = False) -> bytes:
    out = []
    for item in items:
        if event_names:
            out.append(f"event: {item['type']}\ndata: {json.dumps(item)}\n\n")
        else:
            out.append(f"data: {item if isinstance(item, str) else json.dumps(item)}\n\n")
    return "".join(out).encode()


# --- OpenAI Responses ------------------------------------------------------------------------
def responses_reply(body: dict[str, Any]) -> bytes:
    tools: dict[str, dict[str, Any]] = {}
    for t in body.get("tools") or []:
        if t.get("type") == "function":
            tools[str(t.get("name"))] = t.get("parameters") or {}
        elif t.get("type") == "custom":
            tools[str(t.get("name"))] = {"__freeform__": True}
        elif t.get("type") == "local_shell":
            tools["local_shell"] = {}
    inputs = body.get("input") if isinstance(body.get("input"), list) else []
    results = sum(1 for i in inputs if str(i.get("type", "")).endswith("call_output"))
    step = next_step(tools, results)
    rid = f"resp_{results}"
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 11,
    }
    if step is None:
        item: dict[str, Any] = {
            "type": "message",
            "id": f"msg_{results}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "done", "annotations": []}],
        }
        deltas = [{"type": "response.output_text.delta", "item_id": item["id"], "delta": "done"}]
    elif tools[step[0]].get("__freeform__"):
        item = {
            "type": "custom_tool_call",
            "id": f"ctc_{results}",
            "call_id": f"call_{results}",
            "name": step[0],
            "input": step[1],
            "status": "completed",
        }
        deltas = []
    else:
        item = {
            "type": "function_call",
            "id": f"fc_{results}",
            "call_id": f"call_{results}",
            "name": step[0],
            "arguments": json.dumps(step[1]),
            "status": "completed",
        }
        deltas = []
    response = {"id": rid, "object": "response", "status": "in_progress", "output": []}
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    events: list[Any] = [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        *deltas,
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    return _sse(events, event_names=True)


# --- OpenAI Chat Completions -----------------------------------------------------------------
def chat_reply(body: dict[str, Any]) -> bytes:
    tools = {
        str(t["function"]["name"]): t["function"].get("parameters") or {}
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }
    results = sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")
    step = next_step(tools, results) if tools else None
    base = {"id": f"chatcmpl-{results}", "object": "chat.completion.chunk", "created": 0}
    base["model"] = body.get("model") or "fake"
    if step is None:
        delta: dict[str, Any] = {"role": "assistant", "content": "done" if tools else "ok"}
        finish = "stop"
    else:
        call = {
            "index": 0,
            "id": f"call_{results}",
            "type": "function",
            "function": {"name": step[0], "arguments": json.dumps(step[1])},
        }
        delta, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    usage = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    chunks: list[Any] = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        {**base, "choices": [], "usage": usage},
        "[DONE]",
    ]
    return _sse(chunks)


# --- Gemini ----------------------------------------------------------------------------------
def gemini_reply(body: dict[str, Any]) -> bytes:
    tools = {
        str(f["name"]): f.get("parameters") or f.get("parametersJsonSchema") or {}
        for t in body.get("tools") or []
        for f in t.get("functionDeclarations") or []
    }
    results = sum(
        1
        for c in body.get("contents") or []
        for p in c.get("parts") or []
        if isinstance(p, dict) and "functionResponse" in p
    )
    step = next_step(tools, results) if tools else None
    if step is None:
        parts: list[dict[str, Any]] = [{"text": "done" if tools else "ok"}]
    else:
        parts = [{"functionCall": {"name": step[0], "args": step[1]}}]
    chunk = {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1, "totalTokenCount": 11},
        "modelVersion": "fake",
    }
    return _sse([chunk])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, data: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) or b"{}"
        body = json.loads(raw)
        path = self.path.split("?", 1)[0]
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        sse = "text/event-stream"
        if path.endswith("/responses"):
            self._send(responses_reply(body), sse)
        elif path.endswith("/chat/completions"):
            self._send(chat_reply(body), sse)
        elif path.endswith("/messages"):
            self._send(anthropic_reply(body), sse)
        elif ":streamGenerateContent" in path:
            self._send(gemini_reply(body), sse)
        elif ":generateContent" in path:
            # one JSON answer; the text is the first data line of the streamed form
            chunk = json.loads(gemini_reply(body).decode().split("data: ", 1)[1])
            self._send(json.dumps(chunk).encode(), "application/json")
        elif ":countTokens" in path:
            self._send(b'{"totalTokens": 10}', "application/json")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append("GET " + self.path)  # type: ignore[attr-defined]
        if self.path.split("?", 1)[0].endswith("/models"):
            data = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            self._send(json.dumps(data).encode(), "application/json")
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_model_server() -> Iterator[ThreadingHTTPServer]:
    """One server for every API; ``srv.requests`` lists the paths asked for."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests = []  # type: ignore[attr-defined]
    srv.bodies = []  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()
