"""Large read-only opens in the sandbox are served by the host kernel from a host copy of the
VM file (FUSE passthrough). The copy must never let a program read what the policy denies,
see bytes the VM never held, or outlive the sandbox; writes must stay VM writes."""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import pytest

from pocketos.kernel.fs import spill
from pocketos.sandbox import fuse_passthrough as fp
from pocketos.sandbox.fuse import FuseServer
from tests.sandbox.conftest import make_vm, needs_sandbox

pytestmark = needs_sandbox

MB = 1 << 20


@pytest.fixture(autouse=True, params=["in memory", "in a host file"])
def storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case with the VM's large files kept in memory, and in host files
    (``kernel/fs/spill.py``: then a copy is made by the host kernel from that file)."""
    monkeypatch.setattr(spill, "THRESHOLD", MB if request.param == "in a host file" else None)


def _bytes(seed: int, size: int = 3 * MB) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each FUSE server of the test did with passthrough, recorded as it closes."""
    seen: list[dict[str, Any]] = []
    close = FuseServer.close

    def recording_close(self: FuseServer) -> None:
        pt = self.passthrough
        seen.append(
            {
                "on": pt is not None,
                "made": pt.made if pt else 0,
                "bytes": pt.bytes if pt else 0,
                "refused": pt.refused if pt else None,
            }
        )
        close(self)

    monkeypatch.setattr(FuseServer, "close", recording_close)
    return seen


def _need_passthrough(seen: list[dict[str, Any]]) -> None:
    if not seen or not seen[-1]["on"]:
        pytest.skip("this kernel offers no FUSE passthrough: the ordinary path was checked")
    if seen[-1]["refused"] is not None:
        pytest.skip(f"the kernel refused passthrough copies ({seen[-1]['refused']}): ordinary path")


def _copies() -> int:
    """Descriptors of this process on passthrough copies (or anything in a sandbox's dir)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        n += "pocketos-sandbox-" in link or "pocketos-passthrough" in link
    return n


# reads f whole, says "ready", waits for the VM's change ("go"), then reads f again through
# the descriptor it kept and through a fresh open
READER = """
import hashlib, os
def digest(how):
    fd = kept if how != "reopened" else os.open("f", os.O_RDONLY)
    try:
        print(how, hashlib.sha256(os.pread(fd, 1 << 30, 0)).hexdigest(), flush=True)
    except OSError as e:
        print(how, os.strerror(e.errno), flush=True)
kept = os.open("f", os.O_RDONLY)
digest("first")
print("ready", flush=True)
while not os.path.exists("go"):
    pass
digest("kept")
try:
    digest("reopened")
except OSError as e:
    print("reopened", os.strerror(e.errno), flush=True)
