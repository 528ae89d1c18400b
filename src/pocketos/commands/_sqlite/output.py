"""The sqlite3 shell's output: its modes (list, csv, column, box, json, insert, ...),
how values are rendered in them, and running SQL with the rows printed."""

from __future__ import annotations

import sqlite3 as _sqlite
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _enc
from pocketos.commands._sqlite.text import (
    _disp_len,
    _json_str,
    _quote_ident,
    _sql_quote_text,
    _sql_real,
    _sql_str,
    _SqlText,
)

_SQLITE_MODES = (
    "ascii",
    "box",
    "column",
    "csv",
    "html",
    "insert",
    "json",
    "line",
    "list",
    "markdown",
    "qbox",
    "quote",
    "table",
    "tabs",
    "tcl",
)
_SQLITE_SUPPORTED = (
    "box",
    "column",
    "csv",
    "json",
    "line",
    "list",
    "markdown",
    "quote",
    "table",
    "tabs",
    "insert",
)


class _SqliteShell:
    def __init__(self, ctx: Context, conn: _sqlite.Connection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.mode = "list"
        self.headers = False
        self.colsep = b"|"
        self.rowsep = b"\n"
        self.nullvalue = b""
        self.bail = False
        self.echo = False
        self.insert_table = "table"
        self.out: list[bytes] = []

    # --- output ---------------------------------------------------------------------------
    async def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out = []
            await self.ctx.stdout.write(data)

    def text(self, v: Any) -> bytes:
        if v is None:
            return self.nullvalue
        if isinstance(v, bool):
            return b"1" if v else b"0"
        if isinstance(v, int):
            return str(v).encode()
        if isinstance(v, float):
            return _sql_real(v).encode()
        b = _enc(v) if isinstance(v, str) else bytes(v)
        # the shell prints values as C strings: a NUL ends them
        nul = b.find(b"\0")
        return b if nul < 0 else b[:nul]

    def full_text(self, v: Any) -> bytes:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        return self.text(v)

    def csv_field(self, v: Any) -> bytes:
        if v is None:
            return self.nullvalue
        if isinstance(v, (int, float)):
            return self.text(v)
        b = self.text(v)
        sep = self.colsep
        if (
            b == b""
            or any(c <= 0x20 or c >= 0x7F or c in (0x22, 0x27, 0x2C) for c in b)
            or (sep and sep in b)
        ):
            return b'"' + b.replace(b'"', b'""') + b'"'
        return b

    def quote_value(self, v: Any) -> bytes:
        if v is None:
            return b"NULL"
        if isinstance(v, int):
            return str(v).encode()
        if isinstance(v, float):
            return _sql_real(v, 20).encode()
        if isinstance(v, (bytes, bytearray, memoryview)) and not isinstance(v, _SqlText):
            return b"X'" + bytes(v).hex().encode() + b"'"
        return _sql_quote_text(self.full_text(v))

    def render(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        mode = self.mode
        bnames = [_enc(n) for n in names]
        out = self.out
        if mode in ("list", "tabs", "csv"):
            sep = b"\t" if mode == "tabs" else self.colsep
            fmt: Callable[[Any], bytes] = self.csv_field if mode == "csv" else self.text
            if self.headers and names:
                hdr = [self.csv_field(n) if mode == "csv" else _enc(n) for n in names]
                out.append(sep.join(hdr) + self.rowsep)
            for r in rows:
                out.append(sep.join(fmt(v) for v in r) + self.rowsep)
        elif mode == "json":
            if not rows:
                return
            objs = []
            for r in rows:
                parts = []
                for n, v in zip(bnames, r, strict=False):
                    if v is None:
                        val = b"null"
                    elif isinstance(v, float):
                        val = _sql_real(v, 20).encode()
                    elif isinstance(v, int):
                        val = self.text(v)
                    else:
                        val = _json_str(self.full_text(v))
                    parts.append(_json_str(n) + b":" + val)
                objs.append(b"{" + b",".join(parts) + b"}")
            out.append(b"[" + b",\n".join(objs) + b"]\n")
        elif mode == "line":
            w = max([5] + [len(n) for n in names])
            for i, r in enumerate(rows):
                if i:
                    out.append(self.rowsep)
                for col, v in zip(names, r, strict=False):
                    out.append(_enc(col.rjust(w)) + b" = " + self.text(v) + self.rowsep)
        elif mode in ("quote", "insert"):
            sep = b","
            if self.headers and mode == "quote" and names:
                out.append(b",".join(_sql_quote_text(n) for n in bnames) + self.rowsep)
            for r in rows:
                vals = sep.join(self.quote_value(v) for v in r)
                if mode == "insert":
                    t = self.insert_table
                    qt = _quote_ident(t) if t != "table" else '"table"'
                    out.append(
                        b"INSERT INTO " + _enc(qt) + b" VALUES(" + vals + b");" + self.rowsep
                    )
                else:
                    out.append(vals + self.rowsep)
        else:
            self.render_columns(names, rows)

    def render_columns(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows and self.mode != "column":
            return
        if not rows:
            return
        cells = [[self.text(v).decode("utf-8", "replace") for v in r] for r in rows]
        ncol = len(names)
        widths = [len(n) for n in names]
        for r in cells:
            for i, c in enumerate(r):
                widths[i] = max(widths[i], _disp_len(c))
        lines: list[str] = []

        def pad(s: str, w: int) -> str:
            return s + " " * (w - _disp_len(s))

        def center(s: str, w: int) -> str:
            total = w - _disp_len(s)
            left = total // 2
            return " " * left + s + " " * (total - left)

        mode = self.mode
        if mode == "column":
            if self.headers:
                lines.append("  ".join(pad(n, widths[i]) for i, n in enumerate(names)))
                lines.append("  ".join("-" * widths[i] for i in range(ncol)))
            for r in cells:
                lines.append("  ".join(pad(c, widths[i]) for i, c in enumerate(r)))
        elif mode == "markdown":
            lines.append(
                "| " + " | ".join(center(n, widths[i]) for i, n in enumerate(names)) + " |"
            )
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
            for r in cells:
                lines.append("| " + " | ".join(pad(c, widths[i]) for i, c in enumerate(r)) + " |")
        else:
            if mode == "box":
                h, v = "─", "│"
                top, mid, bot = ("┌", "┬", "┐"), ("├", "┼", "┤"), ("└", "┴", "┘")
            else:
                h, v = "-", "|"
                top = mid = bot = ("+", "+", "+")

            def rule(p: tuple[str, str, str]) -> str:
                return p[0] + p[1].join(h * (w + 2) for w in widths) + p[2]

            lines.append(rule(top))
            lines.append(
                v + " " + f" {v} ".join(center(n, widths[i]) for i, n in enumerate(names)) + " " + v
            )
            lines.append(rule(mid))
            for r in cells:
                lines.append(
                    v + " " + f" {v} ".join(pad(c, widths[i]) for i, c in enumerate(r)) + " " + v
                )
            lines.append(rule(bot))
        self.out.append(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))

    # --- execution ------------------------------------------------------------------------
    def run_sql(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(_sql_str(sql))
            if cur.description is None:
                cur.fetchall()
                return
            names = [d[0] for d in cur.description]
            rows: list[tuple[Any, ...]] = []
            while True:
                batch = cur.fetchmany(1000)
                if not batch:
                    break
                rows.extend(batch)
            self.render(names, rows)
        finally:
            cur.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql, params)
        try:
            return cur.fetchall()
        finally:
            cur.close()
