"""HostDirBackend must never reach outside its root on the host."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import pocketos.kernel.fs.hostdir as hostdir_mod
from pocketos.kernel.fs.hostdir import HostDirBackend

SECRET = b"TOP SECRET\n"
OUT_ERRORS = (errno.ELOOP, errno.ENOTDIR, errno.EINVAL, errno.ENOENT, errno.EPERM)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(SECRET)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    (r / "f.txt").write_bytes(b"inside\n")
    (r / "d").mkdir()
    (r / "d" / "g.txt").write_bytes(b"g\n")
    return r


@pytest.fixture
def rw(root: Path) -> Iterator[HostDirBackend]:
    b = HostDirBackend(str(root), writable=True)
    yield b
    b.close()


@pytest.fixture
def ro(root: Path) -> Iterator[HostDirBackend]:
    b = HostDirBackend(str(root))
    yield b
    b.close()


def refused(fn: Any, *args: Any, codes: tuple[int, ...] = OUT_ERRORS) -> int:
    with pytest.raises(OSError) as info:
        fn(*args)
    assert info.value.errno in codes, repr(info.value)
    return int(info.value.errno or 0)


def untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == SECRET


def all_writes_through(b: HostDirBackend, path: str) -> None:
    """Every mutating call on ``path`` must fail."""
    refused(b.write, path, b"pwned", 0)
    refused(b.write, path, b"pwned")
    refused(b.truncate, path, 0)
    refused(b.create, path, 0o644, False, True)


def fds_into(*dirs: Path) -> int:
    """This process's descriptors open on something under ``dirs``. Only those: a thread an
    earlier test left (a server, a client pool) may open and close others during a count."""
    prefixes = tuple(str(d) for d in dirs)
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        n += target.startswith(prefixes)
    return n


# --- symlinks placed on the host ----------------------------------------------------------------


def test_absolute_symlink_pointing_outside(rw: HostDirBackend, root: Path, outside: Path) -> None:
    (root / "abs").symlink_to(outside / "secret.txt")
    st = rw.lstat("/abs")
    assert st.is_symlink()
    assert rw.readlink("/abs") == str(outside / "secret.txt")
    assert refused(rw.read, "/abs") == errno.ELOOP
    all_writes_through(rw, "/abs")
    refused(rw.listdir, "/abs")
    untouched(outside)


def test_relative_symlink_pointing_outside(rw: HostDirBackend, root: Path, outside: Path) -> None:
    (root / "rel").symlink_to("../outside/secret.txt")
    (root / "d" / "passwd").symlink_to("../../etc/passwd")
    assert rw.readlink("/rel") == "../outside/secret.txt"
    assert rw.readlink("/d/passwd") == "../../etc/passwd"
    for p in ("/rel", "/d/passwd"):
        assert rw.lstat(p).is_symlink()
        assert refused(rw.read, p) == errno.ELOOP
        all_writes_through(rw, p)
    untouched(outside)


def test_symlinked_root_directory_of_outside(rw: HostDirBackend, root: Path, outside: Path) -> None:
    (root / "up").symlink_to("..")
    (root / "top").symlink_to("/")
    for p in ("/up/outside/secret.txt", "/top/etc/passwd", "/up/root/f.txt"):
        refused(rw.read, p)
        refused(rw.lstat, p)
        refused(rw.create, p)
    refused(rw.listdir, "/up")
    refused(rw.listdir, "/top")
    untouched(outside)


def test_dotdot_in_paths(rw: HostDirBackend, root: Path, outside: Path) -> None:
    for p in ("/../outside/secret.txt", "/d/../../outside/secret.txt", "/..", "/d/.."):
        assert refused(rw.read, p) == errno.EINVAL
        assert refused(rw.lstat, p) == errno.EINVAL
    refused(rw.create, "/../outside/new")
    refused(rw.mkdir, "/../outside/newdir")
    refused(rw.unlink, "/../outside/secret.txt")
    refused(rw.rename, "/f.txt", "/../outside/moved")
    refused(rw.rename, "/../outside/secret.txt", "/stolen")
    refused(rw.link, "/../outside/secret.txt", "/stolen")
    refused(rw.symlink, "x", "/../outside/link")
    refused(rw.listdir, "/..")
    untouched(outside)
    assert sorted(p.name for p in root.iterdir()) == ["d", "f.txt"]


def test_intermediate_symlinked_directory(rw: HostDirBackend, root: Path, outside: Path) -> None:
    (root / "linkdir").symlink_to(outside)
    (root / "rellink").symlink_to("../outside")
    for base in ("/linkdir", "/rellink"):
        p = base + "/secret.txt"
        refused(rw.read, p)
        refused(rw.lstat, p)
        refused(rw.readlink, p)
        refused(rw.listdir, base)
        all_writes_through(rw, p)
        refused(rw.create, base + "/new")
        refused(rw.mkdir, base + "/newdir")
        refused(rw.unlink, p)
        refused(rw.rename, p, "/stolen")
        refused(rw.rename, "/f.txt", base + "/planted")
        refused(rw.link, p, "/stolen")
        refused(rw.link, "/f.txt", base + "/planted")
        refused(rw.symlink, "/etc/passwd", base + "/planted")
        refused(rw.chmod, p, 0o777)
        refused(rw.utimens, p, 0, 0)
    untouched(outside)
    assert (root / "f.txt").read_bytes() == b"inside\n"


def test_hard_link_to_outside_file(rw: HostDirBackend, root: Path, outside: Path) -> None:
    os.link(outside / "secret.txt", root / "hl")
    # reading is allowed: the host placed these bytes under the root
    assert rw.read("/hl") == SECRET
    assert rw.lstat("/hl").st_nlink == 2
    assert refused(rw.write, "/hl", b"pwned", 0) == errno.EPERM
    assert refused(rw.write, "/hl", b"pwned") == errno.EPERM
    assert refused(rw.truncate, "/hl", 0) == errno.EPERM
    assert refused(rw.create, "/hl") == errno.EPERM
    rw.create("/hl", 0o644, False, False)  # opening without truncating changes nothing
    # the inode's metadata is shared with the outside name too
    before = os.stat(outside / "secret.txt")
    assert refused(rw.chmod, "/hl", 0o777) == errno.EPERM
    assert refused(rw.utimens, "/hl", 0, 0) == errno.EPERM
    after = os.stat(outside / "secret.txt")
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    untouched(outside)
    # removing the inside name is fine and leaves the outside file alone
    rw.unlink("/hl")
    untouched(outside)


def test_own_hard_links_stay_writable_until_the_host_adds_one(
    rw: HostDirBackend, root: Path, outside: Path
) -> None:
    rw.link("/f.txt", "/f2.txt")
    rw.write("/f2.txt", b"I", 0)
    assert rw.read("/f.txt") == b"Inside\n"
    os.link(root / "f.txt", outside / "extra")
    assert refused(rw.write, "/f.txt", b"x", 0) == errno.EPERM
    os.unlink(outside / "extra")
    rw.write("/f.txt", b"i", 0)
    assert (root / "f2.txt").read_bytes() == b"inside\n"


# --- races ---------------------------------------------------------------------------------------


def test_directory_swapped_for_symlink_between_calls(
    rw: HostDirBackend, root: Path, outside: Path
) -> None:
    assert rw.lstat("/d").is_dir()
    assert rw.read("/d/g.txt") == b"g\n"
    (root / "d").rename(root / "d.orig")
    (root / "d").symlink_to(outside)
    refused(rw.read, "/d/secret.txt")
    all_writes_through(rw, "/d/secret.txt")
    refused(rw.create, "/d/new")
    refused(rw.listdir, "/d")
    untouched(outside)


class _SwappingOs(SimpleNamespace):
    """Stand-in for ``os`` inside the backend: swaps ``victim`` for a symlink to ``target`` right
    before the backend first opens it, i.e. after any check the backend made."""

    def __init__(self, real: Any, victim: Path, target: Path) -> None:
        super().__init__()
        self._real = real
        self._victim = victim
        self._target = target
        self.swapped = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def open(self, name: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if not self.swapped and name == self._victim.name:
            self.swapped = True
            self._victim.rename(self._victim.with_name(self._victim.name + ".orig"))
            self._victim.symlink_to(self._target)
        return int(self._real.open(name, flags, mode, dir_fd=dir_fd))


@pytest.mark.parametrize("op", ["read", "write", "create", "listdir", "truncate"])
def test_directory_swapped_during_the_walk(
    monkeypatch: pytest.MonkeyPatch, rw: HostDirBackend, root: Path, outside: Path, op: str
) -> None:
    fake = _SwappingOs(os, root / "d", outside)
    monkeypatch.setattr(hostdir_mod, "os", fake)
    path = "/d/secret.txt" if op != "listdir" else "/d"
    args: dict[str, tuple[Any, ...]] = {
        "read": (path,),
        "write": (path, b"pwned", 0),
        "create": (path,),
        "listdir": (path,),
        "truncate": (path, 0),
    }
    refused(getattr(rw, op), *args[op])
    assert fake.swapped
    untouched(outside)


def test_file_swapped_for_symlink_before_open(
    monkeypatch: pytest.MonkeyPatch, rw: HostDirBackend, root: Path, outside: Path
) -> None:
    assert rw.lstat("/f.txt").is_file()
    fake = _SwappingOs(os, root / "f.txt", outside / "secret.txt")
    monkeypatch.setattr(hostdir_mod, "os", fake)
    assert refused(rw.write, "/f.txt", b"pwned", 0) == errno.ELOOP
    assert fake.swapped
    untouched(outside)


# --- writes ----------------------------------------------------------------------------------


def test_read_only_by_default(ro: HostDirBackend, root: Path) -> None:
    assert ro.readonly
    assert ro.read("/f.txt") == b"inside\n"
    calls: list[tuple[Any, ...]] = [
        (ro.create, "/new"),
        (ro.write, "/f.txt", b"x", 0),
        (ro.truncate, "/f.txt", 0),
        (ro.mkdir, "/nd"),
        (ro.rmdir, "/d"),
        (ro.unlink, "/f.txt"),
        (ro.rename, "/f.txt", "/g"),
        (ro.symlink, "x", "/l"),
        (ro.link, "/f.txt", "/h"),
        (ro.chmod, "/f.txt", 0o777),
        (ro.chown, "/f.txt", 0, 0),
        (ro.utimens, "/f.txt", 0, 0),
    ]
    for fn, *args in calls:
        refused(fn, *args, codes=(errno.EROFS,))
    assert sorted(p.name for p in root.iterdir()) == ["d", "f.txt"]
    assert (root / "f.txt").read_bytes() == b"inside\n"
    assert stat.S_IMODE((root / "f.txt").stat().st_mode) != 0o777


def test_symlink_created_then_written_through(
    rw: HostDirBackend, root: Path, outside: Path
) -> None:
    rw.symlink(str(outside / "secret.txt"), "/abs")
    rw.symlink("../outside/secret.txt", "/rel")
    rw.symlink(str(outside / "created-through-link"), "/dangling")
    for p in ("/abs", "/rel", "/dangling"):
        assert rw.lstat(p).is_symlink()
        refused(rw.read, p)
        all_writes_through(rw, p)
        refused(rw.chmod, p, 0o777, codes=(errno.EOPNOTSUPP,))
    untouched(outside)
    # the links themselves are plain data for the VFS to resolve inside the mount
    assert os.readlink(root / "abs") == str(outside / "secret.txt")


def test_setid_bits_are_dropped_on_files(rw: HostDirBackend, root: Path) -> None:
    rw.create("/suid", 0o6755)
    assert stat.S_IMODE(os.lstat(root / "suid").st_mode) == 0o755
    rw.chmod("/f.txt", 0o4777)
    assert stat.S_IMODE(os.lstat(root / "f.txt").st_mode) == 0o777
    rw.chmod("/d", 0o2775)  # set-group-ID on a directory is harmless inheritance
    assert stat.S_IMODE(os.lstat(root / "d").st_mode) == 0o2775


def test_owner_change_refused(rw: HostDirBackend, root: Path) -> None:
    st = rw.lstat("/f.txt")
    rw.chown("/f.txt", -1, -1)
    rw.chown("/f.txt", st.st_uid, st.st_gid)
    assert refused(rw.chown, "/f.txt", st.st_uid + 1, -1) == errno.EPERM
    assert os.lstat(root / "f.txt").st_uid == st.st_uid


# --- odd targets and paths -------------------------------------------------------------------------


def test_proc_self_root_style_targets(rw: HostDirBackend, root: Path, outside: Path) -> None:
    (root / "pr").symlink_to("/proc/self/root" + str(outside / "secret.txt"))
    (root / "cwd").symlink_to("/proc/self/cwd")
    (root / "fd").symlink_to("/proc/self/fd")
    for p in ("/pr", "/cwd", "/fd"):
        assert rw.lstat(p).is_symlink()
        refused(rw.read, p)
        refused(rw.listdir, p)
        all_writes_through(rw, p)
    refused(rw.read, "/cwd/secret.txt")
    refused(rw.read, "/proc/self/root/etc/passwd")
    refused(rw.listdir, "/proc/self/root")
    untouched(outside)


def test_very_long_paths(rw: HostDirBackend, root: Path) -> None:
    assert refused(rw.lstat, "/" + "a" * 300, codes=(errno.ENAMETOOLONG,))
    assert refused(rw.create, "/" + "a" * 300, codes=(errno.ENAMETOOLONG,))
    refused(rw.read, "/x" * 5000, codes=(errno.ENOENT,))
    # deeper than PATH_MAX still works, one component at a time
    path = ""
    for i in range(25):
        path += "/" + f"{i:03d}" + "n" * 200
        rw.mkdir(path)
    assert len(path) > 4096
    rw.create(path + "/leaf")
    rw.write(path + "/leaf", b"deep", 0)
    assert rw.read(path + "/leaf") == b"deep"


def test_nul_bytes_in_paths(rw: HostDirBackend, root: Path) -> None:
    for fn, args in (
        (rw.read, ("/f.txt\0/etc/passwd",)),
        (rw.lstat, ("/f\0",)),
        (rw.create, ("/new\0x",)),
        (rw.mkdir, ("/\0",)),
        (rw.listdir, ("/d\0",)),
        (rw.unlink, ("/f.txt\0",)),
        (rw.symlink, ("tar\0get", "/l")),
        (rw.rename, ("/f.txt", "/a\0b")),
    ):
        assert refused(fn, *args, codes=(errno.EINVAL,)) == errno.EINVAL
    with pytest.raises(OSError) as info:
        HostDirBackend(str(root) + "\0/etc")
    assert info.value.errno == errno.EINVAL
    assert sorted(p.name for p in root.iterdir()) == ["d", "f.txt"]


def test_fifo_does_not_block(rw: HostDirBackend, root: Path) -> None:
    os.mkfifo(root / "fifo")
    assert rw.lstat("/fifo").type_name == "fifo"
    assert refused(rw.read, "/fifo", codes=(errno.EINVAL,)) == errno.EINVAL
    assert refused(rw.write, "/fifo", b"x", 0, codes=(errno.EINVAL,)) == errno.EINVAL


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_device_nodes_are_not_opened(rw: HostDirBackend, root: Path) -> None:
    os.mknod(root / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    assert rw.lstat("/zero").is_chardev()
    assert refused(rw.read, "/zero", codes=(errno.EINVAL,)) == errno.EINVAL


# --- descriptors ---------------------------------------------------------------------------------


def test_reading_10mb_does_not_leak_fds(root: Path, outside: Path) -> None:
    data = bytes(range(256)) * 4096 * 10
    (root / "big").write_bytes(data)
    (root / "loop").symlink_to(outside)
    import gc

    gc.collect()  # descriptors of earlier tests' garbage must not close during the count
    before = fds_into(root, outside)
    b = HostDirBackend(str(root), writable=True)
    for _ in range(3):
        assert b.read("/big") == data
        assert b.read("/big", 5_000_000, 10) == data[5_000_000:5_000_010]
        b.write("/big", b"\0", 0)
        b.lstat("/d/g.txt")
        b.listdir("/d")
        for bad in ("/loop/secret.txt", "/missing/x", "/big/x", "/../x"):
            with pytest.raises(OSError):
                b.read(bad)
        with pytest.raises(OSError):
            b.listdir("/loop")
        with pytest.raises(OSError):
            b.create("/loop")
        b.chmod("/big", 0o600)
        b.utimens("/big", 1, 2)
        b.mkdir("/t")
        b.rename("/t", "/u")
        b.rmdir("/u")
    gc.collect()
    assert fds_into(root, outside) <= before + 1  # the root descriptor
    b.close()
    assert fds_into(root, outside) <= before
    untouched(outside)


def test_closed_backend_refuses_calls(root: Path) -> None:
    b = HostDirBackend(str(root))
    b.close()
    b.close()
    assert refused(b.lstat, "/f.txt", codes=(errno.EBADF,)) == errno.EBADF


# --- through a VM: the VFS resolves host symlinks inside the VM, never on the host -----------


def test_vm_mount_resolves_host_symlinks_inside_the_vm(root: Path, outside: Path) -> None:
    from pocketos import VM

    (root / "abs").symlink_to(outside / "secret.txt")
    (root / "rel").symlink_to("../outside/secret.txt")
    (root / "ok").symlink_to("d/g.txt")
    with VM() as vm:
        vm.mount("/mnt/ro", host=str(root))
        vm.mount("/mnt/rw", host=str(root), mode="rw")
        assert vm.read_file("/mnt/ro/ok") == b"g\n"
        for p in ("/mnt/ro/abs", "/mnt/ro/rel", "/mnt/rw/abs", "/mnt/rw/rel"):
            with pytest.raises(FileNotFoundError):
                vm.read_file(p)
        with pytest.raises(OSError) as info:
            vm.write_file("/mnt/ro/new", b"x")
        assert info.value.errno == errno.EROFS
        for p in ("/mnt/rw/abs", "/mnt/rw/rel"):
            with pytest.raises(OSError):
                vm.write_file(p, b"pwned")
    untouched(outside)
    assert not (root / "new").exists()
