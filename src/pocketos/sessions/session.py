"""Agent sessions: the VM is the ACP client. It starts the agent (in-process for the
built-in one, a host subprocess for external ones), serves ``fs/*`` and ``terminal/*`` from
the VM, routes permission requests, sequences and persists every event."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import socket
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pocketos.kernel.permissions import PermissionRequest
from pocketos.sessions.agents import KNOWN_AGENTS, AgentSpec, find_executable, resolve_agent
from pocketos.sessions.errors import SESSION_ERROR_CODES, AgentCrashed, SessionError
from pocketos.sessions.events import Event, EventLog
from pocketos.sessions.instructions import host_tools, os_instructions
from pocketos.sessions.permissions import PermissionAnswer, PermissionRouter
from pocketos.sessions.terminals import Terminal, TerminalManager
from pocketos.sessions.vmstate import durable_record, reopen_vm, save_durable
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

_DUMP = {"mode": "json", "by_alias": True, "exclude_none": True}
STDERR_TAIL = 8192


@dataclass
class PromptResult:
    """What :meth:`Session.prompt` returns."""

    stop_reason: str
    text: str
    prompt: int
    usage: dict[str, Any] | None = None
    cost: float | None = None
    events: list[Event] = field(default_factory=list)


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


#: live sessions per VM (weakly keyed: a dropped VM drops its entry)
_LIVE: weakref.WeakKeyDictionary[Any, dict[str, Session]] = weakref.WeakKeyDictionary()


def _dump(model: Any) -> dict[str, Any]:
    if hasattr(model, "model_dump"):
        return dict(model.model_dump(**_DUMP))
    return dict(model)


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


def _mcp_servers(servers: Sequence[Any] | None) -> list[Any]:
    out: list[Any] = []
    for s in servers or []:
        if isinstance(s, Mapping):
            d = dict(s)
            if "command" in d:
                env = d.get("env") or {}
                if isinstance(env, Mapping):
                    env = [{"name": k, "value": v} for k, v in env.items()]
                d["env"] = env
                d.setdefault("args", [])
            elif "headers" in d and isinstance(d["headers"], Mapping):
                d["headers"] = [{"name": k, "value": v} for k, v in d["headers"].items()]
            elif "url" in d:
                d.setdefault("headers", [])
                d.setdefault("type", "http")
            out.append(d)
        else:
            out.append(s)
    return out


def _vm_async(vm: Any) -> Any:
    """The AsyncVM behind a sync VM facade (or the VM itself)."""
    return getattr(vm, "async_vm", vm)


#: the ACP extension method serving the built-in agent's persistent Python interpreter
PYTHON_METHOD = "_pocketos/python"


def _bad(details: str, **data: Any) -> Exception:
    from acp import RequestError

    return RequestError.invalid_params({**data, "details": details})


def _want_str(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string", **{key: value})
    return value


def _want_int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{key} must be a non-negative integer", **{key: value})
    return value


class _VMClient:
    """The ACP client methods, served from the VM for one session.

    The hot methods work on the raw JSON-RPC params and return plain dicts (see
    :meth:`handler`): they check the params themselves, which costs a fraction of building
    and dumping the pydantic request and response models. The typed methods below are the
    same handlers for the library's router (used for everything else)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._raw: dict[str, Callable[[dict[str, Any]], Any]] = {
            "fs/read_text_file": self.raw_read_text_file,
            "fs/write_text_file": self.raw_write_text_file,
            "terminal/create": self.raw_create_terminal,
            "terminal/output": self.raw_terminal_output,
            "terminal/wait_for_exit": self.raw_wait_for_terminal_exit,
            "terminal/kill": self.raw_kill_terminal,
            "terminal/release": self.raw_release_terminal,
            "session/request_permission": self.raw_request_permission,
            PYTHON_METHOD: self.raw_python,
        }

    def handler(self, router: Any, tracker: Any) -> Callable[..., Any]:
        """A JSON-RPC method handler: the raw fast path for the client methods and
        ``session/update``, the library's router for the rest."""
        raw = self._raw

        async def handle(method: str, params: Any, is_notification: bool) -> Any:
            if isinstance(params, dict):
                if is_notification:
                    if method == "session/update":
                        sid = params.get("sessionId")
                        update = params.get("update")
                        if (
                            isinstance(sid, str)
                            and isinstance(update, dict)
                            and isinstance(update.get("sessionUpdate"), str)
                        ):
                            await tracker.session_update(session_id=sid, update=update)
                            return None
                else:
                    fn = raw.get(method)
                    if fn is not None:
                        return await fn(params)
            return await router(method, params, is_notification)

        return handle

    # -- notifications ---------------------------------------------------------------------
    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.s._on_update(update if type(update) is dict else _dump(update))

    # -- files -------------------------------------------------------------------------------
    def _path(self, path: Any) -> str:
        if not isinstance(path, str) or not path.startswith("/"):
            raise _bad("path must be absolute", path=path)
        return path

    def _os_error(self, exc: Exception, path: str) -> Exception:
        from acp import RequestError

        if isinstance(exc, FileNotFoundError):
            return RequestError(
                -32002,
                f"Resource not found: {path}",
                {"path": path, "error": "No such file or directory"},
            )
        if isinstance(exc, OSError):
            msg = exc.strerror or str(exc)
            # "Permission denied: fs.read on /p" names the path already
            text = msg if path in msg else f"{msg}: {path}"
            return RequestError(-32603, text, {"path": path, "errno": exc.errno, "error": msg})
        return RequestError(-32603, f"{exc}: {path}", {"path": path, "error": str(exc)})

    async def raw_read_text_file(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._path(params.get("path"))
        line = _want_int(params, "line")
        limit = _want_int(params, "limit")
        events = self.s.events
        try:
            data = self.s.vm.read_file(p)
        except (OSError, ValueError) as exc:
            events.emit("fs.read", {"path": p, "ok": False, "error": str(exc)})
            raise self._os_error(exc, p)
        text = data.decode("utf-8", "replace")
        size = len(data)
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max(0, (line or 1) - 1)
            end = len(lines) if limit is None else start + limit
            text = "".join(lines[start:end])
            size = len(text.encode("utf-8", "surrogateescape"))
        events.emit("fs.read", {"path": p, "ok": True, "line": line, "limit": limit, "bytes": size})
        return {"content": text}

    async def raw_write_text_file(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._path(params.get("path"))
        content = _want_str(params, "content")
        data = content.encode("utf-8", "surrogateescape")
        vm = self.s.vm
        try:
            try:
                vm.write_file(p, data)
            except FileNotFoundError:  # a missing parent: create the directories
                vm.write_file(p, data, parents=True)
        except (OSError, ValueError) as exc:
            self.s.events.emit("fs.write", {"path": p, "ok": False, "error": str(exc)})
            raise self._os_error(exc, p)
        self.s.events.emit("fs.write", {"path": p, "ok": True, "bytes": len(data)})
        return {}

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.raw_read_text_file(
            {"sessionId": session_id, "path": path, "line": line, "limit": limit}
        )

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> Any:
        return await self.raw_write_text_file(
            {"sessionId": session_id, "path": path, "content": content}
        )

    # -- terminals ---------------------------------------------------------------------------
    def _term(self, params: dict[str, Any]) -> Terminal:
        terminal_id = params.get("terminalId")
        try:
            return self.s.terminals.get(terminal_id)  # type: ignore[arg-type]
        except (KeyError, TypeError):
            raise _bad("unknown terminal", terminalId=terminal_id)

    async def raw_create_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        command = _want_str(params, "command")
        args = params.get("args")
        if args is not None and (
            not isinstance(args, list) or not all(isinstance(a, str) for a in args)
        ):
            raise _bad("args must be a list of strings", args=args)
        envd: dict[str, str] = {}
        env = params.get("env")
        if env is not None:
            if not isinstance(env, list):
                raise _bad("env must be a list of {name, value}", env=env)
            for e in env:
                d = e if isinstance(e, dict) else _dump(e)
                if not isinstance(d.get("name"), str) or not isinstance(d.get("value"), str):
                    raise _bad("env entries need a string name and value", env=env)
                envd[d["name"]] = d["value"]
        cwd = params.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise _bad("cwd must be a string", cwd=cwd)
        limit = _want_int(params, "outputByteLimit")
        s = self.s
        term = await s.terminals.create(command, args, envd, cwd, limit)
        s.events.emit(
            "terminal.created",
            {"terminalId": term.id, "command": term.command, "cwd": cwd or s.cwd},
        )
        if term.done.is_set():
            s._terminal_exited(term)
        else:
            term.on_exit = s._terminal_exited
        return {"terminalId": term.id}

    async def raw_terminal_output(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        out: dict[str, Any] = {"output": term.text(), "truncated": term.truncated}
        if term.done.is_set():
            out["exitStatus"] = term.exit_json()
        return out

    async def raw_wait_for_terminal_exit(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        if not term.done.is_set():
            await term.done.wait()
        return term.exit_json()

    async def raw_kill_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        self._term(params).kill()
        return {}

    async def raw_release_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        self.s.terminals.release(term.id)
        self.s.events.emit("terminal.released", {"terminalId": term.id})
        return {}

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[Any] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.raw_create_terminal(
            {
                "sessionId": session_id,
                "command": command,
                "args": args,
                "env": [_dump(e) for e in env] if env is not None else None,
                "cwd": cwd,
                "outputByteLimit": output_byte_limit,
            }
        )

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_terminal_output({"terminalId": terminal_id})

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_wait_for_terminal_exit({"terminalId": terminal_id})

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_kill_terminal({"terminalId": terminal_id})

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_release_terminal({"terminalId": terminal_id})

    # -- permissions -------------------------------------------------------------------------
    async def raw_request_permission(self, params: dict[str, Any]) -> dict[str, Any]:
        tool_call = params.get("toolCall")
        options = params.get("options")
        if not isinstance(tool_call, dict):
            raise _bad("toolCall must be an object")
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            raise _bad("options must be a list of permission options")
        return await self.s._request_permission(tool_call, options)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> Any:
        return await self.s._request_permission(_dump(tool_call), [_dump(o) for o in options])

    # -- the persistent Python interpreter (an ACP extension) ------------------------------
    async def raw_python(self, params: dict[str, Any]) -> dict[str, Any]:
        code = _want_str(params, "code")
        return await self.s._run_python(code, reset=bool(params.get("reset")))

    # -- extensions --------------------------------------------------------------------------
    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        if "_" + method == PYTHON_METHOD:
            return await self.raw_python(params)
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None


class Session:
    """One agent session in a VM. Create with :func:`create_session`."""

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

    # --- start --------------------------------------------------------------------------
    async def _connect(self) -> None:
        from acp.client.connection import ClientSideConnection

        client = _VMClient(self)
        if self.spec.builtin:
            from acp._transport import memory_transport_pair
            from acp.agent.connection import AgentSideConnection

            from pocketos.agent.acp_agent import PocketAgent

            left, right = memory_transport_pair()
            config = dict(self.spec.config or {})
            config.setdefault("env", self.env)
            self._agent_conn = AgentSideConnection(
                lambda conn: cast(Any, PocketAgent(conn, config=config, store=self.store)), right
            )
            self._conn = ClientSideConnection(lambda conn: cast(Any, client), left)
            self._install_fast_path(client)
            return
        assert self.spec.argv is not None
        if self.sandbox is None and self.spec.name in KNOWN_AGENTS and not os.path.isdir(self.cwd):
            # a real agent CLI runs on the host and looks for its cwd there: say so plainly
            # instead of letting it fail with its own misleading error
            raise SessionError(
                f"session cwd {self.cwd} does not exist on the host: agent "
                f"{self.spec.name!r} runs on the host and acts on the host's files; pass "
                f"sandbox=True to run it over the VM's files (same paths), or a cwd that "
                f"exists on the host",
                "bad_request",
            )
        exe = find_executable(self.spec.argv)
        from acp.transports import default_environment

        if self.sandbox is not None:
            # the agent itself runs in the sandbox: its own writes and commands are the VM's
            from pocketos.sandbox import SandboxProcess, check_sandbox

            kernel = self.vm.kernel
            check_sandbox(kernel, self.spec.argv)
            sp = SandboxProcess(
                kernel,
                [exe, *self.spec.argv[1:]],
                cwd=self.cwd,
                env=kernel.filter_env({**kernel.env, **self.env}),
                options=self.sandbox,
            )
            self._sandbox = await sp.start()
            assert sp.proc is not None
            self._proc = sp.proc
        else:
            env = default_environment()
            env.update(self.env)
            self._proc = await asyncio.create_subprocess_exec(
                exe,
                *self.spec.argv[1:],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=50 * 1024 * 1024,
                start_new_session=True,  # its own process group: close() ends all of it
            )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._conn = ClientSideConnection(
            lambda conn: cast(Any, client), self._proc.stdin, self._proc.stdout
        )
        self._install_fast_path(client)
        self._tasks.append(asyncio.ensure_future(self._drain_stderr()))
        self._tasks.append(asyncio.ensure_future(self._watch_process()))

    def _install_fast_path(self, client: _VMClient) -> None:
        """Serve the client methods from raw JSON (see :meth:`_VMClient.handler`); when the
        protocol library's layout is not the one expected, its router stays in charge."""
        inner: Any = getattr(self._conn, "_conn", None)
        router = getattr(inner, "_handler", None)
        tracker = getattr(self._conn, "_session_updates", None)
        if (
            router is not None
            and tracker is not None
            and callable(getattr(tracker, "session_update", None))
        ):
            inner._handler = client.handler(router, tracker)

    def _last_words(self) -> str:
        """What the agent last printed on stderr, for an error message ("" if nothing)."""
        tail = bytes(self._stderr).decode("utf-8", "replace").strip()
        return f"; it printed last: {tail[-500:]}" if tail else ""

    async def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            data = await self._proc.stderr.read(65536)
            if not data:
                return
            self._stderr += data
            if len(self._stderr) > STDERR_TAIL:
                del self._stderr[: len(self._stderr) - STDERR_TAIL]

    async def _watch_process(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        if self._closing:
            return
        drain = self._tasks[0] if self._tasks else None
        if drain is not None:  # let the stderr reader take the last bytes
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(drain), 1.0)
        tail = bytes(self._stderr).decode("utf-8", "replace").strip()
        msg = f"agent process {self.spec.name!r} exited unexpectedly with status {code}"
        if tail:
            msg += ": " + tail.splitlines()[-1][:500]
        self._crash = msg
        self._fail(msg, stderr=tail[-2000:], exit_code=code)

    def _fail(self, message: str, **detail: Any) -> None:
        self.status = "crashed"
        self.error = message
        self.events.emit("session.error", {"message": message, **detail})
        with contextlib.suppress(Exception):
            self.store.update_session(self.id, status="crashed", error=message)
        for fut in list(self._pending_permissions):
            if not fut.done():
                fut.cancel()
        self.events.close()
        self._flush()
        asyncio.ensure_future(self._shutdown())

    async def _initialize(self) -> None:
        from acp import PROTOCOL_VERSION
        from acp.schema import ClientCapabilities, FileSystemCapabilities, Implementation

        from pocketos import __version__

        resp = await self._call(
            self._conn.initialize(
                protocol_version=PROTOCOL_VERSION,
                client_capabilities=ClientCapabilities(
                    fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
                    terminal=True,
                ),
                client_info=Implementation(
                    name="pocketos", title="pocketos VM", version=__version__
                ),
            )
        )
        d = _dump(resp)
        self.agent_info = d.get("agentInfo")
        self.capabilities = d.get("agentCapabilities") or {}
        self.auth_methods = d.get("authMethods") or []
        self.instructions = os_instructions(self.vm, cwd=self.cwd, extra=self.extra_instructions)

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "pocketos": {
                "instructions": self.instructions,
                "tools": host_tools(self.vm),
                "vm": self.vm.id,
                "session": self.id,
            }
        }
        if _is_claude_code(self.spec):
            # its own tools act on the host: only the client's fs and terminal stay
            meta["claudeCode"] = {"options": {"disallowedTools": list(CLAUDE_HOST_TOOLS)}}
        return meta

    async def _new(self) -> None:
        resp = await self._call(
            self._conn.new_session(
                cwd=self.cwd, mcp_servers=_mcp_servers(self.mcp_servers), **self._meta()
            )
        )
        d = _dump(resp)
        self.agent_session_id = str(d["sessionId"])
        self.modes = d.get("modes")
        self.config_options = list(d.get("configOptions") or [])

    async def _load(self, agent_session_id: str) -> None:
        self.agent_session_id = agent_session_id
        self._replaying = True
        try:
            resp = await self._call(
                self._conn.load_session(
                    cwd=self.cwd,
                    session_id=agent_session_id,
                    mcp_servers=_mcp_servers(self.mcp_servers),
                    **self._meta(),
                )
            )
            # the agent replays its history as notifications; let them drain
            await self._conn._session_updates.wait(agent_session_id)
        finally:
            self._replaying = False
        d = _dump(resp) if resp is not None else {}
        self.modes = d.get("modes")
        self.config_options = list(d.get("configOptions") or [])

    async def _call(self, coro: Any, what: str | None = None) -> Any:
        """Await an agent request; map protocol errors and crashes to SessionError. A request
        named by ``what`` must be answered within ``handshake_timeout``."""
        from acp import RequestError

        try:
            if what is None:
                return await coro
            try:
                return await asyncio.wait_for(coro, self.handshake_timeout)
            except TimeoutError:
                raise SessionError(
                    f"agent {self.agent!r} did not answer {what} within "
                    f"{self.handshake_timeout:g} s" + self._last_words(),
                    "agent_timeout",
                ) from None
        except RequestError as exc:
            detail = exc.data.get("details") if isinstance(exc.data, dict) else exc.data
            code = exc.data.get("code") if isinstance(exc.data, dict) else None
            raise SessionError(
                f"agent error {exc.code}: {exc}" + (f" ({detail})" if detail else ""),
                code if code in SESSION_ERROR_CODES else "agent_error",
            )
        except (ConnectionError, BrokenPipeError) as exc:
            if self._proc is not None and self._crash is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._proc.wait()), 5.0)
                for _ in range(3):
                    await asyncio.sleep(0)
            if self._crash is not None:
                raise AgentCrashed(self._crash)
            raise SessionError(f"connection to the agent closed: {exc}", "connection_closed")

    def _record(self) -> dict[str, Any]:
        return {
            "agent_info": self.agent_info,
            "capabilities": self.capabilities,
            "modes": self.modes,
            "config_options": self.config_options,
        }

    # --- public API -----------------------------------------------------------------------
    @property
    def agent(self) -> str:
        return self.spec.name

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

    async def _shutdown(self) -> None:
        py, self._python = self._python, None
        if py is not None:
            with contextlib.suppress(Exception):
                await py.close()
        await self.terminals.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        aconn, self._agent_conn = self._agent_conn, None
        if aconn is not None:
            with contextlib.suppress(Exception):
                await aconn.close()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._closing = True
            with contextlib.suppress(Exception):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except TimeoutError:
                # the whole group: a launcher's child holding the pipes would hang the wait
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5.0)
        if proc is not None and self._sandbox is None:
            # children left in the agent's group once it has exited
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            with contextlib.suppress(Exception):
                await sandbox.close()
        for t in [*self._tasks, *self._watchers]:
            if not t.done():
                t.cancel()
        self._tasks.clear()
        self._watchers.clear()

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


