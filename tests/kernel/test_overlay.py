"""Overlay semantics: copy-up, whiteouts, opaque directories, merging, stacking."""

from __future__ import annotations

import errno

import pytest

from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend


@pytest.fixture
def lower() -> MemoryBackend:
    fs = MemoryBackend()
    fs.mkdir("/d")
    fs.create("/d/a")
    fs.write("/d/a", b"lower-a", 0)
    fs.create("/d/b")
    fs.write("/d/b", b"lower-b", 0)
    fs.mkdir("/d/sub")
    fs.create("/d/sub/x")
    fs.create("/top")
    fs.write("/top", b"top", 0)
    return fs.freeze()


def test_reads_come_from_lower(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    assert ov.read("/d/a") == b"lower-a"
    assert sorted(ov.listdir("/d")) == ["a", "b", "sub"]


def test_write_copies_up_and_leaves_lower_untouched(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.write("/d/a", b"UP", 0)
    assert ov.read("/d/a") == b"UPwer-a"
    assert lower.read("/d/a") == b"lower-a"
    assert ov.upper.read("/d/a") == b"UPwer-a"


def test_copy_up_keeps_metadata(lower: MemoryBackend) -> None:
    before = lower.lstat("/d/a")
    ov = OverlayBackend([lower])
    ov.chmod("/d/a", 0o600)
    after = ov.lstat("/d/a")
    assert after.st_mode & 0o7777 == 0o600
    assert after.st_mtime_ns == before.st_mtime_ns


def test_delete_leaves_whiteout(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.unlink("/d/a")
    assert sorted(ov.listdir("/d")) == ["b", "sub"]
    with pytest.raises(FileNotFoundError):
        ov.lstat("/d/a")
    assert lower.read("/d/a") == b"lower-a"


def test_recreate_after_whiteout(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.unlink("/d/a")
    ov.create("/d/a")
    ov.write("/d/a", b"new", 0)
    assert ov.read("/d/a") == b"new"
    assert sorted(ov.listdir("/d")) == ["a", "b", "sub"]


def test_rmdir_lower_dir_then_mkdir_is_opaque(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.unlink("/d/sub/x")
    ov.rmdir("/d/sub")
    assert "sub" not in ov.listdir("/d")
    ov.mkdir("/d/sub")
    assert ov.listdir("/d/sub") == []  # lower contents do not come back


def test_rmdir_nonempty_merged_dir(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    with pytest.raises(OSError) as exc:
        ov.rmdir("/d/sub")
    assert exc.value.errno == errno.ENOTEMPTY


def test_readdir_merges_upper_and_lower(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.create("/d/c")
    assert sorted(ov.listdir("/d")) == ["a", "b", "c", "sub"]


def test_rename_lower_file(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.rename("/d/a", "/d/z")
    assert sorted(ov.listdir("/d")) == ["b", "sub", "z"]
    assert ov.read("/d/z") == b"lower-a"


def test_rename_lower_directory(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.rename("/d", "/e")
    assert sorted(ov.listdir("/")) == ["e", "top"]
    assert sorted(ov.listdir("/e")) == ["a", "b", "sub"]
    assert ov.listdir("/e/sub") == ["x"]
    ov.mkdir("/d")
    assert ov.listdir("/d") == []


def test_readonly_overlay(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower], readonly=True)
    with pytest.raises(OSError) as exc:
        ov.create("/new")
    assert exc.value.errno == errno.EROFS


def test_stacked_lowers_with_whiteouts(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.unlink("/d/a")
    ov.create("/mid")
    ov.seal()  # the old upper becomes a lower with a whiteout in it
    assert sorted(ov.listdir("/d")) == ["b", "sub"]
    assert "mid" in ov.listdir("/")
    ov.unlink("/mid")
    assert "mid" not in ov.listdir("/")
    assert len(ov.lowers) == 2


def test_hard_link_in_overlay(lower: MemoryBackend) -> None:
    ov = OverlayBackend([lower])
    ov.link("/d/a", "/d/a2")
    ov.write("/d/a2", b"X", 0)
    assert ov.read("/d/a") == b"Xower-a"
    assert ov.lstat("/d/a").st_nlink == 2
