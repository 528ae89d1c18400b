from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import pytest

from pocketos.agent.cli import main
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool


def test_cli_streams_and_prints_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    result: dict[str, Any] = {}
    ready = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        async def go() -> None:
            async with FakeServer(
                [
                    openai_tool("write", {"path": "a.txt", "content": "x"}),
                    openai_text("All done.", (50, 5)),
                ]
            ) as srv:
                result["url"] = srv.url
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        asyncio.run(go())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(120)  # a bound only a failure reaches
    monkeypatch.setenv("POCKETOS_API_KEY", "k")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--base-url", result["url"] + "/v1", "--model", "gpt-4.1-mini", "--yes", "make", "a.txt"],
        stdout=out,
        stderr=err,
    )
    stop.set()
    t.join(5)
    assert code == 0
    assert out.getvalue() == "All done.\n"
    lines = err.getvalue().splitlines()
    assert lines[:2] == ["[tool] write a.txt", "[tool] completed"]
    assert lines[2].startswith(
        "[usage] 60 input + 10 output tokens, cost $0.0000; stop: end_turn; session ses-"
    )


def test_cli_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("POCKETOS_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "POCKETOS_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["hi"], stdout=out, stderr=err) == 1
    assert "set POCKETOS_API_KEY (or OPENAI_API_KEY)" in err.getvalue()


def test_cli_request_timeout_flag_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.agent.fake_llm import Reply

    result: dict[str, Any] = {}
    ready = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        async def go() -> None:
            never = asyncio.Event()  # the endpoint takes requests and never answers
            async with FakeServer([Reply(hold=never), Reply(hold=never)]) as srv:
                result["url"] = srv.url
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        asyncio.run(go())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(120)  # a bound only a failure reaches
    monkeypatch.setenv("POCKETOS_API_KEY", "k")
    monkeypatch.setenv("POCKETOS_RETRIES", "0")
    try:
        for args in (["--request-timeout", "0.3"], []):
            if not args:
                monkeypatch.setenv("POCKETOS_REQUEST_TIMEOUT", "0.4")
            out, err = io.StringIO(), io.StringIO()
            code = main(
                ["--base-url", result["url"] + "/v1", *args, "--yes", "hi"],
                stdout=out,
                stderr=err,
            )
            assert code == 1
            wait = "0.3" if args else "0.4"
            assert f"no answer from openai API at {result['url']}/v1/chat/completions" in (
                err.getvalue()
            )
            assert f"after {wait} s" in err.getvalue()
    finally:
        stop.set()
        t.join(5)
