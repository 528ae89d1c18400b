"""sed: the stream editor (POSIX with the GNU extensions people use).

The script is parsed once into a flat list of commands (blocks and branches become jumps), then
run line by line over the input. Text is decoded with ``utf-8``/``surrogateescape`` so any byte
survives. A script made of one ``s`` command takes a faster path: the expression runs over whole
chunks of lines and only lines that match are touched from Python.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from operator import is_not

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse
from pocketos.commands._regex import RegexError, translate
from pocketos.commands.grep import Matcher, iter_selected
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, BytesSource

__all__ = ["sed"]

ENC = "utf-8"
ERRS = "surrogateescape"
CHUNK = 256 * 1024

HELP = """\
Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...

  -n, --quiet, --silent
                 suppress automatic printing of pattern space
  -e script, --expression=script
                 add the script to the commands to be executed
  -f script-file, --file=script-file
                 add the contents of script-file to the commands to be executed
  -i[SUFFIX], --in-place[=SUFFIX]
                 edit files in place (makes backup if SUFFIX supplied)
  -l N, --line-length=N
                 specify the desired line-wrap length for the `l' command
  --posix
                 disable GNU extensions (accepted, ignored)
  -E, -r, --regexp-extended
                 use extended regular expressions in the script
  -s, --separate
                 consider files as separate rather than as a single
                 continuous long stream.
  -z, --null-data
                 separate lines by NUL characters
      --help     display this help and exit

If no -e, --expression, -f, or --file option is given, then the first
non-option argument is taken as the sed script to interpret.  All
remaining arguments are names of input files; if no input files are
specified, then the standard input is read.
"""


class SedError(Exception):
    """A script error; ``str`` is the full message after ``sed: ``."""


class SedPanic(SedError):
    """An error GNU sed reports with exit status 4."""


class _Quit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# --- script model ------------------------------------------------------------------------


@dataclass
class Regex:
    """A regex as written; compiled lazily (empty = the last regex used)."""

    source: str
    icase: bool = False
    mline: bool = False
    rx: re.Pattern[str] | None = None


@dataclass
class Addr:
    kind: str  # line | last | re | step | zero | plus | tilde
    n: int = 0
    step: int = 0
    regex: Regex | None = None


@dataclass
class Cmd:
    name: str
    a1: Addr | None = None
    a2: Addr | None = None
    negate: bool = False
    # arguments
    text: str = ""
    label: str = ""
    target: int = -1  # jump target for b/t/T and '{' (index after the matching '}')
    num: int | None = None
    regex: Regex | None = None
    repl: list[tuple[str, object]] = field(default_factory=list)
    gflag: bool = False
    nth: int = 1
    pflag: int = 0
    eflag: bool = False
    wfile: str | None = None
    ymap: dict[int, str] | None = None
    # range state
    active: bool = False
    end_line: int = 0
    pos: int = 0


class _Src:
    """A cursor over the script text with its origin for error messages."""

    def __init__(self, text: str, pieces: list[tuple[int, str]]) -> None:
        self.t = text
        self.i = 0
        self.n = len(text)
        self.pieces = pieces  # (start offset, label) of each -e / -f piece

    def peek(self) -> str:
        return self.t[self.i] if self.i < self.n else ""

    def get(self) -> str:
        c = self.t[self.i] if self.i < self.n else ""
        self.i += 1
        return c

    def eof(self) -> bool:
        return self.i >= self.n

    def where(self, pos: int | None = None) -> str:
        p = self.i if pos is None else pos
        start, label = self.pieces[0]
        for s, lab in self.pieces:
            if s <= p:
                start, label = s, lab
        if label.startswith("file "):
            line = self.t.count("\n", start, max(start, min(p, self.n) - 1)) + 1
            return f"{label} line {line}"
        return f"{label}, char {max(0, min(p, self.n + 1) - start)}"

    def error(self, msg: str, pos: int | None = None) -> SedError:
        return SedError(f"{self.where(pos)}: {msg}")


def _skip_ws(s: _Src) -> None:
    while s.peek() in (" ", "\t") and not s.eof():
        s.i += 1


def _read_number(s: _Src) -> int:
    st = s.i
    while s.peek().isdigit():
        s.i += 1
    return int(s.t[st : s.i])


def _read_delimited(s: _Src, delim: str, what: str, regex: bool) -> str:
    """Read up to an unescaped ``delim``; ``\\delim`` -> delim; newline escapes kept."""
    out: list[str] = []
    while True:
        if s.eof():
            raise s.error(f"unterminated {what}")
        c = s.get()
        if c == delim:
            return "".join(out)
        if c == "[" and regex:
            out.append(_read_bracket(s))
            continue
        if c == "\\":
            if s.eof():
                raise s.error(f"unterminated {what}")
            d = s.get()
            if d == delim:
                out.append(d if (regex or d != "&") else "\\&")
            elif d == "\n":
                out.append("\\n" if regex else "\n")
            else:
                out.append("\\" + d)
            continue
        if c == "\n" and regex:
            if what == "`s' command":
                out.append("\\n")
                continue
            raise s.error(f"unterminated {what}")
        out.append(c)


