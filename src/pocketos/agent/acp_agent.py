"""The built-in pocketos agent as an ACP agent: a tool-calling loop over a model provider,
acting only through the client (the VM). Runs in-process (the session manager binds it to
an in-memory transport) or over stdio (``python -m pocketos.agent``)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from pocketos.agent.config import AgentConfig, ConfigError
from pocketos.agent.pricing import estimate_cost
from pocketos.agent.providers import Completion, Provider, ProviderError, make_provider
from pocketos.agent.tools import ToolError, ToolRunner, ToolSpec, describe_call, tool_specs

__all__ = ["PocketAgent", "BASE_PROMPT", "MODES"]

BASE_PROMPT = """You are the pocketos coding agent. You work inside a pocketos VM through your
tools: bash, read, write, edit, ls, glob, grep, python and any host tools listed. Act, then
check your work (run it, read it back). Keep answers short; say plainly what you did and what
failed. Never claim to have done something a tool did not confirm."""

MODES = [
    ("default", "Default", "Use every tool; the VM policy decides what is allowed."),
    ("ask", "Ask", "Ask for permission before any tool that changes something."),
    ("read-only", "Read only", "Only tools that read; nothing is changed."),
]


INTERRUPTED_TOOL = "interrupted: the session ended before this tool call returned"


@dataclass
class _State:
    id: str
    cwd: str
    model: str
    mode: str = "default"
    messages: list[dict[str, Any]] = field(default_factory=list)
    instructions: str = ""
    host_tools: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    task: asyncio.Task[str] | None = None
    last_context: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cwd": self.cwd,
            "model": self.model,
            "mode": self.mode,
            "messages": self.messages,
            "instructions": self.instructions,
            "host_tools": self.host_tools,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost": self.cost,
        }


class PocketAgent:
    """ACP agent. ``config``: an :class:`AgentConfig`, or a mapping resolved with
    :meth:`AgentConfig.resolve` (its ``env`` key is the session environment). ``store``
    persists conversations so ``session/load`` works after a restart."""

    def __init__(
        self,
        conn: Any = None,
        *,
        config: AgentConfig | dict[str, Any] | None = None,
        store: Any = None,
        provider: Provider | None = None,
    ) -> None:
        self.conn = conn
        self._config_in = config
        self.store = store
        self.sessions: dict[str, _State] = {}
        self._provider = provider
        self._config: AgentConfig | None = config if isinstance(config, AgentConfig) else None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    # --- configuration -------------------------------------------------------------------
    def config(self) -> AgentConfig:
        if self._config is None:
            raw = (
                dict(self._config_in or {}) if not isinstance(self._config_in, AgentConfig) else {}
            )
            env = raw.pop("env", None)
            self._config = AgentConfig.resolve(raw, env)
        return self._config

    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = make_provider(self.config())
        return self._provider

    def _check_config(self) -> None:
        from acp import RequestError

        try:
            self.config().require_key()
        except ConfigError as exc:
            raise RequestError.auth_required({"details": str(exc)})

    # --- ACP: setup -----------------------------------------------------------------------
    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: Any = None,
        client_info: Any = None,
        **kw: Any,
    ) -> Any:
        from acp import PROTOCOL_VERSION
        from acp.schema import (
            AgentCapabilities,
            Implementation,
            InitializeResponse,
            PromptCapabilities,
        )

        from pocketos import __version__

        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(
                    image=False, audio=False, embedded_context=True
                ),
            ),
            agent_info=Implementation(
                name="pocketos-agent", title="pocketos agent", version=__version__
            ),
        )

    def _modes(self, st: _State) -> Any:
        from acp.schema import SessionMode, SessionModeState

        return SessionModeState(
            current_mode_id=st.mode,
            available_modes=[SessionMode(id=i, name=n, description=d) for i, n, d in MODES],
        )

    def _config_options(self, st: _State) -> list[Any]:
        from acp.schema import SessionConfigOptionSelect, SessionConfigSelectOption

        models = list(dict.fromkeys([st.model, self.config().model, *self.config().models]))
        return [
            SessionConfigOptionSelect(
                type="select",
                id="model",
                name="Model",
                category="model",
                current_value=st.model,
                options=[SessionConfigSelectOption(value=m, name=m) for m in models],
            )
        ]

    @staticmethod
    def _meta(kw: dict[str, Any]) -> dict[str, Any]:
        meta = kw.get("pocketos")
        if meta is None and isinstance(kw.get("_meta"), dict):
            meta = kw["_meta"].get("pocketos")
        return dict(meta or {})

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> Any:
        from acp.schema import NewSessionResponse

        self._check_config()
        meta = self._meta(kw)
        sid = "pa-" + uuid.uuid4().hex[:16]
        st = _State(
            sid,
            cwd,
            self.config().model,
            instructions=str(meta.get("instructions") or ""),
            host_tools=list(meta.get("tools") or []),
        )
        self.sessions[sid] = st
        self._save(st)
        return NewSessionResponse(
            session_id=sid, modes=self._modes(st), config_options=self._config_options(st)
        )

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: Any = None, **kw: Any
    ) -> Any:
        from acp import RequestError, update_agent_message_text, update_user_message_text
        from acp.schema import LoadSessionResponse

        self._check_config()
        st = self.sessions.get(session_id)
        if st is None:
            saved = self.store.load_agent_state(session_id) if self.store is not None else None
            if saved is None:
                raise RequestError.resource_not_found(f"session:{session_id}")
            st = _State(
                session_id,
                saved.get("cwd") or cwd,
                saved.get("model") or self.config().model,
                mode=saved.get("mode") or "default",
                messages=list(saved.get("messages") or []),
                instructions=saved.get("instructions") or "",
                host_tools=list(saved.get("host_tools") or []),
                input_tokens=int(saved.get("input_tokens") or 0),
                output_tokens=int(saved.get("output_tokens") or 0),
                cached_tokens=int(saved.get("cached_tokens") or 0),
                cost=float(saved.get("cost") or 0.0),
            )
            # a process that ended during a tool call left calls without results; the real
            # APIs reject such a conversation (400) on every later request, so answer them
            n = len(st.messages)
            self._close_dangling(st, INTERRUPTED_TOOL)
            if len(st.messages) != n:
                self._save(st)
            self.sessions[session_id] = st
        meta = self._meta(kw)
        if meta.get("instructions"):
            st.instructions = str(meta["instructions"])
        if meta.get("tools") is not None:
            st.host_tools = list(meta["tools"])
        for m in st.messages:
            if m["role"] == "user" and m.get("content"):
                await self.conn.session_update(
                    session_id=session_id, update=update_user_message_text(m["content"])
                )
            elif m["role"] == "assistant" and m.get("content"):
                await self.conn.session_update(
                    session_id=session_id, update=update_agent_message_text(m["content"])
                )
        return LoadSessionResponse(modes=self._modes(st), config_options=self._config_options(st))

    def _state(self, session_id: str) -> _State:
        from acp import RequestError

        st = self.sessions.get(session_id)
        if st is None:
            raise RequestError.invalid_params(
                {"sessionId": session_id, "details": "unknown session"}
            )
        return st

    async def set_session_mode(self, session_id: str, mode_id: str, **kw: Any) -> Any:
        from acp import RequestError
        from acp.schema import CurrentModeUpdate, SetSessionModeResponse

        st = self._state(session_id)
        if mode_id not in [m[0] for m in MODES]:
            raise RequestError.invalid_params({"details": f"unknown mode {mode_id!r}"})
        st.mode = mode_id
        self._save(st)
        await self.conn.session_update(
            session_id=session_id,
            update=CurrentModeUpdate(session_update="current_mode_update", current_mode_id=mode_id),
        )
        return SetSessionModeResponse()

    async def set_config_option(
        self, config_id: str, session_id: str, value: Any, **kw: Any
    ) -> Any:
        from acp import RequestError
        from acp.schema import SetSessionConfigOptionResponse

        st = self._state(session_id)
        if config_id != "model" or not isinstance(value, str) or not value:
            raise RequestError.invalid_params({"details": f"unknown option {config_id!r}"})
        st.model = value
        self._save(st)
        return SetSessionConfigOptionResponse(config_options=self._config_options(st))

    async def authenticate(self, method_id: str, **kw: Any) -> Any:
        return None

    async def cancel(self, session_id: str, **kw: Any) -> None:
        st = self.sessions.get(session_id)
        if st is not None and st.task is not None and not st.task.done():
            st.task.cancel()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def _save(self, st: _State) -> None:
        """Persist the conversation now (once per model call or state change): a resume
        after a crash continues from the last completed step."""
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.save_agent_state(st.id, st.to_dict())
                flush = getattr(self.store, "flush", None)
                if flush is not None:
                    flush()

    # --- ACP: prompt ----------------------------------------------------------------------
    @staticmethod
    def _prompt_text(prompt: list[Any]) -> str:
        parts: list[str] = []
        for b in prompt:
            t = getattr(b, "type", None)
            if t == "text":
                parts.append(b.text)
            elif t == "resource_link":
                parts.append(f"[resource: {b.uri}]")
            elif t == "resource":
                res = b.resource
                text = getattr(res, "text", None)
                if text is not None:
                    parts.append(f"[resource {res.uri}]\n{text}")
                else:
                    parts.append(f"[binary resource {res.uri}]")
            else:
                parts.append(f"[{t} content not supported]")
        return "\n\n".join(parts)

    async def prompt(self, prompt: list[Any], session_id: str, **kw: Any) -> Any:
        from acp import RequestError, update_agent_message_text
        from acp.schema import Cost, PromptResponse, Usage, UsageUpdate

        st = self._state(session_id)
        st.messages.append({"role": "user", "content": self._prompt_text(prompt)})
        self._save(st)  # the prompt survives a crash during its first model request
        before = (st.input_tokens, st.output_tokens, st.cached_tokens, st.cost)
        task: asyncio.Task[str] = asyncio.ensure_future(self._loop(st))
        st.task = task
        try:
            stop = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            if not task.cancelled():
                raise
            self._close_dangling(st, "cancelled by the user")
            stop = "cancelled"
        except ProviderError as exc:
            self._close_dangling(st, "the model request failed")
            self._save(st)
            with contextlib.suppress(Exception):
                await self.conn.session_update(
                    session_id=session_id, update=update_agent_message_text(f"[error] {exc}")
                )
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        finally:
            st.task = None
        self._save(st)
        inp = st.input_tokens - before[0]
        out = st.output_tokens - before[1]
        cached = st.cached_tokens - before[2]
        cost = st.cost - before[3]
        with contextlib.suppress(Exception):
            await self.conn.session_update(
                session_id=session_id,
                update=UsageUpdate(
                    session_update="usage_update",
                    used=st.last_context,
                    size=self.config().context_window,
                    cost=Cost(amount=st.cost, currency="USD"),
                ),
            )
        return PromptResponse(
            stop_reason=cast(Any, stop),
            usage=Usage(
                input_tokens=inp,
                output_tokens=out,
                total_tokens=inp + out,
                cached_read_tokens=cached or None,
                field_meta={
                    "pocketos": {"cost": round(cost, 8), "model": st.model, "currency": "USD"}
                },
            ),
        )

    @staticmethod
    def _close_dangling(st: _State, why: str) -> None:
        """Give every tool call of the last assistant message a result, so the conversation
        stays valid for the next request."""
        for i in range(len(st.messages) - 1, -1, -1):
            m = st.messages[i]
            if m["role"] == "assistant":
                answered = {
                    x.get("tool_call_id") for x in st.messages[i + 1 :] if x["role"] == "tool"
                }
                for c in m.get("tool_calls") or []:
                    if c["id"] not in answered:
                        st.messages.append(
                            {
                                "role": "tool",
                                "tool_call_id": c["id"],
                                "name": c["name"],
                                "content": f"[{why}]",
                                "is_error": True,
                            }
                        )
                return
            if m["role"] == "user":
                return

    def _system(self, st: _State, specs: list[ToolSpec]) -> str:
        cfg = self.config()
        parts = [cfg.system_prompt or BASE_PROMPT, f"Working directory: {st.cwd}"]
        if st.mode == "read-only":
            parts.append("Mode: read-only. Do not try to change anything.")
        if st.instructions:
            parts.append(st.instructions)
        return "\n\n".join(parts)

    async def _loop(self, st: _State) -> str:
        from acp import update_agent_message_text

        cfg = self.config()
        provider = self.provider()
        specs = tool_specs(st.host_tools)
        if st.mode == "read-only":
            specs = [s for s in specs if not s.mutates]
        runner = ToolRunner(self.conn, st.id, st.cwd, specs)
        system = self._system(st, specs)
        schemas = [s.schema() for s in specs]

        async def on_text(piece: str) -> None:
            await self.conn.session_update(
                session_id=st.id, update=update_agent_message_text(piece)
            )

        for _turn in range(max(1, cfg.max_turns)):
            comp: Completion = await provider.complete(
                system, st.messages, schemas, model=st.model, on_text=on_text
            )
            st.input_tokens += comp.input_tokens
            st.output_tokens += comp.output_tokens
            st.cached_tokens += comp.cached_tokens
            st.last_context = comp.input_tokens + comp.output_tokens
            c = estimate_cost(
                st.model, comp.input_tokens, comp.output_tokens, comp.cached_tokens, cfg.prices
            )
            if c is not None:
                st.cost += c
            msg: dict[str, Any] = {"role": "assistant", "content": comp.text}
            if comp.tool_calls:
                msg["tool_calls"] = comp.tool_calls
            st.messages.append(msg)
            self._save(st)
            if not comp.tool_calls:
                return (
                    "max_tokens"
                    if comp.stop_reason == "max_tokens"
                    else ("refusal" if comp.stop_reason == "refusal" else "end_turn")
                )
            for call in comp.tool_calls:
                result, is_error = await self._run_tool(st, runner, call)
                st.messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "name": call["name"],
                        "content": result,
                        "is_error": is_error,
                    }
                )
            self._save(st)
        return "max_turn_requests"

    async def _run_tool(
        self, st: _State, runner: ToolRunner, call: dict[str, Any]
    ) -> tuple[str, bool]:
        from acp import start_tool_call, text_block, tool_content, update_tool_call
        from acp.schema import PermissionOption, ToolCallLocation, ToolCallUpdate

        name = call["name"]
        args = call["arguments"] if isinstance(call["arguments"], dict) else {}
        spec = runner.specs.get(name)
        kind = spec.kind if spec else "other"
        title = describe_call(spec, name, args)
        locs = None
        if isinstance(args.get("path"), str):
            with contextlib.suppress(ToolError):
                locs = [ToolCallLocation(path=runner.path(args["path"]))]
        tcid = call["id"] or "call-" + uuid.uuid4().hex[:8]
        await self.conn.session_update(
            session_id=st.id,
            update=start_tool_call(
                tcid, title, kind=cast(Any, kind), status="pending", locations=locs, raw_input=args
            ),
        )
        if spec is not None and spec.mutates and st.mode == "ask":
            resp = await self.conn.request_permission(
                session_id=st.id,
                tool_call=ToolCallUpdate(
                    tool_call_id=tcid,
                    title=title,
                    kind=cast(Any, kind),
                    locations=locs,
                    raw_input=args,
                ),
                options=[
                    PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
                    PermissionOption(option_id="always", name="Always allow", kind="allow_always"),
                    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
                ],
            )
            oc = resp.outcome
            if oc.outcome != "selected" or oc.option_id not in ("allow", "always"):
                await self.conn.session_update(
                    session_id=st.id,
                    update=update_tool_call(
                        tcid, status="failed", raw_output={"error": "permission refused"}
                    ),
                )
                return "[permission refused by the user; do not retry this action]", True
        await self.conn.session_update(
            session_id=st.id, update=update_tool_call(tcid, status="in_progress")
        )
        is_error = False
        try:
            result = await runner.run(name, args)
        except ToolError as exc:
            result, is_error = f"error: {exc}", True
        except asyncio.CancelledError:
            await asyncio.shield(
                self.conn.session_update(
                    session_id=st.id,
                    update=update_tool_call(
                        tcid, status="failed", raw_output={"error": "cancelled"}
                    ),
                )
            )
            raise
        except Exception as exc:
            msg = str(exc)
            data = getattr(exc, "data", None)
            if isinstance(data, dict) and data.get("error"):
                err, path = str(data["error"]), str(data.get("path") or "")
                msg = err if not path or path in err else f"{err}: {path}"
            result, is_error = f"error: {msg}", True
        shown = result if len(result) <= 4000 else result[:4000] + "\n[...]"
        await self.conn.session_update(
            session_id=st.id,
            update=update_tool_call(
                tcid,
                status="failed" if is_error else "completed",
                content=[tool_content(text_block(shown))],
                raw_output={"output": shown, "error": is_error},
            ),
        )
        return result, is_error
