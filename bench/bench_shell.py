"""The shell: cold start (create + ``echo hello``), warm exec, a 10,000-iteration arithmetic loop,
command substitution, a realistic agent-style script (bench/agent_script.sh), a 3-stage pipeline
over 10 MB, and memory per VM after one command — pocketos side by side with just-bash (PyPI),
``bash -c`` in a subprocess and ``bash -c`` inside bubblewrap. The substitution and agent-script
rows run the systems interleaved in one loop, so load on the machine hits them alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
SUBST_N = 200
#: command substitutions, one per iteration: a builtin, a builtin on a pipe, and a command
#: reading a file (the loop itself is measured on its own in the loop row)
SUBSTS = {
    "$(echo $i)": "x=$(echo $i)",
    "$(printf | tr)": "x=$(printf '%s' \"$i\" | tr 0-9 a-j)",
    "$(wc -l < file)": "x=$(wc -l < f.txt)",
}
AGENT = Path(__file__).with_name("agent_script.sh")
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


def _interleaved(
    out: list[Result], name: str, runs: dict[str, Callable[[], object]], reps: int, per: int
) -> None:
    """Run each system once per round, ``reps`` rounds, one after another; ``per`` divides each
    sample (per-operation time)."""
    samples: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm up (imports, caches)
    for _ in range(reps):
        for k, fn in runs.items():
            samples[k].append(once(fn) / per)
    for k, v in samples.items():
        out.append(Result(G, name, k, "s", v))


def _subst(out: list[Result], quick: bool) -> None:
    reps = 3 if quick else 9
    for label, body in SUBSTS.items():
        _subst_row(out, label, body, reps)


def _subst_row(out: list[Result], label: str, body: str, reps: int) -> None:
    import tempfile

    from pocketos import VM

    script = f'for ((i=0;i<{SUBST_N};i++)); do {body}; done; echo "$x"'
    name = f"command substitution {label}, per substitution ({SUBST_N} in a loop)"
    data = b"a\nb\nc\n"
    with VM(cwd="/d") as vm, tempfile.TemporaryDirectory() as d:
        vm.write_file("/d/f.txt", data, parents=True)
        Path(d, "f.txt").write_bytes(data)
        expect = host_bash(script, cwd=d).decode()
        runs: dict[str, Callable[[], object]] = {}

        def pocket() -> None:
            r = vm.exec(script)
            assert r.stdout == expect, (r.stdout, r.stderr)

        runs["pocketos"] = pocket
        if have_just_bash():
            b = just_bash({"/d/f.txt": data})
            runs["just-bash"] = lambda: b.run(script, cwd="/d")
        runs["bash -c (subprocess)"] = lambda: host_bash(script, cwd=d)
        _interleaved(out, name, runs, reps, SUBST_N)


def _agent(out: list[Result], quick: bool) -> None:
    """bench/agent_script.sh (heredocs, sed -i, grep -rn, find | xargs, jq, sort | uniq -c,
    awk, tar), each run in a fresh directory; pocketos must print what bash prints."""
    import itertools
    import tempfile

    from pocketos import VM

    script = AGENT.read_text()
    name = f"agent-style script ({len(script.splitlines())} lines, bench/agent_script.sh)"
    reps = 5 if quick else 15
    n = itertools.count()
    with tempfile.TemporaryDirectory() as root:
        first = Path(root, "oracle")
        first.mkdir()
        expect = host_bash(script, cwd=str(first)).decode()
        vm = VM()
        runs: dict[str, Callable[[], object]] = {}

        def pocket() -> None:
            d = f"/w/{next(n)}"
            vm.exec(f"mkdir -p {d}")
            r = vm.exec(script, cwd=d)
            assert r.stdout == expect and r.exit_code == 0, (r.stdout, r.stderr)

        runs["pocketos"] = pocket
        if have_just_bash():
            b = just_bash()

            def jb() -> None:
                d = f"/w/{next(n)}"
                b.run(f"mkdir -p {d}")
                b.run(script, cwd=d)

            runs["just-bash"] = jb

        def bash() -> None:
            d = Path(root, str(next(n)))
            d.mkdir()
            assert host_bash(script, cwd=str(d)).decode() == expect

        runs["bash -c (subprocess)"] = bash
        _interleaved(out, name, runs, reps, 1)
        vm.close()


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
    for part in (_cold, _warm, _loop, _subst, _agent, _pipeline, _memory):
        part(out, quick)
    return out
