"""What a lookup remembers (the overlay's inode for a path, the VFS's "this resolved to a
directory") never outlives a change: a file replaced, removed or shadowed by any route is seen
at once by the next ``stat`` of the same path."""

from __future__ import annotations

import pytest

from pocketos import VM
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend

STAT = "stat -c '%i %s %F' /p/d/f"


def _stat(vm: VM) -> str:
    r = vm.exec(STAT)
    return r.stdout if r.exit_code == 0 else f"error {r.stderr.strip()}"


def test_a_replaced_file_is_seen_by_the_next_stat() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        first = _stat(vm)
        assert first.endswith(" 4 regular file\n")
        vm.exec("echo seven77 > /p/g && mv /p/g /p/d/f")
        moved = _stat(vm)
        assert moved.endswith(" 8 regular file\n") and moved.split()[0] != first.split()[0]
        vm.exec("rm /p/d/f && mkdir /p/d/f")
        assert _stat(vm).endswith(" directory\n")
        vm.exec("rmdir /p/d/f && ln -s elsewhere /p/d/f")
        assert _stat(vm).endswith(" 9 symbolic link\n")
        vm.exec("rm /p/d/f")
        assert "No such file" in _stat(vm)
        vm.exec("echo back > /p/d/f")
        assert _stat(vm).endswith(" 5 regular file\n")


def test_a_directory_replaced_under_a_remembered_path_is_seen() -> None:
    # /p/d resolves to a directory and is remembered as one; replaced by a file, a name
    # below it must be ENOTDIR, not served from the directory that is gone
    with VM() as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        assert _stat(vm).endswith("regular file\n")
        vm.exec("rm -r /p/d && echo plain > /p/d")
        assert "Not a directory" in _stat(vm)
        vm.exec("rm /p/d && mkdir /p/x && echo two > /p/x/f && ln -s x /p/d")
        assert _stat(vm).endswith(" 4 regular file\n")


def test_another_shell_and_the_api_change_what_a_shell_sees() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        sh = vm.shell()
        try:
            assert sh.run(STAT).stdout.endswith(" 4 regular file\n")
            vm.exec("printf 123456 > /p/d/f")
            assert sh.run(STAT).stdout.endswith(" 6 regular file\n")
            vm.delete("/p/d/f")
            vm.write_file("/p/d/f", b"12")
            assert sh.run(STAT).stdout.endswith(" 2 regular file\n")
        finally:
            sh.close()


def test_a_mount_and_an_unmount_over_a_remembered_path() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        assert _stat(vm).endswith(" 4 regular file\n")
        m = MemoryBackend()
        m.create("/f")
        m.write("/f", b"mounted!\n", 0)
        vm.mount("/p/d", m)
        assert _stat(vm).endswith(" 9 regular file\n")
        vm.unmount("/p/d")
        assert _stat(vm).endswith(" 4 regular file\n")


def test_a_snapshot_restored_into_a_new_vm_and_a_fork() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        assert _stat(vm).endswith(" 4 regular file\n")
        snap = vm.snapshot()
        with vm.fork() as child:
            assert _stat(child).endswith(" 4 regular file\n")
            child.exec("echo forked-change > /p/d/f")
            assert _stat(child).endswith(" 14 regular file\n")
            assert _stat(vm).endswith(" 4 regular file\n")
            vm.exec("rm /p/d/f")
            assert "No such file" in _stat(vm)
            assert _stat(child).endswith(" 14 regular file\n")
    with VM(snapshots=[snap]) as other:
        assert _stat(other).endswith(" 4 regular file\n")
        other.exec("mv /p/d /p/e && mkdir /p/d && echo x > /p/d/f")
        assert _stat(other).endswith(" 2 regular file\n")


def test_a_worker_vm_sees_its_own_changes_at_once() -> None:
    with VM(isolation="process") as vm:
        vm.exec("mkdir -p /p/d && echo one > /p/d/f")
        assert _stat(vm).endswith(" 4 regular file\n")
        vm.write_file("/p/d/f", b"123456789")
        assert _stat(vm).endswith(" 9 regular file\n")
        vm.exec("rm /p/d/f && ln -s nowhere /p/d/f")
        assert _stat(vm).endswith(" 7 symbolic link\n")


