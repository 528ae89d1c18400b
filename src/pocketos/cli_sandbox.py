"""``pocketos sandbox prune``: remove what sandboxes of dead host processes left behind."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pocketos.cli_base import PROG

__all__ = ["add_sandbox_parser", "cmd_sandbox_prune"]


def cmd_sandbox_prune(args: argparse.Namespace) -> int:
    from pocketos.sandbox.leftovers import prune

    done = prune(args.tmpdir, dry_run=args.dry_run)
    verb = "Would remove" if args.dry_run else "Removing"
    for path in [*done.dirs, *done.cgroups]:
        print(f"{verb} {path}")
    for path in done.busy:
        sys.stderr.write(f"{PROG}: sandbox prune: cannot remove {path}: still in use\n")
    return 1 if done.busy else 0


def add_sandbox_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sandbox",
        help="manage the heavy sandbox's host leftovers",
        description="The heavy sandbox (see docs/sandbox.md).",
    )
    ssub = p.add_subparsers(dest="sandboxcmd", metavar="ACTION", required=True)
    s = ssub.add_parser(
        "prune",
        help="remove mounts, directories and cgroups of sandboxes whose host process is dead",
        description="Remove the FUSE mount directories and cgroups left by sandboxes whose "
        "host process died without tearing them down (SIGKILL, a crash). Sandboxes of live "
        "processes are never touched. Each sandbox start does this once per process.",
    )
    s.add_argument("-n", "--dry-run", action="store_true", help="only list what would be removed")
    s.add_argument(
        "--tmpdir", metavar="DIR", help="where the mount directories are (default: $TMPDIR or /tmp)"
    )
    s.set_defaults(func=cmd_sandbox_prune)
