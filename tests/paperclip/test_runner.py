"""The runner (`python -m pocketos.paperclip`) as the adapter starts it: a subprocess with a
JSON envelope on stdin, against a fake model server and a stand-in Paperclip API, both real
HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pocketos.agent import estimate_cost
from tests.paperclip.fake_api import FakeAPI
from tests.paperclip.fake_model import FakeModel, Rule, tool

SRC = str(Path(__file__).resolve().parents[2] / "src")


def envelope(
    fm: FakeModel, api: FakeAPI, state: Path, *, config: dict[str, Any] | None = None, **ctx: Any
) -> dict[str, Any]:
    cfg = {
        "model": "gpt-4.1",
        "env": {"POCKETOS_BASE_URL": fm.url, "POCKETOS_API_KEY": "model-key"},
        "policy": {
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/etc/**"]}],
            }
        },
        **(config or {}),
    }
    context = {
        "issueId": "i1",
        "taskKey": "i1",
        "wakeReason": "issue_assigned",
        "paperclipIssue": {
            "id": "i1",
            "identifier": "T-1",
            "title": "Hello",
            "description": "Write hello.txt",
        },
        "paperclipWorkspace": {"cwd": str(state)},
        **ctx.pop("context", {}),
    }
    return {
        "runId": ctx.pop("run_id", "run-1"),
        "agent": {"id": "a1", "companyId": "co1", "name": "bot"},
        "config": cfg,
        "context": context,
        "runtime": ctx.pop("runtime", {}),
        "apiUrl": api.url,
        "authToken": api.token,
    }


def run(env: dict[str, Any]) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    p = subprocess.run(
        [sys.executable, "-m", "pocketos.paperclip"],
        input=json.dumps(env),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=300,
    )
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert lines and lines[-1]["type"] == "result", p.stdout + p.stderr
    return lines, p


def of(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [x for x in lines if x["type"] == kind]


def test_two_runs_of_a_task_share_workspace_and_conversation(tmp_path: Path) -> None:
    rules = [
        Rule(
            "Write hello.txt",
            [
                tool("write", {"path": "hello.txt", "content": "hi\n"}, (3000, 200)),
                tool("bash", {"command": "echo x > /etc/nope; curl -sS http://127.0.0.1:9/"}),
                tool("paperclip_comment", {"body": "Wrote hello.txt."}),
                tool("paperclip_update-issue", {"status": "done"}),
            ],
            done="Wrote hello.txt and closed the issue.",
        ),
        Rule(
            "Please also",
            [tool("bash", {"command": "cat hello.txt"}), tool("paperclip_comment", {"body": "ok"})],
            done="It still says hi.",
        ),
    ]
    issues = {"i1": {"id": "i1", "title": "Hello", "status": "todo"}}
    with FakeModel(rules) as fm, FakeAPI(issues=issues) as api:
        lines, p = run(envelope(fm, api, tmp_path))
        res = lines[-1]
        assert p.returncode == 0 and res["exitCode"] == 0, res
        init = of(lines, "init")[0]
        assert (init["resumed"], init["workspace"], init["model"]) == (
            False,
            "/workspace",
            "gpt-4.1",
        )
        calls = [c["input"] for c in of(lines, "tool_call")]
        assert calls[0] == {"path": "hello.txt", "content": "hi\n"}
        results = of(lines, "tool_result")
        assert results[0]["content"] == "wrote 3 bytes to /workspace/hello.txt"
        assert [(d["capability"], d["resource"]) for d in of(lines, "denied")] == [
            ("fs.write", "/etc/nope"),
            ("network.fetch", "http://127.0.0.1:9/"),
        ]
        # the denials are tool results the agent saw, not a failed run
        assert "Permission denied" in results[1]["content"]
        assert "blocked by policy" in results[1]["content"]
        assert of(lines, "assistant")[-1]["text"] == "Wrote hello.txt and closed the issue."
        # the tools called Paperclip with the run's JWT and run id
        writes = [(r["method"], r["path"], r["json"]) for r in api.requests]
        assert writes == [
            ("POST", "/api/issues/i1/comments", {"body": "Wrote hello.txt."}),
            ("PATCH", "/api/issues/i1", {"status": "done"}),
        ]
        assert {r["headers"]["x-paperclip-run-id"] for r in api.requests} == {"run-1"}
        assert api.issues["i1"]["status"] == "done"
        # the JWT reached no model request and is not in the VM's environment
        assert api.token not in json.dumps(fm.requests)
        # usage, cost from the price table, session
        reported = fm.reported[:]
        inp, out = sum(u[0] for u in reported), sum(u[1] for u in reported)
        assert res["usage"] == {"inputTokens": inp, "outputTokens": out, "cachedInputTokens": 0}
        assert res["usageBasis"] == "per_run" and res["billingType"] == "metered_api"
        assert res["costUsd"] == pytest.approx(estimate_cost("gpt-4.1", inp, out))
        assert (res["provider"], res["model"]) == ("openai", "gpt-4.1")
        assert res["summary"] == "Wrote hello.txt and closed the issue."
        sid = res["sessionId"]
        assert sid.startswith("ses-") and res["sessionDisplayId"] == sid
        params = res["sessionParams"]
        assert (params["sessionId"], params["taskKey"], params["workspacePath"]) == (
            sid,
            "i1",
            "/workspace",
        )
        assert (tmp_path / ".pocketos" / "sessions.db").is_file()

        # run 2: reopened with a comment, resuming the session
        n_before = len(fm.requests)
        env2 = envelope(
            fm,
            api,
            tmp_path,
            run_id="run-2",
            runtime={"sessionId": sid, "sessionParams": params, "taskKey": "i1"},
            context={
                "wakeReason": "issue_reopened_via_comment",
                "paperclipWake": {
                    "comments": [{"body": "Please also check it", "author": {"type": "user"}}]
                },
            },
        )
        lines2, p2 = run(env2)
        res2 = lines2[-1]
        assert res2["exitCode"] == 0, res2
        assert of(lines2, "init")[0]["resumed"] is True
        assert of(lines2, "init")[0]["workspaceRestored"] is True
        assert of(lines2, "tool_result")[0]["content"] == "hi\n[exit status 0]"
        assert res2["sessionId"] == sid
        first = json.dumps(fm.requests[n_before]["json"]["messages"])
        assert "Write hello.txt" in first and "Wrote hello.txt and closed the issue." in first
        assert "Please also check it" in first
        assert res2["usage"]["inputTokens"] == sum(u[0] for u in fm.reported[len(reported) :])


def test_invalid_policy_is_a_failed_run_with_a_clear_message(tmp_path: Path) -> None:
    with FakeModel([]) as fm, FakeAPI() as api:
        for policy, msg in [
            ('{"fs": "allow",', "policy: not valid JSON"),
            ({"files": "allow"}, "unknown permission domain 'files'"),
            ({"network": {"default": "allow", "rules": []}}, "rules is an empty list"),
        ]:
            lines, p = run(envelope(fm, api, tmp_path, config={"policy": policy}))
            res = lines[-1]
            assert p.returncode == 1 and res["exitCode"] == 1
            assert res["errorMessage"].startswith("invalid pocketos_local configuration: policy")
            assert msg in res["errorMessage"]
            assert res["errorCode"] == "pocketos_config"
        assert fm.requests == []  # no agent ran


def test_policy_as_json_text_and_form_fields(tmp_path: Path) -> None:
    rules = [
        Rule(
            "Write hello.txt",
            [
                tool(
                    "bash",
                    {
                        "command": "echo a > /workspace/a; echo b > /tmp/b; "
                        "curl -sS http://127.0.0.1:9/x"
                    },
                ),
                tool("paperclip_comment", {"body": "done"}),
            ],
        )
    ]
    cfg = {
        "policy": json.dumps({"env": "allow"}),
        "writablePaths": "/workspace\n",
        "allowedHosts": "example.com",
    }
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        lines, _ = run(envelope(fm, api, tmp_path, config=cfg))
        assert lines[-1]["exitCode"] == 0, lines[-1]
        denied = [(d["capability"], d["resource"]) for d in of(lines, "denied")]
        assert denied == [("fs.write", "/tmp/b"), ("network.fetch", "http://127.0.0.1:9/x")]


def test_mismatched_resume_starts_fresh_and_clears(tmp_path: Path) -> None:
    rules = [Rule("Write hello.txt", [tool("paperclip_comment", {"body": "hi"})])]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        lines, _ = run(envelope(fm, api, tmp_path))
        params = lines[-1]["sessionParams"]
        for bad, why in [
            ({**params, "workspacePath": "/elsewhere"}, "it ran in workspace /elsewhere"),
            ({**params, "taskKey": "other"}, "it belongs to another task"),
            ({**params, "sessionId": "ses-unknown"}, "not in this agent's session store"),
        ]:
            env = envelope(fm, api, tmp_path, runtime={"sessionParams": bad})
            lines2, _ = run(env)
            res = lines2[-1]
            assert res["exitCode"] == 0 and res["clearSession"] is True, res
            assert "sessionParams" not in res
            assert of(lines2, "init")[0]["resumed"] is False
            assert any(why in s["message"] for s in of(lines2, "system")), why


def test_sigterm_stops_the_agent_and_still_saves_the_workspace(tmp_path: Path) -> None:
    rules = [
        Rule(
            "Write hello.txt",
            [
                tool("write", {"path": "kept.txt", "content": "kept\n"}),
                tool("bash", {"command": "sleep infinity"}),
            ],
        )
    ]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pocketos.paperclip"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(envelope(fm, api, tmp_path)))
        proc.stdin.close()
        lines = []
        for raw in proc.stdout:
            ev = json.loads(raw)
            lines.append(ev)
            if ev["type"] == "tool_call" and ev["input"] == {"command": "sleep infinity"}:
                proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 1
        res = lines[-1]
        assert res["type"] == "result" and res["errorCode"] == "cancelled", res
        saved = [s for s in of(lines, "system") if s["message"] == "workspace saved"]
        assert saved and saved[0]["workspace"]["files"] == 1
        # the next run of the task sees the file written before the cancel
        rules2 = [Rule("Write hello.txt", [tool("read", {"path": "kept.txt"})], done="ok")]
        fm.rules[:] = rules2
        lines2, _ = run(envelope(fm, api, tmp_path))
        assert of(lines2, "tool_result")[0]["content"] == "kept\n"


@pytest.mark.parametrize("isolation", ["process", "in-process"])
def test_both_isolations_carry_the_run(tmp_path: Path, isolation: str) -> None:
    rules = [
        Rule(
            "Write hello.txt",
            [
                tool("write", {"path": "hello.txt", "content": "hi\n"}),
                tool("paperclip_comment", {"body": "wrote hello.txt"}),
            ],
            done="ok",
        )
    ]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        lines, _ = run(envelope(fm, api, tmp_path, config={"isolation": isolation}))
        assert lines[-1]["exitCode"] == 0, lines[-1]
        assert of(lines, "assistant")[-1]["text"] == "ok"
        results = [r["content"] for r in of(lines, "tool_result")]
        assert results[0] == "wrote 3 bytes to /workspace/hello.txt"
        assert '"ok": true' in results[1], results[1]
        assert [c["body"] for c in api.comments.get("i1", [])] == ["wrote hello.txt"]


def test_the_default_isolation_is_process() -> None:
    from pocketos.paperclip.config import DEFAULT_ISOLATION, parse_config

    assert DEFAULT_ISOLATION == "process"
    assert parse_config({}).isolation == "process"
    assert parse_config({"isolation": "in-process"}).isolation == "in-process"


def drive(spec: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    """Run the adapter's execute() in Node against the real runner (drive_execute.mjs)."""
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: execute() cannot be driven")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    drv = Path(__file__).resolve().parent / "drive_execute.mjs"
    p = subprocess.run(
        [node, str(drv), str(path)], capture_output=True, text=True, timeout=600, env=os.environ
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(x) for x in p.stdout.splitlines()]


