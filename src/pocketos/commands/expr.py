"""expr."""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._args import UsageError, report
from pocketos.commands._fs import (
    enc,
    q,
    show_help,
)
from pocketos.commands._posixpat import bre_to_regex
from pocketos.commands._util import _try
from pocketos.kernel.process import Context
from pocketos.lib import safe_regex


class _ExprError(Exception):
    def __init__(self, msg: str, status: int = 2) -> None:
        super().__init__(msg)
        self.status = status


_INT_RE = re.compile(r"-?\d+")


def _is_null(v: str | int) -> bool:
    if isinstance(v, int):
        return v == 0
    return v == "" or bool(re.fullmatch(r"-?0+", v))


def _to_int(v: str | int) -> int:
    if isinstance(v, int):
        return v
    if _INT_RE.fullmatch(v):
        return int(v)
    raise _ExprError("non-integer argument")


class _Expr:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.pos = 0

    def peek(self) -> str | None:
        return self.args[self.pos] if self.pos < len(self.args) else None

    def take(self) -> str:
        t = self.args[self.pos]
        self.pos += 1
        return t

    def run(self) -> str | int:
        v = self.or_()
        if self.pos < len(self.args):
            raise _ExprError(f"syntax error: unexpected argument {q(self.args[self.pos])}")
        return v

    def or_(self) -> str | int:
        left = self.and_()
        while self.peek() == "|":
            self.take()
            right = self.and_()
            if _is_null(left):
                left = 0 if _is_null(right) else right
        return left

    def and_(self) -> str | int:
        left = self.cmp()
        while self.peek() == "&":
            self.take()
            right = self.cmp()
            if _is_null(left) or _is_null(right):
                left = 0
        return left

    def cmp(self) -> str | int:
        left = self.add()
        while self.peek() in ("<", "<=", "=", "==", "!=", ">=", ">"):
            op = self.take()
            right = self.add()
            ls, rs = str(left), str(right)
            if _INT_RE.fullmatch(ls) and _INT_RE.fullmatch(rs):
                ai, bi = int(ls), int(rs)
                c = (ai > bi) - (ai < bi)
            else:
                ab, bb = enc(ls), enc(rs)
                c = (ab > bb) - (ab < bb)
            res = {
                "<": c < 0,
                "<=": c <= 0,
                "=": c == 0,
                "==": c == 0,
                "!=": c != 0,
                ">=": c >= 0,
                ">": c > 0,
            }[op]
            left = 1 if res else 0
        return left

    def add(self) -> str | int:
        left = self.mul()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.mul()
            a, b = _to_int(left), _to_int(right)
            left = a + b if op == "+" else a - b
        return left

    def mul(self) -> str | int:
        left = self.colon()
        while self.peek() in ("*", "/", "%"):
            op = self.take()
            right = self.colon()
            a, b = _to_int(left), _to_int(right)
            if op == "*":
                left = a * b
            else:
                if b == 0:
                    raise _ExprError("division by zero")
                qt = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
                left = qt if op == "/" else a - b * qt
        return left

    def colon(self) -> str | int:
        left = self.prim()
        while self.peek() == ":":
            self.take()
            right = self.prim()
            left = _expr_match(str(left), str(right))
        return left

    def operand(self) -> str:
        if self.peek() is None:
            prev = self.args[self.pos - 1] if self.pos else ""
            raise _ExprError(f"syntax error: missing argument after {q(prev)}")
        return self.take()

    def prim(self) -> str | int:
        tok = self.peek()
        if tok is None:
            if self.pos == 0:
                raise _ExprError("syntax error: missing argument")
            raise _ExprError(f"syntax error: missing argument after {q(self.args[self.pos - 1])}")
        if tok == "(":
            self.take()
            v = self.or_()
            if self.peek() != ")":
                if self.peek() is None:
                    raise _ExprError(
                        f"syntax error: expecting ')' after {q(self.args[self.pos - 1])}"
                    )
                raise _ExprError(f"syntax error: expecting ')' instead of {q(self.args[self.pos])}")
            self.take()
            return v
        if tok == ")":
            raise _ExprError("syntax error: unexpected ')'")
        need = {"+": 1, "length": 1, "match": 2, "index": 2, "substr": 3}.get(tok)
        if need is not None and self.pos + need >= len(self.args):
            last = self.args[-1]
            raise _ExprError(f"syntax error: missing argument after {q(last)}")
        if tok == "+" and self.pos + 1 < len(self.args):
            self.take()
            return self.take()
        if tok == "length" and self.pos + 1 < len(self.args):
            self.take()
            return len(str(self.prim()))
        if tok == "match" and self.pos + 2 < len(self.args):
            self.take()
            s = str(self.prim())
            r = str(self.prim())
            return _expr_match(s, r)
        if tok == "index" and self.pos + 2 < len(self.args):
            self.take()
            s = str(self.prim())
            chars = str(self.prim())
            for i, c in enumerate(s):
                if c in chars:
                    return i + 1
            return 0
        if tok == "substr" and self.pos + 3 < len(self.args):
            self.take()
            s = str(self.prim())
            pos_s = str(self.prim())
            len_s = str(self.prim())
            if not _INT_RE.fullmatch(pos_s) or not _INT_RE.fullmatch(len_s):
                return ""
            start, length = int(pos_s), int(len_s)
            if start < 1 or length < 1 or start > len(s):
                return ""
            return s[start - 1 : start - 1 + length]
        self.take()
        return tok


def _expr_match(s: str, pattern: str) -> str | int:
    try:
        rx = safe_regex.compile(bre_to_regex(pattern, "basic"), re.DOTALL)
    except re.error as exc:
        raise _ExprError(_regex_message(exc)) from None
    m = rx.match(s)
    if rx.groups:
        if not m or m.group(1) is None:
            return ""
        return m.group(1)
    return len(m.group(0)) if m else 0


def _regex_message(exc: re.error) -> str:
    msg = str(exc)
    if "missing )" in msg:
        return "Unmatched ( or \\("
    if "unbalanced parenthesis" in msg:
        return "Unmatched ) or \\)"
    if "unterminated character set" in msg:
        return "Unmatched [, [^, [:, [., or [="
    return "Invalid regular expression"


@command("expr")
async def expr(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args == ["--help"]:
        return await show_help(
            ctx,
            "Usage: expr EXPRESSION\n"
            "Print the value of EXPRESSION to standard output.\n\n"
            "  ARG1 | ARG2, ARG1 & ARG2, ARG1 < <= = != >= > ARG2,\n"
            "  ARG1 + - * / % ARG2, STRING : REGEXP,\n"
            "  match STRING REGEXP, substr STRING POS LENGTH,\n"
            "  index STRING CHARS, length STRING, + TOKEN, ( EXPR )\n\n"
            "Exit status is 0 if EXPRESSION is neither null nor 0, "
            "1 if it is null or 0,\n2 if it is syntactically invalid, "
            "and 3 if an error occurred.\n",
        )
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        return await report(ctx, UsageError(f"expr: missing operand\n{_try('expr')}", 2))
    try:
        v = _Expr(args).run()
        text = f"{v}\n"
    except _ExprError as exc:
        await ctx.err(str(exc))
        return exc.status
    except ValueError:
        # Python refuses int <-> str conversions past 4,300 digits
        await ctx.err("number too large (more than 4300 digits)")
        return 3
    await ctx.out(text)
    return 1 if _is_null(v) else 0
