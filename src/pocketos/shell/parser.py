"""Shell parser: source text -> :class:`pocketos.shell.ast.Script`.

A recursive-descent parser over a context-sensitive lexer, following bash's grammar: reserved
words count only in command position, here-document bodies are read after the newline that
ends their line, and ``$( )``/backticks are parsed recursively in place. Errors raise
:class:`ShellSyntaxError` carrying bash's wording and the line number.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict

from pocketos.shell.ast import (
    DQ,
    AndOr,
    ArithCmd,
    ArithFor,
    ArithSub,
    Assign,
    BadSub,
    Case,
    CaseItem,
    CmdSub,
    Command,
    CondAnd,
    CondBinary,
    CondCmd,
    CondExpr,
    CondNot,
    CondOr,
    CondUnary,
    CondWord,
    For,
    FuncDef,
    Group,
    HereDoc,
    If,
    ListItem,
    Lit,
    Param,
    Part,
    Pipeline,
    ProcSub,
    Quoted,
    Redir,
    Script,
    Simple,
    Subshell,
    While,
    Word,
)

__all__ = ["ShellSyntaxError", "parse", "parse_word_text", "ansi_c_decode"]


class ShellSyntaxError(Exception):
    def __init__(self, message: str, line: int, source_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.source_line = source_line


META = frozenset(" \t\n;&|<>()")
_PLAIN_RUN = re.compile(r"[^ \t\n;&|<>()\\'\"`$]+")
_FDVAR_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}(?=[<>])")
RESERVED = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "case",
        "esac",
        "while",
        "until",
        "for",
        "in",
        "function",
        "select",
        "{",
        "}",
        "!",
        "[[",
        "]]",
        "time",
    ]
)
STOP_WORDS = frozenset(["then", "else", "elif", "fi", "do", "done", "esac", "}"])
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[)?")
SPECIAL_PARAMS = "@*#?-$!0"
REDIR_OPS = ("&>>", "<<<", "<<-", "&>", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">")
CTRL_OPS = (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")")

_ESC = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def ansi_c_decode(s: str, echo_mode: bool = False) -> tuple[str, bool]:
    """Decode backslash escapes of ``$'...'`` (or ``echo -e`` when ``echo_mode``).
    Returns (text, stop) where stop is True when ``\\c`` ended the output (echo)."""
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        d = s[i + 1]
        i += 2
        if d in _ESC and not (echo_mode and d in "'\"?"):
            out.append(_ESC[d])
        elif d == "c":
            if echo_mode:
                return "".join(out), True
            if i < n:
                out.append(chr(ord(s[i]) & 0x1F))
                i += 1
            else:
                out.append("\\c")
        elif d in "01234567" and not (echo_mode and d != "0"):
            j = i - 1 if not echo_mode else i
            maxlen = 3 if not echo_mode else 3
            k = j
            while k < n and k - j < maxlen and s[k] in "01234567":
                k += 1
            val = int(s[j:k], 8) if k > j else 0
            if val & 0xFF == 0 and not echo_mode:
                return "".join(out), True
            out.append(_byte_char(val & 0xFF))
            i = k
        elif d == "x":
            k = i
            while k < n and k - i < 2 and s[k] in "0123456789abcdefABCDEF":
                k += 1
            if k == i:
                out.append("\\x")
            else:
                v = int(s[i:k], 16)
                if v == 0 and not echo_mode:
                    return "".join(out), True
                out.append(_byte_char(v))
            i = k
        elif d in "uU":
            k = i
            lim = 4 if d == "u" else 8
            while k < n and k - i < lim and s[k] in "0123456789abcdefABCDEF":
                k += 1
            if k == i:
                out.append("\\" + d)
            else:
                try:
                    out.append(chr(int(s[i:k], 16)))
                except (ValueError, OverflowError):
                    out.append("\\" + d + s[i:k])
            i = k
        else:
            out.append("\\" + d)
    return "".join(out), False


def _byte_char(v: int) -> str:
    if v < 0x80:
        return chr(v)
    return bytes([v]).decode("utf-8", "surrogateescape")


class _Tok:
    __slots__ = ("kind", "value", "word", "start", "fd")

    def __init__(
        self, kind: str, value: str, start: int, word: Word | None = None, fd: int | None = None
    ) -> None:
        self.kind = kind  # word | op | redir | nl | eof
        self.value = value
        self.start = start
        self.word = word
        self.fd = fd


class Parser:
    def __init__(self, src: str, extglob: bool = True, first_line: int = 1) -> None:
        self.src = src
        #: commands' line numbers count from ``first_line`` (eval and ERR traps run text
        #: whose lines continue the caller's); syntax errors stay relative to ``src``
        self.line_base = first_line - 1
        #: accept extglob patterns in words (bash: only when ``shopt extglob`` was on
        #: before the line was read; always inside ``[[ ]]``)
        self.extglob = extglob
        self.in_cond = False
        self.n = len(src)
        self.pos = 0
        self.tok: _Tok | None = None
        self.pending: list[HereDoc] = []
        self._nl: list[int] | None = None
        self.warnings: list[str] = []

    # --- positions / errors -------------------------------------------------------------------
    def line_at(self, pos: int) -> int:
        if self._nl is None:
            self._nl = [i for i, c in enumerate(self.src) if c == "\n"]
        return bisect.bisect_left(self._nl, pos) + 1 + self.line_base

    def error(self, msg: str, pos: int | None = None, *, show: bool = True) -> ShellSyntaxError:
        p = self.pos if pos is None else pos
        line = self.line_at(min(p, self.n)) - self.line_base
        text = None
        if show:
            lines = self.src.split("\n")
            text = lines[line - 1] if line - 1 < len(lines) else ""
        return ShellSyntaxError(msg, line, text)

    def unexpected(self, tok: _Tok) -> ShellSyntaxError:
        if tok.kind == "eof":
            err = self.error("syntax error: unexpected end of file", self.n, show=False)
            if not self.src.endswith("\n"):
                err.line += 1
            return err
        shown = "newline" if tok.kind == "nl" else tok.value
        return self.error(f"syntax error near unexpected token `{shown}'", tok.start)

    # --- lexer --------------------------------------------------------------------------------
    def skip_blank(self) -> None:
        src, n = self.src, self.n
        p = self.pos
        while p < n:
            c = src[p]
            if c == " " or c == "\t":
                p += 1
            elif c == "\\" and p + 1 < n and src[p + 1] == "\n":
                p += 2
            elif c == "#":
                while p < n and src[p] != "\n":
                    p += 1
            else:
                break
        self.pos = p

    def peek(self) -> _Tok:
        if self.tok is None:
            self.tok = self._lex()
        return self.tok

    def take(self) -> _Tok:
        t = self.peek()
        self.tok = None
        return t

    def _lex(self) -> _Tok:
        self.skip_blank()
        p = self.pos
        src = self.src
        if p >= self.n:
            return _Tok("eof", "", p)
        c = src[p]
        if c == "\n":
            self.pos = p + 1
            if self.pending:
                self.read_heredocs()
            return _Tok("nl", "\n", p)
        if c.isdigit():
            q = p
            while q < self.n and src[q].isdigit():
                q += 1
            if q < self.n and src[q] in "<>" and not (q + 1 < self.n and src[q + 1] == "("):
                # ``2<(cmd)`` is the word 2 and a process substitution, not a redirection
                for op in REDIR_OPS:
                    if src.startswith(op, q) and op[0] != "&":
                        self.pos = q + len(op)
                        return _Tok("redir", op, p, fd=int(src[p:q]))
        if c == "{":
            m = _FDVAR_RE.match(src, p)
            if m:
                q = m.end()
                for op in REDIR_OPS:
                    if src.startswith(op, q) and op[0] != "&":
                        self.pos = q + len(op)
                        t = _Tok("redir", op, p)
                        t.word = Word([Lit(m.group(1))], m.group(1), m.group(1))
                        return t
        if c in "<>&" and not (c in "<>" and p + 1 < self.n and src[p + 1] == "("):
            for op in REDIR_OPS:
                if src.startswith(op, p):
                    self.pos = p + len(op)
                    return _Tok("redir", op, p)
        if c in ";&|()":
            for op in CTRL_OPS:
                if src.startswith(op, p):
                    self.pos = p + len(op)
                    return _Tok("op", op, p)
        w = self.read_word()
        return _Tok("word", w.text, p, word=w)

    def _here(self) -> int:
        return self.tok.start if self.tok is not None else self.pos

    def is_word(self, tok: _Tok, value: str) -> bool:
        return (
            tok.kind == "word"
            and tok.value == value
            and tok.word is not None
            and _bare(tok.word) == value
        )

    def skip_newlines(self) -> None:
        while self.peek().kind == "nl":
            self.take()

    # --- words ---------------------------------------------------------------------------------
    def read_word(self, *, regex: bool = False) -> Word:
        start = self.pos
        parts = self.read_parts(regex=regex)
        text = self.src[start : self.pos]
        w = _make_word(parts, text)
        m = ASSIGN_RE.match(text)
        if m and not regex:
            self._maybe_assign(w, start, m)
        return w

    def _spaced_subscript_assign(self, start: int) -> Word | None:
        """``a[1 + 1]=x``: in assignment position bash reads a subscript up to its matching
        ``]`` across blanks; the word is an assignment only if ``=`` or ``+=`` follows."""
        src, n = self.src, self.n
        m = ASSIGN_RE.match(src, start)
        if m is None or not m.group(2):
            return None
        depth, j = 1, m.end()
        while j < n and depth:
            c = src[j]
            if c == "\n":
                return None
            if c == "\\":
                j += 1
            elif c in "'\"":
                k = src.find(c, j + 1)
                if k < 0:
                    return None
                j = k
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            j += 1
        if depth or not (src.startswith("=", j) or src.startswith("+=", j)):
            return None
        # everything up to ``]`` is one literal piece of the word; the value is read as usual
        self.pos = j
        rest = self.read_parts()
        text = src[start : self.pos]
        w = _make_word([Lit(src[start:j]), *rest], text)
        m = ASSIGN_RE.match(text)
        assert m is not None
        self._maybe_assign(w, start, m)
        return w if w.assign is not None else None

    def _maybe_assign(self, w: Word, start: int, m: re.Match[str]) -> None:
        text = w.text
        name = m.group(1)
        i = m.end()
        index: str | None = None
        if m.group(2):
            depth = 1
            j = i
            while j < len(text) and depth:
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                j += 1
            if depth:
                return
            index = text[i : j - 1]
            i = j
        append = False
        if text.startswith("+=", i):
            append = True
            i += 2
        elif text.startswith("=", i):
            i += 1
        else:
            return
        vstart = start + i
        end = self.pos
        if i == len(text) and end < self.n and self.src[end] == "(":
            self.pos = end + 1
            elems = self.read_array_elems()
            w.text = self.src[start : self.pos]
            w.parts = [Lit(w.text)]
            w.simple = None
            w.assign = Assign(name, index, None, elems, append, w.text)
            return
        save = self.pos
        self.pos = vstart
        vparts = self.read_parts(assign=True)
        self.pos = save
        w.assign = Assign(
            name, index, _make_word(vparts, self.src[vstart:save]), None, append, text
        )

    def read_array_elems(self) -> list[Word | Assign]:
        elems: list[Word | Assign] = []
        while True:
            self.skip_blank()
            if self.pos < self.n and self.src[self.pos] == "\n":
                self.pos += 1
                if self.pending:
                    self.read_heredocs()
                continue
            if self.pos >= self.n:
                raise self.error(
                    "unexpected EOF while looking for matching `)'", self.n, show=False
                )
            c = self.src[self.pos]
            if c == ")":
                self.pos += 1
                return elems
            if c in ";&|<>(":
                op = c
                for o in CTRL_OPS + REDIR_OPS:
                    if self.src.startswith(o, self.pos):
                        op = o
                        break
                raise self.error(f"syntax error near unexpected token `{op}'")
            start = self.pos
            if c == "[":
                depth = 0
                j = self.pos
                while j < self.n:
                    if self.src[j] == "[":
                        depth += 1
                    elif self.src[j] == "]":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                rest = self.src[j + 1 : j + 3]
                if j < self.n and (rest.startswith("=") or rest.startswith("+=")):
                    key = self.src[self.pos + 1 : j]
                    app = rest.startswith("+=")
                    self.pos = j + (3 if app else 2)
                    vstart = self.pos
                    vparts = self.read_parts(assign=True)
                    elems.append(
                        Assign(
                            "",
                            key,
                            _make_word(vparts, self.src[vstart : self.pos]),
                            None,
                            app,
                            self.src[start : self.pos],
                        )
                    )
                    continue
            parts = self.read_parts()
            elems.append(_make_word(parts, self.src[start : self.pos]))

    def read_parts(self, *, regex: bool = False, assign: bool = False) -> list[Part]:
        """Read one word's parts at ``pos`` (stops at an unquoted metacharacter)."""
        src, n = self.src, self.n
        parts: list[Part] = []
        buf: list[str] = []
        depth = 0  # extglob / regex parentheses
        plain = _PLAIN_RUN.match
        while self.pos < n:
            m = plain(src, self.pos)
            if m is not None:
                buf.append(m.group())
                self.pos = m.end()
                if self.pos >= n:
                    break
            c = src[self.pos]
            if c in META:
                if c == "(" and (
                    regex
                    or (
                        buf
                        and buf[-1][-1:] in ("?", "*", "+", "@", "!")
                        and (self.extglob or self.in_cond)
                    )
                ):
                    depth += 1
                    buf.append(c)
                    self.pos += 1
                    continue
                if depth and c in ")|":
                    if c == ")":
                        depth -= 1
                    buf.append(c)
                    self.pos += 1
                    continue
                if regex and c in "|<>":
                    buf.append(c)
                    self.pos += 1
                    continue
                if depth and c in " \t\n" and regex:
                    buf.append(c)
                    self.pos += 1
                    continue
                if c in "<>" and self.pos + 1 < n and src[self.pos + 1] == "(" and not regex:
                    _flush(buf, parts)
                    self.pos += 2
                    body = self.parse_sub(")")
                    parts.append(ProcSub(c, body))
                    continue
                break
            if c == "\\":
                if self.pos + 1 < n:
                    d = src[self.pos + 1]
                    self.pos += 2
                    if d == "\n":
                        continue
                    _flush(buf, parts)
                    parts.append(Quoted(d))
                else:
                    buf.append("\\")
                    self.pos += 1
                continue
            if c == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("unexpected EOF while looking for matching `''", n, show=False)
                _flush(buf, parts)
                parts.append(Quoted(src[self.pos + 1 : end]))
                self.pos = end + 1
                continue
            if c == '"':
                _flush(buf, parts)
                self.pos += 1
                parts.append(DQ(self.read_dq()))
                continue
            if c == "`":
                _flush(buf, parts)
                parts.append(self.read_backtick())
                continue
            if c == "$":
                if self.pos + 1 < n and src[self.pos + 1] == "'":
                    end = self._find_ansi_end(self.pos + 2)
                    _flush(buf, parts)
                    parts.append(Quoted(ansi_c_decode(src[self.pos + 2 : end])[0]))
                    self.pos = end + 1
                    continue
                if self.pos + 1 < n and src[self.pos + 1] == '"':
                    _flush(buf, parts)
                    self.pos += 2
                    parts.append(DQ(self.read_dq()))
                    continue
                p = self.read_dollar()
                if p is None:
                    buf.append("$")
                    self.pos += 1
                else:
                    _flush(buf, parts)
                    parts.append(p)
                continue
            if c == "~" and assign and buf and buf[-1] == ":":
                pass
            buf.append(c)
            self.pos += 1
        _flush(buf, parts)
        return parts

    def _find_ansi_end(self, p: int) -> int:
        src, n = self.src, self.n
        while p < n:
            c = src[p]
            if c == "\\":
                p += 2
                continue
            if c == "'":
                return p
            p += 1
        raise self.error("unexpected EOF while looking for matching `''", n, show=False)

    def read_dq(self, *, heredoc: bool = False, stop: str = '"') -> list[Part]:
        """Parts of a double-quoted string; ``pos`` is after the opening quote."""
        src, n = self.src, self.n
        parts: list[Part] = []
        buf: list[str] = []
        special = "\\$`" if heredoc else '\\$`"'
        while True:
            if self.pos >= n:
                if heredoc:
                    break
                raise self.error("unexpected EOF while looking for matching `\"'", n, show=False)
            c = src[self.pos]
            if c == stop and not heredoc:
                self.pos += 1
                break
            if c not in special:
                buf.append(c)
                self.pos += 1
                continue
            if c == "\\":
                d = src[self.pos + 1] if self.pos + 1 < n else ""
                if d == "\n":
                    self.pos += 2
                    continue
                if d and d in ('$`\\"' if not heredoc else "$`\\"):
                    buf.append(d)
                    self.pos += 2
                else:
                    buf.append("\\")
                    self.pos += 1
                continue
            if c == "`":
                if buf:
                    parts.append(Quoted("".join(buf)))
                    buf.clear()
                parts.append(self.read_backtick())
                continue
            # $
            p = self.read_dollar(in_dq=True)
            if p is None:
                buf.append("$")
                self.pos += 1
            else:
                if buf:
                    parts.append(Quoted("".join(buf)))
                    buf.clear()
                parts.append(p)
        if buf:
            parts.append(Quoted("".join(buf)))
        return parts

    def read_backtick(self) -> Part:
        src, n = self.src, self.n
        p = self.pos + 1
        out: list[str] = []
        while True:
            if p >= n:
                raise self.error("unexpected EOF while looking for matching ``'", n, show=False)
            c = src[p]
            if c == "\\" and p + 1 < n and src[p + 1] in "$`\\":
                out.append(src[p + 1])
                p += 2
                continue
            if c == "`":
                break
            out.append(c)
            p += 1
        self.pos = p + 1
        inner = "".join(out)
        try:
            body = parse(inner, self.extglob)
        except ShellSyntaxError as e:
            return BadSub("`" + inner + "`: " + e.message)
        return CmdSub(body, inner)

    def read_dollar(self, in_dq: bool = False) -> Part | None:
        src, n = self.src, self.n
        p = self.pos + 1
        if p >= n:
            return None
        c = src[p]
        if c == "(":
            if src.startswith("((", p):
                end = self._arith_end(p + 2)
                if end is not None:
                    self.pos = end + 2
                    return ArithSub(src[p + 2 : end])
            self.pos = p + 1
            start = self.pos
            body = self.parse_sub(")")
            return CmdSub(body, src[start : self.pos - 1])
        if c == "[":
            end = src.find("]", p)
            if end > 0:
                self.pos = end + 1
                return ArithSub(src[p + 1 : end])
            return None
        if c == "{":
            return self.read_brace_param(in_dq)
        if c.isalpha() or c == "_":
            m = NAME_RE.match(src, p)
            assert m is not None
            self.pos = m.end()
            return Param(m.group(0), text="$" + m.group(0))
        if c.isdigit() or c in SPECIAL_PARAMS:
            self.pos = p + 1
            return Param(c, text="$" + c)
        return None

    def _arith_end(self, p: int) -> int | None:
        src, n = self.src, self.n
        depth = 0
        while p < n:
            c = src[p]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    if p + 1 < n and src[p + 1] == ")":
                        return p
                    return None
                depth -= 1
            elif c in "'\"":
                q = src.find(c, p + 1)
                if q < 0:
                    return None
                p = q
            p += 1
        return None

    def read_brace_param(self, in_dq: bool) -> Part:
        src, n = self.src, self.n
        start = self.pos
        p = self.pos + 2
        # find the closing brace to have the text for messages
        end = self._brace_end(p)
        whole = src[start : end + 1]
        self.pos = p
        par = Param("", text=whole)
        c = src[p] if p < n else ""
        if (
            c == "#"
            and p + 1 < n
            and src[p + 1] != "}"
            and not (
                src[p + 1] in "-=?+:" and p + 2 < n and src[p + 2] != "}" and src[p + 1] != ":"
            )
        ):
            # ${#name}
            par.length = True
            p += 1
        elif c == "!" and p + 1 < n and (src[p + 1].isalnum() or src[p + 1] in "_@*#$!?"):
            par.indirect = True
            p += 1
        m = NAME_RE.match(src, p)
        if m:
            par.name = m.group(0)
            p = m.end()
        elif p < n and src[p].isdigit():
            q = p
            while q < n and src[q].isdigit():
                q += 1
            par.name = src[p:q]
            p = q
        elif p < n and src[p] in SPECIAL_PARAMS:
            par.name = src[p]
            p += 1
        else:
            self.pos = end + 1
            return BadSub(whole)
        if p < n and src[p] == "[":
            q = p + 1
            depth = 1
            while q < n and depth:
                if src[q] == "[":
                    depth += 1
                elif src[q] == "]":
                    depth -= 1
                q += 1
            par.index = src[p + 1 : q - 1]
            p = q
        if par.indirect and p < n and src[p] in "*@" and src.startswith("}", p + 1):
            par.prefix_list = src[p]
            par.indirect = False
            self.pos = p + 2
            return par
        if par.indirect and par.index in ("@", "*") and p < n and src[p] == "}":
            par.indirect = False
            par.keys = True
            self.pos = p + 1
            return par
        if p >= n:
            raise self.error("unexpected EOF while looking for matching `}'", n, show=False)
        if src[p] == "}":
            self.pos = p + 1
            return par
        if par.length:
            self.pos = end + 1
            return BadSub(whole)
        for op in (
            ":-",
            ":=",
            ":+",
            ":?",
            "##",
            "%%",
            "//",
            "/#",
            "/%",
            "^^",
            ",,",
            "~~",
            "-",
            "=",
            "+",
            "?",
            "#",
            "%",
            "/",
            "^",
            ",",
            "~",
            ":",
            "@",
        ):
            if src.startswith(op, p):
                par.op = op
                p += len(op)
                break
        else:
            self.pos = end + 1
            return BadSub(whole)
        self.pos = p
        op = par.op
        if op == ":":
            a, b = self._raw_until(":}"), None
            if not a.strip() and self.pos < n and src[self.pos] == "}":
                self.pos = end + 1
                return BadSub(whole)
            if self.pos < n and src[self.pos] == ":":
                self.pos += 1
                b = self._raw_until("}")
            par.arg = Word([Lit(a)], a, a)
            if b is not None:
                par.arg2 = Word([Lit(b)], b, b)
        elif op == "@":
            q = self.pos
            self.pos = end
            par.arg = Word([Lit(src[q:end])], src[q:end], src[q:end])
        elif op in ("/", "//", "/#", "/%"):
            par.arg = self._param_word("/}", in_dq, pattern=True)
            if self.pos < n and src[self.pos] == "/":
                self.pos += 1
                par.arg2 = self._param_word("}", in_dq, pattern=True)
        else:
            pattern = op in ("#", "##", "%", "%%", "^", "^^", ",", ",,", "~", "~~")
            par.arg = self._param_word("}", in_dq, pattern=pattern)
        if self.pos >= n or src[self.pos] != "}":
            raise self.error("unexpected EOF while looking for matching `}'", n, show=False)
        self.pos += 1
        return par

    def _brace_end(self, p: int) -> int:
        """Index of the ``}`` closing a ``${`` whose body starts at ``p`` (quote-aware)."""
        src, n = self.src, self.n
        depth = 0
        in_dq = False
        while p < n:
            c = src[p]
            if c == "\\":
                p += 2
                continue
            if c == '"':
                in_dq = not in_dq
            elif c == "'" and not in_dq:
                q = src.find("'", p + 1)
                p = (q if q >= 0 else n) + 1
                continue
            elif c == "{":
                depth += 1
            elif c == "}":
                if depth == 0:
                    return p
                depth -= 1
            p += 1
        raise self.error("unexpected EOF while looking for matching `}'", n, show=False)

    def _raw_until(self, stops: str) -> str:
        src, n = self.src, self.n
        p = self.pos
        depth = 0
        while p < n:
            c = src[p]
            if c in "([{":
                depth += 1
            elif c in ")]}" and depth and not (c == "}" and depth == 0):
                depth -= 1
            elif c in stops and depth == 0:
                break
            p += 1
        text = src[self.pos : p]
        self.pos = p
        return text

    def _param_word(self, stops: str, in_dq: bool, pattern: bool) -> Word:
        """The argument word of ``${x op word}`` (spaces allowed, stops at ``stops``)."""
        src, n = self.src, self.n
        parts: list[Part] = []
        buf: list[str] = []
        start = self.pos
        depth = 0
        while self.pos < n:
            c = src[self.pos]
            if c in stops and depth == 0:
                break
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if c == "\\" and self.pos + 1 < n:
                d = src[self.pos + 1]
                self.pos += 2
                if d == "\n":
                    continue
                if in_dq and d not in '$`\\"}':
                    if not pattern:
                        buf.append("\\" + d)
                    else:
                        _flush(buf, parts, False)
                        parts.append(Quoted(d))
                    continue
                _flush(buf, parts, in_dq and not pattern)
                parts.append(Quoted(d))
                continue
            if c == "'" and (not in_dq or pattern):
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("unexpected EOF while looking for matching `''", n, show=False)
                _flush(buf, parts, in_dq and not pattern)
                parts.append(Quoted(src[self.pos + 1 : end]))
                self.pos = end + 1
                continue
            if c == "$" and self.pos + 1 < n and src[self.pos + 1] == "'":
                end = self._find_ansi_end(self.pos + 2)
                _flush(buf, parts, in_dq and not pattern)
                parts.append(Quoted(ansi_c_decode(src[self.pos + 2 : end])[0]))
                self.pos = end + 1
                continue
            if c == '"':
                _flush(buf, parts, in_dq and not pattern)
                self.pos += 1
                parts.append(DQ(self.read_dq()))
                continue
            if c == "`":
                _flush(buf, parts, in_dq and not pattern)
                parts.append(self.read_backtick())
                continue
            if c == "$":
                p = self.read_dollar(in_dq)
                if p is None:
                    buf.append("$")
                    self.pos += 1
                else:
                    _flush(buf, parts, in_dq and not pattern)
                    parts.append(p)
                continue
            buf.append(c)
            self.pos += 1
        _flush(buf, parts, in_dq and not pattern)
        return _make_word(parts, src[start : self.pos])

    def parse_sub(self, close: str) -> Script:
        """Parse a nested list up to ``close`` (for ``$( )`` and ``<( )``)."""
        saved_tok = self.tok
        self.tok = None
        body = self.parse_list(stop_ops=(")",))
        t = self.peek()
        if t.kind != "op" or t.value != ")":
            if t.kind == "eof":
                raise self.error(
                    "unexpected EOF while looking for matching `)'", self.n, show=False
                )
            raise self.unexpected(t)
        self.tok = None
        self.tok = saved_tok
        return body

    # --- here-documents -----------------------------------------------------------------------
    def read_heredocs(self) -> None:
        pending, self.pending = self.pending, []
        src = self.src
        for hd in pending:
            lines: list[str] = []
            start_line = self.line_at(max(self.pos - 1, 0))
            found = False
            while self.pos < self.n:
                e = src.find("\n", self.pos)
                if e < 0:
                    line, nxt = src[self.pos :], self.n
                else:
                    line, nxt = src[self.pos : e], e + 1
                self.pos = nxt
                if hd.strip_tabs:
                    line = line.lstrip("\t")
                if line == hd.delimiter:
                    found = True
                    break
                lines.append(line + "\n")
            if not found:
                self.warnings.append(
                    f"line {self.line_at(self.n)}: warning: here-document at line {start_line} "
                    f"delimited by end-of-file (wanted `{hd.delimiter}')"
                )
            body = "".join(lines)
            if hd.quoted:
                hd.body = Word([Quoted(body)], body, body)
            else:
                sub = Parser(body)
                parts = sub.read_dq(heredoc=True)
                hd.body = _make_word(parts, body)
                if not parts:
                    hd.body.simple = ""

    # --- grammar ------------------------------------------------------------------------------
    def parse_list(
        self, stop_ops: tuple[str, ...] = (), stop_words: frozenset[str] = frozenset()
    ) -> Script:
        items: list[ListItem] = []
        self.skip_newlines()
        while True:
            t = self.peek()
            if t.kind == "eof":
                break
            if t.kind == "op" and t.value in stop_ops:
                break
            if (
                t.kind == "word"
                and t.value in stop_words
                and t.word is not None
                and _bare(t.word) == t.value
            ):
                break
            ao = self.parse_and_or()
            t = self.peek()
            if t.kind == "op" and t.value in (";", "&"):
                self.take()
                items.append(ListItem(ao, t.value == "&"))
                self.skip_newlines()
            elif t.kind == "nl":
                self.skip_newlines()
                items.append(ListItem(ao))
            else:
                items.append(ListItem(ao))
                break
        return Script(items)

    def parse_and_or(self) -> AndOr:
        first = self.parse_pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while True:
            t = self.peek()
            if t.kind == "op" and t.value in ("&&", "||"):
                self.take()
                self.skip_newlines()
                rest.append((t.value, self.parse_pipeline()))
            else:
                return AndOr(first, rest)

    def parse_pipeline(self) -> Pipeline:
        negate = False
        timed = False
        t = self.peek()
        line = self.line_at(t.start)
        while True:
            if self.is_word(t, "!"):
                self.take()
                negate = not negate
            elif self.is_word(t, "time"):
                self.take()
                timed = True
                t2 = self.peek()
                if self.is_word(t2, "-p"):
                    self.take()
            else:
                break
            t = self.peek()
        cmds = [self.parse_command()]
        errs: list[bool] = []
        while True:
            t = self.peek()
            if t.kind == "op" and t.value in ("|", "|&"):
                self.take()
                errs.append(t.value == "|&")
                self.skip_newlines()
                cmds.append(self.parse_command())
            else:
                break
        return Pipeline(cmds, negate, errs, line, timed)

    def parse_command(self) -> Command:
        t = self.peek()
        if t.kind == "word":
            w = t.word
            assert w is not None
            v = _bare(w)
            if v is not None and v in RESERVED:
                line = self.line_at(t.start)
                cmd: Command
                if v == "{":
                    self.take()
                    body = self.parse_list(stop_words=frozenset(["}"]))
                    self.expect_word("}", body)
                    cmd = Group(body, line=line)
                elif v == "if":
                    cmd = self.parse_if(line)
                elif v in ("while", "until"):
                    self.take()
                    cond = self.parse_list(stop_words=frozenset(["do"]))
                    self.expect_word("do", cond)
                    body = self.parse_list(stop_words=frozenset(["done"]))
                    self.expect_word("done", body)
                    cmd = While(cond, body, v == "until", line=line)
                elif v in ("for", "select"):
                    cmd = self.parse_for(v == "select", line)
                elif v == "case":
                    cmd = self.parse_case(line)
                elif v == "function":
                    self.take()
                    nt = self.take()
                    if nt.kind != "word":
                        raise self.unexpected(nt)
                    name = nt.value
                    t2 = self.peek()
                    if t2.kind == "op" and t2.value == "(":
                        self.take()
                        t3 = self.take()
                        if t3.kind != "op" or t3.value != ")":
                            raise self.unexpected(t3)
                    self.skip_newlines()
                    fd = FuncDef(name, self.parse_command(), line)
                    fd.source = self.src[t.start : self._here()].rstrip()
                    return fd
                elif v == "[[":
                    self.take()
                    self.in_cond = True
                    try:
                        cmd = CondCmd(self.parse_cond(), line=line)
                    finally:
                        self.in_cond = False
                else:
                    raise self.unexpected(t)
                assert not isinstance(cmd, FuncDef)
                self.parse_redirs(cmd.redirs)
                return cmd
            return self.parse_simple()
        if t.kind == "op" and t.value == "(":
            line = self.line_at(t.start)
            if self.src.startswith("((", t.start):
                end = self._arith_end(t.start + 2)
                if end is not None:
                    self.tok = None
                    self.pos = end + 2
                    ac = ArithCmd(self.src[t.start + 2 : end], line=line)
                    self.parse_redirs(ac.redirs)
                    return ac
            self.take()
            body = self.parse_list(stop_ops=(")",))
            t2 = self.peek()
            if t2.kind != "op" or t2.value != ")":
                raise self.unexpected(t2)
            if not body.items:
                raise self.unexpected(t2)
            self.take()
            sub = Subshell(body, line=line)
            self.parse_redirs(sub.redirs)
            return sub
        if t.kind == "redir":
            return self.parse_simple()
        raise self.unexpected(t)

    def expect_word(self, w: str, body: Script | None = None) -> None:
        t = self.peek()
        if body is not None and not body.items:
            raise self.unexpected(t)
        if not self.is_word(t, w):
            raise self.unexpected(t)
        self.take()

    def parse_if(self, line: int) -> If:
        self.take()
        clauses: list[tuple[Script, Script]] = []
        orelse: Script | None = None
        while True:
            cond = self.parse_list(stop_words=frozenset(["then"]))
            self.expect_word("then", cond)
            body = self.parse_list(stop_words=frozenset(["elif", "else", "fi"]))
            t = self.peek()
            if not body.items:
                raise self.unexpected(t)
            clauses.append((cond, body))
            if self.is_word(t, "elif"):
                self.take()
                continue
            if self.is_word(t, "else"):
                self.take()
                orelse = self.parse_list(stop_words=frozenset(["fi"]))
                self.expect_word("fi", orelse)
                break
            self.expect_word("fi")
            break
        return If(clauses, orelse, line=line)

    def parse_for(self, select: bool, line: int) -> Command:
        self.take()
        if self.src.startswith("((", self.pos) or (
            self.peek().kind == "op" and self.src.startswith("((", self.peek().start)
        ):
            t = self.peek()
            start = t.start if t.kind == "op" else self.pos
            end = self._arith_end(start + 2)
            if end is None:
                raise self.error("syntax error near unexpected token `('", start)
            self.tok = None
            inner = self.src[start + 2 : end]
            self.pos = end + 2
            pieces = _split_arith_for(inner)
            if len(pieces) != 3:
                raise self.error("syntax error: `;' unexpected", start)
            t = self.peek()
            if t.kind == "op" and t.value == ";":
                self.take()
            self.skip_newlines()
            body = self.parse_loop_body()
            return ArithFor(pieces[0], pieces[1], pieces[2], body, line=line)
        nt = self.take()
        if nt.kind != "word" or not NAME_RE.fullmatch(nt.value):
            if nt.kind == "word":
                raise self.error(f"`{nt.value}': not a valid identifier", nt.start)
            raise self.unexpected(nt)
        var = nt.value
        words: list[Word] | None = None
        t = self.peek()
        if t.kind == "nl":
            self.skip_newlines()
            t = self.peek()
        if self.is_word(t, "in"):
            self.take()
            words = []
            while True:
                t = self.peek()
                if t.kind == "word":
                    assert t.word is not None
                    words.append(t.word)
                    self.take()
                else:
                    break
            if t.kind == "op" and t.value == ";" or t.kind == "nl":
                self.take()
            else:
                raise self.unexpected(t)
        elif t.kind == "op" and t.value == ";":
            self.take()
        self.skip_newlines()
        body = self.parse_loop_body()
        return For(var, words, body, select, line=line)

    def parse_loop_body(self) -> Script:
        t = self.peek()
        if self.is_word(t, "do"):
            self.take()
            body = self.parse_list(stop_words=frozenset(["done"]))
            self.expect_word("done", body)
            return body
        if self.is_word(t, "{"):
            self.take()
            body = self.parse_list(stop_words=frozenset(["}"]))
            self.expect_word("}", body)
            return body
        raise self.unexpected(t)

    def parse_case(self, line: int) -> Case:
        self.take()
        t = self.take()
        if t.kind != "word":
            raise self.unexpected(t)
        assert t.word is not None
        word = t.word
        self.skip_newlines()
        if not self.is_word(self.peek(), "in"):
            raise self.unexpected(self.peek())
        self.take()
        self.skip_newlines()
        items: list[CaseItem] = []
        while True:
            t = self.peek()
            if self.is_word(t, "esac"):
                self.take()
                break
            if t.kind == "op" and t.value == "(":
                self.take()
                t = self.peek()
            pats: list[Word] = []
            while True:
                t = self.take()
                if t.kind != "word":
                    raise self.unexpected(t)
                assert t.word is not None
                pats.append(t.word)
                t = self.take()
                if t.kind == "op" and t.value == "|":
                    continue
                if t.kind == "op" and t.value == ")":
                    break
                raise self.unexpected(t)
            body = self.parse_list(stop_ops=(";;", ";&", ";;&"), stop_words=frozenset(["esac"]))
            t = self.peek()
            term = ";;"
            if t.kind == "op" and t.value in (";;", ";&", ";;&"):
                self.take()
                term = t.value
                self.skip_newlines()
            elif not self.is_word(t, "esac"):
                raise self.unexpected(t)
            items.append(CaseItem(pats, body, term))
        return Case(word, items, line=line)

    def parse_cond(self) -> CondExpr:
        e = self._cond_or()
        self.skip_blank_nl()
        if not self.src.startswith("]]", self.pos):
            t = self._cond_tok()
            raise self.error(f"syntax error in conditional expression: unexpected token `{t}'")
        self.pos += 2
        return e

    def skip_blank_nl(self) -> None:
        while True:
            self.skip_blank()
            if self.pos < self.n and self.src[self.pos] == "\n":
                self.pos += 1
            else:
                return

    def _cond_tok(self) -> str:
        self.skip_blank_nl()
        src = self.src
        for op in ("&&", "||", "]]", "(", ")", "!"):
            if src.startswith(op, self.pos):
                end = self.pos + len(op)
                if op in ("!", "]]") and end < self.n and src[end] not in " \t\n;&|()":
                    continue
                return op
        return ""

    def _cond_or(self) -> CondExpr:
        e = self._cond_and()
        while self._cond_tok() == "||":
            self.pos += 2
            e = CondOr(e, self._cond_and())
        return e

    def _cond_and(self) -> CondExpr:
        e = self._cond_not()
        while self._cond_tok() == "&&":
            self.pos += 2
            e = CondAnd(e, self._cond_not())
        return e

    def _cond_not(self) -> CondExpr:
        t = self._cond_tok()
        if t == "!":
            self.pos += 1
            return CondNot(self._cond_not())
        if t == "(":
            self.pos += 1
            e = self._cond_or()
            if self._cond_tok() != ")":
                raise self.error("syntax error in conditional expression")
            self.pos += 1
            return e
        return self._cond_primary()

    def _cond_word(self, regex: bool = False) -> Word:
        self.skip_blank_nl()
        if self.pos >= self.n:
            raise self.error("unexpected EOF while looking for `]]'", self.n, show=False)
        t = self._cond_tok()
        if t in ("&&", "||", "]]", ")"):
            raise self.error(f"syntax error in conditional expression: unexpected token `{t}'")
        c = self.src[self.pos]
        if c in "<>" and not self.src.startswith("<(", self.pos):
            self.pos += 1
            return Word([Lit(c)], c, c)
        start = self.pos
        w = self.read_word(regex=regex)
        if self.pos == start:
            raise self.error(f"syntax error near unexpected token `{c}'")
        return w

    def _cond_primary(self) -> CondExpr:
        w1 = self._cond_word()
        s1 = w1.simple
        if (
            s1 is not None
            and len(s1) == 2
            and s1[0] == "-"
            and s1[1] in "abcdefghkprstuwxGLNOSvzno"
            and self._cond_tok() not in ("&&", "||", "]]", ")")
        ):
            save = self.pos
            self.skip_blank_nl()
            nxt = self.src[self.pos : self.pos + 3]
            if not (
                nxt.startswith("==")
                or nxt.startswith("!=")
                or nxt.startswith("=~")
                or (nxt.startswith("=") and nxt[1:2] in " \t")
            ):
                return CondUnary(s1, self._cond_word())
            self.pos = save
        if self._cond_tok() in ("&&", "||", "]]", ")"):
            return CondWord(w1)
        self.skip_blank_nl()
        opw = self._cond_word()
        op = opw.text
        if op in (
            "==",
            "=",
            "!=",
            "<",
            ">",
            "-eq",
            "-ne",
            "-lt",
            "-le",
            "-gt",
            "-ge",
            "-nt",
            "-ot",
            "-ef",
        ):
            return CondBinary(op, w1, self._cond_word())
        if op == "=~":
            return CondBinary(op, w1, self._cond_word(regex=True))
        raise self.error(f"syntax error in conditional expression: unexpected token `{opw.text}'")

    def parse_redirs(self, out: list[Redir]) -> None:
        while self.peek().kind == "redir":
            out.append(self.parse_redir())

    def parse_redir(self) -> Redir:
        t = self.take()
        op = t.value
        fdvar = None
        if t.word is not None:
            fdvar = t.word.simple
        nt = self.take()
        if nt.kind != "word":
            raise self.unexpected(nt)
        w = nt.word
        assert w is not None
        if op in ("<<", "<<-"):
            delim_parts: list[str] = []
            quoted = False
            for p in w.parts:
                if isinstance(p, Lit):
                    delim_parts.append(p.text)
                elif isinstance(p, Quoted):
                    quoted = True
                    delim_parts.append(p.text)
                elif isinstance(p, DQ):
                    quoted = True
                    for q in p.parts:
                        delim_parts.append(q.text if isinstance(q, (Lit, Quoted)) else "")
                else:
                    delim_parts.append(getattr(p, "text", ""))
            if "\\" in w.text or "'" in w.text or '"' in w.text:
                quoted = True
            hd = HereDoc("".join(delim_parts), op == "<<-", quoted)
            self.pending.append(hd)
            return Redir(t.fd, op, None, hd, fdvar)
        return Redir(t.fd, op, w, None, fdvar)

    def parse_simple(self) -> Command:
        assigns: list[Assign] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        line = self.line_at(self.peek().start)
        while True:
            t = self.peek()
            if t.kind == "redir":
                redirs.append(self.parse_redir())
                continue
            if t.kind != "word":
                break
            w = t.word
            assert w is not None
            if not words and w.assign is None and "[" in t.value:
                spaced = self._spaced_subscript_assign(t.start)
                if spaced is not None and spaced.assign is not None:
                    self.tok = None  # the word was re-read from its start
                    assigns.append(spaced.assign)
                    continue
            if not words and w.assign is not None:
                self.take()
                assigns.append(w.assign)
                continue
            if (
                words
                and w.assign is not None
                and w.assign.array is not None
                and words[0].simple not in ("declare", "typeset", "local", "readonly", "export")
            ):
                raise self.error("syntax error near unexpected token `('", t.start)
            self.take()
            words.append(w)
            if len(words) == 1 and not assigns and not redirs and w.simple is not None:
                t2 = self.peek()
                if t2.kind == "op" and t2.value == "(":
                    self.take()
                    t3 = self.take()
                    if t3.kind != "op" or t3.value != ")":
                        if t3.kind == "eof":
                            t3 = _Tok("nl", "\n", t3.start)
                        raise self.unexpected(t3)
                    self.skip_newlines()
                    body = self.parse_command()
                    fd = FuncDef(w.simple, body, line)
                    fd.source = self.src[t.start : self._here()].rstrip()
                    return fd
        if not assigns and not words and not redirs:
            raise self.unexpected(self.peek())
        return Simple(assigns, words, redirs, line)


