"""A guest's read-only open of a file on a host mount is a read: it works on a read-only mount,
leaves an overlay mount's file where it is (no copy-up: a later change on the host is still
seen) and asks the policy for nothing but read rights; an open for writing is refused or allowed
exactly as the mount and the policy say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM

READERS = {
    "python open()": 'python3 -c \'print(open("/h/a.txt").read(), end="")\'',
    "python open(rb)": 'python3 -c \'import sys; sys.stdout.buffer.write(open("/h/a.txt", "rb").read())\'',
    "python os.open": (
        'python3 -c \'import os, sys; fd = os.open("/h/a.txt", os.O_RDONLY); '
        "sys.stdout.buffer.write(os.read(fd, 100))'"
    ),
    "node readFileSync": 'node -e \'process.stdout.write(require("fs").readFileSync("/h/a.txt", "utf8"))\'',
}
NO_WRITES = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/h", "/h/**"]}],
    },
    "child_process": "allow",
    "env": "allow",
}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("hello\n")
    return tmp_path


@pytest.fixture(params=["ro", "overlay"])
def vm(request: pytest.FixtureRequest, host: Path) -> Iterator[VM]:
    with VM(policy=NO_WRITES) as v:
        v.mount("/h", host=str(host), mode=request.param)
        yield v


@pytest.mark.parametrize("script", list(READERS.values()), ids=list(READERS))
def test_a_read_only_open_reads_without_write_rights(vm: VM, host: Path, script: str) -> None:
    r = vm.exec(script)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello\n", "")
    # the file was not copied into the VM: the host's new contents show through
    (host / "a.txt").write_text("changed\n")
    assert vm.exec("cat /h/a.txt").stdout == "changed\n"
    denials = [e for e in vm.audit_log(kind="permission") if e.decision == "deny"]
    assert denials == []


# every way to open an existing file for writing: the runtime refuses a truncating open at
# once, but an append or update open used to succeed and lose its writes at close (exit 0)
WRITERS = {
    "w": 'open("/h/a.txt", "w").write("x")',
    "a": 'open("/h/a.txt", "a").write("x")',
    "r+": 'open("/h/a.txt", "r+").write("x")',
    "ab pathlib": 'import pathlib; pathlib.Path("/h/a.txt").open("ab").write(b"x")',
    "os.open append": (
        'import os; fd = os.open("/h/a.txt", os.O_WRONLY | os.O_APPEND); os.write(fd, b"x")'
    ),
}


@pytest.mark.parametrize("code", list(WRITERS.values()), ids=list(WRITERS))
def test_a_write_open_on_a_read_only_mount_is_refused(host: Path, code: str) -> None:
    with VM() as vm:
        vm.mount("/h", host=str(host), mode="ro")
        r = vm.exec(f"python3 -c '{code}'")
        assert r.exit_code == 1 and "OSError: [Errno" in r.stderr
        assert "Read-only file system: '/h/a.txt'" in r.stderr
    assert (host / "a.txt").read_text() == "hello\n"


@pytest.mark.parametrize("code", list(WRITERS.values()), ids=list(WRITERS))
def test_a_write_open_denied_by_the_policy_is_refused(host: Path, code: str) -> None:
    with VM(policy=NO_WRITES) as vm:
        vm.mount("/h", host=str(host), mode="overlay")
        r = vm.exec(f"python3 -c '{code}'")
        assert r.exit_code == 1 and "PermissionError: [Errno" in r.stderr
        assert vm.exec("cat /h/a.txt").stdout == "hello\n"
    assert (host / "a.txt").read_text() == "hello\n"


def test_a_write_open_on_an_overlay_stays_in_the_vm(host: Path) -> None:
    with VM() as vm:
        vm.mount("/h", host=str(host), mode="overlay")
        r = vm.exec('python3 -c \'open("/h/a.txt", "a").write("x\\n")\'; cat /h/a.txt')
        assert (r.exit_code, r.stdout) == (0, "hello\nx\n")
    assert (host / "a.txt").read_text() == "hello\n"
