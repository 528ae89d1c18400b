"""The sqlite3 shell's input: SQL scripts run statement by statement with the real shell's
error messages, and the dot-commands (.mode, .tables, .schema, .dump, .import, ...)."""

from __future__ import annotations

import csv
import io
import sqlite3 as _sqlite
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _dec, _enc
from pocketos.commands._sqlite.output import _SQLITE_MODES, _SQLITE_SUPPORTED, _SqliteShell
from pocketos.commands._sqlite.text import (
    _IDENT,
    _dump_text,
    _if_not_exists,
    _quote_ident,
    _split_sql,
    _sql_real,
    _sql_str,
    _view_col,
)

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


class _SqlExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


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


def ctx_read(ctx: Context, path: str) -> bytes:
    return ctx.fs.read_bytes(path)
