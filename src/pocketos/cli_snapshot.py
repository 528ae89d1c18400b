"""``pocketos snapshot export|import|inspect``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from pocketos.cli_base import CLIError
from pocketos.cli_vm import _make_vm, _os_text, _save_snapshot, _Writer

__all__ = ["cmd_snapshot_export", "cmd_snapshot_import", "cmd_snapshot_inspect"]


# --- snapshots -------------------------------------------------------------------------------
def cmd_snapshot_export(args: argparse.Namespace) -> int:
    vm = _make_vm(args)
    loop = asyncio.new_event_loop()
    try:
        status = 0
        if args.exec is not None:
            log = _Writer(sys.stderr)
            r = loop.run_until_complete(
                vm.exec(args.exec, timeout=args.timeout, on_stdout=log, on_stderr=log)
            )
            log.rest(r.stdout_bytes + r.stderr_bytes)
            status = r.exit_code
            if status != 0 and not args.force:
                raise CLIError(
                    f"the --exec script failed with status {status}; "
                    f"no snapshot written (use --force to write it anyway)"
                )
        if not args.path.startswith("/"):
            raise CLIError(f"--path {args.path!r}: the path must be absolute", 2)
        try:
            _save_snapshot(vm, args.output, os.path.normpath(args.path))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise CLIError(f"cannot snapshot {args.path}: {_os_text(exc)}")
        if args.snapshot_out:
            _save_snapshot(vm, args.snapshot_out)
        return 0
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(vm.aclose())
        loop.close()


def _load_snapshot(path: str) -> Any:
    from pocketos.snapshot import Snapshot

    try:
        return Snapshot.load(path)
    except FileNotFoundError:
        raise CLIError(f"snapshot not found: {path}")
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory")
    except OSError as exc:
        raise CLIError(f"cannot read snapshot {path}: {exc.strerror or exc}")
    except (ValueError, KeyError) as exc:
        raise CLIError(f"bad snapshot {path}: {exc}")


def cmd_snapshot_import(args: argparse.Namespace) -> int:
    """Load a snapshot into a new VM and list what it holds, as the VM sees it."""
    from pocketos.vm import AsyncVM

    snap = _load_snapshot(args.file)
    try:
        vm = AsyncVM(snapshots=[snap])
    except (ValueError, OSError) as exc:
        raise CLIError(f"cannot import {args.file}: {_os_text(exc)}")
    try:
        rows: list[dict[str, Any]] = []
        prefix = snap.root.rstrip("/")
        for e in snap.entries:
            path = f"{prefix}/{e['path']}" if e["path"] else (snap.root or "/")
            try:
                st = vm.lstat(path)
            except OSError as exc:
                raise CLIError(f"import check failed: {path}: {_os_text(exc)}")
            rows.append(
                {
                    "path": path,
                    "type": e["type"],
                    "mode": f"{st.st_mode & 0o7777:04o}",
                    "size": st.st_size if e["type"] in ("file", "hardlink") else 0,
                }
            )
        if args.json:
            print(json.dumps({"file": args.file, "root": snap.root, "entries": rows}, indent=2))
        else:
            for row in rows:
                print(f"{row['type']:<8} {row['mode']} {row['size']:>10} {row['path']}")
        return 0
    finally:
        vm.close()


def cmd_snapshot_inspect(args: argparse.Namespace) -> int:
    snap = _load_snapshot(args.file)
    info = snap.inspect()
    info["digest"] = snap.digest
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    for key in ("format", "version", "root", "entries", "blobs", "bytes", "digest"):
        print(f"{key}: {info[key]}")
    types = info.get("types") or {}
    print("types: " + ", ".join(f"{k}={types[k]}" for k in sorted(types)))
    return 0
