"""A directory's entries with their lstat in one call (``Backend.lstat_entries``, used by
``VFS.scandir`` and the walkers) must give, for every name, exactly what ``lstat`` of that name
gives: through whiteouts, opaque directories, copy-ups and names whose type changed from one
layer to the next."""

from __future__ import annotations

import posixpath
import stat as S

from pocketos import VM
from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend

SETUP = """
mkdir -p /t/keep/deep /t/gone /t/redo/old /t/dir2file /t/file2dir
echo a > /t/keep/a; echo b > /t/keep/deep/b; echo c > /t/gone/c; echo d > /t/redo/old/d
echo e > /t/dir2file/e; echo f > /t/file2dir.txt; echo g > /t/lower.txt
ln -s keep /t/link; ln -s missing /t/dangling
"""

CHANGES = """
rm /t/lower.txt; rm -r /t/gone; rm -r /t/redo; mkdir -p /t/redo/new; echo n > /t/redo/new/n
rm -r /t/dir2file; echo now-a-file > /t/dir2file
rm /t/file2dir.txt; mkdir /t/file2dir.txt; echo x > /t/file2dir.txt/x
echo longer-than-before > /t/keep/a; echo new > /t/keep/new; rm /t/link; mkdir /t/link
"""


def _dirs(backend: Backend, top: str) -> list[str]:
    out = [top]
    for name in backend.listdir(top):
        p = posixpath.join(top, name)
        if S.S_ISDIR(backend.lstat(p).st_mode):
            out.extend(_dirs(backend, p))
    return out


def _check_all(backend: Backend) -> int:
    checked = 0
    for d in _dirs(backend, "/t"):
        got = backend.lstat_entries(d)
        assert got is not None, d
        want = {n: backend.lstat(posixpath.join(d, n)) for n in backend.listdir(d)}
        assert got == want, d
        checked += len(want)
    return checked


def test_a_memory_backend_lists_what_lstat_gives() -> None:
    with VM() as vm:
        vm.exec(SETUP)
        root = vm.kernel.vfs.root
        upper = root.upper if isinstance(root, OverlayBackend) else root
        assert isinstance(upper, MemoryBackend)
        assert _check_all(upper) >= 10
        assert upper.lstat_entries("/t/keep/a") is None  # a file: no entries
        assert upper.lstat_entries("/nowhere") is None


def test_an_overlay_lists_what_lstat_gives_through_every_layer() -> None:
    with VM() as setup:
        assert setup.exec(SETUP).exit_code == 0
        with setup.fork() as vm:
            assert vm.exec(CHANGES).exit_code == 0
            root = vm.kernel.vfs.root
            assert isinstance(root, OverlayBackend) and len(root.layers) >= 2
            assert _check_all(root) >= 10
            # a deleted name is gone, a replaced one shows its new type, a copied-up file
            # its new size
            t = root.lstat_entries("/t")
            assert t is not None
            assert "lower.txt" not in t and "gone" not in t
            assert S.S_ISREG(t["dir2file"].st_mode) and S.S_ISDIR(t["file2dir.txt"].st_mode)
            assert S.S_ISDIR(t["link"].st_mode) and S.S_ISLNK(t["dangling"].st_mode)
            assert sorted(root.lstat_entries("/t/redo") or {}) == ["new"]
            keep = root.lstat_entries("/t/keep")
            assert keep is not None and keep["a"].st_size == len("longer-than-before\n")
            with vm.fork() as again:
                again.exec("rm /t/keep/new; echo z > /t/redo/z")
                assert _check_all(again.kernel.vfs.root) >= 10


def test_scandir_and_the_walkers_see_the_changes_of_another_path_at_once() -> None:
    with VM() as setup:
        setup.exec(SETUP)
        with setup.fork() as vm:
            vfs = vm.kernel.vfs
            before = dict(vfs.scandir("/t/keep"))
            vm.write_file("/t/keep/a", b"changed through the API, longer\n")
            vm.exec("rm /t/keep/deep/b; rmdir /t/keep/deep; ln -s a /t/keep/deep")
            after = dict(vfs.scandir("/t/keep"))
            assert before["a"] is not None and after["a"] is not None
            assert after["a"].st_size != before["a"].st_size
            deep = after["deep"]
            assert deep is not None and S.S_ISLNK(deep.st_mode)
            r = vm.exec("find /t/keep -type l; grep -rl changed /t/keep")
            assert r.stdout == "/t/keep/deep\n/t/keep/a\n"
