"""The test/[ engine against bash's own ``test`` builtin on the host."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.vfs import VFS
from pocketos.kernel.fs.view import FsView
from pocketos.shell.testexpr import evaluate_test, parse_integer

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")

IS_ROOT = os.geteuid() == 0

# name -> (kind, mode, mtime seconds, data or link target)
FILES: dict[str, tuple[str, int, int, str]] = {
    "f": ("file", 0o644, 1500, "x\n"),
    "empty": ("file", 0o644, 1500, ""),
    "d": ("dir", 0o755, 1500, ""),
    "exe": ("file", 0o755, 1500, "#!/bin/sh\n"),
    "ro": ("file", 0o444, 1500, "r"),
    "none": ("file", 0o000, 1500, "n"),
    "suid": ("file", 0o4755, 1500, "s"),
    "sgid": ("file", 0o2755, 1500, "g"),
    "sticky": ("dir", 0o1777, 1500, ""),
    "old": ("file", 0o644, 1000, "o"),
    "new": ("file", 0o644, 2000, "n"),
    "l": ("link", 0, 0, "f"),
    "dl": ("link", 0, 0, "d"),
    "broken": ("link", 0, 0, "nope"),
}


@pytest.fixture(scope="module")
def host_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, mode, mtime, data) in FILES.items():
            p = os.path.join(tmp, name)
            if kind == "file":
                with open(p, "w") as fh:
                    fh.write(data)
            elif kind == "dir":
                os.mkdir(p)
            else:
                os.symlink(data, p)
                continue
            os.chmod(p, mode)
            os.utime(p, (mtime, mtime))
        os.link(os.path.join(tmp, "f"), os.path.join(tmp, "hard"))
        yield tmp


@pytest.fixture(scope="module")
def fs() -> FsView:
    view = FsView(VFS(MemoryBackend()), "/")
    view.mkdir("/w")
    view = view.with_cwd("/w")
    for name, (kind, mode, mtime, data) in FILES.items():
        if kind == "file":
            view.write_bytes(name, data.encode())
        elif kind == "dir":
            view.mkdir(name)
        else:
            view.symlink(data, name)
            continue
        view.chmod(name, mode)
        view.utime(name, (mtime * 10**9, mtime * 10**9))
    view.link("f", "hard")
    return view


_CACHE: dict[tuple[str, tuple[str, ...]], tuple[int, str | None]] = {}
_PREFIX = re.compile(r"^bash: line \d+: ")


def _run_batch(cwd: str, calls: list[tuple[str, list[str]]]) -> None:
    """Run many test/[ calls in one bash process and fill the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for i, (name, args) in enumerate(calls):
            words = " ".join(shlex.quote(a) for a in args)
            lines.append(f"{name} {words} 2>{tmp}/e{i}; echo $? >{tmp}/s{i}")
        subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", "\n".join(lines)],
            cwd=cwd,
            env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
            timeout=60,
            check=True,
        )
        for i, (name, args) in enumerate(calls):
            err = Path(tmp, f"e{i}").read_text()
            status = int(Path(tmp, f"s{i}").read_text())
            msg = None
            if err:
                assert _PREFIX.match(err) and err.endswith("\n"), err
                msg = _PREFIX.sub("", err)[:-1]
            _CACHE[(name, tuple(args))] = (status, msg)


def bash_test(cwd: str, name: str, args: list[str]) -> tuple[int, str | None]:
    key = (name, tuple(args))
    if key not in _CACHE:
        calls = [("test", a) for a in SYNTAX + FILE_CASES + ACCESS_CASES]
        calls += [("[", [*a, "]"]) for a in SYNTAX] + [("[", a) for a in BRACKET_ODD]
        _run_batch(cwd, calls)
    if key not in _CACHE:
        _run_batch(cwd, [(name, args)])
    return _CACHE[key]


