"""``pocketos serve`` and ``pocketos --remote URL exec|shell|agent`` as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx

from tests.agent.fake_llm import FakeServer, openai_text, openai_tool
from tests.server.harness import ALICE


def _cli(*argv: str, stdin: bytes | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "pocketos", *argv],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_remote_exec(serve):
    s = serve(isolation="process")
    r = _cli("--remote", s.url, "exec", "echo hi; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"hi\n", b"err\n")
    r = _cli("--remote", s.url, "exec", "--json", "echo $1", "a b")
    assert r.returncode == 0 and b'"stdout": "a b\\n"' in r.stdout
    r = _cli("--remote", s.url, "exec", "-", stdin=b"echo from stdin\n")
    assert r.stdout == b"from stdin\n"
    # the VM made for the command is gone after it
    assert s.client().get("/v1/vms").json() == {"vms": []}


def test_remote_exec_with_token_and_existing_vm(authed):
    vid = authed.client(ALICE).post("/v1/vms", json={"env": {"X": "kept"}}).json()["id"]
    r = _cli("--remote", authed.url, "--vm", vid, "exec", "echo $X", env={"POCKETOS_TOKEN": ALICE})
    assert (r.returncode, r.stdout) == (0, b"kept\n")
    assert authed.client(ALICE).get(f"/v1/vms/{vid}").status_code == 200
    r = _cli("--remote", authed.url, "exec", "true")
    assert r.returncode == 1 and b"unauthorized" in r.stderr
    r = _cli("--remote", "http://127.0.0.1:1", "exec", "true")
    assert r.returncode == 1 and r.stderr.startswith(b"pocketos: error: cannot reach")


def test_remote_shell_in_batch(server):
    r = _cli("--remote", server.url, "shell", stdin=b"echo hi there\ncd /tmp; pwd\nexit 4\n")
    assert r.returncode == 4
    lines = r.stdout.decode().split("\r\n")
    assert "hi there" in lines and "/tmp" in lines


def test_remote_agent(serve):
    s = serve()
    llm = FakeServer([openai_tool("bash", {"command": "echo agent-ran"}), openai_text("Done.")])
    s.call(llm.__aenter__())
    s.config.agent_config.update(
        {"provider": "openai", "base_url": llm.url + "/v1", "api_key": "k", "backoff": 0}
    )
    r = _cli("--remote", s.url, "agent", "run it")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "Done."
    assert b"[tool]" in r.stderr


def test_pocketos_serve_process(tmp_path):
    # --port 0: the server binds a port the kernel picks and names it (a port picked here and
    # bound later by the server could be taken by another process in between)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pocketos", "serve", "--port", "0", "--store", str(tmp_path)],
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "POCKETOS_SERVER_TOKENS"},
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert "no tokens configured" in first and "127.0.0.1" in first
        listening = proc.stderr.readline().decode()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)\b", listening)
        assert found and int(found[1]) != 0, listening
        url = f"http://127.0.0.1:{found[1]}"
        health = httpx.get(f"{url}/v1/health", timeout=30).json()
        assert health["ok"] is True and health["auth"] is False
        r = _cli("--remote", url, "exec", "echo served")
        assert r.stdout == b"served\n"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    r = _cli("serve", "--host", "0.0.0.0", env={"POCKETOS_SERVER_TOKENS": ""})
    assert r.returncode == 2 and b"loopback" in r.stderr
