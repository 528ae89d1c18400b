"""A sandbox's host process is killed (SIGKILL, SIGTERM): no process of the sandbox survives,
and its FUSE mount directory and cgroups do not outlive it for long (the host tears down on
SIGTERM; a sweep at the next sandbox start, or ``pocketos sandbox prune``, removes what a
SIGKILL left). A live host's sandbox is never touched, even by a sweep."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketos.sandbox import hostexit
from pocketos.sandbox.cgroup import Cgroup
from pocketos.sandbox.leftovers import Owner, owner_of_dir, prune
from tests.sandbox.conftest import make_vm, needs_sandbox

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))

#: a host process that starts a sandbox running ``sleep infinity``, prints what the sandbox
#: uses as one JSON line, and waits forever (argv[1]: "default" or "own-handler")
HOST = r"""
import asyncio, json, os, signal, sys
from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
from pocketos.sandbox import SandboxOptions, SandboxProcess

# a host that owns the default dispositions, whatever the test run inherited
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
if sys.argv[1] == "own-handler":
    def app_handler(signum, frame):
        print("app handler ran", flush=True)
        os._exit(7)
    signal.signal(signal.SIGTERM, app_handler)

vm = VM(policy={**DEFAULT_POLICY, "sandbox": "allow"})

async def main():
    k = vm.kernel
    sp = SandboxProcess(k, ["sleep", "infinity"], cwd="/home/user", env=k.env,
                        options=SandboxOptions())
    await sp.start()
    h = signal.getsignal(signal.SIGTERM)
    print(json.dumps({
        "workdir": sp._workdir,
        "cgroups": sp._cgroup.dirs if sp._cgroup else [],
        "bwrap": sp.proc.pid,
        "init": sp.init_pid,
        "handler": getattr(h, "__name__", str(h)),
    }), flush=True)
    await sp.proc.wait()

asyncio.run(main())
"""

#: a host process that runs one sandboxed program to its end, then exits
NEXT_HOST = r"""
from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
with VM(policy={**DEFAULT_POLICY, "sandbox": "allow"}) as vm:
    assert vm.sandbox_run(["true"]).exit_code == 0
