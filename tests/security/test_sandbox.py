"""Attacks from inside the heavy sandbox: escalation without permission, the network,
fork and memory bombs, runaway programs and processes left behind."""

from __future__ import annotations

import os

import pytest

from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
from tests.sandbox.conftest import http_server, make_vm, needs_sandbox

__all__ = ["http_server"]

pytestmark = needs_sandbox

PY = "/usr/bin/python3"


def _pocketos_sandboxes() -> list[int]:
    """Processes descended from this test process that are bwrap or live in another pid
    namespace (a sandbox's); other test runs on the same host are not counted."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        parents[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    me = os.getpid()
    own_ns = os.readlink("/proc/self/ns/pid")
    out = []
    for pid in parents:
        p, seen = pid, 0
        while p in parents and p != me and seen < 64:
            p, seen = parents[p], seen + 1
        if p != me or pid == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
            ns = os.readlink(f"/proc/{pid}/ns/pid")
        except OSError:
            continue
        if b"bwrap" in cmd or ns != own_ns:
            out.append(pid)
    return out


def test_no_permission_no_sandbox() -> None:
    with VM() as vm:  # the default policy denies sandbox.run
        with pytest.raises(PermissionError, match=r"sandbox\.run on git"):
            vm.sandbox_run(["git", "status"])
        r = vm.exec("sandbox -- git status")
        assert r.exit_code == 126
        assert r.stderr == "sandbox: git: Permission denied: sandbox.run on git\n"
        denied = [e for e in vm.audit_log(kind="permission") if e.capability == "sandbox.run"]
        assert [e.decision for e in denied] == ["deny", "deny"]


def test_rules_name_the_programs_allowed() -> None:
    pol = {
        **DEFAULT_POLICY,
        "sandbox": {"default": "deny", "rules": [{"mode": "allow", "patterns": ["true"]}]},
    }
    with VM(policy=pol) as vm:
        assert vm.exec("sandbox -- true").exit_code == 0
        assert vm.exec("sandbox -- false").exit_code == 126


def test_ask_handler_decides() -> None:
    asked: list[str] = []

    def handler(req: object) -> bool:
        asked.append(getattr(req, "resource", ""))
        return getattr(req, "resource", "") == "true"

    pol = {**DEFAULT_POLICY, "sandbox": "ask"}
    with VM(policy=pol, permission_handler=handler) as vm:
        assert vm.exec("sandbox -- true").exit_code == 0
        assert vm.exec("sandbox -- id").exit_code == 126
    assert asked == ["true", "id"]


def test_network_only_to_allowed_loopback_port(http_server: int) -> None:
    pol = {
        "network": {
            "default": "deny",
            "rules": [{"mode": "allow", "patterns": [f"127.0.0.1:{http_server}"]}],
        }
    }
    with make_vm(pol, network={}) as vm:
        code = (
            "import urllib.request, sys\n"
            f"print(urllib.request.urlopen('http://127.0.0.1:{http_server}/x').read().decode(),"
            " end='')\n"
            "import socket\n"
            "s = socket.socket()\n"
            "try:\n"
            f"    s.connect(('127.0.0.1', {http_server + 1 if http_server < 65535 else 1}))\n"
            "except OSError as e:\n"
            "    print(type(e).__name__)\n"
        )
        r = vm.sandbox_run([PY, "-c", code], timeout=60)
        assert (r.exit_code, r.stdout) == (0, "hello from /x\nConnectionRefusedError\n"), r.stderr
        allowed = [e for e in vm.audit_log(kind="network") if e.decision == "allow"]
        assert allowed and allowed[0].resource == f"http://127.0.0.1:{http_server}/"


def test_no_forward_without_a_rule_naming_the_port(http_server: int) -> None:
    with make_vm(network={}) as vm:  # network denied
        code = (
            "import socket\ns = socket.socket()\ntry:\n"
            f"    s.connect(('127.0.0.1', {http_server}))\n    print('connected')\n"
            "except OSError as e:\n    print(type(e).__name__)\n"
        )
        r = vm.sandbox_run([PY, "-c", code], timeout=60)
        assert r.stdout == "ConnectionRefusedError\n"


def test_proxy_enforces_policy_and_audits(http_server: int) -> None:
    # the proxy is the way to every other host: policy decides per host and port
    pol = {
        "network": {
            "default": "deny",
            "rules": [{"mode": "allow", "patterns": [f"127.0.0.1:{http_server}"]}],
        }
    }
    with make_vm(pol, network={}) as vm:
        code = (
            "import os, socket\n"
            "port = int(os.environ['http_proxy'].rsplit(':', 1)[1])\n"
            "for target in [TARGET, 'http://example.com/no', 'CONNECT example.com:443']:\n"
            "    s = socket.create_connection(('127.0.0.1', port))\n"
            "    line = target if target.startswith('CONNECT') else 'GET ' + target\n"
            "    s.sendall((line + ' HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n').encode())\n"
            "    data = b''\n"
            "    while chunk := s.recv(4096):\n"
            "        data += chunk\n"
            "    print(data.split(b' ')[1].decode(), data.rsplit(b'\\n', 2)[-2].decode())\n"
        ).replace("TARGET", repr(f"http://127.0.0.1:{http_server}/ok"))
        r = vm.sandbox_run([PY, "-c", code], timeout=60)
        lines = r.stdout.splitlines()
        assert lines[0] == "200 hello from /ok", r.stderr
        assert lines[1].startswith("403 pocketos sandbox proxy: blocked by policy")
        assert lines[2].startswith("403 pocketos sandbox proxy: blocked by policy")
        denied = [e.resource for e in vm.audit_log(kind="network") if e.decision == "deny"]
        assert denied == ["http://example.com/no", "https://example.com/"]


def test_no_network_at_all_without_a_gateway() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(
            [
                PY,
                "-c",
                "import socket\ntry:\n socket.create_connection(('1.1.1.1', 80), 5)\n"
                "except OSError as e:\n print(type(e).__name__)",
            ],
            timeout=60,
        )
        assert r.stdout == "OSError\n"


def test_fork_bomb_contained() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(
            ["/bin/sh", "-c", "b() { b | b & }; b; sleep 1; exit 7"],
            max_processes=32,
            timeout=20,
        )
        # 7: the bomb filled its 32 processes and the shell went on; 124: the timeout ended it;
        # 2: the shell could not fork its own `sleep` because the bomb held every slot (dash
        # says "Cannot fork") -- which of these happens depends on scheduling, not on the limit
        assert r.exit_code in (7, 124) or (r.exit_code == 2 and "Cannot fork" in r.stderr), (
            r.exit_code,
            r.stderr,
        )
    assert _pocketos_sandboxes() == []


def test_memory_bomb_contained() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(
            [PY, "-c", "x = []\nwhile True:\n    x.append(bytearray(16 << 20))"],
            memory=64 << 20,
            timeout=60,
        )
        # killed by the OOM killer (cgroup) or MemoryError (rlimit): never the host
        assert r.exit_code in (137, 1), (r.exit_code, r.stderr)
        assert r.exit_code == 137 or "MemoryError" in r.stderr


def test_endless_program_times_out_and_leaves_nothing() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(
            ["/bin/sh", "-c", "(while :; do :; done) & (trap '' TERM HUP; yes > /dev/null) & wait"],
            timeout=1,
        )
        assert r.exit_code == 124
        assert r.limit_hit == "timeout"
        assert r.stderr == "sandbox: timed out after 1 seconds\n"
    assert _pocketos_sandboxes() == []


def test_daemonized_child_dies_with_the_sandbox() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(["/bin/sh", "-c", "setsid sh -c 'while :; do :; done' & echo $!"])
        assert r.exit_code == 0
    assert _pocketos_sandboxes() == []


def test_program_cannot_see_or_reach_the_fuse_root() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(
            ["/bin/sh", "-c", "ls /tmp; cat /proc/mounts | grep -c pocketos; ls / | sort"]
        )
        lines = r.stdout.splitlines()
        assert "etc" in lines and "usr" in lines
        assert "work" not in lines
