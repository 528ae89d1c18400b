"""The overlay's lookup cache never serves a stale answer: after any change of any layer, a
cached overlay answers exactly like a fresh one built over the same layers."""

from __future__ import annotations

import errno
import stat as S
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.hostdir import HostDirBackend
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend
from pocketos.kernel.fs.vfs import VFS

NAMES = ["a", "b", "c"]
PATHS = ["/"] + [
    "/" + "/".join(p)
    for p in (
        [(x,) for x in NAMES]
        + [(x, y) for x in NAMES for y in NAMES]
        + [(x, y, z) for x in NAMES for y in NAMES for z in NAMES]
    )
]


def _answer(fs: Backend, path: str) -> tuple[object, ...]:
    """Everything a lookup tells about ``path``: type, inode, size, or the errno."""
    try:
        st_ = fs.lstat(path)
    except OSError as exc:
        return ("error", exc.errno)
    out: tuple[object, ...] = (S.S_IFMT(st_.st_mode), st_.st_ino, st_.st_size)
    if S.S_ISDIR(st_.st_mode):
        out += (tuple(sorted(fs.listdir(path))),)
    if S.S_ISLNK(st_.st_mode):
        out += (fs.readlink(path),)
    return out


def _fresh(ov: OverlayBackend) -> OverlayBackend:
    return OverlayBackend(list(ov.lowers), ov.upper, readonly=ov.readonly)


def _assert_same(ov: OverlayBackend) -> None:
    ref = _fresh(ov)
    for path in PATHS:
        assert _answer(ov, path) == _answer(ref, path), path


def _lower() -> MemoryBackend:
    fs = MemoryBackend()
    fs.mkdir("/a")
    fs.mkdir("/a/b")
    fs.create("/a/b/c")
    fs.write("/a/b/c", b"lower", 0)
    fs.create("/a/c")
    fs.mkdir("/b")
    fs.symlink("/a/b", "/b/a")
    return fs.freeze()


@pytest.fixture()
def ov() -> Iterator[OverlayBackend]:
    o = OverlayBackend([_lower()], MemoryBackend())
    for path in PATHS:  # fill the cache
        _answer(o, path)
    yield o


def test_rename_of_a_lower_directory(ov: OverlayBackend) -> None:
    assert S.S_ISREG(ov.lstat("/a/b/c").st_mode)
    ov.rename("/a/b", "/c")
    assert ov.lstat("/c/c").st_size == 5
    with pytest.raises(FileNotFoundError):
        ov.lstat("/a/b/c")
    _assert_same(ov)


def test_unlink_and_rmdir_leave_whiteouts(ov: OverlayBackend) -> None:
    ov.unlink("/a/b/c")
    with pytest.raises(FileNotFoundError):
        ov.lstat("/a/b/c")
    ov.rmdir("/a/b")
    assert ov.listdir("/a") == ["c"]
    ov.mkdir("/a/b")  # a new directory over a whiteout is opaque
    assert ov.listdir("/a/b") == []
    _assert_same(ov)


def test_a_file_replaces_a_directory(ov: OverlayBackend) -> None:
    ov.unlink("/a/b/c")
    ov.rmdir("/a/b")
    ov.create("/a/b")
    with pytest.raises(NotADirectoryError):
        ov.lstat("/a/b/c")
    _assert_same(ov)


def test_writes_that_copy_up_move_the_top_layer(ov: OverlayBackend) -> None:
    ov.write("/a/c", b"upper!", 0)
    assert ov.lstat("/a/c").st_size == 6
    assert ov.read("/a/c") == b"upper!"
    _assert_same(ov)


def test_changes_made_directly_in_a_layer_are_seen(ov: OverlayBackend) -> None:
    ov.upper.mkdir("/c")
    ov.upper.create("/c/a")
    assert S.S_ISREG(ov.lstat("/c/a").st_mode)
    ov.upper.unlink("/c/a")
    with pytest.raises(FileNotFoundError):
        ov.lstat("/c/a")
    _assert_same(ov)


