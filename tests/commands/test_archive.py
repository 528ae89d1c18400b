"""Unit tests for tar, gzip/bzip2/xz and zip/unzip: round trips with the host's libraries,
safety (path traversal, symlinks, decompression bombs) and streaming."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import zipfile
from collections.abc import Iterator

import pytest

from pocketos import VM

MTIME_NS = 1_700_000_000 * 10**9


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.mkdir("/work", parents=True, exist_ok=True)
        yield v


def run(
    vm: VM, argv: list[str], stdin: bytes | str = b"", **kw: object
) -> tuple[int, bytes, bytes]:
    r = vm.run(argv, stdin=stdin, cwd="/work", env={"TZ": "UTC"}, **kw)
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


def make_tree(vm: VM) -> None:
    vm.write_file("/work/proj/a.txt", b"alpha\n", parents=True)
    vm.write_file("/work/proj/sub/bin.dat", bytes(range(256)) * 8, parents=True)
    vm.write_file("/work/proj/sub/run.sh", b"#!/bin/sh\n", parents=True)
    vm.chmod("/work/proj/sub/run.sh", 0o755)
    vm.symlink("a.txt", "/work/proj/link")
    vm.write_file("/work/proj/empty", b"")
    for p in (
        "/work/proj/a.txt",
        "/work/proj/sub/bin.dat",
        "/work/proj/sub/run.sh",
        "/work/proj/empty",
    ):
        vm.kernel.vfs.utime(p, (MTIME_NS, MTIME_NS))


# --- tar --------------------------------------------------------------------------------------


def open_tar(data: bytes) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115


@pytest.mark.parametrize(
    ("flag", "decomp"),
    [
        ("", lambda b: b),
        ("z", gzip.decompress),
        ("j", bz2.decompress),
        ("J", lzma.decompress),
    ],
)
def test_tar_created_in_vm_reads_on_host(vm: VM, flag: str, decomp: object) -> None:
    make_tree(vm)
    code, out, err = run(vm, ["tar", f"c{flag}f", "out.tar", "proj"])
    assert (code, out, err) == (0, b"", b"")
    tf = open_tar(decomp(vm.read_file("/work/out.tar")))  # type: ignore[operator]
    names = tf.getnames()
    assert names == [
        "proj",
        "proj/a.txt",
        "proj/empty",
        "proj/link",
        "proj/sub",
        "proj/sub/bin.dat",
        "proj/sub/run.sh",
    ]
    assert tf.extractfile("proj/sub/bin.dat").read() == bytes(range(256)) * 8
    assert tf.getmember("proj/link").issym() and tf.getmember("proj/link").linkname == "a.txt"
    assert tf.getmember("proj/sub/run.sh").mode == 0o755
    assert tf.getmember("proj/a.txt").mtime == MTIME_NS // 10**9


def test_tar_host_archive_extracts_in_vm(vm: VM) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data, mode in (("d/x.txt", b"x\n", 0o600), ("d/y/z.bin", b"\x00\xff", 0o755)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 1_600_000_000
            tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("d/l")
        ti.type, ti.linkname = tarfile.SYMTYPE, "x.txt"
        tf.addfile(ti)
    vm.write_file("/work/in.tgz", buf.getvalue())
    assert run(vm, ["tar", "xzf", "in.tgz"]) == (0, b"", b"")
    assert vm.read_file("/work/d/x.txt") == b"x\n"
    assert vm.read_file("/work/d/y/z.bin") == b"\x00\xff"
    assert vm.readlink("/work/d/l") == "x.txt"
    assert stat.S_IMODE(vm.stat("/work/d/y/z.bin").st_mode) == 0o755
    assert vm.stat("/work/d/x.txt").st_mtime_ns == 1_600_000_000 * 10**9


def test_tar_round_trip_inside_vm(vm: VM) -> None:
    make_tree(vm)
    assert run(vm, ["tar", "-czf", "a.tgz", "-C", "proj", "."])[0] == 0
    vm.mkdir("/work/out")
    assert run(vm, ["tar", "-xzf", "a.tgz", "-C", "out"])[0] == 0
    assert vm.read_file("/work/out/sub/bin.dat") == bytes(range(256)) * 8
    assert vm.readlink("/work/out/link") == "a.txt"


def test_tar_verbose_and_stdout(vm: VM) -> None:
    make_tree(vm)
    code, out, err = run(vm, ["tar", "cvf", "-", "proj/sub"])
    assert code == 0
    assert err == b"proj/sub/\nproj/sub/bin.dat\nproj/sub/run.sh\n"
    assert open_tar(out).getnames() == ["proj/sub", "proj/sub/bin.dat", "proj/sub/run.sh"]
    vm.write_file("/work/s.tar", out)
    code, out, _ = run(vm, ["tar", "tvf", "s.tar"])
    lines = out.decode().splitlines()
    assert lines[1].startswith("-rw-r--r-- ") and lines[1].endswith(
        " 2048 2023-11-14 22:13 proj/sub/bin.dat"
    )


def test_tar_strips_leading_slash_when_creating(vm: VM) -> None:
    vm.write_file("/work/f.txt", b"f")
    code, out, err = run(vm, ["tar", "cf", "-", "/work/f.txt"])
    assert code == 0 and err == b"tar: Removing leading `/' from member names\n"
    assert open_tar(out).getnames() == ["work/f.txt"]


def _evil_tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for ti in entries:
            payload = data.get(ti.name)
            if payload is not None:
                ti.size = len(payload)
            tf.addfile(ti, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def test_tar_refuses_dotdot_and_strips_absolute(vm: VM) -> None:
    entries = [tarfile.TarInfo(n) for n in ("../../escape.txt", "/abs/file.txt", "ok.txt")]
    vm.write_file(
        "/work/sub/e.tar",
        _evil_tar(entries, {"../../escape.txt": b"bad", "/abs/file.txt": b"abs", "ok.txt": b"ok"}),
        parents=True,
    )
    code, _, err = (
        vm.run(["tar", "xf", "e.tar"], cwd="/work/sub").exit_code,
        b"",
        vm.run(["tar", "xf", "e.tar"], cwd="/work/sub").stderr_bytes,
    )
    assert code == 2
    assert b"Member name contains '..'" in err
    assert not vm.exists("/escape.txt") and not vm.exists("/work/escape.txt")
    assert vm.read_file("/work/sub/abs/file.txt") == b"abs"
    assert not vm.exists("/abs/file.txt")
    assert vm.read_file("/work/sub/ok.txt") == b"ok"


def test_tar_does_not_write_through_symlinks(vm: VM) -> None:
    link = tarfile.TarInfo("esc")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    inner = tarfile.TarInfo("esc/pwned")
    vm.write_file("/work/e.tar", _evil_tar([link, inner], {"esc/pwned": b"owned"}))
    code, _, err = run(vm, ["tar", "xf", "e.tar"])
    assert code == 2 and b"esc/pwned" in err
    assert not vm.exists("/etc/pwned")


def test_tar_strip_components_exclude_and_to_stdout(vm: VM) -> None:
    make_tree(vm)
    run(vm, ["tar", "cf", "a.tar", "proj"])
    vm.mkdir("/work/o")
    assert run(vm, ["tar", "xf", "a.tar", "-C", "o", "--strip-components=2"])[0] == 0
    assert sorted(vm.readdir("/work/o")) == ["bin.dat", "run.sh"]
    assert (
        run(vm, ["tar", "tf", "a.tar", "--exclude=sub"])[1]
        == b"proj/\nproj/a.txt\nproj/empty\nproj/link\n"
    )
    assert run(vm, ["tar", "xOf", "a.tar", "proj/a.txt"])[1] == b"alpha\n"


def test_tar_keep_old_files(vm: VM) -> None:
    make_tree(vm)
    run(vm, ["tar", "cf", "a.tar", "proj/a.txt"])
    vm.write_file("/work/proj/a.txt", b"new\n")
    code, _, err = run(vm, ["tar", "xkf", "a.tar"])
    assert code == 2 and b"File exists" in err
    assert vm.read_file("/work/proj/a.txt") == b"new\n"
    assert run(vm, ["tar", "xf", "a.tar"])[0] == 0
    assert vm.read_file("/work/proj/a.txt") == b"alpha\n"


def test_tar_append(vm: VM) -> None:
    vm.write_file("/work/a", b"a")
    vm.write_file("/work/b", b"b")
    run(vm, ["tar", "cf", "x.tar", "a"])
    assert run(vm, ["tar", "rf", "x.tar", "b"])[0] == 0
    assert run(vm, ["tar", "tf", "x.tar"])[1] == b"a\nb\n"


def test_tar_usage_errors(vm: VM) -> None:
    assert run(vm, ["tar", "-f", "x.tar"])[0] == 2
    code, _, err = run(vm, ["tar", "-Z"])
    assert code == 64 and err.startswith(b"tar: invalid option -- 'Z'")
    assert run(vm, ["tar", "--help"])[0] == 0
    code, _, err = run(vm, ["tar", "xf", "missing.tar"])
    assert code == 2 and b"Cannot open: No such file or directory" in err


def test_tar_bomb_member_over_the_limit(vm: VM) -> None:
    big = tarfile.TarInfo("big.bin")
    payload = b"\x00" * (2 * 1024 * 1024)
    data = gzip.compress(_evil_tar([big], {"big.bin": payload}))
    with VM(limits={"max_file_size": 1024 * 1024}) as small:
        small.write_file("/work/b.tgz", data, parents=True)
        r = small.run(["tar", "xzf", "b.tgz"], cwd="/work")
        assert r.exit_code == 2 and b"File too large" in r.stderr_bytes
        assert not small.exists("/work/big.bin")


# --- gzip / bzip2 / xz ------------------------------------------------------------------------


def test_gzip_file_round_trip_keeps_name_mtime_and_mode(vm: VM) -> None:
    vm.write_file("/work/notes.txt", b"hello\n" * 100)
    vm.chmod("/work/notes.txt", 0o600)
    vm.kernel.vfs.utime("/work/notes.txt", (MTIME_NS, MTIME_NS))
    assert run(vm, ["gzip", "notes.txt"]) == (0, b"", b"")
    assert not vm.exists("/work/notes.txt")
    raw = vm.read_file("/work/notes.txt.gz")
    assert raw[3] & 0x08 and raw[10:20] == b"notes.txt\x00"
    assert int.from_bytes(raw[4:8], "little") == MTIME_NS // 10**9
    assert gzip.decompress(raw) == b"hello\n" * 100
    assert stat.S_IMODE(vm.stat("/work/notes.txt.gz").st_mode) == 0o600
    assert run(vm, ["gunzip", "notes.txt.gz"]) == (0, b"", b"")
    assert vm.read_file("/work/notes.txt") == b"hello\n" * 100
    assert vm.stat("/work/notes.txt").st_mtime_ns == MTIME_NS


@pytest.mark.parametrize(
    ("cmd", "sfx", "decomp"),
    [
        ("gzip", ".gz", gzip.decompress),
        ("bzip2", ".bz2", bz2.decompress),
        ("xz", ".xz", lzma.decompress),
    ],
)
def test_compressors_host_readable(vm: VM, cmd: str, sfx: str, decomp: object) -> None:
    data = bytes(range(256)) * 100 + b"\x00\xff"
    vm.write_file("/work/f", data)
    assert run(vm, [cmd, "-k", "f"])[0] == 0
    assert vm.read_file("/work/f") == data
    assert decomp(vm.read_file("/work/f" + sfx)) == data  # type: ignore[operator]
    code, out, _ = run(vm, [cmd, "-dc", "f" + sfx])
    assert (code, out) == (0, data)


@pytest.mark.parametrize(
    ("cmd", "comp"),
    [("zcat", lambda b: gzip.compress(b)), ("bzcat", bz2.compress), ("xzcat", lzma.compress)],
)
def test_decompression_bomb_stops_at_the_limit(cmd: str, comp: object) -> None:
    payload = b"\x00" * (4 * 1024 * 1024)
    with VM(limits={"max_file_size": 1024 * 1024}) as small:
        small.write_file("/work/bomb", comp(payload), parents=True)  # type: ignore[operator]
        r = small.run([cmd, "bomb"], cwd="/work")
        assert r.exit_code == 1
        assert r.stderr_bytes.endswith(
            b"decompressed data exceeds the file size limit (1048576 bytes)\n"
        )
        assert len(r.stdout_bytes) <= 1024 * 1024 + 1024 * 1024


def test_zcat_streams_into_head(vm: VM) -> None:
    vm.write_file("/work/big.gz", gzip.compress(b"".join(b"%d\n" % i for i in range(200000))))
    r = vm.exec("zcat big.gz | head -n 2", cwd="/work")
    assert (r.exit_code, r.stdout) == (0, "0\n1\n")


def test_compressors_stream_endless_input(vm: VM) -> None:
    r = vm.exec("yes | gzip | zcat | head -n 1")
    assert (r.exit_code, r.stdout) == (0, "y\n")
    r = vm.exec("yes | xz -0 | xzcat | head -n 1")
    assert (r.exit_code, r.stdout) == (0, "y\n")


def test_zip_skips_its_own_archive(vm: VM) -> None:
    vm.write_file("/work/d/a.txt", b"a", parents=True)
    run(vm, ["zip", "-qr", "d/self.zip", "d"])
    run(vm, ["zip", "-qr", "d/self.zip", "d"])
    names = zipfile.ZipFile(io.BytesIO(vm.read_file("/work/d/self.zip"))).namelist()
    assert names == ["d/", "d/a.txt"]


def test_gzip_pipeline(vm: VM) -> None:
    r = vm.exec("seq 1 1000 | gzip | gzip -d | tail -n 1")
    assert (r.exit_code, r.stdout) == (0, "1000\n")
    r = vm.exec("seq 1 1000 | bzip2 | bzcat | xz | xzcat | wc -l")
    assert r.stdout.strip() == "1000"


def test_gzip_refusals(vm: VM) -> None:
    vm.write_file("/work/a", b"x")
    vm.write_file("/work/a.gz", b"old")
    code, _, err = run(vm, ["gzip", "a"])
    assert code == 2 and b"already exists" in err
    assert vm.read_file("/work/a.gz") == b"old"
    assert run(vm, ["gzip", "-f", "a"])[0] == 0
    assert gzip.decompress(vm.read_file("/work/a.gz")) == b"x"
    assert run(vm, ["gzip", "--help"])[0] == 0


# --- zip / unzip ------------------------------------------------------------------------------


def test_zip_created_in_vm_reads_on_host(vm: VM) -> None:
    make_tree(vm)
    code, out, err = run(vm, ["zip", "-r", "out.zip", "proj"])
    assert code == 0 and err == b""
    assert out.splitlines()[0] == b"  adding: proj/ (stored 0%)"
    assert b"  adding: proj/sub/bin.dat (deflated" in out
    zf = zipfile.ZipFile(io.BytesIO(vm.read_file("/work/out.zip")))
    assert zf.read("proj/sub/bin.dat") == bytes(range(256)) * 8
    assert zf.getinfo("proj/a.txt").date_time == (2023, 11, 14, 22, 13, 20)
    assert (zf.getinfo("proj/sub/run.sh").external_attr >> 16) & 0o777 == 0o755
    assert zf.testzip() is None


def test_zip_is_deterministic(vm: VM) -> None:
    make_tree(vm)
    run(vm, ["zip", "-qr", "one.zip", "proj"])
    run(vm, ["zip", "-qr", "two.zip", "proj"])
    assert vm.read_file("/work/one.zip") == vm.read_file("/work/two.zip")


def test_zip_update_junk_and_missing(vm: VM) -> None:
    make_tree(vm)
    assert (
        run(vm, ["zip", "-j", "a.zip", "proj/sub/run.sh"])[1] == b"  adding: run.sh (stored 0%)\n"
    )
    assert run(vm, ["zip", "a.zip", "proj/a.txt"])[1] == b"  adding: proj/a.txt (stored 0%)\n"
    assert run(vm, ["zip", "a.zip", "proj/a.txt"])[1] == b"updating: proj/a.txt (stored 0%)\n"
    code, _, err = run(vm, ["zip", "a.zip", "nope"])
    assert code == 12 and b"name not matched: nope" in err
    assert sorted(zipfile.ZipFile(io.BytesIO(vm.read_file("/work/a.zip"))).namelist()) == [
        "proj/a.txt",
        "run.sh",
    ]
    assert run(vm, ["zip", "-d", "a.zip", "run.sh"])[0] == 0
    assert zipfile.ZipFile(io.BytesIO(vm.read_file("/work/a.zip"))).namelist() == ["proj/a.txt"]


def test_zip_unzip_round_trip_in_vm(vm: VM) -> None:
    make_tree(vm)
    run(vm, ["zip", "-qr", "a.zip", "proj"])
    code, out, _ = run(vm, ["unzip", "-q", "-d", "x", "a.zip"])
    assert code == 0 and out == b""
    assert vm.read_file("/work/x/proj/sub/bin.dat") == bytes(range(256)) * 8
    assert stat.S_IMODE(vm.stat("/work/x/proj/sub/run.sh").st_mode) == 0o755
    code, out, _ = run(vm, ["unzip", "-l", "a.zip"])
    assert out.splitlines()[4] == b"        6  2023-11-14 22:13   proj/a.txt"


def test_unzip_strips_traversal_and_absolute_paths(vm: VM) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.txt", b"evil")
        zf.writestr("/abs/x.txt", b"abs")
        zf.writestr("fine.txt", b"fine")
    vm.write_file("/work/d/e.zip", buf.getvalue(), parents=True)
    r = vm.run(["unzip", "e.zip"], cwd="/work/d")
    assert r.exit_code == 1
    assert b'skipped "../" path component(s) in ../../evil.txt' in r.stderr_bytes
    assert vm.read_file("/work/d/evil.txt") == b"evil"
    assert vm.read_file("/work/d/abs/x.txt") == b"abs"
    assert not vm.exists("/work/evil.txt") and not vm.exists("/evil.txt")
    assert not vm.exists("/abs/x.txt")


def test_unzip_bomb_stops_at_the_limit() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\x00" * (3 * 1024 * 1024))
    with VM(limits={"max_file_size": 1024 * 1024}) as small:
        small.write_file("/work/b.zip", buf.getvalue(), parents=True)
        r = small.run(["unzip", "b.zip"], cwd="/work")
        assert r.exit_code == 2 and b"exceeds the file size limit" in r.stderr_bytes
        assert not small.exists("/work/zeros")
        r = small.run(["unzip", "-p", "b.zip"], cwd="/work")
        assert r.exit_code == 2 and len(r.stdout_bytes) <= 1024 * 1024


def test_unzip_existing_file_without_overwrite(vm: VM) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", b"new")
    vm.write_file("/work/z.zip", buf.getvalue())
    vm.write_file("/work/a.txt", b"old")
    code, _, err = run(vm, ["unzip", "z.zip"])
    assert code == 1 and b"replace a.txt?" in err
    assert vm.read_file("/work/a.txt") == b"old"
    assert run(vm, ["unzip", "-o", "z.zip"])[0] == 0
    assert vm.read_file("/work/a.txt") == b"new"


@pytest.mark.parametrize(
    "cmd",
    [
        "tar",
        "gzip",
        "gunzip",
        "zcat",
        "bzip2",
        "bunzip2",
        "bzcat",
        "xz",
        "unxz",
        "xzcat",
        "zip",
        "unzip",
    ],
)
def test_help(vm: VM, cmd: str) -> None:
    code, out, _ = run(vm, [cmd, "--help"])
    assert code == 0 and out
