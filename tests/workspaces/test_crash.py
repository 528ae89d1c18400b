"""Crash safety and concurrency with real processes: kill -9 in the middle of a commit, a lock
held by another process, a lock left by a dead one, two processes committing at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.workspaces import WorkspaceLockedError, WorkspaceStore

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from pocketos import VM
    from pocketos.workspaces import WorkspaceStore
    from pocketos.workspaces.storage import LocalStorage

    url, mode = sys.argv[1], sys.argv[2]

    def pause():
        sys.stdout.write("paused\\n")
        sys.stdout.flush()
        sys.stdin.readline()

    real_write, real_tmp = LocalStorage.write, LocalStorage._tmp

    def write(self, key, data):
        if mode == "before-head" and key.endswith("head.json"):
            # the run's pack file is written and flushed: it only lacks the head's reference
            assert [p for p in os.listdir(Path(url) / "packs") if p.endswith(".pack")]
            pause()
        return real_write(self, key, data)

    def _tmp(self, path, data, *args):
        if (mode == "torn-head" and path.name == "head.json") or (
            mode == "torn-pack" and path.parent.name == "packs" and len(data) > 50000
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.parent / ".tmp-torn", "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
            pause()
        return real_tmp(self, path, data, *args)

    LocalStorage.write, LocalStorage._tmp = write, _tmp
    store = WorkspaceStore(url)
    vm = VM()
    co = store.open("w", vm, "/w")
    if mode == "hold-lock":
        with store.lock("w"):
            pause()
        sys.exit(0)
    if mode.startswith("writer"):
        for i in range(8):
            vm.write_file(f"/w/{mode}-{i}", f"{mode} {i}\\n")
            co.commit(f"{mode} {i}", lock_timeout=120)
        sys.exit(0)
    vm.write_file("/w/big", os.urandom(100000))
    vm.exec("rm /w/keep; echo changed > /w/edit")
    co.commit("doomed")
    sys.stdout.write("committed\\n")
    """
)


def child(url: str, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def store(tmp_path: Path) -> WorkspaceStore:
    s = WorkspaceStore(tmp_path / "store")
    s.create("w")
    with VM() as vm:
        co = s.open("w", vm, "/w")
        vm.exec("echo keep > /w/keep; echo edit > /w/edit")
        co.commit("first")
    return s


def kill_when_paused(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "paused\n", line
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["torn-pack", "before-head", "torn-head"])
def test_kill_9_mid_commit_leaves_the_previous_state(store: WorkspaceStore, mode: str) -> None:
    before = store.tree("w")
    kill_when_paused(child(store.url, mode))
    fresh = WorkspaceStore(store.url, lock_timeout=0)
    assert [r.message for r in fresh.log("w")] == ["first"]
    assert fresh.tree("w") == before
    with VM() as vm:
        co = fresh.open("w", vm, "/w")
        assert vm.exec("cat /w/keep /w/edit; ls /w").stdout == "keep\nedit\nedit\nkeep\n"
        # the dead writer's lock is stale: the next commit takes it at once
        vm.write_file("/w/after", "a\n")
        run = co.commit("after the crash")
        assert run is not None and run.n == 2
    # what the dead writer left is garbage: collected, and the store still opens
    res = fresh.gc(grace=0)
    assert res["deleted"] >= (0 if mode == "torn-pack" else 3)  # blob, delta, run
    assert list(fresh.storage.root.rglob(".tmp-*")) == []  # type: ignore[attr-defined]
    with VM() as vm:
        WorkspaceStore(store.url).open("w", vm, "/w")
        assert vm.exec("ls /w").stdout == "after\nedit\nkeep\n"


def test_second_writer_fails_clearly_then_waits(store: WorkspaceStore) -> None:
    holder = child(store.url, "hold-lock")
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "paused\n"
    with pytest.raises(WorkspaceLockedError, match=f"held by pid {holder.pid}"):
        store.lock("w", timeout=0).acquire()
    result: list[object] = []

    def commit() -> None:
        with VM() as vm:
            co = store.open("w", vm, "/w")
            vm.write_file("/w/waited", "w\n")
            result.append(co.commit("waited for the lock", lock_timeout=120))

    t = threading.Thread(target=commit)
    t.start()
    holder.stdin.write("go\n")
    holder.stdin.flush()
    t.join()
    assert holder.wait() == 0
    assert [r.message for r in store.log("w")] == ["first", "waited for the lock"]


def test_lock_of_a_killed_process_is_recovered(store: WorkspaceStore) -> None:
    holder = child(store.url, "hold-lock")
    kill_when_paused(holder)
    assert store.storage.exists("workspaces/w/lock")
    with store.lock("w", timeout=0):
        pass
    assert not store.storage.exists("workspaces/w/lock")


def test_lock_of_another_host_expires(store: WorkspaceStore) -> None:
    key = "workspaces/w/lock"
    rec = {"host": socket.gethostname() + "-elsewhere", "pid": 1, "time": time.time()}
    store.storage.write(key, json.dumps(rec).encode())
    with pytest.raises(WorkspaceLockedError, match="on " + rec["host"]):
        store.lock("w", timeout=0).acquire()
    rec["time"] = time.time() - 2 * store.stale_after
    store.storage.write(key, json.dumps(rec).encode())
    with store.lock("w", timeout=0):
        pass


def test_two_processes_committing_lose_no_run(store: WorkspaceStore) -> None:
    procs = [child(store.url, f"writer{i}") for i in (1, 2)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    log = store.log("w")
    assert len(log) == 1 + 16
    assert [r.n for r in log] == list(range(1, 18))
    names = sorted(p for p in store.tree("w") if p.startswith("writer"))
    assert names == sorted(f"writer{w}-{i}" for w in (1, 2) for i in range(8))