def test_seal_and_new_layers(ov: OverlayBackend) -> None:
    ov.create("/c")
    ov.seal()
    assert S.S_ISREG(ov.lstat("/c").st_mode)
    ov.unlink("/c")
    with pytest.raises(FileNotFoundError):
        ov.lstat("/c")
    top = MemoryBackend()
    top.mkdir("/c")
    ov.lowers.insert(0, top.freeze())
    assert S.S_ISDIR(ov.lstat("/b").st_mode)
    _assert_same(ov)


def test_a_host_directory_layer_turns_the_cache_off(tmp_path: Path) -> None:
    """A host directory changes behind the overlay's back: lookups through it are not cached."""
    (tmp_path / "a").mkdir()
    lower = HostDirBackend(str(tmp_path))
    try:
        ov = OverlayBackend([lower], MemoryBackend())
        assert S.S_ISDIR(ov.lstat("/a").st_mode)
        (tmp_path / "a").rmdir()
        (tmp_path / "a").write_bytes(b"now a file")
        assert S.S_ISREG(ov.lstat("/a").st_mode)
    finally:
        lower.close()


def test_lookup_is_linear_in_depth() -> None:
    """A lookup costs a bounded number of layer lookups per component (it was cubic)."""
    calls = 0

    class Counting(MemoryBackend):
        def lstat(self, path: str):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return super().lstat(path)

    ov = OverlayBackend([Counting().freeze()], Counting())
    with VM() as vm:
        depth = 250
        deep = "/d" * depth
        vm.vfs.mkdir("/work", parents=True)
        vm.vfs.mount("/work", ov)
        vm.vfs.mkdir("/work" + deep, parents=True)
        calls = 0
        vm.vfs.stat("/work" + deep)
        assert calls <= 4 * depth
        r = vm.run(["mkdir", "-p", "/tmp" + deep])
        assert r.exit_code == 0, r.stderr


# --- the VM around it ----------------------------------------------------------------------


def test_mount_over_a_cached_path() -> None:
    with VM() as vm:
        vm.write_file("/srv/x", b"under", parents=True)
        assert vm.read_file("/srv/x") == b"under"
        m = MemoryBackend()
        m.create("/x")
        m.write("/x", b"mounted", 0)
        vm.mount("/srv", m)
        assert vm.read_file("/srv/x") == b"mounted"
        vm.unmount("/srv")
        assert vm.read_file("/srv/x") == b"under"


def test_fork_keeps_parent_and_child_apart() -> None:
    with VM() as vm:
        vm.write_file("/w/a", b"1", parents=True)
        assert vm.exists("/w/a")
        with vm.fork() as child:
            vm.delete("/w/a")
            child.write_file("/w/b", b"2")
            assert not vm.exists("/w/a")
            assert child.read_file("/w/a") == b"1"
            assert not vm.exists("/w/b")
            assert child.exists("/w/b")
            assert vm.run(["ls", "/w"]).stdout == ""
            assert child.run(["ls", "/w"]).stdout == "a\nb\n"


def test_snapshot_import_sees_the_snapshot() -> None:
    with VM() as vm:
        vm.write_file("/w/a", b"1", parents=True)
        snap = vm.snapshot()
    with VM(snapshots=[snap]) as other:
        assert other.read_file("/w/a") == b"1"
        other.rename("/w", "/v")
        assert not other.exists("/w/a")
        assert other.read_file("/v/a") == b"1"


# --- any sequence of changes -------------------------------------------------------------

PATH = st.sampled_from(PATHS[1:])
OP = st.one_of(
    st.tuples(st.just("mkdir"), PATH),
    st.tuples(st.just("create"), PATH),
    st.tuples(st.just("write"), PATH),
    st.tuples(st.just("unlink"), PATH),
    st.tuples(st.just("rmdir"), PATH),
    st.tuples(st.just("rename"), PATH, PATH),
    st.tuples(st.just("symlink"), PATH, PATH),
    st.tuples(st.just("link"), PATH, PATH),
    st.tuples(st.just("seal")),
    st.tuples(st.just("upper-mkdir"), PATH),
    st.tuples(st.just("upper-unlink"), PATH),
)