def _read_bracket(s: _Src) -> str:
    """A bracket expression inside a regex (after its ``[``), copied verbatim: the
    delimiter does not end the regex inside it."""
    st = s.i - 1
    j = s.i
    t = s.t
    n = s.n
    if j < n and t[j] == "^":
        j += 1
    if j < n and t[j] == "]":
        j += 1
    while j < n and t[j] != "]":
        if t[j] == "[" and j + 1 < n and t[j + 1] in ":=.":
            end = t.find(t[j + 1] + "]", j + 2)
            if end < 0:
                break
            j = end + 2
            continue
        if t[j] == "\n":
            break
        j += 1
    if j >= n or t[j] != "]":
        return "["  # not a complete bracket: let the regex compiler report it
    s.i = j + 1
    return t[st : j + 1]


def _parse_regex_addr(s: _Src, delim: str) -> Regex:
    src = _read_delimited(s, delim, "address regex", True)
    rx = Regex(src)
    while s.peek() in ("I", "M"):
        if s.get() == "I":
            rx.icase = True
        else:
            rx.mline = True
    return rx


def _parse_addr(s: _Src) -> Addr | None:
    c = s.peek()
    if c.isdigit():
        n = _read_number(s)
        if s.peek() == "~":
            s.i += 1
            step = _read_number(s) if s.peek().isdigit() else 0
            return Addr("step", n=n, step=step)
        return Addr("zero" if n == 0 else "line", n=n)
    if c == "$":
        s.i += 1
        return Addr("last")
    if c == "/":
        s.i += 1
        return Addr("re", regex=_parse_regex_addr(s, "/"))
    if c == "\\":
        s.i += 1
        d = s.get()
        if d in ("", "\n", "\\"):
            raise s.error("unexpected `,'")
        return Addr("re", regex=_parse_regex_addr(s, d))
    return None


def _parse_text(s: _Src, name: str) -> str:
    """Text of a/i/c in the one-liner or classic form, with its final newline
    (empty when ``a\\`` ends the script)."""
    _skip_ws(s)
    if s.peek() == "\\":
        s.i += 1
        if s.peek() == "\n":
            s.i += 1
        if s.eof():
            return ""
    elif s.eof() or s.peek() == "\n":
        raise s.error("expected \\ after `a', `c' or `i'")
    out: list[str] = []
    while not s.eof():
        c = s.get()
        if c == "\n":
            break
        if c == "\\":
            if s.eof():
                break
            d = s.get()
            esc = {"t": "\t", "n": "\n", "a": "\a", "f": "\f", "v": "\v", "r": "\r"}
            out.append(esc.get(d, d))
            continue
        out.append(c)
    return "".join(out) + "\n"


def _parse_filename(s: _Src) -> str:
    _skip_ws(s)
    st = s.i
    while not s.eof() and s.peek() != "\n":
        s.i += 1
    name = s.t[st : s.i]
    if not s.eof():
        s.i += 1
    return name


