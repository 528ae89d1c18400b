"""create_session(agent, sandbox=True): the agent process itself runs in the sandbox, so the
writes and commands it makes on its own (not through ACP's fs and terminal) are the VM's."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pocketos.sessions import SessionError
from tests.sandbox.conftest import make_vm, needs_sandbox

pytestmark = needs_sandbox


def _agents_outside_vm_dirs() -> str:
    """The test agents, copied where the sandbox may expose them: a host path whose top-level
    directory is not one the VM has (a checkout under /tmp or /home would be refused)."""
    src = Path(__file__).parent / "agents"
    for base in ("/run", "/dev/shm"):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            dest = Path(tempfile.mkdtemp(prefix="pocketos-test-agents-", dir=base))
            shutil.copytree(src, dest, dirs_exist_ok=True)
            atexit.register(shutil.rmtree, dest, True)
            return str(dest)
    return str(src)


AGENTS = _agents_outside_vm_dirs()
ROGUE = ["/usr/bin/python3", f"{AGENTS}/rogue_agent.py"]
POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/home/user/locked/*"]}],
    }
}


def test_agent_writes_and_commands_land_in_the_vm() -> None:
    with make_vm(POLICY) as vm:
        vm.mkdir("/home/user/locked")
        s = vm.create_session(ROGUE, sandbox={"expose": [AGENTS]}, store=False)
        try:
            r = s.prompt("go")
        finally:
            s.close()
        assert r.text == "user\n/home/user|Permission denied"
        assert vm.read_text("/home/user/hello.txt") == "written by the agent\n"
        assert vm.read_text("/home/user/ran.txt") == "ran\n"
        assert not vm.exists("/home/user/locked/secret.txt")
        denied = [e.resource for e in vm.audit_log(kind="permission") if e.decision == "deny"]
        assert "/home/user/locked/secret.txt" in denied
    # and nothing of it on the host
    assert not os.path.exists("/home/user/hello.txt")
    assert not os.path.exists(f"{AGENTS}/hello.txt")


def test_sandboxed_session_needs_the_permission() -> None:
    with make_vm({"sandbox": "deny"}) as vm, pytest.raises(SessionError, match="sandbox.run"):
        vm.create_session(ROGUE, sandbox={"expose": [AGENTS]}, store=False)


def test_builtin_agent_cannot_be_sandboxed() -> None:
    with make_vm() as vm, pytest.raises(SessionError, match="in-process"):
        vm.create_session("pocketos", sandbox=True, store=False)
