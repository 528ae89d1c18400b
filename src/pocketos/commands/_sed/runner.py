"""Running a sed script line by line over its input.

Text is decoded with ``utf-8``/``surrogateescape`` so any byte survives.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable

from pocketos.commands._sed.script import (
    CHUNK,
    ENC,
    ERRS,
    Addr,
    Cmd,
    Regex,
    SedError,
    SedPanic,
    _Quit,
)
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, BytesSource
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern


class Input:
    """Lines from the input files (or stdin) with one line of lookahead."""

    def __init__(self, ctx: Context, files: list[str], sep: str, runner: Runner) -> None:
        self.ctx = ctx
        self.files = list(files)
        self.sep = sep
        self.bsep = sep.encode()
        self.runner = runner
        self.lines: deque[str] = deque()
        self.last_missing = False  # the very last line of the current source had no sep
        self.src: AsyncIterator[bytes] | None = None
        self.src_done = True
        self.carry = b""
        self.filename = "-"
        self.cur_name = "-"
        self.exhausted = False
        self.file_index = -1

    async def _open_next(self) -> bool:
        while self.files:
            name = self.files.pop(0)
            if name == "-":
                self.src = self._stdin()
                self.src_done = False
                self.filename = "-"
                return True
            try:
                st = self.ctx.fs.stat(name)
                if st.is_dir():
                    await self.ctx.err(
                        f"couldn't edit {name}: not a regular file"
                        if self.runner.in_place
                        else f"read error on {name}: Is a directory"
                    )
                    self.runner.status = 2
                    continue
                fh = self.ctx.fs.open(name, "rb")
            except OSError as exc:
                await self.ctx.err(f"can't read {name}: {exc.strerror or exc}")
                self.runner.status = 2
                continue
            self.src = self._file(fh)
            self.src_done = False
            self.filename = name
            return True
        return False

    async def _stdin(self) -> AsyncIterator[bytes]:
        async for chunk in self.ctx.stdin.chunks(CHUNK):
            yield chunk

    async def _file(self, fh: object) -> AsyncIterator[bytes]:
        try:
            while True:
                data = fh.read(CHUNK)  # type: ignore[attr-defined]
                if not data:
                    return
                yield data
        finally:
            fh.close()  # type: ignore[attr-defined]

    async def _fill(self, cross_files: bool) -> bool:
        """Get more lines into the buffer; False at the end (of the file if not crossing)."""
        while not self.lines:
            if self.src_done:
                if not cross_files and self.file_index >= 0:
                    return False
                if not await self._open_next():
                    self.exhausted = True
                    return False
                self.file_index += 1
                continue
            assert self.src is not None
            await self.runner.flush()
            try:
                chunk = await self.src.__anext__()
            except StopAsyncIteration:
                self.src_done = True
                if self.carry:
                    self.lines.append(self.carry.decode(ENC, ERRS))
                    self.carry = b""
                    self.last_missing = True
                    return True
                if not cross_files:
                    return False
                continue
            data = self.carry + chunk if self.carry else chunk
            cut = data.rfind(self.bsep)
            if cut < 0:
                self.carry = data
                continue
            self.carry = data[cut + 1 :]
            self.lines.extend(data[:cut].decode(ENC, ERRS).split(self.sep))
            self.last_missing = False
        return True

    async def next_line(self, cross_files: bool = True) -> tuple[str, bool] | None:
        """(line, had_separator) or None at the end."""
        if not self.lines and not await self._fill(cross_files):
            return None
        line = self.lines.popleft()
        self.cur_name = self.filename
        missing = not self.lines and self.src_done and self.last_missing
        return line, not missing

    async def is_last(self, cross_files: bool = True) -> bool:
        if self.lines:
            return False
        return not await self._fill(cross_files)

    def start_file_group(self) -> None:
        """For -s/-i: let the next read open the next file."""
        self.file_index = -1


def _escape_l(text: str, width: int) -> str:
    pieces: list[str] = []
    for ch in text:
        if ch == "\\":
            pieces.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            pieces.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif " " <= ch <= "~":
            pieces.append(ch)
        else:
            for b in ch.encode(ENC, ERRS):
                pieces.append(f"\\{b:03o}")
    if width <= 0:
        return "".join(pieces) + "$"
    out: list[str] = []
    col = 0
    for p in pieces:
        if col + len(p) > width - 1:
            out.append("\\\n")
            col = 0
        out.append(p)
        col += len(p)
    return "".join(out) + "$"


def _case(s: str, mode: str) -> str:
    if mode == "U":
        return s.upper()
    if mode == "L":
        return s.lower()
    return s


def make_replacer(parts: list[tuple[str, object]], ngroups: int) -> Callable[[re.Match[str]], str]:
    has_case = any(k == "case" for k, _ in parts)
    for k, v in parts:
        if k == "grp" and isinstance(v, int) and v > ngroups:
            raise SedError(f"invalid reference \\{v} on `s' command's RHS")
    if not has_case:
        if all(k == "lit" for k, _ in parts):
            lit = "".join(str(v) for _, v in parts)
            return lambda m: lit
        items: list[str | int] = [
            v if k == "grp" else str(v)  # type: ignore[misc]
            for k, v in parts
        ]

        def simple(m: re.Match[str]) -> str:
            return "".join(x if isinstance(x, str) else (m.group(x) or "") for x in items)

        return simple

    def with_case(m: re.Match[str]) -> str:
        out: list[str] = []
        persistent = ""
        oneshot = ""
        for k, v in parts:
            if k == "case":
                if v in ("L", "U"):
                    persistent = str(v)
                    oneshot = ""
                elif v == "E":
                    persistent = ""
                    oneshot = ""
                else:
                    oneshot = str(v)
                continue
            text = str(v) if k == "lit" else (m.group(int(v)) or "")  # type: ignore[call-overload]
            if not text:
                continue
            text = _case(text, persistent)
            if oneshot:
                text = (text[0].upper() if oneshot == "u" else text[0].lower()) + text[1:]
                oneshot = ""
            out.append(text)
        return "".join(out)

    return with_case


_ASSERTIONS = ("\\b", "\\B", "(?=", "(?!", "(?<=", "(?<!")


def _may_match_empty(rx: SafePattern) -> bool:
    """True unless ``rx`` can never produce an empty match (no lookaround, and no empty
    match on the empty string)."""
    if any(t in rx.pattern for t in _ASSERTIONS):
        return True
    return rx.search("") is not None


def _template(parts: list[tuple[str, object]]) -> str | None:
    """The replacement as a Python ``re`` template, or None if it needs case conversion."""
    out: list[str] = []
    for k, v in parts:
        if k == "case":
            return None
        if k == "grp":
            out.append(f"\\g<{v}>")
        else:
            out.append(str(v).replace("\\", "\\\\"))
    return "".join(out)


class Runner:
    def __init__(
        self,
        ctx: Context,
        cmds: list[Cmd],
        quiet: bool,
        sep: str,
        line_len: int,
        ere: bool,
        separate: bool,
        in_place: bool,
        suffix: str | None,
        posix: bool,
    ) -> None:
        self.ctx = ctx
        self.cmds = cmds
        self.quiet = quiet
        self.sep = sep
        self.line_len = line_len
        self.ere = ere
        self.separate = separate or in_place
        self.in_place = in_place
        self.suffix = suffix
        self.posix = posix
        self.status = 0
        self.out: list[str] = []
        self.out_size = 0
        self.jumps = 0
        self.missing_nl = False
        self.wfiles: dict[str, list[str]] = {}
        self.wmissing: dict[str, bool] = {}
        self.rfiles: dict[str, deque[str] | None] = {}
        self.last_rx: SafePattern | None = None
        self.append_q: list[tuple[str, str]] = []  # ("text"|"file"|"line", value)
        self.lineno = 0
        self.replacers: dict[tuple[int, int], Callable[[re.Match[str]], str]] = {}
        self.gsubs: dict[tuple[int, int], str | Callable[[re.Match[str]], str] | None] = {}
        self.inplace_buf: list[str] | None = None
        self.hs = ""
        self.hs_nl = True  # whether the hold space's text ended with a newline
        self.needs_last = any(
            a is not None and a.kind == "last" for c in cmds for a in (c.a1, c.a2)
        )

    # -- output -------------------------------------------------------------------------
    def emit(self, text: str, newline: bool = True) -> None:
        if self.inplace_buf is not None:
            target = self.inplace_buf
        else:
            target = self.out
        if self.missing_nl:
            target.append(self.sep)
            self.missing_nl = False
        target.append(text)
        if newline:
            target.append(self.sep)
        else:
            self.missing_nl = True
        self.out_size += len(text) + 1

    def emit_raw(self, text: str) -> None:
        target = self.inplace_buf if self.inplace_buf is not None else self.out
        if self.missing_nl:
            target.append(self.sep)
            self.missing_nl = False
        target.append(text)
        self.out_size += len(text)

    async def flush(self) -> None:
        if self.out:
            data = "".join(self.out).encode(ENC, ERRS)
            self.out.clear()
            self.out_size = 0
            await self.ctx.stdout.write(data)

    def wfile(self, name: str, text: str) -> None:
        if name == "/dev/stdout":
            self.emit(text)
            return
        if name == "/dev/stderr":
            self.wfiles.setdefault(name, []).append(text + "\n")
            return
        self.wfiles.setdefault(name, []).append(text + self.sep)

    async def write_wfiles(self) -> None:
        for name, parts in self.wfiles.items():
            data = "".join(parts).encode(ENC, ERRS)
            if name == "/dev/stderr":
                await self.ctx.stderr.write(data)
                continue
            try:
                self.ctx.fs.write_bytes(name, data)
            except OSError as exc:
                await self.ctx.err(f"couldn't open file {name}: {exc.strerror or exc}")
                self.status = 4

    def read_rfile(self, name: str) -> str | None:
        """Whole contents for ``r``."""
        try:
            if name == "/dev/stdin":
                return None
            return self.ctx.fs.read_bytes(name).decode(ENC, ERRS)
        except OSError:
            return None

    def read_rline(self, name: str) -> str | None:
        if name not in self.rfiles:
            try:
                text = self.ctx.fs.read_bytes(name).decode(ENC, ERRS)
                lines = text.split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                self.rfiles[name] = deque(lines)
            except OSError:
                self.rfiles[name] = None
        q = self.rfiles[name]
        if not q:
            return None
        return q.popleft()

    def dump_append(self) -> None:
        for kind, val in self.append_q:
            if kind == "text":
                self.emit_raw(val)
            elif kind == "file":
                data = self.read_rfile(val)
                if data:
                    self.emit_raw(data)
                    if not data.endswith("\n"):
                        self.missing_nl = True
            else:
                self.emit(val)
        self.append_q.clear()

    # -- matching -----------------------------------------------------------------------
    def regex(self, r: Regex) -> SafePattern:
        if r.rx is None:
            if self.last_rx is None:
                raise SedError("no previous regular expression")
            if r.icase or r.mline:
                return safe_regex.compile(
                    self.last_rx.pattern,
                    self.last_rx.flags
                    | (re.IGNORECASE if r.icase else 0)
                    | (re.MULTILINE if r.mline else 0),
                )
            return self.last_rx
        self.last_rx = r.rx
        return r.rx

    def match_addr(self, a: Addr, ps: str, last: bool) -> bool:
        k = a.kind
        if k == "line":
            return self.lineno == a.n
        if k == "re":
            assert a.regex is not None
            return self.regex(a.regex).search(ps) is not None
        if k == "last":
            return last
        if k == "step":
            if a.step <= 0:
                return self.lineno == a.n
            return self.lineno >= a.n and (self.lineno - a.n) % a.step == 0
        return False

    def selected(self, c: Cmd, ps: str, last: bool) -> bool:
        if c.a1 is None:
            return True
        if c.a2 is None:
            return self.match_addr(c.a1, ps, last) != c.negate
        ln = self.lineno
        a2 = c.a2
        if c.active:
            if a2.kind == "line":
                if ln >= a2.n:
                    c.active = False
                res = True
            elif a2.kind == "plus":
                if ln >= c.end_line:
                    c.active = False
                res = True
            elif a2.kind == "tilde":
                if a2.n <= 0 or ln % a2.n == 0:
                    c.active = False
                res = True
            elif a2.kind == "last":
                if last:
                    c.active = False
                res = True
            else:
                assert a2.regex is not None
                if self.regex(a2.regex).search(ps) is not None:
                    c.active = False
                res = True
            return res != c.negate
        if c.a1.kind == "zero":
            return c.negate
        if not self.match_addr(c.a1, ps, last):
            return c.negate
        # range starts here
        if a2.kind == "line":
            c.active = a2.n > ln
        elif a2.kind == "plus":
            c.end_line = ln + a2.n
            c.active = a2.n > 0
        elif a2.kind == "tilde":
            c.active = a2.n > 0
        elif a2.kind == "last":
            c.active = not last
        else:
            c.active = True
        return not c.negate

    def reset_ranges(self) -> None:
        for c in self.cmds:
            c.active = c.a1 is not None and c.a1.kind == "zero"

    def substitute(self, c: Cmd, ps: str) -> tuple[str, bool]:
        assert c.regex is not None
        rx = self.regex(c.regex)
        key = (id(rx), id(c))
        rep = self.replacers.get(key)
        if rep is None:
            rep = make_replacer(c.repl, rx.groups)
            self.replacers[key] = rep
            # s///g with an expression that never matches empty: Python's sub agrees with
            # GNU, so let it do the loop
            self.gsubs[key] = (
                (_template(c.repl) or rep)
                if (c.gflag and c.nth == 1 and not _may_match_empty(rx))
                else None
            )
        if c.gflag and c.nth == 1:
            g = self.gsubs[key]
            if g is not None:
                new, k = rx.subn(g, ps)
                return new, k > 0
        if c.nth == 1 and not c.gflag:
            m = rx.search(ps)
            if m is None:
                return ps, False
            return ps[: m.start()] + rep(m) + ps[m.end() :], True
        out: list[str] = []
        pos = 0
        count = 0
        prev_end = -1
        done = False
        for m in rx.finditer(ps):
            s, e = m.span()
            if s == e and s == prev_end:
                continue
            prev_end = e
            count += 1
            if count >= c.nth:
                out.append(ps[pos:s])
                out.append(rep(m))
                pos = e
                done = True
                if not c.gflag:
                    break
        if not done:
            return ps, False
        out.append(ps[pos:])
        return "".join(out), True

    async def shell(self, cmdline: str) -> str:
        sink = BytesSink()
        await self.ctx.run(["sh", "-c", cmdline], stdin=BytesSource(b""), stdout=sink)
        return sink.getvalue().decode(ENC, ERRS)

    # -- main loop ------------------------------------------------------------------------
    async def run_all(self, inp: Input) -> None:
        if not self.separate:
            await self.run(inp, True)
            return
        while not inp.exhausted:
            inp.start_file_group()
            self.lineno = 0
            await self.run(inp, False)

    def jumped(self, ps: str) -> None:
        """Called on every taken branch: a script that loops within one cycle (``:a;ba``)
        never reaches the per-line checks, so the deadline, signals and the size of the
        pattern space are checked here."""
        self.jumps += 1
        if self.jumps & 0xFF == 0:
            self.ctx.budget.check_time()
            self.ctx.check_killed()
        if len(ps) > self.ctx.limits.max_file_size:
            raise SedPanic(
                f"pattern space exceeds the file size limit ({self.ctx.limits.max_file_size} bytes)"
            )

    async def run(self, inp: Input, cross: bool) -> None:
        cmds = self.cmds
        ncmds = len(cmds)
        self.reset_ranges()
        needs_last = self.needs_last
        while True:
            got = await inp.next_line(cross)
            if got is None:
                return
            ps, had_nl = got
            self.lineno += 1
            tflag = False
            pc = 0
            while True:
                autoprint = not self.quiet
                restart = False
                last = needs_last and await inp.is_last(cross)
                while pc < ncmds:
                    c = cmds[pc]
                    pc += 1
                    if c.a1 is not None:
                        if not self.selected(c, ps, last):
                            if c.name == "{":
                                pc = c.target
                            continue
                    elif c.negate:
                        if c.name == "{":
                            pc = c.target
                        continue
                    nm = c.name
                    if nm == "s":
                        new, did = self.substitute(c, ps)
                        if did:
                            tflag = True
                            if c.eflag:
                                new = (await self.shell(new)).rstrip("\n")
                            ps = new
                            for _ in range(c.pflag):
                                self.emit(ps, had_nl)
                            if c.wfile is not None:
                                self.wfile(c.wfile, ps)
                    elif nm == "{" or nm == ":" or nm == "}":
                        pass
                    elif nm == "p":
                        self.emit(ps, had_nl)
                    elif nm == "d":
                        autoprint = False
                        break
                    elif nm == "D":
                        i = ps.find("\n")
                        autoprint = False
                        if i >= 0:
                            ps = ps[i + 1 :]
                            restart = True
                        break
                    elif nm == "b":
                        pc = c.target
                        self.jumped(ps)
                    elif nm == "t":
                        if tflag:
                            tflag = False
                            pc = c.target
                            self.jumped(ps)
                    elif nm == "T":
                        if not tflag:
                            pc = c.target
                            self.jumped(ps)
                        else:
                            tflag = False
                    elif nm == "h":
                        self.hs = ps
                        self.hs_nl = had_nl
                    elif nm == "H":
                        self.hs = self.hs + "\n" + ps
                        self.hs_nl = had_nl
                    elif nm == "g":
                        ps = self.hs
                        had_nl = self.hs_nl
                    elif nm == "G":
                        ps = ps + "\n" + self.hs
                        had_nl = self.hs_nl
                    elif nm == "x":
                        ps, self.hs = self.hs, ps
                        had_nl, self.hs_nl = self.hs_nl, had_nl
                    elif nm == "n":
                        if await inp.is_last(cross):
                            if self.posix:
                                autoprint = False
                            pc = ncmds
                            break
                        if not self.quiet:
                            self.emit(ps, had_nl)
                        self.dump_append()
                        got = await inp.next_line(cross)
                        assert got is not None
                        ps, had_nl = got
                        self.lineno += 1
                        last = needs_last and await inp.is_last(cross)
                    elif nm == "N":
                        if await inp.is_last(cross):
                            if self.posix:
                                autoprint = False
                            pc = ncmds
                            break
                        self.dump_append()
                        got = await inp.next_line(cross)
                        assert got is not None
                        ps = ps + "\n" + got[0]
                        had_nl = got[1]
                        self.lineno += 1
                        last = needs_last and await inp.is_last(cross)
                    elif nm == "P":
                        i = ps.find("\n")
                        self.emit(ps if i < 0 else ps[:i])
                    elif nm == "=":
                        self.emit(str(self.lineno))
                    elif nm == "a":
                        self.append_q.append(("text", c.text))
                    elif nm == "i":
                        self.emit_raw(c.text)
                    elif nm == "c":
                        if c.a2 is None or not c.active or c.negate:
                            self.emit_raw(c.text)
                        autoprint = False
                        break
                    elif nm == "l":
                        width = self.line_len if c.num is None else c.num
                        self.emit(_escape_l(ps, width))
                    elif nm == "q":
                        if not self.quiet:
                            self.emit(ps, had_nl)
                        self.dump_append()
                        raise _Quit(c.num or 0)
                    elif nm == "Q":
                        raise _Quit(c.num or 0)
                    elif nm == "r":
                        self.append_q.append(("file", c.text))
                    elif nm == "R":
                        line = self.read_rline(c.text)
                        if line is not None:
                            self.append_q.append(("line", line))
                    elif nm == "w":
                        self.wfile(c.text, ps)
                    elif nm == "W":
                        i = ps.find("\n")
                        self.wfile(c.text, ps if i < 0 else ps[:i])
                    elif nm == "y":
                        assert c.ymap is not None
                        ps = ps.translate(c.ymap)
                    elif nm == "z":
                        ps = ""
                    elif nm == "F":
                        self.emit(inp.cur_name)
                    elif nm == "e":
                        if c.text:
                            self.emit_raw(await self.shell(c.text))
                        else:
                            ps = (await self.shell(ps)).rstrip("\n")
                if autoprint:
                    self.emit(ps, had_nl)
                self.dump_append()
                if self.out_size > 65536:
                    await self.flush()
                self.ctx.check_killed()
                if not restart:
                    break
                # D with a newline: run the script again without reading input
                pc = 0
                tflag = False
