"""diff, cmp and patch in a VM against GNU diffutils and GNU patch on the host.

Unified and context headers carry file times, which differ between the host and the VM, so
those cases name the files with ``--label``.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.commands._text_cases import check
from tests.compat import HOST_ENV, Case, have

pytestmark = pytest.mark.skipif(
    not have("diff") or not have("cmp"), reason="GNU diffutils not installed on the host"
)

L = ["--label", "A", "--label", "B"]

F: dict[str, str | bytes] = {
    "a": "one\ntwo\nthree\nfour\n",
    "b": "one\nTWO\nthree\n\nfour\nfive\n",
    "c": "one  two\nthree\n",
    "d": "one two \n three\n",
    "e": "",
    "n": "x\ny",
    "m": "x\ny\n",
    "bin1": b"a\0b",
    "bin2": b"a\0c",
    "crlf": "one\r\ntwo\r\n",
    "da/f": "x\n",
    "db/f": "y\n",
    "da/only": "z\n",
    "da/s/q": "s\n",
    "db/s/q": "t\n",
    "db/new": "n\n",
    "da/same": "same\n",
    "db/same": "same\n",
}

LONG_A = "".join(f"line {i}\n" for i in range(1, 41))
LONG_B = (
    LONG_A.replace("line 5\n", "line five\n")
    .replace("line 20\n", "")
    .replace("line 33\n", "line 33\nnew a\nnew b\n")
)


def D(*argv: str, stdin: str = "", files: dict[str, str | bytes] | None = None) -> Case:
    return Case(list(argv), dict(F if files is None else files), stdin)


HAND = [
    D("diff", "a", "b"),
    D("diff", "-u", *L, "a", "b"),
    D("diff", "-c", *L, "a", "b"),
    D("diff", "-U0", *L, "a", "b"),
    D("diff", "-U", "1", *L, "a", "b"),
    D("diff", "--unified=5", *L, "a", "b"),
    D("diff", "-C1", *L, "a", "b"),
    D("diff", "-C", "0", *L, "a", "b"),
    D("diff", "-i", "a", "b"),
    D("diff", "-B", "a", "b"),
    D("diff", "-iB", "a", "b"),
    D("diff", "-w", "c", "d"),
    D("diff", "-b", "c", "d"),
    D("diff", "c", "d"),
    D("diff", "--strip-trailing-cr", "crlf", "a"),
    D("diff", "-q", "a", "b"),
    D("diff", "-s", "a", "a"),
    D("diff", "a", "a"),
    D("diff", "n", "m"),
    D("diff", "m", "n"),
    D("diff", "-u", *L, "n", "m"),
    D("diff", "-c", *L, "m", "n"),
    D("diff", "bin1", "bin2"),
    D("diff", "-a", "bin1", "bin2"),
    D("diff", "a", "nope"),
    D("diff", "e", "a"),
    D("diff", "a", "e"),
    D("diff", "-u", *L, "e", "a"),
    D("diff", "-u", *L, "a", "e"),
    D("diff", "-r", "da", "db"),
    D("diff", "da", "db"),
    D("diff", "-q", "-r", "da", "db"),
    D("diff", "-rN", "da", "db"),
    D("diff", "-x", "s", "-r", "da", "db"),
    D("diff", "-rs", "da", "db"),
    D("diff", "a"),
    D("diff", "da", "a", files={**F, "da/a": "one\n"}),
    D("diff", "--normal", "a", "b"),
    D("diff", "-", "a", stdin="one\ntwo\n"),
    D("diff", "-u", "--label", "x", "--label", "y", "a", "-", stdin="one\n"),
    D("diff", "-Z"),
    D("diff", "--bogus", "a", "b"),
    D("diff", "-u", *L, "x", "y", files={"x": LONG_A, "y": LONG_B}),
    D("diff", "-c", *L, "x", "y", files={"x": LONG_A, "y": LONG_B}),
    D("diff", "x", "y", files={"x": LONG_A, "y": LONG_B}),
    D("diff", "-U1", *L, "x", "y", files={"x": LONG_A, "y": LONG_B}),
]

CMP = [
    D("cmp", "a", "b"),
    D("cmp", "a", "a"),
    D("cmp", "-s", "a", "b"),
    D("cmp", "-s", "a", "a"),
    D("cmp", "-l", "a", "b"),
    D("cmp", "e", "a"),
    D("cmp", "a", "e"),
    D("cmp", "n", "m"),
    D("cmp", "m", "n"),
    D("cmp", "-b", "a", "b"),
    D("cmp", "-n", "3", "a", "b"),
    D("cmp", "-i", "4", "a", "b"),
    D("cmp", "a", "nope"),
    D("cmp", "-l", "n", "m"),
    D("cmp", "a", "b", "1", "1"),
    D("cmp", "-bl", "a", "b"),
    D("cmp", "bin1", "bin2"),
    D("cmp", "-", "a", stdin="one\ntwo\n"),
    D("cmp", "-Z", "a", "b"),
]


def _random_cases(seed: int, count: int) -> list[Case]:
    rnd = random.Random(seed)
    out: list[Case] = []
    for _ in range(count):
        alpha = rnd.choice(["ab", "abc", "abcde", "abcdefghij"])
        a = [rnd.choice(alpha) + "\n" for _ in range(rnd.randint(0, 30))]
        if rnd.random() < 0.5:
            b = list(a)
            for _ in range(rnd.randint(1, 6)):
                r = rnd.random()
                if r < 0.4 and b:
                    del b[rnd.randrange(len(b))]
                elif r < 0.8:
                    b.insert(rnd.randint(0, len(b)), rnd.choice(alpha) + "\n")
                elif b:
                    b[rnd.randrange(len(b))] = rnd.choice(alpha) + "\n"
        else:
            b = [rnd.choice(alpha) + "\n" for _ in range(rnd.randint(0, 30))]
        files: dict[str, str | bytes] = {"x": "".join(a), "y": "".join(b)}
        fmt = rnd.choice([[], ["-u"], ["-U1"], ["-c"], ["-U0"]])
        labels = L if fmt else []
        out.append(Case(["diff", *fmt, *labels, "x", "y"], files))
    return out


RANDOM = _random_cases(20240101, 60)


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    yield v
    v.close()


@pytest.mark.parametrize("case", HAND + CMP, ids=lambda c: c.name())
def test_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)


@pytest.mark.parametrize(
    "case", RANDOM, ids=lambda c: f"{c.name()} {hash(str(c.files)) & 0xFFFF:04x}"
)
def test_random_same_as_gnu(case: Case, vm: Any) -> None:
    check(case, vm)


# ---------------------------------------------------------------------------------- patch

ORIG = "".join(f"line {i}\n" for i in range(1, 21))
NEW = ORIG.replace("line 5\n", "line five\n").replace("line 15\n", "line 15\nextra\n")


def _host_diff(a: str, b: str, *opts: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (("x", a), ("y", b)):
            with open(os.path.join(tmp, name), "w") as fh:
                fh.write(text)
        return subprocess.run(
            ["diff", *opts, "x", "y"], cwd=tmp, capture_output=True, env=HOST_ENV
        ).stdout


def _host_patch(
    argv: list[str], files: dict[str, str], stdin: bytes
) -> tuple[int, bytes, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w") as fh:
                fh.write(text)
        p = subprocess.run(argv, cwd=tmp, input=stdin, capture_output=True, env=HOST_ENV)
        result: dict[str, bytes] = {}
        for root, _, names in os.walk(tmp):
            for n in names:
                full = os.path.join(root, n)
                with open(full, "rb") as fh:
                    result[os.path.relpath(full, tmp)] = fh.read()
        return p.returncode, p.stdout, result


def _vm_patch(
    vm: Any, argv: list[str], files: dict[str, str], stdin: bytes
) -> tuple[int, bytes, dict[str, bytes]]:
    try:
        vm.delete("/work", recursive=True)
    except OSError:
        pass
    vm.mkdir("/work", parents=True, exist_ok=True)
    for name, text in files.items():
        vm.write_file("/work/" + name, text.encode(), parents=True)
    r = vm.run(argv, stdin=stdin, cwd="/work", env=dict(HOST_ENV))
    result: dict[str, bytes] = {}

    def walk(d: str, rel: str) -> None:
        for n in vm.readdir(d):
            full = d + "/" + n
            if vm.stat(full).is_dir():
                walk(full, rel + n + "/")
            else:
                result[rel + n] = vm.read_file(full)

    walk("/work", "")
    return r.exit_code, r.stdout_bytes, result


def _patch_cases() -> list[Any]:
    up = _host_diff(ORIG, NEW, "-u", "--label", "a/f.txt", "--label", "b/f.txt")
    up0 = _host_diff(ORIG, NEW, "-u", "--label", "f.txt", "--label", "f.txt")
    normal = _host_diff(ORIG, NEW)
    ctx = _host_diff(ORIG, NEW, "-c", "--label", "f.txt", "--label", "f.txt")
    shifted = "head\nhead2\n" + ORIG
    bad = ORIG.replace("line 15\n", "LINE 15\n")
    create = _host_diff("", "hello\nworld\n", "-u", "--label", "/dev/null", "--label", "b/new.txt")
    delete = _host_diff("bye\n", "", "-u", "--label", "a/old.txt", "--label", "/dev/null")
    nonl = _host_diff("a\nb", "a\nc", "-u", "--label", "g", "--label", "g")
    two = up + _host_diff("x\ny\n", "x\nz\n", "-u", "--label", "a/h.txt", "--label", "b/h.txt")
    cases = [
        ("unified -p1", ["patch", "-p1"], {"f.txt": ORIG}, up),
        ("unified no -p", ["patch"], {"f.txt": ORIG}, up0),
        ("unified -p0", ["patch", "-p0"], {"f.txt": ORIG}, up0),
        ("-i file", ["patch", "-p1", "-i", "p.diff"], {"f.txt": ORIG, "p.diff": up.decode()}, b""),
        ("dry run", ["patch", "-p1", "--dry-run"], {"f.txt": ORIG}, up),
        ("-o", ["patch", "-p1", "-o", "out.txt"], {"f.txt": ORIG}, up),
        ("offset", ["patch", "-p1"], {"f.txt": shifted}, up),
        ("failed hunk", ["patch", "-p1"], {"f.txt": bad}, up),
        ("reverse", ["patch", "-p1", "-R"], {"f.txt": NEW}, up),
        ("already applied -N", ["patch", "-p1", "-N"], {"f.txt": NEW}, up),
        ("silent", ["patch", "-p1", "-s"], {"f.txt": ORIG}, up),
        ("normal diff", ["patch", "f.txt"], {"f.txt": ORIG}, normal),
        ("normal diff offset", ["patch", "f.txt"], {"f.txt": shifted}, normal),
        ("normal diff reverse", ["patch", "-R", "f.txt"], {"f.txt": NEW}, normal),
        ("context diff", ["patch"], {"f.txt": ORIG}, ctx),
        ("create", ["patch", "-p1"], {"x": ""}, create),
        ("delete", ["patch", "-p1"], {"old.txt": "bye\n"}, delete),
        ("no newline", ["patch"], {"g": "a\nb"}, nonl),
        ("two files", ["patch", "-p1"], {"f.txt": ORIG, "h.txt": "x\ny\n"}, two),
        ("explicit target", ["patch", "f.txt"], {"f.txt": ORIG}, up),
    ]
    return [pytest.param(a, f, s, id=i) for i, a, f, s in cases]


@pytest.mark.skipif(not have("patch"), reason="GNU patch not installed on the host")
@pytest.mark.parametrize(("argv", "files", "stdin"), _patch_cases() if have("patch") else [])
def test_patch_same_as_gnu(argv: list[str], files: dict[str, str], stdin: bytes, vm: Any) -> None:
    host = _host_patch(argv, files, stdin)
    got = _vm_patch(vm, argv, files, stdin)
    assert got[1] == host[1]
    assert got[0] == host[0]
    assert got[2] == host[2]
