# mypy: disable-error-code="misc"
"""Parsing ``[[ ... ]]`` conditional expressions (``||``, ``&&``, ``!``, unary and binary tests, ``=~``), as a mixin of the parser."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.shell.ast import (
    CondAnd,
    CondBinary,
    CondExpr,
    CondNot,
    CondOr,
    CondParen,
    CondUnary,
    CondWord,
    Lit,
    Word,
)
from pocketos.shell.syntax import ParserAttrs

if TYPE_CHECKING:
    from pocketos.shell.parser import Parser

__all__ = ["CondParser"]


class CondParser(ParserAttrs):
    """Mixin for :class:`Parser`: the ``[[ ... ]]`` expression grammar."""

    def parse_cond(self: Parser) -> CondExpr:
        e = self._cond_or()
        self.skip_blank_nl()
        if not self.src.startswith("]]", self.pos):
            t = self._cond_tok()
            raise self.error(f"syntax error in conditional expression: unexpected token `{t}'")
        self.pos += 2
        return e

    def skip_blank_nl(self: Parser) -> None:
        while True:
            self.skip_blank()
            if self.pos < self.n and self.src[self.pos] == "\n":
                self.pos += 1
            else:
                return

    def _cond_tok(self: Parser) -> str:
        self.skip_blank_nl()
        src = self.src
        for op in ("&&", "||", "]]", "(", ")", "!"):
            if src.startswith(op, self.pos):
                end = self.pos + len(op)
                if op in ("!", "]]") and end < self.n and src[end] not in " \t\n;&|()":
                    continue
                return op
        return ""

    def _cond_or(self: Parser) -> CondExpr:
        e = self._cond_and()
        while self._cond_tok() == "||":
            self.pos += 2
            e = CondOr(e, self._cond_and())
        return e

    def _cond_and(self: Parser) -> CondExpr:
        e = self._cond_not()
        while self._cond_tok() == "&&":
            self.pos += 2
            e = CondAnd(e, self._cond_not())
        return e

    def _cond_not(self: Parser) -> CondExpr:
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
            return CondParen(e)
        return self._cond_primary()

    def _cond_word(self: Parser, regex: bool = False) -> Word:
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

    def _cond_primary(self: Parser) -> CondExpr:
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
