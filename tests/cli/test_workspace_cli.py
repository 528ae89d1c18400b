"""``pocketos workspace …`` in-process."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.snapshot import Snapshot
from pocketos.workspaces import WorkspaceStore
from tests.cli.conftest import call


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / "src").mkdir(parents=True)
    (r / "src" / "a.txt").write_text("hi\n")
    (r / "blob").write_bytes(b"x\0y")
    os.symlink("src/a.txt", r / "link")
    return r


def agent_edit(store: Path, name: str) -> None:
    s = WorkspaceStore(store)
    with VM() as vm:
        co = s.open(name, vm, "/w")
        vm.exec("echo more >> /w/src/a.txt; rm /w/blob")
        co.commit("agent edit", author="agent-1")


def test_create_log_diff_checkout_fork_export(tmp_path: Path, repo: Path) -> None:
    st = str(tmp_path / "store")
    r = call(["workspace", "create", "t", "--from-dir", str(repo), "--store", st])
    assert (r.status, r.stdout, r.stderr) == (0, "created workspace t on base t\n", "")
    agent_edit(Path(st), "t")
    r = call(["workspace", "list", "--store", st])
    assert r.stdout == "t\ttree\tbase=t\truns=1\n"
    r = call(["workspace", "log", "t", "--store", st])
    lines = r.stdout.splitlines()
    assert lines[0].startswith("run 1  ") and lines[0].endswith("  agent-1")
    assert lines[1] == "    agent edit"
    assert re.fullmatch(r"    \+0 ~1 -1  1 files, \d+ bytes written", lines[2])
    r = call(["workspace", "diff", "t", "--store", st])
    assert r.stdout == (
        "Binary files a/blob and /dev/null differ\n"
        "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1 +1,2 @@\n hi\n+more\n"
    )
    r = call(["workspace", "diff", "t", "0", "1", "--name-status", "--exit-code", "--store", st])
    assert (r.status, r.stdout) == (1, "D\tblob\nM\tsrc/a.txt\n")
    r = call(["workspace", "--store", st, "checkout", "t", "0"])
    assert (r.status, r.stdout) == (0, "t: run 2 restores run 0\n")
    r = call(["workspace", "fork", "t", "t2", "--run", "1", "--store", st])
    assert r.stdout == "forked t into t2 at run 1\n"
    out = tmp_path / "out"
    r = call(["workspace", "export", "t2", str(out), "--store", st])
    assert r.status == 0, r.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "link",
        "src",
        "src/a.txt",
    ]
    assert (out / "src" / "a.txt").read_text() == "hi\nmore\n"
    assert os.readlink(out / "link") == "src/a.txt"
    snap = tmp_path / "t.snap"
    assert call(["workspace", "export", "t", str(snap), "--store", st]).status == 0
    with VM(snapshots=[Snapshot.load(snap)]) as vm:
        assert vm.exec("cat /src/a.txt /blob").stdout == "hi\nx\0y"
    r = call(["workspace", "gc", "--grace", "0", "--json", "--store", st])
    assert r.status == 0 and '"deleted": 0' in r.stdout


def test_setup_and_snapshot_bases(tmp_path: Path) -> None:
    st = str(tmp_path / "store")
    r = call(["workspace", "create", "s", "--setup", "echo made > f && mkdir d", "--store", st])
    assert r.status == 0, r.stderr
    assert sorted(p for p in WorkspaceStore(st).tree("s") if p) == ["d", "f"]
    r = call(["workspace", "create", "bad", "--setup", "exit 3", "--store", st])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: the setup script failed with status 3\n",
    )
    with VM() as vm:
        vm.exec("mkdir -p /p && echo s > /p/s")
        snap = tmp_path / "p.snap"
        snap.write_bytes(vm.snapshot("/p").to_bytes())
    r = call(["workspace", "create", "sn", "--from-snapshot", str(snap), "--store", st])
    assert r.status == 0, r.stderr
    assert sorted(p for p in WorkspaceStore(st).tree("sn") if p) == ["s"]


def test_errors_are_one_clear_line(tmp_path: Path, repo: Path) -> None:
    st = str(tmp_path / "store")
    cases = [
        (["workspace", "log", "nope"], 1, "pocketos: error: no workspace named 'nope'\n"),
        (
            ["workspace", "create", "x", "--base", "b", "--from-dir", str(repo)],
            2,
            "pocketos: error: give at most one of --base, --from-dir, --from-snapshot, --setup\n",
        ),
        (
            ["workspace", "create", "x", "--from-dir", str(tmp_path / "missing")],
            1,
            f"pocketos: error: --from-dir {tmp_path / 'missing'}: not a directory\n",
        ),
    ]
    for argv, status, err in cases:
        r = call([*argv, "--store", st])
        assert (r.status, r.stdout, r.stderr) == (status, "", err)
    call(["workspace", "create", "w", "--store", st])
    r = call(["workspace", "checkout", "w", "4", "--store", st])
    assert r.stderr == "pocketos: error: workspace 'w' has no run 4 (it has runs 0..0)\n"
    r = call(["workspace", "create", "w", "--store", st])
    assert r.stderr == "pocketos: error: a workspace named 'w' already exists\n"
    out = tmp_path / "busy"
    out.mkdir()
    (out / "x").write_text("x")
    r = call(["workspace", "export", "w", str(out), "--store", st])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: {out} exists and is not an empty directory\n",
    )


def test_default_store_is_under_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POCKETOS_WORKSPACES", raising=False)
    assert call(["workspace", "create", "h"]).status == 0
    assert (home / ".local/share/pocketos/workspaces/workspaces/h/head.json").is_file()
