"""jq and yq evaluate guest programs in libjq, which holds the GIL for as long as it computes:
in the host, ``def f: f; f`` never returned (the exec's timeout could not stop it) and
``[range(1e9)]`` grew the host by gigabytes. They now run in a helper process that the deadline
kills and whose memory is capped at what is left of the exec's budget."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM
from tests._own_process import peak_while
from tests.security._util import assert_no_crash, peak_rss, reset_peak_rss

MiB = 1024 * 1024
MEM = 16 * MiB
#: what the host may grow by beyond the limit (the VM, interpreter caches)
OVERHEAD = 48 * MiB


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            out[k] = v.strip()
    except OSError:
        pass
    return out


def _helpers() -> list[tuple[int, str]]:
    """The host's jq helper processes: (pid, state letter)."""
    me = str(os.getpid())
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _status(int(entry.name))
        if st.get("PPid") != me:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"_jq_helper.py" in cmd:
            out.append((int(entry.name), st.get("State", "?")[:1]))
    return out


def _helpers_all_wait() -> bool:
    """Do all helpers end up waiting for work? One that was computing when its exec ended
    must be gone; a spare just started is busy for a moment (importing jq), so this waits for
    that — generously, it only has to happen at all."""
    deadline = time.monotonic() + 60
    while True:
        if all(state in ("S", "Z") for _, state in _helpers()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _usable(vm: VM) -> None:
    r = vm.exec("echo '{\"a\":[1,2]}' | jq -c '.a | map(. * 2)'")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "[2,4]\n", "")
    assert [p for p in vm.list_processes() if p["status"] == "running"] == []