"""


def _run_reader(vm: Any, change: Any) -> dict[str, str]:
    def on_out(data: bytes) -> None:
        if b"ready" in data and not vm.exists("/home/user/go"):
            change()
            vm.write_file("/home/user/go", "")

    r = vm.sandbox_run(["/usr/bin/python3", "-c", READER], on_stdout=on_out, timeout=120)
    assert r.exit_code == 0, r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines() if line != "ready")


def test_a_large_read_sees_the_vm_bytes_and_a_vm_rewrite_is_seen_by_the_next_open(
    servers: list[dict[str, Any]],
) -> None:
    old, new = _bytes(1), _bytes(2)
    before = _copies()
    with make_vm() as vm:
        vm.write_file("/home/user/f", old)
        out = _run_reader(vm, lambda: vm.write_file("/home/user/f", new))
        assert out["first"] == _sha(old)
        assert out["reopened"] == _sha(new)
        assert _copies() == before  # every copy is gone with the sandbox
        _need_passthrough(servers)
        # the reopen came while the first descriptor still held the old copy: the kernel
        # binds one copy to a file at a time, so that open read through the server
        assert servers[-1]["made"] == 1
        # the descriptor kept across the VM's rewrite still reads the bytes it opened
        # (docs/sandbox.md), never a mix and never bytes the VM did not hold
        assert out["kept"] == _sha(old)


def test_a_denied_read_of_a_large_file_stays_denied(servers: list[dict[str, Any]]) -> None:
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/home/user/f"]}],
        }
    }
    with make_vm(pol) as vm:
        vm.write_file("/home/user/f", _bytes(3))
        r = vm.sandbox_run(["/bin/sh", "-c", "cat f | wc -c; dd if=f of=/dev/null bs=1M"])
        assert r.stdout.split() == ["0"]
        assert "Permission denied" in r.stderr
        denied = [
            e
            for e in vm.audit_log(kind="permission")
            if e.resource == "/home/user/f" and e.decision == "deny"
        ]
        assert denied
        assert servers and all(s["made"] == 0 for s in servers)


def test_a_large_file_under_an_ask_rule_is_never_passed_through(
    servers: list[dict[str, Any]],
) -> None:
    # a passthrough read never reaches the server, so a file whose read permission can turn
    # to deny (an ask rule) keeps every read on the ordinary, checked path
    allowed = {"read": True}
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "ask", "operations": ["read"], "paths": ["/home/user/f"]}],
        }
    }
    with make_vm(pol, permission_handler=lambda req: allowed["read"]) as vm:
        data = _bytes(4)
        vm.write_file("/home/user/f", data)
        out = _run_reader(vm, lambda: allowed.update(read=False))
        assert out == {
            "first": _sha(data),
            "kept": "Permission denied",
            "reopened": "Permission denied",
        }
        assert all(s["made"] == 0 for s in servers)


WRITER_BESIDE_A_READER = """
import mmap, os
r = os.open("f", os.O_RDONLY)
try:
    mmap.mmap(r, 4096, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    print("reader mmap written", flush=True)
except OSError as e:
    print("reader", os.strerror(e.errno), flush=True)
try:
    rw = os.open("f", os.O_RDWR)
    m = mmap.mmap(rw, 4096, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    m[:4] = b"EVIL"
    m.flush()
    m.close()
    print("mmap written", flush=True)
except OSError as e:
    print("mmap", os.strerror(e.errno), flush=True)
w = os.open("f", os.O_WRONLY)
print("pwrite", os.pwrite(w, b"GOOD", 8), flush=True)
r2 = os.open("f", os.O_RDONLY)
print("kept", os.pread(r, 12, 0).hex(), flush=True)
print("new", os.pread(r2, 12, 0).hex(), flush=True)
"""


def test_a_writer_beside_a_passthrough_reader_writes_only_through_the_vm(
    servers: list[dict[str, Any]],
) -> None:
    # every open of the inode must name the reader's copy while the reader holds it; a
    # shared writable mapping through such an open would change that copy behind the VM's
    # back (the kernel maps the copy itself), so a read-write open is refused meanwhile; a
    # write-only open's writes are VM writes, seen by the next open
    old = _bytes(5)
    with make_vm() as vm:
        vm.write_file("/home/user/f", old)
        r = vm.sandbox_run(["/usr/bin/python3", "-c", WRITER_BESIDE_A_READER], timeout=120)
        assert r.exit_code == 0, r.stderr
        out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        final = vm.read_file("/home/user/f")
        assert out["reader"] == "Permission denied"
        assert out["pwrite"] == "4" and final[8:12] == b"GOOD"
        if out["mmap"] == "written":
            assert final[:4] == b"EVIL"  # written back to the VM, as on the ordinary path
        else:
            assert final[:4] == old[:4]
        assert bytes.fromhex(out["new"]) == final[:12]
        assert bytes.fromhex(out["kept"]) in (old[:12], final[:12])
        _need_passthrough(servers)
        assert out["mmap"] == "Text file busy"
        assert bytes.fromhex(out["kept"]) == old[:12]


def test_a_sandbox_write_is_seen_by_the_next_passthrough_open(
    servers: list[dict[str, Any]],
) -> None:
    prog = """
import hashlib, os
def digest():
    with open("f", "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
print(digest())
with open("f", "r+b") as fh:
    fh.write(b"changed")
print(digest())
"""
    old = _bytes(6)
    with make_vm() as vm:
        vm.write_file("/home/user/f", old)
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], timeout=120)
        assert r.exit_code == 0, r.stderr
        new = b"changed" + old[7:]
        assert vm.read_file("/home/user/f") == new
        assert r.stdout.split() == [_sha(old), _sha(new)]
        _need_passthrough(servers)
        assert servers[-1]["made"] == 2


def test_limits_hold_for_a_writer_beside_a_passthrough_reader(
    servers: list[dict[str, Any]],
) -> None:
    prog = """
import os
r = os.open("f", os.O_RDONLY)
w = os.open("f", os.O_WRONLY | os.O_APPEND)
try:
    for _ in range(8):
        os.write(w, b"x" * (1 << 20))
    print("wrote")
except OSError as e:
    print(os.strerror(e.errno))
"""
    with make_vm(limits={"max_file_size": 4 * MB}) as vm:
        vm.write_file("/home/user/f", _bytes(7))
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.strip() == "File too large"
        assert vm.stat("/home/user/f").st_size <= 4 * MB
        _need_passthrough(servers)
        assert servers[-1]["made"] == 1


def test_copies_stay_within_their_budget(
    servers: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # with room for one copy, a second large file held open at the same time is read the
    # ordinary way, and both read right
    monkeypatch.setattr(fp, "BUDGET", 3 * MB + MB // 2)
    prog = """
import hashlib
a = open("a", "rb")
b = open("b", "rb")
print(hashlib.sha256(a.read()).hexdigest(), hashlib.sha256(b.read()).hexdigest())
"""
    a, b = _bytes(8, 2 * MB), _bytes(9, 2 * MB)
    with make_vm() as vm:
        vm.write_files({"/home/user/a": a, "/home/user/b": b})
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split() == [_sha(a), _sha(b)]
        _need_passthrough(servers)
        assert servers[-1]["made"] == 1
        assert servers[-1]["bytes"] <= fp.BUDGET


def test_a_kernel_refusing_the_copy_leaves_the_ordinary_path(
    servers: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # FUSE_DEV_IOC_BACKING_OPEN needs CAP_SYS_ADMIN in the initial user namespace, which a
    # root inside a container may lack: the open must still work, read the ordinary way
    monkeypatch.setattr(fp, "FUSE_DEV_IOC_BACKING_OPEN", 0x4010E5FF)  # no such ioctl
    data = _bytes(10)
    with make_vm() as vm:
        vm.write_file("/home/user/f", data)
        r = vm.sandbox_run(["/bin/sh", "-c", "sha256sum f; sha256sum f"], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert [line.split()[0] for line in r.stdout.splitlines()] == [_sha(data)] * 2
        assert all(s["made"] == 0 for s in servers)


def test_mmap_sendfile_and_cp_of_a_passed_through_file_read_the_vm_bytes(
    servers: list[dict[str, Any]],
) -> None:
    # git maps pack files, cp uses copy_file_range or splice: each of these reaches the copy
    # by another path than read(2)
    prog = """
import hashlib, mmap, os, subprocess
with open("f", "rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as m:
    print(hashlib.sha256(m).hexdigest())
src = os.open("f", os.O_RDONLY)
dst = os.open("g", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
while os.sendfile(dst, src, None, 1 << 20):
    pass
os.close(dst)
subprocess.run(["cp", "f", "h"], check=True)
"""
    data = _bytes(11)
    with make_vm() as vm:
        vm.write_file("/home/user/f", data)
        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split() == [_sha(data)]
        assert vm.read_file("/home/user/g") == data
        assert vm.read_file("/home/user/h") == data
        _need_passthrough(servers)
        assert servers[-1]["made"] >= 1


def test_memfd_copies_read_the_vm_bytes_too(
    servers: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # where the host's temp directory cannot back a copy (no O_TMPFILE, or a file system
    # stacked too deep: ELOOP) the copies are memfds
    monkeypatch.setattr(fp, "MEMFD_ONLY", True)
    old, new = _bytes(12), _bytes(13)
    with make_vm() as vm:
        vm.write_file("/home/user/f", old)
        r = vm.sandbox_run(["/bin/sh", "-c", "sha256sum f"], timeout=120)
        vm.write_file("/home/user/f", new)
        r2 = vm.sandbox_run(["/bin/sh", "-c", "sha256sum f"], timeout=120)
        assert r.exit_code == 0 and r2.exit_code == 0, r.stderr + r2.stderr
        assert [r.stdout.split()[0], r2.stdout.split()[0]] == [_sha(old), _sha(new)]
        _need_passthrough(servers)
        assert [s["made"] for s in servers[-2:]] == [1, 1]
