"""The sed script: its model and parser.

The script is parsed once into a flat list of commands (blocks and branches become jumps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pocketos.commands._regex import RegexError, translate
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern

ENC = "utf-8"
ERRS = "surrogateescape"
CHUNK = 256 * 1024


class SedError(Exception):
    """A script error; ``str`` is the full message after ``sed: ``."""


class SedPanic(SedError):
    """An error GNU sed reports with exit status 4."""


class _Quit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Regex:
    """A regex as written; compiled lazily (empty = the last regex used)."""

    source: str
    icase: bool = False
    mline: bool = False
    rx: SafePattern | None = None


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
        rx.rx = safe_regex.compile(
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
