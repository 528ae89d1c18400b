"""Long fuzz run of the shell: ``python -m bench.fuzz_shell [--count N] [--seed S]
[--workers W]``.

Runs N generated scripts (seeds S..S+N-1, from the grammar and the mutated comparison cases of
tests/shell/fuzzgen.py), each in a fresh VM with small limits (2 s, 2,000 commands and loop
iterations, 32 MiB of buffers, call depth 200), and counts internal errors (an exception out of
``exec()``, "internal error" or a Python recursion error in the output, a status outside
0..255), hangs (an exec that has not returned 5 s after its 2 s limit) and asyncio tasks left
pending when a VM closed (counted per run of 50 scripts, after a garbage collection). Prints the
figure for docs/benchmarks.md; each problem prints its seed and script (keep the script in
FOUND of tests/shell/test_fuzz.py once fixed: a seed's script changes when the comparison
cases change) and the run exits 1.
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass, field

#: an exec may overrun its limit while it unwinds; past this it is counted as a hang
HANG_AFTER = 5.0
CHUNK = 50


@dataclass
class Outcome:
    run: int = 0
    timeouts: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    hangs: list[tuple[int, str]] = field(default_factory=list)
    #: (first seed, last seed, message) of chunks after which a task was found left behind
    leaks: list[tuple[int, int, str]] = field(default_factory=list)
    slowest: tuple[float, int] = (0.0, -1)


def _run_one(seed: int, out: Outcome) -> None:
    from tests.shell.fuzzgen import EXEC_TIMEOUT, LIMITS, WORKDIR, problem_of, script_for

    from pocketos import VM

    script = script_for(seed)
    box: dict[str, object] = {}

    def target() -> None:
        try:
            with VM(limits=LIMITS) as vm:
                vm.mkdir(WORKDIR, parents=True, exist_ok=True)
                r = vm.exec(script, cwd=WORKDIR, timeout=EXEC_TIMEOUT)
                box["result"] = (r.exit_code, r.stdout_bytes, r.stderr_bytes)
        except BaseException as exc:  # anything out of exec is the bug we look for
            box["error"] = f"{type(exc).__name__}: {exc}"

    start = time.monotonic()
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(EXEC_TIMEOUT + HANG_AFTER)
    took = time.monotonic() - start
    out.run += 1
    if took > out.slowest[0]:
        out.slowest = (took, seed)
    if t.is_alive():
        out.hangs.append((seed, script))
        return
    if "error" in box:
        out.problems.append((seed, script, "exception out of exec: " + str(box["error"])[:300]))
        return
    result = box["result"]
    assert isinstance(result, tuple)
    code, stdout, stderr = result
    if code == 124:
        out.timeouts += 1
    problem = problem_of(code, stdout, stderr)
    if problem:
        out.problems.append((seed, script, problem))


class _LeakLog(logging.Handler):
    """asyncio's "Task was destroyed but it is pending!" (a task that outlived its VM)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


_LEAKS = _LeakLog()


def run_chunk(seeds: range) -> Outcome:
    if _LEAKS not in logging.getLogger("asyncio").handlers:
        logging.getLogger("asyncio").addHandler(_LEAKS)
        sys.unraisablehook = lambda u: _LEAKS.seen.append(f"unraisable: {u.exc_value!r}")
    out = Outcome()
    for seed in seeds:
        _run_one(seed, out)
    gc.collect()  # a task left pending is reported when it is collected
    if _LEAKS.seen:
        out.leaks.append((seeds[0], seeds[-1], _LEAKS.seen[0].splitlines()[0][:200]))
        _LEAKS.seen.clear()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz_shell")
    ap.add_argument("--count", type=int, default=10_000, help="scripts to run")
    ap.add_argument("--seed", type=int, default=0, help="first seed (script i uses seed+i)")
    ap.add_argument("--workers", type=int, default=1, help="processes running scripts")
    ap.add_argument("--show", type=int, metavar="SEED", help="print the script of SEED and exit")
    args = ap.parse_args(argv)
    if args.show is not None:
        from tests.shell.fuzzgen import script_for

        print(script_for(args.show))
        return 0

    chunks = [
        range(s, min(s + CHUNK, args.seed + args.count))
        for s in range(args.seed, args.seed + args.count, CHUNK)
    ]
    total = Outcome()
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, args.workers)) as pool:
        for out in pool.imap_unordered(run_chunk, chunks):
            total.run += out.run
            total.timeouts += out.timeouts
            total.slowest = max(total.slowest, out.slowest)
            for seed, script, problem in out.problems:
                print(f"seed {seed}: {problem}\n  script: {script!r}", file=sys.stderr)
            for seed, script in out.hangs:
                print(f"seed {seed}: hang\n  script: {script!r}", file=sys.stderr)
            for first, last, msg in out.leaks:
                print(f"seeds {first}..{last}: a task outlived its VM: {msg}", file=sys.stderr)
            total.problems += out.problems
            total.hangs += out.hangs
            total.leaks += out.leaks
            if total.run // 5000 != (total.run - out.run) // 5000:
                print(
                    f"... {total.run} scripts, {len(total.problems)} internal errors, "
                    f"{len(total.hangs)} hangs",
                    file=sys.stderr,
                )
    took = time.perf_counter() - start
    print(
        f"shell fuzz: {total.run} scripts (seeds {args.seed}..{args.seed + args.count - 1}), "
        f"internal errors = {len(total.problems)}, hangs = {len(total.hangs)}, "
        f"runs of {CHUNK} that left a task behind = {len(total.leaks)}, "
        f"{total.timeouts} ended by the 2 s timeout, slowest {total.slowest[0]:.1f} s "
        f"(seed {total.slowest[1]}), {took:.0f} s with {args.workers} worker(s)"
    )
    return 1 if total.problems or total.hangs or total.leaks else 0


if __name__ == "__main__":
    sys.exit(main())
