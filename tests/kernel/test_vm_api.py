"""The public file API of VM/AsyncVM."""

from __future__ import annotations

import asyncio
import errno
import stat

import pytest

from pocketos import VM, AsyncVM


@pytest.fixture
def vm():
    with VM() as v:
        yield v


def test_write_read_str_and_bytes(vm: VM) -> None:
    vm.write_file("/home/user/a.txt", "héllo")
    assert vm.read_file("/home/user/a.txt") == "héllo".encode()
    vm.write_file("/home/user/b.bin", b"\x00\xff\x00")
    assert vm.read_file("/home/user/b.bin") == b"\x00\xff\x00"


def test_paths_must_be_absolute_and_normalized(vm: VM) -> None:
    with pytest.raises(ValueError, match="absolute"):
        vm.read_file("relative.txt")
    with pytest.raises(ValueError, match="normalized"):
        vm.read_file("/home/user/../user/a")
    with pytest.raises(ValueError, match="normalized"):
        vm.write_file("/a//b", b"")
    with pytest.raises(ValueError, match="NUL"):
        vm.write_file("/a\0b", b"")


def test_errors_are_oserrors_with_errno(vm: VM) -> None:
    with pytest.raises(FileNotFoundError) as e1:
        vm.read_file("/nope")
    assert e1.value.errno == errno.ENOENT
    with pytest.raises(IsADirectoryError):
        vm.read_file("/tmp")
    with pytest.raises(NotADirectoryError):
        vm.read_file("/etc/passwd/x")
    with pytest.raises(FileExistsError):
        vm.mkdir("/tmp")
    vm.mkdir("/tmp/full")
    vm.write_file("/tmp/full/f", b"")
    with pytest.raises(OSError) as e2:
        vm.delete("/tmp/full")
    assert e2.value.errno == errno.ENOTEMPTY


def test_batch_write_and_read(vm: VM) -> None:
    res = vm.write_files({"/p/a/b/c.txt": "1", "/p/d.txt": b"2", "relative": "x"})
    assert [r["ok"] for r in res] == [True, True, False]
    assert "absolute" in res[2]["error"]
    out = vm.read_files(["/p/a/b/c.txt", "/p/missing"])
    assert out[0]["content"] == b"1"
    assert out[1]["ok"] is False
    assert "No such file" in out[1]["error"]


def test_mkdir_readdir_recursive(vm: VM) -> None:
    vm.mkdir("/r/a/b", parents=True)
    vm.write_file("/r/a/b/f.txt", b"xyz")
    vm.write_file("/r/a/skip.pyc", b"")
    vm.mkdir("/r/node_modules/pkg", parents=True)
    got = vm.readdir_recursive("/r", exclude=["node_modules", "*.pyc"])
    assert got == [
        {"path": "/r/a", "type": "directory", "size": 4096},
        {"path": "/r/a/b", "type": "directory", "size": 4096},
        {"path": "/r/a/b/f.txt", "type": "file", "size": 3},
    ]
    assert vm.readdir_recursive("/r", max_depth=0) == [
        {"path": "/r/a", "type": "directory", "size": 4096},
        {"path": "/r/node_modules", "type": "directory", "size": 4096},
    ]
    assert vm.readdir_recursive("/r", max_depth=1) == [
        {"path": "/r/a", "type": "directory", "size": 4096},
        {"path": "/r/a/b", "type": "directory", "size": 4096},
        {"path": "/r/a/skip.pyc", "type": "file", "size": 0},
        {"path": "/r/node_modules", "type": "directory", "size": 4096},
        {"path": "/r/node_modules/pkg", "type": "directory", "size": 4096},
    ]
    with pytest.raises(ValueError, match="max_depth"):
        vm.readdir_recursive("/r", max_depth=-1)


def test_stat_fields(vm: VM) -> None:
    vm.write_file("/s", b"12345")
    st = vm.stat("/s")
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == 5
    assert st.st_nlink == 1
    assert st.st_ino > 0
    assert st.st_mtime_ns >= st.st_birthtime_ns > 0
    vm.symlink("/s", "/l")
    assert stat.S_ISLNK(vm.lstat("/l").st_mode)
    assert stat.S_ISREG(vm.stat("/l").st_mode)
    assert vm.readlink("/l") == "/s"


