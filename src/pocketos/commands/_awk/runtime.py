"""Runtime state of one awk run: records and fields, input readers, output streams, builtins."""

from __future__ import annotations

import asyncio
import calendar
import codecs
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pocketos.commands._awk.format import sprintf
from pocketos.commands._awk.lexer import unescape
from pocketos.commands._awk.regex import AwkRegexError, compile_ere
from pocketos.commands._awk.values import (
    EMPTY,
    UNINIT,
    AwkArray,
    AwkFatal,
    StrNum,
    fmt_number,
    num,
    numval,
    strnum_value,
)
from pocketos.kernel.streams import Pipe
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["AwkExit", "NextFile", "NextRecord", "Runtime"]


class NextRecord(Exception):
    pass


class NextFile(Exception):
    pass


class AwkExit(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


#: told of every long string the program makes (see Runtime.note_big)
BIG_STRING: ContextVar[Callable[[int], None] | None] = ContextVar("awk_big_string", default=None)
#: host bytes per array element beyond its key and value text (dict slot, str objects)
_ELEMENT = 120

_NOT_AWK_WS = re.compile(r"[\r\x0b\x0c\x1c-\x1f]")
_AWK_FIELDS = re.compile(r"[^ \t\n]+")
_AWK_FIELDS_PARA = re.compile(r"[^ \t\n]+")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=", re.DOTALL)
_DIGITS = frozenset("0123456789.")
_UPPER = {i: i - 32 for i in range(ord("a"), ord("z") + 1)}
_LOWER = {i: i + 32 for i in range(ord("A"), ord("Z") + 1)}
CHUNK = 65536

ReadFn = Callable[[], Awaitable[bytes]]


class Reader:
    """Splits a byte source into records according to RS."""

    __slots__ = ("read", "decoder", "buf", "pos", "eof", "batch", "bi", "rt", "closed", "closer")

    def __init__(self, read: ReadFn, codec: str) -> None:
        self.read = read
        self.decoder = codecs.getincrementaldecoder(codec)("surrogateescape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.batch: list[str] = []
        self.bi = 0
        self.rt = "\n"
        self.closed = False
        self.closer: Callable[[], Any] | None = None

    def close(self) -> None:
        if self.closer is not None and not self.closed:
            self.closed = True
            try:
                self.closer()
            except OSError:
                pass

    async def _fill(self) -> bool:
        if self.eof:
            return False
        data = await self.read()
        if self.pos:
            self.buf = self.buf[self.pos :]
            self.pos = 0
        if not data:
            self.eof = True
            tail = self.decoder.decode(b"", True)
            if tail:
                self.buf += tail
            return False
        self.buf += self.decoder.decode(data)
        return True

    def _unbatch(self) -> None:
        if self.bi < len(self.batch):
            self.buf = "\n".join(self.batch[self.bi :]) + "\n" + self.buf[self.pos :]
            self.pos = 0
        self.batch = []
        self.bi = 0

    def _rest(self) -> str | None:
        """The unterminated last record at end of input."""
        r = self.buf[self.pos :]
        self.buf = ""
        self.pos = 0
        self.rt = ""
        return r if r else None

    async def next(self, rs: str) -> str | None:
        """The next record (None at end of input); ``self.rt`` is its terminator."""
        if rs == "\n":
            b = self.batch
            if self.bi < len(b):
                r = b[self.bi]
                self.bi += 1
                self.rt = "\n"
                return r
            while True:
                i = self.buf.rfind("\n", self.pos)
                if i >= 0:
                    self.batch = b = self.buf[self.pos : i].split("\n")
                    self.buf = self.buf[i + 1 :]
                    self.pos = 0
                    self.bi = 1
                    self.rt = "\n"
                    return b[0]
                if not await self._fill():
                    return self._rest()
        self._unbatch()
        if rs == "":
            return await self._paragraph()
        if len(rs) == 1:
            while True:
                i = self.buf.find(rs, self.pos)
                if i >= 0:
                    r = self.buf[self.pos : i]
                    self.pos = i + 1
                    self.rt = rs
                    return r
                if not await self._fill():
                    return self._rest()
        pat = compile_ere(rs)
        while True:
            m = pat.search(self.buf, self.pos)
            if m is not None and m.end() > m.start() and (m.end() < len(self.buf) or self.eof):
                r = self.buf[self.pos : m.start()]
                self.rt = m.group()
                self.pos = m.end()
                return r
            if not await self._fill():
                if m is not None and m.end() > m.start():
                    continue
                return self._rest()

    async def _paragraph(self) -> str | None:
        # skip leading newlines
        while True:
            n = len(self.buf)
            p = self.pos
            while p < n and self.buf[p] == "\n":
                p += 1
            self.pos = p
            if p < n:
                break
            if not await self._fill():
                return None
        while True:
            m = _PARA_SEP.search(self.buf, self.pos)
            if m is not None and (m.end() < len(self.buf) or self.eof):
                r = self.buf[self.pos : m.start()]
                self.rt = m.group()
                self.pos = m.end()
                return r
            if not await self._fill():
                if m is not None:
                    continue
                r = self.buf[self.pos :]
                self.buf = ""
                self.pos = 0
                if r.endswith("\n"):
                    self.rt = "\n"
                    r = r[:-1]
                else:
                    self.rt = ""
                return r if r else None


_PARA_SEP = re.compile(r"\n\n+")


class Output:
    """An output redirection target."""

    __slots__ = ("kind", "name", "handle", "pieces", "task", "broken")

    def __init__(self, kind: str, name: str, handle: Any = None) -> None:
        self.kind = kind  # file | pipe | stdout | stderr
        self.name = name
        #: a file handle, or for pipes the write end feeding the command
        self.handle = handle
        self.pieces: list[str] = []
        #: for pipes: the task running the command (its result is the exit status)
        self.task: asyncio.Task[int] | None = None
        self.broken = False


class InputCommand:
    """A command whose output ``getline`` reads while it runs."""

    __slots__ = ("reader", "pipe", "task")

    def __init__(self, reader: Reader, pipe: Pipe, task: asyncio.Task[int]) -> None:
        self.reader = reader
        self.pipe = pipe
        self.task = task

    async def close(self) -> int:
        self.pipe.reader.close()
        try:
            return await self.task
        except BrokenPipeError:
            return 141


class Runtime:
    def __init__(self, ctx: Context, G: dict[str, Any], codec: str, prog_name: str) -> None:
        self.ctx = ctx
        self.G = G
        self.codec = codec
        self.byte_chars = codec == "latin-1"
        self.name = prog_name
        self.ob: list[str] = []
        self.rec = ""
        self.fields: list[str] | None = None
        self.dirty = False
        self.split_fs = " "
        self.para = False
        self.main_reader: Reader | None = None
        self.argi = 1
        self.used_file = False
        self.inputs_done = False
        self.outputs: dict[str, Output] = {}
        self.in_files: dict[str, Reader] = {}
        self.in_cmds: dict[str, InputCommand] = {}
        self.glv: Any = UNINIT
        self.rng = random.Random(0)
        self.seed = 0.0
        self.prev_seed = 0.0
        self.exit_code = 0
        self.uses_rt = False
        #: what the global arrays hold, charged to the exec's memory budget at each tick
        self.held_arrays = ctx.budget.hold("awk: arrays")
        self._arr_ticks = 0
        self._arr_count = 0
        self._arr_bytes = 0
        self._big = 0
        BIG_STRING.set(self.note_big)
        self.fs_cache: tuple[str, bool, Any] = ("", False, None)
        self.beginfile: Callable[[], Awaitable[None]] | None = None
        self.endfile: Callable[[], Awaitable[None]] | None = None
        self.fnr_name = ""
        self.pending: list[str] = []

    # --- conversions --------------------------------------------------------------------
    def tostr(self, v: Any) -> str:
        if v.__class__ is float:
            if v.is_integer():
                return "%d" % v  # noqa: UP031
            return fmt_number(v, self.G["V_CONVFMT"])
        return v  # type: ignore[no-any-return]

    def tostr_out(self, v: Any) -> str:
        if v.__class__ is float:
            if v.is_integer():
                return "%d" % v  # noqa: UP031
            return fmt_number(v, self.G["V_OFMT"])
        return v  # type: ignore[no-any-return]

    def fatal(self, msg: str) -> AwkFatal:
        return AwkFatal(msg)

    # --- records and fields ---------------------------------------------------------------
    def set_record(self, rec: str) -> None:
        self.rec = rec
        self.fields = None
        self.dirty = False
        self.split_fs = self.G["V_FS"]

    def split_record(self) -> list[str]:
        s = self.rec
        fs = self.split_fs
        if fs == " ":
            if s.isascii() and (s.isprintable() or _NOT_AWK_WS.search(s) is None):
                f = s.split()
            else:
                f = self.split_with(s, fs, self.para)
        elif len(fs) == 1 and fs != "\\" and not self.para:
            # a single-character FS splits literally (as split_with does)
            f = s.split(fs) if s else []
        else:
            f = self.split_with(s, fs, self.para)
        self.fields = f
        return f

    def split_with(self, s: str, fs: str, para: bool = False) -> list[str]:
        if not s:
            return []
        if fs == " ":
            if s.isascii() and _NOT_AWK_WS.search(s) is None:
                return s.split()
            return _AWK_FIELDS.findall(s)
        if para:
            if len(fs) == 1 and fs != "\\":
                pat = safe_regex.compile(re.escape(fs) + "|\n")
            else:
                pat = safe_regex.compile("(?:" + self.regex_src(fs) + ")|\n", re.DOTALL)
            return pat.split(s)
        if len(fs) == 1 and fs != "\\":
            return s.split(fs)
        if fs == "":
            return list(s)
        cached = self.fs_cache
        if cached[0] == fs:
            pat = cached[2]
        else:
            pat = self.regex(fs)
            self.fs_cache = (fs, False, pat)
        return pat.split(s)  # type: ignore[no-any-return]

    def regex_src(self, s: str) -> str:
        return self.regex(s).pattern

    def regex(self, s: str) -> SafePattern:
        try:
            return compile_ere(s, re.ASCII if self.byte_chars else 0)
        except AwkRegexError as exc:
            raise AwkFatal(f"invalid regexp: {exc}: /{s}/")

    def get0(self) -> str:
        if self.dirty:
            self.rebuild()
        return self.rec

    def rebuild(self) -> None:
        f = self.fields or []
        self.rec = self.tostr(self.G["V_OFS"]).join(f)
        self.dirty = False

    def getf(self, i: int) -> Any:
        if i == 0:
            if self.dirty:
                self.rebuild()
            return StrNum(self.rec)
        f = self.fields
        if f is None:
            f = self.split_record()
        if 0 < i <= len(f):
            return StrNum(f[i - 1])
        if i < 0:
            raise AwkFatal(f"attempt to access field {i}")
        return EMPTY

    def getfs(self, i: int) -> str:
        if i <= 0:
            if i == 0:
                if self.dirty:
                    self.rebuild()
                return self.rec
            raise AwkFatal(f"attempt to access field {i}")
        f = self.fields
        if f is None:
            f = self.split_record()
        if i <= len(f):
            return f[i - 1]
        return ""

    def getfn(self, i: int) -> float:
        """Numeric value of field ``i``."""
        if i <= 0:
            if i == 0:
                return num(self.get0())
            raise AwkFatal(f"attempt to access field {i}")
        f = self.fields
        if f is None:
            f = self.split_record()
        if i <= len(f):
            v = f[i - 1]
            try:
                r = float(v)
            except ValueError:
                return num(v)
            if v[-1] in _DIGITS and "_" not in v:
                return r
            return num(v)
        return 0.0

    def fidx(self, v: Any) -> int:
        x = num(v)
        if x < 0:
            raise AwkFatal(f"attempt to access field {int(x)}")
        return int(x)

    def setf(self, i: int, v: Any) -> Any:
        if i == 0:
            self.set_record(self.tostr(v))
            return v
        if i < 0:
            raise AwkFatal(f"attempt to access field {i}")
        f = self.fields
        if f is None:
            f = self.split_record()
        if i > len(f):
            f.extend([""] * (i - len(f)))
        f[i - 1] = self.tostr(v)
        self.dirty = True
        return v

    def touchf(self, i: int) -> float:
        """Make field ``i`` exist without rebuilding $0 (a sub/gsub target that did not change)."""
        f = self.fields
        if f is None:
            f = self.split_record()
        if i > len(f):
            f.extend([""] * (i - len(f)))
        return 0.0

    def getnf(self) -> float:
        f = self.fields
        if f is None:
            f = self.split_record()
        return float(len(f))

    def setnf(self, v: Any) -> Any:
        n = int(num(v))
        if n < 0:
            raise AwkFatal(f"NF set to negative value {n}")
        f = self.fields
        if f is None:
            f = self.split_record()
        if n < len(f):
            del f[n:]
        else:
            f.extend([""] * (n - len(f)))
        self.dirty = True
        return v

    def incf(self, i: int, d: float, post: bool) -> float:
        old = num(self.getf(i))
        self.setf(i, old + d)
        return old if post else old + d

    # --- special variables ------------------------------------------------------------------
    def setsp(self, name: str, v: Any) -> Any:
        G = self.G
        if name in ("NR", "FNR"):
            G["V_" + name] = num(v)
        elif name == "NF":
            self.setnf(v)
        else:
            G["V_" + name] = self.tostr(v)
            if name == "RS":
                self.para = G["V_RS"] == ""
        return v

    # --- input --------------------------------------------------------------------------
    def _file_reader(self, path: str) -> Reader:
        h = self.ctx.fs.open(path, "rb")
        done = False

        def close() -> None:
            nonlocal done
            if not done:
                done = True
                h.close()

        async def read() -> bytes:
            if done:
                return b""
            data: bytes = h.read(CHUNK)
            if not data:
                close()
            return data

        r = Reader(read, self.codec)
        r.closer = close
        return r

    def _stdin_reader(self) -> Reader:
        stdin = self.ctx.stdin

        async def read() -> bytes:
            return await stdin.read(CHUNK)

        return Reader(read, self.codec)

    def assign_operand(self, arg: str) -> None:
        name, _, value = arg.partition("=")
        key = "V_" + name
        if isinstance(self.G.get(key), dict):
            raise AwkFatal(f"cannot use array `{name}' in scalar context")
        if name in ("FS", "OFS", "ORS", "RS", "SUBSEP", "CONVFMT", "OFMT", "NR", "FNR", "NF"):
            self.setsp(name, StrNum(unescape(value)))
        else:
            self.G[key] = StrNum(unescape(value))

    async def open_next(self) -> bool:
        """Advance to the next input file; False when none is left."""
        G = self.G
        while True:
            argc = int(num(G["V_ARGC"]))
            if self.argi >= argc:
                if self.used_file:
                    return False
                self.used_file = True
                self.main_reader = self._stdin_reader()
                G["V_FNR"] = 0.0
                G["V_FILENAME"] = "-"
                if self.beginfile is not None:
                    await self.beginfile()
                return True
            argv = G["V_ARGV"]
            key = str(self.argi)
            self.argi += 1
            arg = self.tostr(argv[key]) if key in argv else ""
            if arg == "":
                continue
            if _ASSIGN.match(arg):
                self.assign_operand(arg)
                continue
            self.used_file = True
            if arg in ("-", "/dev/stdin"):
                self.main_reader = self._stdin_reader()
            else:
                try:
                    st = self.ctx.fs.stat(arg)
                    if st.is_dir():
                        await self.warn(
                            f"warning: command line argument `{arg}' is a directory: skipped"
                        )
                        continue
                    self.main_reader = self._file_reader(arg)
                except OSError as exc:
                    raise AwkFatal(
                        f"cannot open file `{arg}' for reading: {exc.strerror or exc}", False
                    )
            G["V_FILENAME"] = arg
            G["V_FNR"] = 0.0
            if self.beginfile is not None:
                await self.beginfile()
            return True

    async def next_main(self) -> str | None:
        """Read the next main-input record, advancing NR and FNR."""
        G = self.G
        while True:
            r = self.main_reader
            if r is None:
                if self.inputs_done or not await self.open_next():
                    self.inputs_done = True
                    return None
                r = self.main_reader
                assert r is not None
            rec = await r.next(G["V_RS"])
            if rec is not None:
                G["V_NR"] += 1.0
                G["V_FNR"] += 1.0
                if self.uses_rt:
                    G["V_RT"] = r.rt
                return rec
            await self.end_file()

    async def end_file(self) -> None:
        if self.main_reader is not None:
            self.main_reader.close()
        self.main_reader = None
        if self.endfile is not None:
            await self.endfile()

    async def skip_file(self) -> None:
        if self.main_reader is not None:
            await self.end_file()

    def _got(self, rec: str, into_record: bool) -> float:
        """A record read by getline: into $0 (and NF) or into the target variable."""
        if into_record:
            self.set_record(rec)
        else:
            self.glv = StrNum(rec)
        return 1.0

    async def getline_main(self, into_record: bool) -> float:
        rec = await self.next_main()
        if rec is None:
            return 0.0
        return self._got(rec, into_record)

    async def getline_file(self, name: Any, into_record: bool) -> float:
        name = self.tostr(name)
        if name == "":
            raise AwkFatal("expression for `<' redirection has null string value")
        r = self.in_files.get(name)
        if r is None:
            try:
                if name in ("-", "/dev/stdin"):
                    r = self._stdin_reader()
                else:
                    r = self._file_reader(name)
            except OSError:
                return -1.0
            self.in_files[name] = r
        try:
            rec = await r.next(self.G["V_RS"])
        except OSError:
            return -1.0
        if rec is None:
            return 0.0
        if self.uses_rt:
            self.G["V_RT"] = r.rt
        return self._got(rec, into_record)

    async def getline_cmd(self, cmd: Any, into_record: bool) -> float:
        cmd = self.tostr(cmd)
        if cmd == "":
            raise AwkFatal("expression for `|' redirection has null string value")
        ent = self.in_cmds.get(cmd)
        if ent is None:
            await self.flush_all()
            pipe = Pipe(self.ctx.limits.pipe_buffer)
            ctx = self.ctx

            async def child() -> int:
                try:
                    return await ctx.run(["sh", "-c", cmd], stdout=pipe.writer)
                finally:
                    pipe.writer.close()

            async def read() -> bytes:
                return await pipe.reader.read(CHUNK)

            ent = InputCommand(Reader(read, self.codec), pipe, asyncio.ensure_future(child()))
            self.in_cmds[cmd] = ent
        r = ent.reader
        rec = await r.next(self.G["V_RS"])
        if rec is None:
            return 0.0
        if self.uses_rt:
            self.G["V_RT"] = r.rt
        return self._got(rec, into_record)

    # --- output -------------------------------------------------------------------------
    def encode(self, s: str) -> bytes:
        try:
            return s.encode(self.codec, "surrogateescape")
        except UnicodeEncodeError:
            return s.encode("utf-8", "surrogateescape")

    async def flush(self) -> None:
        if self.pending:
            msgs = self.pending[:]
            self.pending.clear()
            for m in msgs:
                await self.ctx.stderr.write(self.encode(f"{self.name}: cmd. line:1: {m}\n"))
        if self.ob:
            data = self.encode("".join(self.ob))
            self.ob.clear()
            await self.ctx.stdout.write(data)

    async def warn(self, msg: str) -> None:
        await self.flush()
        await self.ctx.stderr.write(self.encode(f"{self.name}: {msg}\n"))

    async def redirect(self, kind: str, target: Any, s: str) -> None:
        name = self.tostr(target)
        o = self.outputs.get(name)
        if o is None:
            if name == "":
                raise AwkFatal(f"expression for `{kind}' redirection has null string value")
            o = await self.open_output(kind, name)
        if o.kind == "stdout":
            self.ob.append(s)
            if len(self.ob) > 512:
                await self.flush()
        elif o.kind == "stderr":
            await self.flush()
            await self.ctx.stderr.write(self.encode(s))
        elif o.kind == "pipe":
            o.pieces.append(s)
            if len(o.pieces) > 512:
                await self._feed(o)
        else:
            o.pieces.append(s)
            if len(o.pieces) > 512:
                self._flush_file(o)

    async def open_output(self, kind: str, name: str) -> Output:
        if kind == "|":
            await self.flush()
            pipe = Pipe(self.ctx.limits.pipe_buffer)
            ctx = self.ctx

            async def child() -> int:
                try:
                    return await ctx.run(["sh", "-c", name], stdin=pipe.reader)
                finally:
                    pipe.reader.close()

            o = Output("pipe", name, pipe.writer)
            o.task = asyncio.ensure_future(child())
        elif name in ("/dev/stdout", "-"):
            o = Output("stdout", name)
        elif name == "/dev/stderr":
            o = Output("stderr", name)
        else:
            try:
                h = self.ctx.fs.open(name, "ab" if kind == ">>" else "wb")
            except OSError as exc:
                raise AwkFatal(f"can't redirect to `{name}' ({exc.strerror or exc})")
            o = Output("file", name, h)
        self.outputs[name] = o
        return o

    async def _feed(self, o: Output) -> None:
        """Write what was printed to a pipe into it (dropped once the command stopped reading)."""
        if o.pieces:
            data = self.encode("".join(o.pieces))
            o.pieces.clear()
            if not o.broken:
                try:
                    await o.handle.write(data)
                except BrokenPipeError:
                    o.broken = True

    def _flush_file(self, o: Output) -> None:
        if o.pieces:
            data = self.encode("".join(o.pieces))
            o.pieces.clear()
            o.handle.write(data)

    async def _close_output(self, o: Output) -> int:
        if o.kind == "file":
            self._flush_file(o)
            o.handle.close()
            return 0
        if o.kind == "pipe":
            await self._feed(o)
            o.handle.close()
            assert o.task is not None
            return await o.task
        if o.kind == "stdout":
            await self.flush()
        return 0

    async def close(self, name: Any, how: Any = None) -> float:
        name = self.tostr(name)
        result = -1.0
        o = self.outputs.pop(name, None)
        if o is not None:
            if o.kind == "pipe":
                await self.flush()
            result = float(await self._close_output(o))
        r = self.in_files.pop(name, None)
        if r is not None:
            r.close()
            result = 0.0
        ent = self.in_cmds.pop(name, None)
        if ent is not None:
            result = float(await ent.close())
        return result

    async def fflush(self, name: Any = None) -> float:
        if name is None:
            await self.flush_all()
            return 0.0
        name = self.tostr(name)
        if name == "":
            await self.flush_all()
            return 0.0
        o = self.outputs.get(name)
        if o is None:
            return -1.0
        if o.kind == "file":
            self._flush_file(o)
        elif o.kind == "pipe":
            await self._feed(o)
        elif o.kind == "stdout":
            await self.flush()
        return 0.0

    async def flush_all(self) -> None:
        await self.flush()
        for o in list(self.outputs.values()):
            if o.kind == "file":
                self._flush_file(o)
            elif o.kind == "pipe":
                await self._feed(o)

    def cancel_children(self) -> None:
        """Stop commands still attached to pipes (the program is being aborted)."""
        for ent in self.in_cmds.values():
            ent.pipe.reader.close()
            if not ent.task.done():
                ent.task.cancel()
        for o in self.outputs.values():
            if o.task is not None and not o.task.done():
                o.handle.close()
                o.task.cancel()

    async def system(self, cmd: Any) -> float:
        await self.flush_all()
        status = await self.ctx.run(["sh", "-c", self.tostr(cmd)])
        return float(status)

    async def close_all(self) -> None:
        for r in self.in_files.values():
            r.close()
        self.in_files.clear()
        if self.main_reader is not None:
            self.main_reader.close()
        for name in list(self.in_cmds):
            await self.in_cmds.pop(name).close()
        for name in list(self.outputs):
            if self.outputs[name].kind == "pipe":
                await self._close_output(self.outputs.pop(name))
        await self.flush()
        for name in list(self.outputs):
            o = self.outputs.pop(name)
            await self._close_output(o)

    async def tick(self) -> None:
        ctx = self.ctx
        ctx.check_killed()
        ctx.budget.check_time()
        self.charge_arrays()
        await asyncio.sleep(0)

    def note_big(self, n: int) -> None:
        """A string of ``n`` bytes was made: after every MiB of them, measure the arrays at
        once (``a[i++] = sprintf("%100000s", i)`` grows fast between ticks)."""
        self._big += n
        if self._big >= 1 << 20:
            self._big = 0
            self.charge_arrays(force=True)

    def charge_arrays(self, force: bool = False) -> None:
        """Charge the global arrays to the memory budget (``while (1) a[i++] = s`` grows
        without bound). Elements are measured again whenever their number has grown by an
        eighth, and every 64 ticks; in between the last average size per element is used,
        so the cost stays linear in the number of elements."""
        self._arr_ticks += 1
        arrays = [v for v in self.G.values() if v.__class__ is AwkArray]
        n = 0
        for arr in arrays:
            n += len(arr)
        if force or n > self._arr_count + (self._arr_count >> 3) or not self._arr_ticks & 63:
            size = 0
            for arr in arrays:
                for k, v in arr.items():
                    size += _ELEMENT + len(k) + (len(v) if isinstance(v, str) else 0)
            self._arr_count, self._arr_bytes = n, size
        elif self._arr_count:
            size = self._arr_bytes * n // self._arr_count
        else:
            size = 0
        self.held_arrays.set(size)

    # --- builtins -----------------------------------------------------------------------
    def substr(self, s: str, m: float, n: float | None = None) -> str:
        if m != m:
            return ""
        length = len(s)
        if m >= 1e18:
            return ""
        start = int(m) if m > -1e18 else -(10**18)
        if n is None:
            end = length
        else:
            if n != n or n <= 0:
                return ""
            cnt = int(n) if n < 1e18 else 10**18
            end = start - 1 + cnt if start >= 1 else cnt
        if start < 1:
            start = 1
        if end > length:
            end = length
        if end < start:
            return ""
        return s[start - 1 : end]

    def split(self, s: str, arr: AwkArray, fs: Any = None, seps: AwkArray | None = None) -> float:
        arr.clear()
        if seps is not None:
            seps.clear()
        if fs is None:
            fs = self.G["V_FS"]
        if isinstance(fs, SafePattern):
            if not s:
                return 0.0
            parts = (
                fs.split(s)
                if fs.groups == 0
                else safe_regex.compile("(?:" + fs.pattern + ")", fs.flags).split(s)
            )
            if seps is not None:
                for i, m in enumerate(fs.finditer(s)):
                    seps[str(i + 1)] = StrNum(m.group())
        else:
            fs = self.tostr(fs)
            if seps is not None and s:
                if fs == " ":
                    t = s.strip(" \t\n")
                    lead = s[: len(s) - len(s.lstrip(" \t\n"))]
                    trail = s[len(s.rstrip(" \t\n")) :]
                    if lead:
                        seps["0"] = StrNum(lead)
                    for i, m in enumerate(re.finditer(r"[ \t\n]+", t)):
                        seps[str(i + 1)] = StrNum(m.group())
                    if trail and t:
                        seps[str(len(_AWK_FIELDS.findall(t)))] = StrNum(trail)
                elif len(fs) == 1 and fs != "\\":
                    for i in range(s.count(fs)):
                        seps[str(i + 1)] = StrNum(fs)
                else:
                    for i, m in enumerate(self.regex(fs).finditer(s)):
                        seps[str(i + 1)] = StrNum(m.group())
            parts = self.split_with(s, fs, False)
        for i, p in enumerate(parts):
            arr[str(i + 1)] = StrNum(p)
        return float(len(parts))

    def patsplit(
        self, s: str, arr: AwkArray, pat: SafePattern, seps: AwkArray | None = None
    ) -> float:
        arr.clear()
        if seps is not None:
            seps.clear()
        pos = 0
        n = 0
        for m in pat.finditer(s):
            if m.end() == m.start():
                continue
            if seps is not None:
                seps[str(n)] = StrNum(s[pos : m.start()])
            n += 1
            arr[str(n)] = StrNum(m.group())
            pos = m.end()
        if seps is not None:
            seps[str(n)] = StrNum(s[pos:])
        return float(n)

    def fpat(self) -> str:
        return self.tostr(self.G.get("V_FPAT", "[^[:space:]]+"))

    def rmatch(self, s: str, pattern: str) -> bool:
        return self.regex(pattern).search(s) is not None

    def dynre(self, v: Any) -> SafePattern:
        if isinstance(v, SafePattern):
            return v
        return self.regex(self.tostr(v))

    def subst(self, pat: SafePattern, repl: str, target: str, glob: bool) -> tuple[float, str]:
        # decode the replacement once: & is the match, \& a literal &, \\ a backslash
        pieces: list[str | None] = []
        buf: list[str] = []
        i = 0
        n = len(repl)
        while i < n:
            c = repl[i]
            if c == "\\" and i + 1 < n and repl[i + 1] in "&\\":
                buf.append(repl[i + 1])
                i += 2
                continue
            if c == "&":
                pieces.append("".join(buf))
                buf = []
                pieces.append(None)
            else:
                buf.append(c)
            i += 1
        pieces.append("".join(buf))
        simple = len(pieces) == 1
        out: list[str] = []
        pos = 0
        count = 0
        last_end = -1
        for m in pat.finditer(target):
            st, en = m.span()
            if st == en and st == last_end:
                continue
            out.append(target[pos:st])
            if simple:
                out.append(pieces[0])  # type: ignore[arg-type]
            else:
                g = m.group()
                out.append("".join(g if p is None else p for p in pieces))
            pos = en
            last_end = en
            count += 1
            if not glob:
                break
        if not count:
            return 0.0, target
        out.append(target[pos:])
        return float(count), "".join(out)

    def gensub(self, pat: SafePattern, repl: str, how: Any, target: str) -> str:
        if how.__class__ is not float and self.tostr(how)[:1] in ("g", "G"):
            which = 0
        else:
            which = int(num(how))
            if which <= 0:
                which = 1
        out: list[str] = []
        pos = 0
        k = 0
        last_end = -1
        for m in pat.finditer(target):
            st, en = m.span()
            if st == en and st == last_end:
                continue
            k += 1
            last_end = en
            if which and k != which:
                continue
            out.append(target[pos:st])
            i = 0
            n = len(repl)
            while i < n:
                c = repl[i]
                if c == "\\" and i + 1 < n:
                    d = repl[i + 1]
                    if d.isdigit():
                        g = m.group(int(d)) if int(d) <= pat.groups else ""
                        out.append(g or "")
                    elif d == "&":
                        out.append("&")
                    elif d == "\\":
                        out.append("\\")
                    else:
                        out.append("\\" + d)
                    i += 2
                    continue
                out.append(m.group() if c == "&" else c)
                i += 1
            pos = en
            if which:
                break
        out.append(target[pos:])
        return "".join(out)

    def match(self, s: str, pat: SafePattern, arr: AwkArray | None = None) -> float:
        m = pat.search(s)
        G = self.G
        if arr is not None:
            arr.clear()
        if m is None:
            G["V_RSTART"] = 0.0
            G["V_RLENGTH"] = -1.0
            return 0.0
        G["V_RSTART"] = float(m.start() + 1)
        G["V_RLENGTH"] = float(m.end() - m.start())
        if arr is not None:
            sub = self.G["V_SUBSEP"]
            for gi in range(pat.groups + 1):
                g = m.group(gi)
                if g is None:
                    continue
                arr[str(gi)] = StrNum(g)
                arr[f"{gi}{sub}start"] = float(m.start(gi) + 1)
                arr[f"{gi}{sub}length"] = float(len(g))
        return float(m.start() + 1)

    def sprintf(self, fmt: Any, args: list[Any]) -> str:
        r = sprintf(self.tostr(fmt), args, self.G["V_CONVFMT"], self.byte_chars)
        if len(r) > 65536:
            self.note_big(len(r))
        return r

    def toupper(self, s: str) -> str:
        return s.translate(_UPPER) if self.byte_chars else s.upper()

    def tolower(self, s: str) -> str:
        return s.translate(_LOWER) if self.byte_chars else s.lower()

    def length(self, s: str) -> float:
        return float(len(s))

    def rand(self) -> float:
        return self.rng.random()

    def srand(self, seed: Any = None) -> float:
        prev = self.seed
        if seed is None:
            self.seed = float(int(time.time()))
        else:
            self.seed = num(seed)
        self.rng.seed(self.seed)
        return prev

    def log(self, x: float) -> float:
        if x < 0:
            self.pending.append(f"warning: log: received negative argument {self.tostr(x)}")
        if x < 0 or x != x:
            return -math.nan if x == x else x
        if x == 0:
            return -math.inf
        return math.log(x)

    def sqrt(self, x: float) -> float:
        if x < 0:
            self.pending.append(f"warning: sqrt: called with negative argument {self.tostr(x)}")
            return -math.nan
        return math.sqrt(x)

    def exp(self, x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    def strftime(self, fmt: Any = None, ts: Any = None, utc: Any = None) -> str:
        f = "%a %b %e %H:%M:%S %Z %Y" if fmt is None else self.tostr(fmt)
        t = time.time() if ts is None else num(ts)
        try:
            tm = time.gmtime(int(t))
        except (OverflowError, ValueError, OSError):
            return ""
        f = f.replace("%Z", "UTC").replace("%z", "+0000")
        try:
            return time.strftime(f, tm)
        except ValueError:
            return f

    def mktime(self, spec: Any) -> float:
        parts = self.tostr(spec).split()
        try:
            y, mo, d, h, mi, s = (int(float(p)) for p in parts[:6])
        except ValueError:
            return -1.0
        try:
            return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
        except (OverflowError, ValueError):
            return -1.0

    def systime(self) -> float:
        return float(int(time.time()))

    def strtonum(self, v: Any) -> float:
        if v.__class__ is float:
            return v  # type: ignore[no-any-return]
        s = self.tostr(v).strip()
        m = re.match(r"[-+]?0[xX][0-9a-fA-F]+", s)
        if m:
            return float(int(m.group(), 16))
        m = re.match(r"[-+]?0[0-7]+\b(?![.eE])", s)
        if m:
            return float(int(m.group(), 8))
        return num(s)

    def keys(self, arr: AwkArray) -> list[str]:
        proc = self.G.get("V_PROCINFO")
        how = ""
        if proc is not None and "sorted_in" in proc:
            how = self.tostr(proc["sorted_in"])
        ks = list(arr)
        if not how:
            return ks
        return sort_keys(arr, ks, how, self.tostr)

    def asort(self, src: AwkArray, dest: AwkArray | None, by_index: bool) -> float:
        if by_index:
            vals: list[Any] = sorted(src, key=_index_key)
            vals = [StrNum(v) for v in vals]
        else:
            vals = sorted(src.values(), key=_value_key)
        target = dest if dest is not None else src
        target.clear()
        for i, v in enumerate(vals):
            target[str(i + 1)] = v
        return float(len(vals))


def _index_key(k: str) -> tuple[int, float, str]:
    x = strnum_value(k)
    if x is not None:
        return (0, x, k)
    return (1, 0.0, k)


def _value_key(v: Any) -> tuple[int, float, str]:
    if isinstance(v, dict):
        return (2, 0.0, "")
    x = numval(v)
    if x is not None and v is not UNINIT:
        return (0, x, "")
    if v is UNINIT:
        return (0, 0.0, "")
    return (1, 0.0, v if v.__class__ is not float else "")


def sort_keys(arr: AwkArray, ks: list[str], how: str, tostr: Callable[[Any], str]) -> list[str]:
    desc = how.endswith("desc")
    if how.startswith("@ind_num"):
        ks.sort(key=lambda k: (num(k), k), reverse=desc)
    elif how.startswith("@ind_str"):
        ks.sort(reverse=desc)
    elif how.startswith("@val_num"):
        ks.sort(key=lambda k: (num(arr[k]), k), reverse=desc)
    elif how.startswith("@val_str"):
        ks.sort(key=lambda k: (tostr(arr[k]), k), reverse=desc)
    elif how.startswith("@val_type"):
        ks.sort(key=lambda k: (_value_key(arr[k]), k), reverse=desc)
    return ks
