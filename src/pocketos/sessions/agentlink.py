"""The link to the agent: starting its process (in-process for the built-in agent, a host
subprocess or the heavy sandbox for others), the ACP handshake (initialize, session/new,
session/load), requests mapped to :class:`SessionError`, crash detection and shutdown
(:class:`AgentLink`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pocketos.sessions.agents import KNOWN_AGENTS, AgentSpec, find_executable
from pocketos.sessions.client import _dump, _VMClient
from pocketos.sessions.errors import SESSION_ERROR_CODES, AgentCrashed, SessionError
from pocketos.sessions.instructions import host_tools, os_instructions
from pocketos.sessions.record import SessionBase

if TYPE_CHECKING:
    from pocketos.sessions.live import Session

__all__ = ["AgentLink", "CLAUDE_HOST_TOOLS"]

STDERR_TAIL = 8192


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


class AgentLink(SessionBase):
    """Start, speak to and stop the session's agent."""

    # --- start --------------------------------------------------------------------------
    async def _connect(self) -> None:
        from acp.client.connection import ClientSideConnection

        client = _VMClient(cast("Session", self))
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
