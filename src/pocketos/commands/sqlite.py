"""sqlite3: the sqlite3 shell on an in-memory or VM-file database."""

from __future__ import annotations

import csv
import io
import re
import sqlite3 as _sqlite
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pocketos.commands import command

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _dec, _enc

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
_SQLITE_USAGE = """Usage: sqlite3 [OPTIONS] FILENAME [SQL...]
FILENAME is the name of an SQLite database. A new database is created
if the file does not previously exist. Defaults to :memory:.
OPTIONS include:
   -box                 set output mode to 'box'
   -bail                stop after hitting an error
   -cmd COMMAND         run "COMMAND" before reading stdin
   -column              set output mode to 'column'
   -csv                 set output mode to 'csv'
   -header              turn headers on
   -help                show this message
   -json                set output mode to 'json'
   -line                set output mode to 'line'
   -list                set output mode to 'list'
   -markdown            set output mode to 'markdown'
   -newline SEP         set output row separator. Default: '\\n'
   -noheader            turn headers off
   -nullvalue TEXT      set text string for NULL values. Default ''
   -readonly            open the database read-only
   -separator SEP       set output column separator. Default: '|'
   -table               set output mode to 'table'
   -tabs                set output mode to 'tabs'
   -version             show SQLite version
"""
_SQLITE_DOT_HELP = """.dump ?TABLE?             Render database content as SQL
.exit ?CODE?             Exit this program with return-code CODE
.headers on|off          Turn display of headers on or off
.import FILE TABLE       Import data from FILE into TABLE (CSV)
.indexes ?TABLE?         Show names of indexes
.mode MODE               Set output mode (box column csv json line list markdown
                         quote table tabs insert)
.nullvalue STRING        Use STRING in place of NULL values
.print STRING...         Print literal STRING
.quit                    Exit this program
.read FILE               Read input from FILE
.schema ?PATTERN?        Show the CREATE statements matching PATTERN
.separator COL ?ROW?     Change the column and row separators
.tables ?TABLE?          List names of tables matching LIKE pattern TABLE
"""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _sql_real(x: float, digits: int = 15) -> str:
    if x != x:
        return ""
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0.0"
    s = f"%.{digits}g" % x
    if "e" in s:
        mant, exp = s.split("e")
        if "." not in mant:
            mant += ".0"
        return mant + "e" + exp
    if "." not in s and "inf" not in s:
        s += ".0"
    return s


