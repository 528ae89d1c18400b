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
from typing import TYPE_CHECKING, Any

from pocketos.commands._awk.format import sprintf
from pocketos.commands._awk.regex import AwkRegexError, compile_ere
from pocketos.commands._awk.values import (
    EMPTY,
    UNINIT,
    AwkArray,
    AwkFatal,
    StrNum,
    fmt_number,
    num,
)
from pocketos.kernel.streams import BytesSink, BytesSource

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


_NOT_AWK_WS = re.compile(r"[\r\x0b\x0c\x1c-\x1f]")
_AWK_FIELDS = re.compile(r"[^ \t\n]+")
_AWK_FIELDS_PARA = re.compile(r"[^ \t\n]+")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=", re.DOTALL)
_UPPER = {i: i - 32 for i in range(ord("a"), ord("z") + 1)}
_LOWER = {i: i + 32 for i in range(ord("A"), ord("Z") + 1)}
CHUNK = 65536

ReadFn = Callable[[], Awaitable[bytes]]


class Reader:
    """Splits a byte source into records according to RS."""

    __slots__ = ("read", "decoder", "buf", "eof", "batch", "bi", "rt", "closed")

    def __init__(self, read: ReadFn, codec: str) -> None:
        self.read = read
        self.decoder = codecs.getincrementaldecoder(codec)("surrogateescape")
        self.buf = ""
        self.eof = False
        self.batch: list[str] = []
        self.bi = 0
        self.rt = "\n"
        self.closed = False

    async def _fill(self) -> bool:
        if self.eof:
            return False
        data = await self.read()
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
            self.buf = "\n".join(self.batch[self.bi:]) + "\n" + self.buf
        self.batch = []
        self.bi = 0

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
                i = self.buf.rfind("\n")
                if i >= 0:
                    self.batch = b = self.buf[:i].split("\n")
                    self.buf = self.buf[i + 1:]
                    self.bi = 1
                    self.rt = "\n"
                    return b[0]
                if not await self._fill():
                    if self.buf:
                        r = self.buf
                        self.buf = ""
                        self.rt = ""
                        return r
                    return None
        self._unbatch()
        if rs == "":
            return await self._paragraph()
        if len(rs) == 1:
            while True:
                i = self.buf.find(rs)
                if i >= 0:
                    r = self.buf[:i]
                    self.buf = self.buf[i + 1:]
                    self.rt = rs
                    return r
                if not await self._fill():
                    if self.buf:
                        r = self.buf
                        self.buf = ""
                        self.rt = ""
                        return r
                    return None
        pat = compile_ere(rs)
        while True:
            m = pat.search(self.buf)
            if m is not None and m.end() > m.start() and (m.end() < len(self.buf) or self.eof):
                r = self.buf[:m.start()]
                self.rt = m.group()
                self.buf = self.buf[m.end():]
                return r
            if not await self._fill():
                if m is not None and m.end() > m.start():
                    continue
                if self.buf:
                    r = self.buf
                    self.buf = ""
                    self.rt = ""
                    return r
                return None

    async def _paragraph(self) -> str | None:
        # skip leading newlines
        while True:
            s = self.buf.lstrip("\n")
            if s or self.eof:
                self.buf = s
                if s:
                    break
                return None
            self.buf = ""
            if not await self._fill():
                return None
        pat = re.compile(r"\n\n+")
        while True:
            m = pat.search(self.buf)
            if m is not None and (m.end() < len(self.buf) or self.eof):
                r = self.buf[:m.start()]
                self.rt = m.group()
                self.buf = self.buf[m.end():]
                return r
            if not await self._fill():
                if m is not None:
                    continue
                r = self.buf
                self.buf = ""
                if r.endswith("\n"):
                    self.rt = "\n"
                    r = r[:-1]
                else:
                    self.rt = ""
                return r if r else None


