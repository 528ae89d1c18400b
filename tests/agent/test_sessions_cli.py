"""``pocketos sessions list|show|export|rm`` on a store written by ``pocketos agent``."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from pocketos.agent.cli import main as agent_main
from pocketos.cli import main
from tests.agent.fake_llm import FakeServer, openai_text


def run_agent(monkeypatch: pytest.MonkeyPatch, db: Path, prompts: list[str]) -> list[str]:
    """Run ``pocketos agent`` once per prompt with the store from $POCKETOS_STORE; return
    the session ids it printed."""
    result: dict[str, Any] = {}
    ready = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        async def go() -> None:
            replies = [openai_text(f"answer {i}", (10, 2)) for i in range(len(prompts))]
            async with FakeServer(replies) as srv:
                result["url"] = srv.url
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        asyncio.run(go())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(120)  # a bound only a failure reaches
    monkeypatch.setenv("POCKETOS_API_KEY", "k")
    monkeypatch.setenv("POCKETOS_STORE", str(db))
    ids = []
    try:
        for p in prompts:
            out, err = io.StringIO(), io.StringIO()
            code = agent_main(["--base-url", result["url"] + "/v1", p], stdout=out, stderr=err)
            assert code == 0, err.getvalue()
            ids.append(err.getvalue().rsplit("session ", 1)[1].split()[0].rstrip(")"))
    finally:
        stop.set()
        t.join(5)
    return ids


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sessions_list_show_export_rm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    first, second = run_agent(monkeypatch, db, ["say one", "say two"])
    assert first.startswith("ses-") and second != first

    code, out, _ = cli(capsys, "sessions", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "AGENT"]
    assert [ln.split()[0] for ln in lines[1:]] == [second, first]  # newest first
    assert all(ln.split()[1] == "closed" for ln in lines[1:])

    code, out, _ = cli(capsys, "sessions", "list", "--json", "--store", str(db))
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert [r["id"] for r in rows] == [second, first]
    assert rows[0]["input_tokens"] == 10 and rows[0]["output_tokens"] == 2

    code, out, _ = cli(capsys, "sessions", "show", first)
    assert code == 0
    assert f"id:               {first}" in out
    assert "prompt 1: 'say one' -> end_turn" in out

    code, out, _ = cli(capsys, "sessions", "export", first)
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert recs[0]["type"] == "session" and recs[0]["id"] == first
    kinds = [r["kind"] for r in recs if r["type"] == "event"]
    assert "prompt.started" in kinds and "prompt.ended" in kinds
    dest = tmp_path / "t.jsonl"
    assert cli(capsys, "sessions", "export", first, "-o", str(dest))[0] == 0
    assert dest.read_text() == out

    code, out, err = cli(capsys, "sessions", "rm", "-v", first, "ses-nope")
    assert code == 1
    assert out == f"removed {first}\n" and "no such session: ses-nope" in err
    code, out, _ = cli(capsys, "sessions", "list", "--json")
    assert [json.loads(ln)["id"] for ln in out.splitlines()] == [second]

    code, _, err = cli(capsys, "sessions", "show", first)
    assert code == 1 and f"no such session: {first}" in err


def test_sessions_without_a_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("POCKETOS_STORE", raising=False)
    code, _, err = cli(capsys, "sessions", "list")
    assert code == 2 and "pass --store FILE or set POCKETOS_STORE" in err
    code, _, err = cli(capsys, "sessions", "list", "--store", str(tmp_path / "missing.db"))
    assert code == 1 and "no such session store" in err
    assert not (tmp_path / "missing.db").exists()


def test_sessions_rm_refuses_a_session_open_in_a_live_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket
    import subprocess

    from pocketos.sessions.session import _started
    from pocketos.store import Store

    db = tmp_path / "s.db"
    host = subprocess.Popen(["sleep", "1000000"])  # stands for the process the session runs in
    try:
        store = Store(str(db))
        info = {"host": socket.gethostname(), "host_pid": host.pid, "host_started": None}
        info["host_started"] = _started(host.pid)
        for sid, status in (("ses-open", "ready"), ("ses-done", "closed")):
            store.create_session(sid, agent="pocketos", agent_argv=None, vm="vm-1", cwd="/")
            store.update_session(sid, status=status, agent_session_id="pa-1", info=info)
        store.close()
        code, out, err = cli(capsys, "sessions", "rm", "-v", "--store", str(db), "ses-open")
        assert code == 1 and out == ""
        assert f"ses-open is open in process {host.pid}" in err and "--force" in err
        code, out, _ = cli(capsys, "sessions", "rm", "-v", "--store", str(db), "ses-done")
        assert code == 0 and out == "removed ses-done\n"
        code, out, _ = cli(capsys, "sessions", "rm", "-f", "-v", "--store", str(db), "ses-open")
        assert code == 0 and out == "removed ses-open\n"
    finally:
        host.kill()
        host.wait()
