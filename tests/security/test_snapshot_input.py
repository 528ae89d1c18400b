"""Snapshot files are untrusted input: every malformed one is one clear SnapshotError (in the
API and the CLI), never a KeyError or RecursionError, never a path outside the snapshot's
tree, and nothing a file declares makes the loader allocate more than the file's size."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM
from pocketos.snapshot import MANIFEST, Snapshot, SnapshotError
from tests._own_process import peak_while
from tests.cli.conftest import call


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _snap(
    root: Any = "/w", entries: Any = None, blobs: dict[str, bytes] | None = None, **extra: Any
) -> bytes:
    man = {"format": "pocketos-snapshot", "version": 1, "root": root, **extra}
    if entries is not None:
        man["entries"] = entries
    members = [(MANIFEST, json.dumps(man).encode())]
    for data in (blobs or {}).values():
        members.append(("blobs/" + hashlib.sha256(data).hexdigest(), data))
    return _tar(members)


def _e(path: str, type_: str = "dir", **kw: Any) -> dict[str, Any]:
    e = {
        "path": path,
        "type": type_,
        "mode": 0o755,
        "uid": 0,
        "gid": 0,
        "atime_ns": 0,
        "mtime_ns": 0,
    }
    e.update(kw)
    return e


BLOB = b"content\n"
DIGEST = hashlib.sha256(BLOB).hexdigest()
GOOD = [_e(""), _e("f", "file", mode=0o644, size=len(BLOB), blob=DIGEST)]

CASES: dict[str, bytes] = {
    "root climbs": _snap("/../../etc", GOOD, {"b": BLOB}),
    "root relative": _snap("etc", GOOD, {"b": BLOB}),
    "root not a string": _snap(7, GOOD, {"b": BLOB}),
    "entries missing": _snap("/w", None),
    "entries not a list": _snap("/w", {"a": 1}),
    "entry not an object": _snap("/w", [_e(""), "f"]),
    "NUL in a name": _snap("/w", [_e(""), _e("a\0b")]),
    "dot-dot in a path": _snap("/w", [_e(""), _e("../x")]),
    "absolute path": _snap("/w", [_e(""), _e("/etc")]),
    "dot-dot in a hard link": _snap(
        "/w", [*GOOD, _e("g", "hardlink", link="../../etc/passwd")], {"b": BLOB}
    ),
    "hard link to a directory": _snap("/w", [_e(""), _e("d"), _e("g", "hardlink", link="d")]),
    "hard link to nothing": _snap("/w", [_e(""), _e("g", "hardlink", link="nope")]),
    "missing blob": _snap("/w", GOOD),
    "size lies": _snap("/w", [_e(""), _e("f", "file", size=10**12, blob=DIGEST)], {"b": BLOB}),
    "unknown type": _snap("/w", [_e(""), _e("x", "fifo")]),
    "mode not an int": _snap("/w", [_e(""), _e("d", mode="755")]),
    "negative uid": _snap("/w", [_e(""), _e("d", uid=-1)]),
    "whiteout device": _snap("/w", [_e(""), _e("c", "chardev", rdev=0)]),
    "NUL in a symlink target": _snap("/w", [_e(""), _e("l", "symlink", target="a\0b")]),
    "orphan entry": _snap("/w", [_e(""), _e("a/b")]),
    "unsorted entries": _snap("/w", [_e(""), _e("b"), _e("a")]),
    "duplicate entries": _snap("/w", [_e(""), _e("a"), _e("a")]),
    "unknown manifest key": _snap("/w", GOOD, {"b": BLOB}, extra=1),
    "deep JSON": _tar([(MANIFEST, b"[" * 100_000 + b"]" * 100_000)]),
    "manifest not JSON": _tar([(MANIFEST, b"\xff{")]),
    "manifest missing": _tar([("other", b"x")]),
    "stray member": _tar([(MANIFEST, b"{}"), ("../evil", b"x")]),
    "wrong format": _snap("/w", GOOD, {"b": BLOB}, format="zip"),
    "not a tar": b"garbage" * 100,
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_snapshot_is_one_clear_error(name: str) -> None:
    data = CASES[name]
    with pytest.raises(SnapshotError) as exc:
        Snapshot.load(data)
    assert str(exc.value).startswith(("bad snapshot", "not a pocketos snapshot", "snapshot blob"))
    with pytest.raises(SnapshotError):
        VM(snapshots=[data])


def test_the_good_case_loads() -> None:
    data = _snap("/w", [*GOOD, _e("g", "hardlink", link="f")], {"b": BLOB})
    with VM(snapshots=[data]) as vm:
        assert vm.read_file("/w/g") == BLOB
        assert vm.exec("stat -c %h /w/f").stdout == "2\n"


def _sparse_member(name: str, realsize: int) -> bytes:
    """A GNU sparse header declaring ``realsize`` bytes with no data stored."""
    h = bytearray(512)
    h[0 : len(name)] = name.encode()
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"00000000000\0"
    h[136:148] = b"00000000000\0"
    h[156:157] = b"S"
    h[257:265] = b"ustar  \0"
    h[386:398] = f"{realsize - 1:011o}\0".encode()  # one hole, then 0 bytes of data
    h[398:410] = b"00000000000\0"
    h[483:495] = f"{realsize:011o}\0".encode()
    h[148:156] = b"        "
    h[148:156] = f"{sum(h):06o}\0 ".encode()
    return bytes(h)


@pytest.mark.own_process
def test_a_small_sparse_entry_cannot_make_the_loader_allocate() -> None:
    man = json.dumps({"format": "pocketos-snapshot", "version": 1, "root": "/", "entries": []})
    info = tarfile.TarInfo(MANIFEST)
    info.size = len(man)
    head = info.tobuf(tarfile.PAX_FORMAT) + man.encode()
    head += b"\0" * (-len(head) % 512)
    data = head + _sparse_member("blobs/" + "0" * 64, 3 * 2**30) + b"\0" * 1024
    assert len(data) < 16384
    # the archive really declares a 3 GiB member (what an unchecked loader would allocate)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        big = tar.getmembers()[-1]
        assert big.issparse() and big.size == 3 * 2**30

    def load() -> SnapshotError | None:
        try:
            Snapshot.load(data)
        except SnapshotError as e:
            return e
        return None

    refused, peak = peak_while(load)
    assert isinstance(refused, SnapshotError)
    assert peak < 16 * 2**20


def test_cli_reports_a_bad_snapshot(tmp_path: Path) -> None:
    for name in ("root climbs", "deep JSON", "dot-dot in a hard link"):
        bad = tmp_path / "bad.snap"
        bad.write_bytes(CASES[name])
        r = call(["exec", "--from-snapshot", str(bad), "true"])
        assert r.status == 1, (name, r.stderr)
        assert r.stderr.startswith(f"pocketos: error: bad snapshot {bad}: "), r.stderr
        assert "Traceback" not in r.stderr
        r = call(["snapshot", "inspect", str(bad)])
        assert r.status == 1 and "bad snapshot" in r.stderr, r.stderr