"""


def _stat(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            f = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(f[19]), f[0].decode()


def _running(pid: int, start: int | None) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z" and start in (None, st[0])


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4].startswith(path) for line in fh)


class Host:
    """A host process with a live sandbox, and what it reported about it."""

    def __init__(self, mode: str = "default") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOST, mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        # a bound on a failure only (the host never exits by itself)
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"the host did not start its sandbox: {err.decode()[-2000:]}")
        self.info: dict[str, Any] = json.loads(line)
        self.workdir: str = self.info["workdir"]
        self.cgroups: list[str] = self.info["cgroups"]
        # every process of the sandbox, by pid and start time (to survive pid reuse)
        self.pids = {p: (_stat(p) or (-1, ""))[0] for p in (self.info["bwrap"], self.info["init"])}
        self.pidns = os.readlink(f"/proc/{self.info['init']}/ns/pid")
        assert self._in_sandbox(), "the sandbox runs no process"

    def _in_sandbox(self) -> list[int]:
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.readlink(f"/proc/{name}/ns/pid") == self.pidns:
                        out.append(int(name))
                except OSError:
                    pass
        return out

    def survivors(self) -> list[int]:
        """Processes of the sandbox still running (zombies waiting for a reaper excepted)."""
        left = [p for p, start in self.pids.items() if _running(p, start)]
        return left + [p for p in self._in_sandbox() if _running(p, None)]

    def wait_for_no_survivors(self) -> list[int]:
        # the kernel kills them asynchronously after the host's death: poll, with a bound
        # that only a failure reaches
        deadline = time.monotonic() + 60
        while (left := self.survivors()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def kill(self, sig: int) -> int:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=120)
        self.stderr = err.decode()
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        prune()


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host()
    try:
        yield h
    finally:
        h.close()


def _leftovers(h: Host) -> list[str]:
    out = [p for p in [h.workdir, *h.cgroups] if os.path.lexists(p)]
    if _mounted(h.workdir):
        out.append("mount " + h.workdir)
    return out


@needs_sandbox
def test_sigkill_of_the_host_leaves_no_process_and_the_next_start_sweeps(host: Host) -> None:
    owner = owner_of_dir(host.workdir)
    assert owner is not None and owner.pid == host.proc.pid
    assert all(f"-{host.proc.pid}." in os.path.basename(c) for c in host.cgroups)
    assert host.kill(signal.SIGKILL) == -signal.SIGKILL
    assert host.wait_for_no_survivors() == []
    # no teardown ran: the dead mount, its directory and the cgroups are still here
    assert sorted(_leftovers(host)) == sorted(
        [host.workdir, *host.cgroups, "mount " + host.workdir]
    )
    # the next sandbox start, in another process, removes them
    r = subprocess.run(
        [sys.executable, "-c", NEXT_HOST], env=ENV, cwd=ROOT, capture_output=True, timeout=300
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert _leftovers(host) == []


def _prune_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pocketos", "sandbox", "prune", *args],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@needs_sandbox
def test_prune_command_removes_what_a_sigkilled_host_left(host: Host) -> None:
    host.kill(signal.SIGKILL)
    assert host.wait_for_no_survivors() == []
    dry = _prune_command("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"Would remove {host.workdir}\n" in dry.stdout
    for c in host.cgroups:
        assert f"Would remove {c}\n" in dry.stdout
    assert host.workdir in _leftovers(host)
    r = _prune_command()
    assert r.returncode == 0, r.stderr
    assert f"Removing {host.workdir}\n" in r.stdout
    assert _leftovers(host) == []


@needs_sandbox
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_sigterm_tears_the_sandbox_down_before_the_host_dies(host: Host, sig: int) -> None:
    assert host.info["handler"] == "_on_signal"  # the default disposition was ours to take
    # the host dies of the signal, as it would have without a sandbox
    assert host.kill(sig) == -sig, host.stderr
    assert host.wait_for_no_survivors() == []
    assert _leftovers(host) == []  # no sweep has run: the host removed everything itself


@needs_sandbox
def test_an_application_sigterm_handler_is_never_replaced() -> None:
    h = Host("own-handler")
    try:
        assert h.info["handler"] == "app_handler"
        assert h.kill(signal.SIGTERM) == 7  # the application's handler ran, not ours
        assert h.wait_for_no_survivors() == []
        assert h.workdir in _leftovers(h)  # the application exited without closing its VM
        prune()
        assert _leftovers(h) == []
    finally:
        h.close()


@needs_sandbox
def test_a_sweep_never_touches_a_live_hosts_sandbox(host: Host) -> None:
    before = host.survivors()
    done = prune()
    assert host.workdir not in done.dirs
    assert not set(host.cgroups) & set(done.cgroups)
    assert os.path.isdir(host.workdir) and _mounted(host.workdir)
    assert all(os.path.isdir(c) for c in host.cgroups)
    assert host.survivors() == before  # the program still runs
    assert host.proc.poll() is None


@needs_sandbox
def test_the_handler_is_the_default_again_after_the_last_sandbox() -> None:
    before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)]
    during: list[object] = []
    with make_vm() as vm:
        r = vm.sandbox_run(
            ["echo", "hi"],
            on_stdout=lambda b: during.extend(
                signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)
            ),
        )
        assert r.exit_code == 0 and r.stdout == "hi\n"
    # taken only where the disposition was the default, and given back
    assert during == [hostexit._on_signal if b == signal.SIG_DFL else b for b in before]
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)] == before


def _fake_sandbox_dir(base: Path, owner: Owner | None) -> Path:
    d = base / f"pocketos-sandbox-{len(list(base.iterdir()))}"
    (d / "root").mkdir(parents=True)
    if owner is not None:
        (d / "owner").write_text(
            json.dumps(
                {"pid": owner.pid, "start": owner.start, "pidns": owner.pidns, "boot": owner.boot}
            )
        )
    return d


def test_a_reused_pid_does_not_keep_a_dead_owners_leftovers(tmp_path: Path) -> None:
    me = Owner.current()
    assert me.state() == "alive"
    reused = Owner(me.pid, me.start + 1, me.pidns, me.boot)  # same pid, another process
    assert reused.state() == "dead"
    assert Owner(me.pid, me.start, me.pidns + 1, me.boot).state() == "unknown"
    assert Owner(me.pid, me.start, me.pidns, "another-boot").state() == "dead"
    live = _fake_sandbox_dir(tmp_path, me)
    dead = _fake_sandbox_dir(tmp_path, reused)
    foreign = _fake_sandbox_dir(tmp_path, Owner(me.pid, me.start + 1, me.pidns + 1, me.boot))
    unrecorded = _fake_sandbox_dir(tmp_path, None)
    done = prune(str(tmp_path))
    assert done.dirs == [str(dead)]
    assert live.is_dir() and foreign.is_dir() and unrecorded.is_dir() and not dead.exists()


def test_a_planted_link_is_not_followed_by_a_sweep(tmp_path: Path) -> None:
    me = Owner.current()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = _fake_sandbox_dir(elsewhere, Owner(me.pid, me.start + 1, me.pidns, me.boot))
    (target / "keep").write_text("precious")
    base = tmp_path / "tmp"
    base.mkdir()
    (base / "pocketos-sandbox-planted").symlink_to(target)
    done = prune(str(base))
    assert done.dirs == [] and done.busy == []
    assert (target / "keep").read_text() == "precious"


@needs_sandbox
def test_a_cgroup_whose_owner_pid_was_reused_is_removed() -> None:
    me = Owner.current()
    mine = Cgroup.create("leftover-test", None, 8, me.tag)
    stale = Cgroup.create(
        "leftover-test", None, 8, Owner(me.pid, me.start + 1, me.pidns, me.boot).tag
    )
    if mine is None or stale is None:
        pytest.skip("sandbox: this process cannot create cgroups")
    stale_dirs = list(stale.dirs)
    try:
        done = prune()
        assert sorted(stale_dirs) == sorted(set(done.cgroups) & set(stale_dirs))
        assert not any(os.path.exists(d) for d in stale_dirs)
        assert all(os.path.isdir(d) for d in mine.dirs)
    finally:
        mine.remove_now()
        stale.remove_now()


@needs_sandbox
def test_processes_left_in_a_dead_owners_cgroup_are_killed() -> None:
    me = Owner.current()
    stale = Cgroup.create("leftover-test", None, 8, Owner(me.pid, me.start + 1, me.pidns).tag)
    if stale is None:
        pytest.skip("sandbox: this process cannot create cgroups")
    dirs = list(stale.dirs)
    orphan = subprocess.Popen(["sleep", "infinity"])
    try:
        stale.add(orphan.pid)
        done = prune()
        assert orphan.wait(timeout=120) == -signal.SIGKILL
        # reaped now: on a loaded machine the group may only empty after that
        again = prune() if set(done.busy) & set(dirs) else done
        assert sorted(set(done.cgroups + again.cgroups) & set(dirs)) == sorted(dirs)
        assert not any(os.path.exists(d) for d in dirs)
    finally:
        orphan.kill()
        orphan.wait()
        stale.remove_now()
