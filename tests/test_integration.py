"""The facade wires the services together: toolkits, network options, the store (audit log
persistence), agent sessions, fork keeping tools."""

from __future__ import annotations

import json

import pytest

from pocketos import VM, Policy, Store
from pocketos.tools import Toolkit

kit = Toolkit("calc", "Small arithmetic tools")


@kit.tool(description="Add two integers")
def add(a: int, b: int) -> int:
    return a + b


def test_toolkits_option_installs_commands() -> None:
    with VM(
        toolkits=[kit],
        policy={"fs": "allow", "child_process": "allow", "env": "allow", "tool": "allow"},
    ) as vm:
        r = vm.exec("pocketos-calc add --a 2 --b 40 | jq .result")
        assert (r.exit_code, r.stdout) == (0, "42\n")
        child = vm.fork()
        assert child.exec("pocketos calc add --a 1 --b 1").stdout.strip() == json.dumps(
            {"ok": True, "result": 2}
        )
        child.close()


def test_tools_denied_by_default() -> None:
    with VM(toolkits=[kit]) as vm:
        r = vm.exec("pocketos-calc add --a 2 --b 40")
        assert r.exit_code == 1
        assert "tool.invoke" in r.stderr


def test_network_option_validated() -> None:
    with pytest.raises(ValueError):
        VM(network={"no_such_option": 1})


def test_network_rules_accept_methods() -> None:
    p = Policy(
        {
            "network": {
                "default": "deny",
                "rules": [{"mode": "allow", "patterns": ["api.example.com"], "methods": ["get"]}],
            }
        }
    )
    assert (
        p.decide("network", "http", "api.example.com", {"host": "api.example.com", "method": "GET"})
        == "allow"
    )
    assert (
        p.decide(
            "network", "http", "api.example.com", {"host": "api.example.com", "method": "POST"}
        )
        == "deny"
    )
    with pytest.raises(ValueError, match="methods"):
        Policy({"fs": {"default": "deny", "rules": [{"mode": "allow", "methods": ["GET"]}]}})


def test_audit_log_persisted_in_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "vm.db"
    store = Store(path)
    with VM(
        store=store,
        name="persisted",
        policy={
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/etc/passwd"]}],
            },
            "child_process": "allow",
            "env": "allow",
        },
    ) as vm:
        vm.exec("cat /etc/passwd; echo hi | cat")
    store.close()
    again = Store(path)
    events = again.audit_events("persisted")
    kinds = {e["kind"] for e in events}
    assert {"permission", "process"} <= kinds
    denial = [e for e in events if e["kind"] == "permission"][0]
    assert (denial["capability"], denial["resource"], denial["decision"]) == (
        "fs.read",
        "/etc/passwd",
        "deny",
    )
    assert again.audit_events("persisted", kind="permission") == [denial]
    again.close()
