"""The backend contract: one suite every filesystem backend must pass.

``BackendContract`` holds the tests; a module runs them by defining a ``backend`` fixture that
yields a fresh, empty, writable backend and subclassing it (see ``TestBackendContract`` below
and ``tests/kernel/test_s3_mount.py``). Backends that cannot do something declare it with
``supports_symlinks`` / ``supports_hardlinks`` / ``supports_chmod`` / ``supports_chown`` class
attributes (missing means supported) and the matching tests are skipped with that reason.
"""

from __future__ import annotations

import errno
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.fsspecfs import FsspecBackend
from pocketos.kernel.fs.hostdir import HostDirBackend
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend

MiB = 1024 * 1024


def expect_errno(code: int, fn: Callable[..., Any], *args: Any) -> OSError:
    """Call ``fn(*args)`` and check it raises an OSError with errno ``code``."""
    with pytest.raises(OSError) as info:
        fn(*args)
    assert info.value.errno == code, (
        f"expected {errno.errorcode[code]}, got "
        f"{errno.errorcode.get(info.value.errno or 0, info.value.errno)}: {info.value!r}"
    )
    return info.value


def needs(backend: Backend, feature: str) -> None:
    if not getattr(backend, f"supports_{feature}", True):
        pytest.skip(f"{type(backend).__name__} does not support {feature}")


def put(backend: Backend, path: str, data: bytes, mode: int = 0o644) -> None:
    backend.create(path, mode)
    if data:
        backend.write(path, data, 0)


