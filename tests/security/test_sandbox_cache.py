"""The host's page cache behind the sandbox's FUSE mount never serves a file the VM has since
changed, nor one the policy no longer lets the program read."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import make_vm, needs_sandbox

pytestmark = needs_sandbox

# the program reads f, says "ready", waits until the VM has made its change (the VM then
# creates "go"), and reads f again: through the fd it kept open, and by opening it afresh.
PROGRAM = """
import os, time
def read_all(fd):
    os.lseek(fd, 0, 0)
    return os.read(fd, 100).decode()
fd = os.open("f", os.O_RDONLY)
print("first", read_all(fd), flush=True)
print("ready", flush=True)
while not os.path.exists("go"):
    pass
time.sleep(float(os.environ.get("TICK", "0")))
for how in ("open fd", "reopened"):
    try:
        if how == "reopened":
            os.close(fd)
            fd = os.open("f", os.O_RDONLY)
        print(how, read_all(fd), flush=True)
    except OSError as e:
        print(how, os.strerror(e.errno), flush=True)
"""


def _run(vm: Any, change: Any, tick: float = 0.0) -> list[str]:
    def on_out(data: bytes) -> None:
        if b"ready" in data and not vm.exists("/home/user/go"):
            change()
            vm.write_file("/home/user/go", "")

    r = vm.sandbox_run(
        ["/usr/bin/python3", "-c", PROGRAM],
        env={"TICK": str(tick)},
        on_stdout=on_out,
        timeout=120,
    )
    assert r.exit_code == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line != "ready"]


def test_a_file_the_vm_rewrote_is_never_served_from_cache() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/f", "old contents")

        def change() -> None:
            vm.write_file("/home/user/f", "new contents")

        assert _run(vm, change) == [
            "first old contents",
            "open fd new contents",
            "reopened new contents",
        ]


def test_a_rewrite_that_keeps_size_and_mtime_is_seen_at_the_next_open() -> None:
    # the kernel's own check (size and mtime) cannot see this change; the VM tells it
    with make_vm() as vm:
        vm.write_file("/home/user/f", "old contents")
        st = vm.stat("/home/user/f")

        def change() -> None:
            vm.write_file("/home/user/f", "NEW CONTENTS")
            vm.kernel.vfs.utime("/home/user/f", (st.st_atime_ns, st.st_mtime_ns))

        lines = _run(vm, change)
        assert lines[0] == "first old contents"
        assert lines[2] == "reopened NEW CONTENTS"


def test_a_file_renamed_over_by_the_vm_is_never_served_from_cache() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/f", "old contents")
        vm.write_file("/home/user/g", "via rename")

        def change() -> None:
            vm.rename("/home/user/g", "/home/user/f")

        lines = _run(vm, change)
        assert lines[0] == "first old contents"
        assert lines[2] == "reopened via rename"


def test_cached_contents_are_not_served_once_the_policy_denies_reading() -> None:
    allowed = {"read": True}

    def handler(req: Any) -> bool:
        return allowed["read"]

    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "ask", "operations": ["read"], "paths": ["/home/user/f"]}],
        }
    }
    with make_vm(pol, permission_handler=handler) as vm:
        vm.write_file("/home/user/f", "secret")

        def change() -> None:
            allowed["read"] = False

        # a policy answer changing is not an event the sandbox hears of: the kernel asks for
        # the attributes of an open file (and so for the policy's answer) once per clock tick
        # at most, so the program lets a tick pass
        assert _run(vm, change, tick=0.05) == [
            "first secret",
            "open fd Permission denied",
            "reopened Permission denied",
        ]
        denied = [
            e
            for e in vm.audit_log(kind="permission")
            if e.resource == "/home/user/f" and e.decision == "deny"
        ]
        assert denied and denied[0].capability == "fs.read"


def test_a_write_only_descriptor_is_seen_by_cached_readers_at_once() -> None:
    # write-only opens bypass the page cache; a reader holding cached pages (read and mmap)
    # sees each write at its next read, and the VM has it before the write returns
    prog = """
import mmap, os
r = os.open("f", os.O_RDONLY)
print("r1", os.pread(r, 10, 0).decode(), flush=True)
m = mmap.mmap(r, 4, prot=mmap.PROT_READ)
w = os.open("f", os.O_WRONLY)
os.pwrite(w, b"bbbb", 0)
print("r2", os.pread(r, 10, 0).decode(), m[:4].decode(), flush=True)
os.pwrite(w, b"cc", 4)
print("r3", os.pread(r, 10, 0).decode(), flush=True)
"""
    with make_vm() as vm:
        vm.write_file("/home/user/f", "aaaa")
        seen: list[str] = []

        def on_out(data: bytes) -> None:
            if b"r2" in data:
                seen.append(vm.read_text("/home/user/f"))

        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], on_stdout=on_out, timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split("\n")[:3] == ["r1 aaaa", "r2 bbbb bbbb", "r3 bbbbcc"]
        assert seen and seen[0].startswith("bbbb")
        assert vm.read_text("/home/user/f") == "bbbbcc"


def test_appends_from_the_vm_and_the_sandbox_never_overwrite_each_other() -> None:
    # an O_APPEND write lands at the end of the VM's file, not at the end the host kernel
    # last heard of
    prog = """
import os
fd = os.open("log", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"sandbox 1\\n")
print("ready", flush=True)
while not os.path.exists("go"):
    pass
os.write(fd, b"sandbox 2\\n")
"""
    with make_vm() as vm:
        vm.write_file("/home/user/log", "")

        def on_out(data: bytes) -> None:
            if b"ready" in data and not vm.exists("/home/user/go"):
                with vm.kernel.vfs.open("/home/user/log", "ab") as fh:
                    fh.write(b"vm\n")
                vm.write_file("/home/user/go", "")

        r = vm.sandbox_run(["/usr/bin/python3", "-c", prog], on_stdout=on_out, timeout=120)
        assert r.exit_code == 0, r.stderr
        assert vm.read_text("/home/user/log") == "sandbox 1\nvm\nsandbox 2\n"
