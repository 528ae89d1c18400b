"""The state of one awk run that every part of the runtime shares: conversions, the current
record and its fields, special variables, and the charges of the run's arrays and strings to
the exec's memory and time budget."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

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
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern

if TYPE_CHECKING:
    from pocketos.commands._awk.reader import Reader
    from pocketos.commands._awk.streams import InputCommand, Output
    from pocketos.kernel.process import Context

__all__ = ["BIG_STRING", "RecordState"]

#: told of every long string the program makes (see Runtime.note_big)
BIG_STRING: ContextVar[Callable[[int], None] | None] = ContextVar("awk_big_string", default=None)
#: host bytes per array element beyond its key and value text (dict slot, str objects)
_ELEMENT = 120

_NOT_AWK_WS = re.compile(r"[\r\x0b\x0c\x1c-\x1f]")
_AWK_FIELDS = re.compile(r"[^ \t\n]+")
_AWK_FIELDS_PARA = re.compile(r"[^ \t\n]+")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=", re.DOTALL)
_DIGITS = frozenset("0123456789.")
_START = frozenset("0123456789.+-")
_UPPER = {i: i - 32 for i in range(ord("a"), ord("z") + 1)}
_LOWER = {i: i + 32 for i in range(ord("A"), ord("Z") + 1)}


class RecordState:
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
        #: fields past this one are never read: split no further (0: split all)
        self.split_limit = 0
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
        n = self.split_limit or -1
        if fs == " ":
            if s.isascii() and (s.isprintable() or _NOT_AWK_WS.search(s) is None):
                f = s.split(None, n)
            else:
                f = self.split_with(s, fs, self.para)
        elif len(fs) == 1 and fs != "\\" and not self.para:
            # a single-character FS splits literally (as split_with does)
            f = s.split(fs, n) if s else []
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
            if v[-1] in _DIGITS and v[0] in _START and "_" not in v and v.isascii():
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
