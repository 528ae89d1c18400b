"""The adapter config of a Paperclip agent: policy as object or JSON text, form fields,
defaults for the domains a policy leaves out, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from pocketos import VM
from pocketos.paperclip import ConfigError, build_policy, build_prompt, parse_config, task_key
from pocketos.paperclip.config import DEFAULT_ISOLATION


def test_missing_domains_take_vm_defaults_and_tools_are_limited_to_paperclip() -> None:
    spec = build_policy({"network": "deny"})
    assert spec["fs"] == "allow" and spec["child_process"] == "allow"
    vm = VM(policy=spec)
    try:
        pol = vm.policy
        assert pol.decide("tool", "invoke", "paperclip:comment") == "allow"
        assert pol.decide("tool", "invoke", "github:create-issue") == "deny"
        assert pol.decide("network", "fetch", "example.com") == "deny"
    finally:
        vm.close()


def test_an_explicit_tool_domain_is_kept() -> None:
    assert build_policy({"tool": "deny"})["tool"] == "deny"


def test_policy_text_and_object_are_the_same() -> None:
    obj = {"fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/etc/**"]}]}}
    import json

    assert build_policy(json.dumps(obj)) == build_policy(obj)
    assert build_policy("") == build_policy(None) == build_policy({})


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{", "policy: not valid JSON (Expecting property name enclosed in double quotes"),
        ("[1]", "policy: expected a JSON object, not list"),
        ({"fs": "maybe"}, "policy: policy fs: mode must be allow, deny or ask, not 'maybe'"),
        ({"fs": {"rules": [{"mode": "allow", "paths": []}]}}, "'paths' is an empty list"),
    ],
)
def test_bad_policies_are_refused(policy: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        build_policy(policy)
    assert message in str(e.value)


def test_form_fields_expand_into_rules() -> None:
    spec = build_policy(None, writable_paths="/workspace, /tmp/out\n", allowed_hosts=["a.com"])
    vm = VM(policy=spec)
    try:
        pol = vm.policy
        assert pol.decide("fs", "write", "/workspace/x/y") == "allow"
        assert pol.decide("fs", "write", "/workspace") == "allow"
        assert pol.decide("fs", "write", "/tmp/out/f") == "allow"
        assert pol.decide("fs", "write", "/tmp/other") == "deny"
        assert pol.decide("fs", "read", "/etc/passwd") == "allow"
        assert pol.decide("network", "fetch", "a.com", {"host": "a.com"}) == "allow"
        assert pol.decide("network", "fetch", "b.com", {"host": "b.com"}) == "deny"
    finally:
        vm.close()
    with pytest.raises(ConfigError, match="writablePaths: 'rel' is not an absolute VM path"):
        build_policy(None, writable_paths=["rel"])


def test_parse_config_keys_and_errors() -> None:
    cfg = parse_config(
        {
            "model": "gpt-4.1",
            "workspacePath": "/w/",
            "env": {"POCKETOS_API_KEY": "k", "N": 3},
            "paperclipRuntimeSkills": [],
        }
    )
    assert (cfg.model, cfg.workspace_path, cfg.env) == (
        "gpt-4.1",
        "/w",
        {"POCKETOS_API_KEY": "k", "N": "3"},
    )
    assert cfg.isolation == DEFAULT_ISOLATION and cfg.agent == "pocketos"
    acp = parse_config({"agent": "acp", "acpCommand": "my-agent --acp"})
    assert acp.acp_command == ["my-agent", "--acp"]
    for raw, message in [
        ({"workspacePath": "rel"}, "workspacePath: 'rel' is not an absolute VM path"),
        ({"workspacePath": "/"}, "workspacePath: the VM root cannot be the workspace"),
        ({"agent": "claude"}, "agent: expected 'pocketos' or 'acp', not 'claude'"),
        ({"agent": "acp"}, "acpCommand: agent 'acp' needs the command of an ACP agent"),
        ({"isolation": "vm"}, "isolation: expected one of in-process, process, not 'vm'"),
        ({"maxTurns": "x"}, "maxTurns: expected a whole number, not 'x'"),
        ({"env": []}, "env: expected an object of NAME: value"),
        ({"stateDir": "rel"}, "stateDir: 'rel' is not an absolute host path"),
    ]:
        with pytest.raises(ConfigError) as e:
            parse_config(raw)
        assert str(e.value) == message


def test_task_key_and_prompt() -> None:
    ctx: dict[str, Any] = {
        "issueId": "i1",
        "wakeReason": "issue_reopened_via_comment",
        "paperclipIssue": {"id": "i1", "identifier": "T-1", "title": "Fix", "description": "Do it"},
        "paperclipWake": {"comments": [{"body": "again please", "author": {"type": "user"}}]},
    }
    assert task_key(ctx) == "i1"
    assert task_key({"taskKey": "k", "issueId": "i"}) == "k"
    assert task_key({"paperclipWake": {"taskId": "t"}}) == "t"
    assert task_key({}) is None
    assert build_prompt(ctx, resumed=False) == (
        "# T-1: Fix\n\nDo it\n\n## Why you are running\nThe issue was reopened with a comment."
        "\n\n## New comments\n- user: again please"
    )
    assert build_prompt(ctx, resumed=True) == (
        "# T-1: Fix\n\n## Why you are running\nThe issue was reopened with a comment."
        "\n\n## New comments\n- user: again please"
    )


def test_state_dir_prefers_the_agent_home_over_a_project_checkout() -> None:
    from pathlib import Path

    from pocketos.paperclip import state_dir_for

    cfg = parse_config({})
    ws = {"cwd": "/repo/checkout", "agentHome": "/pc/workspaces/a1"}
    assert state_dir_for(cfg, {"paperclipWorkspace": ws}) == Path("/pc/workspaces/a1/.pocketos")
    assert state_dir_for(cfg, {"paperclipWorkspace": {"cwd": "/w"}}) == Path("/w/.pocketos")
    assert state_dir_for(parse_config({"stateDir": "/s"}), {}) == Path("/s")
    with pytest.raises(ConfigError, match="stateDir: Paperclip gave no workspace folder"):
        state_dir_for(cfg, {"paperclipWorkspace": {"cwd": "relative"}})