NEVER_ENDS = [
    "jq -n 'def f: f; f'",
    "echo '{}' | jq 'def f: f; f'",
    "jq -n 'last(range(infinite))' > /dev/null",
    "jq -n 'range(infinite) | select(. < 0)'",
    "seq 3 | jq -n '[inputs] | def f: f; f'",
    "yq -n 'def f: f; f'",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", NEVER_ENDS)
def test_endless_jq_program_meets_the_timeout(vm: VM, script: str) -> None:
    timeout = 0.5
    r = vm.exec(script, timeout=timeout, limits={"max_memory": MEM})
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (124, "timeout"), r
    # the helper that was computing is gone; the ones left wait for work
    assert _helpers_all_wait(), _helpers()
    _usable(vm)


GROWS = [
    "jq -n '[range(1e9)]'",
    "jq -n 'def f: [f]; f'",
    "jq -n 'reduce range(1e9) as $i ([]; . + [$i])'",
    "jq -n '[limit(1e9; repeat(\"xxxxxxxxxxxxxxxx\"))] | add'",
    "echo '\"ab\"' | jq 'def f: ., (. + . | f); last(f)'",
    "yq -n '[range(1e9)]'",
]


@pytest.mark.parametrize("script", GROWS)
def test_growing_jq_program_stops_at_max_memory(vm: VM, script: str) -> None:
    # the timeout only backs up the test: the memory limit must end the work first
    measured = reset_peak_rss()
    before = peak_rss()
    r = vm.exec(script, timeout=60, limits={"max_memory": MEM})
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r
    assert "jq: memory limit exceeded (max_memory=16 MiB)" in r.stderr
    if measured:
        assert peak_rss() - before < MEM + OVERHEAD
    _usable(vm)


def test_vm_memory_cap_bounds_jq_too() -> None:
    with VM(limits={"max_vm_memory": MEM, "max_memory": 64 * MiB}) as vm:
        r = vm.exec("jq -n '[range(1e9)]'", timeout=60)
        assert (r.exit_code, r.limit_hit) == (125, "max_vm_memory"), r
        assert "jq: VM memory limit exceeded (max_vm_memory=16 MiB)" in r.stderr
        _usable(vm)


def test_killed_jq_stops_its_helper(vm: VM) -> None:
    r = vm.exec("jq -n 'def f: f; f' & sleep 0.2; kill $!; wait $!; echo status=$?", timeout=30)
    assert r.stdout.endswith("status=143\n"), r
    assert _helpers_all_wait(), _helpers()
    _usable(vm)


def test_jq_stopped_early_by_its_reader_gives_correct_results_afterwards(vm: VM) -> None:
    # head closes the pipe while jq has results pending: the next jq must not see them
    r = vm.exec("jq -n 'range(1e9)' | head -3; jq -n '[range(3)]' -c; jq -n 'halt_error'")
    assert (r.stdout, r.exit_code) == ("0\n1\n2\n[0,1,2]\n", 5), r
    for _ in range(5):
        _usable(vm)


@pytest.mark.timeout(120)
def test_many_jq_programs_at_once_are_bounded_and_clean(vm: VM) -> None:
    # more than the helpers allowed at once: the extra ones are refused, none hangs
    script = "for i in $(seq 24); do jq -n 'def f: f; f' & done; wait"
    r = vm.exec(script, timeout=15)
    assert_no_crash(r)
    assert r.limit_hit == "timeout", r
    assert "jq: too many jq programs running at once (at most 16)" in r.stderr, r
    assert _helpers_all_wait(), _helpers()
    assert len(_helpers()) <= 8, _helpers()
    _usable(vm)


@pytest.mark.own_process
@pytest.mark.parametrize(
    "doc",
    [
        b"[" + b"[]," * (2 * MiB) + b"[]]",
        b"[" + b"{}," * (2 * MiB) + b"{}]",
        b'{"a":[' + b"1.5," * (1 * MiB) + b"1]}",
    ],
    ids=["lists", "dicts", "floats"],
)
def test_jq_input_costing_many_times_its_size_is_refused_before_it_is_decoded(
    vm: VM, doc: bytes
) -> None:
    # a few MiB of text that Python's json turns into 20-30 times as many bytes of objects
    vm.write_file("/tmp/dense.json", doc)
    r, peak = peak_while(lambda: vm.exec("jq length /tmp/dense.json", limits={"max_memory": MEM}))
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r
    assert "jq: input: memory limit exceeded (max_memory=16 MiB)" in r.stderr
    assert peak < MEM + OVERHEAD
    vm.exec("rm /tmp/dense.json")
    _usable(vm)


def test_jq_input_of_ordinary_density_still_fits() -> None:
    with VM() as vm:
        vm.write_file("/tmp/ok.json", b"[" + b'{"name":"foo","n":1},' * 100_000 + b"{}]")
        r = vm.exec("jq length /tmp/ok.json", limits={"max_memory": 64 * MiB})
        assert (r.exit_code, r.stdout) == (0, "100001\n"), r


@pytest.mark.timeout(720)
def test_jq_stream_of_a_deep_document_is_bounded(vm: VM) -> None:
    # every leaf's event carries its whole path: 100,000 leaves 200 deep are 20 million path
    # elements from 400 KB of text; they are made in the helper, under the memory cap
    depth, width = 200, 100_000
    doc = b"[" * depth + b",".join([b"1"] * width) + b"]" * depth
    vm.write_file("/tmp/deep.json", doc)
    measured = reset_peak_rss()
    before = peak_rss()
    # the memory cap must end it; the timeout only backs up a failure (30 s went by under load)
    r = vm.exec("jq -c --stream . /tmp/deep.json", limits={"max_memory": MEM}, timeout=600)
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r
    if measured:
        assert peak_rss() - before < MEM + OVERHEAD
    r = vm.exec("echo '[[1,2]]' | jq -c --stream .")
    assert r.stdout == "[[0,0],1]\n[[0,1],2]\n[[0,1]]\n[[0]]\n", r
    _usable(vm)


def test_helpers_outlive_the_thread_that_started_them() -> None:
    # a helper is killed when the thread that started it ends (PR_SET_PDEATHSIG follows the
    # thread): a helper one thread started and another took must not die under the second
    import threading

    started, release = threading.Event(), threading.Event()

    def owner() -> None:
        with VM() as v:
            # a program that does not pass the in-process screen: starts a helper and a spare
            assert v.exec("jq -n 'def one: 1; one'").stdout == "1\n"
        started.set()
        release.wait(120)

    t = threading.Thread(target=owner)
    t.start()
    assert started.wait(120)
    timer = threading.Timer(0.2, release.set)  # the owner ends while the work below runs
    timer.start()
    try:
        with VM() as vm:
            # long enough to outlast the owner on any machine (2e7 took 60 s under load)
            r = vm.exec("jq -n 'reduce range(5e6) as $i (0; . + 1)'")
    finally:
        release.set()
        t.join()
    assert (r.exit_code, r.stdout, r.stderr) == (0, "5000000\n", ""), r