@pytest.mark.parametrize("warm", [True, False])
def test_execute_through_node_runs_the_runner(tmp_path: Path, warm: bool) -> None:
    rules = [Rule("Write hello.txt", [tool("write", {"path": "n.txt", "content": "x"})], done="ok")]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        env = envelope(fm, api, tmp_path)
        cfg = {
            **env["config"],
            "command": sys.executable,
            "warmRunner": warm,
            "env": {**env["config"]["env"], "PYTHONPATH": SRC},
        }
        ctx = {
            "runId": "run-1",
            "agent": env["agent"],
            "config": cfg,
            "context": env["context"],
            "runtime": {},
            "authToken": api.token,
        }
        # the API base the adapter hands the runner comes from the server's environment
        os.environ["PAPERCLIP_API_URL"] = api.url
        try:
            out = drive({"ctx": ctx, "runs": 2}, tmp_path)
        finally:
            del os.environ["PAPERCLIP_API_URL"]
        assert len(out) == 2
        for rec in out:
            res = rec["result"]
            assert res["exitCode"] == 0 and res["timedOut"] is False, rec
            assert res["summary"] == "ok" and res["usageBasis"] == "per_run"
            lines = [json.loads(c) for s, c in rec["log"] if s == "stdout" and c.startswith("{")]
            assert [x["type"] for x in lines][:3] == ["init", "tool_call", "tool_result"]
        stderr = "".join(c for rec in out for s, c in rec["log"] if s == "stderr")
        assert "warm runner unavailable" not in stderr


