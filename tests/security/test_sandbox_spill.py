"""Large VM files kept in host files (``kernel/fs/spill.py``) behind the sandbox: a program's
large writes, overwrites in the middle and truncations land in the VM byte for byte, under
the VM's limits, and what the program reads back is what the VM holds."""

from __future__ import annotations

import hashlib
import random

import pytest

from pocketos.kernel.fs import spill
from pocketos.kernel.fs.spill import SpillFile
from tests.sandbox.conftest import make_vm, needs_sandbox

MB = 1 << 20

#: where the temp directory holds no unnamed files, or under a memory limit, files stay in memory
NO_HOST_FILES = "large VM files stay in memory here (no O_TMPFILE in the temp dir, or RLIMIT_DATA)"
pytestmark = [needs_sandbox, pytest.mark.skipif(not spill.available(), reason=NO_HOST_FILES)]

# writes 16 MiB in 1 MiB blocks, overwrites in the middle, cuts and extends, and prints the
# digest of what it reads back through a fresh open
PROG = """
import hashlib, os, random
rng = random.Random(5)
data = bytearray(rng.randbytes(16 << 20))
with open("big", "wb") as f:
    for i in range(16):
        f.write(data[i << 20 : (i + 1) << 20])
with open("big", "r+b") as f:
    f.seek(5_000_001)
    f.write(b"middle")
data[5_000_001:5_000_007] = b"middle"
os.truncate("big", 9 << 20)
del data[9 << 20 :]
os.truncate("big", 12 << 20)
data += bytes(3 << 20)
print(hashlib.sha256(data).hexdigest())
with open("big", "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest())
"""


@pytest.fixture(autouse=True)
def _host_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "THRESHOLD", MB)


def _stored_in_a_host_file(vm: object, path: str) -> bool:
    upper = vm._vm._root.upper  # type: ignore[attr-defined]
    node = upper.lookup(path)
    return node is not None and isinstance(node.data, SpillFile)


def test_large_writes_overwrites_and_truncates_land_in_the_vm() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(["/usr/bin/python3", "-c", PROG], timeout=120)
        assert r.exit_code == 0, r.stderr
        want, read_back = r.stdout.split()
        assert read_back == want
        got = vm.read_file("/home/user/big")
        assert len(got) == 12 * MB
        assert hashlib.sha256(got).hexdigest() == want
        assert _stored_in_a_host_file(vm, "/home/user/big")
        # the VM's own view and a fresh sandbox agree
        r = vm.sandbox_run(["/usr/bin/sha256sum", "big"], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split()[0] == want


def test_limits_hold_for_a_file_in_a_host_file() -> None:
    prog = """
import os
fd = os.open("big", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    for _ in range(16):
        os.write(fd, b"y" * (1 << 20))
    print("wrote")
except OSError as e:
    print(os.strerror(e.errno))
try:
    os.truncate("big", 9 << 20)
    print("grew")
except OSError as e:
    print(os.strerror(e.errno))
"""
    with make_vm(limits={"max_file_size": 6 * MB}) as vm:
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.splitlines() == ["File too large", "File too large"]
        assert vm.read_file("/home/user/big") == b"y" * (6 * MB)
        assert _stored_in_a_host_file(vm, "/home/user/big")
    with make_vm(limits={"max_fs_bytes": 24 * MB}) as vm:
        used = vm.kernel.vfs.usage()[0]
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog.replace("16", "64")], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.splitlines()[0] == "No space left on device"
        assert vm.kernel.vfs.usage()[0] <= 24 * MB
        assert vm.stat("/home/user/big").st_size <= 24 * MB - used


def test_the_vm_and_a_program_agree_on_a_file_the_vm_rewrites() -> None:
    a = random.Random(1).randbytes(8 * MB)
    b = random.Random(2).randbytes(8 * MB)
    with make_vm() as vm:
        vm.write_file("/home/user/big", a)
        assert _stored_in_a_host_file(vm, "/home/user/big")
        script = "sha256sum big; printf x | dd of=big bs=1 seek=7 conv=notrunc 2>/dev/null"
        r = vm.sandbox_run(["/bin/sh", "-c", script], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split()[0] == hashlib.sha256(a).hexdigest()
        assert vm.read_file("/home/user/big") == a[:7] + b"x" + a[8:]
        vm.write_file("/home/user/big", b)
        r = vm.sandbox_run(["/usr/bin/sha256sum", "big"], timeout=120)
        assert r.stdout.split()[0] == hashlib.sha256(b).hexdigest()