def test_move_copy_delete(vm: VM) -> None:
    vm.write_file("/m/a", b"A", parents=True)
    vm.copy("/m", "/n", recursive=True)
    vm.move("/n/a", "/n/b")
    assert vm.readdir("/n") == ["b"]
    assert vm.read_file("/n/b") == b"A"
    with pytest.raises(IsADirectoryError):
        vm.copy("/m", "/o")
    vm.delete("/n", recursive=True)
    assert not vm.exists("/n")


def test_move_across_mounts_falls_back_to_copy(vm: VM) -> None:
    vm.mount("/mnt/mem", memory=True)
    vm.write_file("/home/user/f", b"data")
    with pytest.raises(OSError) as exc:
        vm.rename("/home/user/f", "/mnt/mem/f")
    assert exc.value.errno == errno.EXDEV
    vm.move("/home/user/f", "/mnt/mem/f")
    assert vm.read_file("/mnt/mem/f") == b"data"
    assert not vm.exists("/home/user/f")


def test_chmod(vm: VM) -> None:
    vm.write_file("/c", b"")
    vm.chmod("/c", 0o751)
    assert vm.stat("/c").st_mode & 0o7777 == 0o751


def test_symlink_loop_is_eloop(vm: VM) -> None:
    vm.symlink("/loop2", "/loop1")
    vm.symlink("/loop1", "/loop2")
    with pytest.raises(OSError) as exc:
        vm.read_file("/loop1")
    assert exc.value.errno == errno.ELOOP


def test_dotdot_never_escapes_root(vm: VM) -> None:
    vm.symlink("../../../../../../etc/passwd", "/home/user/up")
    assert vm.read_file("/home/user/up") == vm.read_file("/etc/passwd")


def test_read_only_root() -> None:
    with VM(root="read-only") as vm:
        assert vm.read_file("/etc/hostname") == b"pocketos\n"
        with pytest.raises(OSError) as exc:
            vm.write_file("/tmp/x", b"")
        assert exc.value.errno == errno.EROFS
        vm.mount("/scratch", memory=True)  # mounts still work
        vm.write_file("/scratch/x", b"ok")


def test_readonly_mount_and_unmount(vm: VM) -> None:
    vm.mount("/ro", memory=True, readonly=True)
    with pytest.raises(OSError) as exc:
        vm.write_file("/ro/x", b"")
    assert exc.value.errno == errno.EROFS
    assert {"path": "/ro", "kind": "memory", "readonly": True} in vm.mounts()
    vm.unmount("/ro")
    vm.write_file("/ro/x", b"now in root")
    assert vm.read_file("/ro/x") == b"now in root"
    assert any(e.kind == "mount" for e in vm.audit_log())


def test_base_layer_tree(vm: VM) -> None:
    for p in (
        "/etc/passwd",
        "/etc/group",
        "/etc/hostname",
        "/home/user",
        "/tmp",
        "/dev/null",
        "/dev/zero",
        "/dev/urandom",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ):
        assert (
            vm.lexists(p)
            if hasattr(vm, "lexists")
            else vm.kernel.vfs.stat(p, follow_symlinks=False)
        ), p
    assert vm.read_file("/dev/null") == b""
    assert vm.read_file("/dev/zero")[:4] == b"\0\0\0\0"
    vm.write_file("/dev/null", b"discarded")
    assert "user:x:1000:1000" in vm.read_text("/etc/passwd")


def test_base_layer_is_shared_and_untouched() -> None:
    with VM() as a, VM() as b:
        a.write_file("/etc/hostname", b"changed\n")
        a.delete("/etc/passwd")
        assert b.read_file("/etc/hostname") == b"pocketos\n"
        assert b.exists("/etc/passwd")
        assert a.kernel.vfs.root.lowers[-1] is b.kernel.vfs.root.lowers[-1]


def test_closed_vm_refuses_work() -> None:
    vm = VM()
    vm.close()
    with pytest.raises(Exception, match="closed"):
        vm.read_file("/etc/passwd")


def test_async_vm() -> None:
    async def main() -> bytes:
        async with AsyncVM() as vm:
            vm.write_file("/a", b"async")
            r = await vm.run(["cat", "/a"])
            assert r.exit_code == 0
            return r.stdout_bytes

    assert asyncio.run(main()) == b"async"


def test_sync_vm_inside_running_loop() -> None:
    async def main() -> str:
        with VM() as vm:
            vm.write_file("/a", b"nested")
            return vm.run(["cat", "/a"]).stdout

    assert asyncio.run(main()) == "nested"
