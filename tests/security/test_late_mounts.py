"""Host mounts added or removed after a process-isolated VM started.

A Landlocked worker's domain is fixed when it opens its VM, so a late ``vm.mount(host=...)``
must move the VM to a worker that may reach the new directory (and a ``vm.unmount`` to one that
no longer may) — without widening what the guest can do: the mount's mode and the policy
still decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketos import VM
from pocketos.errors import PocketOSError
from pocketos.isolation import WorkerPool, landlock
from pocketos.isolation.client import AsyncProcessVM
from pocketos.isolation.remount import check_movable
from pocketos.wasm import python_available
from tests.security._util import SECRET_MARKER

pytestmark = pytest.mark.skipif(landlock.abi() < 1, reason="the kernel has no Landlock")


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


def inner(vm: VM) -> AsyncProcessVM:
    a = vm.async_vm
    assert isinstance(a, AsyncProcessVM)
    return a


def _landlocked(vm: VM) -> bool:
    return any(n.startswith("landlock (") for n in vm.sandbox)


@pytest.fixture
def hostdir(tmp_path: Path) -> Path:
    d = tmp_path / "host"
    (d / "sub").mkdir(parents=True)
    (d / "f").write_text("from host\n")
    (d / "sub" / "g").write_text("deeper\n")
    return d


def test_a_late_read_only_mount_reads_and_refuses_writes(pool: WorkerPool, hostdir: Path) -> None:
    with VM(isolation="process", pool=pool) as vm:
        assert _landlocked(vm)
        vm.exec("echo kept > /root.txt")
        vm.mount("/late", host=str(hostdir), mode="ro")
        assert _landlocked(vm)
        r = vm.exec("cat /late/f /late/sub/g")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "from host\ndeeper\n", "")
        assert vm.exec("ls /late").stdout.split() == ["f", "sub"]
        assert vm.read_file("/late/f") == b"from host\n"
        w = vm.exec("echo x > /late/new")
        assert w.exit_code != 0 and "Read-only file system" in w.stderr
        assert not (hostdir / "new").exists()
        # the VM's own files came along, and the move is not counted as a worker death
        assert vm.exec("cat /root.txt").stdout == "kept\n"
        assert inner(vm).restarts == 0


def test_a_late_read_write_mount_writes_to_the_host(pool: WorkerPool, hostdir: Path) -> None:
    with VM(isolation="process", pool=pool) as vm:
        vm.mount("/rw", host=str(hostdir), mode="rw")
        r = vm.exec("echo written > /rw/new && cat /rw/f && ls /rw")
        assert r.exit_code == 0, r.stderr
        assert r.stdout == "from host\nf\nnew\nsub\n"
        assert (hostdir / "new").read_text() == "written\n"
        vm.write_file("/rw/sub/h", "via api")
        assert (hostdir / "sub" / "h").read_text() == "via api"


@pytest.mark.skipif(
    not python_available(), reason="the wasm Python runtime is not installed (pocketos warmup)"
)
def test_a_python_guest_reads_a_late_mount(pool: WorkerPool, hostdir: Path) -> None:
    with VM(isolation="process", pool=pool) as vm:
        vm.mount("/late", host=str(hostdir))
        r = vm.exec('python3 -c \'print(open("/late/f").read(), end="")\'')
        assert (r.exit_code, r.stdout) == (0, "from host\n"), r.stderr


def test_the_policy_still_decides_on_a_late_mount(pool: WorkerPool, hostdir: Path) -> None:
    (hostdir / "sub" / "g").write_text(SECRET_MARKER)
    policy = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/late/sub/**"]}],
        },
        "child_process": "allow",
    }
    with VM(isolation="process", pool=pool, policy=policy) as vm:
        vm.mount("/late", host=str(hostdir))
        assert vm.exec("cat /late/f").stdout == "from host\n"
        r = vm.exec("cat /late/sub/g")
        assert r.exit_code == 1 and SECRET_MARKER not in r.stdout + r.stderr
        assert "Permission denied" in r.stderr
        with pytest.raises(PermissionError):
            vm.read_file("/late/sub/g")


def test_after_unmount_the_worker_itself_cannot_reach_the_host_dir(
    pool: WorkerPool, hostdir: Path
) -> None:
    (hostdir / "f").write_text(SECRET_MARKER)
    with VM(isolation="process", pool=pool, mounts={"/h": str(hostdir)}) as vm:
        assert vm.exec("cat /h/f").stdout == SECRET_MARKER
        vm.unmount("/h")
        assert vm.exec("cat /h/f").exit_code != 0
        assert [m["path"] for m in vm.mounts()] == ["/"]
        # stand in for a pocketos bug that mounts the directory again inside the worker
        # without the host's knowledge: the kernel refuses it
        inner(vm)._call("mount", "/again", host=str(hostdir))
        r = vm.exec("cat /again/f")
        assert (r.exit_code, r.stdout) == (1, "")
        assert "Permission denied" in r.stderr


def test_a_move_that_would_lose_state_is_refused_before_anything_changes(
    pool: WorkerPool, hostdir: Path
) -> None:
    with VM(isolation="process", pool=pool) as vm:
        vm.mount("/mem", memory=True)
        vm.write_file("/mem/keep", "memory")
        with pytest.raises(PocketOSError, match=r"memory mounts \['/mem'\]"):
            vm.mount("/late", host=str(hostdir))
        assert [m["path"] for m in vm.mounts()] == ["/", "/mem"]
        assert vm.read_file("/mem/keep") == b"memory"
        assert inner(vm).restarts == 0


def test_a_move_is_refused_while_a_background_process_runs(pool: WorkerPool, hostdir: Path) -> None:
    with VM(isolation="process", pool=pool) as vm:
        proc = vm.spawn(["sleep", "infinity"])
        with pytest.raises(PocketOSError, match=rf"background processes \[{proc.pid}\]"):
            vm.mount("/late", host=str(hostdir))
        assert [m["path"] for m in vm.mounts()] == ["/"]
        proc.kill()
        assert proc.wait() != 0
        vm.mount("/late", host=str(hostdir))
        assert vm.exec("cat /late/f").stdout == "from host\n"


def test_a_shell_opened_before_the_move_says_why_it_ended(pool: WorkerPool, hostdir: Path) -> None:
    with VM(isolation="process", pool=pool) as vm:
        sh = vm.shell()
        assert sh.run("echo one > /a").exit_code == 0
        vm.mount("/late", host=str(hostdir))
        with pytest.raises(RuntimeError, match="replaced to change the VM's host mounts"):
            sh.run("cat /late/f")
        assert vm.exec("cat /a /late/f").stdout == "one\nfrom host\n"


def test_a_move_is_refused_when_the_last_commit_failed() -> None:
    # a layer too big for one frame (512 MiB) is not committed; moving would drop it
    with pytest.raises(PocketOSError, match="last commit could not keep"):
        check_movable("mount /late", {}, {}, "the layer is too big")
    check_movable("mount /late", {}, {"/h": {"host": "/x"}}, None)
