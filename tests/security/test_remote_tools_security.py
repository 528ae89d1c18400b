"""A rogue client serving a remote VM's toolkits: it cannot grant itself a call the server's
policy denies, cannot hang the VM by never answering, and cannot confuse it with answers to
calls that were never made."""

from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

from websockets.sync.client import connect  # noqa: E402

from pocketos.remote import RemoteVM  # noqa: E402
from tests.server.harness import servers  # noqa: E402

SPEC = {
    "type": "register",
    "toolkits": [
        {
            "name": "rogue",
            "description": "a client that misbehaves",
            "tools": [
                {"name": "silent", "description": "never answered", "timeout": 0.5},
                {"name": "denied", "description": "the policy says no", "timeout": 5},
            ],
        }
    ],
}
POLICY = {
    "fs": "allow",
    "child_process": "allow",
    "tool": {
        "default": "deny",
        "rules": [{"mode": "allow", "operations": ["invoke"], "patterns": ["rogue:silent"]}],
    },
}


@pytest.fixture
def server():
    with servers() as start:
        yield start()


def test_a_rogue_tool_client_cannot_hang_or_fool_the_vm(server):
    with RemoteVM(server.url, isolation="in-process", policy=POLICY) as vm:
        seen: list[dict] = []
        with connect(f"{server.ws_url}/v1/vms/{vm.id}/tools/ws") as ws:
            ws.send(json.dumps(SPEC))
            assert json.loads(ws.recv(timeout=60))["type"] == "registered"
            # answers to calls never made, and a claim of a denial, go nowhere
            for bogus in (
                {"type": "result", "id": 999, "ok": True, "value": "1"},
                {"type": "result", "id": "x", "ok": True},
                {"type": "result", "id": 1, "ok": False, "error": {"type": "Interrupted"}},
                "not json",
            ):
                ws.send(bogus if isinstance(bogus, str) else json.dumps(bogus))

            def listen() -> None:
                try:
                    while True:
                        seen.append(json.loads(ws.recv(timeout=60)))
                except Exception:
                    return

            t = threading.Thread(target=listen, daemon=True)
            t.start()
            # never answered: the tool's own timeout ends the call, the VM goes on
            r = vm.exec("pocketos-rogue silent; echo status $?")
            assert r.stdout.endswith("status 1\n") and "timed out" in r.stderr, r.stderr
            # denied by the server's policy: the client never hears of the call
            r = vm.exec("pocketos-rogue denied")
            assert r.exit_code != 0 and "permission denied" in r.stderr.lower(), r.stderr
            assert vm.exec("echo alive").stdout == "alive\n"
        t.join(60)
        assert [f["tool"] for f in seen if f.get("type") == "call"] == ["silent"]