def _parse_label(s: _Src, stops: str = "\n;") -> str:
    _skip_ws(s)
    st = s.i
    while not s.eof() and s.peek() not in stops:
        s.i += 1
    return s.t[st : s.i].rstrip(" \t")


_REPL_ESC = {"n": "\n", "t": "\t", "a": "\a", "f": "\f", "v": "\v", "r": "\r"}


def _parse_replacement(text: str) -> list[tuple[str, object]]:
    """Parts: ("lit", str), ("grp", int), ("case", "L"|"U"|"l"|"u"|"E")."""
    parts: list[tuple[str, object]] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            parts.append(("lit", "".join(buf)))
            buf.clear()

    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "&":
            flush()
            parts.append(("grp", 0))
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            d = text[i + 1]
            i += 2
            if d.isdigit():
                flush()
                parts.append(("grp", int(d)))
            elif d in "LUluE":
                flush()
                parts.append(("case", d))
            elif d in _REPL_ESC:
                buf.append(_REPL_ESC[d])
            elif d == "c" and i < n:
                buf.append(chr(ord(text[i].upper()) ^ 0x40))
                i += 1
            elif d == "o" and re.match(r"[0-7]{1,3}", text[i:]):
                m = re.match(r"[0-7]{1,3}", text[i:])
                assert m is not None
                buf.append(chr(int(m.group(), 8) & 0xFF))
                i += m.end()
            elif d == "d" and re.match(r"[0-9]{1,3}", text[i:]):
                m = re.match(r"[0-9]{1,3}", text[i:])
                assert m is not None
                buf.append(chr(int(m.group()) & 0xFF))
                i += m.end()
            elif d == "x" and re.match(r"[0-9a-fA-F]{1,2}", text[i:]):
                m = re.match(r"[0-9a-fA-F]{1,2}", text[i:])
                assert m is not None
                buf.append(chr(int(m.group(), 16)))
                i += m.end()
            else:
                buf.append(d)
            continue
        buf.append(c)
        i += 1
    flush()
    return parts


