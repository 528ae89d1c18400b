"""Filesystem limits: bytes, inodes, file size, readdir entries."""

from __future__ import annotations

import errno

import pytest

from pocketos import VM


def test_fs_bytes_limit_is_enospc() -> None:
    with VM(limits={"max_fs_bytes": 10_000}) as vm:
        vm.write_file("/tmp/a", b"x" * 6000)
        with pytest.raises(OSError) as exc:
            vm.write_file("/tmp/b", b"x" * 6000)
        assert exc.value.errno == errno.ENOSPC
        vm.delete("/tmp/a")
        vm.write_file("/tmp/b", b"x" * 6000)  # space is given back


def test_fs_inode_limit_is_enospc() -> None:
    with VM(limits={"max_fs_inodes": 20}) as vm:
        with pytest.raises(OSError) as exc:
            for i in range(100):
                vm.write_file(f"/tmp/f{i}", b"")
        assert exc.value.errno == errno.ENOSPC
        assert "inode" in str(exc.value)


def test_max_file_size_is_efbig() -> None:
    with VM(limits={"max_file_size": 1000}) as vm:
        vm.write_file("/tmp/ok", b"x" * 1000)
        with pytest.raises(OSError) as exc:
            vm.write_file("/tmp/big", b"x" * 1001)
        assert exc.value.errno == errno.EFBIG
        with pytest.raises(OSError):
            vm.write_file("/tmp/ok", b"y", append=True)
        with pytest.raises(OSError):
            vm.kernel.vfs.truncate("/tmp/ok", 5000)


def test_max_readdir_entries() -> None:
    with VM(limits={"max_readdir_entries": 10}) as vm:
        for i in range(11):
            vm.write_file(f"/tmp/d/f{i}", b"", parents=True)
        with pytest.raises(OSError) as exc:
            vm.readdir("/tmp/d")
        assert "max_readdir_entries" in str(exc.value)


def test_limits_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown limit"):
        VM(limits={"max_bananas": 3})


def test_fs_limit_counts_copy_up() -> None:
    with VM(limits={"max_fs_bytes": 100}) as vm:
        # /etc/passwd lives in the shared base; rewriting it copies it up into the VM's layer
        with pytest.raises(OSError) as exc:
            vm.write_file("/etc/passwd", b"x" * 200)
        assert exc.value.errno == errno.ENOSPC
        assert vm.read_text("/etc/passwd").startswith("root:")
