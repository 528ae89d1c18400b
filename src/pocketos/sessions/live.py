"""The live :class:`Session` (what :func:`~pocketos.sessions.create_session` returns):
prompts, cancel, mode/model/config switches, the persistent Python cell, close."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pocketos.sessions.agentlink import AgentLink
from pocketos.sessions.client import _dump
from pocketos.sessions.errors import AgentCrashed, SessionError
from pocketos.sessions.events import Event

__all__ = ["PromptResult", "Session"]


@dataclass
class PromptResult:
    """What :meth:`Session.prompt` returns."""

    stop_reason: str
    text: str
    prompt: int
    usage: dict[str, Any] | None = None
    cost: float | None = None
    events: list[Event] = field(default_factory=list)


#: live sessions per VM (weakly keyed: a dropped VM drops its entry)
_LIVE: weakref.WeakKeyDictionary[Any, dict[str, Session]] = weakref.WeakKeyDictionary()


def _blocks(content: str | Sequence[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            out.append({"type": "text", "text": block})
        else:
            out.append(_dump(block))
    return out


class Session(AgentLink):
    """One agent session in a VM. Create with :func:`create_session`."""

    @property
    def can_load(self) -> bool:
        return bool(self.capabilities.get("loadSession"))

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent,
            "agent_session_id": self.agent_session_id,
            "vm": self.vm.id,
            "cwd": self.cwd,
            "status": self.status,
            "agent_info": self.agent_info,
            "capabilities": self.capabilities,
            "modes": self.modes,
            "config_options": self.config_options,
            "usage": dict(self.usage_totals),
            "last_seq": self.events.seq,
        }

    def _alive(self) -> None:
        if self._crash is not None:
            raise AgentCrashed(self._crash)
        if self.status in ("closed", "crashed"):
            raise SessionError(f"session {self.id} is {self.status}", "not_ready")

    async def prompt(self, content: str | Sequence[Any]) -> PromptResult:
        """Send a prompt (text or ACP content blocks) and wait for the turn to end."""
        self._alive()
        blocks = _blocks(content)
        async with self._prompt_lock:
            self._alive()
            sent = list(blocks)
            takes_meta = (self.agent_info or {}).get("name") == "pocketos-agent"
            if (
                not self.spec.builtin
                and not takes_meta
                and not self._instructions_sent
                and self.instructions
            ):
                sent.insert(0, {"type": "text", "text": self.instructions})
                self._instructions_sent = True
            n = self.store.start_prompt(self.id, blocks)
            self._prompt_n = n
            start_ev = self.events.emit("prompt.started", {"prompt": n, "content": blocks})
            self.status = "prompting"
            self.store.update_session(self.id, status="prompting")
            # committed before the agent works on it: a host that dies mid-prompt leaves a
            # record that resume closes as interrupted, not a prompt that never happened
            self._flush()
            self._last_cost = None
            try:
                resp = await self._call(
                    self._conn.prompt(session_id=self.agent_session_id, prompt=sent)
                )
            except SessionError as exc:
                self._prompt_n = None
                self.store.end_prompt(self.id, n, None, str(exc))
                if self.status == "prompting":
                    self.status = "ready"
                    self.store.update_session(self.id, status="ready")
                    self.events.emit(
                        "prompt.ended", {"prompt": n, "stopReason": None, "error": str(exc)}
                    )
                self._flush()
                raise
            self._prompt_n = None
            d = _dump(resp)
            stop = str(d.get("stopReason"))
            usage = d.get("usage")
            cost = self._record_usage(n, usage)
            self.store.end_prompt(self.id, n, stop)
            self._save_vm(n)
            self.status = "ready"
            self.store.update_session(self.id, status="ready")
            end_ev = self.events.emit(
                "prompt.ended", {"prompt": n, "stopReason": stop, "usage": usage, "cost": cost}
            )
            self._flush()
            evs = self.events.since(start_ev.seq - 1, end_ev.seq)
            parts: list[str] = []
            for e in evs:
                if e.kind == "update" and e.data.get("sessionUpdate") == "agent_message_chunk":
                    block = e.data.get("content")
                    if isinstance(block, dict) and block.get("type") == "text":
                        parts.append(str(block.get("text", "")))
            return PromptResult(stop, "".join(parts), n, usage, cost, evs)

    async def cancel(self) -> None:
        """Ask the agent to stop the current turn; pending permission requests are
        answered "cancelled". The running ``prompt()`` returns with stop reason
        ``cancelled``."""
        self._alive()
        for fut in list(self._pending_permissions):
            if not fut.done():
                fut.cancel()
        with contextlib.suppress(ConnectionError):
            await self._conn.cancel(session_id=self.agent_session_id)

    async def set_mode(self, mode_id: str) -> None:
        self._alive()
        await self._call(
            self._conn.set_session_mode(mode_id=mode_id, session_id=self.agent_session_id),
            "session/set_mode",
        )
        if self.modes is not None:
            self.modes["currentModeId"] = mode_id
        self.events.emit(
            "update",
            {
                "sessionUpdate": "current_mode_update",
                "currentModeId": mode_id,
                "_meta": {"source": "client"},
            },
        )

    async def set_config_option(self, config_id: str, value: str | bool) -> list[dict[str, Any]]:
        self._alive()
        resp = await self._call(
            self._conn.set_config_option(
                config_id=config_id, session_id=self.agent_session_id, value=value
            ),
            "session/set_config_option",
        )
        d = _dump(resp) if resp is not None else {}
        if "configOptions" in d:
            self.config_options = list(d["configOptions"])
        return self.config_options

    async def set_model(self, model_id: str) -> None:
        """Switch the model: through the agent's ``model`` config option when it has one,
        else the ``session/set_model`` request some agents support."""
        self._alive()
        for opt in self.config_options:
            if opt.get("category") == "model" or opt.get("id") == "model":
                await self.set_config_option(str(opt["id"]), model_id)
                return
        try:
            await self._call(
                self._conn._conn.send_request(
                    "session/set_model", {"sessionId": self.agent_session_id, "modelId": model_id}
                ),
                "session/set_model",
            )
        except SessionError as exc:
            raise SessionError(f"agent {self.agent!r} cannot switch models: {exc}", exc.code)

    async def _run_python(self, code: str, *, reset: bool = False) -> dict[str, Any]:
        """One cell in the session's persistent interpreter (``vm.python()``, started on
        first use, closed with the session). Running it is checked like the ``python3``
        command (``child_process.spawn``), and the interpreter works under the VM's limits
        and filesystem policy."""
        from acp import RequestError

        try:
            self.vm.kernel.check("child_process", "spawn", "python3")
        except PermissionError as exc:
            msg = f"python3: {exc.strerror or exc}"
            self.events.emit("python.run", {"code": code, "ok": False, "error": msg})
            raise RequestError(-32603, msg, {"error": msg})
        async with self._python_lock:
            restarted = False
            py = self._python
            if py is not None and (reset or py.closed):
                restarted = not reset
                self._python = None
                with contextlib.suppress(Exception):
                    await py.close()
            if self._python is None:
                self._python = self.vm.python(cwd=self.cwd)
            try:
                r = await self._python.run(code)
            except Exception as exc:  # the runtime is missing or the interpreter failed
                msg = f"python: {exc}"
                self.events.emit("python.run", {"code": code, "ok": False, "error": msg})
                raise RequestError(-32603, msg, {"error": msg})
        out: dict[str, Any] = {
            "stdout": r.stdout,
            "stderr": r.stderr,
            "value": r.value,
            "error": r.error,
            "restarted": restarted,
            "ended": bool(self._python.closed),
        }
        self.events.emit(
            "python.run",
            {
                "code": code,
                "ok": r.error is None,
                "error": r.error,
                "value": r.value,
                "restarted": restarted,
            },
        )
        return out

    async def close(self) -> None:
        """End the session: the agent is asked to close it (when it can), terminals are
        killed, the agent process ends. The transcript stays in the store."""
        if self.status in ("closed",):
            return
        live = _LIVE.get(self.vm)
        if live is not None:
            live.pop(self.id, None)
        crashed = self.status == "crashed"
        self._closing = True
        if not crashed:
            if (self.capabilities.get("sessionCapabilities") or {}).get(
                "close"
            ) is not None and self._conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._conn.close_session(session_id=self.agent_session_id), 2.0
                    )
            self.status = "closed"
            self.events.emit("session.closed", {})
            with contextlib.suppress(Exception):
                self.store.update_session(self.id, status="closed")
            self.events.close()
        self._flush()
        await self._shutdown()
        if self._owns_vm:
            with contextlib.suppress(Exception):
                await self.vm.aclose()

    async def destroy(self) -> None:
        """Close the session and delete its transcript from the store."""
        await self.close()
        self.store.delete_session(self.id)

    def transcript(self) -> str:
        """The session's transcript as JSONL (see docs/sessions.md)."""
        return self.store.export_jsonl(self.id)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Session {self.id} agent={self.agent} status={self.status}>"
