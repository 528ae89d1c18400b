"""The pocketos command line."""

from __future__ import annotations

import argparse
import sys

DEMO = r"""
mkdir -p /home/user/demo && cd /home/user/demo
printf 'apple 3\nbanana 7\ncherry 5\napple 2\n' > fruit.txt
echo "== totals per fruit"
awk '{s[$1]+=$2} END {for (f in s) print f, s[f]}' fruit.txt | sort
echo "== the biggest"
sort -k2 -n -r fruit.txt | head -n 1
echo "== files"
ls -l | tail -n +2 | awk '{print $1, $5, $NF}'
"""


def main(argv: list[str] | None = None) -> int:
    from pocketos import VM, __version__

    ap = argparse.ArgumentParser(prog="pocketos", description="An OS for AI agents, in-process.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="run a short demo in a fresh VM")
    p_exec = sub.add_parser("exec", help="run a bash script in a fresh VM")
    p_exec.add_argument("script")
    sub.add_parser("version", help="print the version")
    args = ap.parse_args(argv)
    if args.cmd == "version":
        print(f"pocketos {__version__}")
        return 0
    script = DEMO if args.cmd == "demo" else args.script
    with VM() as vm:
        r = vm.exec(script)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.exit_code
