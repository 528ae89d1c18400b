"""Model providers: any OpenAI-compatible Chat Completions endpoint and Anthropic Messages.
Both stream (text is handed to a callback as it arrives), both return tool calls and token
usage, both retry 429 and 5xx answers (and connection errors) with exponential backoff.

Messages use one neutral shape:
``{"role": "user", "content": str}``,
``{"role": "assistant", "content": str, "tool_calls": [{"id", "name", "arguments": dict}]}``,
``{"role": "tool", "tool_call_id": str, "name": str, "content": str, "is_error": bool}``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pocketos.agent.config import AgentConfig

__all__ = [
    "Completion",
    "Provider",
    "ProviderError",
    "OpenAIProvider",
    "AnthropicProvider",
    "make_provider",
]

OnText = Callable[[str], Awaitable[None]]
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}


#: ``ProviderError.code`` values (stable strings, documented in docs/agent.md).
ERROR_CODES = ("http_error", "unreachable", "timeout", "bad_response", "model_error")


class ProviderError(Exception):
    """A model request failed. ``code`` is one of :data:`ERROR_CODES`: ``http_error`` (the
    endpoint answered 4xx/5xx), ``unreachable`` (no connection), ``timeout`` (connected, but no
    answer in time), ``bad_response`` (an answer that is not a valid completion) or
    ``model_error`` (the stream itself reported an error)."""

    def __init__(self, message: str, status: int | None = None, code: str = "http_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class _Incomplete(ProviderError):
    """The stream ended before the answer did (safe to retry if nothing was emitted)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="bad_response")


def _snippet(raw: str | bytes, limit: int = 200) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    raw = " ".join(raw.split())
    if not raw:
        return "(empty body)"
    return repr(raw[:limit] + ("..." if len(raw) > limit else ""))


def _strict_json(data: str, provider: str) -> dict[str, Any]:
    """One SSE ``data:`` payload as a JSON object, or a ``bad_response`` error naming it."""
    try:
        v = json.loads(data)
    except json.JSONDecodeError:
        raise ProviderError(
            f"{provider} stream sent malformed JSON: {_snippet(data)}", code="bad_response"
        ) from None
    if not isinstance(v, dict):
        raise ProviderError(
            f"{provider} stream sent a non-object event: {_snippet(data)}", code="bad_response"
        )
    return v


@dataclass
class Completion:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"  # end_turn | tool_use | max_tokens | refusal
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


