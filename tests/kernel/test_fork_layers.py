"""Forking again and again does not pile up layers in the parent."""

from __future__ import annotations

import random
import stat as S
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.kernel.fs.api import Backend
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend


def test_forks_without_writes_share_one_sealed_layer() -> None:
    with VM() as parent:
        parent.write_file("/tmp/a", "a\n")
        first = parent.fork()
        depth = len(parent.async_vm._root.lowers)
        children = [parent.fork() for _ in range(50)]
        assert len(parent.async_vm._root.lowers) == depth
        for c in (first, *children):
            assert c.read_text("/tmp/a") == "a\n"
        # every VM stays independent
        parent.write_file("/tmp/a", "parent\n")
        children[0].write_file("/tmp/a", "child\n")
        assert first.read_text("/tmp/a") == "a\n"
        assert children[1].read_text("/tmp/a") == "a\n"
        assert children[0].read_text("/tmp/a") == "child\n"
        assert parent.read_text("/tmp/a") == "parent\n"
        for c in (first, *children):
            c.close()


def test_a_write_between_forks_is_sealed_and_kept() -> None:
    with VM() as parent:
        kids = []
        for i in range(5):
            parent.write_file(f"/tmp/f{i}", f"{i}\n")
            kids.append(parent.fork())
        for i, k in enumerate(kids):
            assert k.exec("cat /tmp/f*").stdout == "".join(f"{j}\n" for j in range(i + 1))
            k.close()
        parent.exec("rm /tmp/f0")
        late = parent.fork()
        assert not late.exists("/tmp/f0")
        assert parent.fork().exists("/tmp/f1")


def test_deleting_and_chmod_between_forks_are_not_lost() -> None:
    with VM() as parent:
        parent.write_file("/tmp/x", "x")
        a = parent.fork()
        parent.exec("chmod 600 /tmp/x")
        b = parent.fork()
        assert b.exec("stat -c %a /tmp/x").stdout == "600\n"
        assert a.exec("stat -c %a /tmp/x").stdout != "600\n"
        parent.exec("mkdir /tmp/d")
        c = parent.fork()
        assert c.exists("/tmp/d")
        for v in (a, b, c):
            v.close()


# --- writes between forks: sealed layers are merged, nothing seen changes --------------------

NAMES = ["a", "b", "c"]
PATHS = ["/"] + [
    "/" + "/".join(p)
    for p in (
        [(x,) for x in NAMES]
        + [(x, y) for x in NAMES for y in NAMES]
        + [(x, y, z) for x in NAMES for y in NAMES for z in NAMES]
    )
]


def _answer(fs: Backend, path: str, *, ino: bool = True) -> tuple[object, ...]:
    """Everything a lookup tells about ``path``."""
    try:
        st_ = fs.lstat(path)
    except OSError as exc:
        return ("error", exc.errno)
    out: tuple[object, ...] = (st_.st_mode, st_.st_nlink, st_.st_size)
    if ino:  # the same overlay before and after a merge: times and inodes too
        out += (st_.st_ino, st_.st_mtime_ns, st_.st_ctime_ns)
    if S.S_ISDIR(st_.st_mode):
        out += (tuple(sorted(fs.listdir(path))),)
    elif S.S_ISLNK(st_.st_mode):
        out += (fs.readlink(path),)
    elif S.S_ISREG(st_.st_mode):
        out += (fs.read(path),)
    return out


def _answers(fs: Backend, *, ino: bool = True) -> list[tuple[object, ...]]:
    return [_answer(fs, p, ino=ino) for p in PATHS]


def _base() -> MemoryBackend:
    fs = MemoryBackend()
    fs.mkdir("/a")
    fs.mkdir("/a/b")
    fs.create("/a/b/c")
    fs.write("/a/b/c", b"base", 0)
    fs.create("/a/c")
    fs.link("/a/c", "/b")
    fs.mkdir("/c")
    fs.symlink("/a", "/c/a")
    return fs.freeze()


_path = st.sampled_from(PATHS[1:])
_op = st.one_of(
    st.tuples(st.just("write"), _path, st.binary(max_size=3)),
    st.tuples(st.just("mkdir"), _path),
    st.tuples(st.just("unlink"), _path),
    st.tuples(st.just("rmdir"), _path),
    st.tuples(st.just("rename"), _path, _path),
    st.tuples(st.just("link"), _path, _path),
    st.tuples(st.just("symlink"), _path, _path),
    st.tuples(st.just("chmod"), _path, st.sampled_from([0o600, 0o755])),
    st.tuples(st.just("fork")),
)


def _apply(fs: OverlayBackend, op: tuple[Any, ...]) -> None:
    kind, *args = op
    try:
        if kind == "write":
            fs.create(args[0], 0o644, exclusive=False, truncate=True)
            fs.write(args[0], args[1], 0)
        elif kind == "mkdir":
            fs.mkdir(args[0])
        elif kind == "unlink":
            fs.unlink(args[0])
        elif kind == "rmdir":
            fs.rmdir(args[0])
        elif kind == "rename":
            fs.rename(args[0], args[1])
        elif kind == "link":
            fs.link(args[0], args[1])
        elif kind == "symlink":
            fs.symlink(args[0], args[1])
        elif kind == "chmod":
            fs.chmod(args[0], args[1])
    except OSError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, max_size=60))
