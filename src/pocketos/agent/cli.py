"""``pocketos agent "prompt"``: run the built-in agent in a fresh VM from a terminal,
streaming its messages and tool calls, answering permission prompts at the terminal and
printing token usage and cost at the end."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, TextIO

from pocketos.workspaces.hostsync import HostFolder

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pocketos agent", description="Run the pocketos agent on a prompt in a VM."
    )
    ap.add_argument("prompt", nargs="*", help="the prompt (read from stdin when omitted)")
    ap.add_argument("--provider", choices=["openai", "anthropic"])
    ap.add_argument("--model")
    ap.add_argument("--base-url")
    ap.add_argument("--max-turns", type=int)
    ap.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="fail a model request that gets no answer for this long (default 60)",
    )
    ap.add_argument(
        "--retries", type=int, help="retries of a failed model request (default 4; not timeouts)"
    )
    ap.add_argument("--cwd", default="/home/user", help="working directory in the VM")
    ap.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="HOSTDIR:VMPATH",
        help="mount a host directory as an overlay (reads the host, writes stay in the VM); "
        "its changes are listed at the end",
    )
    ap.add_argument(
        "--apply",
        action="store_true",
        help="write the changes made in --mount folders back to the host (refused for any "
        "host file changed meanwhile)",
    )
    ap.add_argument("--diff", action="store_true", help="print the changes as a unified diff")
    ap.add_argument("--mode", choices=["default", "ask", "read-only"], default="default")
    ap.add_argument("--yes", action="store_true", help="allow every permission request")
    ap.add_argument(
        "--store", help="SQLite file for the transcript (default: $POCKETOS_STORE, else in memory)"
    )
    ap.add_argument("--resume", metavar="SESSION_ID", help="continue a stored session")
    ap.add_argument("--json", action="store_true", help="print every event as JSON lines")
    return ap


class _Printer:
    def __init__(self, out: TextIO, err: TextIO, as_json: bool) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json
        self.mid_line = False

    def __call__(self, ev: Any) -> None:
        if self.as_json:
            self.out.write(json.dumps(ev.to_dict(), default=str) + "\n")
            self.out.flush()
            return
        d = ev.data
        if ev.kind == "update":
            kind = d.get("sessionUpdate")
            if kind == "agent_message_chunk" and d.get("content", {}).get("type") == "text":
                text = str(d["content"].get("text", ""))
                self.out.write(text)
                self.out.flush()
                self.mid_line = not text.endswith("\n")
            elif kind == "tool_call":
                self._line(f"[tool] {d.get('title', '')}")
            elif kind == "tool_call_update" and d.get("status") in ("completed", "failed"):
                self._line(f"[tool] {d.get('status')}")
        elif ev.kind == "session.error":
            self._line(f"[error] {d.get('message')}")

    def _line(self, text: str) -> None:
        if self.mid_line:
            self.out.write("\n")
            self.out.flush()
            self.mid_line = False
        self.err.write(text + "\n")
        self.err.flush()


async def _run(args: argparse.Namespace, prompt: str, out: TextIO, err: TextIO) -> int:
    from pocketos import AsyncVM, PermissionRequest
    from pocketos.sessions import SessionError, create_session, resume_session
    from pocketos.store import Store

    async def ask(req: PermissionRequest) -> str:
        if args.yes:
            return "allow_once"
        title = req.detail.get("title") or req.resource
        question = f"[permission] {title} ({req.capability})? [y]es / [a]lways / [N]o: "

        def read() -> str:
            err.write(question)
            err.flush()
            try:
                return input().strip().lower()
            except EOFError:
                return ""

        answer = await asyncio.to_thread(read)
        return {
            "y": "allow_once",
            "yes": "allow_once",
            "a": "allow_always",
            "always": "allow_always",
        }.get(answer, "reject_once")

    config: dict[str, Any] = {}
    for key in ("provider", "model", "base_url", "max_turns", "request_timeout", "retries"):
        v = getattr(args, key)
        if v is not None:
            config[key] = v
    mounts = {}
    for spec in args.mount:
        host, _, path = spec.rpartition(":")
        if not host or not path.startswith("/"):
            err.write(f"pocketos agent: bad --mount {spec!r} (want HOSTDIR:/vm/path)\n")
            return 2
        if not os.path.isdir(host):
            err.write(f"pocketos agent: --mount {spec!r}: {host} is not a directory\n")
            return 2
        mounts[path] = host
    path = args.store or os.environ.get("POCKETOS_STORE")
    store = Store(path) if path else Store(":memory:")
    vm = AsyncVM()
    printer = _Printer(out, err, args.json)
    code = 0
    folders = [HostFolder.mount(vm, host, path) for path, host in mounts.items()]
    try:
        vm.mkdir(args.cwd, parents=True, exist_ok=True)
        if args.resume:
            session = await resume_session(
                vm,
                args.resume,
                store=store,
                permission_handler=ask,
                agent_config=config or None,
                permission_timeout=3600,
            )
        else:
            session = await create_session(
                vm,
                "pocketos",
                cwd=args.cwd,
                store=store,
                permission_handler=ask,
                agent_config=config or None,
                permission_timeout=3600,
            )
        session.on_event(printer, backlog=False)
        if args.mode != "default":
            await session.set_mode(args.mode)
        try:
            result = await session.prompt(prompt)
        except KeyboardInterrupt:
            await session.cancel()
            return 130
        if printer.mid_line or (result.text and not result.text.endswith("\n")):
            out.write("\n")
        u = session.usage_totals
        cost = f", cost ${u['cost']:.4f}" if u.get("cost") else ""
        err.write(
            f"[usage] {u['input_tokens']} input + {u['output_tokens']} output "
            f"tokens{cost}; stop: {result.stop_reason}; session {session.id}\n"
        )
        code = 0 if result.stop_reason in ("end_turn", "max_turn_requests") else 1
        await session.close()
        if folders and _hand_back(args, folders, out, err) != 0:
            code = 1
    except SessionError as exc:
        err.write(f"pocketos agent: {exc}\n")
        code = 1
    finally:
        await vm.aclose()
        store.close()
    return code


def _hand_back(args: argparse.Namespace, folders: list[Any], out: TextIO, err: TextIO) -> int:
    """Show what the agent changed in the mounted host folders and apply it on request."""
    from pocketos.workspaces.hostsync import HostConflictError

    status = 0
    for folder in folders:
        changes = folder.changes()
        if not changes:
            err.write(f"[changes] {folder.host}: none\n")
            continue
        err.write(f"[changes] {folder.host}: {len(changes)} path(s)\n")
        for c in changes:
            err.write(f"  {c.status[0].upper()} {c.path}\n")
        if args.diff:
            out.write("".join(c.patch for c in changes))
            out.flush()
        apply = args.apply
        if not apply and not args.json and sys.stdin is not None and sys.stdin.isatty():
            err.write(f"Apply these changes to {folder.host}? [y/N] ")
            err.flush()
            try:
                apply = input().strip().lower() in ("y", "yes")
            except EOFError:
                apply = False
        if not apply:
            err.write("[changes] not applied (use --apply to write them to the host)\n")
            continue
        try:
            folder.apply()
        except HostConflictError as exc:
            err.write(f"pocketos agent: {exc}\n")
            status = 1
            continue
        err.write(f"[changes] applied to {folder.host}\n")
    return status


def main(
    argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Entry point of ``pocketos agent``; returns the exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    prompt = " ".join(args.prompt) if args.prompt else sys.stdin.read()
    if not prompt.strip():
        err.write("pocketos agent: no prompt given\n")
        return 2
    try:
        return asyncio.run(_run(args, prompt, out, err))
    except KeyboardInterrupt:
        return 130
