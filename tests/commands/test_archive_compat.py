"""Archive commands compared with the host tools (listings, extracted contents, decompressed
bytes: things whose output is deterministic)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import pytest

from tests.compat import Case, assert_same, have

MTIME = 1_700_000_000  # 2023-11-14 22:13:20 UTC
TEXT = "".join(f"line {i}\n" for i in range(200))
BIN = bytes(range(256)) * 16


def make_tar(entries: list[tuple[str, bytes | None, str]], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """entries: (name, data or None for a directory, kind: file|dir|sym:TARGET|link:TARGET)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data, kind in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = MTIME
            ti.uname, ti.gname = "user", "staff"
            ti.uid, ti.gid = 1000, 50
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif kind.startswith("sym:"):
                ti.type = tarfile.SYMTYPE
                ti.linkname = kind[4:]
                ti.mode = 0o777
                tf.addfile(ti)
            elif kind.startswith("link:"):
                ti.type = tarfile.LNKTYPE
                ti.linkname = kind[5:]
                ti.mode = 0o644
                tf.addfile(ti)
            else:
                ti.mode = 0o644 if kind == "file" else int(kind, 8)
                ti.size = len(data or b"")
                tf.addfile(ti, io.BytesIO(data or b""))
    return buf.getvalue()


TREE = [
    ("proj/", None, "dir"),
    ("proj/a.txt", b"alpha\n", "file"),
    ("proj/bin.dat", BIN, "file"),
    ("proj/sub/", None, "dir"),
    ("proj/sub/b.txt", TEXT.encode(), "file"),
    ("proj/sub/run.sh", b"#!/bin/sh\necho hi\n", "0755"),
    ("proj/link", None, "sym:a.txt"),
    ("proj/hard", None, "link:proj/a.txt"),
    ("proj/" + "long" * 30 + ".txt", b"long name\n", "file"),
]
TAR = make_tar(TREE)
TAR_USTAR = make_tar([e for e in TREE if len(e[0]) < 100], tarfile.USTAR_FORMAT)
TGZ = gzip.compress(TAR, mtime=0)
TBZ = bz2.compress(TAR)
TXZ = lzma.compress(TAR)
EVIL = make_tar(
    [("../evil.txt", b"x", "file"), ("/abs.txt", b"y", "file"), ("good.txt", b"z", "file")]
)