def _y_string(text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            d = text[i + 1]
            out.append(
                {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(d, "\\" + d)
                if d in "ntr\\"
                else d
            )
            i += 2
            continue
        out.append(c)
        i += 1
    return out


def parse_script(text: str, pieces: list[tuple[int, str]], ere: bool) -> tuple[list[Cmd], bool]:
    """Parse a script into commands; returns (commands, '#n' seen on the first line)."""
    s = _Src(text, pieces)
    cmds: list[Cmd] = []
    blocks: list[int] = []
    quiet = text.startswith("#n") and (len(text) == 2 or text[2] == "\n")
    while True:
        while not s.eof() and s.peek() in " \t\n;":
            s.i += 1
        if s.eof():
            break
        if s.peek() == "#":
            while not s.eof() and s.peek() != "\n":
                s.i += 1
            continue
        a1 = _parse_addr(s)
        a2 = None
        if a1 is not None:
            _skip_ws(s)
        if a1 is not None and s.peek() == ",":
            s.i += 1
            _skip_ws(s)
            c = s.peek()
            if c == "+" or c == "~":
                s.i += 1
                if not s.peek().isdigit():
                    raise s.error("expected newer version of sed")
                a2 = Addr("plus" if c == "+" else "tilde", n=_read_number(s))
            else:
                a2 = _parse_addr(s)
                if a2 is None:
                    raise s.error("unexpected `,'")
                if a2.kind == "step":
                    a2 = Addr("line", n=a2.n)
                elif a2.kind == "zero":
                    raise s.error("invalid usage of line address 0")
        if a1 is not None and a1.kind == "zero" and (a2 is None or a2.kind != "re"):
            raise s.error("invalid usage of line address 0")
        _skip_ws(s)
        negate = False
        while s.peek() == "!":
            if negate:
                raise s.error("multiple `!'s")
            negate = True
            s.i += 1
            _skip_ws(s)
        if s.eof():
            raise s.error("missing command")
        start = s.i
        name = s.get()
        cmd = Cmd(name, a1, a2, negate, pos=start)
        if name == "{":
            blocks.append(len(cmds))
            cmds.append(cmd)
            continue
        if name == "}":
            if a1 is not None or negate:
                raise s.error("} doesn't want any addresses")
            if not blocks:
                raise s.error("unexpected `}'")
            cmds[blocks.pop()].target = len(cmds)
            _end_of_cmd(s)
            continue
        if name in "=dDgGhHnNpPxzF":
            _end_of_cmd(s)
        elif name in "lLqQ":
            _skip_ws(s)
            if s.peek().isdigit():
                cmd.num = _read_number(s)
            if name in "qQ" and a2 is not None:
                raise s.error("command only uses one address", start + 1)
            _end_of_cmd(s)
        elif name in "aic":
            cmd.text = _parse_text(s, name)
        elif name == ":":
            if a1 is not None:
                raise s.error(": doesn't want any addresses")
            lab = _parse_label(s)
            if not lab:
                raise s.error('":" lacks a label')
            cmd.label = lab
            if s.peek() == ";":
                s.i += 1
        elif name in "btT":
            cmd.label = _parse_label(s, "\n;}")
            if s.peek() == ";":
                s.i += 1
        elif name in "rRwW":
            cmd.text = _parse_filename(s)
            if name in "rR" and not cmd.text:
                raise s.error("missing filename in r/R/w/W commands")
            if name in "wW" and not cmd.text:
                raise s.error("missing filename in r/R/w/W commands")
        elif name == "e":
            cmd.text = _parse_filename(s)
        elif name == "v":
            _parse_label(s)
            if s.peek() == ";":
                s.i += 1
            continue
        elif name == "s":
            _parse_s(s, cmd)
            cmd.pos = s.i
        elif name == "y":
            delim = s.get()
            if delim in ("", "\n", "\\"):
                raise s.error("unterminated `y' command")
            src = _y_string(_read_delimited(s, delim, "`y' command", False))
            dst = _y_string(_read_delimited(s, delim, "`y' command", False))
            if len(src) != len(dst):
                raise s.error("strings for `y' command are different lengths")
            cmd.ymap = {ord(a): b for a, b in zip(src, dst, strict=True)}
            _end_of_cmd(s)
        else:
            raise s.error(f"unknown command: `{name}'")
        cmds.append(cmd)
    if blocks:
        raise s.error("unmatched `{'", 0)
    labels: dict[str, int] = {}
    for idx, cm in enumerate(cmds):
        if cm.name == ":":
            if cm.label in labels:
                raise SedError(f"duplicate label `{cm.label}'")
            labels[cm.label] = idx
    for cm in cmds:
        if cm.name in "btT":
            if cm.label:
                if cm.label not in labels:
                    raise SedPanic(f"can't find label for jump to `{cm.label}'")
                cm.target = labels[cm.label]
            else:
                cm.target = len(cmds)
    seen_regex = False
    for cm in cmds:
        for a in (cm.a1, cm.a2):
            if a is not None and a.regex is not None:
                if a.regex.source == "" and not seen_regex:
                    raise s.error("no previous regular expression", 0)
                seen_regex = True
                _compile(a.regex, ere, s)
        if cm.regex is not None:
            if cm.regex.source == "" and not seen_regex:
                raise s.error("no previous regular expression", 0)
            seen_regex = True
            _compile(cm.regex, ere, s)
            if cm.regex.rx is not None:
                top = max((v for k, v in cm.repl if k == "grp" and isinstance(v, int)), default=0)
                if top > cm.regex.rx.groups:
                    raise s.error(f"invalid reference \\{top} on `s' command's RHS", cm.pos)
    return cmds, quiet


def _compile(rx: Regex, ere: bool, s: _Src) -> None:
    if rx.source == "":
        return
    try:
        pat = translate(rx.source, ere=ere, multiline=rx.mline, escapes=True)
        rx.rx = re.compile(
            pat, (re.IGNORECASE if rx.icase else 0) | (re.MULTILINE if rx.mline else 0)
        )
    except RegexError as exc:
        if str(exc).startswith("character class syntax"):
            raise SedPanic(str(exc))  # GNU reports this one without a location, status 4
        raise s.error(str(exc))
    except re.error as exc:
        raise s.error(str(exc))


def _end_of_cmd(s: _Src) -> None:
    _skip_ws(s)
    c = s.peek()
    if c in ("", "\n", ";"):
        if c:
            s.i += 1
        return
    if c in ("}", "#"):
        return
    raise s.error("extra characters after command", s.i + 1)


def _parse_s(s: _Src, cmd: Cmd) -> None:
    delim = s.get()
    if delim in ("", "\n", "\\"):
        raise s.error("unterminated `s' command")
    pat = _read_delimited(s, delim, "`s' command", True)
    rep = _read_delimited(s, delim, "`s' command", False)
    rx = Regex(pat)
    cmd.repl = _parse_replacement(rep)
    nth_seen = False
    while True:
        c = s.peek()
        if c == "g":
            if cmd.gflag:
                raise s.error("multiple `g' options to `s' command", s.i + 1)
            cmd.gflag = True
        elif c == "p":
            if cmd.pflag:
                raise s.error("multiple `p' options to `s' command", s.i + 1)
            cmd.pflag += 1
        elif c in ("i", "I"):
            rx.icase = True
        elif c in ("m", "M"):
            rx.mline = True
        elif c == "e":
            cmd.eflag = True
        elif c.isdigit():
            if nth_seen:
                raise s.error("multiple number options to `s' command", s.i + 1)
            n = _read_number(s)
            if n == 0:
                raise s.error("number option to `s' command may not be zero")
            cmd.nth = n
            nth_seen = True
            continue
        elif c == "w":
            s.i += 1
            cmd.wfile = _parse_filename(s)
            if not cmd.wfile:
                raise s.error("missing filename in r/R/w/W commands")
            break
        else:
            if c in ("", "\n", ";", " ", "\t", "}", "#"):
                _end_of_cmd(s)
                break
            raise s.error("unknown option to `s'", s.i + 1)
        s.i += 1
    cmd.regex = rx


# --- input ---------------------------------------------------------------------------------


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


# --- execution -----------------------------------------------------------------------------


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


def _may_match_empty(rx: re.Pattern[str]) -> bool:
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
        self.last_rx: re.Pattern[str] | None = None
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
    def regex(self, r: Regex) -> re.Pattern[str]:
        if r.rx is None:
            if self.last_rx is None:
                raise SedError("no previous regular expression")
            if r.icase or r.mline:
                return re.compile(
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


# --- fast path -----------------------------------------------------------------------------


def _fast_s(cmds: list[Cmd], sep: str, ere: bool) -> re.Pattern[str] | None:
    """The chunk filter for a script of one plain ``s`` command, or None."""
    if len(cmds) != 1 or sep != "\n":
        return None
    c = cmds[0]
    if c.name != "s" or c.a1 is not None or c.negate or c.eflag or c.wfile is not None:
        return None
    if c.regex is None or c.regex.rx is None or c.regex.mline:
        return None
    try:
        ml = re.compile(
            translate(c.regex.source, ere=ere, multiline=True, escapes=True),
            re.MULTILINE | (re.IGNORECASE if c.regex.icase else 0),
        )
    except (RegexError, re.error):
        return None
    if "\\A" in ml.pattern or "\\Z" in ml.pattern:
        return None
    return ml


async def run_fast_s(runner: Runner, inp: Input, ml: re.Pattern[str]) -> None:
    """``s/re/rep/[gpN I]`` alone: search whole chunks, touch matching lines only."""
    c = runner.cmds[0]
    search = ml.search
    quiet = runner.quiet
    cross = not runner.separate
    # when most lines match, substitute line by line in one C-level pass instead
    line_sub = None if quiet or c.pflag else _line_sub(c)
    dense = False
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        inp.cur_name = inp.filename
        runner.lineno += len(lines)
        if dense and line_sub is not None:
            assert c.regex is not None
            runner.last_rx = c.regex.rx
            new_lines = list(map(line_sub, lines))
            runner.emit_raw("\n".join(new_lines))
            if final_missing:
                runner.missing_nl = True
            else:
                runner.emit_raw("\n")
            # unchanged lines come back as the same object: count the changed ones
            if sum(map(is_not, new_lines, lines)) * 8 < len(lines):
                dense = False
            await runner.flush()
            runner.ctx.check_killed()
            continue
        text = "\n".join(lines)
        n = len(text)
        nmatched = 0
        out: list[str] = []
        printed: list[str] = []
        last_final = False
        pos = 0
        while pos <= n:
            m = search(text, pos)
            if m is None:
                break
            s = m.start()
            ls = text.rfind("\n", 0, s) + 1
            if ls < pos:
                ls = pos
            le = text.find("\n", s)
            if le < 0:
                le = n
            line = text[ls:le]
            nmatched += 1
            new, did = runner.substitute(c, line)
            if quiet:
                if did and c.pflag:
                    printed.append(new)
                    last_final = le >= n
            else:
                out.append(text[pos:ls])
                out.append(new)
                if did and c.pflag:
                    out.append("\n" + new)
                out.append(text[le : le + 1])
            pos = le + 1
        if quiet:
            if printed:
                runner.emit_raw("\n".join(printed))
                if last_final and final_missing:
                    runner.missing_nl = True
                else:
                    runner.emit_raw("\n")
        else:
            out.append(text[pos:])
            runner.emit_raw("".join(out))
            if final_missing:
                runner.missing_nl = True
            else:
                runner.emit_raw("\n")
        if nmatched * 4 > len(lines):
            dense = True
        await runner.flush()
        runner.ctx.check_killed()


def _line_sub(c: Cmd) -> Callable[[str], str] | None:
    """``line -> substituted line`` for a plain ``s`` (first match, or ``g`` with an
    expression that never matches empty, where Python's ``sub`` agrees with GNU); None for
    the other forms."""
    if c.regex is None or c.regex.rx is None or c.nth != 1:
        return None
    rx = c.regex.rx
    try:
        rep = make_replacer(c.repl, rx.groups)
    except SedError:
        return None
    repl: str | Callable[[re.Match[str]], str] = _template(c.repl) or rep
    if c.gflag:
        if _may_match_empty(rx):
            return None
        return functools.partial(rx.sub, repl)
    return functools.partial(rx.sub, repl, count=1)


def _fast_y(cmds: list[Cmd], sep: str, quiet: bool) -> list[dict[int, str]] | None:
    """The translation tables of a script made only of ``y`` commands without addresses
    (none mapping the line separator), or None."""
    if quiet or sep != "\n" or not cmds:
        return None
    maps: list[dict[int, str]] = []
    for c in cmds:
        if c.name != "y" or c.a1 is not None or c.negate or c.ymap is None:
            return None
        if 10 in c.ymap:
            return None
        maps.append(c.ymap)
    return maps


async def run_fast_y(runner: Runner, inp: Input, maps: list[dict[int, str]]) -> None:
    """``y/abc/xyz/`` alone: translate whole chunks at once."""
    cross = not runner.separate
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        inp.cur_name = inp.filename
        runner.lineno += len(lines)
        text = "\n".join(lines)
        for table in maps:
            text = text.translate(table)
        runner.emit_raw(text)
        if final_missing:
            runner.missing_nl = True
        else:
            runner.emit_raw("\n")
        await runner.flush()
        runner.ctx.check_killed()


def _fast_filter(cmds: list[Cmd], sep: str, ere: bool) -> re.Pattern[str] | None:
    """The chunk regex for a script of one ``/re/p`` or ``/re/d`` (``!`` allowed), or None."""
    if len(cmds) != 1 or sep != "\n":
        return None
    c = cmds[0]
    if c.name not in ("p", "d") or c.a1 is None or c.a2 is not None or c.a1.kind != "re":
        return None
    rx = c.a1.regex
    if rx is None or rx.rx is None or rx.mline:
        return None
    try:
        ml = re.compile(
            translate(rx.source, ere=ere, multiline=True, escapes=True),
            re.MULTILINE | (re.IGNORECASE if rx.icase else 0),
        )
    except (RegexError, re.error):
        return None
    if "\\A" in ml.pattern or "\\Z" in ml.pattern:
        return None
    return ml


async def run_fast_filter(runner: Runner, inp: Input, ml: re.Pattern[str]) -> None:
    """``/re/p`` or ``/re/d`` alone: find the selected lines with one search per chunk."""
    c = runner.cmds[0]
    assert c.a1 is not None and c.a1.regex is not None and c.a1.regex.rx is not None
    matcher = Matcher(ml)
    # a chunk match is confirmed on its own line with the exact (non-multiline) expression
    line_rx = c.a1.regex.rx
    matcher.line_matches = lambda line: line_rx.search(line) is not None  # type: ignore[method-assign]
    quiet = runner.quiet
    cross = not runner.separate
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        text = "\n".join(lines) + "\n"
        n = len(text)
        out: list[str] = []
        last_end = -1
        if c.name == "p":
            if quiet:
                for ls, le in iter_selected(text, matcher, "\n", c.negate):
                    out.append(text[ls : le + 1])
                    last_end = le + 1
            else:
                pos = 0
                for ls, le in iter_selected(text, matcher, "\n", c.negate):
                    out.append(text[pos : le + 1])
                    out.append(text[ls : le + 1])
                    pos = le + 1
                out.append(text[pos:])
                last_end = n
        elif not quiet:
            for ls, le in iter_selected(text, matcher, "\n", not c.negate):
                out.append(text[ls : le + 1])
                last_end = le + 1
        if out:
            chunk = "".join(out)
            if final_missing and last_end == n:
                runner.emit_raw(chunk[:-1])
                runner.missing_nl = True
            else:
                runner.emit_raw(chunk)
        await runner.flush()
        runner.ctx.check_killed()


# --- command -------------------------------------------------------------------------------

OPTS = [
    Opt("n", "quiet"),
    Opt("", "silent", dest="quiet"),
    Opt("e", "expression", "required", dest="expr", multiple=True),
    Opt("f", "file", "required", dest="file", multiple=True),
    Opt("i", "in-place", "optional"),
    Opt("l", "line-length", "required"),
    Opt("", "posix"),
    Opt("E", "regexp-extended"),
    Opt("r", "", dest="regexp_extended"),
    Opt("s", "separate"),
    Opt("z", "null-data"),
    Opt("u", "unbuffered"),
    Opt("", "debug"),
    Opt("", "sandbox"),
    Opt("", "follow-symlinks"),
    Opt("b", "binary"),
    Opt("", "help"),
    Opt("", "version"),
]


@command("sed")
async def sed(ctx: Context) -> int:
    try:
        p = parse("sed", ctx.argv[1:], OPTS)
    except UsageError as e:
        msg = e.message.split("\n")[0]
        await ctx.stderr.write((msg + "\n" + HELP).encode(ENC, ERRS))
        return 1
    if p.flag("help"):
        await ctx.out(HELP)
        return 0
    if p.flag("version"):
        await ctx.out("sed (pocketos) 4.9\n")
        return 0
    ere = p.flag("regexp_extended")
    pieces: list[tuple[int, str]] = []
    texts: list[str] = []
    operands = list(p.operands)
    offset = 0
    nexpr = 0
    for key, val in p.order:
        if key == "expr":
            nexpr += 1
            t = str(val)
            pieces.append((offset, f"-e expression #{nexpr}"))
            texts.append(t)
            offset += len(t) + 1
        elif key == "file":
            name = str(val)
            try:
                if name == "-":
                    data = await ctx.stdin.read()
                else:
                    data = ctx.fs.read_bytes(name)
            except OSError as exc:
                await ctx.err(f"couldn't open file {name}: {exc.strerror or exc}")
                return 1
            t = data.decode(ENC, ERRS)
            if t.endswith("\n"):
                t = t[:-1]
            pieces.append((offset, f"file {name}"))
            texts.append(t)
            offset += len(t) + 1
    if not texts:
        if not operands:
            await ctx.stderr.write(HELP.encode())
            return 1
        t = operands.pop(0)
        pieces.append((0, "-e expression #1"))
        texts.append(t)
    script = "\n".join(texts)
    try:
        cmds, hash_n = parse_script(script, pieces, ere)
    except SedError as exc:
        await ctx.err(str(exc))
        return 4 if isinstance(exc, SedPanic) else 1
    in_place = p.get("in_place") is not None
    suffix_v = p.get("in_place")
    suffix = suffix_v if isinstance(suffix_v, str) else None
    line_len = 70
    if p.get("line_length") is not None:
        try:
            line_len = int(p.str("line_length") or "")
        except ValueError:
            await ctx.err(f"invalid line length: {p.str('line_length')}")
            return 1
    sep = "\0" if p.flag("null_data") else "\n"
    runner = Runner(
        ctx,
        cmds,
        p.flag("quiet") or hash_n,
        sep,
        line_len,
        ere,
        p.flag("separate"),
        in_place,
        suffix,
        p.flag("posix"),
    )
    for c in cmds:
        if c.name in "wW" and c.text not in ("/dev/stdout", "/dev/stderr"):
            runner.wfiles.setdefault(c.text, [])
        if c.wfile is not None and c.wfile not in ("/dev/stdout", "/dev/stderr"):
            runner.wfiles.setdefault(c.wfile, [])
    files = operands or ["-"]
    status = 0
    try:
        if in_place:
            if not operands:
                await ctx.err("no input files")
                return 1
            status = await _run_in_place(ctx, runner, files, ere)
        else:
            inp = Input(ctx, files, sep, runner)
            try:
                fast = _fast_s(cmds, sep, ere)
                ffilter = _fast_filter(cmds, sep, ere)
                fast_y = _fast_y(cmds, sep, runner.quiet)
                if fast is not None and not runner.separate:
                    await run_fast_s(runner, inp, fast)
                elif fast_y is not None and not runner.separate:
                    await run_fast_y(runner, inp, fast_y)
                elif ffilter is not None and not runner.separate:
                    await run_fast_filter(runner, inp, ffilter)
                else:
                    await runner.run_all(inp)
            except _Quit as q:
                status = q.status
    except SedError as exc:
        await runner.flush()
        await ctx.err(str(exc))
        return 4
    await runner.flush()
    if runner.missing_nl:
        runner.missing_nl = False
    await runner.write_wfiles()
    if status:
        return status
    return runner.status


async def _run_in_place(ctx: Context, runner: Runner, files: list[str], ere: bool) -> int:
    status = 0
    for name in files:
        if name == "-":
            await ctx.err("couldn't edit -: not a regular file")
            runner.status = 4
            continue
        try:
            st = ctx.fs.stat(name)
        except OSError as exc:
            await ctx.err(f"can't read {name}: {exc.strerror or exc}")
            runner.status = 2
            continue
        if not st.is_file():
            await ctx.err(f"couldn't edit {name}: not a regular file")
            runner.status = 4
            continue
        runner.inplace_buf = []
        runner.missing_nl = False
        runner.lineno = 0
        inp = Input(ctx, [name], runner.sep, runner)
        quit_status: int | None = None
        try:
            await runner.run_all(inp)
        except _Quit as q:
            quit_status = q.status
        data = "".join(runner.inplace_buf).encode(ENC, ERRS)
        runner.inplace_buf = None
        runner.missing_nl = False
        try:
            if runner.suffix:
                if "*" in runner.suffix:
                    base = posixpath.basename(name)
                    bname = runner.suffix.replace("*", base)
                    if "/" not in bname:
                        bname = posixpath.join(posixpath.dirname(name), bname)
                else:
                    bname = name + runner.suffix
                ctx.fs.write_bytes(bname, ctx.fs.read_bytes(name))
            ctx.fs.write_bytes(name, data)
        except OSError as exc:
            await ctx.err(f"couldn't edit {name}: {exc.strerror or exc}")
            runner.status = 4
        if quit_status is not None:
            status = quit_status
            break
    return status
