"""``pocketos sessions list|show|export|rm``: the agent sessions kept in a session store (the
SQLite file ``pocketos agent --store`` and ``create_session(store=...)`` write)."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from typing import Any

__all__ = ["add_sessions_parser"]


def _fail(message: str, status: int = 1) -> Exception:
    from pocketos.cli import CLIError

    return CLIError(message, status)


def _open(args: argparse.Namespace) -> Any:
    from pocketos.store import Store

    path = args.store or os.environ.get("POCKETOS_STORE")
    if not path:
        raise _fail("sessions: no session store: pass --store FILE or set POCKETOS_STORE", 2)
    if not os.path.isfile(path):
        raise _fail(f"sessions: {path}: no such session store")
    return Store(path)


def _when(t: float | None) -> str:
    if not t:
        return "-"
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _row(store: Any, session_id: str) -> dict[str, Any]:
    from pocketos.sessions import list_sessions

    for r in list_sessions(store=store):
        if r["id"] == session_id:
            return dict(r)
    raise _fail(f"sessions: no such session: {session_id}")


def cmd_list(args: argparse.Namespace) -> int:
    from pocketos.sessions import list_sessions

    store = _open(args)
    try:
        rows = list_sessions(store=store)
    finally:
        store.close()
    if args.json:
        for r in rows:
            sys.stdout.write(json.dumps(r, sort_keys=True, default=str) + "\n")
        return 0
    sys.stdout.write(
        f"{'ID':<22} {'STATUS':<12} {'AGENT':<12} {'PROMPTS':>7} {'TOKENS':>9} {'COST':>8}  "
        f"UPDATED (UTC)        TITLE\n"
    )
    for r in rows:
        tokens = int(r.get("input_tokens") or 0) + int(r.get("output_tokens") or 0)
        cost = "-" if r.get("cost") is None else f"${r['cost']:.4f}"
        sys.stdout.write(
            f"{r['id']:<22} {r['status']:<12} {str(r['agent'])[:12]:<12} "
            f"{r.get('prompts') or 0:>7} {tokens:>9} {cost:>8}  {_when(r.get('updated')):<20} "
            f"{r.get('title') or ''}\n"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        r = _row(store, args.id)
        prompts = store.prompts(args.id)
    finally:
        store.close()
    if args.json:
        r["prompt_records"] = prompts
        sys.stdout.write(json.dumps(r, sort_keys=True, indent=2, default=str) + "\n")
        return 0
    out = sys.stdout
    for key in ("id", "status", "agent", "agent_session_id", "vm", "cwd", "title", "error"):
        if r.get(key):
            out.write(f"{key + ':':<18}{r[key]}\n")
    out.write(f"{'created:':<18}{_when(r.get('created'))}\n")
    out.write(f"{'updated:':<18}{_when(r.get('updated'))}\n")
    cost = "-" if r.get("cost") is None else f"${r['cost']:.4f}"
    out.write(
        f"{'usage:':<18}{r.get('input_tokens', 0)} input + {r.get('output_tokens', 0)} "
        f"output tokens, cost {cost}\n"
    )
    for p in prompts:
        text = " ".join(str(b.get("text", "")) for b in p["content"] if isinstance(b, dict)).strip()
        if p.get("ended") is None:
            state = "open"
        elif p.get("error"):
            state = f"error: {p['error']}"
        else:
            state = str(p.get("stop_reason"))
        short = text if len(text) <= 60 else text[:57] + "..."
        out.write(f"prompt {p['n']}: {short!r} -> {state}\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        _row(store, args.id)
        data = store.export_jsonl(args.id)
    finally:
        store.close()
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        sys.stdout.write(data)
    return 0


def _open_elsewhere(row: dict[str, Any]) -> str | None:
    """Where a stored session is still open (its store status says so and its host process
    is not known to have ended), or None."""
    from pocketos.sessions.session import _host_gone

    if row.get("status") not in ("ready", "prompting", "resuming") or _host_gone(row):
        return None
    info = row.get("info") or {}
    if info.get("host_pid") is None:
        return None
    return f"process {info.get('host_pid')} on {info.get('host')}"


def cmd_rm(args: argparse.Namespace) -> int:
    store = _open(args)
    status = 0
    try:
        rows = {r["id"]: r for r in store.list_sessions()}
        for sid in args.ids:
            if sid not in rows:
                sys.stderr.write(f"pocketos: sessions rm: no such session: {sid}\n")
                status = 1
                continue
            where = None if args.force else _open_elsewhere(rows[sid])
            if where is not None:
                sys.stderr.write(
                    f"pocketos: sessions rm: {sid} is open in {where} "
                    f"(status {rows[sid]['status']}); close it first, or pass --force\n"
                )
                status = 1
                continue
            store.delete_session(sid)
            if args.verbose:
                sys.stdout.write(f"removed {sid}\n")
        store.flush()
    finally:
        store.close()
    return status


def add_sessions_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sessions",
        help="list, show, export or remove stored agent sessions",
        description="Agent sessions kept in a session store (SQLite file).",
    )
    ssub = p.add_subparsers(dest="sescmd", metavar="ACTION", parser_class=parser_class)
    ssub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store", metavar="FILE", default=None, help="the session store (default $POCKETOS_STORE)"
    )

    a = ssub.add_parser("list", help="list sessions, newest first", parents=[common])
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    a.set_defaults(func=cmd_list)
    a = ssub.add_parser("show", help="a session's record and prompts", parents=[common])
    a.add_argument("id", metavar="SESSION_ID")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(func=cmd_show)
    a = ssub.add_parser("export", help="a session's transcript as JSON lines", parents=[common])
    a.add_argument("id", metavar="SESSION_ID")
    a.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    a.set_defaults(func=cmd_export)
    a = ssub.add_parser("rm", help="delete sessions and their transcripts", parents=[common])
    a.add_argument("ids", nargs="+", metavar="SESSION_ID")
    a.add_argument("-v", "--verbose", action="store_true", help="name each removed session")
    a.add_argument(
        "-f", "--force", action="store_true", help="remove sessions that are open elsewhere too"
    )
    a.set_defaults(func=cmd_rm)