#: claude-code-acp's tools that act on the host directly (Read, Write, Edit and Bash go through
#: the ACP client's fs and terminal)
CLAUDE_HOST_TOOLS = (
    "Glob",
    "Grep",
    "LS",
    "NotebookEdit",
    "NotebookRead",
    "WebFetch",
    "WebSearch",
    "Task",
    "Agent",
    "Skill",
)


def _is_claude_code(spec: AgentSpec) -> bool:
    return spec.argv is not None and any(
        "claude-code-acp" in a.rsplit("/", 1)[-1] for a in spec.argv[:2]
    )


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
    session = Session(
        avm,
        spec,
        cwd=cwd,
        env=env,
        mcp_servers=mcp_servers,
        instructions=instructions,
        permission_handler=permission_handler,
        permission_timeout=permission_timeout,
        permission_default=permission_default,
        store=st,
        sandbox=sandbox,
        handshake_timeout=handshake_timeout,
    )
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
        return await _resume(
            avm,
            owns,
            rec,
            st,
            env,
            mcp_servers,
            permission_handler,
            permission_timeout,
            permission_default,
            agent_config,
            instructions,
            handshake_timeout,
        )
    except BaseException:
        if owns and not avm.closed:
            await avm.aclose()
        raise


async def _resume(
    avm: Any,
    owns: bool,
    rec: dict[str, Any],
    st: Store,
    env: Mapping[str, str] | None,
    mcp_servers: Sequence[Any] | None,
    permission_handler: Callable[[PermissionRequest], Any] | None,
    permission_timeout: float,
    permission_default: str,
    agent_config: Mapping[str, Any] | None,
    instructions: str | None,
    handshake_timeout: float,
) -> Session:
    session_id = str(rec["id"])
    stored_cfg = dict((rec.get("info") or {}).get("agent_config") or {})
    stored_cfg.update(agent_config or {})
    spec = AgentSpec(rec["agent"], rec["agent_argv"], stored_cfg or None)
    session = Session(
        avm,
        spec,
        session_id=session_id,
        cwd=rec["cwd"] or "/home/user",
        env=env,
        mcp_servers=mcp_servers,
        instructions=instructions,
        permission_handler=permission_handler,
        permission_timeout=permission_timeout,
        permission_default=permission_default,
        store=st,
        start_seq=st.last_seq(session_id),
        handshake_timeout=handshake_timeout,
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
