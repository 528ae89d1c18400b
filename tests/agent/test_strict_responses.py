"""The providers reject what is not a valid model answer, saying what was received, and tell
timeouts, unreachable endpoints and HTTP errors apart. A fake model server on 127.0.0.1
misbehaves on purpose (real sockets, real HTTP)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from pocketos.agent import AgentConfig
from pocketos.agent.providers import Completion, ProviderError, make_provider
from tests.agent.fake_llm import (
    FakeServer,
    Reply,
    _sse,
    anthropic_text,
    openai_text,
)

SSE = {"content-type": "text/event-stream"}


def provider(srv_url: str, kind: str = "openai", **kw: Any) -> Any:
    base = srv_url + ("/v1" if kind == "openai" else "")
    conf = AgentConfig.resolve(
        {"provider": kind, "base_url": base, "api_key": "k", "backoff": 0, **kw}, env={}
    )
    return make_provider(conf)


def run(replies: list[Reply], kind: str = "openai", **kw: Any) -> tuple[Completion, list[str]]:
    """Complete once against a server answering ``replies``; return the completion and the
    pieces of text the caller was shown."""
    shown: list[str] = []

    async def on_text(piece: str) -> None:
        shown.append(piece)

    async def go() -> Completion:
        async with FakeServer(replies) as srv:
            p = provider(srv.url, kind, **kw)
            try:
                return await p.complete(
                    "", [{"role": "user", "content": "hi"}], [], on_text=on_text
                )  # type: ignore[no-any-return]
            finally:
                await p.aclose()

    return asyncio.run(go()), shown


def fails(replies: list[Reply], kind: str = "openai", **kw: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(replies, kind, **kw)
    return info.value


def chunk(text: str) -> tuple[None, dict[str, Any]]:
    return (None, {"choices": [{"index": 0, "delta": {"content": text}}]})


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_html_200_is_rejected_with_what_was_received(kind: str) -> None:
    page = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    err = fails([Reply(200, page, {"content-type": "text/html"})], kind, retries=0)
    assert err.code == "bad_response"
    assert "text/html" in str(err) and "Welcome to nginx" in str(err)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_malformed_sse_json_is_rejected(kind: str) -> None:
    body = b'data: {"choices": [{"delta": {"content": "hel\n\n'
    err = fails([Reply(200, body, SSE)], kind, retries=0)
    assert err.code == "bad_response"
    assert "malformed JSON" in str(err) and "hel" in str(err)


def test_openai_stream_cut_before_finish_is_rejected() -> None:
    body = _sse([chunk("Hello, "), chunk("wor")])
    err = fails([Reply(200, body, SSE)], retries=0)
    assert err.code == "bad_response"
    assert "without finish_reason or [DONE]" in str(err)


def test_anthropic_stream_cut_before_message_stop_is_rejected() -> None:
    full = anthropic_text("Hello, world").body
    cut = full[: full.index(b"event: message_delta")]
    err = fails([Reply(200, cut, SSE)], "anthropic", retries=0)
    assert err.code == "bad_response" and "before message_stop" in str(err)


def test_zero_valid_chunks_is_rejected() -> None:
    body = _sse([(None, {"object": "something.else"}), (None, "[DONE]")])
    err = fails([Reply(200, body, SSE)], retries=0)
    assert err.code == "bad_response" and "no completion chunks" in str(err)
    err = fails([Reply(200, b"", SSE)], retries=0)
    assert err.code == "bad_response"
    body = _sse([("ping", {"type": "ping"}), ("message_stop", {"type": "message_stop"})])
    err = fails([Reply(200, body, SSE)], "anthropic", retries=0)
    assert err.code == "bad_response" and "no message_start" in str(err)


def test_cut_stream_with_nothing_shown_is_retried() -> None:
    body = _sse([(None, {"choices": [{"index": 0, "delta": {"role": "assistant"}}]})])
    out, shown = run([Reply(200, body, SSE), openai_text("fine")], retries=1)
    assert out.text == "fine" and "".join(shown) == "fine"


@pytest.mark.parametrize("cut", [False, True])
def test_retry_never_duplicates_shown_text(cut: bool) -> None:
    # the first answer shows "Hello, " then ends early (cleanly, or with the connection
    # dropped): it is not retried, so the caller never sees text twice
    body = _sse([chunk("Hello, ")])
    server = FakeServer([Reply(200, body, SSE, cut=cut), openai_text("Hello, world")])
    shown: list[str] = []

    async def on_text(piece: str) -> None:
        shown.append(piece)

    async def go() -> None:
        async with server as srv:
            p = provider(srv.url, retries=3)
            with pytest.raises(ProviderError) as info:
                await p.complete("", [{"role": "user", "content": "hi"}], [], on_text=on_text)
            await p.aclose()
            assert info.value.code == ("unreachable" if cut else "bad_response")

    asyncio.run(go())
    assert shown == ["Hello, "] and len(server.requests) == 1


def test_openai_server_ignoring_stream_true_is_understood() -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Plain answer",
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3},
    }
    out, shown = run([Reply(200, json.dumps(completion).encode())])
    assert out.text == "Plain answer" and shown == ["Plain answer"]
    assert out.tool_calls == [{"id": "call_9", "name": "bash", "arguments": {"command": "ls"}}]
    assert (out.stop_reason, out.input_tokens, out.output_tokens) == ("tool_use", 12, 3)


def test_anthropic_server_ignoring_stream_true_is_understood() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "Plain answer"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 7, "output_tokens": 2},
    }
    out, shown = run([Reply(200, json.dumps(message).encode())], "anthropic")
    assert out.text == "Plain answer" and shown == ["Plain answer"]
    assert (out.stop_reason, out.input_tokens, out.output_tokens) == ("end_turn", 7, 2)


def test_json_that_is_not_a_completion_is_rejected() -> None:
    err = fails([Reply(200, b'{"hello": "world"}')], retries=0)
    assert err.code == "bad_response" and "not a completion" in str(err) and "hello" in str(err)


def test_timeout_unreachable_and_http_error_are_distinct() -> None:
    # an endpoint that accepts the request and never answers
    never = asyncio.Event()
    err = fails([Reply(hold=never), Reply(hold=never)], request_timeout=0.2, retries=3)
    assert err.code == "timeout"
    assert "no answer from openai API at http://127.0.0.1:" in str(err)
    assert "after 0.2 s" in str(err)

    # a port nobody listens on: held bound (not listening) for the whole request, so no other
    # process can take it meanwhile and a connection is refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        p = provider(f"http://127.0.0.1:{port}", retries=0)

        async def go() -> None:
            try:
                await p.complete("", [{"role": "user", "content": "hi"}], [])
            finally:
                await p.aclose()

        with pytest.raises(ProviderError) as info:
            asyncio.run(go())
    assert info.value.code == "unreachable" and "unreachable" in str(info.value)

    err = fails([Reply(401, b'{"error": {"message": "bad key"}}')])
    assert err.code == "http_error" and err.status == 401 and "bad key" in str(err)


def test_error_inside_the_stream_is_a_model_error() -> None:
    body = _sse([("error", {"type": "error", "error": {"message": "overloaded"}})])
    err = fails([Reply(200, body, SSE)], "anthropic", retries=0)
    assert err.code == "model_error" and "overloaded" in str(err)
