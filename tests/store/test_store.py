from __future__ import annotations

import json
from typing import Any

import pytest

from pocketos.store import Store, default_store_path


def fill(st: Store) -> None:
    st.create_session("s1", agent="pocketos", agent_argv=None, vm="vm-1", cwd="/work")
    st.update_session("s1", status="ready", agent_session_id="a1", info={"x": 1})
    st.append_event("s1", 1, 10.0, "session.started", {"agent": "pocketos"})
    st.append_event(
        "s1",
        2,
        11.0,
        "update",
        {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hé\0"}},
    )
    n = st.start_prompt("s1", [{"type": "text", "text": "hi"}])
    st.end_prompt("s1", n, "end_turn")
    st.record_permission(
        "s1",
        2,
        capability="fs.write",
        resource="/a",
        title="write a",
        decision="allow_once",
        option_id="o1",
        source="handler",
    )
    st.record_usage(
        "s1", prompt=n, model="m", input_tokens=10, output_tokens=2, cost=0.5, currency="USD"
    )
    st.record_usage("s1", prompt=n, model="m", input_tokens=5, output_tokens=1)


def test_roundtrip_and_transcript(tmp_path: Any) -> None:
    path = str(tmp_path / "d" / "s.db")
    with Store(path) as st:
        fill(st)
    with Store(path) as st:
        rec = st.get_session("s1")
        assert rec is not None
        assert (rec["status"], rec["agent_session_id"], rec["info"]) == ("ready", "a1", {"x": 1})
        assert [e["seq"] for e in st.events("s1")] == [1, 2]
        assert st.events("s1", since=1)[0]["data"]["content"]["text"] == "hé\0"
        assert st.last_seq("s1") == 2
        assert st.usage_totals("s1") == {
            "input_tokens": 15,
            "output_tokens": 3,
            "cached_tokens": 0,
            "cost": 0.5,
        }
        rows = st.list_sessions()
        assert [(r["id"], r["prompts"], r["last_seq"]) for r in rows] == [("s1", 1, 2)]
        lines = [json.loads(x) for x in st.export_jsonl("s1").splitlines()]
        assert [x["type"] for x in lines] == ["session", "event", "event", "summary"]
        assert lines[0]["format"] == "pocketos.transcript/1"
        assert lines[3]["permissions"][0]["decision"] == "allow_once"
        assert lines[3]["prompts"][0]["stop_reason"] == "end_turn"
        st.save_agent_state("a1", {"messages": [{"role": "user", "content": "hi"}]})
        assert st.load_agent_state("a1") == {"messages": [{"role": "user", "content": "hi"}]}
        st.delete_session("s1")
        assert st.get_session("s1") is None and st.events("s1") == []
        assert st.load_agent_state("a1") is None


def test_errors_and_default_path(monkeypatch: pytest.MonkeyPatch) -> None:
    st = Store(":memory:")
    with pytest.raises(KeyError, match="no such session: nope"):
        st.export_jsonl("nope")
    with pytest.raises(ValueError, match="unknown session field 'bogus'"):
        st.update_session("x", bogus=1)
    monkeypatch.setenv("POCKETOS_STORE", "/tmp/x.db")
    assert default_store_path() == "/tmp/x.db"
    monkeypatch.delenv("POCKETOS_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert default_store_path() == "/data/pocketos/sessions.db"


def test_writes_are_batched_inside_an_event_loop(tmp_path: Any) -> None:
    import asyncio
    import sqlite3

    path = str(tmp_path / "b.db")

    def seen() -> int:
        with sqlite3.connect(path) as other:
            return int(other.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    async def go() -> None:
        st = Store(path)
        st.create_session("s1", agent="x", agent_argv=None, vm="v", cwd="/")
        for i in range(1, 6):
            st.append_event("s1", i, float(i), "update", {"i": i})
        # queued, not yet visible to another connection
        assert (st.pending, seen()) == (6, 0)
        st.flush()
        assert (st.pending, seen()) == (0, 5)
        st.append_event("s1", 6, 6.0, "update", {"i": 6})
        # a read through the store commits what is queued first
        assert [e["seq"] for e in st.events("s1")] == [1, 2, 3, 4, 5, 6]
        # one bad row does not lose the rest of its batch
        st.append_event("s1", 7, 7.0, "update", {})
        st.record_permission(
            "s1",
            7,
            capability=None,
            resource="r",  # type: ignore[arg-type]
            title=None,
            decision="d",
            option_id=None,
            source="s",
        )
        st.append_event("s1", 8, 8.0, "update", {})
        st.close()  # close commits the queue
        assert seen() == 8

    asyncio.run(go())
    # outside an event loop every write is committed at once
    st = Store(path)
    st.append_event("s1", 9, 9.0, "update", {})
    assert (st.pending, seen()) == (0, 9)
    st.close()
