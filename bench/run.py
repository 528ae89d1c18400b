"""Run the benchmark suite: ``python -m bench.run [--quick] [--only GROUP ...] [--json FILE]``.

Every group runs side by side with the alternatives in one process run and prints one
Markdown table (medians, p95/p99, ratios).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from bench.common import load_average, machine, table

GROUPS = [
    "vm",
    "shell",
    "commands",
    "jq",
    "trees",
    "wasm",
    "sessions",
    "workspaces",
    "isolation",
    "paperclip",
    "git",
    "sandbox",
    "attacks",
    "console",
    "cluster",
    "server",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pocketos bench")
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    ap.add_argument("--only", nargs="*", choices=GROUPS, help="groups to run")
    ap.add_argument("--json", help="write raw results to this file")
    args = ap.parse_args(argv)
    results = []
    failed = []
    load_before = load_average()
    for g in args.only or GROUPS:
        try:
            mod = importlib.import_module(f"bench.bench_{g}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.bench_{g}":
                raise
            continue
        t = time.perf_counter()
        try:
            results.extend(mod.run(quick=args.quick))
        except Exception as exc:  # one broken group must not lose the others' results
            failed.append(g)
            print(f"# {g}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        print(f"# {g}: {time.perf_counter() - t:.1f}s", file=sys.stderr)
    print(f"Machine: {machine()}")
    print(f"Load average: {load_before} before, {load_average()} after")
    print(
        f"Command: python -m bench.run{' --quick' if args.quick else ''}"
        f"{' --only ' + ' '.join(args.only) if args.only else ''}\n"
    )
    print(table(results))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.to_dict() for r in results], fh, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