def test_a_layer_changed_directly_is_seen_by_the_overlay() -> None:
    upper = MemoryBackend()
    ov = OverlayBackend([], upper)
    ov.mkdir("/d")
    ov.create("/d/f")
    ov.write("/d/f", b"abc", 0)
    first = ov.lstat("/d/f")
    assert first.st_size == 3
    # straight into the layer, not through the overlay
    upper.unlink("/d/f")
    upper.create("/d/f")
    again = ov.lstat("/d/f")
    assert again.st_ino != first.st_ino and again.st_size == 0
    upper.rename("/d", "/e")
    upper.mkdir("/d")
    upper.symlink("x", "/d/f")
    assert ov.lstat("/d/f").st_size == 1


def test_a_lower_file_copied_up_is_seen_in_its_new_layer() -> None:
    lower = MemoryBackend()
    lower.mkdir("/d")
    lower.create("/d/f")
    lower.write("/d/f", b"lower", 0)
    ov = OverlayBackend([lower.freeze()], MemoryBackend())
    before = ov.lstat("/d/f")
    assert before.st_size == 5
    ov.write("/d/f", b"upper layer now", 0)  # copies the file up, then writes
    after = ov.lstat("/d/f")
    assert after.st_size == 15 and after.st_ino != before.st_ino
    assert lower.lstat("/d/f").st_size == 5


def test_a_copied_up_file_in_a_vm_base_image() -> None:
    with VM() as vm:
        before = vm.exec("stat -c '%i %s' /etc/passwd").stdout.split()
        vm.exec("echo 'extra:x:9:9::/:/bin/sh' >> /etc/passwd")
        after = vm.exec("stat -c '%i %s' /etc/passwd").stdout.split()
        assert int(after[1]) == int(before[1]) + len("extra:x:9:9::/:/bin/sh\n")


def test_whiteouts_and_opaque_directories_in_memory_layers() -> None:
    # a sealed layer (as a fork leaves) holds a whiteout and an opaque directory: listings and
    # lookups read them from the inodes and must hide what they hide
    base = MemoryBackend()
    base.mkdir("/d")
    for name in ("gone", "kept"):
        base.create(f"/d/{name}")
    base.mkdir("/o")
    base.create("/o/hidden")
    mid = MemoryBackend()
    mid.mkdir("/d")
    mid.mknod("/d/gone", 0, 0)
    mid.mkdir("/o")
    mid.create("/o/new")
    mid.set_opaque("/o")
    ov = OverlayBackend([mid.freeze(), base.freeze()], MemoryBackend())
    assert sorted(ov.listdir("/d")) == ["kept"]
    assert sorted(ov.listdir("/o")) == ["new"]
    for path in ("/d/gone", "/o/hidden"):
        with pytest.raises(FileNotFoundError):
            ov.lstat(path)
    ov.create("/d/gone")  # a new file over the whiteout
    assert sorted(ov.listdir("/d")) == ["gone", "kept"]
    assert ov.lstat("/d/gone").st_size == 0
    ov.unlink("/d/kept")
    assert sorted(ov.listdir("/d")) == ["gone"]


def test_names_below_a_parent_resolved_on_its_own() -> None:
    # a lookup resolves and caches the parent directory first: errors must still name the
    # whole path, and a parent that changes kind must be seen
    with VM() as vm:
        vm.exec("mkdir -p /p/a/b && echo x > /p/a/b/f && ln -s a /p/l && echo y > /p/file")
        r = vm.exec("cat /p/a/b/f /p/l/b/f; cat /p/file/x; cat /p/none/x; echo z > /p/none/x")
        assert r.stdout == "x\nx\n"
        assert r.stderr == (
            "cat: /p/file/x: Not a directory\n"
            "cat: /p/none/x: No such file or directory\n"
            "bash: line 1: /p/none/x: No such file or directory\n"
        )
        vm.exec("rm -r /p/a && mkdir /p/a && echo new > /p/a/b")
        r = vm.exec("cat /p/a/b; cat /p/a/b/f; cat /p/l/b")
        assert (r.stdout, r.stderr) == ("new\nnew\n", "cat: /p/a/b/f: Not a directory\n")
        vm.exec("rm /p/l && ln -s file /p/l")
        r = vm.exec("cat /p/l; cat /p/l/b")
        assert (r.stdout, r.stderr) == ("y\n", "cat: /p/l/b: Not a directory\n")


def test_a_path_deeper_than_the_parent_cache_still_resolves() -> None:
    deep = "/".join(f"d{i}" for i in range(80))
    with VM() as vm:
        r = vm.exec(f"mkdir -p /t/{deep} && echo deep > /t/{deep}/f && cat /t/{deep}/f")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "deep\n", "")
        r = vm.exec(f"cat /t/{deep}/nothing/f")
        assert r.stderr == f"cat: /t/{deep}/nothing/f: No such file or directory\n"
