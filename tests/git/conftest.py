"""The comparison harness: the same script runs in a VM (pocketos's git) and in a host temp
directory (the real git binary); stdout, exit status and the resulting repository must agree."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketos import VM

GIT = shutil.which("git")

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "@1700000000 +0100",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_COMMITTER_DATE": "@1700000000 +0100",
}

#: where the repository lives: /w in the VM, <tmp>/w on the host (outputs are compared after
#: replacing the host's prefix)
TOP = "/w"


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


class Host:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "w").mkdir()
        (root / "home").mkdir()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C",
            "LC_ALL": "C",
            "TZ": "UTC",
            **IDENTITY,
        }

    def run(self, script: str) -> Result:
        p = subprocess.run(
            ["bash", "-c", script],
            cwd=self.root / "w",
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        prefix = str(self.root)
        return Result(
            p.returncode,
            p.stdout.decode().replace(prefix, ""),
            p.stderr.decode().replace(prefix, ""),
        )


class Guest:
    def __init__(self) -> None:
        self.vm = VM(env={"HOME": "/home", "TZ": "UTC", **IDENTITY})
        self.vm.exec("mkdir -p /w /home")

    def run(self, script: str) -> Result:
        r = self.vm.exec(script, cwd=TOP, timeout=60)
        return Result(r.exit_code, r.stdout, r.stderr)

    def export(self, dest: Path) -> None:
        """Copy the VM's /w to a host directory, to open it with the real git."""
        dirs = self.vm.exec("find /w -type d", timeout=60).stdout.splitlines()
        for d in dirs:
            (dest / d[len(TOP) + 1 :]).mkdir(parents=True, exist_ok=True)
        r = self.vm.exec("find /w -type f -o -type l", timeout=60)
        for line in r.stdout.splitlines():
            rel = line[len(TOP) + 1 :]
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.vm.read_file(line))
            mode = self.vm.exec(f"stat -c %a '{line}'").stdout.strip()
            if mode:
                target.chmod(int(mode, 8))


def repo_state(root: Path, env: dict[str, str]) -> str:
    """What makes two repositories the same for a user: refs, HEAD, index, objects reachable."""

    def g(*args: str) -> str:
        p = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, timeout=60)
        return p.stdout.decode() + (f"[exit {p.returncode}]" if p.returncode else "")

    return "\n".join(
        [
            g("symbolic-ref", "-q", "HEAD"),
            g("rev-parse", "-q", "--verify", "HEAD"),
            g("for-each-ref", "--format=%(refname) %(objectname)"),
            g("ls-files", "-s"),
        ]
    )


@pytest.fixture
def pair(tmp_path: Path):  # type: ignore[no-untyped-def]
    if GIT is None:
        pytest.skip("the real git is not installed (apt install git)")
    guest = Guest()
    yield Host(tmp_path), guest
    guest.vm.close()
