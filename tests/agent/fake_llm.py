"""Fake OpenAI-compatible and Anthropic servers on 127.0.0.1: real HTTP, scripted streaming
responses, every request recorded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None  # wait for this before answering
    cut: bool = False  # promise more body than is sent, then drop the connection


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = []
    for name, data in events:
        if name:
            out.append(f"event: {name}\n")
        out.append("data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n")
    return "".join(out).encode()


def openai_text(text: str, usage: tuple[int, int] = (10, 5)) -> Reply:
    chunks: list[tuple[str | None, Any]] = []
    half = len(text) // 2
    for piece in (text[:half], text[half:]):
        if piece:
            chunks.append((None, {"choices": [{"index": 0, "delta": {"content": piece}}]}))
    chunks.append((None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    chunks.append(
        (None, {"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}})
    )
    chunks.append((None, "[DONE]"))
    return Reply(body=_sse(chunks), headers={"content-type": "text/event-stream"})


def openai_tool(
    name: str, args: dict[str, Any], call_id: str = "call_1", usage: tuple[int, int] = (10, 5)
) -> Reply:
    raw = json.dumps(args)
    half = len(raw) // 2
    chunks: list[tuple[str | None, Any]] = [
        (
            None,
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": call_id,
                                    "type": "function",
                                    "function": {"name": name, "arguments": raw[:half]},
                                }
                            ]
                        },
                    }
                ]
            },
        ),
        (
            None,
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [{"index": 0, "function": {"arguments": raw[half:]}}]
                        },
                    }
                ]
            },
        ),
        (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        (
            None,
            {"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}},
        ),
        (None, "[DONE]"),
    ]
    return Reply(body=_sse(chunks), headers={"content-type": "text/event-stream"})


def anthropic_events(
    blocks: list[dict[str, Any]], stop: str, usage: tuple[int, int] = (10, 5)
) -> Reply:
    ev: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "role": "assistant",
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                },
            },
        )
    ]
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            ev.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "text_delta", "text": b["text"]},
                    },
                )
            )
        else:
            ev.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {
                            "type": "tool_use",
                            "id": b["id"],
                            "name": b["name"],
                            "input": {},
                        },
                    },
                )
            )
            raw = json.dumps(b["input"])
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": raw[:3]},
                    },
                )
            )
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": raw[3:]},
                    },
                )
            )
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    ev.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": usage[1]},
            },
        )
    )
    ev.append(("message_stop", {"type": "message_stop"}))
    return Reply(body=_sse(ev), headers={"content-type": "text/event-stream"})


def anthropic_text(text: str, usage: tuple[int, int] = (10, 5)) -> Reply:
    return anthropic_events([{"type": "text", "text": text}], "end_turn", usage)


def anthropic_tool(
    name: str, args: dict[str, Any], call_id: str = "toolu_1", usage: tuple[int, int] = (10, 5)
) -> Reply:
    return anthropic_events(
        [
            {"type": "text", "text": "Working. "},
            {"type": "tool_use", "id": call_id, "name": name, "input": args},
        ],
        "tool_use",
        usage,
    )


def conversation_error(body: dict[str, Any], anthropic: bool) -> str | None:
    """What the real APIs answer 400 for in a conversation, or None: a tool call without a
    result before the next message (OpenAI ``messages``, Anthropic ``tool_use`` blocks), a tool
    result for no call, and (Anthropic) roles that do not alternate."""
    msgs = body.get("messages") or []
    waiting: set[str] = set()
    prev = None
    for i, m in enumerate(msgs):
        role = m.get("role")
        if anthropic:
            if role == prev:
                return f"messages.{i}: roles must alternate between user and assistant"
            prev = role
            blocks = m.get("content") if isinstance(m.get("content"), list) else []
            results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if waiting and not waiting <= results:
                return (
                    f"messages.{i}: tool_use ids were found without tool_result blocks "
                    f"immediately after: {sorted(waiting - results)}"
                )
            if results - waiting:
                return f"messages.{i}: unexpected tool_use_id in tool_result blocks"
            waiting = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        else:
            if role == "tool":
                if m.get("tool_call_id") not in waiting:
                    return f"messages.[{i}]: role 'tool' must answer a preceding 'tool_calls'"
                waiting.discard(m.get("tool_call_id"))
                continue
            if waiting:
                return (
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    f"responding to each 'tool_call_id'. Missing: {sorted(waiting)}"
                )
            waiting = {c["id"] for c in m.get("tool_calls") or []}
    if waiting:
        return f"the conversation ends with tool calls without results: {sorted(waiting)}"
    return None


class FakeServer:
    """``async with FakeServer(replies) as srv``: ``srv.url``, ``srv.requests``. A ``strict``
    server answers 400 to conversations the real APIs reject, as they do."""

    def __init__(self, replies: list[Reply], *, strict: bool = False) -> None:
        self.strict = strict
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.received = asyncio.Event()
        self.url = ""
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "headers": headers,
                    "json": json.loads(body) if body else None,
                }
            )
            self.received.set()
            problem = None
            if self.strict:
                req = self.requests[-1]
                problem = conversation_error(req["json"] or {}, req["path"].endswith("/messages"))
            if problem is not None:
                err = {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": problem},
                }
                reply = Reply(400, json.dumps(err).encode())
            elif self.replies:
                reply = self.replies.pop(0)
            else:
                reply = Reply(500, b'{"error": "no more"}')
            if reply.hold is not None:
                await reply.hold.wait()
            hdrs = {
                "content-type": "application/json",
                **reply.headers,
                "content-length": str(len(reply.body) + (1000 if reply.cut else 0)),
                "connection": "close",
            }
            out = (
                f"HTTP/1.1 {reply.status} X\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                + "\r\n"
            )
            writer.write(out.encode() + reply.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
