"""End to end against a REAL Paperclip (paperclipai from npm, installed by
.ci/paperclip-install.sh): install the adapter, create a company, an agent with a policy and an
issue; run 1 writes a file, comments and sets the issue done; Paperclip restarts; a board
comment with reopen wakes run 2, which sees run 1's file and conversation. The model is a fake
OpenAI-compatible server on 127.0.0.1 that scripts the tool calls."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketos.agent import estimate_cost
from tests.paperclip.fake_model import FakeModel, Rule, tool
from tests.paperclip.paperclip_server import PaperclipServer, PaperclipUnavailable

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "integrations" / "paperclip"
FINAL = ("succeeded", "failed", "cancelled", "timed_out")
MODEL = "gpt-4.1"
USAGE = (40_000, 3_000)  # per model call: $0.104 at gpt-4.1 prices

pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def paperclip() -> Iterator[PaperclipServer]:
    # not pytest's tmp_path: its parents are private to root, and PostgreSQL runs unprivileged
    base = Path(tempfile.mkdtemp(prefix="pocketos-paperclip-"))
    try:
        try:
            server = PaperclipServer(base)
        except PaperclipUnavailable as exc:
            pytest.skip(f"real Paperclip unavailable (npm unreachable?): {exc}")
        try:
            server.start()
            yield server
        finally:
            server.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def wait_runs(pc: PaperclipServer, company: str, count: int, limit: float = 600) -> list[Any]:
    deadline = time.monotonic() + limit
    runs: list[Any] = []
    while time.monotonic() < deadline:
        runs = pc.get(f"/api/companies/{company}/heartbeat-runs")
        if len(runs) >= count and all(r["status"] in FINAL for r in runs):
            return sorted(runs, key=lambda r: r["createdAt"])
        time.sleep(0.5)
    raise AssertionError(f"runs did not finish in {limit}s: {json.dumps(runs)[:3000]}")


def log_events(pc: PaperclipServer, run_id: str) -> list[dict[str, Any]]:
    content = pc.get(f"/api/heartbeat-runs/{run_id}/log")["content"]
    out = []
    for raw in content.splitlines():
        rec = json.loads(raw)
        if rec["stream"] != "stdout":
            continue
        for line in rec["chunk"].splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def cents(calls: list[tuple[int, int]]) -> int:
    cost = sum(estimate_cost(MODEL, i, o) or 0.0 for i, o in calls)
    return max(0, round(cost * 100))


def test_paperclip_runs_a_pocketos_agent(paperclip: PaperclipServer, tmp_path: Path) -> None:
    pc = paperclip
    rules = [
        Rule(
            "Write hello.txt",
            [
                tool("write", {"path": "hello.txt", "content": "hello from run 1\n"}, USAGE),
                tool(
                    "bash",
                    {"command": "echo x > /etc/motd; curl -sS http://127.0.0.1:9/secret"},
                    USAGE,
                ),
                tool("paperclip_comment", {"body": "Wrote hello.txt."}, USAGE),
                tool("paperclip_update-issue", {"status": "done"}, USAGE),
            ],
            done="Wrote hello.txt and set the issue to done.",
            usage=USAGE,
        ),
        Rule(
            "Show me the file",
            [
                tool("bash", {"command": "cat hello.txt"}, USAGE),
                tool("paperclip_comment", {"body": "It says hello from run 1."}, USAGE),
                tool("paperclip_update-issue", {"status": "done"}, USAGE),
            ],
            done="The file says hello from run 1.",
            usage=USAGE,
        ),
    ]
    with FakeModel(rules) as fm:
        installed = pc.post("/api/adapters/install", {"packageName": str(PKG), "isLocalPath": True})
        assert installed["type"] == "pocketos_local"
        company = pc.post("/api/companies", {"name": "pocketos e2e"})["id"]
        schema = pc.get("/api/adapters/pocketos_local/config-schema")
        assert "policy" in [f["key"] for f in schema["fields"]]
        status, parser = pc.text("/api/adapters/pocketos_local/ui-parser.js")
        assert status == 200 and "exports.parseStdoutLine" in parser
        policy = {
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/etc/**"]}],
            },
            "network": "deny",
        }
        config = {
            "command": sys.executable,
            "model": MODEL,
            "workspacePath": "/workspace",
            "env": {
                "POCKETOS_BASE_URL": fm.url,
                "POCKETOS_API_KEY": "fake-model-key",
                "PYTHONPATH": str(ROOT / "src"),
            },
            "policy": json.dumps(policy),  # as the UI's textarea sends it
        }
        env_test = pc.post(
            f"/api/companies/{company}/adapters/pocketos_local/test-environment",
            {"adapterConfig": config},
        )
        assert env_test["status"] == "pass", env_test
        agent = pc.post(
            f"/api/companies/{company}/agents",
            {
                "name": "pocket",
                "role": "engineer",
                "adapterType": "pocketos_local",
                "adapterConfig": config,
            },
        )["id"]
        issue = pc.post(
            f"/api/companies/{company}/issues",
            {
                "title": "Hello file",
                "description": "Write hello.txt in the workspace.",
                "status": "todo",
                "assigneeAgentId": agent,
            },
        )["id"]

        (run1,) = wait_runs(pc, company, 1)
        assert run1["status"] == "succeeded", run1
        calls1 = list(fm.reported)
        assert len(calls1) == 5
        ev1 = log_events(pc, run1["id"])
        denied = [(e["capability"], e["resource"]) for e in ev1 if e["type"] == "denied"]
        assert denied == [("fs.write", "/etc/motd"), ("network.fetch", "http://127.0.0.1:9/secret")]
        result1 = [e for e in ev1 if e["type"] == "result"][0]
        assert result1["exitCode"] == 0
        assert pc.get(f"/api/issues/{issue}")["status"] == "done"
        comments = pc.get(f"/api/issues/{issue}/comments")
        assert [(c["body"], c["authorAgentId"], c["createdByRunId"]) for c in comments] == [
            ("Wrote hello.txt.", agent, run1["id"])
        ]
        sid = run1["sessionIdAfter"]
        assert sid and sid.startswith("ses-")
        usage1 = run1["usageJson"]
        assert (usage1["inputTokens"], usage1["outputTokens"]) == (
            sum(c[0] for c in calls1),
            sum(c[1] for c in calls1),
        )
        assert usage1["billingType"] == "metered_api" and usage1["usageSource"] == "per_run"

        # Paperclip restarts; the adapter is still registered
        pc.restart()
        assert pc.get("/api/adapters/pocketos_local")["loaded"] is True

        n_before = len(fm.requests)
        pc.post(
            f"/api/issues/{issue}/comments",
            {"body": "Show me the file, please.", "reopen": True},
        )
        run1_again, run2 = wait_runs(pc, company, 2)
        assert run1_again["id"] == run1["id"]
        assert run2["status"] == "succeeded", run2
        assert run2["contextSnapshot"]["wakeReason"] == "issue_reopened_via_comment"
        assert run2["sessionIdBefore"] == sid and run2["sessionIdAfter"] == sid
        assert run2["usageJson"]["sessionReused"] is True
        calls2 = fm.reported[len(calls1) :]
        ev2 = log_events(pc, run2["id"])
        results = [e["content"] for e in ev2 if e["type"] == "tool_result"]
        assert results[0] == "hello from run 1\n[exit status 0]"  # run 1's workspace
        first = json.dumps(fm.requests[n_before]["json"]["messages"])
        assert "Write hello.txt in the workspace." in first  # run 1's conversation
        assert "Wrote hello.txt and set the issue to done." in first
        assert "Show me the file, please." in first
        assert pc.get(f"/api/issues/{issue}")["status"] == "done"

        # the ledger holds what the fake model reported, priced by pocketos's table
        expected = cents(calls1) + cents(calls2)
        row: dict[str, Any] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the ledger is written after the run row
            rows = pc.get(f"/api/companies/{company}/costs/by-agent")
            row = [r for r in rows if r.get("agentId") == agent][0]
            if row["costCents"] == expected:
                break
            time.sleep(0.5)
        runs = pc.get(f"/api/companies/{company}/heartbeat-runs")
        assert row["costCents"] == expected, (row, [(r["id"], r["status"]) for r in runs])
        assert len(runs) == 2
        summary = pc.get(f"/api/issues/{issue}/cost-summary")
        assert summary["runCount"] == 2, summary
