"""sqlite3: the sqlite3 shell on an in-memory or VM-file database."""

from __future__ import annotations

import sqlite3 as _sqlite
from typing import TYPE_CHECKING

from pocketos.commands import command

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _dec, _enc
from pocketos.commands._sqlite.dot import _sep_arg, _SqlExit, _SqliteRunner
from pocketos.commands._sqlite.guard import _bounded_printf, _deny_attach, _sqlite_progress
from pocketos.commands._sqlite.output import _SqliteShell
from pocketos.commands._sqlite.text import _SqlText

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