async def _sse(resp: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    event: str = ""
    data: list[str] = []
    async for line in resp.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def _loads(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return {"_raw": text}
    return v if isinstance(v, dict) else {"_value": v}


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verified TLS context per process, shared by the providers' clients: loading the CA
    bundle costs 50–200 ms, which a run would otherwise pay on its first model request."""
    return httpx.create_ssl_context()


class Provider:
    name = "base"

    def __init__(self, config: AgentConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self.config.request_timeout, connect=min(30.0, self.config.request_timeout)
                ),
                verify=tls_context(),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def request(
        self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    async def parse(self, resp: httpx.Response, on_text: OnText | None) -> Completion:
        raise NotImplementedError

    async def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        model: str | None = None,
        on_text: OnText | None = None,
    ) -> Completion:
        url, headers, body = self.request(system, messages, tools, model or self.config.model)
        emitted = False

        async def emit(piece: str) -> None:
            nonlocal emitted
            emitted = True
            if on_text is not None:
                await on_text(piece)

        attempt = 0
        while True:
            try:
                async with self.client.stream("POST", url, headers=headers, json=body) as resp:
                    if resp.status_code >= 400:
                        raw = (await resp.aread()).decode("utf-8", "replace")
                        if resp.status_code in RETRY_STATUS and attempt < self.config.retries:
                            delay = self._delay(attempt, resp.headers.get("retry-after"))
                            attempt += 1
                            await asyncio.sleep(delay)
                            continue
                        raise ProviderError(
                            f"{self.name} API error {resp.status_code}: {self._error_text(raw)}",
                            resp.status_code,
                        )
                    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if ctype == "text/event-stream":
                        return await self.parse(resp, emit)
                    raw_body = await resp.aread()
                    return await self._single(ctype, raw_body, url, emit)
            except _Incomplete:
                # a cut stream is retried only while nothing reached the caller: a retry
                # after text was shown would show that text twice
                if emitted or attempt >= self.config.retries:
                    raise
                await asyncio.sleep(self._delay(attempt, None))
                attempt += 1
            except httpx.TimeoutException as exc:
                # not retried: a hung endpoint fails after one request_timeout, not after
                # (retries + 1) of them
                what = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "from"
                raise ProviderError(
                    f"no answer {what} {self.name} API at {url} after "
                    f"{self.config.request_timeout:g} s"
                    + (" (the answer stopped mid-stream)" if emitted else ""),
                    code="timeout",
                ) from exc
            except (httpx.TransportError, httpx.StreamError) as exc:
                if emitted:
                    raise ProviderError(
                        f"{self.name} API connection lost mid-answer at {url}: {exc}",
                        code="unreachable",
                    ) from exc
                if attempt < self.config.retries:
                    await asyncio.sleep(self._delay(attempt, None))
                    attempt += 1
                    continue
                raise ProviderError(
                    f"{self.name} API unreachable at {url}: {exc}", code="unreachable"
                ) from exc

    async def _single(self, ctype: str, raw: bytes, url: str, emit: OnText) -> Completion:
        """A 200 that is not an event stream: one JSON completion (some proxies and local
        servers ignore ``stream: true``) is understood, anything else is rejected."""
        what = ctype or "no content-type"
        try:
            d = json.loads(raw) if raw.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            d = None
        if not isinstance(d, dict):
            raise ProviderError(
                f"{self.name} API at {url} answered 200 with {what}, not a completion: "
                f"{_snippet(raw)}",
                200,
                code="bad_response",
            )
        if "error" in d:
            raise ProviderError(
                f"{self.name} API error: {self._error_text(raw.decode('utf-8', 'replace'))}",
                200,
                code="model_error",
            )
        out = self.parse_json(d)
        if out is None:
            raise ProviderError(
                f"{self.name} API at {url} answered 200 with JSON that is not a completion: "
                f"{_snippet(raw)}",
                200,
                code="bad_response",
            )
        if out.text:
            await emit(out.text)
        return out

    def parse_json(self, d: dict[str, Any]) -> Completion | None:
        raise NotImplementedError

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return float(self.config.backoff) * (2**attempt)

    @staticmethod
    def _error_text(raw: str) -> str:
        d = _loads(raw)
        err = d.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        return raw.strip()[:500] or "(empty body)"


class OpenAIProvider(Provider):
    """Chat Completions (``POST {base_url}/chat/completions``, ``stream: true``)."""

    name = "openai"

    def request(
        self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        msgs: list[dict[str, Any]] = []
        if system:
            msgs.append({"role": "system", "content": system})
        for m in messages:
            if m["role"] == "assistant":
                d: dict[str, Any] = {"role": "assistant", "content": m.get("content") or None}
                if m.get("tool_calls"):
                    d["tool_calls"] = [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": json.dumps(c["arguments"]),
                            },
                        }
                        for c in m["tool_calls"]
                    ]
                msgs.append(d)
            elif m["role"] == "tool":
                msgs.append(
                    {"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]}
                )
            else:
                msgs.append({"role": "user", "content": m["content"]})
        body: dict[str, Any] = {
            "model": model,
            "messages": msgs,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self.config.max_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t["name"],
                        "description": t["description"],
                        "parameters": t["input_schema"],
                    },
                }
                for t in tools
            ]
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        headers = {
            "Authorization": f"Bearer {self.config.require_key()}",
            "Content-Type": "application/json",
        }
        return self.config.base_url.rstrip("/") + "/chat/completions", headers, body

    async def parse(self, resp: httpx.Response, on_text: OnText | None) -> Completion:
        out = Completion()
        calls: dict[int, dict[str, Any]] = {}
        finish = None
        text: list[str] = []
        valid = 0
        done = False
        async for _event, data in _sse(resp):
            if data.strip() == "[DONE]":
                done = True
                break
            chunk = _strict_json(data, self.name)
            if "error" in chunk:
                raise ProviderError(
                    f"openai stream error: {self._error_text(data)}", code="model_error"
                )
            if isinstance(chunk.get("choices"), list) or isinstance(chunk.get("usage"), dict):
                valid += 1
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                out.input_tokens = int(usage.get("prompt_tokens") or 0)
                out.output_tokens = int(usage.get("completion_tokens") or 0)
                details = usage.get("prompt_tokens_details") or {}
                out.cached_tokens = int(details.get("cached_tokens") or 0)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if piece:
                    text.append(piece)
                    if on_text is not None:
                        await on_text(piece)
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        int(tc.get("index", 0)), {"id": "", "name": "", "arguments": ""}
                    )
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    fn = tc.get("function") or {}
                    if fn.get("name"):
                        slot["name"] += fn["name"]
                    if fn.get("arguments"):
                        slot["arguments"] += fn["arguments"]
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        if not valid:
            msg = f"openai stream had no completion chunks (saw [DONE]: {'yes' if done else 'no'})"
            if done:
                raise ProviderError(msg, code="bad_response")
            raise _Incomplete(msg)
        if not done and finish is None:
            raise _Incomplete(
                f"openai stream ended after {valid} chunk(s) without finish_reason or [DONE]"
            )
        out.text = "".join(text)
        for i in sorted(calls):
            c = calls[i]
            out.tool_calls.append(
                {
                    "id": c["id"] or f"call_{i}",
                    "name": c["name"],
                    "arguments": _loads(c["arguments"]),
                }
            )
        out.stop_reason = {
            "length": "max_tokens",
            "content_filter": "refusal",
            "tool_calls": "tool_use",
        }.get(str(finish), "end_turn")
        if out.tool_calls:
            out.stop_reason = "tool_use"
        return out

    def parse_json(self, d: dict[str, Any]) -> Completion | None:
        choices = d.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None
        msg = choices[0].get("message")
        if not isinstance(msg, dict):
            return None
        out = Completion(text=str(msg.get("content") or ""))
        for i, tc in enumerate(msg.get("tool_calls") or []):
            fn = tc.get("function") or {}
            out.tool_calls.append(
                {
                    "id": tc.get("id") or f"call_{i}",
                    "name": fn.get("name") or "",
                    "arguments": _loads(fn.get("arguments") or ""),
                }
            )
        usage = d.get("usage") or {}
        out.input_tokens = int(usage.get("prompt_tokens") or 0)
        out.output_tokens = int(usage.get("completion_tokens") or 0)
        out.cached_tokens = int(
            (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        )
        out.stop_reason = {
            "length": "max_tokens",
            "content_filter": "refusal",
            "tool_calls": "tool_use",
        }.get(str(choices[0].get("finish_reason")), "end_turn")
        if out.tool_calls:
            out.stop_reason = "tool_use"
        return out


class AnthropicProvider(Provider):
    """Messages API (``POST {base_url}/v1/messages``, ``stream: true``)."""

    name = "anthropic"

    def request(
        self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        msgs: list[dict[str, Any]] = []
        for m in messages:
            if m["role"] == "assistant":
                blocks: list[dict[str, Any]] = []
                if m.get("content"):
                    blocks.append({"type": "text", "text": m["content"]})
                for c in m.get("tool_calls") or []:
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": c["id"],
                            "name": c["name"],
                            "input": c["arguments"],
                        }
                    )
                msgs.append(
                    {"role": "assistant", "content": blocks or [{"type": "text", "text": ""}]}
                )
            elif m["role"] == "tool":
                block = {
                    "type": "tool_result",
                    "tool_use_id": m["tool_call_id"],
                    "content": m["content"],
                    "is_error": bool(m.get("is_error")),
                }
                if msgs and msgs[-1]["role"] == "user" and isinstance(msgs[-1]["content"], list):
                    msgs[-1]["content"].append(block)
                else:
                    msgs.append({"role": "user", "content": [block]})
            else:
                if msgs and msgs[-1]["role"] == "user" and isinstance(msgs[-1]["content"], list):
                    msgs[-1]["content"].append({"type": "text", "text": m["content"]})
                else:
                    msgs.append(
                        {"role": "user", "content": [{"type": "text", "text": m["content"]}]}
                    )
        body: dict[str, Any] = {
            "model": model,
            "messages": msgs,
            "stream": True,
            "max_tokens": self.config.max_tokens,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {
                    "name": t["name"],
                    "description": t["description"],
                    "input_schema": t["input_schema"],
                }
                for t in tools
            ]
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        headers = {
            "x-api-key": self.config.require_key(),
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        }
        base = self.config.base_url.rstrip("/")
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        return url, headers, body

    async def parse(self, resp: httpx.Response, on_text: OnText | None) -> Completion:
        out = Completion()
        blocks: dict[int, dict[str, Any]] = {}
        text: list[str] = []
        stop = None
        started = ended = False
        events = 0
        async for event, data in _sse(resp):
            d = _strict_json(data, self.name)
            events += 1
            kind = d.get("type") or event
            if kind == "error":
                raise ProviderError(
                    f"anthropic stream error: {self._error_text(data)}", code="model_error"
                )
            if kind == "message_start":
                started = True
                usage = (d.get("message") or {}).get("usage") or {}
                out.input_tokens = int(usage.get("input_tokens") or 0) + int(
                    usage.get("cache_read_input_tokens") or 0
                )
                out.cached_tokens = int(usage.get("cache_read_input_tokens") or 0)
                out.output_tokens = int(usage.get("output_tokens") or 0)
            elif kind == "content_block_start":
                cb = d.get("content_block") or {}
                blocks[int(d.get("index", 0))] = {
                    "type": cb.get("type"),
                    "id": cb.get("id"),
                    "name": cb.get("name"),
                    "json": "",
                }
            elif kind == "content_block_delta":
                delta = d.get("delta") or {}
                slot = blocks.setdefault(int(d.get("index", 0)), {"type": "text", "json": ""})
                if delta.get("type") == "text_delta":
                    piece = delta.get("text", "")
                    text.append(piece)
                    if on_text is not None and piece:
                        await on_text(piece)
                elif delta.get("type") == "input_json_delta":
                    slot["json"] += delta.get("partial_json", "")
            elif kind == "message_delta":
                stop = (d.get("delta") or {}).get("stop_reason") or stop
                usage = d.get("usage") or {}
                if usage.get("output_tokens") is not None:
                    out.output_tokens = int(usage["output_tokens"])
            elif kind == "message_stop":
                ended = True
                break
        if not started:
            msg = f"anthropic stream had no message_start ({events} event(s))"
            if ended:
                raise ProviderError(msg, code="bad_response")
            raise _Incomplete(msg)
        if not ended:
            raise _Incomplete(f"anthropic stream ended after {events} event(s) before message_stop")
        out.text = "".join(text)
        for i in sorted(blocks):
            b = blocks[i]
            if b.get("type") == "tool_use":
                out.tool_calls.append(
                    {
                        "id": b.get("id") or f"toolu_{i}",
                        "name": b.get("name") or "",
                        "arguments": _loads(b["json"]),
                    }
                )
        out.stop_reason = {
            "max_tokens": "max_tokens",
            "refusal": "refusal",
            "tool_use": "tool_use",
        }.get(str(stop), "end_turn")
        if out.tool_calls:
            out.stop_reason = "tool_use"
        return out

    def parse_json(self, d: dict[str, Any]) -> Completion | None:
        blocks = d.get("content")
        if d.get("type") != "message" or not isinstance(blocks, list):
            return None
        out = Completion()
        text: list[str] = []
        for i, b in enumerate(blocks):
            if not isinstance(b, dict):
                continue
            if b.get("type") == "text":
                text.append(str(b.get("text") or ""))
            elif b.get("type") == "tool_use":
                args = b.get("input")
                out.tool_calls.append(
                    {
                        "id": b.get("id") or f"toolu_{i}",
                        "name": b.get("name") or "",
                        "arguments": args if isinstance(args, dict) else {},
                    }
                )
        out.text = "".join(text)
        usage = d.get("usage") or {}
        cached = int(usage.get("cache_read_input_tokens") or 0)
        out.input_tokens = int(usage.get("input_tokens") or 0) + cached
        out.cached_tokens = cached
        out.output_tokens = int(usage.get("output_tokens") or 0)
        out.stop_reason = {
            "max_tokens": "max_tokens",
            "refusal": "refusal",
            "tool_use": "tool_use",
        }.get(str(d.get("stop_reason")), "end_turn")
        if out.tool_calls:
            out.stop_reason = "tool_use"
        return out


def make_provider(config: AgentConfig) -> Provider:
    if config.provider == "anthropic":
        return AnthropicProvider(config)
    return OpenAIProvider(config)
