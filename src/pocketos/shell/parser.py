"""Shell parser: source text -> :class:`pocketos.shell.ast.Script`.

A recursive-descent parser over a context-sensitive lexer, following bash's grammar: reserved
words count only in command position, here-document bodies are read after the newline that
ends their line, and ``$( )``/backticks are parsed recursively in place. Errors raise
:class:`ShellSyntaxError` carrying bash's wording and the line number.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

from pocketos.shell.ast import (
    DQ,
    AndOr,
    ArithCmd,
    ArithFor,
    Assign,
    Case,
    CaseItem,
    Command,
    CondCmd,
    For,
    FuncDef,
    Group,
    HereDoc,
    If,
    ListItem,
    Lit,
    Pipeline,
    Quoted,
    Redir,
    Script,
    Simple,
    Subshell,
    While,
    Word,
)
from pocketos.shell.condparse import CondParser
from pocketos.shell.syntax import (
    _FDVAR_RE,
    CTRL_OPS,
    NAME_RE,
    REDIR_OPS,
    RESERVED,
    ShellSyntaxError,
    ansi_c_decode,
)
from pocketos.shell.words import WordReader, _make_word

__all__ = ["ShellSyntaxError", "parse", "parse_word_text", "ansi_c_decode"]


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


class Parser(WordReader, CondParser):
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
