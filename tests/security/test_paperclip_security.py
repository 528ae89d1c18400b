"""Attacks on the Paperclip integration: what reaches the host from a task key, the warm
runner's socket, and an operator's malformed policy."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.paperclip import ConfigError, WorkspaceStore, build_policy, parse_config

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_a_task_key_cannot_name_a_host_path(tmp_path: Path) -> None:
    store = WorkspaceStore(tmp_path / "ws")
    vm = VM(snapshots=[WorkspaceStore.empty("/w")])
    vm.write_file("/w/f", b"x")
    for key in ("../../../../tmp/evil", "/etc/passwd", "a/../../b", "\x00"):
        store.commit(key, vm.snapshot("/w"))
    vm.close()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert all(p.startswith("ws/") or p == "ws" for p in written), written
    names = [p.name for p in (tmp_path / "ws/tasks").iterdir()]
    assert len(names) == 4 and all(len(n) == len("0" * 32 + ".json") for n in names)


def test_another_tasks_manifest_is_refused(tmp_path: Path) -> None:
    from pocketos.paperclip.workspace import task_slot

    store = WorkspaceStore(tmp_path)
    vm = VM(snapshots=[WorkspaceStore.empty("/w")])
    store.commit("a", vm.snapshot("/w"))
    vm.close()
    # a manifest copied (or planted) into another task's slot is not that task's workspace
    a = tmp_path / "tasks" / (task_slot("a") + ".json")
    (tmp_path / "tasks" / (task_slot("b") + ".json")).write_bytes(a.read_bytes())
    with pytest.raises(ValueError, match="belongs to another task"):
        store.load("b", "/w")


@pytest.mark.parametrize(
    "policy",
    [
        '{"fs": "allow"',
        '"allow"',
        '{"fs": {"default": "allow", "rules": []}}',
        '{"nework": "allow"}',
    ],
)
def test_a_policy_that_does_not_parse_never_opens_the_vm(policy: str) -> None:
    with pytest.raises(ConfigError):
        build_policy(policy)
    with pytest.raises(ConfigError):
        parse_config({"policy": policy})


def test_the_warm_runner_socket_is_private(tmp_path: Path) -> None:
    d = tmp_path / "sock"
    d.mkdir(mode=0o700)
    sock = d / "runner.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pocketos.paperclip", "serve", str(sock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        assert mode & 0o077 == 0, oct(mode)
        # a garbage envelope gets an error line, and the server keeps serving
        import socket

        for payload in (b"not json", b"[1]"):
            c = socket.socket(socket.AF_UNIX)
            c.connect(str(sock))
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            answer = c.makefile("rb").read()
            c.close()
            assert b'"errorMessage": "bad envelope' in answer
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the adapter went away: the server exits
        assert proc.wait(timeout=120) == 0
    assert not sock.exists()
