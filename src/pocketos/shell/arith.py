"""Shell arithmetic: ``$(( ))``, ``(( ))``, ``let`` and array subscripts.

Expressions compile once (cached by text) into Python closures over an environment object
providing ``arith_get(name, index)`` -> int and ``arith_set(name, index, value)``. Integers are
64-bit signed and wrap like bash's ``intmax_t``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

__all__ = ["ArithError", "ArithEnv", "compile_expr", "evaluate", "parse_number"]


class ArithError(Exception):
    pass


class ArithEnv(Protocol):
    def arith_get(self, name: str, index: str | None) -> int: ...

    def arith_set(self, name: str, index: str | None, value: int) -> None: ...


Fn = Callable[[Any], int]

_MASK = (1 << 64) - 1
_SIGN = 1 << 63


def wrap(v: int) -> int:
    if -_SIGN <= v < _SIGN:
        return v
    v &= _MASK
    return v - (1 << 64) if v & _SIGN else v


@cache
def _token_re() -> re.Pattern[str]:
    """The tokenizer (compiled on first use: most scripts do no arithmetic)."""
    return re.compile(
        r"""
    (?P<ws>\s+)
  | (?P<num>[0-9][0-9A-Za-z_@#]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*=|<<=|>>=|\+\+|--|\*\*|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\^=|\|=
          |[-+*/%<>=!~&^|?:,()\[\]])
""",
        re.VERBOSE,
    )


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_"


def parse_number(tok: str) -> int:
    """Parse a bash integer constant (``10``, ``0x1f``, ``017``, ``2#101``, ``64#_``)."""
    if "#" in tok:
        b, _, digits = tok.partition("#")
        base = int(b)
        if not 2 <= base <= 64 or not digits:
            raise ArithError("invalid arithmetic base")
        v = 0
        for ch in digits:
            if base <= 36:
                d = _DIGITS.find(ch.lower()) if ch not in "@_" else -1
            else:
                d = _DIGITS.find(ch)
            if d < 0 or d >= base:
                raise ArithError("value too great for base")
            v = v * base + d
        return wrap(v)
    if tok.startswith(("0x", "0X")):
        try:
            return wrap(int(tok[2:], 16))
        except ValueError:
            raise ArithError("value too great for base") from None
    if len(tok) > 1 and tok[0] == "0":
        try:
            return wrap(int(tok, 8))
        except ValueError:
            raise ArithError("value too great for base") from None
    try:
        return wrap(int(tok))
    except ValueError:
        raise ArithError("value too great for base") from None


class _Tok:
    __slots__ = ("kind", "val", "pos")

    def __init__(self, kind: str, val: str, pos: int) -> None:
        self.kind = kind
        self.val = val
        self.pos = pos


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    n = len(text)
    match = _token_re().match
    while pos < n:
        m = match(text, pos)
        if not m:
            raise _Syntax("syntax error: invalid arithmetic operator", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(0), pos))
        pos = m.end()
    out.append(_Tok("eof", "", n))
    return out


class _Syntax(Exception):
    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos


_BINARY: dict[str, tuple[int, Callable[[int, int], int]]] = {}


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    q = abs(a) // abs(b)
    return wrap(q if (a >= 0) == (b >= 0) else -q)


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _pow(a: int, b: int) -> int:
    if b < 0:
        raise ArithError("exponent less than 0")
    return wrap(pow(a, b, 1 << 64)) if b > 64 else wrap(a**b)


def _shl(a: int, b: int) -> int:
    return wrap(a << (b & 63))


def _shr(a: int, b: int) -> int:
    return a >> (b & 63)


_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: wrap(a + b),
    "-": lambda a, b: wrap(a - b),
    "*": lambda a, b: wrap(a * b),
    "/": _div,
    "%": _mod,
    "**": _pow,
    "<<": _shl,
    ">>": _shr,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b),
    ">=": lambda a, b: int(a >= b),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
}
_PREC = [
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
]
_LEVEL = {op: i for i, ops in enumerate(_PREC) for op in ops}
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=", "**="}