def _bare(w: Word) -> str | None:
    if len(w.parts) == 1 and isinstance(w.parts[0], Lit):
        return w.parts[0].text
    return None


def _flush(buf: list[str], parts: list[Part], quoted: bool = False) -> None:
    if buf:
        s = "".join(buf)
        parts.append(Quoted(s) if quoted else Lit(s))
        buf.clear()


_PLAIN_RE = re.compile(r"[^*?\[{~(][^*?\[{(]*|")


def _make_word(parts: list[Part], text: str) -> Word:
    simple: str | None = None
    if len(parts) == 1:
        p = parts[0]
        if isinstance(p, Lit):
            if _PLAIN_RE.fullmatch(p.text) and "{" not in p.text:
                simple = p.text
        elif isinstance(p, Quoted):
            simple = p.text
    elif not parts:
        simple = None
    return Word(parts, simple, text)


def _split_arith_for(inner: str) -> list[str]:
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    for c in inner:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


_CACHE: OrderedDict[tuple[str, bool, int], Script] = OrderedDict()
_CACHE_MAX = 512


def parse(source: str, extglob: bool = True, first_line: int = 1) -> Script:
    """Parse a whole script (cached by source text). ``extglob``: accept extglob patterns
    outside ``[[ ]]`` (the state of ``shopt extglob`` when the text is read); ``first_line``:
    the line number of the text's first line."""
    key = (source, extglob, first_line)
    s = _CACHE.get(key)
    if s is not None:
        return s
    p = Parser(source, extglob, first_line)
    script = p.parse_list()
    t = p.peek()
    if t.kind != "eof":
        raise p.unexpected(t)
    if p.pending:
        p.read_heredocs()
    script.warnings = p.warnings
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.popitem(last=False)
    _CACHE[key] = script
    return script


_WORD_CACHE: dict[str, Word] = {}


def parse_word_text(text: str) -> Word:
    """Parse text as the inside of a double-quoted string (used for subscripts and
    arithmetic operands that contain ``$``)."""
    w = _WORD_CACHE.get(text)
    if w is None:
        p = Parser(text)
        parts = p.read_dq(heredoc=True)
        w = _make_word(parts, text)
        if not parts:
            w.simple = ""
        if len(_WORD_CACHE) > 4096:
            _WORD_CACHE.clear()
        _WORD_CACHE[text] = w
    return w


def parse_subscript(text: str) -> Word:
    """Parse an associative-array subscript (quotes and expansions, spaces allowed)."""
    p = Parser(text)
    return p._param_word("", False, False)