@pytest.mark.parametrize("warm", [True, False])
def test_cancel_through_node_stops_the_run_and_saves_the_workspace(
    tmp_path: Path, warm: bool
) -> None:
    loop = {"command": "sleep infinity"}
    rules = [
        Rule(
            "Write hello.txt",
            [tool("write", {"path": "kept.txt", "content": "kept\n"}), tool("bash", loop)],
        )
    ]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        env = envelope(fm, api, tmp_path)
        cfg = {
            **env["config"],
            "command": sys.executable,
            "warmRunner": warm,
            "env": {**env["config"]["env"], "PYTHONPATH": SRC},
        }
        ctx = {"runId": "r", "agent": env["agent"], "config": cfg, "context": env["context"]}
        (rec,) = drive({"ctx": ctx, "runs": 1, "abortOn": "sleep infinity"}, tmp_path)
        res = rec["result"]
        assert res["errorCode"] == "cancelled" and res["exitCode"] == 1, res
        assert res["resultJson"]["workspace"]["files"] == 1


def test_an_acp_agent_command_runs_instead_of_the_built_in_agent(tmp_path: Path) -> None:
    scripted = Path(__file__).resolve().parents[1] / "fixtures" / "scripted_agent.py"
    cfg = {"agent": "acp", "acpCommand": [sys.executable, str(scripted)]}
    with FakeModel([]) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        ctx = {"wakeReason": "", "paperclipIssue": {"id": "i1", "description": "echo hi acp"}}
        lines, p = run(envelope(fm, api, tmp_path, config=cfg, context=ctx))
        res = lines[-1]
        assert res["exitCode"] == 0, (res, p.stderr[-2000:])
        assert res["summary"] == "hi acp" and res["provider"] == "acp"
        assert of(lines, "assistant")[-1]["text"] == "hi acp"
        assert fm.requests == []  # the built-in agent's model was not used


