# mypy: disable-error-code="misc"
"""Reading the words of a command: quoting, ``$...`` and ``${...}`` parameters, command and arithmetic substitutions, backquotes, assignments and array literals, as a mixin of the parser."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.shell.ast import (
    DQ,
    ArithSub,
    Assign,
    BadSub,
    CmdSub,
    Lit,
    Param,
    Part,
    ProcSub,
    Quoted,
    Word,
)
from pocketos.shell.syntax import (
    _PLAIN_RUN,
    ASSIGN_RE,
    CTRL_OPS,
    META,
    NAME_RE,
    REDIR_OPS,
    SPECIAL_PARAMS,
    ParserAttrs,
    ShellSyntaxError,
    ansi_c_decode,
)

if TYPE_CHECKING:
    from pocketos.shell.parser import Parser

__all__ = ["WordReader"]


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


class WordReader(ParserAttrs):
    """Mixin for :class:`Parser`: reading words (quotes, ``$``-expansions, ``${...}``, backquotes, assignments and array literals)."""

    # --- words ---------------------------------------------------------------------------------
    def read_word(self: Parser, *, regex: bool = False) -> Word:
        start = self.pos
        parts = self.read_parts(regex=regex)
        text = self.src[start : self.pos]
        w = _make_word(parts, text)
        m = ASSIGN_RE.match(text)
        if m and not regex:
            self._maybe_assign(w, start, m)
        return w

    def _spaced_subscript_assign(self: Parser, start: int) -> Word | None:
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

    def _maybe_assign(self: Parser, w: Word, start: int, m: re.Match[str]) -> None:
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

    def read_array_elems(self: Parser) -> list[Word | Assign]:
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

    def read_parts(self: Parser, *, regex: bool = False, assign: bool = False) -> list[Part]:
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
                    raise self.error(
                        "unexpected EOF while looking for matching `''", self.pos, show=False
                    )
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

    def _find_ansi_end(self: Parser, p: int) -> int:
        src, n = self.src, self.n
        start = p
        while p < n:
            c = src[p]
            if c == "\\":
                p += 2
                continue
            if c == "'":
                return p
            p += 1
        raise self.error("unexpected EOF while looking for matching `''", start - 2, show=False)

    def read_dq(self: Parser, *, heredoc: bool = False, stop: str = '"') -> list[Part]:
        """Parts of a double-quoted string; ``pos`` is after the opening quote."""
        src, n = self.src, self.n
        parts: list[Part] = []
        buf: list[str] = []
        special = "\\$`" if heredoc else '\\$`"'
        start = self.pos - 1  # bash names the line the quote opened at
        while True:
            if self.pos >= n:
                if heredoc:
                    break
                raise self.error(
                    "unexpected EOF while looking for matching `\"'", start, show=False
                )
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

    def read_backtick(self: Parser) -> Part:
        src, n = self.src, self.n
        p = self.pos + 1
        out: list[str] = []
        while True:
            if p >= n:
                raise self.error(
                    "unexpected EOF while looking for matching ``'", self.pos, show=False
                )
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
        from pocketos.shell.parser import parse

        try:
            body = parse(inner, self.extglob)
        except ShellSyntaxError as e:
            return BadSub("`" + inner + "`: " + e.message)
        return CmdSub(body, inner)

    def read_dollar(self: Parser, in_dq: bool = False) -> Part | None:
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
        if (c.isalpha() and c.isascii()) or c == "_":  # $é is no parameter: a literal $
            m = NAME_RE.match(src, p)
            assert m is not None
            self.pos = m.end()
            return Param(m.group(0), text="$" + m.group(0))
        if c.isdigit() or c in SPECIAL_PARAMS:
            self.pos = p + 1
            return Param(c, text="$" + c)
        return None

    def _arith_end(self: Parser, p: int) -> int | None:
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

    def read_brace_param(self: Parser, in_dq: bool) -> Part:
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

    def _brace_end(self: Parser, p: int) -> int:
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

    def _raw_until(self: Parser, stops: str) -> str:
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

    def _param_word(self: Parser, stops: str, in_dq: bool, pattern: bool) -> Word:
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
                    raise self.error(
                        "unexpected EOF while looking for matching `''", self.pos, show=False
                    )
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
