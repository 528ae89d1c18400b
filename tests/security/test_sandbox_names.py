"""The host kernel keeps the names and attributes the sandbox's FUSE mount served (for a short
while), but never shows a name or attribute the VM has since changed, and never lets a cached
name get past the policy: a VM-side rename, unlink, replacement, chmod or a policy answer turned
to deny is seen by the very next call inside the sandbox."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import make_vm, needs_sandbox

pytestmark = needs_sandbox

# The program runs BEFORE (which looks names up, so the kernel caches them: a stat, not a read,
# which would mark the attributes stale for the access time), says "ready",
# waits until the VM has made its change (the VM then creates "go"), and runs AFTER. Both
# print one line per check.
PROGRAM = """
import os, stat, sys
def show(what, fn):
    try:
        print(what, fn(), flush=True)
    except OSError as e:
        print(what, os.strerror(e.errno), flush=True)
def read(p):
    with open(p) as fh:
        return fh.read()
exec(sys.argv[1])
print("ready", flush=True)
while not os.path.exists("go"):
    pass
exec(sys.argv[2])
"""


def _run(vm: Any, before: str, change: Any, after: str) -> list[str]:
    def on_out(data: bytes) -> None:
        if b"ready" in data and not vm.exists("/home/user/go"):
            change()
            vm.write_file("/home/user/go", "")

    r = vm.sandbox_run(
        ["/usr/bin/python3", "-c", PROGRAM, before, after], on_stdout=on_out, timeout=120
    )
    assert r.exit_code == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line != "ready"]


def test_a_name_the_vm_renamed_away_is_gone_at_once() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/a", "contents")
        lines = _run(
            vm,
            "show('before', lambda: os.stat('a').st_size)",
            lambda: vm.rename("/home/user/a", "/home/user/b"),
            "show('a exists', lambda: os.path.exists('a'))\n"
            "show('a stat', lambda: os.stat('a').st_size)\n"
            "show('a read', lambda: read('a'))\n"
            "show('b read', lambda: read('b'))",
        )
        assert lines == [
            "before 8",
            "a exists False",
            "a stat No such file or directory",
            "a read No such file or directory",
            "b read contents",
        ]


def test_a_name_the_vm_unlinked_is_gone_and_can_be_created_again() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/a", "old")
        lines = _run(
            vm,
            "show('before', lambda: os.stat('a').st_size)",
            lambda: vm.delete("/home/user/a"),
            "show('exists', lambda: os.path.exists('a'))\n"
            "show('listed', lambda: 'a' in os.listdir('.'))\n"
            # a plain O_CREAT (no O_EXCL) goes through the kernel's cached name of 'a'
            "fd = os.open('a', os.O_WRONLY | os.O_CREAT, 0o644)\n"
            "os.write(fd, b'made again'); os.close(fd)\n"
            "show('after', lambda: read('a'))",
        )
        assert lines == ["before 3", "exists False", "listed False", "after made again"]
        assert vm.read_text("/home/user/a") == "made again"


def test_a_file_the_vm_replaced_with_a_directory_is_a_directory_at_once() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/x", "a file")

        def change() -> None:
            vm.delete("/home/user/x")
            vm.mkdir("/home/user/x")
            vm.write_file("/home/user/x/inside", "in the dir")

        lines = _run(
            vm,
            "show('before', lambda: stat.S_ISREG(os.stat('x').st_mode))",
            change,
            "show('is dir', lambda: os.path.isdir('x'))\nshow('inside', lambda: read('x/inside'))",
        )
        assert lines == ["before True", "is dir True", "inside in the dir"]


def test_a_directory_the_vm_renamed_takes_its_cached_names_with_it() -> None:
    with make_vm() as vm:
        vm.mkdir("/home/user/d/sub", parents=True)
        vm.write_file("/home/user/d/sub/f", "deep")
        lines = _run(
            vm,
            "show('before', lambda: os.stat('d/sub/f').st_size)",
            lambda: vm.rename("/home/user/d", "/home/user/e"),
            "show('old path', lambda: os.path.exists('d/sub/f'))\n"
            "show('old dir', lambda: os.path.exists('d'))\n"
            "show('new path', lambda: read('e/sub/f'))",
        )
        assert lines == ["before 4", "old path False", "old dir False", "new path deep"]


def test_attributes_the_vm_changed_are_seen_at_once() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/f", "12345")
        vm.kernel.vfs.chmod("/home/user/f", 0o644)

        def change() -> None:
            vm.kernel.vfs.chmod("/home/user/f", 0o600)
            vm.write_file("/home/user/f", "1234567890")
            vm.write_file("/home/user/new", "")

        lines = _run(
            vm,
            "show('before', lambda: (oct(os.stat('f').st_mode & 0o777), os.stat('f').st_size))\n"
            "show('dir before', lambda: os.stat('.').st_mtime_ns)",
            change,
            "show('after', lambda: (oct(os.stat('f').st_mode & 0o777), os.stat('f').st_size))\n"
            "show('dir after', lambda: os.stat('.').st_mtime_ns)",
        )
        assert lines[0] == "before ('0o644', 5)"
        assert lines[2] == "after ('0o600', 10)"
        mtime = vm.stat("/home/user").st_mtime_ns
        assert lines[3] == f"dir after {mtime}", lines


def test_names_under_an_ask_rule_are_asked_again_once_the_answer_is_deny() -> None:
    # the handler's answer can change with no event the FUSE server hears of: names and
    # attributes under an ask rule are never cached, so a stat of a name looked up a moment
    # ago asks the policy again
    allowed = {"yes": True}
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "ask", "paths": ["/home/user/private/**"]}],
        }
    }
    with make_vm(pol, permission_handler=lambda req: allowed["yes"]) as vm:
        vm.mkdir("/home/user/private")
        vm.write_file("/home/user/private/f", "secret")
        lines = _run(
            vm,
            "show('before', lambda: os.stat('private/f').st_size)",
            lambda: allowed.update(yes=False),
            "show('stat', lambda: os.stat('private/f').st_size)\n"
            "show('read', lambda: read('private/f'))",
        )
        assert lines == ["before 6", "stat Permission denied", "read Permission denied"]


def test_a_static_deny_applies_to_a_name_the_kernel_holds() -> None:
    # the name is served (stat is allowed) and cached; reading it is denied at every open
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/home/user/f"]}],
        }
    }
    with make_vm(pol) as vm:
        vm.write_file("/home/user/f", "secret")
        lines = _run(
            vm,
            "show('stat', lambda: os.stat('f').st_size)",
            lambda: None,
            "show('read', lambda: read('f'))\nshow('read again', lambda: read('f'))",
        )
        assert lines == ["stat 6", "read Permission denied", "read again Permission denied"]


def test_a_listing_shows_no_metadata_the_policy_hides() -> None:
    # names come with their attributes in one request (READDIRPLUS); an entry whose stat the
    # policy denies is listed by name only, and a stat of it is still denied
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["stat"], "paths": ["/home/user/d/hidden"]}],
        }
    }
    with make_vm(pol) as vm:
        vm.mkdir("/home/user/d")
        vm.write_file("/home/user/d/hidden", "secret")
        vm.write_file("/home/user/d/shown", "public")
        lines = _run(
            vm,
            "show('names', lambda: sorted(os.listdir('d')))",
            lambda: None,
            "show('shown', lambda: os.stat('d/shown').st_size)\n"
            "show('hidden', lambda: os.stat('d/hidden').st_size)",
        )
        assert lines == [
            "names ['hidden', 'shown']",
            "shown 6",
            "hidden Permission denied",
        ]


def test_listing_a_directory_asks_nobody_about_its_entries() -> None:
    # the metadata of an entry under an ask rule is not sent with the listing (it would take
    # asking the handler); only a program that looks at the entry itself makes the policy ask
    asked: list[str] = []

    def handler(req: Any) -> bool:
        asked.append(req.resource)
        return True

    pol = {"fs": {"default": "allow", "rules": [{"mode": "ask", "paths": ["/home/user/d/f"]}]}}
    with make_vm(pol, permission_handler=handler) as vm:
        vm.mkdir("/home/user/d")
        vm.write_file("/home/user/d/f", "x")
        vm.write_file("/home/user/d/g", "y")
        asked.clear()  # the write above asked
        r = vm.sandbox_run(["/bin/ls", "/home/user/d"], timeout=120)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.split() == ["f", "g"]
        assert asked == []
        r = vm.sandbox_run(["/bin/cat", "/home/user/d/f"], timeout=120)
        assert r.stdout == "x"
        assert "/home/user/d/f" in asked


def test_a_mount_and_an_unmount_by_the_vm_are_seen_at_once() -> None:
    from pocketos.kernel.fs.memory import MemoryBackend

    with make_vm() as vm:
        vm.mkdir("/home/user/m")
        vm.write_file("/home/user/m/under", "the directory's own")
        mounted = MemoryBackend()
        mounted.create("/over")
        mounted.write("/over", b"the mount's", 0)

        def change() -> None:
            vm.kernel.vfs.mount("/home/user/m", mounted)

        lines = _run(
            vm,
            "show('before', lambda: os.stat('m/under').st_size)",
            change,
            "show('under', lambda: os.path.exists('m/under'))\n"
            "show('over', lambda: read('m/over'))",
        )
        assert lines == ["before 19", "under False", "over the mount's"]
        vm.delete("/home/user/go")
        lines = _run(
            vm,
            "show('before', lambda: os.stat('m/over').st_size)",
            lambda: vm.kernel.vfs.unmount("/home/user/m"),
            "show('over', lambda: os.path.exists('m/over'))\n"
            "show('under', lambda: read('m/under'))",
        )
        assert lines == ["before 11", "over False", "under the directory's own"]