class BackendContract:
    """Behaviour shared by every backend. Needs a ``backend`` fixture (fresh and empty)."""

    #: files made by ``test_many_entries`` (remote stores lower it to stay quick)
    many_entries = 300

    # --- the root ---------------------------------------------------------------------------
    def test_root_is_an_empty_directory(self, backend: Backend) -> None:
        st = backend.lstat("/")
        assert st.is_dir()
        assert backend.listdir("/") == []

    def test_missing_path(self, backend: Backend) -> None:
        expect_errno(errno.ENOENT, backend.lstat, "/nope")
        expect_errno(errno.ENOENT, backend.read, "/nope")
        expect_errno(errno.ENOENT, backend.listdir, "/nope")
        expect_errno(errno.ENOENT, backend.lstat, "/nope/deeper")

    # --- files ------------------------------------------------------------------------------
    def test_create_read_write(self, backend: Backend) -> None:
        backend.create("/f")
        st = backend.lstat("/f")
        assert st.is_file() and st.st_size == 0
        assert backend.read("/f") == b""
        assert backend.write("/f", b"hello world", 0) == 11
        assert backend.read("/f") == b"hello world"
        assert backend.lstat("/f").st_size == 11

    def test_read_ranges(self, backend: Backend) -> None:
        put(backend, "/f", b"0123456789")
        assert backend.read("/f", 2, 3) == b"234"
        assert backend.read("/f", 7) == b"789"
        assert backend.read("/f", 8, 100) == b"89"
        assert backend.read("/f", 10) == b""
        assert backend.read("/f", 50, 5) == b""
        assert backend.read("/f", 3, 0) == b""

    def test_write_at_offset_overwrites(self, backend: Backend) -> None:
        put(backend, "/f", b"abcdefgh")
        backend.write("/f", b"XY", 3)
        assert backend.read("/f") == b"abcXYfgh"
        backend.write("/f", b"1234", 6)
        assert backend.read("/f") == b"abcXYf1234"

    def test_write_past_end_fills_with_nul(self, backend: Backend) -> None:
        put(backend, "/f", b"ab")
        backend.write("/f", b"Z", 6)
        assert backend.read("/f") == b"ab\0\0\0\0Z"
        assert backend.lstat("/f").st_size == 7

    def test_append(self, backend: Backend) -> None:
        backend.create("/f")
        backend.write("/f", b"one\n")
        backend.write("/f", b"two\n", None)
        assert backend.read("/f") == b"one\ntwo\n"

    def test_create_existing(self, backend: Backend) -> None:
        put(backend, "/f", b"data")
        backend.create("/f", truncate=False)
        assert backend.read("/f") == b"data"
        expect_errno(errno.EEXIST, backend.create, "/f", 0o644, True)
        assert backend.read("/f") == b"data"
        backend.create("/f")
        assert backend.read("/f") == b""

    def test_create_errors(self, backend: Backend) -> None:
        expect_errno(errno.ENOENT, backend.create, "/no/f")
        put(backend, "/file", b"x")
        expect_errno(errno.ENOTDIR, backend.create, "/file/f")
        backend.mkdir("/d")
        expect_errno(errno.EISDIR, backend.create, "/d")
        expect_errno(errno.EEXIST, backend.create, "/d", 0o644, True)
        expect_errno(errno.EISDIR, backend.read, "/d")
        expect_errno(errno.EISDIR, backend.write, "/d", b"x", 0)

    def test_truncate(self, backend: Backend) -> None:
        put(backend, "/f", b"0123456789")
        backend.truncate("/f", 4)
        assert backend.read("/f") == b"0123"
        backend.truncate("/f", 7)
        assert backend.read("/f") == b"0123\0\0\0"
        assert backend.lstat("/f").st_size == 7
        backend.truncate("/f", 0)
        assert backend.read("/f") == b""
        expect_errno(errno.ENOENT, backend.truncate, "/nope", 0)

    def test_binary_data(self, backend: Backend) -> None:
        data = bytes(range(256)) * 4 + b"\0\0\xff\xfe\n\r\x00end"
        put(backend, "/bin", data)
        assert backend.read("/bin") == data
        assert backend.read("/bin", 1, 3) == b"\x01\x02\x03"
        assert backend.lstat("/bin").st_size == len(data)

    def test_large_file(self, backend: Backend) -> None:
        block = bytes(range(256)) * 4096  # 1 MiB
        data = block * 10
        put(backend, "/big", data)
        assert backend.lstat("/big").st_size == 10 * MiB
        assert backend.read("/big") == data
        assert backend.read("/big", 5 * MiB + 3, 4) == bytes([3, 4, 5, 6])
        backend.write("/big", b"!", 10 * MiB - 1)
        tail = backend.read("/big", 10 * MiB - 2)
        assert tail == bytes([254]) + b"!"

    def test_large_file_in_chunks(self, backend: Backend) -> None:
        backend.create("/big")
        chunk = b"\x00\x01pocket\xff" * (MiB // 10)
        for i in range(4):
            backend.write("/big", chunk, i * len(chunk))
        assert backend.read("/big") == chunk * 4

    def test_read_view_reads_what_read_reads(self, backend: Backend) -> None:
        put(backend, "/f", b"0123456789")
        for offset, size in [(0, 10), (2, 3), (8, 100), (10, 5), (50, 5), (3, 0), (2, -1)]:
            view = backend.read_view("/f", offset, size)
            try:
                assert bytes(view) == backend.read("/f", offset, size)
                if isinstance(view, memoryview):
                    assert view.readonly
            finally:
                if isinstance(view, memoryview):
                    view.release()
        # once released, the file grows and shrinks again
        backend.write("/f", b"abc", None)
        backend.truncate("/f", 4)
        assert backend.read("/f") == b"0123"

    def test_write_copies_a_view_of_the_callers_buffer(self, backend: Backend) -> None:
        buf = bytearray(b"..hello world..")
        backend.create("/f")
        with memoryview(buf) as view:
            assert backend.write("/f", view[2:13], 0) == 11
            assert backend.write("/f", view[2:7], None) == 5
        buf[:] = b"X" * len(buf)  # the caller reuses its buffer
        assert backend.read("/f") == b"hello worldhello"

    # --- directories ------------------------------------------------------------------------
    def test_mkdir_and_listdir(self, backend: Backend) -> None:
        backend.mkdir("/a")
        backend.mkdir("/a/b")
        put(backend, "/a/f", b"1")
        put(backend, "/a/b/g", b"2")
        assert backend.lstat("/a").is_dir()
        assert sorted(backend.listdir("/")) == ["a"]
        assert sorted(backend.listdir("/a")) == ["b", "f"]
        assert backend.listdir("/a/b") == ["g"]
        assert backend.read("/a/b/g") == b"2"

    def test_mkdir_errors(self, backend: Backend) -> None:
        backend.mkdir("/d")
        expect_errno(errno.EEXIST, backend.mkdir, "/d")
        put(backend, "/f", b"")
        expect_errno(errno.EEXIST, backend.mkdir, "/f")
        expect_errno(errno.ENOENT, backend.mkdir, "/missing/d")
        expect_errno(errno.ENOTDIR, backend.mkdir, "/f/d")

    def test_empty_directory_persists(self, backend: Backend) -> None:
        backend.mkdir("/d")
        backend.mkdir("/d/e")
        assert backend.listdir("/d/e") == []
        put(backend, "/d/e/f", b"x")
        backend.unlink("/d/e/f")
        assert backend.lstat("/d/e").is_dir()
        assert backend.listdir("/d") == ["e"]

    def test_rmdir(self, backend: Backend) -> None:
        backend.mkdir("/d")
        put(backend, "/d/f", b"x")
        expect_errno(errno.ENOTEMPTY, backend.rmdir, "/d")
        backend.unlink("/d/f")
        backend.rmdir("/d")
        expect_errno(errno.ENOENT, backend.lstat, "/d")
        assert backend.listdir("/") == []
        expect_errno(errno.ENOENT, backend.rmdir, "/d")
        put(backend, "/f", b"")
        expect_errno(errno.ENOTDIR, backend.rmdir, "/f")

    def test_listdir_errors(self, backend: Backend) -> None:
        put(backend, "/f", b"x")
        expect_errno(errno.ENOTDIR, backend.listdir, "/f")
        expect_errno(errno.ENOTDIR, backend.lstat, "/f/x")

    def test_many_entries(self, backend: Backend) -> None:
        backend.mkdir("/many")
        names = [f"file-{i:04d}" for i in range(self.many_entries)]
        for n in names:
            backend.create("/many/" + n)
        for i in range(20):
            backend.mkdir(f"/many/dir-{i:02d}")
        assert sorted(backend.listdir("/many")) == sorted(
            names + [f"dir-{i:02d}" for i in range(20)]
        )

    def test_unicode_and_odd_names(self, backend: Backend) -> None:
        names = ["café", "spaced name", "日本語.txt", "dash-", "a=b,c", "emoji-🙂"]
        for n in names:
            put(backend, "/" + n, n.encode())
        assert sorted(backend.listdir("/")) == sorted(names)
        for n in names:
            assert backend.read("/" + n) == n.encode()

    def test_deep_tree(self, backend: Backend) -> None:
        path = ""
        for i in range(12):
            path += f"/level{i}"
            backend.mkdir(path)
        put(backend, path + "/leaf", b"deep")
        assert backend.read(path + "/leaf") == b"deep"

    # --- unlink -----------------------------------------------------------------------------
    def test_unlink(self, backend: Backend) -> None:
        put(backend, "/f", b"x")
        backend.unlink("/f")
        expect_errno(errno.ENOENT, backend.lstat, "/f")
        expect_errno(errno.ENOENT, backend.unlink, "/f")
        backend.mkdir("/d")
        expect_errno(errno.EISDIR, backend.unlink, "/d")
        assert backend.lstat("/d").is_dir()

    # --- rename -----------------------------------------------------------------------------
    def test_rename_file(self, backend: Backend) -> None:
        put(backend, "/a", b"A")
        backend.rename("/a", "/b")
        expect_errno(errno.ENOENT, backend.lstat, "/a")
        assert backend.read("/b") == b"A"
        backend.mkdir("/d")
        backend.rename("/b", "/d/c")
        assert backend.listdir("/") == ["d"]
        assert backend.read("/d/c") == b"A"

    def test_rename_file_over_file(self, backend: Backend) -> None:
        put(backend, "/a", b"new")
        put(backend, "/b", b"old contents")
        backend.rename("/a", "/b")
        assert backend.read("/b") == b"new"
        assert backend.listdir("/") == ["b"]

    def test_rename_same_path(self, backend: Backend) -> None:
        put(backend, "/a", b"same")
        backend.rename("/a", "/a")
        assert backend.read("/a") == b"same"

    def test_rename_dir_with_contents(self, backend: Backend) -> None:
        backend.mkdir("/src")
        backend.mkdir("/src/sub")
        backend.mkdir("/src/empty")
        put(backend, "/src/f", b"F")
        put(backend, "/src/sub/g", b"G")
        backend.rename("/src", "/dst")
        expect_errno(errno.ENOENT, backend.lstat, "/src")
        assert sorted(backend.listdir("/dst")) == ["empty", "f", "sub"]
        assert backend.read("/dst/sub/g") == b"G"
        assert backend.listdir("/dst/empty") == []

    def test_rename_dir_over_empty_dir(self, backend: Backend) -> None:
        backend.mkdir("/a")
        put(backend, "/a/f", b"x")
        backend.mkdir("/b")
        backend.rename("/a", "/b")
        assert backend.listdir("/") == ["b"]
        assert backend.read("/b/f") == b"x"

    def test_rename_errors(self, backend: Backend) -> None:
        backend.mkdir("/a")
        backend.mkdir("/full")
        put(backend, "/full/x", b"")
        put(backend, "/f", b"file")
        expect_errno(errno.ENOTEMPTY, backend.rename, "/a", "/full")
        expect_errno(errno.EISDIR, backend.rename, "/f", "/a")
        expect_errno(errno.ENOTDIR, backend.rename, "/a", "/f")
        expect_errno(errno.EINVAL, backend.rename, "/a", "/a/inside")
        expect_errno(errno.ENOENT, backend.rename, "/missing", "/x")
        expect_errno(errno.ENOENT, backend.rename, "/f", "/missing/x")
        assert sorted(backend.listdir("/")) == ["a", "f", "full"]
        assert backend.read("/f") == b"file"

    # --- symlinks ---------------------------------------------------------------------------
    def test_symlink_readlink(self, backend: Backend) -> None:
        needs(backend, "symlinks")
        backend.symlink("some/target", "/l")
        st = backend.lstat("/l")
        assert st.is_symlink()
        assert backend.readlink("/l") == "some/target"
        assert backend.listdir("/") == ["l"]
        backend.symlink("/etc/passwd", "/abs")
        assert backend.readlink("/abs") == "/etc/passwd"
        expect_errno(errno.EEXIST, backend.symlink, "x", "/l")
        backend.unlink("/l")
        expect_errno(errno.ENOENT, backend.lstat, "/l")

    def test_readlink_errors(self, backend: Backend) -> None:
        put(backend, "/f", b"")
        backend.mkdir("/d")
        expect_errno(errno.EINVAL, backend.readlink, "/f")
        expect_errno(errno.EINVAL, backend.readlink, "/d")
        expect_errno(errno.ENOENT, backend.readlink, "/nope")

    def test_symlink_unsupported(self, backend: Backend) -> None:
        if getattr(backend, "supports_symlinks", True):
            pytest.skip("backend supports symlinks")
        expect_errno(errno.EPERM, backend.symlink, "x", "/l")
        expect_errno(errno.ENOENT, backend.lstat, "/l")

    def test_rename_symlink_moves_the_link(self, backend: Backend) -> None:
        needs(backend, "symlinks")
        put(backend, "/target", b"t")
        backend.symlink("target", "/l")
        backend.rename("/l", "/m")
        assert backend.readlink("/m") == "target"
        assert backend.read("/target") == b"t"

    # --- hard links -------------------------------------------------------------------------
    def test_hard_link(self, backend: Backend) -> None:
        needs(backend, "hardlinks")
        put(backend, "/a", b"shared")
        backend.link("/a", "/b")
        assert backend.lstat("/a").st_nlink == 2
        assert backend.lstat("/b").st_nlink == 2
        assert backend.lstat("/a").st_ino == backend.lstat("/b").st_ino
        backend.write("/b", b"S", 0)
        assert backend.read("/a") == b"Shared"
        backend.unlink("/a")
        assert backend.read("/b") == b"Shared"
        assert backend.lstat("/b").st_nlink == 1

    def test_hard_link_errors(self, backend: Backend) -> None:
        needs(backend, "hardlinks")
        backend.mkdir("/d")
        put(backend, "/f", b"")
        expect_errno(errno.EPERM, backend.link, "/d", "/d2")
        expect_errno(errno.EEXIST, backend.link, "/f", "/d")
        expect_errno(errno.ENOENT, backend.link, "/missing", "/x")

    def test_hard_link_unsupported(self, backend: Backend) -> None:
        if getattr(backend, "supports_hardlinks", True):
            pytest.skip("backend supports hard links")
        put(backend, "/a", b"")
        expect_errno(errno.EPERM, backend.link, "/a", "/b")
        assert backend.listdir("/") == ["a"]

    # --- metadata ---------------------------------------------------------------------------
    def test_create_mode(self, backend: Backend) -> None:
        needs(backend, "chmod")
        backend.create("/f", 0o600)
        assert stat.S_IMODE(backend.lstat("/f").st_mode) == 0o600
        backend.mkdir("/d", 0o700)
        assert stat.S_IMODE(backend.lstat("/d").st_mode) == 0o700

    def test_chmod(self, backend: Backend) -> None:
        needs(backend, "chmod")
        put(backend, "/f", b"x")
        backend.chmod("/f", 0o751)
        st = backend.lstat("/f")
        assert stat.S_IMODE(st.st_mode) == 0o751 and st.is_file()
        backend.mkdir("/d")
        backend.chmod("/d", 0o1777)
        st = backend.lstat("/d")
        assert stat.S_IMODE(st.st_mode) == 0o1777 and st.is_dir()
        expect_errno(errno.ENOENT, backend.chmod, "/nope", 0o644)

    def test_chmod_unsupported(self, backend: Backend) -> None:
        if getattr(backend, "supports_chmod", True):
            pytest.skip("backend supports chmod")
        put(backend, "/f", b"x")
        current = stat.S_IMODE(backend.lstat("/f").st_mode)
        backend.chmod("/f", current)  # a no-op change is accepted
        expect_errno(errno.EOPNOTSUPP, backend.chmod, "/f", current ^ 0o111)

    def test_chown(self, backend: Backend) -> None:
        needs(backend, "chown")
        put(backend, "/f", b"")
        backend.chown("/f", 1234, 5678)
        st = backend.lstat("/f")
        assert (st.st_uid, st.st_gid) == (1234, 5678)
        backend.chown("/f", -1, 42)
        st = backend.lstat("/f")
        assert (st.st_uid, st.st_gid) == (1234, 42)

    def test_chown_noop(self, backend: Backend) -> None:
        put(backend, "/f", b"")
        st = backend.lstat("/f")
        backend.chown("/f", -1, -1)
        backend.chown("/f", st.st_uid, st.st_gid)
        after = backend.lstat("/f")
        assert (after.st_uid, after.st_gid) == (st.st_uid, st.st_gid)

    def test_utimens(self, backend: Backend) -> None:
        put(backend, "/f", b"x")
        a = 1_000_000_000_123_456_789
        m = 1_100_000_000_987_654_321
        backend.utimens("/f", a, m)
        st = backend.lstat("/f")
        assert (st.st_atime_ns, st.st_mtime_ns) == (a, m)
        backend.utimens("/f", None, 1_200_000_000_000_000_001)
        st = backend.lstat("/f")
        assert (st.st_atime_ns, st.st_mtime_ns) == (a, 1_200_000_000_000_000_001)
        backend.utimens("/f", 5_000_000_000, None)
        st = backend.lstat("/f")
        assert (st.st_atime_ns, st.st_mtime_ns) == (5_000_000_000, 1_200_000_000_000_000_001)
        backend.mkdir("/d")
        backend.utimens("/d", a, m)
        assert backend.lstat("/d").st_mtime_ns == m

    def test_stat_fields(self, backend: Backend) -> None:
        put(backend, "/f", b"12345")
        backend.mkdir("/d")
        f = backend.lstat("/f")
        d = backend.lstat("/d")
        assert stat.S_ISREG(f.st_mode) and stat.S_ISDIR(d.st_mode)
        assert f.type_name == "file" and d.type_name == "directory"
        assert f.st_size == 5 and f.st_nlink == 1 and d.st_nlink >= 1
        assert f.st_ino == backend.lstat("/f").st_ino
        assert f.st_ino != d.st_ino
        for st in (f, d):
            for value in (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns, st.st_birthtime_ns):
                assert isinstance(value, int) and value > 0
            assert isinstance(st.st_uid, int) and isinstance(st.st_gid, int)

    def test_timestamps_move_forward(self, backend: Backend) -> None:
        backend.create("/f")
        before = backend.lstat("/f")
        backend.write("/f", b"more data", 0)
        after = backend.lstat("/f")
        assert after.st_mtime_ns >= before.st_mtime_ns
        assert after.st_ctime_ns >= before.st_ctime_ns
        backend.utimens("/f", 1_000_000_000, 1_000_000_000)
        touched = backend.lstat("/f")
        assert touched.st_mtime_ns == 1_000_000_000
        assert touched.st_ctime_ns >= after.st_ctime_ns  # ctime never goes back

    def test_usage_is_a_pair(self, backend: Backend) -> None:
        used = backend.usage()
        assert isinstance(used, tuple) and len(used) == 2


# --- the backends under test ------------------------------------------------------------------


def _memory(tmp: Path) -> Backend:
    return MemoryBackend()


def _overlay(tmp: Path) -> Backend:
    return OverlayBackend(lowers=[MemoryBackend().freeze()], upper=MemoryBackend())


def _hostdir(tmp: Path) -> Backend:
    root = tmp / "host"
    root.mkdir()
    return HostDirBackend(str(root), writable=True)


def _overlay_hostdir(tmp: Path) -> Backend:
    root = tmp / "lower"
    root.mkdir()
    return OverlayBackend(lowers=[HostDirBackend(str(root))], upper=MemoryBackend())


def _fsspec_memory(tmp: Path) -> Backend:
    fs = fsspec.filesystem("memory")
    return FsspecBackend(fs, f"/contract-{uuid.uuid4().hex}")


FACTORIES: dict[str, Callable[[Path], Backend]] = {
    "memory": _memory,
    "overlay": _overlay,
    "hostdir": _hostdir,
    "overlay-hostdir": _overlay_hostdir,
    "fsspec-memory": _fsspec_memory,
}


def _close_all(backend: Backend) -> None:
    for lower in getattr(backend, "lowers", []):
        lower.close()
    backend.close()
    if isinstance(backend, FsspecBackend) and backend.fs.exists(backend.root):
        backend.fs.rm(backend.root, recursive=True)


@pytest.fixture(params=list(FACTORIES))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = FACTORIES[request.param](tmp_path)
    try:
        yield b
    finally:
        _close_all(b)


class TestBackendContract(BackendContract):
    """The contract on every local backend kind."""


# --- a few checks specific to composed mounts ------------------------------------------------


def test_overlay_over_hostdir_never_writes_the_host(tmp_path: Path) -> None:
    root = tmp_path / "lower"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f.txt").write_bytes(b"from host\n")
    (root / "keep").write_bytes(b"keep")
    lower = HostDirBackend(str(root))
    ov = OverlayBackend(lowers=[lower], upper=MemoryBackend())
    try:
        assert ov.read("/sub/f.txt") == b"from host\n"
        ov.write("/sub/f.txt", b"changed\n", 0)
        ov.unlink("/keep")
        ov.create("/new")
        ov.write("/new", b"n")
        ov.mkdir("/sub/d")
        assert ov.read("/sub/f.txt") == b"changed\nt\n"
        assert sorted(ov.listdir("/")) == ["new", "sub"]
        assert sorted(ov.listdir("/sub")) == ["d", "f.txt"]
        assert (root / "sub" / "f.txt").read_bytes() == b"from host\n"
        assert (root / "keep").read_bytes() == b"keep"
        assert sorted(p.name for p in root.iterdir()) == ["keep", "sub"]
        assert sorted(p.name for p in (root / "sub").iterdir()) == ["f.txt"]
    finally:
        lower.close()


def test_readonly_fsspec_backend() -> None:
    fs = fsspec.filesystem("memory")
    root = f"/ro-{uuid.uuid4().hex}"
    fs.pipe_file(root + "/f", b"data")
    b = FsspecBackend(fs, root, readonly=True)
    try:
        assert b.read("/f") == b"data"
        assert b.listdir("/") == ["f"]
        expect_errno(errno.EROFS, b.write, "/f", b"x", 0)
        expect_errno(errno.EROFS, b.create, "/g")
        expect_errno(errno.EROFS, b.mkdir, "/d")
        expect_errno(errno.EROFS, b.unlink, "/f")
        expect_errno(errno.EROFS, b.rename, "/f", "/g")
        assert fs.cat_file(root + "/f") == b"data"
    finally:
        fs.rm(root, recursive=True)


def test_fsspec_sees_existing_objects_and_times() -> None:
    fs = fsspec.filesystem("memory")
    root = f"/pre-{uuid.uuid4().hex}"
    fs.pipe_file(root + "/a/b/c.txt", b"deep")
    b = FsspecBackend(fs, root)
    try:
        assert b.listdir("/") == ["a"]
        assert b.lstat("/a/b").is_dir()
        st = b.lstat("/a/b/c.txt")
        assert st.st_size == 4 and stat.S_IMODE(st.st_mode) == 0o644
        created = fs.info(root + "/a/b/c.txt")["created"]
        assert st.st_mtime_ns == int(created.timestamp() * 1_000_000) * 1000
        # the last object goes, the directory stays (POSIX: unlink does not remove parents)
        b.unlink("/a/b/c.txt")
        assert b.listdir("/a/b") == []
        b.rmdir("/a/b")
        assert b.listdir("/a") == []
    finally:
        if fs.exists(root):
            fs.rm(root, recursive=True)
