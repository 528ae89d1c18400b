"""Agent sessions: the VM is the ACP client. It starts the agent (in-process for the
built-in one, a host subprocess for external ones), serves ``fs/*`` and ``terminal/*`` from
the VM, routes permission requests, sequences and persists every event.

This module creates, resumes and lists sessions; the :class:`Session` object is in
:mod:`pocketos.sessions.live`, built on :mod:`~pocketos.sessions.agentlink` (the agent
process and handshake) and :mod:`~pocketos.sessions.record` (events, usage, permissions,
durable saves); the methods the VM serves to the agent are in
:mod:`~pocketos.sessions.client`."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from pocketos.kernel.permissions import PermissionRequest
from pocketos.sessions.agentlink import CLAUDE_HOST_TOOLS as CLAUDE_HOST_TOOLS
from pocketos.sessions.agents import AgentSpec, resolve_agent
from pocketos.sessions.errors import AgentCrashed, SessionError
from pocketos.sessions.events import Event
from pocketos.sessions.live import _LIVE, PromptResult, Session
from pocketos.sessions.record import _vm_async
from pocketos.sessions.vmstate import durable_record, reopen_vm
from pocketos.store import Store

__all__ = [
    "Session",
    "SyncSession",
    "SessionError",
    "AgentCrashed",
    "PromptResult",
    "create_session",
    "resume_session",
    "list_sessions",
    "default_store",
]

_default_store: Store | None = None


def default_store() -> Store:
    """The store sessions use when none is given: ``$POCKETOS_STORE`` when set, else one
    in-memory store for the whole process."""
    global _default_store
    if _default_store is None or _default_store.closed:
        _default_store = (
            Store(os.environ["POCKETOS_STORE"])
            if os.environ.get("POCKETOS_STORE")
            else Store(":memory:")
        )
    return _default_store


def _coerce_store(store: Store | str | bool | None) -> Store:
    if isinstance(store, Store):
        return store
    if store is True or store == "default":
        return Store()
    if isinstance(store, str):
        return Store(store)
    return default_store()


async def _start(session: Session, load: str | None) -> Session:
    try:
        await session._connect()
        step = "initialize"
        try:
            await asyncio.wait_for(session._initialize(), session.handshake_timeout)
            if load is None:
                step = "session/new"
                await asyncio.wait_for(session._new(), session.handshake_timeout)
            else:
                if not session.spec.builtin and not session.can_load:
                    raise SessionError(
                        f"agent {session.agent!r} does not support session/load; "
                        f"session {session.id} cannot be resumed",
                        "not_resumable",
                    )
                step = "session/load"
                await asyncio.wait_for(session._load(load), session.handshake_timeout)
        except TimeoutError:
            raise SessionError(
                f"agent {session.agent!r} did not answer {step} within "
                f"{session.handshake_timeout:g} s" + session._last_words(),
                "handshake_timeout",
            ) from None
    except BaseException as exc:
        session._closing = True
        session.status = "crashed" if session._crash else "failed"
        msg = session._crash or str(exc)
        session.error = msg
        with contextlib.suppress(Exception):
            session.store.update_session(session.id, status=session.status, error=msg)
        session.events.emit("session.error", {"message": msg})
        session.events.close()
        session._flush()
        await session._shutdown()
        if session._owns_vm:
            with contextlib.suppress(Exception):
                await session.vm.aclose()
        if isinstance(exc, (SessionError, asyncio.CancelledError)):
            raise
        if isinstance(exc, FileNotFoundError):
            raise SessionError(str(exc), "start_failed") from exc
        raise SessionError(f"cannot start agent {session.agent!r}: {exc}", "start_failed") from exc
    session.status = "ready"
    session.store.update_session(
        session.id,
        status="ready",
        agent_session_id=session.agent_session_id,
        info={
            **session._record(),
            "host": _HOST,
            "host_pid": os.getpid(),
            "host_started": _started(os.getpid()),
        },
    )
    session.events.emit(
        "session.resumed" if load else "session.started",
        {
            "agent": session.agent,
            "agentSessionId": session.agent_session_id,
            "agentInfo": session.agent_info,
            "capabilities": session.capabilities,
            "modes": copy.deepcopy(session.modes),
            "configOptions": list(session.config_options),
            "cwd": session.cwd,
        },
    )
    session._flush()
    _LIVE.setdefault(session.vm, {})[session.id] = session
    return session


@dataclass(frozen=True)
class _Options:
    """What creating a session and resuming one both hand to :class:`Session`."""

    env: Mapping[str, str] | None
    mcp_servers: Sequence[Any] | None
    instructions: str | None
    permission_handler: Callable[[PermissionRequest], Any] | None
    permission_timeout: float
    permission_default: str
    handshake_timeout: float

    @classmethod
    def of(cls, names: Mapping[str, Any]) -> _Options:
        """The options among ``names`` (the caller's keyword arguments)."""
        return cls(**{f.name: names[f.name] for f in fields(cls)})

    def session(self, avm: Any, spec: AgentSpec, store: Store, **more: Any) -> Session:
        return Session(
            avm,
            spec,
            env=self.env,
            mcp_servers=self.mcp_servers,
            instructions=self.instructions,
            permission_handler=self.permission_handler,
            permission_timeout=self.permission_timeout,
            permission_default=self.permission_default,
            handshake_timeout=self.handshake_timeout,
            store=store,
            **more,
        )


async def create_session(
    vm: Any,
    agent: str | Sequence[str] | AgentSpec = "pocketos",
    *,
    cwd: str = "/home/user",
    env: Mapping[str, str] | None = None,
    mcp_servers: Sequence[Any] | None = None,
    instructions: str | None = None,
    permission_handler: Callable[[PermissionRequest], Any] | None = None,
    store: Store | str | bool | None = None,
    permission_timeout: float = 60.0,
    permission_default: str = "reject",
    agent_config: Mapping[str, Any] | None = None,
    sandbox: Any = None,
    handshake_timeout: float = 60.0,
) -> Session:
    """Start ``agent`` in ``vm`` and open an ACP session (initialize + session/new).

    ``sandbox=True`` (or a dict of sandbox options: memory, max_processes, expose, ports,
    timeout) runs an external agent's process in the heavy sandbox over the VM's files,
    policy and network; it needs the ``sandbox.run`` permission (see docs/sandbox.md).

    ``agent``: ``"pocketos"`` (built-in, in-process), a known name (``claude-code``,
    ``codex``, ``gemini``, ``opencode``, ``goose``) or an argv list of any ACP agent.
    ``env`` is the agent process's environment (for the built-in agent: its provider
    settings, e.g. ``POCKETOS_API_KEY``). ``agent_config`` configures the built-in agent
    (provider, model, base_url, api_key, max_turns, max_tokens, prices ...).
    """
    avm = _vm_async(vm)
    if getattr(avm, "closed", False):
        raise SessionError("VM is closed", "bad_request")
    spec = resolve_agent(agent, dict(agent_config) if agent_config else None)
    st = _coerce_store(store)
    opts = _Options.of(locals())
    session = opts.session(avm, spec, st, cwd=cwd, sandbox=sandbox)
    if session.sandbox is not None and spec.builtin:
        raise SessionError(
            "sandbox=True runs an external agent process; 'pocketos' runs in-process",
            "bad_request",
        )
    info: dict[str, Any] = {
        "agent_config": {k: v for k, v in (spec.config or {}).items() if k != "api_key"}
    }
    durable = durable_record(avm)
    if durable is not None:
        info["durable_vm"] = durable
    st.create_session(
        session.id, agent=spec.name, agent_argv=spec.argv, vm=avm.id, cwd=cwd, info=info
    )
    return await _start(session, None)


async def resume_session(
    vm: Any | None,
    session_id: str,
    *,
    store: Store | str | bool | None = None,
    env: Mapping[str, str] | None = None,
    mcp_servers: Sequence[Any] | None = None,
    permission_handler: Callable[[PermissionRequest], Any] | None = None,
    permission_timeout: float = 60.0,
    permission_default: str = "reject",
    agent_config: Mapping[str, Any] | None = None,
    instructions: str | None = None,
    vm_options: Mapping[str, Any] | None = None,
    handshake_timeout: float = 60.0,
) -> Session:
    """Reopen a stored session after a restart: the agent is started again and asked to
    load its session (ACP session/load). The built-in agent always can; an external agent
    must advertise ``loadSession``. Event numbering continues where it stopped.
    ``instructions`` are added to the OS instructions, as in :func:`create_session`.

    ``vm=None`` reopens the durable VM the session ran in, as it was at the last tool call
    or prompt end (its policy and limits too; ``vm_options`` are passed to
    ``AsyncVM.open``, e.g. ``permission_handler``, ``network`` or ``workspaces`` for
    another workspace store). The session owns that VM: ``session.vm``, closed with the
    session. ``handshake_timeout`` bounds each of ``initialize`` and ``session/load``."""
    st = _coerce_store(store)
    rec = st.get_session(session_id)
    if rec is None:
        raise SessionError(f"no such session: {session_id} (in {st.path})", "not_found")
    if vm is not None:
        live = _LIVE.get(_vm_async(vm), {}).get(session_id)
    else:
        live = next((s[session_id] for s in _LIVE.values() if session_id in s), None)
    if live is not None and live.status not in ("closed", "crashed"):
        return live
    if not rec.get("agent_session_id"):
        raise SessionError(
            f"session {session_id} never started; nothing to resume", "not_resumable"
        )
    owns = vm is None
    avm = reopen_vm(session_id, rec, **dict(vm_options or {})) if owns else _vm_async(vm)
    try:
        opts = _Options.of(locals())
        return await _resume(avm, owns, rec, st, opts, agent_config)
    except BaseException:
        if owns and not avm.closed:
            await avm.aclose()
        raise


async def _resume(
    avm: Any,
    owns: bool,
    rec: dict[str, Any],
    st: Store,
    opts: _Options,
    agent_config: Mapping[str, Any] | None,
) -> Session:
    session_id = str(rec["id"])
    stored_cfg = dict((rec.get("info") or {}).get("agent_config") or {})
    stored_cfg.update(agent_config or {})
    spec = AgentSpec(rec["agent"], rec["agent_argv"], stored_cfg or None)
    session = opts.session(
        avm,
        spec,
        st,
        session_id=session_id,
        cwd=rec["cwd"] or "/home/user",
        start_seq=st.last_seq(session_id),
    )
    for ev in st.events(session_id):
        session.events.events.append(
            Event(ev["seq"], ev["time"], session_id, ev["kind"], ev["data"])
        )
    session._instructions_sent = True
    session._owns_vm = owns
    if _host_gone(rec):
        _close_interrupted(session, st)
    st.update_session(session_id, status="resuming", vm=avm.id)
    return await _start(session, str(rec["agent_session_id"]))


_HOST = socket.gethostname()


INTERRUPTED = "interrupted (the host process ended)"


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), None if unknown:
    with the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _host_gone(rec: dict[str, Any]) -> bool:
    """Whether the process that last ran this stored session has ended (judged only for a
    session last run on this machine; a pid now used by another process is not the host)."""
    info = rec.get("info") or {}
    pid = info.get("host_pid")
    if not isinstance(pid, int) or info.get("host") != _HOST:
        return False
    if pid == os.getpid():
        return not any(rec["id"] in live for live in _LIVE.values())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    started = info.get("host_started")
    if isinstance(started, int):
        now = _started(pid)
        return now is not None and now != started
    return False