def test_merging_sealed_layers_changes_nothing_anyone_sees(ops: list[tuple[Any, ...]]) -> None:
    """The merged overlay answers every lookup exactly as before the merge (inode numbers,
    link counts, whiteouts and opaque directories included); every child keeps seeing what
    it saw when forked; and later writes behave as over the unmerged stack."""
    base = _base()
    fs = OverlayBackend([base], MemoryBackend())
    fs.max_sealed = 2
    twin = OverlayBackend([base], MemoryBackend())  # never merges
    twin.max_sealed = 10**9
    children: list[tuple[OverlayBackend, list[tuple[object, ...]]]] = []
    for op in ops:
        if op[0] == "fork":
            fs.max_sealed = 10**9
            fs.seal()
            twin.seal()
            before = _answers(fs)
            fs.max_sealed = 2
            fs._squash()
            assert _answers(fs) == before
            assert len(fs.lowers) <= 1 + fs.max_sealed
            child = OverlayBackend(list(fs.lowers), MemoryBackend())
            children.append((child, _answers(child)))
        else:
            _apply(fs, op)
            _apply(twin, op)
        assert _answers(fs, ino=False) == _answers(twin, ino=False)
    for child, seen in children:
        assert _answers(child) == seen


def test_a_directory_made_over_a_sealed_whiteout_still_hides_the_base() -> None:
    """``rm -r /a`` sealed by a fork, then ``mkdir /a``: the new directory is not opaque (the
    whiteout is in a lower layer) but the stack ends there; merged, it must stay empty."""
    fs = OverlayBackend([_base()], MemoryBackend())
    fs.max_sealed = 10**9
    for p in ("/a/c", "/a/b/c"):
        fs.unlink(p)
    fs.rmdir("/a/b")
    fs.rmdir("/a")
    fs.seal()
    fs.mkdir("/a")
    fs.unlink("/c/a")
    fs.rmdir("/c")
    fs.seal()
    fs.mkdir("/c")  # the same over an opaque-less stack ended by a whiteout
    fs.seal()
    fs.unlink("/b")
    fs.mkdir("/b")  # a directory where the base has a file
    fs.seal()
    fs.mkdir("/a/b")
    fs.seal()
    before = _answers(fs)
    assert fs.listdir("/a") == ["b"]
    fs.max_sealed = 1
    fs._squash()
    assert len(fs.lowers) == 2
    assert _answers(fs) == before
    assert fs.listdir("/a") == ["b"] and fs.listdir("/a/b") == []
    assert fs.listdir("/c") == [] and fs.listdir("/b") == []


def test_hard_links_keep_their_meaning_across_merges() -> None:
    fs = OverlayBackend([_base()], MemoryBackend())
    fs.max_sealed = 1
    for _ in range(3):
        fs.seal()
    fs.write("/b", b"through b", 0)  # /a/c and /b are one inode of the base
    assert fs.read("/a/c") == b"through b"
    fs.link("/b", "/c/b")
    for _ in range(3):
        fs.seal()
    fs.write("/c/b", b"x", 0)
    assert fs.read("/a/c") == fs.read("/b") == b"xhrough b"
    assert fs.lstat("/a/c").st_nlink == 3
    assert len(fs.lowers) == 2


def _visible(vm: VM, root: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in vm.readdir(root):
        path = f"{root}/{name}"
        if vm.lstat(path).is_dir():
            out[path] = "<dir>"
            out.update(_visible(vm, path))
        else:
            out[path] = vm.read_text(path)
    return out


def test_a_thousand_forks_with_writes_between_keep_lookups_shallow() -> None:
    """1,000 forks with a write between each: the parent's and the last child's lookups walk
    as many layers as a fresh VM's (plus a bounded few), and every child still sees exactly
    the files it was forked with (checked against a dict model)."""
    rng = random.Random(15)
    slots = [f"/w/{d}/f{i}" for d in ("x", "y") for i in range(8)]
    model: dict[str, str] = {}
    links: dict[str, set[str]] = {}  # path -> the paths sharing its inode (itself included)
    with VM() as fresh, VM() as parent:
        parent.mkdir("/w/x", parents=True)
        parent.mkdir("/w/y")
        kids: list[tuple[VM, dict[str, str]]] = []
        for i in range(1000):
            path = rng.choice(slots)
            roll = rng.random()
            if roll < 0.15 and path in model:
                parent.delete(path)
                del model[path]
                group = links.pop(path, {path})
                group.discard(path)
                for other in group:
                    links[other] = group
            elif roll < 0.25 and path in model:
                other = rng.choice(slots)
                if other not in model:
                    parent.exec(f"ln {path} {other}")
                    group = links.setdefault(path, {path})
                    group.add(other)
                    links[other] = group
                    model[other] = model[path]
            else:
                text = f"{i}\n"
                parent.write_file(path, text)
                for p in links.get(path, {path}):
                    model[p] = text
            kids.append((parent.fork(), dict(model)))
        layers = len(fresh.async_vm._root.lowers)
        for vm in (parent, kids[-1][0]):
            # an uncached lookup asks each layer once per path component
            assert len(vm.async_vm._root.lowers) <= layers + 4
            assert len(vm.async_vm._root._walk("/w/x", vm.async_vm._root.layers)) <= 5
        for kid, seen in kids:
            expect = {"/w/x": "<dir>", "/w/y": "<dir>", **seen}
            assert _visible(kid, "/w") == expect
            kid.close()
        assert _visible(parent, "/w") == {"/w/x": "<dir>", "/w/y": "<dir>", **model}
