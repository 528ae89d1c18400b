"""Durable VMs keep more than files across host restarts: the declarations of their mounts
(memory filesystems; host folders when the caller asks) and the cwd and exported variables
of their named shells. Every test restarts for real: one process opens, changes and exits,
the next one reopens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pocketos import VM

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import json, sys
from pocketos import VM
store, host = sys.argv[1], sys.argv[2]
def mounts(vm):
    return {m["path"]: m["kind"] for m in vm.mounts() if m["path"] != "/"}
"""


def run(script: str, store: Path, host: Path) -> Any:
    """Run ``script`` in a new Python process; the JSON it prints last."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(script)
    out = subprocess.run(
        [sys.executable, "-c", code, str(store), str(host)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else None


def test_mounts_and_named_shells_survive_a_host_restart(tmp_path: Path) -> None:
    store, host = tmp_path / "store", tmp_path / "host"
    host.mkdir()
    (host / "notes.txt").write_text("from the host\n")
    run(
        """
        with VM.open("dev", store=store) as vm:
            vm.mount("/scratch", memory=True)
            vm.mount("/data", host=host, mode="ro")
            vm.mount("/ov", host=host, mode="overlay")
            sh = vm.shell(name="main")
            r = sh.run("mkdir -p /home/user/w && cd /home/user/w && export GREETING=hi; LOCAL=x")
            assert r.exit_code == 0, r.stderr
            other = vm.shell()  # unnamed: not saved
            other.run("cd /tmp && export OTHER=1")
        """,
        store,
        host,
    )
    got = run(
        """
        with VM.open("dev", store=store, host_mounts=True) as vm:
            sh = vm.shell(name="main")
            r = sh.run("pwd; echo $GREETING; echo ${LOCAL-unset}; echo ${OTHER-unset}")
            fresh = vm.shell()
            print(json.dumps({
                "mounts": mounts(vm),
                "shell": r.stdout,
                "fresh": fresh.run("pwd; echo ${GREETING-unset}").stdout,
                "data": vm.exec("cat /data/notes.txt /ov/notes.txt").stdout,
                "readonly": vm.exec("touch /data/x").exit_code,
            }))
        """,
        store,
        host,
    )
    assert got["mounts"] == {"/data": "hostdir", "/ov": "overlay-hostdir", "/scratch": "memory"}
    assert got["shell"] == "/home/user/w\nhi\nunset\nunset\n"
    assert got["fresh"] == "/home/user\nunset\n"
    assert got["data"] == "from the host\nfrom the host\n"
    assert got["readonly"] != 0
    assert sorted(os.listdir(host)) == ["notes.txt"]


def test_host_folders_come_back_only_when_asked(tmp_path: Path) -> None:
    """Without ``host_mounts=True`` a saved host folder is not mounted, and stays saved."""
    store, host = tmp_path / "store", tmp_path / "host"
    host.mkdir()
    (host / "notes.txt").write_text("n\n")
    run(
        """
        with VM.open("dev", store=store) as vm:
            vm.mount("/scratch", memory=True)
            vm.mount("/data", host=host, mode="ro")
        """,
        store,
        host,
    )
    got = run(
        """
        with VM.open("dev", store=store) as vm:
            vm.write_file("/home/user/f", "x")  # a run is saved by this process
            print(json.dumps(mounts(vm)))
        """,
        store,
        host,
    )
    assert got == {"/scratch": "memory"}
    got = run(
        """
        with VM.open("dev", store=store, host_mounts=True, autosave=False) as vm:
            print(json.dumps(mounts(vm)))
        """,
        store,
        host,
    )
    assert got == {"/data": "hostdir", "/scratch": "memory"}


def test_unmount_forgets_and_a_vanished_folder_is_skipped(tmp_path: Path) -> None:
    store, host = tmp_path / "store", tmp_path / "host"
    host.mkdir()
    run(
        """
        with VM.open("dev", store=store) as vm:
            vm.mount("/scratch", memory=True)
            vm.mount("/tmp2", memory=True)
            vm.mount("/data", host=host, mode="rw")
        """,
        store,
        host,
    )
    run(
        """
        with VM.open("dev", store=store, host_mounts=True) as vm:
            vm.unmount("/tmp2")
        """,
        store,
        host,
    )
    host.rmdir()
    got = run(
        """
        with VM.open("dev", store=store, host_mounts=True) as vm:
            errors = [e.resource for e in vm.audit_log(kind="mount") if e.decision == "error"]
            print(json.dumps({"mounts": mounts(vm), "errors": errors}))
        """,
        store,
        host,
    )
    assert got == {"mounts": {"/scratch": "memory"}, "errors": ["/data"]}
    host.mkdir()  # back: the declaration was kept
    with VM.open("dev", store=store, host_mounts=True, autosave=False) as vm:
        assert {m["path"] for m in vm.mounts()} == {"/", "/data", "/scratch"}


def test_a_named_shell_is_one_at_a_time_and_options_override(tmp_path: Path) -> None:
    with VM.open("dev", store=tmp_path) as vm:
        sh = vm.shell(name="main")
        sh.run("cd /tmp && export A=1")
        try:
            vm.shell(name="main")
        except ValueError as exc:
            assert "already open" in str(exc)
        else:
            raise AssertionError("a second shell named main was opened")
        sh.close()
    with VM.open("dev", store=tmp_path) as vm:
        sh = vm.shell(name="main", cwd="/home/user")  # given options win over the saved state
        assert sh.run("pwd; echo ${A-unset}").stdout == "/home/user\nunset\n"
        sh.run("cd /etc")
    with VM.open("dev", store=tmp_path, autosave=False) as vm:
        assert vm.shell(name="main").run("pwd").stdout == "/etc\n"
