"""Real agent CLIs from npm (installed by .ci/run under AGENTS_DIR) inside the sandbox,
against fake model servers on 127.0.0.1: each writes a file and runs a command; the file is in
the VM (its write passed the VM's policy, which the audit log shows) and nowhere on the host,
and the command ran over the VM's tree."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from pocketos import VM
from tests.sandbox.conftest import make_vm, needs_sandbox
from tests.sandbox.fake_apis import fake_model_server

pytestmark = needs_sandbox

AGENTS_DIR = os.environ.get("POCKETOS_AGENTS_DIR", "/usr/local/lib/pocketos-agents")
BIN = os.path.join(AGENTS_DIR, "node_modules", ".bin")
HELLO = "/home/user/hello.txt"
RAN = "/home/user/ran.txt"


def _agent(name: str) -> str:
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not installed in {AGENTS_DIR} (.ci/run installs it with npm)")
    return path


def _claude(vm: VM, base: str) -> tuple[list[str], dict[str, str]]:
    env = {
        "ANTHROPIC_API_KEY": "sk-fake",
        "ANTHROPIC_BASE_URL": base,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return [_agent("claude-code-acp")], env


def _codex(vm: VM, base: str) -> tuple[list[str], dict[str, str]]:
    # a custom provider speaking the Responses API; codex's own command sandbox is off (the
    # heavy sandbox is the one that counts) and it never asks for approval
    vm.mkdir("/home/user/.codex", parents=True)
    vm.write_file(
        "/home/user/.codex/config.toml",
        'model = "gpt-5.1-codex"\nmodel_provider = "fake"\napproval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n[model_providers.fake]\nname = "fake"\n'
        f'base_url = "{base}/v1"\nwire_api = "responses"\nenv_key = "FAKE_API_KEY"\n',
    )
    return [_agent("codex-acp")], {"FAKE_API_KEY": "sk-fake"}


def _opencode(vm: VM, base: str) -> tuple[list[str], dict[str, str]]:
    # an OpenAI-compatible provider (Chat Completions); no models.dev fetch, no autoupdate
    cfg = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": f"{base}/v1", "apiKey": "sk-fake"},
                "models": {"fake-model": {"name": "Fake", "tool_call": True}},
            }
        },
        "model": "fake/fake-model",
        "small_model": "fake/fake-model",
        "permission": {"edit": "allow", "bash": "allow"},
        "autoupdate": False,
        "share": "disabled",
    }
    env = {
        "OPENCODE_CONFIG_CONTENT": json.dumps(cfg),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    }
    return [_agent("opencode"), "acp"], env


def _pi(vm: VM, base: str) -> tuple[list[str], dict[str, str]]:
    # pi 1.x needs Node >= 22.19: .ci/run installs Node 22 from npm next to it, and pi-acp
    # starts pi through a launcher written into the VM (PI_ACP_PI_COMMAND)
    node = os.path.join(AGENTS_DIR, "node_modules", "node", "bin", "node")
    cli = os.path.join(AGENTS_DIR, "node_modules", "@earendil-works", "pi-coding-agent")
    cli = os.path.join(cli, "dist", "bundle", "cli.js")
    for need in (node, cli):
        if not os.path.exists(need):
            pytest.skip(f"{need} is not installed (.ci/run installs node@22 and pi with npm)")
    vm.mkdir("/home/user/.pi/agent", parents=True)
    models = {
        "fake": {
            "baseUrl": f"{base}/v1",
            "api": "openai-completions",
            "apiKey": "sk-fake",
            "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
            "models": [{"id": "fake-model"}],
        }
    }
    vm.write_file("/home/user/.pi/agent/models.json", json.dumps({"providers": models}))
    settings = {"defaultProvider": "fake", "defaultModel": "fake-model"}
    vm.write_file("/home/user/.pi/agent/settings.json", json.dumps(settings))
    vm.mkdir("/home/user/.local/bin", parents=True)
    vm.write_file("/home/user/.local/bin/pi", f'#!/bin/sh\nexec {node} {cli} "$@"\n')
    vm.chmod("/home/user/.local/bin/pi", 0o755)
    return [_agent("pi-acp")], {"PI_ACP_PI_COMMAND": "/home/user/.local/bin/pi"}


def _gemini(vm: VM, base: str) -> tuple[list[str], dict[str, str]]:
    # the Gemini API at GOOGLE_GEMINI_BASE_URL with an API key; no telemetry, no update check
    vm.mkdir("/home/user/.gemini", parents=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "telemetry": {"enabled": False},
        "model": {"name": "gemini-2.5-flash"},
    }
    vm.write_file("/home/user/.gemini/settings.json", json.dumps(settings))
    # gemini 0.61 reads a file through the client before writing it and takes the client's
    # "Resource not found" answer for a failure (it only recognises it on an Error object),
    # so through ACP it can rewrite a file but not create one: the file exists, empty
    vm.write_file(HELLO, "")
    env = {
        "GEMINI_API_KEY": "fake-key",
        "GOOGLE_GEMINI_BASE_URL": base,
        "GEMINI_CLI_NO_RELAUNCH": "true",
    }
    return [_agent("gemini"), "--acp"], env


AGENTS: dict[str, Callable[[VM, str], tuple[list[str], dict[str, str]]]] = {
    "claude-code-acp": _claude,
    "codex-acp": _codex,
    "opencode": _opencode,
    "pi-acp": _pi,
    "gemini": _gemini,
}


def _run(name: str) -> tuple[Any, list[str]]:
    with fake_model_server() as srv:
        port = srv.server_address[1]
        pol = {
            "network": {
                "default": "deny",
                "rules": [{"mode": "allow", "patterns": [f"127.0.0.1:{port}"]}],
            },
            # every write of hello.txt asks: the VM's handler grants it and the audit log
            # records it, so the write provably went through the VM's policy
            "fs": {
                "default": "allow",
                "rules": [{"mode": "ask", "operations": ["write"], "paths": [HELLO]}],
            },
        }
        asked: list[str] = []

        def grant(req: Any) -> bool:
            asked.append(f"{req.domain}.{req.operation} {req.resource}")
            return True

        with make_vm(pol, network={}, permission_handler=grant) as vm:
            argv, env = AGENTS[name](vm, f"http://127.0.0.1:{port}")
            s = vm.create_session(
                argv,
                env=env,
                sandbox={"timeout": 300},
                store=False,
                handshake_timeout=240,
                permission_handler=lambda req: True,
            )
            asked.clear()  # only what the agent does counts from here
            started = time.time()
            try:
                r = s.prompt("write hello.txt, then run a command")
            finally:
                s.close()
            assert r.stop_reason == "end_turn", r
            assert r.text.strip().endswith("done"), r.text
            assert vm.read_text(HELLO) == "hi from the agent\n"
            assert vm.read_text(RAN) == "ran\n"
            audited = [
                (e.decision, e.reason)
                for e in vm.audit_log(kind="permission", since=started)
                if e.capability == "fs.write" and e.resource == HELLO
            ]
            assert ("allow", "granted by handler") in audited
            home = vm.exists("/home/user/.claude"), vm.exists("/home/user/.codex")
        requests = list(srv.requests)  # type: ignore[attr-defined]
    assert f"fs.write {HELLO}" in asked
    assert not os.path.exists(HELLO)
    assert not os.path.exists(RAN)
    return home, requests


def test_claude_code_acp_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    (claude_home, _), requests = _run("claude-code-acp")
    assert claude_home  # its own state under $HOME is in the VM too
    assert any(p.startswith("/v1/messages") for p in requests)


def test_codex_acp_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    _, requests = _run("codex-acp")
    assert requests.count("/v1/responses") >= 3


def test_opencode_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    _, requests = _run("opencode")
    assert requests.count("/v1/chat/completions") >= 3


def test_pi_through_pi_acp_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    _, requests = _run("pi-acp")
    assert requests.count("/v1/chat/completions") >= 3


def test_gemini_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    _, requests = _run("gemini")
    assert sum(":streamGenerateContent" in p for p in requests) >= 3
