"""VFS.scandir: a listing with each entry's lstat, the same as listdir() then lstat() of each
name, across mount points; and what the VFS tells its watchers."""

from __future__ import annotations

import stat as S
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.kernel.fs.hostdir import HostDirBackend
from pocketos.kernel.fs.memory import MemoryBackend


def _same_as_listdir_then_lstat(vm: VM, path: str) -> list[tuple[str, int | None]]:
    vfs = vm.kernel.vfs
    got = sorted((n, None if st is None else st.st_mode) for n, st in vfs.scandir(path))
    want = sorted(
        (n, vfs.stat(f"{path.rstrip('/')}/{n}", follow_symlinks=False).st_mode)
        for n in vfs.listdir(path)
    )
    assert got == want
    return got


def test_entries_with_their_modes(tmp_path: Path) -> None:
    with VM() as vm:
        vfs = vm.kernel.vfs
        vfs.mkdir("/home/user/d")
        vfs.write_file("/home/user/d/f", b"x")
        vfs.symlink("f", "/home/user/d/link")
        vfs.mkdir("/home/user/d/sub")
        (tmp_path / "h").write_text("host")
        vfs.mount("/home/user/d/host", HostDirBackend(str(tmp_path)))
        vfs.mount("/home/user/d/sub/mem", MemoryBackend())
        got = dict(_same_as_listdir_then_lstat(vm, "/home/user/d"))
        assert S.S_ISREG(got["f"] or 0) and S.S_ISLNK(got["link"] or 0)
        assert S.S_ISDIR(got["host"] or 0) and S.S_ISDIR(got["sub"] or 0)
        assert dict(_same_as_listdir_then_lstat(vm, "/home/user/d/host")).keys() == {"h"}
        assert dict(_same_as_listdir_then_lstat(vm, "/home/user/d/sub")).keys() == {"mem"}


def test_scandir_is_checked_as_a_listing() -> None:
    pol = {"fs": {"default": "allow", "rules": [{"mode": "deny", "operations": ["readdir"]}]}}
    with VM(policy=pol) as vm, pytest.raises(PermissionError):
        vm.kernel.vfs.scandir("/home/user")


def test_watchers_hear_of_every_change_of_name_or_attributes() -> None:
    with VM() as vm:
        vfs = vm.kernel.vfs
        heard: list[str] = []
        vfs.watchers.append(heard.append)
        vfs.mkdir("/home/user/d")
        with vfs.open("/home/user/d/new", "xb"):
            pass
        vfs.symlink("new", "/home/user/d/link")
        vfs.chmod("/home/user/d/new", 0o600)
        vfs.chown("/home/user/d/new", 1000, 1000)
        with vfs.open("/home/user/d/new", "ab"):  # an existing file: nothing changes
            pass
        vfs.link("/home/user/d/new", "/home/user/d/hard")  # both names: the link count
        assert heard == [
            "/home/user/d",
            "/home/user/d/new",
            "/home/user/d/link",
            "/home/user/d/new",
            "/home/user/d/new",
            "/home/user/d/new",
            "/home/user/d/hard",
        ]
