"""The shell: cold start (create + ``echo hello``), warm exec, a 10,000-iteration arithmetic loop,
a 3-stage pipeline over 10 MB, and memory per VM after one command — pocketos side by side with
just-bash (PyPI), ``bash -c`` in a subprocess and ``bash -c`` inside bubblewrap."""

from __future__ import annotations

from collections.abc import Callable

from bench.bench_vm import staircase
from bench.common import (
    MB,
    Result,
    have_bwrap,
    have_just_bash,
    host_bash,
    just_bash,
    once,
    text_data,
    timeit,
)

LOOP_N = 10_000
LOOP = f"x=0; for ((i=0;i<{LOOP_N};i++)); do x=$((x+i)); done; echo $x"
PIPE = "cat big.txt | grep foo | wc -l"
G = "shell"


def _cold(out: list[Result], quick: bool) -> None:
    from pocketos import VM

    n = 1000 if quick else 10_000
    sub = 100 if quick else 500

    def pocket() -> None:
        with VM() as vm:
            r = vm.exec("echo hello")
        assert r.stdout == "hello\n", r.stderr

    name = "cold start: create + exec('echo hello')"
    out.append(Result(G, name, "pocketos", "s", timeit(pocket, n), note="target < 300 µs"))
    if have_just_bash():
        from just_bash import Bash

        def jb() -> None:
            r = Bash().run("echo hello")
            assert r.stdout == "hello\n"

        out.append(Result(G, name, "just-bash", "s", timeit(jb, max(100, n // 10))))
    out.append(
        Result(
            G,
            name,
            "bash -c (subprocess)",
            "s",
            timeit(lambda: host_bash("echo hello"), sub, warmup=3),
        )
    )
    if have_bwrap():
        out.append(
            Result(
                G,
                name,
                "bwrap + bash -c",
                "s",
                timeit(lambda: host_bash("echo hello", sandbox=True), sub, warmup=3),
            )
        )


def _warm(out: list[Result], quick: bool) -> None:
    from pocketos import VM

    n = 1000 if quick else 10_000
    name = "warm exec('echo hello') on one VM"
    with VM() as vm:
        out.append(Result(G, name, "pocketos", "s", timeit(lambda: vm.exec("echo hello"), n)))
    if have_just_bash():
        b = just_bash()
        out.append(
            Result(
                G, name, "just-bash", "s", timeit(lambda: b.run("echo hello"), max(100, n // 10))
            )
        )


def _loop(out: list[Result], quick: bool) -> None:
    from pocketos import VM

    reps = 2 if quick else 5
    expect = f"{sum(range(LOOP_N))}\n"
    name = f"arithmetic loop, per iteration ({LOOP_N:,} iterations)"

    def per_iter(run: Callable[[], None], k: int) -> list[float]:
        return [once(run) / LOOP_N for _ in range(k)]

    with VM() as vm:

        def pocket() -> None:
            r = vm.exec(LOOP)
            assert r.stdout == expect, r.stderr

        pocket()
        out.append(Result(G, name, "pocketos", "s", per_iter(pocket, reps), note="target < 15 µs"))
    if have_just_bash():
        b = just_bash()

        def jb() -> None:
            r = b.run(LOOP)
            assert r.stdout == expect, r.stderr

        out.append(Result(G, name, "just-bash", "s", per_iter(jb, max(1, reps // 2))))

    def bash() -> None:
        assert host_bash(LOOP).decode() == expect

    out.append(Result(G, name, "bash -c (subprocess)", "s", per_iter(bash, reps)))


def _pipeline(out: list[Result], quick: bool) -> None:
    import tempfile
    from pathlib import Path

    from pocketos import VM

    reps = 2 if quick else 5
    data = text_data(10 * MB)
    expect = f"{sum(1 for line in data.splitlines() if b'foo' in line)}\n"
    name = "cat big | grep foo | wc -l, 10 MB"
    with VM(cwd="/data") as vm:
        vm.write_file("/data/big.txt", data, parents=True)

        def pocket() -> None:
            r = vm.exec(PIPE)
            assert r.stdout == expect, r.stderr

        out.append(
            Result(
                G, name, "pocketos", "s", [once(pocket) for _ in range(reps)], note="target < 0.5 s"
            )
        )
    if have_just_bash():
        # just-bash is slow here (about a minute for 10 MB): measure 1 MB, and 10 MB only
        # in a full run when 1 MB was quick enough
        small = text_data(1 * MB)
        small_expect = f"{sum(1 for line in small.splitlines() if b'foo' in line)}\n"
        b = just_bash({"/data/big.txt": small})
        r = None

        def jb_small() -> None:
            nonlocal r
            r = b.run(PIPE, cwd="/data")

        t1 = once(jb_small)
        assert r is not None and r.stdout == small_expect, r
        if not quick and t1 < 10:
            big = just_bash({"/data/big.txt": data})

            def jb_big() -> None:
                res = big.run(PIPE, cwd="/data")
                assert res.stdout == expect

            out.append(Result(G, name, "just-bash", "s", [once(jb_big)], note="1 run"))
        else:
            out.append(
                Result(
                    G,
                    name,
                    "just-bash",
                    "s",
                    [t1 * 10],
                    note="measured on 1 MB, ×10 (its real 10 MB time is longer)",
                )
            )
    with tempfile.TemporaryDirectory() as d:
        Path(d, "big.txt").write_bytes(data)
        host_bash(PIPE, cwd=d)

        def bash() -> None:
            assert host_bash(PIPE, cwd=d).decode().strip() == expect.strip()

        out.append(Result(G, name, "bash -c (subprocess)", "s", [once(bash) for _ in range(reps)]))


POCKET_MEM = """
from pocketos import VM
VM().exec("echo warm")
def mk():
    vm = VM()
    vm.exec("echo hello")
    return vm
"""
JB_MEM = """
from just_bash import Bash
Bash().run("echo warm")
def mk():
    b = Bash()
    b.run("echo hello")
    return b
"""


def _memory(out: list[Result], quick: bool) -> None:
    name = "memory per VM after one command"
    count = 1000 if quick else 5000
    try:
        per = staircase(POCKET_MEM, "mk()", count)
        out.append(
            Result(
                G,
                name,
                "pocketos",
                "bytes",
                value=per,
                note=f"RSS delta over {count} VMs, fresh process",
            )
        )
    except RuntimeError:
        pass
    if have_just_bash():
        jcount = count // 5
        try:
            per = staircase(JB_MEM, "mk()", jcount)
            out.append(
                Result(
                    G,
                    name,
                    "just-bash",
                    "bytes",
                    value=per,
                    note=f"RSS delta over {jcount} shells, fresh process",
                )
            )
        except RuntimeError:
            pass


def run(quick: bool = False) -> list[Result]:
    out: list[Result] = []
    for part in (_cold, _warm, _loop, _pipeline, _memory):
        part(out, quick)
    return out