def _close_interrupted(session: Session, st: Store) -> None:
    """Close the prompts a dead host left open: their record and a ``prompt.ended`` event
    say they were interrupted, so the transcript tells what happened."""
    for p in st.prompts(session.id):
        if p.get("ended") is None:
            st.end_prompt(session.id, int(p["n"]), None, INTERRUPTED)
            session.events.emit(
                "prompt.ended", {"prompt": int(p["n"]), "stopReason": None, "error": INTERRUPTED}
            )
    session._flush()


def list_sessions(
    vm: Any | None = None, *, store: Store | str | bool | None = None
) -> list[dict[str, Any]]:
    """Stored sessions (newest first) with totals; ``vm`` limits them to one VM. Live
    sessions carry ``"live": True``."""
    st = _coerce_store(store)
    avm = _vm_async(vm) if vm is not None else None
    rows = st.list_sessions(vm=avm.id if avm is not None else None)
    live_ids: set[str] = set()
    for sessions in list(_LIVE.values()):
        live_ids.update(sessions)
    for r in rows:
        r["live"] = r["id"] in live_ids
        if (
            not r["live"]
            and r.get("status") in ("ready", "prompting", "resuming")
            and _host_gone(r)
        ):
            # the store still says what the dead host last wrote: report what is true now
            r["status"] = "interrupted" if r["status"] == "prompting" else "stopped"
    return rows


