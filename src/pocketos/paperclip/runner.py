"""One Paperclip heartbeat run in a pocketos VM.

The adapter (``integrations/paperclip``) starts ``python -m pocketos.paperclip`` with a JSON
envelope on stdin::

    {"runId", "agent": {"id", "companyId", "name"}, "config": adapterConfig,
     "context": wake context, "runtime": {"sessionId", "sessionParams", "taskKey"},
     "apiUrl", "authToken"}

The runner builds the VM from the config's policy, restores the task's workspace, resumes or
starts the agent session, sends one prompt built from the wake context, saves the workspace
and prints one JSON object per line on stdout: what happened (``init``, ``assistant``,
``tool_call``, ``tool_result``, ``denied``, ``system``) and finally ``result``, the fields the
adapter returns to Paperclip. SIGTERM (a cancel or a timeout) stops the agent; the workspace is
still saved."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from pocketos.paperclip.config import ConfigError, RunConfig, parse_config
from pocketos.paperclip.prompt import AGENT_INSTRUCTIONS, build_prompt, issue_of, task_key

__all__ = ["Emitter", "run", "main", "state_dir_for"]

#: longest tool output copied into the run log
LOG_OUTPUT_LIMIT = 4000


class Emitter:
    """Writes the run's events as JSON lines, in order, flushed one by one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._text: list[str] = []

    def emit(self, kind: str, /, **data: Any) -> None:
        if kind != "assistant":
            self.flush_text()
        self._write({"type": kind, **data})

    def _write(self, obj: dict[str, Any]) -> None:
        obj.setdefault("ts", round(time.time(), 3))
        self.out.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
        self.out.flush()

    def text(self, piece: str) -> None:
        self._text.append(piece)

    def flush_text(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._text.clear()
            if text.strip():
                self._write({"type": "assistant", "text": text})


def state_dir_for(cfg: RunConfig, context: Mapping[str, Any]) -> Path:
    """Where the agent's sessions and workspaces live on the host: ``stateDir`` from the
    config, else ``.pocketos`` in Paperclip's own folder for the agent (``agentHome``, never a
    project checkout), else in the run's workspace folder."""
    if cfg.state_dir:
        return Path(cfg.state_dir)
    ws = context.get("paperclipWorkspace")
    for key in ("agentHome", "cwd"):
        folder = ws.get(key) if isinstance(ws, Mapping) else None
        if isinstance(folder, str) and folder.startswith("/"):
            return Path(folder) / ".pocketos"
    raise ConfigError(
        "stateDir: Paperclip gave no workspace folder for this run; set stateDir to a host "
        "directory the Paperclip server can write"
    )


#: a worker pool started before the run arrived (by the warm runner's spare child)
_PRESTARTED: list[Any] = []


def prestart_worker() -> None:
    """Start the worker of the next run's process-isolated VM now, so the run does not wait
    for it (called by the warm runner in the process that will take the run)."""
    from pocketos.isolation import WorkerPool

    pool = WorkerPool(0)
    pool.prestart()
    _PRESTARTED.append(pool)


def discard_prestarted() -> None:
    while _PRESTARTED:
        _PRESTARTED.pop().close()


def _make_vm(cfg: RunConfig, **options: Any) -> Any:
    """The run's VM, isolated as the config says; an isolation that cannot carry this run
    (agent session, host tools) is a ConfigError naming why."""
    from pocketos import AsyncVM

    pool = None
    if cfg.isolation == "process":
        from pocketos.isolation import WorkerPool

        # a pool of the run's own, with no spare worker: the run needs one VM, and closing the
        # pool at the end leaves no worker (or its temporary folder) behind
        pool = options["pool"] = _PRESTARTED.pop() if _PRESTARTED else WorkerPool(0)
    else:
        discard_prestarted()
    try:
        vm = AsyncVM(isolation=cfg.isolation, **options)
    except (NotImplementedError, TypeError) as exc:
        if pool is not None:
            pool.close()
        raise ConfigError(f"isolation: {cfg.isolation!r} cannot run this agent: {exc}") from None
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    return vm


def _agent_config(cfg: RunConfig) -> dict[str, Any]:
    from pocketos.agent import AgentConfig

    resolved = AgentConfig.resolve({"model": cfg.model} if cfg.model else {}, cfg.env)
    out: dict[str, Any] = {
        "provider": resolved.provider,
        "model": resolved.model,
        "base_url": resolved.base_url,
    }
    if resolved.api_key:
        out["api_key"] = resolved.api_key
    if cfg.max_turns:
        out["max_turns"] = cfg.max_turns
    return out


def _session_view(em: Emitter) -> Callable[[Any], None]:
    """Turn session events into run-log lines."""
    titles: dict[str, str] = {}

    def on_event(ev: Any) -> None:
        d = ev.data
        if ev.kind == "update":
            kind = d.get("sessionUpdate")
            if kind == "agent_message_chunk":
                c = d.get("content") or {}
                if c.get("type") == "text":
                    em.text(str(c.get("text", "")))
            elif kind == "tool_call":
                tid = str(d.get("toolCallId", ""))
                titles[tid] = str(d.get("title", ""))
                em.emit(
                    "tool_call",
                    toolUseId=tid,
                    name=titles[tid],
                    kind=d.get("kind"),
                    input=d.get("rawInput"),
                )
            elif kind == "tool_call_update" and d.get("status") in ("completed", "failed"):
                raw = d.get("rawOutput") or {}
                out = raw.get("output") if isinstance(raw, Mapping) else None
                if out is None and isinstance(raw, Mapping):
                    out = raw.get("error")
                text = str(out if out is not None else "")
                if len(text) > LOG_OUTPUT_LIMIT:
                    text = text[:LOG_OUTPUT_LIMIT] + "\n[...]"
                em.emit(
                    "tool_result",
                    toolUseId=str(d.get("toolCallId", "")),
                    content=text,
                    isError=d.get("status") == "failed",
                )
        elif ev.kind == "session.error":
            em.emit("system", level="error", message=str(d.get("message")))

    return on_event


class _Run:
    def __init__(self, envelope: Mapping[str, Any], em: Emitter) -> None:
        self.env = envelope
        self.em = em
        self.context: dict[str, Any] = dict(envelope.get("context") or {})
        self.runtime: dict[str, Any] = dict(envelope.get("runtime") or {})
        self.cancelled = False
        self.prompt_task: asyncio.Task[Any] | None = None
        self.session: Any = None

    def result(self, **fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"exitCode": 0, "signal": None, "timedOut": False}
        base.update(fields)
        return base

    def fail(self, message: str, code: str = "pocketos_config", **fields: Any) -> dict[str, Any]:
        self.em.emit("system", level="error", message=message)
        return self.result(exitCode=1, errorMessage=message, errorCode=code, **fields)

    def cancel(self) -> None:
        """SIGTERM: stop the agent's turn; the run still saves the workspace."""
        if self.cancelled:
            return
        self.cancelled = True
        self.em.emit("system", level="warn", message="cancel requested: stopping the agent")
        if self.session is not None and self.prompt_task is not None:
            asyncio.ensure_future(self._cancel_session())
        elif self.prompt_task is not None:
            self.prompt_task.cancel()

    async def _cancel_session(self) -> None:
        with contextlib.suppress(Exception):
            await self.session.cancel()

    async def go(self) -> dict[str, Any]:
        try:
            cfg = parse_config(self.env.get("config") or {})
            state = state_dir_for(cfg, self.context)
        except ConfigError as exc:
            return self.fail(f"invalid pocketos_local configuration: {exc}")
        key = task_key(self.context) or str(self.runtime.get("taskKey") or "") or "default"
        try:
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return self.fail(f"cannot create the state directory {state}: {exc}", "pocketos_state")
        from pocketos.paperclip.tools import PaperclipAPI, paperclip_toolkit
        from pocketos.paperclip.workspace import WorkspaceStore

        wstore = WorkspaceStore(state / "workspaces")
        try:
            snap = wstore.load(key, cfg.workspace_path)
        except ValueError as exc:
            return self.fail(f"cannot restore the workspace of task {key}: {exc}", "pocketos_state")
        restored = snap is not None
        if snap is None:
            snap = WorkspaceStore.empty(cfg.workspace_path)
        issue = issue_of(self.context)
        api = PaperclipAPI(
            str(self.env.get("apiUrl") or ""),
            str(self.env.get("authToken") or ""),
            str(self.env.get("runId") or ""),
        )
        kit = paperclip_toolkit(api, issue.get("id") or None)
        try:
            vm = _make_vm(
                cfg,
                policy=cfg.policy,
                toolkits=[kit],
                network={},
                snapshots=[snap],
                cwd=cfg.workspace_path,
                name=f"paperclip-{key[:12]}",
            )
        except (ConfigError, ValueError) as exc:
            await api.aclose()
            return self.fail(f"invalid pocketos_local configuration: {exc}")

        def on_audit(ev: Any) -> None:
            if ev.decision == "deny":
                self.em.emit(
                    "denied",
                    capability=ev.capability,
                    resource=ev.resource,
                    reason=ev.reason or "policy",
                )

        vm.kernel.audit.sinks.append(on_audit)
        try:
            return await self._session(cfg, state, key, vm, wstore, restored)
        finally:
            with contextlib.suppress(Exception):
                await vm.aclose()
            if cfg.isolation == "process":
                await asyncio.to_thread(vm.pool.close)
            await api.aclose()

    async def _session(
        self, cfg: RunConfig, state: Path, key: str, vm: Any, wstore: Any, restored: bool
    ) -> dict[str, Any]:
        from pocketos.sessions import SessionError, create_session, resume_session
        from pocketos.store import Store

        store = Store(str(state / "sessions.db"))
        try:
            from pocketos.agent import ConfigError as AgentConfigError

            try:
                agent_cfg = _agent_config(cfg) if cfg.agent == "pocketos" else None
            except AgentConfigError as exc:
                return self.fail(f"invalid pocketos_local configuration: env: {exc}")
            agent: Any = "pocketos" if cfg.agent == "pocketos" else cfg.acp_command
            instructions = AGENT_INSTRUCTIONS + (
                "\n\n" + cfg.instructions if cfg.instructions else ""
            )
            params = self.runtime.get("sessionParams")
            params = dict(params) if isinstance(params, Mapping) else {}
            want = str(params.get("sessionId") or self.runtime.get("sessionId") or "")
            clear = False
            session = None
            if want:
                why = ""
                if params.get("taskKey") not in (None, key):
                    why = "it belongs to another task"
                elif params.get("workspacePath") not in (None, cfg.workspace_path):
                    why = f"it ran in workspace {params.get('workspacePath')}"
                elif store.get_session(want) is None:
                    why = "it is not in this agent's session store"
                if why:
                    clear = True
                    self.em.emit(
                        "system",
                        level="warn",
                        message=f"not resuming session {want}: {why}; starting a fresh one",
                    )
                else:
                    try:
                        session = await resume_session(
                            vm,
                            want,
                            store=store,
                            agent_config=agent_cfg,
                            instructions=instructions,
                        )
                    except SessionError as exc:
                        clear = True
                        self.em.emit(
                            "system",
                            level="warn",
                            message=f"cannot resume session {want} ({exc}); starting a fresh one",
                        )
            resumed = session is not None
            if session is None:
                try:
                    session = await create_session(
                        vm,
                        agent,
                        cwd=cfg.workspace_path,
                        store=store,
                        agent_config=agent_cfg,
                        instructions=instructions,
                    )
                except SessionError as exc:
                    return self.fail(f"cannot start the agent: {exc}", "pocketos_agent")
            self.session = session
            model = (agent_cfg or {}).get("model") or cfg.model or ""
            self.em.emit(
                "init",
                sessionId=session.id,
                model=model,
                resumed=resumed,
                workspace=cfg.workspace_path,
                workspaceRestored=restored,
                taskKey=key,
            )
            session.on_event(_session_view(self.em), backlog=False)
            prompt = build_prompt(self.context, resumed=resumed)
            error: str | None = None
            res: Any = None
            if self.cancelled:
                error = "cancelled before the agent started"
            else:
                self.prompt_task = asyncio.ensure_future(session.prompt(prompt))
                try:
                    res = await self.prompt_task
                except asyncio.CancelledError:
                    error = "cancelled"
                except SessionError as exc:
                    error = str(exc)
            self.em.flush_text()
            with contextlib.suppress(Exception):
                await session.close()
            snap_stats = wstore.commit(key, vm.snapshot(cfg.workspace_path))
            self.em.emit("system", level="info", message="workspace saved", workspace=snap_stats)
            usage = res.usage if res is not None and res.usage else {}
            inp = int(usage.get("inputTokens") or 0)
            out = int(usage.get("outputTokens") or 0)
            cached = int(usage.get("cachedReadTokens") or 0)
            cost = float(res.cost) if res is not None and res.cost is not None else 0.0
            provider = (agent_cfg or {}).get("provider") or cfg.agent
            fields: dict[str, Any] = {
                "usage": {"inputTokens": inp, "outputTokens": out, "cachedInputTokens": cached},
                "usageBasis": "per_run",
                "costUsd": round(cost, 8),
                "billingType": "metered_api",
                "provider": provider,
                "model": model,
                "summary": (res.text.strip() if res is not None else "") or None,
                "resultJson": {
                    "stopReason": res.stop_reason if res is not None else None,
                    "workspace": snap_stats,
                    "sessionResumed": resumed,
                },
            }
            if clear:
                fields["clearSession"] = True
            else:
                fields["sessionId"] = session.id
                fields["sessionDisplayId"] = session.id
                fields["sessionParams"] = {
                    "sessionId": session.id,
                    "taskKey": key,
                    "workspacePath": cfg.workspace_path,
                    "workspaceDigest": snap_stats["digest"],
                }
            if self.cancelled:
                return self.result(
                    exitCode=1, errorMessage="run cancelled", errorCode="cancelled", **fields
                )
            if error is not None:
                return self.fail(f"the agent failed: {error}", "pocketos_agent", **fields)
            stop = res.stop_reason
            if stop not in ("end_turn", "max_turn_requests"):
                return self.fail(f"the agent stopped: {stop}", "pocketos_agent", **fields)
            return self.result(**fields)
        finally:
            store.close()


async def run(envelope: Mapping[str, Any], out: TextIO) -> dict[str, Any]:
    """Run one heartbeat; print events and the ``result`` line on ``out``; return the result."""
    em = Emitter(out)
    r = _Run(envelope, em)
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, r.cancel)
            installed.append(sig)
    try:
        result = await r.go()
    except Exception as exc:  # a bug must still end as a clear failed run
        result = r.fail(f"pocketos runner error: {type(exc).__name__}: {exc}", "pocketos_internal")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    em.emit("result", **result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(
            "usage: python -m pocketos.paperclip [check | serve SOCKET]\n\n"
            "Run one Paperclip heartbeat: a JSON envelope on stdin, JSON lines on stdout.\n"
            "'check' validates the adapterConfig given on stdin and prints a JSON report.\n"
            "'serve' keeps a warm runner on a Unix socket, forking one child per run."
        )
        return 0
    if args and args[0] == "serve":
        if len(args) != 2:
            print("usage: python -m pocketos.paperclip serve SOCKET", file=sys.stderr)
            return 2
        from pocketos.paperclip.server import serve

        return serve(args[1])
    raw = sys.stdin.read()
    try:
        envelope = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        print(json.dumps({"type": "result", "exitCode": 2, "errorMessage": f"bad envelope: {exc}"}))
        return 2
    if not isinstance(envelope, dict):
        print(json.dumps({"type": "result", "exitCode": 2, "errorMessage": "bad envelope"}))
        return 2
    if args and args[0] == "check":
        from pocketos.paperclip.check import check

        report = check(envelope.get("config") or {})
        print(json.dumps(report))
        return 0
    if args:
        print(f"python -m pocketos.paperclip: unknown argument {args[0]!r}", file=sys.stderr)
        return 2
    os.environ.setdefault("POCKETOS_STORE", ":memory:")
    result = asyncio.run(run(envelope, sys.stdout))
    return int(result.get("exitCode") or 0)
