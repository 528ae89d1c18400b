"""Unit tests for diff, patch and cmp (whole outputs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pocketos.commands._diff import Change, compute_changes
from pocketos.kernel.fs.view import FsView

JAN_2024_NS = 1_704_067_200 * 10**9  # 2024-01-01 00:00:00 UTC


@pytest.fixture()
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    v.mkdir("/work", parents=True, exist_ok=True)
    yield v
    v.close()


def put(vm: Any, files: dict[str, str | bytes], mtime_ns: int | None = None) -> None:
    fs = FsView(vm.kernel.vfs, "/work")
    for name, data in files.items():
        vm.write_file("/work/" + name, data, parents=True)
        if mtime_ns is not None:
            fs.utime(name, (mtime_ns, mtime_ns))


def run(vm: Any, *argv: str, stdin: str | bytes = b"") -> Any:
    return vm.run(list(argv), stdin=stdin, cwd="/work", env={"LC_ALL": "C"})


def test_compute_changes_minimal_script() -> None:
    a = [b"a\n", b"b\n", b"c\n"]
    b = [b"a\n", b"c\n", b"d\n"]
    assert compute_changes(a, b) == [Change(1, 1, 1, 0), Change(3, 2, 0, 1)]
    assert compute_changes([], []) == []
    assert compute_changes(a, a) == []


def test_unified_header_uses_mtime(vm: Any) -> None:
    put(vm, {"a.txt": "one\ntwo\n", "b.txt": "one\n2\n"}, JAN_2024_NS)
    r = run(vm, "diff", "-u", "a.txt", "b.txt")
    assert r.exit_code == 1
    assert r.stdout == (
        "--- a.txt\t2024-01-01 00:00:00.000000000 +0000\n"
        "+++ b.txt\t2024-01-01 00:00:00.000000000 +0000\n"
        "@@ -1,2 +1,2 @@\n"
        " one\n"
        "-two\n"
        "+2\n"
    )


def test_context_header_uses_mtime(vm: Any) -> None:
    put(vm, {"a": "x\n", "b": "y\n"}, JAN_2024_NS + 5)
    r = run(vm, "diff", "-c", "a", "b")
    assert r.stdout == (
        "*** a\t2024-01-01 00:00:00.000000005 +0000\n"
        "--- b\t2024-01-01 00:00:00.000000005 +0000\n"
        "***************\n"
        "*** 1 ****\n"
        "! x\n"
        "--- 1 ----\n"
        "! y\n"
    )


def test_normal_format_and_no_newline(vm: Any) -> None:
    put(vm, {"a": "1\n2\n3", "b": "1\n3\n4\n"})
    r = run(vm, "diff", "a", "b")
    assert r.stdout == ("2,3c2,3\n< 2\n< 3\n\\ No newline at end of file\n---\n> 3\n> 4\n")


def test_exit_statuses(vm: Any) -> None:
    put(vm, {"a": "x\n", "b": "x\n"})
    assert run(vm, "diff", "a", "b").exit_code == 0
    r = run(vm, "diff", "a", "missing")
    assert (r.exit_code, r.stderr) == (2, "diff: missing: No such file or directory\n")
    r = run(vm, "diff", "a")
    assert r.exit_code == 2


def test_recursive_and_new_file(vm: Any) -> None:
    put(vm, {"l/f": "a\n", "r/f": "b\n", "l/gone": "g\n", "r/sub/new": "n\n"})
    r = run(vm, "diff", "-r", "l", "r")
    assert r.stdout == ("diff -r l/f r/f\n1c1\n< a\n---\n> b\nOnly in l: gone\nOnly in r: sub\n")
    r = run(vm, "diff", "-rN", "l", "r")
    assert r.stdout == (
        "diff -rN l/f r/f\n1c1\n< a\n---\n> b\n"
        "diff -rN l/gone r/gone\n1d0\n< g\n"
        "diff -rN l/sub/new r/sub/new\n0a1\n> n\n"
    )
    assert (
        run(vm, "diff", "-qr", "l", "r").stdout
        == "Files l/f and r/f differ\nOnly in l: gone\nOnly in r: sub\n"
    )


def test_ignore_options(vm: Any) -> None:
    put(vm, {"a": "Hello  World\n\nend\n", "b": "hello world\nend\n"})
    assert run(vm, "diff", "-i", "-b", "-B", "a", "b").exit_code == 0
    assert run(vm, "diff", "-i", "-w", "-B", "a", "b").stdout == ""
    assert (
        run(vm, "diff", "-i", "-B", "a", "b").stdout
        == "1,2c1\n< Hello  World\n< \n---\n> hello world\n"
    )


def test_labels(vm: Any) -> None:
    put(vm, {"a": "x\n", "b": "y\n"})
    r = run(vm, "diff", "-u", "--label", "old", "--label", "new", "a", "b")
    assert r.stdout == "--- old\n+++ new\n@@ -1 +1 @@\n-x\n+y\n"


def test_patch_round_trip(vm: Any) -> None:
    old = "".join(f"{i}\n" for i in range(1, 30))
    new = old.replace("3\n", "three\n", 1).replace("25\n", "25\n25b\n")
    put(vm, {"old.txt": old, "new.txt": new})
    d = run(vm, "diff", "-u", "old.txt", "new.txt").stdout_bytes
    put(vm, {"p.diff": d})
    r = run(vm, "patch", "old.txt", "-i", "p.diff")
    assert (r.exit_code, r.stdout) == (0, "patching file old.txt\n")
    assert vm.read_file("/work/old.txt") == new.encode()
    r = run(vm, "patch", "-R", "old.txt", "-i", "p.diff")
    assert vm.read_file("/work/old.txt") == old.encode()


def test_patch_failure_writes_reject(vm: Any) -> None:
    put(vm, {"f": "a\nb\nc\n"})
    patch = "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-x\n+y\n c\n"
    r = run(vm, "patch", "-p0", stdin=patch)
    assert r.exit_code == 1
    assert r.stdout == (
        "patching file f\nHunk #1 FAILED at 1.\n"
        "1 out of 1 hunk FAILED -- saving rejects to file f.rej\n"
    )
    assert vm.read_file("/work/f.rej") == b"--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-x\n+y\n c\n"
    assert vm.read_file("/work/f") == b"a\nb\nc\n"


def test_patch_dry_run_and_offset(vm: Any) -> None:
    put(vm, {"f": "pre\na\nb\nc\n"})
    patch = "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    r = run(vm, "patch", "--dry-run", "-p0", stdin=patch)
    assert r.stdout == "checking file f\nHunk #1 succeeded at 2 (offset 1 line).\n"
    assert vm.read_file("/work/f") == b"pre\na\nb\nc\n"
    r = run(vm, "patch", "-p0", stdin=patch)
    assert vm.read_file("/work/f") == b"pre\na\nB\nc\n"
    assert vm.read_file("/work/f.orig") == b"pre\na\nb\nc\n"


def test_patch_garbage(vm: Any) -> None:
    r = run(vm, "patch", stdin="nothing here\n")
    assert r.exit_code == 2
    assert r.stderr == "patch: **** Only garbage was found in the patch input.\n"


def test_cmp_messages(vm: Any) -> None:
    put(vm, {"a": "abc\n", "b": "abd\n", "s": "ab", "e": ""})
    assert run(vm, "cmp", "a", "b").stdout == "a b differ: char 3, line 1\n"
    r = vm.run(["cmp", "a", "b"], cwd="/work", env={"LANG": "en_US.UTF-8"})
    assert r.stdout == "a b differ: byte 3, line 1\n"
    r = run(vm, "cmp", "s", "a")
    assert (r.exit_code, r.stderr) == (1, "cmp: EOF on s after byte 2, in line 1\n")
    r = run(vm, "cmp", "e", "a")
    assert r.stderr == "cmp: EOF on e which is empty\n"
    assert run(vm, "cmp", "-l", "a", "b").stdout == "3 143 144\n"
    assert run(vm, "cmp", "-s", "a", "b").stdout == ""
    assert run(vm, "cmp", "a", "nope").exit_code == 2