def test_secrets_stay_out_of_the_vm(tmp_path: Path) -> None:
    rules = [Rule("Write hello.txt", [tool("bash", {"command": "env; echo END"})], done="ok")]
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        lines, _ = run(envelope(fm, api, tmp_path))
        out = of(lines, "tool_result")[0]["content"]
        assert out.endswith("END\n[exit status 0]") and "PATH=" in out
        for secret in ("model-key", api.token, "POCKETOS_", "PAPERCLIP"):
            assert secret not in out


def test_a_bad_agent_environment_is_a_clear_failure(tmp_path: Path) -> None:
    with FakeModel([]) as fm, FakeAPI() as api:
        env = envelope(fm, api, tmp_path)
        env["config"]["env"]["POCKETOS_PROVIDER"] = "mistral"
        lines, _ = run(env)
        res = lines[-1]
        assert res["exitCode"] == 1 and res["errorCode"] == "pocketos_config"
        assert res["errorMessage"].startswith(
            "invalid pocketos_local configuration: env: unknown provider 'mistral'"
        )


def test_the_warm_runner_leaves_nothing_behind(tmp_path: Path) -> None:
    rules = [Rule("Write hello.txt", [], done="ok")]
    runner_tmp = tmp_path / "tmp"
    runner_tmp.mkdir()
    with FakeModel(rules) as fm, FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        env = envelope(fm, api, tmp_path)
        cfg = {**env["config"], "command": sys.executable}
        cfg["env"] = {**cfg["env"], "PYTHONPATH": SRC}
        ctx = {"runId": "r", "agent": env["agent"], "config": cfg, "context": env["context"]}
        old = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(runner_tmp)
        try:
            (rec,) = drive({"ctx": ctx, "runs": 1}, tmp_path)
        finally:
            if old is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = old
        assert rec["result"]["exitCode"] == 0
        assert list(runner_tmp.iterdir()) == []
