"""Long fuzz run of the fs policy model: ``python -m bench.fuzz_policy [--sequences N]
[--seed S] [--ops K]``.

Plays N random policies with K random operations each (mv, ln, cp, symlink, rm, chmod,
truncate, writes, reads, mkdir, fork, API move/read over the VM root, a read-write host
directory, an overlay over a host directory, a memory mount and an fsspec mount) and checks
after every step that no denied content was read and no denied object changed (the model
in tests/security/policy_model.py). Prints the figure for docs/threat-model.md; a violation
prints its seed (add it to SEEDS in tests/security/test_policy_model.py) and exits 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz_policy")
    ap.add_argument("--sequences", type=int, default=2000, help="random cases to play")
    ap.add_argument("--seed", type=int, default=0, help="first seed (case i uses seed+i)")
    ap.add_argument("--ops", type=int, default=12, help="operations per case")
    args = ap.parse_args(argv)

    from tests.security.policy_model import random_case, run_case

    start = time.perf_counter()
    violations = 0
    steps = 0
    for i in range(args.sequences):
        seed = args.seed + i
        case = random_case(random.Random(seed), args.ops)
        steps += len(case.ops)
        try:
            problems = run_case(case)
        except Exception as exc:  # pocketos itself failed: as bad as a violation
            problems = [f"crash: {type(exc).__name__}: {exc}"]
        if problems:
            violations += 1
            print(f"seed {seed}: {problems[0]}", file=sys.stderr)
            print(f"  policy rules: {case.rules} (default {case.default})", file=sys.stderr)
            print(f"  operations: {case.ops}", file=sys.stderr)
        if (i + 1) % 100 == 0:
            print(f"... {i + 1} sequences, {violations} violations", file=sys.stderr)
    took = time.perf_counter() - start
    print(
        f"policy fuzz: {args.sequences} sequences ({steps} operations, seeds "
        f"{args.seed}..{args.seed + args.sequences - 1}), violations = {violations}, "
        f"{took:.0f} s"
    )
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