def make_zip(entries: list[tuple[str, bytes | None]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.create_system = 3
            if data is None:
                zi.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(zi, b"")
            else:
                zi.external_attr = 0o100644 << 16
                zi.compress_type = method if data else zipfile.ZIP_STORED
                zf.writestr(zi, data)
    return buf.getvalue()


ZIP = make_zip(
    [
        ("d/", None),
        ("d/a.txt", b"hello\n"),
        ("d/big.txt", TEXT.encode()),
        ("empty.txt", b""),
        ("sp ace.txt", b"x\n"),
        ("bin.dat", BIN),
    ]
)
ZIP_STORED = make_zip([("a.txt", b"hello\n"), ("b.txt", TEXT.encode())], zipfile.ZIP_STORED)

GZ = gzip.compress(TEXT.encode(), mtime=0)
GZ_BIN = gzip.compress(BIN, mtime=MTIME)
BZ = bz2.compress(TEXT.encode())
XZ_DATA = lzma.compress(TEXT.encode())
LZMA_ALONE = lzma.compress(TEXT.encode(), format=lzma.FORMAT_ALONE)


def cat_after(argv: list[str], files: list[str]) -> list[str]:
    """Run a command, then print the named files (as one sh -c line is not available,
    commands that extract are checked by a listing command instead)."""
    return argv + files


CASES: list[Case] = [
    # --- tar listings ------------------------------------------------------------------
    Case(["tar", "tf", "a.tar"], {"a.tar": TAR}),
    Case(["tar", "-tf", "a.tar"], {"a.tar": TAR_USTAR}),
    Case(["tar", "tvf", "a.tar"], {"a.tar": TAR}),
    Case(["tar", "-tvf", "a.tar"], {"a.tar": TAR_USTAR}),
    Case(["tar", "tzf", "a.tgz"], {"a.tgz": TGZ}),
    Case(["tar", "tf", "a.tgz"], {"a.tgz": TGZ}),
    Case(["tar", "tjf", "a.tbz"], {"a.tbz": TBZ}),
    Case(["tar", "tJf", "a.txz"], {"a.txz": TXZ}),
    Case(["tar", "tf", "a.txz"], {"a.txz": TXZ}),
    Case(["tar", "-t", "-f", "a.tar", "proj/sub"], {"a.tar": TAR}),
    Case(["tar", "-t", "-f", "a.tar", "proj/a.txt"], {"a.tar": TAR}),
    Case(["tar", "-t", "-f", "a.tar", "nothere"], {"a.tar": TAR}),
    Case(["tar", "tf", "-"], stdin=TAR),
    Case(["tar", "tzf", "-"], stdin=TGZ),
    Case(["tar", "-tf", "a.tar", "--exclude", "*.txt"], {"a.tar": TAR}),
    Case(["tar", "-tf", "a.tar", "--exclude=sub"], {"a.tar": TAR}),
    Case(["tar", "tf", "nope.tar"]),
    Case(["tar", "tf", "e.tar"], {"e.tar": EVIL}),
    # --- tar -O (contents to stdout) ---------------------------------------------------
    Case(["tar", "-xOf", "a.tar", "proj/a.txt"], {"a.tar": TAR}),
    Case(["tar", "-xOf", "a.tar", "proj/sub/b.txt"], {"a.tar": TAR}),
    Case(["tar", "-xOzf", "a.tgz", "proj/bin.dat"], {"a.tgz": TGZ}),
    Case(["tar", "-xOjf", "a.tbz", "proj/sub"], {"a.tbz": TBZ}),
    Case(["tar", "-xOJf", "a.txz"], {"a.txz": TXZ}),
    Case(["tar", "xOf", "-", "proj/a.txt"], stdin=TAR),
    Case(["tar", "-xOf", "a.tar", "missing"], {"a.tar": TAR}),
    # --- tar usage errors ----------------------------------------------------------------
    Case(["tar", "-f", "a.tar"], {"a.tar": TAR}),
    Case(["tar", "-ctf", "a.tar"], {"a.tar": TAR}),
    Case(["tar", "-Q"]),
    Case(["tar", "cf", "x.tar"]),
    # --- gzip family ---------------------------------------------------------------------
    Case(["gzip", "-dc", "a.gz"], {"a.gz": GZ}),
    Case(["gzip", "-dc", "a.gz", "b.gz"], {"a.gz": GZ, "b.gz": GZ_BIN}),
    Case(["gzip", "-d", "-c"], stdin=GZ),
    Case(["gunzip", "-c", "a.gz"], {"a.gz": GZ}),
    Case(["zcat", "a.gz"], {"a.gz": GZ_BIN}),
    Case(["zcat"], stdin=GZ + GZ),
    Case(["zcat", "a.gz"], {"a.gz": GZ + b"junk"}),
    Case(["zcat", "a.gz"], {"a.gz": b"not gzip at all"}),
    Case(["zcat", "a.gz"], {"a.gz": GZ[:-20]}),
    Case(["zcat", "nope.gz"]),
    Case(["gzip", "-t", "a.gz"], {"a.gz": GZ}),
    Case(["gzip", "-t", "a.gz"], {"a.gz": b"xx"}),
    Case(["gzip", "-l", "a.gz"], {"a.gz": GZ}),
    Case(["gzip", "-l", "a.gz", "b.gz"], {"a.gz": GZ, "b.gz": GZ_BIN}),
    Case(["gzip", "-cd", "a.tgz"], {"a.tgz": TGZ}),
    Case(["gzip", "-c", "-d", "-f", "plain"], {"plain": b"plain text\n"}),
    Case(["gzip", "--bogus"]),
    Case(["gzip", "-dc", "d"], {"d/x": "1"}),
    # compressed bytes are identical to the host tools (same deflate/bzip2/lzma settings)
    Case(["gzip", "-c"], stdin=TEXT),
    Case(["gzip", "-cn", "a"], {"a": BIN}),
    Case(["gzip", "-c9n"], stdin=TEXT),
    Case(["gzip", "-c1n"], stdin=TEXT),
    Case(["gzip", "-cn", "--best"], stdin=BIN),
    Case(["gzip", "-c"], stdin=b""),
    Case(["xz", "-c"], stdin=TEXT),
    Case(["xz", "-c9"], stdin=BIN),
    Case(["xz", "-c0"], stdin=TEXT),
    Case(["xz", "-c"], stdin=b""),
    # --- bzip2 family --------------------------------------------------------------------
    Case(["bzip2", "-dc", "a.bz2"], {"a.bz2": BZ}),
    Case(["bunzip2", "-c", "a.bz2"], {"a.bz2": BZ}),
    Case(["bzcat", "a.bz2"], {"a.bz2": BZ}),
    Case(["bzcat"], stdin=BZ + BZ),
    Case(["bzip2", "-c"], stdin=TEXT),
    Case(["bzip2", "-c", "-1", "a"], {"a": BIN}),
    Case(["bzip2", "-c", "a"], {"a": b""}),
    Case(["bzip2", "-t", "a.bz2"], {"a.bz2": BZ}),
    Case(["bzcat", "nope.bz2"]),
    Case(["bzcat", "a.bz2"], {"a.bz2": b"BZh9garbage"}),
    # --- xz family -----------------------------------------------------------------------
    Case(["xz", "-dc", "a.xz"], {"a.xz": XZ_DATA}),
    Case(["unxz", "-c", "a.xz"], {"a.xz": XZ_DATA}),
    Case(["xzcat", "a.xz"], {"a.xz": XZ_DATA}),
    Case(["xzcat"], stdin=XZ_DATA + XZ_DATA),
    Case(["xzcat", "a.lzma"], {"a.lzma": LZMA_ALONE}),
    Case(["xz", "-t", "a.xz"], {"a.xz": XZ_DATA}),
    Case(["xzcat", "a.xz"], {"a.xz": b"nope"}),
    Case(["xzcat", "nope.xz"]),
    # --- unzip ---------------------------------------------------------------------------
    Case(["unzip", "-l", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "-l", "a.zip"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "-l", "a.zip", "d/*"], {"a.zip": ZIP}),
    Case(["unzip", "-p", "a.zip", "d/big.txt"], {"a.zip": ZIP}),
    Case(["unzip", "-p", "a.zip", "bin.dat"], {"a.zip": ZIP}),
    Case(["unzip", "-p", "a.zip"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "-qp", "a.zip", "a.txt"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "a.zip"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "-q", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "-d", "out", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "a.zip", "a.txt"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "-o", "a.zip"], {"a.zip": ZIP_STORED, "a.txt": "old\n"}),
    Case(["unzip", "a.zip", "nothere"], {"a.zip": ZIP_STORED}),
    Case(["unzip", "nope.zip"]),
    Case(["unzip", "-t", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "-tq", "a.zip"], {"a.zip": ZIP}),
    Case(["unzip", "-l", "a"], {"a.zip": ZIP_STORED}),
]

# Commands whose results are files: run in the VM, then compare a listing/cat made by a
# second, read-only command in both worlds.
PAIRS: list[tuple[list[str], list[str], dict[str, bytes | str], bytes]] = [
    (
        ["tar", "xf", "a.tar"],
        ["cat", "proj/a.txt", "proj/sub/b.txt", "proj/hard"],
        {"a.tar": TAR},
        b"",
    ),
    (["tar", "xzf", "a.tgz"], ["cat", "proj/bin.dat"], {"a.tgz": TGZ}, b""),
    (["tar", "xjf", "a.tbz"], ["cat", "proj/sub/run.sh"], {"a.tbz": TBZ}, b""),
    (["tar", "xJf", "a.txz"], ["readlink", "proj/link"], {"a.txz": TXZ}, b""),
    (
        ["tar", "-xf", "a.tar", "--strip-components=1"],
        ["cat", "a.txt", "sub/b.txt"],
        {"a.tar": TAR},
        b"",
    ),
    (
        ["tar", "-xf", "a.tar", "-C", "dest"],
        ["cat", "dest/proj/a.txt"],
        {"a.tar": TAR, "dest/.keep": ""},
        b"",
    ),
    (["tar", "-x", "-f", "a.tar", "proj/sub"], ["ls", "-R", "proj"], {"a.tar": TAR}, b""),
    (["tar", "-xf", "a.tar", "--exclude=*.dat"], ["ls", "proj"], {"a.tar": TAR}, b""),
    (["tar", "xf", "e.tar"], ["ls"], {"e.tar": EVIL}, b""),
    (["gzip", "a"], ["ls"], {"a": TEXT}, b""),
    (["gzip", "-k", "a"], ["ls"], {"a": TEXT}, b""),
    (["gzip", "a.gz"], ["ls"], {"a.gz": GZ}, b""),
    (["gunzip", "a.gz"], ["cat", "a"], {"a.gz": GZ}, b""),
    (["gunzip", "a.tgz"], ["ls"], {"a.tgz": TGZ}, b""),
    (["gzip", "-d", "a.gz"], ["cat", "a"], {"a.gz": GZ, "a": "exists\n"}, b""),
    (["gzip", "-df", "a.gz"], ["cat", "a"], {"a.gz": GZ, "a": "exists\n"}, b""),
    (["gunzip", "a.txt"], ["ls"], {"a.txt": "x"}, b""),
    (["bzip2", "a"], ["ls"], {"a": TEXT}, b""),
    (["bzip2", "-k", "a"], ["bzcat", "a.bz2"], {"a": TEXT}, b""),
    (["bunzip2", "a.bz2"], ["cat", "a"], {"a.bz2": BZ}, b""),
    (["bzip2", "-d", "a.tbz2"], ["ls"], {"a.tbz2": TBZ}, b""),
    (["xz", "a"], ["ls"], {"a": TEXT}, b""),
    (["xz", "-k", "a"], ["xzcat", "a.xz"], {"a": TEXT}, b""),
    (["unxz", "a.xz"], ["cat", "a"], {"a.xz": XZ_DATA}, b""),
    (["unxz", "a.txz"], ["ls"], {"a.txz": TXZ}, b""),
    (["unzip", "a.zip"], ["cat", "d/a.txt", "d/big.txt", "sp ace.txt"], {"a.zip": ZIP}, b""),
    (["unzip", "-j", "a.zip"], ["ls"], {"a.zip": ZIP}, b""),
    (["unzip", "-d", "x/y", "a.zip"], ["cat", "x/y/bin.dat"], {"a.zip": ZIP}, b""),
]


def _pair_case(
    first: list[str], second: list[str], files: dict[str, bytes | str], stdin: bytes
) -> Case:
    return Case(
        [
            "sh",
            "-c",
            " ".join(_q(a) for a in first) + " >/dev/null 2>&1; " + " ".join(_q(a) for a in second),
        ],
        files,
        stdin,
        check_stderr=False,
    )


def _q(a: str) -> str:
    return "'" + a.replace("'", "'\\''") + "'"


need_tools = pytest.mark.skipif(
    not all(have(t) for t in ("tar", "gzip", "bzip2", "xz", "unzip")),
    reason="host archive tools missing",
)


@need_tools
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name())
def test_archive_compat(case: Case) -> None:
    assert_same(case)


def _vm_has_shell() -> bool:
    try:
        from pocketos import VM

        with VM() as vm:
            return vm.exec("true").exit_code == 0  # type: ignore[attr-defined,no-any-return]
    except Exception:
        return False


@need_tools
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: " ".join(p[0]) + " ; " + " ".join(p[1]))
def test_archive_effects(pair: tuple[list[str], list[str], dict[str, bytes | str], bytes]) -> None:
    first, second, files, stdin = pair
    from tests.compat import HOST_ENV, Outcome, run_host, run_vm

    host = run_host(_pair_case(first, second, files, stdin))
    # in the VM: run both commands one after the other in the same VM
    from pocketos import VM

    with VM() as vm:
        run_vm(Case(first, files, stdin), vm)
        r = vm.run(second, stdin=b"", cwd="/work", env=dict(HOST_ENV))
        out = Outcome(r.exit_code, r.stdout_bytes, r.stderr_bytes)
    assert out.stdout == host.stdout, (host.stdout, out.stdout, out.stderr)
    assert out.exit_code == host.exit_code
