"""A file on a host mount can be far larger than anything the VM may hold. Reading it through
a redirection, ``cp`` or a Python guest must stream it or refuse it up front, never load it
whole into the host (which grew by twice the file's size before)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM
from tests.security._util import exec_traced

MiB = 1024 * 1024
BIG = 64 * MiB

# every test measures the host's allocations (tests/_own_process.py)
pytestmark = pytest.mark.own_process


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VM]:
    host = tmp_path_factory.mktemp("hostmount")
    with open(host / "big", "wb") as f:
        f.truncate(BIG)  # sparse: costs no disk
    (host / "small").write_bytes(b"one\ntwo\n")
    with VM(limits={"max_file_size": MiB}) as v:
        v.mount("/src", host=str(host))
        yield v
    os.unlink(Path(host) / "big")


def run_traced(vm: VM, script: str) -> tuple[int, str, str, int]:
    r, peak = exec_traced(vm, script, 16 * MiB)
    return r.exit_code, r.stdout, r.stderr, peak


def test_a_redirected_large_file_is_streamed(vm: VM) -> None:
    code, out, err, peak = run_traced(vm, "wc -c < /src/big; head -c 3 < /src/big | od -An -c")
    assert (code, out, err) == (0, f"{BIG}\n  \\0  \\0  \\0\n", "")
    assert peak < 16 * MiB


def test_a_small_redirected_file_still_reads(vm: VM) -> None:
    code, out, err, _ = run_traced(vm, 'while read -r l; do echo "[$l]"; done < /src/small')
    assert (code, out, err) == (0, "[one]\n[two]\n", "")


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("cp /src/big /tmp/copy", "memory limit exceeded"),
        ("read -r x < /src/big", "memory limit exceeded"),
        ('python3 -c \'open("/src/big", "rb").read(1)\'', "File too large"),
    ],
)
def test_a_whole_read_of_a_large_file_is_refused_first(vm: VM, script: str, message: str) -> None:
    code, out, err, peak = run_traced(vm, script)
    assert code != 0 and message in err
    assert peak < 3 * 16 * MiB
    r = vm.exec("ls /tmp/copy 2>&1; echo ok")
    assert r.stdout.endswith("ok\n") and "copy\n" not in r.stdout.split("ls")[0]