def live_sessions(vm: Any) -> list[Session]:
    return list(_LIVE.get(_vm_async(vm), {}).values())


def _now() -> float:
    return time.time()


class SyncSession:
    """The sync twin of :class:`Session` for the sync ``VM`` facade: same methods, no
    ``await``. Background work (agent output, terminals) advances while a call runs."""

    def __init__(self, inner: Session) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def prompt(self, content: str | Sequence[Any]) -> PromptResult:
        from pocketos._loop import run_sync

        return run_sync(self.inner.prompt(content))

    def set_mode(self, mode_id: str) -> None:
        from pocketos._loop import run_sync

        run_sync(self.inner.set_mode(mode_id))

    def set_model(self, model_id: str) -> None:
        from pocketos._loop import run_sync

        run_sync(self.inner.set_model(model_id))

    def set_config_option(self, config_id: str, value: str | bool) -> list[dict[str, Any]]:
        from pocketos._loop import run_sync

        return run_sync(self.inner.set_config_option(config_id, value))

    def cancel(self) -> None:
        from pocketos._loop import run_sync

        run_sync(self.inner.cancel())

    def close(self) -> None:
        from pocketos._loop import run_sync

        run_sync(self.inner.close())

    def destroy(self) -> None:
        from pocketos._loop import run_sync

        run_sync(self.inner.destroy())

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
