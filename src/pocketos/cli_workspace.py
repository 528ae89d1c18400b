"""``pocketos workspace …``: the workspace store from the command line.

    pocketos workspace create NAME [--base B | --from-dir DIR | --from-snapshot FILE | --setup SCRIPT]
    pocketos workspace list | log NAME | diff NAME [A [B]] | checkout NAME RUN
    pocketos workspace fork NAME NEW [--run N] | delete NAME | gc [--grace S] [--keep-runs N]
    pocketos workspace export NAME DEST [--run N]

Every action takes ``--store URL`` (a directory or an fsspec URL; default
``$POCKETOS_WORKSPACES`` or ``~/.local/share/pocketos/workspaces``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketos.workspaces import WorkspaceError, WorkspaceStore

__all__ = ["add_workspace_parser"]


def _fail(message: str, status: int = 1) -> Exception:
    from pocketos.cli import CLIError

    return CLIError(message, status)


def _store(args: argparse.Namespace) -> WorkspaceStore:
    try:
        return WorkspaceStore(args.store or getattr(args, "store_top", None))
    except (WorkspaceError, OSError, ValueError, ImportError) as exc:
        raise _fail(f"cannot open workspace store: {exc}")


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (WorkspaceError, ValueError) as exc:
            raise _fail(str(exc))
        except OSError as exc:
            raise _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))

    return wrapped


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _when(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@_run
def cmd_create(args: argparse.Namespace) -> int:
    store = _store(args)
    sources = [args.from_dir, args.from_snapshot, args.setup]
    if sum(s is not None for s in sources) > 1 or (args.base and any(sources)):
        raise _fail("give at most one of --base, --from-dir, --from-snapshot, --setup", 2)
    base = args.base
    if args.from_dir is not None:
        if not os.path.isdir(args.from_dir):
            raise _fail(f"--from-dir {args.from_dir}: not a directory")
        store.create_base(args.name, host_dir=args.from_dir)
        base = args.name
    elif args.from_snapshot is not None:
        try:
            data = Path(args.from_snapshot).read_bytes()
        except OSError as exc:
            raise _fail(f"cannot read snapshot {args.from_snapshot}: {exc.strerror or exc}")
        store.create_base(args.name, snapshot=data, source=f"snapshot:{args.from_snapshot}")
        base = args.name
    elif args.setup is not None:
        from pocketos.vm import VM

        with VM() as vm:
            vm.mkdir(args.path, parents=True, exist_ok=True)
            r = vm.exec(args.setup, cwd=args.path)
            sys.stderr.write(r.stdout + r.stderr)
            if r.exit_code != 0:
                raise _fail(f"the setup script failed with status {r.exit_code}")
            store.create_base(args.name, vm=vm, path=args.path, source=f"setup:{args.setup}")
        base = args.name
    store.create(args.name, base=base)
    sys.stdout.write(f"created workspace {args.name}" + (f" on base {base}" if base else "") + "\n")
    return 0


@_run
def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    items = store.list()
    if args.json:
        _print_json({"workspaces": items, "bases": store.list_bases()})
        return 0
    for w in items:
        base = w["base"] or "-"
        sys.stdout.write(f"{w['name']}\t{w['kind']}\tbase={base}\truns={w['runs']}\n")
    return 0


@_run
def cmd_log(args: argparse.Namespace) -> int:
    runs = _store(args).log(args.name)
    if args.json:
        _print_json([r.to_dict() for r in runs])
        return 0
    for r in reversed(runs):
        s = r.stats
        sys.stdout.write(
            f"run {r.n}  {r.id[:12]}  {_when(r.time)}  {r.author or '-'}\n"
            f"    {r.message}\n"
            f"    +{s.get('added', 0)} ~{s.get('modified', 0)} -{s.get('deleted', 0)}  "
            f"{s.get('files', 0)} files, {s.get('bytes_written', 0)} bytes written\n"
        )
    return 0


@_run
def cmd_diff(args: argparse.Namespace) -> int:
    changes = _store(args).diff(args.name, args.a, args.b)
    if args.json:
        _print_json([c.to_dict() for c in changes])
    elif args.name_status:
        for c in changes:
            sys.stdout.write(f"{c.status[0].upper()}\t{c.path}\n")
    else:
        for c in changes:
            sys.stdout.write(c.patch)
    return 1 if changes and args.exit_code else 0


@_run
def cmd_checkout(args: argparse.Namespace) -> int:
    run = _store(args).checkout(args.name, args.run)
    sys.stdout.write(f"{args.name}: run {run.n} restores run {args.run}\n")
    return 0


@_run
def cmd_fork(args: argparse.Namespace) -> int:
    head = _store(args).fork(args.name, args.new, run=args.run)
    sys.stdout.write(f"forked {args.name} into {args.new} at run {len(head['runs'])}\n")
    return 0


@_run
def cmd_delete(args: argparse.Namespace) -> int:
    _store(args).delete(args.name)
    sys.stdout.write(f"deleted workspace {args.name} (run gc to free its storage)\n")
    return 0


@_run
def cmd_gc(args: argparse.Namespace) -> int:
    res = _store(args).gc(grace=args.grace, keep_runs=args.keep_runs)
    if args.json:
        _print_json(res)
    else:
        sys.stdout.write(
            f"deleted {res['deleted']} objects ({res['bytes_freed']} bytes); "
            f"{res['live']} in use, {res['young']} kept as younger than {args.grace:g} s\n"
        )
    return 0


@_run
def cmd_export(args: argparse.Namespace) -> int:
    from pocketos.workspaces.export import export_tree

    store = _store(args)
    tree = store.tree(args.name, args.run)
    n = export_tree(store, tree, args.dest)
    sys.stdout.write(f"exported {n} entries of {args.name} to {args.dest}\n")
    return 0


def add_workspace_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "workspace",
        help="manage workspaces (bases and chains of committed runs)",
        description="Workspaces: named bases and chains of committed runs in a "
        "content-addressed store (a directory or an fsspec URL such as s3://bucket/prefix).",
    )
    p.add_argument("--store", dest="store_top", metavar="URL", default=None, help="the store")
    wsub = p.add_subparsers(dest="wscmd", metavar="ACTION", parser_class=parser_class)
    wsub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="the store: a directory or fsspec URL (default $POCKETOS_WORKSPACES or "
        "~/.local/share/pocketos/workspaces)",
    )

    def action(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> Any:
        a = wsub.add_parser(name, help=help, description=help, parents=[common])
        a.set_defaults(func=fn)
        return a

    a = action("create", cmd_create, "create a workspace, optionally with a new base")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--base", metavar="BASE", help="start from an existing base")
    a.add_argument("--from-dir", metavar="DIR", help="make base NAME from a host directory")
    a.add_argument("--from-snapshot", metavar="FILE", help="make base NAME from a snapshot file")
    a.add_argument("--setup", metavar="SCRIPT", help="make base NAME by running SCRIPT in a VM")
    a.add_argument("--path", default="/workspace", help="where --setup runs (default /workspace)")
    a = action("list", cmd_list, "list workspaces")
    a.add_argument("--json", action="store_true", help="print JSON (with the bases)")
    a = action("log", cmd_log, "show the runs of a workspace, newest first")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--json", action="store_true", help="print JSON, oldest first")
    a = action("diff", cmd_diff, "show changes between two runs (default: the last run)")
    a.add_argument("name", metavar="NAME")
    a.add_argument("a", metavar="A", type=int, nargs="?", help="from run A (0: the base)")
    a.add_argument("b", metavar="B", type=int, nargs="?", help="to run B (default: latest)")
    a.add_argument("--name-status", action="store_true", help="only A/M/D and the path")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.add_argument("--exit-code", action="store_true", help="exit 1 if there are changes")
    a = action("checkout", cmd_checkout, "roll back to an earlier run (as a new run)")
    a.add_argument("name", metavar="NAME")
    a.add_argument("run", metavar="RUN", type=int)
    a = action("fork", cmd_fork, "make a new workspace sharing this one's history")
    a.add_argument("name", metavar="NAME")
    a.add_argument("new", metavar="NEW")
    a.add_argument("--run", type=int, default=None, help="fork at this run (default: latest)")
    a = action("delete", cmd_delete, "delete a workspace (gc frees its storage)")
    a.add_argument("name", metavar="NAME")
    a = action("gc", cmd_gc, "delete objects no workspace or base references")
    a.add_argument(
        "--grace",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="keep unreferenced objects younger than this (default 3600)",
    )
    a.add_argument("--keep-runs", type=int, default=None, metavar="N", help="keep N runs each")
    a.add_argument("--json", action="store_true", help="print JSON")
    a = action("export", cmd_export, "write a run's files to a host directory or .snap file")
    a.add_argument("name", metavar="NAME")
    a.add_argument("dest", metavar="DEST", help="a new directory, or FILE.snap for a snapshot")
    a.add_argument("--run", type=int, default=None, help="export this run (default: latest)")
