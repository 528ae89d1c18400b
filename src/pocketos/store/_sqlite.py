"""The SQLite store. Every method is synchronous and short; one connection per store, guarded
by a lock so the store may be shared between an event loop and worker threads.

Writes are batched: the hot ones (events, permission decisions, usage, prompt ends, session
updates, the agent's state, audit events) are queued and written together in one
transaction with ``executemany``: when :meth:`Store.flush` is called (sessions call it at the
end of every prompt), when ``write_delay`` seconds have passed (a timer on the running event
loop), when the queue is long, before any read, and on :meth:`Store.close` or interpreter
exit. Outside an event loop, or with ``write_delay=0``, every write is committed at once."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["DEFAULT_PATH_ENV", "Store", "default_store_path"]

#: environment variable naming the default database file
DEFAULT_PATH_ENV = "POCKETOS_STORE"

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    agent_argv TEXT,
    agent_session_id TEXT,
    vm TEXT,
    cwd TEXT,
    status TEXT NOT NULL,
    title TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    error TEXT,
    info TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS prompts (
    session_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    content TEXT NOT NULL,
    stop_reason TEXT,
    error TEXT,
    PRIMARY KEY (session_id, n)
);
CREATE TABLE IF NOT EXISTS permissions (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    capability TEXT NOT NULL,
    resource TEXT NOT NULL,
    title TEXT,
    decision TEXT NOT NULL,
    option_id TEXT,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    session_id TEXT NOT NULL,
    prompt INTEGER,
    time REAL NOT NULL,
    model TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    currency TEXT
);
CREATE TABLE IF NOT EXISTS agent_state (
    agent_session_id TEXT PRIMARY KEY,
    updated REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    vm TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    capability TEXT,
    resource TEXT,
    decision TEXT,
    reason TEXT,
    pid INTEGER,
    actor TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_vm ON audit (vm, time);
CREATE INDEX IF NOT EXISTS usage_session ON usage (session_id);
CREATE INDEX IF NOT EXISTS permissions_session ON permissions (session_id);
"""


def default_store_path() -> str:
    """``$POCKETOS_STORE``, else ``$XDG_DATA_HOME/pocketos/sessions.db``, else
    ``~/.local/share/pocketos/sessions.db``."""
    explicit = os.environ.get(DEFAULT_PATH_ENV)
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "pocketos", "sessions.db")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


#: queued writes that force a flush
MAX_PENDING = 2000

_SQL_EVENT = "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?)"
_SQL_STATE = "INSERT OR REPLACE INTO agent_state VALUES (?, ?, ?)"

#: open stores, flushed when the interpreter exits
_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for st in list(_OPEN):
        try:
            st.flush()
        except Exception:
            pass


