"""Real agent CLIs from npm (installed by .ci/run under AGENTS_DIR) inside the sandbox,
against fake model servers on 127.0.0.1: each writes a file and runs a command; the file is in
the VM and nowhere on the host."""

from __future__ import annotations

import os

import pytest

from tests.sandbox.conftest import make_vm, needs_sandbox
from tests.sandbox.fake_models import anthropic_server

pytestmark = needs_sandbox

AGENTS_DIR = os.environ.get("POCKETOS_AGENTS_DIR", "/usr/local/lib/pocketos-agents")
BIN = os.path.join(AGENTS_DIR, "node_modules", ".bin")


def _agent(name: str) -> str:
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not installed in {AGENTS_DIR} (.ci/run installs it with npm)")
    return path


def test_claude_code_acp_in_the_sandbox_writes_and_runs_in_the_vm() -> None:
    exe = _agent("claude-code-acp")
    with anthropic_server() as srv:
        port = srv.server_address[1]
        pol = {
            "network": {
                "default": "deny",
                "rules": [{"mode": "allow", "patterns": [f"127.0.0.1:{port}"]}],
            }
        }
        with make_vm(pol, network={}) as vm:
            env = {
                "ANTHROPIC_API_KEY": "sk-fake",
                "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
                "DISABLE_TELEMETRY": "1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            }
            s = vm.create_session(
                [exe],
                env=env,
                sandbox={"timeout": 300},
                store=False,
                permission_handler=lambda req: True,
            )
            try:
                r = s.prompt("write hello.txt, then run a command")
            finally:
                s.close()
            assert (r.stop_reason, r.text.strip()) == ("end_turn", "done")
            assert vm.read_text("/home/user/hello.txt") == "hi from the agent\n"
            assert vm.read_text("/home/user/ran.txt") == "ran\n"
            # the agent's own state (its config under $HOME) is in the VM too
            assert vm.exists("/home/user/.claude")
    assert not os.path.exists("/home/user/hello.txt")
    assert not os.path.exists("/home/user/ran.txt")
    assert any(p.startswith("/v1/messages") for p in srv.requests)  # type: ignore[attr-defined]
