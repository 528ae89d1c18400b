"""``pocketos acp`` (also the ``pocketos-agent`` script): the built-in agent served to an
editor over ACP on stdio, with every tool running in a pocketos VM.

Each editor session gets its own VM under the ``--policy`` file, with the project mounted
(``--mount HOSTDIR:/vm/path``; without one, the editor's working directory at ``/src``). Mounts
are overlays unless ``--rw`` is given: the agent reads the host folder, its writes stay in the
VM, and the user sees them with the ``/diff`` command and writes them to the host with
``/apply`` (refused for any host file changed meanwhile). These commands are answered here,
never sent to the model. Nothing but ACP messages is written to stdout.

With a session store (``--store`` or ``$POCKETOS_STORE``) each VM is durable (a workspace of
``--workspaces``) and ``session/load`` reopens an earlier session after the editor restarts:
its conversation is replayed to the editor and its VM comes back as the last tool call left it.

The VMs and sessions run on an event loop of their own, in a second thread: a policy ``ask``
rule is checked synchronously inside the VM, and its question goes to the editor as
``session/request_permission`` over the connection, whose loop stays free to carry it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import sys
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

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
        "--store",
        help="SQLite file for transcripts (default: $POCKETOS_STORE, else in memory); with "
        "one, VMs are durable and the editor can reopen sessions (session/load)",
    )
    ap.add_argument(
        "--workspaces",
        metavar="DIR",
        help="workspace store of the durable VMs (default: ~/.local/share/pocketos/workspaces)",
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
    #: the tool call in progress (a VM permission question is shown as part of it)
    tool_call: str | None = None


class _VMLoop:
    """The event loop the VMs and sessions run on, in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pocketos-acp-vms", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the VM loop; cancelling the caller cancels it there."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        stop = self._stop
        if stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(stop.set)
        self.thread.join(10)


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
        durable: bool = False,
        workspaces: Any = None,
        permission_timeout: float = 3600.0,
    ) -> None:
        self.conn: Any = None
        self.mounts = mounts
        self.rw = rw
        self.policy = policy
        self.cwd = cwd
        self.agent_config = agent_config or None
        self.store = store
        self.tg = tg
        #: VMs live in workspace store ``workspaces`` and sessions can be loaded again
        self.durable = durable
        self.workspaces = workspaces
        self.permission_timeout = permission_timeout
        self.entries: dict[str, _Entry] = {}
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._vms: _VMLoop | None = None

    async def _on_vms(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the VM loop (started on first use)."""
        if self._vms is None:
            self._main_loop = asyncio.get_running_loop()
            self._vms = _VMLoop()
        return await self._vms.call(coro)

    async def _on_main(self, coro: Coroutine[Any, Any, T]) -> T:
        """From the VM loop: run ``coro`` (which talks to the editor) on the connection's loop."""
        assert self._main_loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._main_loop)
        return await asyncio.wrap_future(fut)

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
                load_session=self.durable,
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

    def _vm_options(self, entry: _Entry) -> dict[str, Any]:
        """The policy, with the VM's ``ask`` rules answered by the editor."""
        return {
            "policy": self.policy,
            "permission_handler": lambda req: self._vm_ask(entry, req),
        }

    def _mount(self, vm: Any, mounts: list[tuple[str, str]], work: str) -> list[Any]:
        from pocketos.workspaces.hostsync import HostFolder

        vm.kernel.policy.ask_timeout = self.permission_timeout
        folders: list[Any] = []
        for host, path in mounts:
            if self.rw:
                vm.mount(path, host=host, mode="rw")
            else:
                folders.append(HostFolder.mount(vm, host, path))
        vm.mkdir(work, parents=True, exist_ok=True)
        return folders

    async def _open(self, cwd: str, entry: _Entry) -> Any:
        """On the VM loop: a new VM (durable when there is a store) and a session in it."""
        from pocketos import AsyncVM
        from pocketos.sessions import create_session

        mounts = self._mounts_for(cwd)
        opts = self._vm_options(entry)
        if opts["policy"] is None:
            del opts["policy"]
        if self.durable:
            name = f"acp-{uuid.uuid4().hex[:16]}"
            vm = AsyncVM.open(name, store=self.workspaces, autosave=False, **opts)
        else:
            vm = AsyncVM(**opts)
        try:
            work = self.cwd or (mounts[0][1] if mounts else "/home/user")
            entry.vm = vm
            entry.folders = self._mount(vm, mounts, work)
            session = await create_session(
                vm,
                "pocketos",
                cwd=work,
                store=self.store,
                permission_handler=lambda req: self._ask(entry, req),
                agent_config=self.agent_config,
                permission_timeout=self.permission_timeout,
            )
        except BaseException:
            await vm.aclose()
            raise
        session.store.update_session(
            session.id, info={"acp": {"mounts": [list(m) for m in mounts], "rw": self.rw}}
        )
        return session

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> Any:
        from acp import RequestError

        from pocketos.sessions import SessionError

        entry = _Entry(None, None, [])
        try:
            session = await self._on_vms(self._open(cwd, entry))
        except SessionError as exc:
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        return await self._serve(entry, session)

    async def _serve(self, entry: _Entry, session: Any) -> Any:
        """Forward the session's updates to the editor from now on."""
        from acp.schema import NewSessionResponse

        entry.session = session
        self.entries[session.id] = entry
        loop = asyncio.get_running_loop()
        session.on_event(
            lambda ev: loop.call_soon_threadsafe(self._forward, entry, ev), backlog=False
        )
        coro = self._pump(session.id, entry)
        entry.pump = self.tg.create_task(coro) if self.tg else asyncio.ensure_future(coro)
        await self._advertise(session.id)
        modes = session.modes
        return NewSessionResponse.model_validate(
            {"sessionId": session.id, **({"modes": modes} if modes else {})}
        )

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: Any = None, **kw: Any
    ) -> Any:
        """Reopen a stored session: its conversation is replayed to the editor as
        ``session/update`` notifications, then the agent and its VM are back."""
        from acp import RequestError
        from acp.schema import LoadSessionResponse

        from pocketos.sessions import SessionError

        if session_id in self.entries:
            entry = self.entries[session_id]
            await self._replay(session_id, entry.session.store)
            modes = entry.session.modes
            return LoadSessionResponse.model_validate({"modes": modes} if modes else {})
        if not self.durable:
            raise RequestError.invalid_params(
                {
                    "sessionId": session_id,
                    "details": "sessions can be loaded only with a session store (--store or "
                    "$POCKETOS_STORE)",
                }
            )
        rec = self.store.get_session(session_id)
        if rec is None:
            raise RequestError.resource_not_found(session_id)
        entry = _Entry(None, None, [])
        try:
            session = await self._on_vms(self._reopen(rec, entry))
        except SessionError as exc:
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        await self._replay(session_id, self.store)
        await self._serve(entry, session)
        modes = session.modes
        return LoadSessionResponse.model_validate({"modes": modes} if modes else {})

    async def _reopen(self, rec: dict[str, Any], entry: _Entry) -> Any:
        """On the VM loop: the durable VM of stored session ``rec``, its folders mounted
        again, and the session resumed in it."""
        from pocketos.sessions import SessionError, resume_session
        from pocketos.sessions.vmstate import reopen_vm

        sid = str(rec["id"])
        acp_info = (rec.get("info") or {}).get("acp") or {}
        mounts = [(str(h), str(p)) for h, p in acp_info.get("mounts") or []]
        for host, _path in mounts:
            if not os.path.isdir(host):
                raise SessionError(f"cannot load {sid}: {host} is not a directory", "not_found")
        opts = self._vm_options(entry)
        if opts["policy"] is None:
            del opts["policy"]  # the policy recorded with the VM
        vm = reopen_vm(sid, rec, workspaces=self.workspaces, **opts)
        try:
            entry.vm = vm
            entry.folders = self._mount(vm, mounts, str(rec.get("cwd") or "/home/user"))
            return await resume_session(
                vm,
                sid,
                store=self.store,
                permission_handler=lambda req: self._ask(entry, req),
                agent_config=self.agent_config,
                permission_timeout=self.permission_timeout,
            )
        except BaseException:
            await vm.aclose()
            raise

    async def _replay(self, sid: str, store: Any) -> None:
        """The stored conversation, as the updates the editor would have seen live."""
        from acp import SessionNotification

        for ev in store.events(sid):
            updates: list[dict[str, Any]] = []
            if ev["kind"] == "prompt.started":
                for block in ev["data"].get("content") or []:
                    updates.append({"sessionUpdate": "user_message_chunk", "content": block})
            elif (
                ev["kind"] == "update"
                and isinstance(ev["data"], dict)
                and ev["data"].get("sessionUpdate") != "available_commands_update"
            ):
                updates.append(ev["data"])
            for data in updates:
                with contextlib.suppress(Exception):
                    note = SessionNotification.model_validate({"sessionId": sid, "update": data})
                    await self.conn.session_update(session_id=sid, update=note.update)

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
            d = ev.data
            if d.get("sessionUpdate") == "tool_call" and d.get("toolCallId"):
                entry.tool_call = str(d["toolCallId"])
            elif d.get("sessionUpdate") == "tool_call_update" and d.get("status") in (
                "completed",
                "failed",
            ):
                entry.tool_call = None
            entry.queue.put_nowait(d)

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
        """The agent's own permission question (its ``ask`` mode), from the VM loop."""
        return await self._on_main(self._ask_editor(entry, req))

    async def _ask_editor(self, entry: _Entry, req: Any) -> str:
        """Ask the editor's user; the answer is the kind of the option they picked."""
        from acp.schema import PermissionOption, ToolCallUpdate

        tool_call = dict(req.detail.get("tool_call") or {})
        options = list(req.detail.get("options") or [])
        if not options:
            options = [
                {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
                {"optionId": "always", "name": "Always allow", "kind": "allow_always"},
                {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
            ]
        tool_call.setdefault("toolCallId", entry.tool_call or "permission")
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

    def _vm_ask(self, entry: _Entry, req: Any) -> str:
        """A policy ``ask`` rule of the VM, checked synchronously on the VM loop (or a worker
        thread of it): the editor is asked over the connection's loop, which is free."""
        if self._main_loop is None or entry.session is None:
            return "reject_once"
        title = f"{req.capability} on {req.resource}"
        ask = type(req)(
            req.domain,
            req.operation,
            req.resource,
            req.vm,
            req.pid,
            {**req.detail, "title": title, "tool_call": {"title": title, "status": "pending"}},
        )
        fut = asyncio.run_coroutine_threadsafe(self._ask_editor(entry, ask), self._main_loop)
        try:
            return fut.result(self.permission_timeout)
        except (concurrent.futures.TimeoutError, Exception):
            fut.cancel()
            return "reject_once"

    def _entry(self, session_id: str) -> _Entry:
        from acp import RequestError

        entry = self.entries.get(session_id)
        if entry is None:
            raise RequestError.invalid_params(
                {"sessionId": session_id, "details": "unknown session"}
            )
        return entry

    async def set_session_mode(self, session_id: str, mode_id: str, **kw: Any) -> Any:
        from acp import RequestError
        from acp.schema import SetSessionModeResponse

        from pocketos.sessions import SessionError

        try:
            await self._on_vms(self._entry(session_id).session.set_mode(mode_id))
        except SessionError as exc:
            raise RequestError.invalid_params({"details": str(exc)})
        return SetSessionModeResponse()

    async def cancel(self, session_id: str, **kw: Any) -> None:
        entry = self.entries.get(session_id)
        if entry is not None:
            await self._on_vms(entry.session.cancel())

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

    async def _changes_text(self, entry: _Entry, with_patch: bool) -> str:
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

    async def _apply(self, entry: _Entry) -> str:
        from pocketos.workspaces.hostsync import HostConflictError

        lines: list[str] = []
        for folder in [] if self.rw else entry.folders:
            try:
                done = folder.apply()
            except HostConflictError as exc:
                lines.append(f"{folder.host}: not applied: {exc}\n")
                continue
            lines.append(f"{folder.host}: applied {len(done)} change(s)\n")
        return "".join(lines) or await self._changes_text(entry, False)

    async def _run_command(self, sid: str, entry: _Entry, name: str) -> None:
        if name in ("diff", "changes"):
            await self._say(sid, await self._on_vms(self._changes_text(entry, name == "diff")))
            return
        await self._say(sid, await self._on_vms(self._apply(entry)))

    async def _changed(self, entry: _Entry) -> bool:
        return not self.rw and any(f.changes() for f in entry.folders)

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
            result = await self._on_vms(entry.session.prompt([_dump(b) for b in prompt]))
        except SessionError as exc:
            await entry.queue.join()
            raise RequestError.internal_error({"details": str(exc), "code": exc.code})
        await entry.queue.join()  # every update reaches the editor before the answer
        if await self._on_vms(self._changed(entry)):
            await self._say(
                session_id,
                "\n\n[pocketos] The changes are in the VM only: /diff shows them, /apply "
                "writes them to the host.\n",
            )
        return PromptResponse(stop_reason=result.stop_reason)

    async def _close_entry(self, entry: _Entry) -> None:
        with contextlib.suppress(Exception):
            await entry.session.close()
        with contextlib.suppress(Exception):
            await entry.vm.aclose()

    async def aclose(self) -> None:
        for entry in list(self.entries.values()):
            if self._vms is not None:
                with contextlib.suppress(Exception):
                    await self._vms.call(self._close_entry(entry))
            entry.queue.put_nowait(None)
            if entry.pump is not None:
                with contextlib.suppress(BaseException):
                    await entry.pump
        self.entries.clear()
        vms, self._vms = self._vms, None
        if vms is not None:
            await asyncio.to_thread(vms.stop)


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
                    durable=bool(path) and path != ":memory:",
                    workspaces=args.workspaces or os.environ.get("POCKETOS_WORKSPACES"),
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
