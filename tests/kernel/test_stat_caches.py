"""What a lookup remembers (the overlay's inode for a path, the VFS's "this resolved to a
directory") never outlives a change: a file replaced, removed or shadowed by any route is seen
at once by the next ``stat`` of the same path."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import VM
from pocketos.kernel.fs.filehandle import FileHandle
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.kernel.streams import HandleInput

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


# --- an open file's inode -------------------------------------------------------------------
# A file opened for reading takes its bytes from the inode its path named at the open while no
# name changed anywhere; after any change it reads through its path, as it always did.


def _open_cached(vm: VM, path: str) -> FileHandle:
    vfs = vm.kernel.vfs
    vfs.stat(path)  # resolved and remembered: the open takes the inode from there
    fh = vfs.open(path, "rb")
    assert fh._node is not None
    return fh


def test_an_open_file_reads_a_file_renamed_over_its_name() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /p && printf old-bytes > /p/f && printf NEW-BYTES > /p/g")
        with _open_cached(vm, "/p/f") as fh:
            assert fh.read(3) == b"old"
            vm.exec("mv /p/g /p/f")
            assert fh.read() == b"-BYTES"


def test_an_open_file_after_the_api_and_another_shell_change_it() -> None:
    with VM() as vm:
        vm.write_file("/p/f", b"0123456789", parents=True)
        sh = vm.shell()
        try:
            with _open_cached(vm, "/p/f") as fh:
                assert fh.read(2) == b"01"
                vm.delete("/p/f")
                vm.write_file("/p/f", b"abcdefghij")
                assert fh.read(2) == b"cd"
                sh.run("printf ABCDEFGHIJ > /p/g && mv /p/g /p/f")
                assert fh.read(2) == b"EF"
                sh.run("printf xyz >> /p/f")
                assert fh.read() == b"GHIJxyz"
                assert fh.read() == b""
        finally:
            sh.close()


def test_an_open_file_of_a_fork_sees_its_copy_up() -> None:
    with VM() as vm:
        vm.write_file("/p/f", b"lower\n", parents=True)
        with vm.fork() as child, _open_cached(child, "/p/f") as fh:
            assert fh.read() == b"lower\n"
            child.exec("echo upper >> /p/f")  # copied up into the child's own layer
            assert fh.read() == b"upper\n"
            assert vm.read_file("/p/f") == b"lower\n"


def test_an_open_file_when_the_layers_change_underneath() -> None:
    with VM() as vm:
        vm.write_file("/p/f", b"in a lower layer", parents=True)
        with vm.fork() as child:
            root = child.kernel.vfs.root
            assert isinstance(root, OverlayBackend)
            top = MemoryBackend()
            top.mkdir("/p")
            top.create("/p/f")
            top.write("/p/f", b"ON TOP OF IT ALL", 0)
            with _open_cached(child, "/p/f") as fh:
                assert fh.read(3) == b"in "
                root.lowers.insert(0, top.freeze())  # straight into the list of layers
                assert fh.read() == b"TOP OF IT ALL"
            assert child.exec("cat /p/f").stdout == "ON TOP OF IT ALL"
            root.write("/p/f", b"written", 0)
            with _open_cached(child, "/p/f") as fh:
                root.upper = MemoryBackend()  # a new upper layer: the lower's file shows
                assert fh.read() == b"ON TOP OF IT ALL"
                del root.lowers[0]
                fh.seek(0)
                assert fh.read() == b"in a lower layer"
            assert child.exec("cat /p/f").stdout == "in a lower layer"


def test_a_memory_mount_shared_by_two_vms() -> None:
    # a change through the other VM's VFS makes no lookup here: only the shared counter tells
    shared = MemoryBackend()
    with VM() as a, VM() as b:
        a.mount("/s", shared)
        b.mount("/s", shared)
        a.exec("echo one > /s/f && echo twotwo > /s/g && mkdir /s/d && echo x > /s/d/h")
        with _open_cached(a, "/s/f") as fh:
            assert a.exec("wc -c < /s/f; stat -c %s /s/d/h").stdout == "4\n2\n"
            b.exec("mv /s/g /s/f && rm -r /s/d && echo file > /s/d")
            assert a.exec("wc -c < /s/f").stdout == "7\n"
            assert fh.read() == b"twotwo\n"
            r = a.exec("stat -c %s /s/d/h")
            assert "Not a directory" in r.stderr


def test_a_worker_vm_reads_what_another_name_changed() -> None:
    with VM(isolation="process") as vm:
        r = vm.exec(
            "mkdir -p /p && echo one > /p/f && echo twotwo > /p/g; "
            "for i in 1 2; do wc -c < /p/f; done; mv /p/g /p/f; wc -c < /p/f"
        )
        assert (r.stdout, r.stderr) == ("4\n4\n7\n", "")
        vm.write_file("/p/f", b"123")
        assert vm.exec("wc -c < /p/f").stdout == "3\n"


def test_a_stream_over_an_open_file_reads_what_its_name_names_now() -> None:
    async def main() -> None:
        with VM() as vm:
            vm.exec("mkdir -p /p && printf old-bytes > /p/f && printf NEW-BYTES > /p/g")
            stream = HandleInput(_open_cached(vm, "/p/f"))
            vm.exec("mv /p/g /p/f")
            assert await stream.read(100) == b"NEW-BYTES"
            assert await stream.read(100) == b""
            vm.exec("printf more >> /p/f")
            assert await stream.read(100) == b"more"
            stream.close()

    asyncio.run(main())


def test_the_inode_an_overlay_gives_for_a_path_changed_in_its_layer() -> None:
    upper = MemoryBackend()
    ov = OverlayBackend([], upper)
    ov.create("/f")
    ov.write("/f", b"abc", 0)
    first = ov.node_of("/f")
    assert first is not None and first.data == b"abc"
    upper.unlink("/f")  # straight into the layer, not through the overlay
    upper.create("/f")
    upper.write("/f", b"new one", 0)
    again = ov.node_of("/f")
    assert again is not first and again is not None and again.data == b"new one"
    upper.unlink("/f")
    assert ov.node_of("/f") is None