class Store:
    """A session store in one SQLite file (``":memory:"`` for a throwaway one)."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, write_delay: float = 0.1
    ) -> None:
        p = os.fspath(path) if path is not None else default_store_path()
        if p != ":memory:":
            parent = os.path.dirname(os.path.abspath(p))
            os.makedirs(parent, mode=0o700, exist_ok=True)
        self.path = p
        self._lock = threading.RLock()
        self._db = sqlite3.connect(p, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        #: seconds a queued write may wait for company (0: write at once)
        self.write_delay = write_delay
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._prompt_n: dict[str, int] = {}
        with self._lock:
            if p != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.closed = False
        _OPEN.add(self)

    # --- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        if not self.closed:
            with self._lock:
                self._flush_locked()
                self.closed = True
                self._db.close()
            _OPEN.discard(self)

    # --- batched writes ------------------------------------------------------------------
    def _defer(self, sql: str, args: tuple[Any, ...]) -> None:
        """Queue one write; it is committed with the next flush."""
        with self._lock:
            if self.closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            self._pending.append((sql, args))
            n = len(self._pending)
            if n >= MAX_PENDING or self.write_delay <= 0:
                self._flush_locked()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop here: nobody would flush later
                self._flush_locked()
                return
            if self._timer is not None and self._timer_loop is loop:
                return
            self._timer = loop.call_later(self.write_delay, self.flush)
            self._timer_loop = loop

    def flush(self) -> None:
        """Commit every queued write (one transaction)."""
        with self._lock:
            self._flush_locked()

    @property
    def pending(self) -> int:
        """Writes queued and not yet committed."""
        return len(self._pending)

    def _flush_locked(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not self._pending or self.closed:
            return
        batch, self._pending = self._pending, []
        db = self._db
        try:
            db.execute("BEGIN")
            i = 0
            while i < len(batch):
                sql = batch[i][0]
                j = i + 1
                while j < len(batch) and batch[j][0] == sql:
                    j += 1
                if j - i == 1:
                    db.execute(sql, batch[i][1])
                else:
                    db.executemany(sql, [a for _, a in batch[i:j]])
                i = j
            db.execute("COMMIT")
        except sqlite3.Error:
            # one bad row must not lose the others: write them one by one
            if db.in_transaction:
                db.execute("ROLLBACK")
            for sql, args in batch:
                try:
                    db.execute(sql, args)
                except sqlite3.Error:
                    pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            self._flush_locked()
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            self._flush_locked()
            return list(self._db.execute(sql, args).fetchall())

    # --- sessions ------------------------------------------------------------------------
    def create_session(
        self,
        session_id: str,
        *,
        agent: str,
        agent_argv: list[str] | None,
        vm: str,
        cwd: str,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        now = time.time()
        self._defer(
            "INSERT INTO sessions (id, agent, agent_argv, agent_session_id, vm, cwd, "
            "status, created, updated, info) VALUES (?, ?, ?, NULL, ?, ?, 'starting', ?,"
            " ?, ?)",
            (
                session_id,
                agent,
                _dumps(agent_argv) if agent_argv else None,
                vm,
                cwd,
                now,
                now,
                _dumps(dict(info or {})),
            ),
        )

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Update ``agent_session_id``, ``status``, ``title``, ``error``, ``cwd``, ``vm`` or
        merge keys into ``info``."""
        allowed = {"agent_session_id", "status", "title", "error", "cwd", "vm"}
        sets: list[str] = []
        args: list[Any] = []
        info = fields.pop("info", None)
        for key, value in fields.items():
            if key not in allowed:
                raise ValueError(f"unknown session field {key!r}")
            sets.append(f"{key} = ?")
            args.append(value)
        with self._lock:
            if info:
                self._flush_locked()
                row = self._db.execute(
                    "SELECT info FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                merged = json.loads(row["info"]) if row else {}
                merged.update(info)
                sets.append("info = ?")
                args.append(_dumps(merged))
            sets.append("updated = ?")
            args.append(time.time())
            self._defer(f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", (*args, session_id))

    @staticmethod
    def _session_dict(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["agent_argv"] = json.loads(d["agent_argv"]) if d["agent_argv"] else None
        d["info"] = json.loads(d["info"] or "{}")
        return d

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return self._session_dict(rows[0]) if rows else None

    def list_sessions(
        self, *, vm: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Sessions, newest first, with their totals (events, prompts, tokens, cost)."""
        sql = (
            "SELECT s.*, (SELECT COUNT(*) FROM prompts p WHERE p.session_id = s.id) AS "
            "prompts, (SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.session_id = s.id)"
            " AS last_seq FROM sessions s"
        )
        where: list[str] = []
        args: list[Any] = []
        if vm is not None:
            where.append("s.vm = ?")
            args.append(vm)
        if status is not None:
            where.append("s.status = ?")
            args.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.created DESC, s.rowid DESC"
        out = []
        for row in self._rows(sql, tuple(args)):
            d = self._session_dict(row)
            d.update(self.usage_totals(d["id"]))
            out.append(d)
        return out

    def delete_session(self, session_id: str) -> None:
        with self._lock:
            self._flush_locked()
            row = self._db.execute(
                "SELECT agent_session_id FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            for table in ("events", "prompts", "permissions", "usage"):
                self._db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            if row and row["agent_session_id"]:
                self._db.execute(
                    "DELETE FROM agent_state WHERE agent_session_id = ?", (row["agent_session_id"],)
                )
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._prompt_n.pop(session_id, None)

    # --- events --------------------------------------------------------------------------
    def append_event(
        self, session_id: str, seq: int, time_: float, kind: str, data: Mapping[str, Any]
    ) -> None:
        self._defer(
            _SQL_EVENT,
            (session_id, seq, time_, kind, _dumps(data if isinstance(data, dict) else dict(data))),
        )

    def last_seq(self, session_id: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(MAX(seq), 0) AS m FROM events WHERE session_id = ?", (session_id,)
        )
        return int(rows[0]["m"])

    def events(self, session_id: str, since: int = 0) -> list[dict[str, Any]]:
        """Events with ``seq > since`` in order: ``{"seq", "time", "kind", "data"}``."""
        return [
            {"seq": r["seq"], "time": r["time"], "kind": r["kind"], "data": json.loads(r["data"])}
            for r in self._rows(
                "SELECT seq, time, kind, data FROM events WHERE "
                "session_id = ? AND seq > ? ORDER BY seq",
                (session_id, since),
            )
        ]

    # --- prompts, permissions, usage ----------------------------------------------------
    def start_prompt(self, session_id: str, content: list[dict[str, Any]]) -> int:
        with self._lock:
            last = self._prompt_n.get(session_id)
            if last is None:
                self._flush_locked()
                row = self._db.execute(
                    "SELECT COALESCE(MAX(n), 0) AS m FROM prompts WHERE session_id = ?",
                    (session_id,),
                ).fetchone()
                last = int(row["m"])
            n = last + 1
            self._prompt_n[session_id] = n
            self._defer(
                "INSERT INTO prompts (session_id, n, started, content) VALUES (?, ?, ?, ?)",
                (session_id, n, time.time(), _dumps(content)),
            )
        return n

    def end_prompt(
        self, session_id: str, n: int, stop_reason: str | None, error: str | None = None
    ) -> None:
        self._defer(
            "UPDATE prompts SET ended = ?, stop_reason = ?, error = ? WHERE "
            "session_id = ? AND n = ?",
            (time.time(), stop_reason, error, session_id, n),
        )

    def prompts(self, session_id: str) -> list[dict[str, Any]]:
        out = []
        for r in self._rows("SELECT * FROM prompts WHERE session_id = ? ORDER BY n", (session_id,)):
            d = dict(r)
            d["content"] = json.loads(d["content"])
            out.append(d)
        return out

    def record_permission(
        self,
        session_id: str,
        seq: int,
        *,
        capability: str,
        resource: str,
        title: str | None,
        decision: str,
        option_id: str | None,
        source: str,
    ) -> None:
        self._defer(
            "INSERT INTO permissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                seq,
                time.time(),
                capability,
                resource,
                title,
                decision,
                option_id,
                source,
            ),
        )

    def permissions(self, session_id: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self._rows(
                "SELECT * FROM permissions WHERE session_id = ? ORDER BY rowid", (session_id,)
            )
        ]

    def record_usage(
        self,
        session_id: str,
        *,
        prompt: int | None,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        cost: float | None = None,
        currency: str | None = None,
    ) -> None:
        self._defer(
            "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                prompt,
                time.time(),
                model,
                int(input_tokens),
                int(output_tokens),
                int(cached_tokens),
                cost,
                currency,
            ),
        )

    def usage(self, session_id: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self._rows(
                "SELECT * FROM usage WHERE session_id = ? ORDER BY rowid", (session_id,)
            )
        ]

    def usage_totals(self, session_id: str) -> dict[str, Any]:
        r = self._rows(
            "SELECT COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens),"
            " 0) AS o, COALESCE(SUM(cached_tokens), 0) AS c, SUM(cost) AS cost FROM "
            "usage WHERE session_id = ?",
            (session_id,),
        )[0]
        return {
            "input_tokens": int(r["i"]),
            "output_tokens": int(r["o"]),
            "cached_tokens": int(r["c"]),
            "cost": float(r["cost"]) if r["cost"] is not None else None,
        }

    # --- the built-in agent's own state --------------------------------------------------
    def save_agent_state(self, agent_session_id: str, state: Mapping[str, Any]) -> None:
        self._defer(_SQL_STATE, (agent_session_id, time.time(), _dumps(dict(state))))

    def load_agent_state(self, agent_session_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT state FROM agent_state WHERE agent_session_id = ?", (agent_session_id,)
        )
        return json.loads(rows[0]["state"]) if rows else None

    # --- the transcript ------------------------------------------------------------------
    def transcript(self, session_id: str) -> Iterator[dict[str, Any]]:
        """The universal transcript: a ``session`` header record, then one record per event
        (``{"type": "event", "seq", "time", "kind", "data"}``), then a ``summary`` record with
        prompts, permission decisions and usage. See docs/sessions.md."""
        sess = self.get_session(session_id)
        if sess is None:
            raise KeyError(f"no such session: {session_id}")
        yield {"type": "session", "format": "pocketos.transcript/1", **sess}
        for ev in self.events(session_id):
            yield {"type": "event", **ev}
        yield {
            "type": "summary",
            "session_id": session_id,
            "prompts": self.prompts(session_id),
            "permissions": self.permissions(session_id),
            "usage": self.usage(session_id),
            "totals": self.usage_totals(session_id),
        }

    # --- audit -------------------------------------------------------------------------------
    def append_audit(self, event: Mapping[str, Any]) -> None:
        """Persist one audit event (a ``pocketos.kernel.audit.AuditEvent.to_dict()``)."""
        self._defer(
            "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                event["vm"],
                event["seq"],
                event["time"],
                event["kind"],
                event.get("capability"),
                event.get("resource"),
                event.get("decision"),
                event.get("reason"),
                event.get("pid"),
                event.get("actor"),
                _dumps(event.get("detail") or {}),
            ),
        )

    def audit_events(
        self, vm: str | None = None, *, since: float | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit WHERE 1=1"
        args: list[Any] = []
        if vm is not None:
            sql += " AND vm = ?"
            args.append(vm)
        if since is not None:
            sql += " AND time >= ?"
            args.append(since)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        out = []
        for row in self._rows(sql + " ORDER BY time, seq", tuple(args)):
            d = dict(row)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out

    def export_jsonl(self, session_id: str) -> str:
        return "".join(_dumps(rec) + "\n" for rec in self.transcript(session_id))
