"""A session's state and what it records: numbered events (persisted as they happen),
what tool calls said about themselves, terminal output, usage and cost, permission decisions,
and the durable VM's saves at each tool call and prompt end (:class:`SessionBase`)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from pocketos.kernel.permissions import PermissionRequest
from pocketos.sessions.agents import AgentSpec
from pocketos.sessions.events import Event, EventLog
from pocketos.sessions.permissions import PermissionAnswer, PermissionRouter
from pocketos.sessions.terminals import Terminal, TerminalManager
from pocketos.sessions.vmstate import save_durable
from pocketos.store import Store

__all__ = ["SessionBase"]


def _vm_async(vm: Any) -> Any:
    """The AsyncVM behind a sync VM facade (or the VM itself)."""
    return getattr(vm, "async_vm", vm)


def _sandbox_options(value: Any) -> Any:
    if value is None or value is False:
        return None
    from pocketos.sandbox import SandboxOptions

    if value is True:
        return SandboxOptions()
    if isinstance(value, SandboxOptions):
        return value
    if isinstance(value, Mapping):
        opts = SandboxOptions()
        for k, v in value.items():
            if not hasattr(opts, k):
                raise ValueError(f"unknown sandbox option {k!r}")
            setattr(opts, k, tuple(v) if k in ("expose", "ports") else v)
        return opts
    raise TypeError("sandbox must be True, False or a dict of sandbox options")


class SessionBase:
    """The state of one agent session and the records it keeps (the rest of
    :class:`~pocketos.sessions.Session` builds on it)."""

    def __init__(
        self,
        vm: Any,
        spec: AgentSpec,
        *,
        session_id: str | None = None,
        cwd: str = "/home/user",
        env: Mapping[str, str] | None = None,
        mcp_servers: Sequence[Any] | None = None,
        instructions: str | None = None,
        permission_handler: Callable[[PermissionRequest], Any] | None = None,
        permission_timeout: float = 60.0,
        permission_default: str = "reject",
        store: Store,
        start_seq: int = 0,
        sandbox: Any = None,
        handshake_timeout: float = 60.0,
    ) -> None:
        self.vm = _vm_async(vm)
        #: SandboxOptions when the agent process runs in the heavy sandbox (see docs/sandbox.md)
        self.sandbox = _sandbox_options(sandbox)
        self._sandbox: Any = None
        #: seconds the agent has to answer ``initialize``
        self.handshake_timeout = handshake_timeout
        self.spec = spec
        self.id = session_id or f"ses-{uuid.uuid4().hex[:16]}"
        self.cwd = cwd
        self.env = dict(env or {})
        self.mcp_servers = list(mcp_servers or [])
        self.extra_instructions = instructions
        self.store = store
        self.agent_session_id: str | None = None
        self.agent_info: dict[str, Any] | None = None
        self.capabilities: dict[str, Any] = {}
        self.auth_methods: list[dict[str, Any]] = []
        self.modes: dict[str, Any] | None = None
        self.config_options: list[dict[str, Any]] = []
        self.status = "starting"
        self.error: str | None = None
        self.usage_totals: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "cost": 0.0}
        self.events = EventLog(self.id, start_seq=start_seq, persist=self._persist)
        self.permissions = PermissionRouter(
            self.vm,
            handler=permission_handler,
            timeout=permission_timeout,
            default=permission_default,
            session_id=self.id,
        )
        self.terminals = TerminalManager(self.vm, default_cwd=cwd, on_output=self._terminal_output)
        self.instructions = ""
        self._conn: Any = None
        self._agent_conn: Any = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        #: toolCallId -> kind, locations, rawInput, title from the agent's tool_call updates
        self._tool_calls: dict[str, dict[str, Any]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._watchers: set[asyncio.Future[Any]] = set()
        self._term_bytes: dict[str, int] = {}
        self._prompt_lock = asyncio.Lock()
        self._pending_permissions: set[asyncio.Future[Any]] = set()
        self._closing = False
        self._crash: str | None = None
        self._replaying = False
        self._instructions_sent = False
        self._last_cost: float | None = None
        self._python: Any = None
        self._python_lock = asyncio.Lock()
        #: the prompt being answered (None between prompts)
        self._prompt_n: int | None = None
        #: the VM was opened by resume_session for this session, which closes it
        self._owns_vm = False

    @property
    def agent(self) -> str:
        return self.spec.name

    # --- events -------------------------------------------------------------------------
    def _flush(self) -> None:
        """Commit the queued store writes (one transaction per prompt)."""
        with contextlib.suppress(Exception):
            self.store.flush()

    def _persist(self, ev: Event) -> None:
        if not self._replaying:
            self.store.append_event(self.id, ev.seq, ev.time, ev.kind, ev.data)

    def _on_update(self, update: dict[str, Any]) -> None:
        if self._replaying:
            return
        kind = update.get("sessionUpdate")
        try:
            if kind == "current_mode_update" and self.modes is not None:
                self.modes["currentModeId"] = update.get("currentModeId")
            elif kind == "config_option_update":
                self.config_options = list(update.get("configOptions") or [])
            elif kind == "usage_update" and update.get("cost"):
                self._last_cost = float(update["cost"].get("amount", 0.0))
            elif kind == "session_info_update" and update.get("title"):
                self.store.update_session(self.id, title=str(update["title"]))
            elif kind in ("tool_call", "tool_call_update") and update.get("toolCallId"):
                self._remember_tool_call(update)
        except Exception:  # a malformed update is still recorded, just not interpreted
            pass
        self.events.emit("update", update)
        if kind == "tool_call_update" and update.get("status") in ("completed", "failed"):
            self._tool_call_ended(update)

    def _remember_tool_call(self, update: dict[str, Any]) -> None:
        """Keep what a tool call said about itself (kind, locations, input), so a permission
        request that names only the call's id is still judged by what the call does."""
        known = self._tool_calls.setdefault(str(update["toolCallId"]), {})
        for key in ("kind", "locations", "rawInput", "title"):
            if update.get(key):
                known[key] = update[key]
        while len(self._tool_calls) > 512:
            del self._tool_calls[next(iter(self._tool_calls))]

    def _with_known_tool_call(self, tool_call: dict[str, Any]) -> dict[str, Any]:
        known = self._tool_calls.get(str(tool_call.get("toolCallId") or ""))
        if not known:
            return tool_call
        merged = dict(tool_call)
        for key, value in known.items():
            if not merged.get(key):
                merged[key] = value
        return merged

    def _terminal_output(self, term: Terminal, data: bytes) -> None:
        # the transcript keeps at most the terminal's byte limit of output per terminal
        sent = self._term_bytes.get(term.id, 0)
        room = term.limit - sent
        if room <= 0:
            return
        chunk = data[:room]
        self._term_bytes[term.id] = sent + len(chunk)
        ev: dict[str, Any] = {"terminalId": term.id, "text": chunk.decode("utf-8", "replace")}
        if len(chunk) < len(data):
            ev["truncated"] = True
        self.events.emit("terminal.output", ev)

    def _terminal_exited(self, term: Terminal) -> None:
        self.events.emit(
            "terminal.exited",
            {
                "terminalId": term.id,
                "exitCode": term.exit_code,
                "signal": term.signal,
                "truncated": term.truncated,
            },
        )

    def subscribe(self, *, since: int = 0, backlog: bool = True) -> AsyncIterator[Event]:
        """Async iterator over events (the backlog first, then live ones until close)."""
        return self.events.subscribe(since=since, backlog=backlog)

    def on_event(
        self, callback: Callable[[Event], Any], *, backlog: bool = True
    ) -> Callable[[], None]:
        return self.events.on_event(callback, backlog=backlog)

    def _save_vm(self, n: int, what: str = "") -> None:
        """A durable VM is saved whenever the session's record is committed (the end of each
        tool call and of each prompt), and the session records which run of its workspace
        holds what the agent saw (``info.durable_vm``), so a resume reopens it."""
        if getattr(self.vm, "_durable", None) is None or self.vm.closed:
            return
        try:
            rec = save_durable(self.vm, f"session {self.id} prompt {n}{what}")
        except Exception as exc:  # the work happened; a failed save is reported, not fatal
            self.events.emit("vm.save_failed", {"prompt": n, "error": str(exc)})
            return
        if rec is not None:
            self.store.update_session(self.id, info={"durable_vm": rec})

    def _tool_call_ended(self, update: dict[str, Any]) -> None:
        """A tool call's end commits the record so far, with the VM state it left."""
        n = self._prompt_n
        if n is None:
            return
        self._save_vm(n, f" tool call {update.get('toolCallId')}")
        self._flush()

    def _record_usage(self, n: int, usage: dict[str, Any] | None) -> float | None:
        if not usage:
            return None
        meta = (
            (usage.get("_meta") or {}).get("pocketos", {})
            if isinstance(usage.get("_meta"), dict)
            else {}
        )
        cost = meta.get("cost", self._last_cost)
        inp = int(usage.get("inputTokens") or 0)
        out = int(usage.get("outputTokens") or 0)
        cached = int(usage.get("cachedReadTokens") or 0)
        self.store.record_usage(
            self.id,
            prompt=n,
            model=meta.get("model"),
            input_tokens=inp,
            output_tokens=out,
            cached_tokens=cached,
            cost=float(cost) if cost is not None else None,
            currency=meta.get("currency", "USD") if cost is not None else None,
        )
        self.usage_totals["input_tokens"] += inp
        self.usage_totals["output_tokens"] += out
        if cost is not None:
            self.usage_totals["cost"] += float(cost)
        self.events.emit(
            "usage",
            {
                "prompt": n,
                "inputTokens": inp,
                "outputTokens": out,
                "cachedReadTokens": cached,
                "cost": cost,
                "model": meta.get("model"),
            },
        )
        return float(cost) if cost is not None else None

    async def _request_permission(
        self, tool_call: dict[str, Any], options: list[dict[str, Any]]
    ) -> dict[str, Any]:
        tool_call = self._with_known_tool_call(tool_call)
        asked = self.events.emit("permission.asked", {"toolCall": tool_call, "options": options})
        sid = self.agent_session_id or ""
        quick = self.permissions.decide_now(sid, tool_call, options)
        answer: PermissionAnswer | None
        req: PermissionRequest | None
        if quick is not None:
            answer, req = quick
        else:
            task = asyncio.ensure_future(self.permissions.decide(sid, tool_call, options))
            self._pending_permissions.add(task)
            try:
                answer, req = await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
                answer, req = None, None
            finally:
                self._pending_permissions.discard(task)
        if answer is None or answer.option_id is None:
            decision = "cancelled" if answer is None else answer.decision
            source = "cancelled" if answer is None else answer.source
            self.events.emit(
                "permission.answered",
                {"askedSeq": asked.seq, "decision": decision, "optionId": None, "source": source},
            )
            self._store_permission(asked.seq, req, tool_call, decision, None, source)
            return {"outcome": {"outcome": "cancelled"}}
        assert req is not None
        self.events.emit(
            "permission.answered",
            {
                "askedSeq": asked.seq,
                "decision": answer.decision,
                "optionId": answer.option_id,
                "source": answer.source,
                "capability": req.capability,
                "resource": req.resource,
            },
        )
        self._store_permission(
            asked.seq, req, tool_call, answer.decision, answer.option_id, answer.source
        )
        return {"outcome": {"outcome": "selected", "optionId": answer.option_id}}

    def _store_permission(
        self,
        seq: int,
        req: PermissionRequest | None,
        tool_call: dict[str, Any],
        decision: str,
        option_id: str | None,
        source: str,
    ) -> None:
        from pocketos.sessions.permissions import capability_for

        if req is None:
            d, o, r = capability_for(tool_call)
            cap, res = f"{d}.{o}", r
        else:
            cap, res = req.capability, req.resource
        with contextlib.suppress(Exception):
            self.store.record_permission(
                self.id,
                seq,
                capability=cap,
                resource=res,
                title=tool_call.get("title"),
                decision=decision,
                option_id=option_id,
                source=source,
            )
