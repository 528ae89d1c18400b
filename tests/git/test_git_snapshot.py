"""A repository made in a VM survives a snapshot file and opens with the real git, and a
repository made by the real git works in a VM."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.git.conftest import GIT, IDENTITY

from pocketos import VM
from pocketos.snapshot import Snapshot


def _materialize(snap: Snapshot, dest: Path) -> None:
    """Write a snapshot's tree to a host directory (files, dirs, symlinks, modes)."""
    for e in snap.entries:
        p = dest / e["path"] if e["path"] else dest
        if e["type"] == "dir":
            p.mkdir(parents=True, exist_ok=True)
        elif e["type"] == "file":
            p.write_bytes(snap.blobs[e["blob"]])
            p.chmod(e["mode"])
        elif e["type"] == "symlink":
            os.symlink(e["target"], p)


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY}


@pytest.mark.skipif(GIT is None, reason="the real git is not installed (apt install git)")
def test_a_vm_repository_saved_as_a_snapshot_file_passes_git_fsck(tmp_path: Path) -> None:
    with VM(env=IDENTITY) as vm:
        r = vm.exec(
            "mkdir -p /w && cd /w && git init -q && printf 'a\\n' > a && ln -s a link && "
            "chmod +x a && git add . && git commit -qm one && git switch -q -c dev && "
            "printf 'b\\n' > b && git add b && git commit -qm two && git tag -a v1 -m rel && "
            "git switch -q master && git merge -q --no-ff dev -m merged && git log --format=%H"
        )
        assert r.exit_code == 0, r.stderr
        vm.snapshot("/w").save(tmp_path / "repo.snap")
    snap = Snapshot.load(tmp_path / "repo.snap")
    out = tmp_path / "out"
    _materialize(snap, out)
    env = _env(tmp_path)
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=out, env=env, capture_output=True)
    assert fsck.returncode == 0, fsck.stderr.decode()
    log = subprocess.run(["git", "log", "--format=%H"], cwd=out, env=env, capture_output=True)
    assert log.stdout.decode() == r.stdout
    status = subprocess.run(["git", "status", "--porcelain"], cwd=out, env=env, capture_output=True)
    assert status.stdout == b""


@pytest.mark.skipif(GIT is None, reason="the real git is not installed (apt install git)")
def test_a_host_repository_works_in_the_vm(tmp_path: Path) -> None:
    env = _env(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    script = (
        "git init -q . && printf 'x\\n' > x && mkdir d && printf 'y\\n' > d/y && git add . && "
        "git commit -qm one && git branch feature && printf 'z\\n' >> x && git commit -qam two && "
        "git tag -a t1 -m tag && git gc -q"
    )
    subprocess.run(["bash", "-c", script], cwd=src, env=env, check=True)
    with VM(env=IDENTITY) as vm:
        for p in sorted(src.rglob("*")):
            rel = "/w/" + str(p.relative_to(src))
            if p.is_dir():
                vm.mkdir(rel, parents=True)
            else:
                vm.write_file(rel, p.read_bytes(), parents=True)
        r = vm.exec(
            "git status --porcelain; git log --oneline --all; git show --stat t1 | tail -n 2; "
            "printf 'w\\n' >> x && git commit -qam three && git log -n1 --format=%s",
            cwd="/w",
        )
    expected = subprocess.run(
        ["bash", "-c", "git log --oneline --all; git show --stat t1 | tail -n 2"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert (r.exit_code, r.stdout) == (0, expected + "three\n"), r.stderr