def _json_str(b: bytes) -> bytes:
    out = bytearray(b'"')
    for c in b:
        if c == 0x22:
            out += b'\\"'
        elif c == 0x5C:
            out += b"\\\\"
        elif c < 0x20:
            esc = {8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r"}.get(c)
            out += esc if esc else b"\\u%04x" % c
        else:
            out.append(c)
    out += b'"'
    return bytes(out)


def _sql_quote_text(b: bytes) -> bytes:
    return b"'" + b.replace(b"'", b"''") + b"'"


class _SqlText(bytes):
    """TEXT values (BLOBs arrive as plain ``bytes``)."""


class _SqlExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


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


def _sql_str(text: str) -> str:
    """SQL text sqlite can take: bytes that are not UTF-8 (kept as lone surrogates after
    decoding) become U+FFFD, so they reach the parser as an unknown token, not a crash; a NUL
    ends the text, as it does for sqlite's C interface."""
    if "\0" in text:
        text = text[: text.index("\0")]
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _disp_len(s: str) -> int:
    import unicodedata

    n = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def _quote_ident(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _split_sql(text: str) -> Iterator[tuple[str, int]]:
    """Split SQL text into complete statements (with the line each one starts on)."""
    i = 0
    n = len(text)
    start = 0
    line = 1
    start_line = 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = text.find(close, i + 1)
            while j != -1 and close != "]" and j + 1 < n and text[j + 1] == close:
                j = text.find(close, j + 2)
            j = n - 1 if j == -1 else j
            line += text.count("\n", i + 1, j + 1)
            i = j + 1
            continue
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            line += text.count("\n", i, j)
            i = j
            continue
        if c == ";":
            piece = text[start : i + 1]
            if _sqlite.complete_statement(_sql_str(piece)):
                if piece.strip(" \t\r\n;"):
                    yield piece, start_line
                start = i + 1
                start_line = line
        i += 1
    rest = text[start:]
    if rest.strip():
        yield rest, start_line


def _dot_args(line: str) -> list[str]:
    args: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        if line[i] in "'\"":
            q = line[i]
            j = i + 1
            buf: list[str] = []
            while j < n and line[j] != q:
                if q == '"' and line[j] == "\\" and j + 1 < n:
                    nxt = line[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(nxt, nxt))
                    j += 2
                    continue
                buf.append(line[j])
                j += 1
            args.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and line[j] not in " \t":
                j += 1
            args.append(line[i:j])
            i = j
    return args


def _sep_arg(s: str) -> bytes:
    return _enc(s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r"))


class _SqliteRunner:
    def __init__(self, ctx: Context, shell: _SqliteShell) -> None:
        self.ctx = ctx
        self.shell = shell
        self.status = 0

    def error_text(self, exc: _sqlite.Error, line: int | None, sql: str) -> tuple[str, int]:
        msg = str(exc)
        code = getattr(exc, "sqlite_errorcode", 1) or 1
        if line is not None:
            return f"Parse error near line {line}: {msg}\n", 1
        if (code & 0xFF) in (1, 23):  # SQLITE_ERROR, SQLITE_AUTH: raised while preparing
            return f"Error: in prepare, {msg}\n", 1
        return f"Error: stepping, {msg} ({code & 0xFF})\n", code & 0xFF

    async def sql(self, text: str, line_base: int | None) -> bool:
        """Run SQL text; returns False when an error should stop the input."""
        for stmt, line in _split_sql(text):
            self.ctx.check_killed()
            try:
                self.shell.run_sql(stmt)
            except (_sqlite.Error, OverflowError, ValueError) as exc:
                await self.shell.flush()
                # interrupted by the progress handler at the deadline: end as a timeout
                self.ctx.budget.check_time()
                if getattr(exc, "sqlite_errorcode", 0) == _sqlite.SQLITE_FULL:
                    # the in-memory database reached its share of max_memory
                    b = self.ctx.budget
                    b.limit_hit = b.limit_hit or "max_memory"
                if isinstance(exc, _sqlite.Error):
                    msg, code = self.error_text(
                        exc, None if line_base is None else line_base + line - 1, stmt
                    )
                else:
                    msg, code = f"Error: {exc}\n", 1
                await self.ctx.stderr.write(_enc(msg))
                self.status = code if line_base is None else 1
                return False
            await self.shell.flush()
        return True

    async def script(self, text: str) -> bool:
        """Run a script (stdin or .read): dot commands on their own lines, SQL otherwise."""
        buf: list[str] = []
        buf_line = 1
        ok = True
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for lineno, ln in enumerate(lines, 1):
            if not buf and ln.lstrip().startswith("."):
                if not await self.dot(ln.strip()):
                    ok = False
                    if self.shell.bail:
                        return False
                continue
            if not buf:
                if not ln.strip():
                    continue
                buf_line = lineno
            buf.append(ln)
            joined = "\n".join(buf)
            if _sqlite.complete_statement(_sql_str(joined)):
                buf = []
                if not await self.sql(joined, buf_line):
                    ok = False
                    if self.shell.bail:
                        return False
        if buf and "\n".join(buf).strip() and not await self.sql("\n".join(buf), buf_line):
            ok = False
        return ok

    async def dot(self, line: str) -> bool:
        sh = self.shell
        args = _dot_args(line[1:])
        if not args:
            return True
        cmd = args[0]
        rest = args[1:]
        try:
            if cmd in ("quit", "q"):
                raise _SqlExit(self.status)
            if cmd == "exit":
                raise _SqlExit(int(rest[0]) if rest and rest[0].lstrip("-").isdigit() else 0)
            if cmd in ("headers", "header", "h"):
                if not rest:
                    return await self.bad(line)
                sh.headers = rest[0].lower() in ("on", "yes", "1", "true")
                return True
            if cmd == "mode":
                if not rest:
                    await self.ctx.out(f"current output mode: {sh.mode}\n")
                    return True
                m = rest[0].lower()
                if m == "tab":
                    m = "tabs"
                if m not in _SQLITE_MODES:
                    await self.ctx.stderr.write(
                        b"Error: mode should be one of: " + " ".join(_SQLITE_MODES).encode() + b"\n"
                    )
                    self.status = 1
                    return False
                if m not in _SQLITE_SUPPORTED:
                    await self.ctx.stderr.write(_enc(f"Error: mode '{m}' is not supported\n"))
                    self.status = 1
                    return False
                sh.mode = m
                if m == "column":
                    sh.headers = True
                if m == "csv":
                    sh.colsep, sh.rowsep = b",", b"\r\n"
                elif m == "tabs":
                    sh.colsep, sh.rowsep = b"\t", b"\n"
                elif m == "list":
                    sh.colsep, sh.rowsep = b"|", b"\n"
                elif m == "line":
                    sh.rowsep = b"\n"
                if m == "insert":
                    sh.insert_table = rest[1] if len(rest) > 1 else "table"
                return True
            if cmd == "separator":
                if not rest:
                    return await self.bad(line)
                sh.colsep = _sep_arg(rest[0])
                if len(rest) > 1:
                    sh.rowsep = _sep_arg(rest[1])
                return True
            if cmd == "nullvalue":
                sh.nullvalue = _enc(rest[0]) if rest else b""
                return True
            if cmd == "bail":
                sh.bail = bool(rest) and rest[0].lower() in ("on", "yes", "1")
                return True
            if cmd in (
                "timer",
                "echo",
                "changes",
                "width",
                "eqp",
                "stats",
                "prompt",
                "output",
                "once",
            ):
                if cmd in ("output", "once") and rest:
                    await self.ctx.stderr.write(b"Error: .output/.once are not supported\n")
                    self.status = 1
                    return False
                return True
            if cmd == "print":
                await self.ctx.out(" ".join(rest) + "\n")
                return True
            if cmd == "help":
                await self.ctx.out(_SQLITE_DOT_HELP)
                return True
            if cmd in ("tables", "table"):
                await self.tables(rest[0] if rest else "%")
                return True
            if cmd == "schema":
                await self.schema(rest[0] if rest else None)
                return True
            if cmd in ("indexes", "indices"):
                await self.indexes(rest[0] if rest else None)
                return True
            if cmd == "dump":
                await self.dump(rest[0] if rest else None)
                return True
            if cmd == "read":
                if not rest:
                    return await self.bad(line)
                try:
                    text = _dec(ctx_read(self.ctx, rest[0]))
                except OSError:
                    await self.ctx.stderr.write(_enc(f'Error: cannot open "{rest[0]}"\n'))
                    self.status = 1
                    return False
                return await self.script(text)
            if cmd == "import":
                return await self.do_import(rest)
            return await self.bad(line)
        except _sqlite.Error as exc:
            await sh.flush()
            await self.ctx.stderr.write(_enc(f"Error: {exc}\n"))
            self.status = 1
            return False

    async def bad(self, line: str) -> bool:
        word = line[1:].split()[0] if line[1:].split() else ""
        await self.ctx.stderr.write(
            _enc(
                f'Error: unknown command or invalid arguments:  "{word}". Enter ".help" for help\n'
            )
        )
        self.status = 1
        return False

    async def tables(self, pattern: str) -> None:
        rows = self.shell.query(
            "SELECT name FROM sqlite_schema WHERE type IN ('table','view') "
            "AND name NOT LIKE 'sqlite_%' AND name LIKE ?1 ORDER BY 1",
            (pattern,),
        )
        names = [_dec(r[0]) if isinstance(r[0], bytes) else str(r[0]) for r in rows]
        if not names:
            return
        maxlen = max(len(n) for n in names)
        ncol = max(1, 80 // (maxlen + 2))
        nrow = (len(names) + ncol - 1) // ncol
        lines = []
        for i in range(nrow):
            parts: list[str] = []
            for j in range(i, len(names), nrow):
                parts.append(("  " if parts else "") + names[j].ljust(maxlen))
            lines.append("".join(parts))
        await self.ctx.out("\n".join(lines) + "\n")

    async def schema(self, pattern: str | None) -> None:
        sql = (
            "SELECT sql, type, name FROM sqlite_schema WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%'"
        )
        params: tuple[Any, ...] = ()
        if pattern is not None:
            sql += " AND (tbl_name LIKE ?1 OR name LIKE ?1)"
            params = (pattern,)
        sql += " ORDER BY tbl_name, type DESC, name" if False else " ORDER BY rowid"
        out = []
        for text, typ, name in self.shell.query(sql, params):
            s = _if_not_exists(_dec(text) if isinstance(text, bytes) else str(text))
            if (_dec(typ) if isinstance(typ, bytes) else typ) == "view":
                vname = _dec(name) if isinstance(name, bytes) else str(name)
                cols = self.shell.query(f"PRAGMA table_info({_quote_ident(vname)})")
                colnames = ",".join(
                    _view_col(_dec(c[1]) if isinstance(c[1], bytes) else str(c[1])) for c in cols
                )
                s += f"\n/* {_quote_ident(vname)}({colnames}) */"
            out.append(s + ";\n")
        await self.ctx.out("".join(out))

    async def indexes(self, table: str | None) -> None:
        sql = "SELECT name FROM sqlite_schema WHERE type='index' AND name NOT LIKE 'sqlite_%'"
        params: tuple[Any, ...] = ()
        if table is not None:
            sql += " AND tbl_name LIKE ?1"
            params = (table,)
        rows = self.shell.query(sql + " ORDER BY 1", params)
        for r in rows:
            await self.ctx.out(_dec(r[0]) if isinstance(r[0], bytes) else str(r[0]))
            await self.ctx.out("\n")

    async def dump(self, table: str | None) -> None:
        sh = self.shell
        out: list[bytes] = [b"PRAGMA foreign_keys=OFF;\n", b"BEGIN TRANSACTION;\n"]
        params: tuple[Any, ...] = ()
        cond = ""
        if table is not None:
            cond = " AND tbl_name LIKE ?1"
            params = (table,)
        tables = sh.query(
            "SELECT name, sql FROM sqlite_schema WHERE type='table' "
            "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%'" + cond + " ORDER BY rowid",
            params,
        )
        for name_b, sql_b in tables:
            self.ctx.check_killed()
            name = _dec(name_b) if isinstance(name_b, bytes) else str(name_b)
            sql = _dec(sql_b) if isinstance(sql_b, bytes) else str(sql_b)
            if sql.upper().startswith("CREATE VIRTUAL TABLE"):
                out.append(_enc(sql) + b";\n")
                continue
            out.append(_enc(_if_not_exists(sql)) + b";\n")
            cols = sh.query(f"PRAGMA table_info({_quote_ident(name)})")
            colnames = [_dec(c[1]) if isinstance(c[1], bytes) else str(c[1]) for c in cols]
            sel = ", ".join(f"typeof({_quote_ident(c)}), {_quote_ident(c)}" for c in colnames)
            qname = _quote_ident(name).encode()
            cur = sh.conn.execute(f"SELECT {sel} FROM {_quote_ident(name)}")
            for row in cur:
                vals = []
                for k in range(0, len(row), 2):
                    typ = row[k]
                    typ = _dec(typ) if isinstance(typ, bytes) else typ
                    v = row[k + 1]
                    if v is None:
                        vals.append(b"NULL")
                    elif typ == "integer":
                        vals.append(str(v).encode())
                    elif typ == "real":
                        vals.append(_sql_real(float(v), 20).encode())
                    elif typ == "blob":
                        vals.append(b"X'" + bytes(v).hex().encode() + b"'")
                    else:
                        vals.append(_dump_text(bytes(v) if isinstance(v, bytes) else _enc(v)))
                out.append(b"INSERT INTO " + qname + b" VALUES(" + b",".join(vals) + b");\n")
            cur.close()
        others_sql = (
            "SELECT sql FROM sqlite_schema WHERE type IN ('index','trigger','view') "
            "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
        # with a table pattern the shell dumps only the tables themselves
        others = [] if table is not None else sh.query(others_sql)
        for (sql_b,) in others:
            out.append((bytes(sql_b) if isinstance(sql_b, bytes) else _enc(sql_b)) + b";\n")
        out.append(b"COMMIT;\n")
        await self.ctx.stdout.write(b"".join(out))

    async def do_import(self, args: list[str]) -> bool:
        skip = 0
        opts_done: list[str] = []
        i = 0
        while i < len(args) and args[i].startswith("-") and len(args[i]) > 1:
            a = args[i].lstrip("-")
            if a == "skip" and i + 1 < len(args):
                skip = int(args[i + 1]) if args[i + 1].isdigit() else 0
                i += 2
                continue
            if a in ("csv", "ascii", "v"):
                opts_done.append(a)
                i += 1
                continue
            if a == "schema" and i + 1 < len(args):
                i += 2
                continue
            await self.ctx.stderr.write(_enc(f"Error: unknown option: {args[i]}\n"))
            self.status = 1
            return False
        rest = args[i:]
        if len(rest) != 2:
            await self.ctx.stderr.write(b"Error: Usage: .import [OPTIONS] FILE TABLE\n")
            self.status = 1
            return False
        fname, table = rest
        try:
            data = ctx_read(self.ctx, fname)
        except OSError:
            await self.ctx.stderr.write(_enc(f'Error: cannot open "{fname}"\n'))
            self.status = 1
            return False
        sh = self.shell
        use_csv = "csv" in opts_done or sh.mode == "csv"
        text = _dec(data)
        if use_csv:
            sep = _dec(sh.colsep) if sh.mode == "csv" or sh.colsep == b"," else ","
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep or ",")
            records = [r for r in reader]
        else:
            sep = _dec(sh.colsep) or "|"
            records = [ln.rstrip("\r").split(sep) for ln in text.split("\n")]
            if records and records[-1] == [""]:
                records.pop()
        records = records[skip:]
        if not records:
            return True
        exists = sh.query(
            "SELECT 1 FROM sqlite_schema WHERE type IN ('table','view') AND name = ?1", (table,)
        )
        qt = _quote_ident(table)
        if not exists:
            header = records[0]
            records = records[1:]
            cols = ", ".join('"' + h.replace('"', '""') + '" TEXT' for h in header)
            sh.conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}"(\n{cols})'
                if not _IDENT.match(table) or True
                else ""
            )
        ncols = len(sh.query(f"PRAGMA table_info({qt})"))
        ph = ",".join("?" * ncols)
        sh.conn.execute("BEGIN")
        try:
            for lineno, rec in enumerate(records, 2 + skip):
                if len(rec) < ncols:
                    await self.ctx.stderr.write(
                        _enc(
                            f"{fname}:{lineno}: expected {ncols} columns but found {len(rec)}"
                            " - filling the rest with NULL\n"
                        )
                    )
                    rec = rec + [None] * (ncols - len(rec))  # type: ignore[list-item]
                elif len(rec) > ncols:
                    await self.ctx.stderr.write(
                        _enc(
                            f"{fname}:{lineno}: expected {ncols} columns but found {len(rec)}"
                            " - extras ignored\n"
                        )
                    )
                    rec = rec[:ncols]
                sh.conn.execute(f"INSERT INTO {qt} VALUES({ph})", rec)
        finally:
            sh.conn.execute("COMMIT")
        return True


def _if_not_exists(sql: str) -> str:
    """The shell shows tables with quoted names as ``CREATE TABLE IF NOT EXISTS``."""
    if sql.startswith("CREATE TABLE ") and sql[13:14] in ("'", '"'):
        return "CREATE TABLE IF NOT EXISTS " + sql[13:]
    return sql


def _view_col(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _dump_text(b: bytes) -> bytes:
    q = _sql_quote_text(b)
    if b"\n" in b or b"\r" in b:
        inner = q
        wrap_n = b"\n" in b
        wrap_r = b"\r" in b
        if wrap_n:
            inner = inner.replace(b"\n", b"\\n")
        if wrap_r:
            inner = inner.replace(b"\r", b"\\r")
        if wrap_r:
            inner = b"replace(" + inner + b",'\\r',char(13))"
        if wrap_n:
            inner = b"replace(" + inner + b",'\\n',char(10))"
        return inner
    return q


def ctx_read(ctx: Context, path: str) -> bytes:
    return ctx.fs.read_bytes(path)


def _sqlite_progress(ctx: Context) -> Callable[[], int]:
    import time as _time

    deadline = ctx.budget.deadline

    def check() -> int:
        if ctx.info is not None and ctx.info.pending_signal is not None:
            return 1
        if deadline is not None and _time.monotonic() > deadline:
            return 1
        return 0

    return check


_FMT_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")


def _bounded_printf(limit: int) -> Callable[..., Any]:
    """``printf``/``format`` that refuses a width or precision past ``limit`` before SQLite's
    own, which pads one character at a time and cannot be interrupted (2e9 takes a minute),
    then formats with the built-in on a private connection."""
    aux = _sqlite.connect(":memory:", check_same_thread=False)
    aux.setlimit(_sqlite.SQLITE_LIMIT_LENGTH, limit)

    def printf(fmt: Any = None, *args: Any) -> Any:
        if isinstance(fmt, str):
            i = 0
            for m in _FMT_SPEC.finditer(fmt):
                if m.group(4) == "%":
                    continue
                for part in (m.group(2), m.group(3)):
                    if part == "*":
                        v = args[i] if i < len(args) else 0
                        i += 1
                        n = abs(int(v)) if isinstance(v, (int, float)) else 0
                    else:
                        n = int(part) if part else 0
                    if n > limit:
                        raise _sqlite.DataError("string or blob too big")
                i += 1
        marks = ",".join("?" * (1 + len(args)))
        return aux.execute(f"select printf({marks})", (fmt, *args)).fetchone()[0]

    return printf


def _deny_attach(action: int, *args: Any) -> int:
    if action == _sqlite.SQLITE_ATTACH:
        return _sqlite.SQLITE_DENY
    return _sqlite.SQLITE_OK


@command("sqlite3")
async def sqlite3_cmd(ctx: Context) -> int:
    argv = ctx.argv[1:]
    db: str | None = None
    sql_args: list[str] = []
    cmds: list[str] = []
    mode = "list"
    headers: bool | None = None
    colsep: bytes | None = None
    rowsep: bytes | None = None
    nullvalue = b""
    bail = False
    readonly = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1 and (db is None or not sql_args):
            o = a.lstrip("-")
            if o in (
                "box",
                "column",
                "csv",
                "json",
                "line",
                "list",
                "markdown",
                "table",
                "tabs",
                "quote",
            ):
                mode = o
            elif o == "header" or o == "headers":
                headers = True
            elif o == "noheader":
                headers = False
            elif o in ("separator", "newline", "nullvalue", "cmd") and i + 1 < len(argv):
                v = argv[i + 1]
                i += 1
                if o == "separator":
                    colsep = _sep_arg(v)
                elif o == "newline":
                    rowsep = _sep_arg(v)
                elif o == "nullvalue":
                    nullvalue = _enc(v)
                else:
                    cmds.append(v)
            elif o == "bail":
                bail = True
            elif o == "readonly":
                readonly = True
            elif o in ("batch", "interactive", "echo", "safe", "nofollow", "memtrace", "stats"):
                pass
            elif o == "version":
                await ctx.out(_sqlite.sqlite_version + "\n")
                return 0
            elif o == "help":
                await ctx.out(_SQLITE_USAGE)
                return 0
            elif o in ("separator", "newline", "nullvalue", "cmd"):
                await ctx.stderr.write(_enc(f"sqlite3: Error: missing argument to {a}\n"))
                return 1
            else:
                await ctx.stderr.write(
                    _enc(f"sqlite3: Error: unknown option: {a}\nUse -help for a list of options.\n")
                )
                return 1
            i += 1
            continue
        if db is None:
            db = a
        else:
            sql_args.append(a)
        i += 1
    name = db if db is not None else ":memory:"
    persistent = name not in (":memory:", "")
    original = b""
    existed = False
    if persistent:
        try:
            st = ctx.fs.stat(name)
            if st.is_dir():
                await ctx.stderr.write(
                    _enc(f'Error: unable to open database "{name}": unable to open database file\n')
                )
                return 1
            original = ctx.fs.read_bytes(name)
            existed = True
        except FileNotFoundError:
            existed = False
        except OSError as exc:
            await ctx.stderr.write(
                _enc(f'Error: unable to open database "{name}": {exc.strerror}\n')
            )
            return 1
    conn = _sqlite.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.text_factory = _SqlText
        if original:
            try:
                conn.deserialize(original)
            except _sqlite.Error as exc:
                await ctx.stderr.write(_enc(f"Error: {exc}\n"))
                return 1
        conn.setlimit(_sqlite.SQLITE_LIMIT_ATTACHED, 0)
        # bounded by the exec's memory budget: one string or blob (printf('%.*c', 2e9, 'x')),
        # one statement, and the database itself (pages of the in-memory file)
        mem = ctx.limits.max_memory
        conn.setlimit(_sqlite.SQLITE_LIMIT_LENGTH, max(1 << 20, min(mem // 4, 1_000_000_000)))
        conn.setlimit(_sqlite.SQLITE_LIMIT_SQL_LENGTH, max(1 << 20, min(mem // 4, 1_000_000_000)))
        bounded = _bounded_printf(max(1 << 20, min(mem // 4, 1_000_000_000)))
        conn.create_function("printf", -1, bounded)
        conn.create_function("format", -1, bounded)
        try:
            page = conn.execute("PRAGMA page_size").fetchone()[0] or 4096
            conn.execute(f"PRAGMA max_page_count={max(16, mem // (2 * page))}")
            conn.execute(f"PRAGMA cache_size=-{max(64, mem // 8192)}")
        except _sqlite.Error:
            pass  # not a database: the first statement reports it
        conn.set_authorizer(_deny_attach)
        conn.set_progress_handler(_sqlite_progress(ctx), 10000)
        conn.execute("PRAGMA temp_store=MEMORY")
        shell = _SqliteShell(ctx, conn)
        shell.mode = mode
        shell.bail = bail
        if mode == "csv":
            shell.colsep = b","
        elif mode == "tabs":
            shell.colsep = b"\t"
        if headers is not None:
            shell.headers = headers
        if colsep is not None:
            shell.colsep = colsep
        if rowsep is not None:
            shell.rowsep = rowsep
        shell.nullvalue = nullvalue
        runner = _SqliteRunner(ctx, shell)
        status = 0
        try:
            for c in cmds:
                if c.startswith("."):
                    ok = await runner.dot(c)
                else:
                    ok = await runner.sql(c, None)
                if not ok and bail:
                    raise _SqlExit(runner.status or 1)
            if sql_args:
                for s in sql_args:
                    if s.startswith("."):
                        ok = await runner.dot(s)
                    else:
                        ok = await runner.sql(s, None)
                    if not ok:
                        raise _SqlExit(runner.status or 1)
            else:
                text = _dec(await ctx.stdin.read())
                ok = await runner.script(text)
            status = runner.status
        except _SqlExit as e:
            status = e.code
        await shell.flush()
        if persistent and not readonly:
            try:
                new = conn.serialize() if _schema_nonempty(conn) else b""
            except _sqlite.Error:
                new = b""
            if not existed or new != original:
                try:
                    ctx.fs.write_bytes(name, new)
                except OSError as exc:
                    await ctx.stderr.write(
                        _enc(f'Error: unable to write database "{name}": {exc.strerror}\n')
                    )
                    return 1
        return status
    finally:
        conn.close()


def _schema_nonempty(conn: _sqlite.Connection) -> bool:
    try:
        return bool(conn.execute("PRAGMA page_count").fetchone()[0])
    except _sqlite.Error:
        return True
