"""Snapshots: deterministic format, round trips, import as lower layers, fork isolation."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from pocketos import VM
from pocketos.snapshot import Snapshot


def _populate(vm: VM) -> None:
    vm.mkdir("/proj/empty", parents=True)
    vm.write_file("/proj/a.txt", b"same\n")
    vm.write_file("/proj/b.txt", b"same\n")
    vm.write_file("/proj/bin.dat", bytes(range(256)))
    vm.chmod("/proj/a.txt", 0o600)
    vm.symlink("a.txt", "/proj/link")
    vm.kernel.vfs.link("/proj/bin.dat", "/proj/hard")
    vm.kernel.vfs.utime("/proj/b.txt", (1_000_000_000, 2_000_000_123))


def test_round_trip_keeps_everything() -> None:
    with VM() as vm:
        _populate(vm)
        snap = vm.snapshot("/proj")
        data = snap.to_bytes()
    with VM(snapshots=[data]) as vm2:
        assert vm2.readdir("/proj") == ["a.txt", "b.txt", "bin.dat", "empty", "hard", "link"]
        assert vm2.read_file("/proj/bin.dat") == bytes(range(256))
        assert vm2.stat("/proj/a.txt").st_mode & 0o777 == 0o600
        assert vm2.readlink("/proj/link") == "a.txt"
        assert vm2.stat("/proj/b.txt").st_mtime_ns == 2_000_000_123
        assert vm2.stat("/proj/hard").st_ino == vm2.stat("/proj/bin.dat").st_ino
        assert vm2.stat("/proj/hard").st_nlink == 2
        assert vm2.readdir("/proj/empty") == []


def test_identical_files_stored_once() -> None:
    with VM() as vm:
        _populate(vm)
        snap = vm.snapshot("/proj")
    assert len(snap.blobs) == 2  # "same\n" once, bin.dat once (hard link not duplicated)
    with tarfile.open(fileobj=io.BytesIO(snap.to_bytes())) as tar:
        names = tar.getnames()
    assert names[0] == "pocketos-snapshot.json"
    assert len([n for n in names if n.startswith("blobs/")]) == 2


def test_format_is_deterministic() -> None:
    with VM() as a, VM() as b:
        for vm in (a, b):
            vm.write_file("/x/1", b"one", parents=True)
            vm.write_file("/x/2", b"two")
            vm.kernel.vfs.utime("/x/1", (5, 5))
            vm.kernel.vfs.utime("/x/2", (5, 5))
            vm.kernel.vfs.utime("/x", (5, 5))
        assert a.snapshot("/x").to_bytes() == b.snapshot("/x").to_bytes()


def test_manifest_is_versioned() -> None:
    with VM() as vm:
        vm.write_file("/m/f", b"x", parents=True)
        data = vm.snapshot("/m").to_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        f = tar.extractfile("pocketos-snapshot.json")
        assert f is not None
        man = json.loads(f.read())
    assert man["format"] == "pocketos-snapshot"
    assert man["version"] == 1
    assert man["root"] == "/m"


def test_load_rejects_garbage_and_corruption() -> None:
    with pytest.raises(ValueError):
        Snapshot.load(b"not a tar at all" * 100)
    with VM() as vm:
        vm.write_file("/m/f", b"content", parents=True)
        snap = vm.snapshot("/m")
    digest = next(iter(snap.blobs))
    snap.blobs[digest] = b"tampered"
    with pytest.raises(ValueError, match="corrupt"):
        Snapshot.load(snap.to_bytes())


def test_stacked_snapshots() -> None:
    with VM() as vm:
        vm.write_file("/data/base.txt", b"base", parents=True)
        vm.write_file("/data/shared.txt", b"from-first")
        first = vm.snapshot("/data")
    with VM() as vm:
        vm.write_file("/data/shared.txt", b"from-second", parents=True)
        vm.write_file("/data/extra.txt", b"extra")
        second = vm.snapshot("/data")
    with VM(snapshots=[first, second]) as vm:
        assert vm.readdir("/data") == ["base.txt", "extra.txt", "shared.txt"]
        assert vm.read_file("/data/shared.txt") == b"from-second"
        vm.write_file("/data/base.txt", b"changed")
    with VM(snapshots=[first, second]) as vm:
        assert vm.read_file("/data/base.txt") == b"base"  # lowers stay immutable


def test_root_snapshot_round_trip() -> None:
    with VM() as vm:
        vm.write_file("/home/user/notes.txt", b"hi")
        vm.delete("/etc/hostname")
        snap = vm.snapshot()
    with VM(snapshots=[snap]) as vm2:
        assert vm2.read_file("/home/user/notes.txt") == b"hi"
        assert vm2.exists("/etc/passwd")


def test_fork_isolation() -> None:
    with VM() as parent:
        parent.write_file("/w/a", b"1", parents=True)
        child = parent.fork()
        child.write_file("/w/a", b"child")
        parent.write_file("/w/b", b"parent-only")
        child.delete("/w/a")
        assert parent.read_file("/w/a") == b"1"
        assert parent.readdir("/w") == ["a", "b"]
        assert child.readdir("/w") == []
        grandchild = child.fork()
        grandchild.write_file("/w/g", b"g")
        assert child.readdir("/w") == []
        assert grandchild.readdir("/w") == ["g"]
        child.close()
        grandchild.close()


def test_fork_copies_memory_mounts_copy_on_write() -> None:
    with VM() as parent:
        parent.mount("/scratch", memory=True)
        parent.write_file("/scratch/x", b"1")
        child = parent.fork()
        child.write_file("/scratch/x", b"2")
        parent.write_file("/scratch/y", b"3")
        assert parent.read_file("/scratch/x") == b"1"
        assert child.read_file("/scratch/x") == b"2"
        assert not child.exists("/scratch/y")
        child.close()