def _apply(ov: OverlayBackend, op: tuple[str, ...]) -> None:
    kind, *args = op
    try:
        if kind == "mkdir":
            ov.mkdir(args[0])
        elif kind == "create":
            ov.create(args[0])
        elif kind == "write":
            ov.write(args[0], b"x", 0)
        elif kind == "unlink":
            ov.unlink(args[0])
        elif kind == "rmdir":
            ov.rmdir(args[0])
        elif kind == "rename":
            ov.rename(args[0], args[1])
        elif kind == "symlink":
            ov.symlink(args[1], args[0])
        elif kind == "link":
            ov.link(args[0], args[1])
        elif kind == "seal":
            ov.seal()
        elif kind == "upper-mkdir":
            ov.upper.mkdir(args[0])
        elif kind == "upper-unlink":
            ov.upper.unlink(args[0])
    except OSError as exc:
        assert exc.errno in {
            errno.ENOENT,
            errno.EEXIST,
            errno.ENOTDIR,
            errno.EISDIR,
            errno.ENOTEMPTY,
            errno.EINVAL,
            errno.EPERM,
        }, exc


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(OP, max_size=25))
def test_cached_answers_match_a_fresh_overlay(ops: list[tuple[str, ...]]) -> None:
    ov = OverlayBackend([_lower()], MemoryBackend())
    for op in ops:
        for path in PATHS:  # the cache holds whatever the previous state answered
            _answer(ov, path)
        _apply(ov, op)
        _assert_same(ov)


# --- the VFS's resolution cache ------------------------------------------------------------


def _resolution(vfs: VFS, path: str, follow: bool) -> tuple[object, ...]:
    try:
        parts, m, bpath, st_ = vfs.resolve(path, follow)
    except OSError as exc:
        return ("error", exc.errno)
    return (tuple(parts), m.path, bpath, None if st_ is None else (st_.st_mode, st_.st_ino))


def test_a_shared_backend_changed_by_another_vm() -> None:
    shared = MemoryBackend()
    shared.mkdir("/d")
    with VM() as a, VM() as b:
        a.mount("/s", shared)
        b.mount("/s", shared)
        assert a.exists("/s/d")
        b.rename("/s/d", "/s/e")
        assert not a.exists("/s/d")
        assert a.exists("/s/e")


VPATH = st.sampled_from(["/w/" + p.lstrip("/") for p in PATHS[1:13]])
VOP = st.one_of(
    st.tuples(st.just("mkdir"), VPATH),
    st.tuples(st.just("write"), VPATH),
    st.tuples(st.just("unlink"), VPATH),
    st.tuples(st.just("rmdir"), VPATH),
    st.tuples(st.just("rename"), VPATH, VPATH),
    st.tuples(st.just("symlink"), VPATH, VPATH),
    st.tuples(st.just("symlink-rel"), st.sampled_from(["a", "b", "..", "a/b", "../c"]), VPATH),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VOP, max_size=20))
def test_cached_resolutions_match_a_fresh_vfs(ops: list[tuple[str, ...]]) -> None:
    with VM() as vm:
        vfs = vm.vfs
        vfs.mkdir("/w", parents=True)
        probes = ["/w/" + p.lstrip("/") for p in PATHS[1:]] + ["/w/a/", "/w/a/../b", "/w/./c"]
        for kind, *args in ops:
            for p in probes:
                _resolution(vfs, p, True)
            try:
                if kind == "mkdir":
                    vfs.mkdir(args[0])
                elif kind == "write":
                    vfs.write_file(args[0], b"x")
                elif kind == "unlink":
                    vfs.unlink(args[0])
                elif kind == "rmdir":
                    vfs.rmdir(args[0])
                elif kind == "rename":
                    vfs.rename(args[0], args[1])
                else:
                    vfs.symlink(args[0], args[1])
            except OSError:
                pass
            fresh = VFS(vfs.root)
            for p in probes:
                for follow in (True, False):
                    assert _resolution(vfs, p, follow) == _resolution(fresh, p, follow), p