SYNTAX: list[list[str]] = [
    [],
    [""],
    ["a"],
    ["-z"],
    ["-n"],
    ["!"],
    ["("],
    [")"],
    ["-a"],
    ["-o"],
    ["-t"],
    ["a", "b"],
    ["!", ""],
    ["!", "a"],
    ["-z", ""],
    ["-z", "a"],
    ["-n", ""],
    ["-n", "x"],
    ["-q", "a"],
    ["(", ")"],
    ["a", "-a"],
    ["-t", "x"],
    ["-t", "99"],
    ["-x"],
    ["a", "=", "a"],
    ["a", "==", "b"],
    ["a", "!=", "b"],
    ["a", "<", "b"],
    ["b", "<", "a"],
    ["a", ">", "b"],
    ["B", ">", "a"],
    ["a", "-q", "b"],
    ["!", "=", "!"],
    ["-n", "=", "-n"],
    ["(", ")", ")"],
    ["(", "x", ")"],
    ["(", "", ")"],
    ["!", "-z", "a"],
    ["!", "a", "b"],
    ["a", "-a", ""],
    ["a", "-o", ""],
    ["", "-o", ""],
    ["", "-a", "b"],
    ["-z", "-a", "-n"],
    ["1", "-eq", "1"],
    ["1", "-eq", "2"],
    ["a", "-eq", "1"],
    ["1", "-eq", "a"],
    ["1", "-eq", ""],
    [" 1 ", "-eq", "1"],
    ["\n1", "-eq", "1"],
    ["1\n", "-eq", "1"],
    ["+1", "-eq", "1"],
    ["-0", "-eq", "0"],
    ["010", "-eq", "10"],
    ["0x10", "-eq", "16"],
    ["99999999999999999999", "-eq", "1"],
    ["9223372036854775807", "-gt", "-9223372036854775808"],
    ["3", "-ne", "4"],
    ["3", "-lt", "4"],
    ["4", "-le", "4"],
    ["5", "-gt", "4"],
    ["4", "-ge", "5"],
    ["1.5", "-lt", "2"],
    ["1", "-eq", "1", "2"],
    ["a", "b", "c", "d", "e"],
    ["!", "!", "a"],
    ["!", "!", "!", "a"],
    ["!", "a", "=", "b"],
    ["(", "a", "b", ")"],
    ["(", "-n", "x", ")"],
    ["(", "a"],
    ["1", "-lt", "2", "-a", "3"],
    ["-l", "abc", "-eq", "3"],
    ["a", "=", "b", "=", "c"],
    ["1", "-eq", "1", "-o", "a", "-eq", "1"],
    ["a", "-o", "b", "-a", ""],
    ["", "-o", "b", "-a", ""],
    ["a", "-a", "b", "-o", ""],
    ["", "-a", "b", "-o", "c"],
    ["!", "", "-a", "x"],
    ["!", "(", "a", "=", "b", ")"],
    ["(", "a", "=", "a", ")", "-a", "b"],
    ["(", "(", "a", ")", ")"],
    ["(", "a", "-o", ""],
    ["(", "a", "x"],
    ["(", "a", "=", "a", "x"],
    ["x", "-a"],
    ["x", "-a", "-o", "y"],
    ["-n", "-a", "-z"],
    ["a", "-o"],
    ["!", "!"],
    ["!", "!", "!"],
    ["!", "(", ")"],
    ["=", "=", "="],
    ["-z", "-z", "-z"],
    ["a", "=", "a", "-a", "-z", "", "-a", "-n", "x"],
    ["a", "=", "a", "-a", "(", "b", "=", "c", "-o", "d", "=", "d", ")"],
    ["x", "-o", "(", "y"],
    ["-o", "x"],
    ["-v", "PATH"],
    ["-o", "errexit"],
    ["a", "-o", "b", "-o", "", "-a", "c"],
    ["", "-a", "x", "-o", "y", "-a", ""],
    ["1", "-eq", "1", "-a", "b", "-eq", "2", "-o", "c", "-eq", "3"],
    ["00000000000000000000000001", "-eq", "1"],
    ["9" * 30, "-gt", "1"],
]

FILE_CASES: list[list[str]] = [
    [op, p]
    for op in [
        "-e",
        "-a",
        "-f",
        "-d",
        "-L",
        "-h",
        "-s",
        "-b",
        "-c",
        "-p",
        "-S",
        "-g",
        "-u",
        "-k",
        "-N",
    ]
    for p in [
        "f",
        "empty",
        "d",
        "l",
        "dl",
        "broken",
        "missing",
        "sticky",
        "suid",
        "sgid",
        "",
        "d/",
        "f/",
        ".",
    ]
] + [
    ["old", "-nt", "new"],
    ["new", "-nt", "old"],
    ["old", "-ot", "new"],
    ["new", "-ot", "old"],
    ["f", "-nt", "missing"],
    ["missing", "-nt", "f"],
    ["f", "-ot", "missing"],
    ["missing", "-ot", "f"],
    ["missing", "-nt", "missing"],
    ["f", "-ef", "hard"],
    ["f", "-ef", "l"],
    ["f", "-ef", "f"],
    ["f", "-ef", "empty"],
    ["f", "-ef", "missing"],
    ["d", "-ef", "dl"],
    ["!", "-e", "missing"],
    ["-f", "f", "-a", "-d", "d"],
    ["-f", "d", "-o", "-d", "f"],
    ["(", "-e", "f", ")"],
    ["-f", "f", "-a", "!", "-s", "empty"],
]

