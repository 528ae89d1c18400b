"""``pocketos acp`` (also the ``pocketos-agent`` script): the built-in agent served to an
editor over ACP on stdio, with every tool running in a pocketos VM.

Each editor session gets its own VM under the ``--policy`` file, with the project mounted
(``--mount HOSTDIR:/vm/path``; without one, the editor's working directory at ``/src``). Mounts
are overlays unless ``--rw`` is given: the agent reads the host folder, its writes stay in the
VM, and the user sees them with the ``/diff`` command and writes them to the host with
``/apply`` (refused for any host file changed meanwhile). These commands are answered here,
never sent to the model. Nothing but ACP messages is written to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = ["main", "AcpBridge"]

COMMANDS = [
    ("diff", "Show the changes the agent made in the VM to the mounted folders"),
    ("apply", "Write the agent's changes to the host folders"),
    ("changes", "List the paths the agent changed"),
]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pocketos acp",
        description="Serve the pocketos agent to an editor over ACP (stdio); its tools run "
        "in a pocketos VM.",
    )
    ap.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="HOSTDIR:VMPATH",
        help="mount a host directory (an overlay unless --rw); default: the editor's "
        "working directory at /src",
    )
    ap.add_argument(
        "--rw", action="store_true", help="mount read-write: the agent's writes reach the host"
    )
    ap.add_argument("--policy", metavar="FILE", help="permission policy file (TOML or JSON)")
    ap.add_argument("--cwd", help="working directory in the VM (default: the first mount)")
    ap.add_argument("--provider", choices=["openai", "anthropic"])
    ap.add_argument("--model")
    ap.add_argument("--base-url")
    ap.add_argument("--max-turns", type=int)
    ap.add_argument("--request-timeout", type=float, metavar="SECONDS")
    ap.add_argument("--retries", type=int)
    ap.add_argument(
        "--store", help="SQLite file for transcripts (default: $POCKETOS_STORE, else in memory)"
    )
    return ap


def _dump(model: Any) -> Any:
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return model


@dataclass
class _Entry:
    session: Any
    vm: Any
    folders: list[Any]
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    pump: asyncio.Task[None] | None = None


class AcpBridge:
    """The ACP agent an editor talks to; each session is a pocketos session in its own VM."""

    def __init__(
        self,
        *,
        mounts: list[tuple[str, str]],
        rw: bool = False,
        policy: dict[str, Any] | None = None,
        cwd: str | None = None,
        agent_config: dict[str, Any] | None = None,
        store: Any = None,
        tg: asyncio.TaskGroup | None = None,
    ) -> None:
        self.conn: Any = None
        self.mounts = mounts
        self.rw = rw
        self.policy = policy
        self.cwd = cwd
        self.agent_config = agent_config or None
        self.store = store
        self.tg = tg
        self.entries: dict[str, _Entry] = {}

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def initialize(self, protocol_version: int, **kw: Any) -> Any:
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
                load_session=False,
                prompt_capabilities=PromptCapabilities(
                    image=False, audio=False, embedded_context=True
                ),
            ),
            agent_info=Implementation(
                name="pocketos-acp", title="pocketos agent (sandboxed)", version=__version__
            ),
        )

    async def authenticate(self, method_id: str, **kw: Any) -> Any:
        return None

    # --- sessions ---------------------------------------------------------------------------
    def _mounts_for(self, cwd: str) -> list[tuple[str, str]]:
        from acp import RequestError

        mounts = self.mounts or ([(cwd, "/src")] if cwd else [])
        for host, _path in mounts:
            if not os.path.isdir(host):
                raise RequestError.invalid_params({"details": f"not a directory: {host}"})
        return mounts

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> Any:
        from acp import RequestError
        from acp.schema import NewSessionResponse

        from pocketos import AsyncVM
        from pocketos.sessions import SessionError, create_session
        from pocketos.workspaces.hostsync import HostFolder

        mounts = self._mounts_for(cwd)
        vm = AsyncVM(policy=self.policy) if self.policy is not None else AsyncVM()
        folders: list[Any] = []
        try:
            for host, path in mounts:
                if self.rw:
                    vm.mount(path, host=host, mode="rw")
                else:
                    folders.append(HostFolder.mount(vm, host, path))
            work = self.cwd or (mounts[0][1] if mounts else "/home/user")
            vm.mkdir(work, parents=True, exist_ok=True)
            entry = _Entry(None, vm, folders)
            session = await create_session(
                vm,
                "pocketos",
                cwd=work,
                store=self.store,
                permission_handler=lambda req: self._ask(entry, req),
                agent_config=self.agent_config,
                permission_timeout=3600,
            )
        except SessionError as exc:
            await vm.aclose()
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        except BaseException:
            await vm.aclose()
            raise
        entry.session = session
        self.entries[session.id] = entry
        session.on_event(lambda ev: self._forward(entry, ev), backlog=False)
        coro = self._pump(session.id, entry)
        entry.pump = self.tg.create_task(coro) if self.tg else asyncio.ensure_future(coro)
        await self._advertise(session.id)
        modes = session.modes
        return NewSessionResponse.model_validate(
            {"sessionId": session.id, **({"modes": modes} if modes else {})}
        )

    async def _advertise(self, sid: str) -> None:
        from acp.schema import AvailableCommand, AvailableCommandsUpdate

        if self.rw:
            return
        await self.conn.session_update(
            session_id=sid,
            update=AvailableCommandsUpdate(
                session_update="available_commands_update",
                available_commands=[AvailableCommand(name=n, description=d) for n, d in COMMANDS],
            ),
        )

    def _forward(self, entry: _Entry, ev: Any) -> None:
        if ev.kind == "update" and isinstance(ev.data, dict):
            entry.queue.put_nowait(ev.data)

    async def _pump(self, sid: str, entry: _Entry) -> None:
        from acp import SessionNotification

        while True:
            data = await entry.queue.get()
            try:
                if data is None:
                    return
                with contextlib.suppress(Exception):
                    note = SessionNotification.model_validate({"sessionId": sid, "update": data})
                    await self.conn.session_update(session_id=sid, update=note.update)
            finally:
                entry.queue.task_done()

    async def _ask(self, entry: _Entry, req: Any) -> str:
        """Ask the editor's user; the answer is the kind of the option they picked."""
        from acp.schema import PermissionOption, ToolCallUpdate

        tool_call = dict(req.detail.get("tool_call") or {})
        options = list(req.detail.get("options") or [])
        if not options:
            options = [
                {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
                {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
            ]
        tool_call.setdefault("toolCallId", "permission")
        tool_call.setdefault("title", req.detail.get("title") or req.resource)
        resp = await self.conn.request_permission(
            session_id=entry.session.id,
            tool_call=ToolCallUpdate.model_validate(tool_call),
            options=[PermissionOption.model_validate(o) for o in options],
        )
        oc = resp.outcome
        if getattr(oc, "outcome", None) != "selected":
            return "reject_once"
        for o in options:
            if o.get("optionId") == oc.option_id:
                return str(o.get("kind") or "reject_once")
        return "reject_once"

    def _entry(self, session_id: str) -> _Entry:
        from acp import RequestError

        entry = self.entries.get(session_id)
        if entry is None:
            raise RequestError.invalid_params(
                {"sessionId": session_id, "details": "unknown session"}
            )
        return entry

    async def load_session(self, cwd: str, session_id: str, **kw: Any) -> Any:
        from acp import RequestError

        raise RequestError.method_not_found("session/load")

    async def set_session_mode(self, session_id: str, mode_id: str, **kw: Any) -> Any:
        from acp import RequestError
        from acp.schema import SetSessionModeResponse

        from pocketos.sessions import SessionError

        try:
            await self._entry(session_id).session.set_mode(mode_id)
        except SessionError as exc:
            raise RequestError.invalid_params({"details": str(exc)})
        return SetSessionModeResponse()

    async def cancel(self, session_id: str, **kw: Any) -> None:
        entry = self.entries.get(session_id)
        if entry is not None:
            await entry.session.cancel()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    # --- prompts ----------------------------------------------------------------------------
    @staticmethod
    def _command(prompt: list[Any]) -> str | None:
        if len(prompt) != 1 or getattr(prompt[0], "type", None) != "text":
            return None
        text = str(prompt[0].text).strip()
        if text.startswith("/") and text[1:] in [c[0] for c in COMMANDS]:
            return text[1:]
        return None

    async def _say(self, sid: str, text: str) -> None:
        from acp import update_agent_message_text

        await self.conn.session_update(session_id=sid, update=update_agent_message_text(text))

    def _changes_text(self, entry: _Entry, with_patch: bool) -> str:
        if self.rw:
            return "The folders are mounted read-write: changes are already on the host.\n"
        parts: list[str] = []
        for folder in entry.folders:
            changes = folder.changes()
            if not changes:
                parts.append(f"{folder.host}: no changes\n")
                continue
            parts.append(f"{folder.host} ({folder.path}): {len(changes)} changed path(s)\n")
            parts.extend(f"  {c.status[0].upper()} {c.path}\n" for c in changes)
            if with_patch:
                patch = "".join(c.patch for c in changes)
                parts.append(f"```diff\n{patch}```\n")
        return "".join(parts) or "No folders are mounted.\n"

    async def _run_command(self, sid: str, entry: _Entry, name: str) -> None:
        from pocketos.workspaces.hostsync import HostConflictError

        if name in ("diff", "changes"):
            await self._say(sid, self._changes_text(entry, name == "diff"))
            return
        lines: list[str] = []
        for folder in [] if self.rw else entry.folders:
            try:
                done = folder.apply()
            except HostConflictError as exc:
                lines.append(f"{folder.host}: not applied: {exc}\n")
                continue
            lines.append(f"{folder.host}: applied {len(done)} change(s)\n")
        await self._say(sid, "".join(lines) or self._changes_text(entry, False))

    async def prompt(self, prompt: list[Any], session_id: str, **kw: Any) -> Any:
        from acp import RequestError
        from acp.schema import PromptResponse

        from pocketos.sessions import SessionError

        entry = self._entry(session_id)
        cmd = self._command(prompt)
        if cmd is not None:
            await self._run_command(session_id, entry, cmd)
            return PromptResponse(stop_reason="end_turn")
        try:
            result = await entry.session.prompt([_dump(b) for b in prompt])
        except SessionError as exc:
            await entry.queue.join()
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        await entry.queue.join()  # every update reaches the editor before the answer
        if not self.rw and any(f.changes() for f in entry.folders):
            await self._say(
                session_id,
                "\n\n[pocketos] The changes are in the VM only: /diff shows them, /apply "
                "writes them to the host.\n",
            )
        return PromptResponse(stop_reason=result.stop_reason)

    async def aclose(self) -> None:
        for entry in list(self.entries.values()):
            with contextlib.suppress(Exception):
                await entry.session.close()
            entry.queue.put_nowait(None)
            if entry.pump is not None:
                with contextlib.suppress(BaseException):
                    await entry.pump
            with contextlib.suppress(Exception):
                await entry.vm.aclose()
        self.entries.clear()


def _mount_specs(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        host, _, path = spec.rpartition(":")
        if not host or not path.startswith("/"):
            raise ValueError(f"bad --mount {spec!r} (want HOSTDIR:/vm/path)")
        if not os.path.isdir(host):
            raise ValueError(f"--mount {spec!r}: {host} is not a directory")
        out.append((os.path.abspath(host), path))
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pocketos acp`` and ``pocketos-agent``; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from pocketos.cli import CLIError, load_policy

    try:
        mounts = _mount_specs(args.mount)
        policy = load_policy(args.policy) if args.policy else None
    except (ValueError, CLIError) as exc:
        sys.stderr.write(f"pocketos acp: {getattr(exc, 'message', exc)}\n")
        return 2
    config: dict[str, Any] = {}
    for key in ("provider", "model", "base_url", "max_turns", "request_timeout", "retries"):
        v = getattr(args, key)
        if v is not None:
            config[key] = v

    async def run() -> None:
        import acp

        from pocketos.store import Store

        path = args.store or os.environ.get("POCKETOS_STORE")
        store = Store(path) if path else Store(":memory:")
        try:
            async with asyncio.TaskGroup() as tg:
                bridge = AcpBridge(
                    mounts=mounts,
                    rw=args.rw,
                    policy=policy,
                    cwd=args.cwd,
                    agent_config=config,
                    store=store,
                    tg=tg,
                )
                try:
                    await acp.run_agent(cast(Any, bridge))
                finally:
                    await bridge.aclose()
        finally:
            store.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
