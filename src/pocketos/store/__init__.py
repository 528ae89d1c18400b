"""Durable storage for sessions: one SQLite file holding sessions, their sequenced events,
prompts, permission decisions, token usage and cost, and the built-in agent's conversation.

    store = Store("/tmp/sessions.db")     # or Store() for the default path, Store(":memory:")
    store.list_sessions()
    print(store.export_jsonl(session_id))
"""

from __future__ import annotations

from pocketos.store._sqlite import DEFAULT_PATH_ENV, Store, default_store_path

__all__ = ["DEFAULT_PATH_ENV", "Store", "default_store_path"]