ACCESS_CASES: list[list[str]] = [
    [op, p]
    for op in ["-r", "-w", "-x"]
    for p in ["f", "exe", "ro", "none", "d", "missing", "l", "broken", "suid"]
] + [["-O", "f"], ["-G", "f"], ["-O", "missing"]]


def _ids(cases: list[list[str]]) -> list[str]:
    return [" ".join(repr(a) if (not a or " " in a) else a for a in c) or "<none>" for c in cases]


@pytest.mark.parametrize("args", SYNTAX, ids=_ids(SYNTAX))
def test_syntax_like_bash(args: list[str], host_dir: str, fs: FsView) -> None:
    want = bash_test(host_dir, "test", args)
    # bash knows its own variables and options; the engine asks callbacks
    got = evaluate_test(args, fs, is_set=lambda n: n == "PATH", option_on=lambda o: False)
    assert got == want


@pytest.mark.parametrize("args", SYNTAX, ids=_ids(SYNTAX))
def test_bracket_like_bash(args: list[str], host_dir: str, fs: FsView) -> None:
    want = bash_test(host_dir, "[", [*args, "]"])
    got = evaluate_test(
        [*args, "]"], fs, name="[", is_set=lambda n: n == "PATH", option_on=lambda o: False
    )
    assert got == want


BRACKET_ODD: list[list[str]] = [[], ["a"], ["a", "]", "]"], ["]"], ["x", "="]]


@pytest.mark.parametrize("args", BRACKET_ODD, ids=["none", "a", "a]]", "]", "x="])
def test_bracket_missing_close(args: list[str], host_dir: str, fs: FsView) -> None:
    assert evaluate_test(args, fs, name="[") == bash_test(host_dir, "[", args)


@pytest.mark.parametrize("args", FILE_CASES, ids=_ids(FILE_CASES))
def test_files_like_bash(args: list[str], host_dir: str, fs: FsView) -> None:
    assert evaluate_test(args, fs) == bash_test(host_dir, "test", args)


@pytest.mark.skipif(not IS_ROOT, reason="the host comparison assumes root, like the VM user")
@pytest.mark.parametrize("args", ACCESS_CASES, ids=_ids(ACCESS_CASES))
def test_access_as_root_like_bash(args: list[str], host_dir: str, fs: FsView) -> None:
    assert evaluate_test(args, fs, uid=0, gid=0) == bash_test(host_dir, "test", args)


def test_access_as_owner(fs: FsView) -> None:
    assert evaluate_test(["-r", "none"], fs) == (1, None)
    assert evaluate_test(["-w", "ro"], fs) == (1, None)
    assert evaluate_test(["-x", "f"], fs) == (1, None)
    assert evaluate_test(["-x", "exe"], fs) == (0, None)
    assert evaluate_test(["-r", "f"], fs, uid=1000, gid=1000) == (0, None)
    assert evaluate_test(["-w", "f"], fs, uid=1000, gid=1000) == (1, None)
    assert evaluate_test(["-O", "f"], fs, uid=1000) == (1, None)


def test_callbacks(fs: FsView) -> None:
    assert evaluate_test(["-v", "X"], fs, is_set=lambda n: n == "X") == (0, None)
    assert evaluate_test(["-v", "Y"], fs, is_set=lambda n: n == "X") == (1, None)
    assert evaluate_test(["-o", "nounset"], fs, option_on=lambda o: True) == (0, None)
    assert evaluate_test(["-R", "ref"], fs, is_nameref=lambda n: True) == (0, None)
    assert evaluate_test(["-t", "0"], fs, isatty=lambda fd: fd == 0) == (0, None)
    assert evaluate_test(["-t", "1"], fs) == (1, None)


def test_nul_and_deep_nesting(fs: FsView) -> None:
    assert evaluate_test(["-e", "a\x00b"], fs) == (1, None)
    deep = ["!"] * 5000 + ["a"]
    assert evaluate_test(deep, fs) == (0, None)
    chain = ["a"] + ["-a", "b", "-o", ""] * 3000
    assert evaluate_test(chain, fs) == (0, None)
    parens = ["("] * 3000 + ["a"] + [")"] * 3000
    status, _ = evaluate_test(parens, fs)
    assert status in (0, 2)


def test_parse_integer() -> None:
    assert parse_integer(" 12\t") == 12
    assert parse_integer("-5") == -5
    assert parse_integer("") is None
    assert parse_integer("1 2") is None
    assert parse_integer("٣") is None
    assert parse_integer("9223372036854775808") is None
    assert parse_integer("00000000000000000000000000001") == 1
    assert parse_integer("9" * 5000) is None