class _Lvalue:
    __slots__ = ("name", "index")

    def __init__(self, name: str, index: str | None) -> None:
        self.name = name
        self.index = index


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def compile(self) -> Fn:
        if self.peek().kind == "eof":
            return lambda env: 0
        f = self.comma()
        t = self.peek()
        if t.kind != "eof":
            raise _Syntax("syntax error in expression", t.pos)
        return f

    def comma(self) -> Fn:
        f = self.assign()
        while self.peek().val == ",":
            self.next()
            g = self.assign()
            f = (lambda a, b: lambda env: (a(env), b(env))[1])(f, g)
        return f

    def assign(self) -> Fn:
        start = self.i
        t = self.peek()
        if t.kind == "name":
            lv = self.lvalue()
            op = self.peek()
            if op.kind == "op" and op.val in _ASSIGN_OPS:
                self.next()
                rhs = self.assign()
                name, index = lv.name, lv.index
                if op.val == "=":

                    def f(env: Any) -> int:
                        v = rhs(env)
                        env.arith_set(name, index, v)
                        return v

                    return f
                fn = _OPS[op.val[:-1]]

                def g(env: Any) -> int:
                    v = fn(env.arith_get(name, index), rhs(env))
                    env.arith_set(name, index, v)
                    return v

                return g
            self.i = start
        return self.ternary()

    def lvalue(self) -> _Lvalue:
        t = self.next()
        index = None
        if self.peek().val == "[":
            open_tok = self.next()
            depth = 1
            while True:
                u = self.next()
                if u.kind == "eof":
                    raise _Syntax("syntax error: invalid arithmetic operator", open_tok.pos)
                if u.val == "[":
                    depth += 1
                elif u.val == "]":
                    depth -= 1
                    if depth == 0:
                        break
            index = self.text[open_tok.pos + 1 : u.pos]
        return _Lvalue(t.val, index)

    def ternary(self) -> Fn:
        cond = self.logor()
        if self.peek().val == "?":
            self.next()
            a = self.assign_or_comma_in_ternary()
            if self.peek().val != ":":
                raise _Syntax(
                    "syntax error: `:' expected for conditional expression", self.peek().pos
                )
            self.next()
            b = self.ternary_rhs()
            return lambda env: a(env) if cond(env) else b(env)
        return cond

    def assign_or_comma_in_ternary(self) -> Fn:
        return self.assign()

    def ternary_rhs(self) -> Fn:
        start = self.i
        if self.peek().kind == "name":
            self.lvalue()
            if self.peek().kind == "op" and self.peek().val in _ASSIGN_OPS:
                self.i = start
                return self.assign()
            self.i = start
        return self.ternary()

    def logor(self) -> Fn:
        f = self.logand()
        while self.peek().val == "||":
            self.next()
            g = self.logand()
            f = (lambda a, b: lambda env: 1 if (a(env) or b(env)) else 0)(f, g)
        return f

    def logand(self) -> Fn:
        f = self.binary(0)
        while self.peek().val == "&&":
            self.next()
            g = self.binary(0)
            f = (lambda a, b: lambda env: 1 if (a(env) and b(env)) else 0)(f, g)
        return f

    def binary(self, level: int) -> Fn:
        if level >= len(_PREC):
            return self.power()
        f = self.binary(level + 1)
        ops = _PREC[level]
        while True:
            t = self.peek()
            if t.kind == "op" and t.val in ops:
                self.next()
                g = self.binary(level + 1)
                fn = _OPS[t.val]
                f = (lambda a, b, o: lambda env: o(a(env), b(env)))(f, g, fn)
            else:
                return f

    def power(self) -> Fn:
        f = self.unary()
        if self.peek().val == "**":
            self.next()
            g = self.power()
            return lambda env: _pow(f(env), g(env))
        return f

    def unary(self) -> Fn:
        t = self.peek()
        if t.kind == "op":
            if t.val in ("++", "--"):
                self.next()
                if self.peek().kind != "name":
                    raise _Syntax("syntax error: operand expected", self.peek().pos)
                lv = self.lvalue()
                name, index = lv.name, lv.index
                d = 1 if t.val == "++" else -1

                def pre(env: Any) -> int:
                    v = wrap(env.arith_get(name, index) + d)
                    env.arith_set(name, index, v)
                    return v

                return pre
            if t.val in ("-", "+", "!", "~"):
                self.next()
                f = self.unary()
                if t.val == "-":
                    return lambda env: wrap(-f(env))
                if t.val == "+":
                    return f
                if t.val == "!":
                    return lambda env: 0 if f(env) else 1
                return lambda env: ~f(env)
        return self.postfix()

    def postfix(self) -> Fn:
        t = self.peek()
        if t.kind == "name":
            lv = self.lvalue()
            name, index = lv.name, lv.index
            nt = self.peek()
            if nt.kind == "op" and nt.val in ("++", "--"):
                self.next()
                d = 1 if nt.val == "++" else -1

                def post(env: Any) -> int:
                    v = env.arith_get(name, index)
                    env.arith_set(name, index, wrap(v + d))
                    return v

                return post
            if index is None:
                return lambda env: env.arith_get(name, None)
            return lambda env: env.arith_get(name, index)
        return self.primary()

    def primary(self) -> Fn:
        t = self.next()
        if t.kind == "num":
            try:
                v = parse_number(t.val)
            except ArithError as e:
                raise _Syntax(str(e), t.pos) from None
            return lambda env: v
        if t.val == "(":
            f = self.comma()
            if self.peek().val != ")":
                raise _Syntax("syntax error: `)' expected", self.peek().pos)
            self.next()
            return f
        prev = self.toks[self.i - 2] if self.i >= 2 else t
        if t.kind == "eof" or t.kind == "op":
            raise _Syntax("syntax error: operand expected", prev.pos if t.kind == "eof" else t.pos)
        raise _Syntax("syntax error: operand expected", t.pos)


_CACHE: dict[str, Fn] = {}


def compile_expr(text: str) -> Fn:
    f = _CACHE.get(text)
    if f is not None:
        return f
    try:
        f = _Compiler(text).compile()
    except _Syntax as e:
        rest = text[e.pos :]
        msg = f'{text}: {e.msg} (error token is "{rest}")'
        raise ArithError(msg) from None
    if len(_CACHE) > 8192:
        _CACHE.clear()
    _CACHE[text] = f
    return f


def evaluate(text: str, env: Any) -> int:
    """Evaluate an (already ``$``-expanded) expression."""
    f = compile_expr(text)
    try:
        return f(env)
    except ZeroDivisionError:
        raise ArithError(
            f'{text.strip()}: division by 0 (error token is "{_last_operand(text)}")'
        ) from None
    except RecursionError:
        raise ArithError(f"{text}: expression recursion level exceeded") from None


def _last_operand(text: str) -> str:
    m = re.search(r"[A-Za-z0-9_#]+\s*$", text)
    return m.group(0) if m else ""