class Output:
    """An output redirection target."""

    __slots__ = ("kind", "name", "handle", "pieces")

    def __init__(self, kind: str, name: str, handle: Any = None) -> None:
        self.kind = kind  # file | pipe | stdout | stderr
        self.name = name
        self.handle = handle
        self.pieces: list[str] = []


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
        self.in_cmds: dict[str, tuple[Reader, int]] = {}
        self.glv: Any = UNINIT
        self.rng = random.Random(0)
        self.seed = 0.0
        self.prev_seed = 0.0
        self.exit_code = 0
        self.uses_rt = False
        self.fs_cache: tuple[str, bool, Any] = ("", False, None)
        self.beginfile: Callable[[], Awaitable[None]] | None = None
        self.endfile: Callable[[], Awaitable[None]] | None = None
        self.fnr_name = ""
        self.pending: list[str] = []

    # --- conversions --------------------------------------------------------------------
    def tostr(self, v: Any) -> str:
        if v.__class__ is float:
            if v.is_integer():
                return "%d" % v
            return fmt_number(v, self.G["V_CONVFMT"])
        return v  # type: ignore[no-any-return]

    def tostr_out(self, v: Any) -> str:
        if v.__class__ is float:
            if v.is_integer():
                return "%d" % v
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
        if self.split_fs == " " and s.isascii() and _NOT_AWK_WS.search(s) is None:
            f = s.split()
        else:
            f = self.split_with(s, self.split_fs, self.para)
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
                pat = re.compile(re.escape(fs) + "|\n")
            else:
                pat = re.compile("(?:" + self.regex_src(fs) + ")|\n", re.DOTALL)
            return pat.split(s)
        if len(fs) == 1 and fs != "\\":
            if fs == "\t" or not fs.isalpha():
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

    def regex(self, s: str) -> re.Pattern[str]:
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
        if i == 0:
            if self.dirty:
                self.rebuild()
            return self.rec
        f = self.fields
        if f is None:
            f = self.split_record()
        if 0 < i <= len(f):
            return f[i - 1]
        if i < 0:
            raise AwkFatal(f"attempt to access field {i}")
        return ""

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

        async def read() -> bytes:
            return h.read(CHUNK)  # type: ignore[no-any-return]

        return Reader(read, self.codec)

    def _stdin_reader(self) -> Reader:
        stdin = self.ctx.stdin

        async def read() -> bytes:
            return await stdin.read(CHUNK)

        return Reader(read, self.codec)

    def assign_operand(self, arg: str) -> None:
        from pocketos.commands._awk.lexer import unescape

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
                        await self.warn(f"warning: command line argument `{arg}' is a directory: skipped")
                        continue
                    self.main_reader = self._file_reader(arg)
                except OSError as exc:
                    raise AwkFatal(f"cannot open file `{arg}' for reading: "
                                   f"{exc.strerror or exc}", False)
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
        self.main_reader = None
        if self.endfile is not None:
            await self.endfile()

    async def skip_file(self) -> None:
        if self.main_reader is not None:
            await self.end_file()

    async def getline_main(self, into_record: bool) -> float:
        rec = await self.next_main()
        if rec is None:
            return 0.0
        if into_record:
            self.set_record(rec)
        else:
            self.glv = StrNum(rec)
        return 1.0

    async def getline_file(self, name: Any, into_record: bool) -> float:
        name = self.tostr(name)
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
        if into_record:
            self.set_record(rec)
        else:
            self.glv = StrNum(rec)
        return 1.0

    async def getline_cmd(self, cmd: Any, into_record: bool) -> float:
        cmd = self.tostr(cmd)
        ent = self.in_cmds.get(cmd)
        if ent is None:
            await self.flush_all()
            sink = BytesSink()
            status = await self.ctx.run(["sh", "-c", cmd], stdout=sink)
            data = [sink.getvalue()]

            async def read() -> bytes:
                if data:
                    return data.pop()
                return b""

            ent = (Reader(read, self.codec), status)
            self.in_cmds[cmd] = ent
        r = ent[0]
        rec = await r.next(self.G["V_RS"])
        if rec is None:
            return 0.0
        if self.uses_rt:
            self.G["V_RT"] = r.rt
        if into_record:
            self.set_record(rec)
        else:
            self.glv = StrNum(rec)
        return 1.0

    # --- output -------------------------------------------------------------------------
    def encode(self, s: str) -> bytes:
        return s.encode(self.codec, "surrogateescape")

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
        else:
            o.pieces.append(s)
            if len(o.pieces) > 512:
                self._flush_file(o)

    async def open_output(self, kind: str, name: str) -> Output:
        if kind == "|":
            await self.flush()
            o = Output("pipe", name)
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
            data = self.encode("".join(o.pieces))
            o.pieces.clear()
            status = await self.ctx.run(["sh", "-c", o.name], stdin=BytesSource(data))
            return status
        if o.kind == "stdout":
            await self.flush()
        return 0

    async def close(self, name: Any, how: Any = None) -> float:
        name = self.tostr(name)
        result = -1.0
        o = self.outputs.pop(name, None)
        if o is not None:
            result = float(await self._close_output(o))
        r = self.in_files.pop(name, None)
        if r is not None:
            result = 0.0
        ent = self.in_cmds.pop(name, None)
        if ent is not None:
            result = float(ent[1])
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
        elif o.kind == "stdout":
            await self.flush()
        return 0.0

    async def flush_all(self) -> None:
        await self.flush()
        for o in self.outputs.values():
            if o.kind == "file":
                self._flush_file(o)

    async def system(self, cmd: Any) -> float:
        await self.flush_all()
        status = await self.ctx.run(["sh", "-c", self.tostr(cmd)])
        return float(status)

    async def close_all(self) -> None:
        for name in list(self.outputs):
            o = self.outputs.pop(name)
            if o.kind == "pipe":
                await self._close_output(o)
        await self.flush()
        for name in list(self.outputs):
            o = self.outputs.pop(name)
            await self._close_output(o)

    async def tick(self) -> None:
        ctx = self.ctx
        ctx.check_killed()
        ctx.budget.check_time()
        await asyncio.sleep(0)

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
        return s[start - 1:end]

    def split(self, s: str, arr: AwkArray, fs: Any = None, seps: AwkArray | None = None) -> float:
        arr.clear()
        if seps is not None:
            seps.clear()
        if fs is None:
            fs = self.G["V_FS"]
        if isinstance(fs, re.Pattern):
            if not s:
                return 0.0
            parts = fs.split(s) if fs.groups == 0 else re.compile(
                "(?:" + fs.pattern + ")", fs.flags).split(s)
            if seps is not None:
                for i, m in enumerate(fs.finditer(s)):
                    seps[str(i + 1)] = StrNum(m.group())
        else:
            fs = self.tostr(fs)
            if seps is not None and s:
                if fs == " ":
                    t = s.strip(" \t\n")
                    lead = s[:len(s) - len(s.lstrip(" \t\n"))]
                    trail = s[len(s.rstrip(" \t\n")):]
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

    def dynre(self, v: Any) -> re.Pattern[str]:
        if isinstance(v, re.Pattern):
            return v
        return self.regex(self.tostr(v))

    def subst(self, pat: re.Pattern[str], repl: str, target: str, glob: bool) -> tuple[float, str]:
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

    def gensub(self, pat: re.Pattern[str], repl: str, how: Any, target: str) -> str:
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

    def match(self, s: str, pat: re.Pattern[str], arr: AwkArray | None = None) -> float:
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
        return sprintf(self.tostr(fmt), args, self.G["V_CONVFMT"], self.byte_chars)

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
    from pocketos.commands._awk.values import strnum_value

    x = strnum_value(k)
    if x is not None:
        return (0, x, k)
    return (1, 0.0, k)


def _value_key(v: Any) -> tuple[int, float, str]:
    from pocketos.commands._awk.values import numval

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
