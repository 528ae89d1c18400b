"""Host toolkits of a ``pocketos.remote`` client: the server's VM calls the client's Python
functions back over a WebSocket while a request runs; the server's policy decides each call."""

from __future__ import annotations

import pytest

from pocketos import VM
from pocketos.remote import RemoteNotSupported, RemoteVM
from pocketos.tools import Toolkit
from tests.server import harness  # noqa: F401  (skips without the server extra)

POLICY = {
    "fs": "allow",
    "child_process": "allow",
    "tool": {
        "default": "deny",
        "rules": [
            {"mode": "allow", "operations": ["invoke"], "patterns": ["calc:add", "calc:boom"]}
        ],
    },
}


def _kit(calls: list[str]) -> Toolkit:
    kit = Toolkit("calc", "Arithmetic on the host")

    @kit.tool()
    def add(a: int, b: int) -> dict:
        """Add two numbers."""
        calls.append(f"add {a} {b}")
        return {"sum": a + b}

    @kit.tool()
    def secret() -> str:
        """Something the policy keeps from the VM."""
        calls.append("secret")
        return "hidden"

    @kit.tool()
    def boom(why: str) -> str:
        """Fail on purpose."""
        calls.append("boom")
        raise RuntimeError(why)

    return kit


def _script(vm) -> list:
    out = []
    for cmd in (
        "pocketos-calc add --a 2 --b 40",
        "pocketos-calc add --a 2 --b x",
        "pocketos-calc secret",
        "pocketos-calc boom --why 'on purpose'",
        'pocketos-calc add --json \'{"a": 1, "b": 1}\' | jq .sum',
    ):
        r = vm.exec(cmd)
        out.append((cmd, r.exit_code, r.stdout, r.stderr))
    return out


def test_remote_toolkits_run_on_the_client_like_local_ones(server):
    local_calls: list[str] = []
    with VM(toolkits=[_kit(local_calls)], policy=POLICY) as local:
        expected = _script(local)
    calls: list[str] = []
    with RemoteVM(server.url, isolation="in-process", toolkits=[_kit(calls)], policy=POLICY) as vm:
        assert _script(vm) == expected
        # the denied tool never reached the client; the server audited every decision
        assert calls == local_calls == ["add 2 40", "boom", "add 1 1"]
        denied = [e for e in vm.audit_log(kind="tool") if e.decision == "deny"]
        assert [e.resource for e in denied] == ["calc:secret"]
        # once the client stops serving, a call fails clearly and nothing hangs
        vm.async_vm._tools.close()
        r = vm.exec("pocketos-calc add --a 1 --b 2")
        assert r.exit_code != 0 and "not connected" in r.stderr, r.stderr
        # registering again serves the same names
        vm.add_toolkits([_kit(calls)])
        assert vm.exec("pocketos-calc add --a 1 --b 2").stdout == expected[0][2].replace("42", "3")


def test_remote_toolkits_need_an_in_process_vm(serve):
    s = serve(isolation="process")
    with pytest.raises(RemoteNotSupported, match="in-process"):
        RemoteVM(s.url, toolkits=[_kit([])])
    # the VM made for the refused request is gone again
    assert s.client().get("/v1/vms").json()["vms"] == []


def test_the_last_client_to_register_serves_the_toolkits(server):
    first: list[str] = []
    second: list[str] = []
    with RemoteVM(server.url, isolation="in-process", policy=POLICY) as vm:
        vm.add_toolkits([_kit(first)])
        other = RemoteVM(server.url, vm_id=vm.id)
        other.add_toolkits([_kit(second)])
        assert other.exec("pocketos-calc add --a 1 --b 2").exit_code == 0
        assert (first, second) == ([], ["add 1 2"])
        other.close()
        # its client gone, the toolkit is not served; the VM is fine
        assert "not connected" in vm.exec("pocketos-calc add --a 1 --b 2").stderr
        assert vm.exec("echo ok").stdout == "ok\n"


def test_bad_registrations_are_refused(server):
    from websockets.sync.client import connect

    with RemoteVM(server.url, isolation="in-process") as vm:
        url = f"{server.ws_url}/v1/vms/{vm.id}/tools/ws"
        for frame in (
            "not json",
            '{"type": "exec"}',
            '{"type": "register", "toolkits": []}',
            '{"type": "register", "toolkits": [{"name": "bad name!", "tools": []}]}',
            '{"type": "register", "toolkits": [{"name": "k", "tools": [{"name": 5}]}]}',
        ):
            with connect(url) as ws:
                ws.send(frame)
                reply = ws.recv(timeout=60)
                assert '"type":"error"' in reply.replace(" ", ""), (frame, reply)
        assert vm.exec("echo alive").stdout == "alive\n"
