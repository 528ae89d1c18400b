"""jq's fast path: a small subset of jq programs evaluated over Python's C JSON parser.

libjq's own parser and printer are slow in the PyPI build, so a whole input (a file) whose
program is in the subset below is parsed with :mod:`json`, evaluated here and printed with the
C encoder (``orjson`` for pretty output when it is installed). Everything else, and anything
this path is unsure of, falls back to libjq before a byte is written (:class:`Unsupported`):

- programs: ``.``, ``.a``, ``."a"``, ``.[]``, ``.[n]``, ``.["a"]`` and their chains, ``|``,
  ``,``, ``( )``, ``[ ]``, ``{a: f, "b": g, c}``, ``select(f)``, ``map(f)``, ``add``,
  ``length``, ``keys``, ``not``, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``and``,
  ``or``, string literals, integers, ``true``, ``false``, ``null``; string interpolation
  (``"\\(f) x"``, of strings, integers, booleans and null) and computed keys (``{(f): g}``);
- options: ``-c``, the default two-space layout, ``-r``, ``-j``, ``-e``;
- inputs: one JSON value per file, valid UTF-8, no NaN/Infinity, no ``\\uD800``-style
  escapes, numbers whose text is what both printers print for them (``1.5``, not ``1.50``,
  ``1e2`` or ``-0``), integers of at most 15 digits;
- any error (``.a`` of a number, ``add`` of mixed types, a comparison of two arrays), a
  computed number that jq would print differently (an exponent, -0, past 2^53) or an output
  that would not fit in the exec's memory.
"""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Callable
from functools import reduce
from typing import Any

from pocketos.commands._jq_fast_io import (
    _PIECE,
    _SLICE,
    Unsupported,
    _Held,
    _laid_out,
    _last_text,
    _orjson,
    parse_input,
    split_interpolation,
)
from pocketos.kernel.budget import current_budget

__all__ = ["FastJq", "Unsupported", "compile_fast"]

#: switched off by the tests that compare this path with libjq's
ENABLED = True


Fn = Callable[[Any], Any]
Apply = Callable[[list[Any]], list[Any]]

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>[0-9]+(?![.eE0-9]))|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>==|!=|<=|>=|[.|,\[\]{}():<>-]))"""
)
_KEYWORDS = frozenset(
    ("and", "or", "if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach")
    + ("try", "catch", "label", "import", "include", "__loc__", "not")
)
_CONSTANTS = {"true": True, "false": False, "null": None}
_LIMIT = 1 << 53
#: how many times an output may hold the input (``{a: ., b: .}`` holds it twice), and how
#: many values one input may give at most, counting ``.[]`` as one
_MAX_COPIES = 4
_MAX_FANOUT = 16
#: what an array or object the program makes may take (a dict of a few keys: ~230 bytes)
_CONTAINER = 256
#: the largest input parsed here: the parse cannot stop at the deadline (10 MB take about
#: 0.3 s); a larger one goes to libjq in a helper the deadline kills
MAX_INPUT = 16 << 20
#: a slow machine's parse rate (bytes a second): an input the parse could not finish before
#: the deadline at this rate goes to libjq's helper, which the deadline can stop
PARSE_RATE = 20 << 20


def _nothing() -> None:
    return None


class _Env:
    """What a run needs while it evaluates: the deadline's check, and the arrays and objects
    made since the last one (charged at each check: the parsed input was charged before)."""

    def __init__(self) -> None:
        self.deadline: Callable[[], None] = _nothing
        self.held: _Held | None = None
        self.made = 0

    def check(self) -> None:
        if self.made and self.held is not None:
            self.held.add(self.made * _CONTAINER)
            self.made = 0
        self.deadline()


class _Node:
    """A compiled piece of a program: ``apply`` maps a list of inputs to the concatenated
    outputs; ``one`` (when set) is the single output of one input. ``copies`` bounds how
    often the input can appear in the outputs; ``fanout`` bounds the outputs of one input."""

    def __init__(
        self, apply: Apply, one: Fn | None = None, copies: int = 1, fanout: int = 1
    ) -> None:
        self.apply = apply
        self.one = one
        self.copies = copies
        self.fanout = fanout
        #: ``.key`` alone: its name (loops over many inputs look it up inline)
        self.key: str | None = None
        #: a comparison whose inputs a select keeps: the whole loop, inline
        self.keep: Apply | None = None


def _singular(one: Fn, copies: int = 1) -> _Node:
    return _Node(lambda xs: [one(x) for x in xs], one, copies)


# ---- values ----------------------------------------------------------------------------


def _truthy(x: Any) -> bool:
    return x is not None and x is not False


def _num(x: Any) -> bool:
    t = type(x)
    return t is int or t is float


def _exact(x: Any) -> Any:
    """``x``, unless an integer past 2^53 (jq compares those as doubles, or as decimals)."""
    if type(x) is int and not -_LIMIT < x < _LIMIT:
        raise Unsupported
    return x


def _eq(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is int or tb is int:
        _exact(a), _exact(b)
    if ta is tb:
        if ta is list:
            return len(a) == len(b) and all(map(_eq, a, b))
        if ta is dict:
            return a.keys() == b.keys() and all(_eq(v, b[k]) for k, v in a.items())
        return bool(a == b)
    return _num(a) and _num(b) and a == b


def _rank(x: Any) -> int:
    if x is None:
        return 0
    if x is False:
        return 1
    if x is True:
        return 2
    if _num(x):
        return 3
    t = type(x)
    return 4 if t is str else 5 if t is list else 6


def _order(a: Any, b: Any) -> int:
    """jq's order of two values (-1, 0, 1); arrays and objects with each other: unsupported."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra >= 5:
        raise Unsupported
    if ra <= 2:
        return 0
    _exact(a), _exact(b)
    return -1 if a < b else 1 if a > b else 0


def _number(x: Any) -> Any:
    """A computed number as jq prints it, or unsupported when it would print differently."""
    if type(x) is int:
        if -_LIMIT < x < _LIMIT:
            return x
        raise Unsupported
    if x != x or x in (float("inf"), float("-inf")):
        raise Unsupported
    if x.is_integer():
        if -_LIMIT < x < _LIMIT and not (x == 0 and str(x)[0] == "-"):
            return int(x)
        raise Unsupported
    if "e" in repr(x):
        raise Unsupported
    return x


def _plus(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    ta, tb = type(a), type(b)
    if _num(a) and _num(b):
        if ta is int and tb is int:
            return _number(a + b)
        return _number(float(a) + float(b))
    if ta is not tb or ta is bool:
        raise Unsupported
    if ta is dict:
        return {**a, **b}
    return a + b


def _iterate(x: Any) -> list[Any]:
    t = type(x)
    if t is list:
        return x  # type: ignore[no-any-return]
    if t is dict:
        return list(x.values())
    raise Unsupported


def _add(x: Any) -> Any:
    items = [v for v in _iterate(x) if v is not None]  # null + v and v + null are v
    types = set(map(type, items))
    if len(types) > 1 and not types <= {int, float}:
        raise Unsupported
    if types == {int}:
        biggest = max(max(items), -min(items))
        if biggest * len(items) < _LIMIT:
            return sum(items)
    if types <= {int, float} and len(items) > 1:
        return _number(reduce(float.__add__, map(float, items)))
    if len(items) <= 1:
        return items[0] if items else None
    if types == {str}:
        return "".join(items)
    if types == {list}:
        return [y for v in items for y in v]
    if types == {dict}:
        merged: dict[str, Any] = {}
        for v in items:
            merged.update(v)
        return merged
    raise Unsupported


def _length(x: Any) -> Any:
    t = type(x)
    if t is str or t is list or t is dict:
        return len(x)
    if x is None:
        return 0
    if t is int:
        return _number(abs(x))
    raise Unsupported


def _keys(x: Any) -> Any:
    t = type(x)
    if t is dict:
        return sorted(x)
    if t is list:
        return list(range(len(x)))
    raise Unsupported


def _field(key: str) -> Fn:
    def get(x: Any) -> Any:
        if type(x) is dict:
            return x.get(key)
        if x is None:
            return None
        raise Unsupported

    return get


def _field_node(key: str) -> _Node:
    get = _field(key)

    def apply(xs: list[Any]) -> list[Any]:
        return [x.get(key) if type(x) is dict else get(x) for x in xs]

    node = _Node(apply, get)
    node.key = key
    return node


def _index(n: int) -> Fn:
    def get(x: Any) -> Any:
        if type(x) is list:
            return x[n] if -len(x) <= n < len(x) else None
        if x is None:
            return None
        raise Unsupported

    return get


# ---- nodes -----------------------------------------------------------------------------


def _sliced(apply: Apply, xs: list[Any], env: _Env) -> list[Any]:
    """``apply(xs)``, a slice at a time with the deadline's check between slices."""
    if len(xs) <= _SLICE:
        return apply(xs)
    out: list[Any] = []
    for i in range(0, len(xs), _SLICE):
        env.check()
        out.extend(apply(xs[i : i + _SLICE]))
    return out


def _fanout(n: int) -> int:
    if n > _MAX_FANOUT:
        raise Unsupported
    return n


def _pipe(a: _Node, b: _Node, env: _Env) -> _Node:
    copies, fanout = a.copies * b.copies, _fanout(a.fanout * b.fanout)
    if a.one is not None and b.one is not None:
        fa, fb = a.one, b.one
        return _singular(lambda x: fb(fa(x)), copies)
    apply_a, apply_b = a.apply, b.apply

    def apply(xs: list[Any]) -> list[Any]:
        return _sliced(apply_b, apply_a(xs), env)

    return _Node(apply, None, copies, fanout)


def _comma(a: _Node, b: _Node) -> _Node:
    apply_a, apply_b = a.apply, b.apply

    def apply(xs: list[Any]) -> list[Any]:
        out: list[Any] = []
        for x in xs:
            out.extend(apply_a([x]))
            out.extend(apply_b([x]))
        return out

    return _Node(apply, None, a.copies + b.copies, _fanout(a.fanout + b.fanout))


def _iterate_node() -> _Node:
    def apply(xs: list[Any]) -> list[Any]:
        if len(xs) == 1:
            return list(_iterate(xs[0]))
        return [y for x in xs for y in _iterate(x)]

    return _Node(apply)


def _select(cond: _Node) -> _Node:
    test = _need_one(cond)
    if cond.keep is not None:
        return _Node(cond.keep)
    return _Node(lambda xs: [x for x in xs if _truthy(test(x))])


def _collect(inner: _Node, env: _Env) -> _Node:
    apply = inner.apply

    def one(x: Any) -> Any:
        env.made += 1
        return apply([x])

    return _singular(one, inner.copies)


def _map(f: _Node, env: _Env) -> _Node:
    apply = f.apply

    def one(x: Any) -> Any:
        env.made += 1
        return _sliced(apply, _iterate(x), env)

    return _singular(one, f.copies)


def _object(pairs: list[tuple[str | _Node, _Node]], env: _Env) -> _Node:
    fns = [(k if isinstance(k, str) else _need_one(k), _need_one(v)) for k, v in pairs]

    def one(x: Any) -> Any:
        env.made += 1
        return {(k if type(k) is str else _key(k(x))): f(x) for k, f in fns}  # type: ignore[operator]

    return _singular(one, sum(v.copies for _, v in pairs))


def _key(k: Any) -> str:
    """A computed key (``{(f): g}``) is a string, else jq's error (libjq's to report)."""
    if type(k) is not str:
        raise Unsupported
    return k  # type: ignore[no-any-return]


def _text(v: Any) -> str:
    """A value inside a string interpolation; floats, arrays and objects go to libjq."""
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is int:
        return str(_exact(v))
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    raise Unsupported


def _interpolation(token: str, env: _Env) -> _Node:
    """``"a \\(f) b"`` whose parts each give one value."""
    pieces, sources = split_interpolation(token[1:-1])
    texts = [_string('"' + piece + '"') for piece in pieces]
    parts = [_Parser(src, env).program() for src in sources]
    fns = [_need_one(p) for p in parts]
    first, rest = texts[0], texts[1:]

    def one(x: Any) -> str:
        out = [first]
        for f, text in zip(fns, rest, strict=True):
            out.append(_text(f(x)))
            out.append(text)
        return "".join(out)

    return _singular(one, max(1, sum(p.copies for p in parts)))


def _need_one(node: _Node) -> Fn:
    if node.one is None:
        raise Unsupported
    return node.one


def _compare(op: str, a: _Node, b: _Node) -> _Node:
    fa, fb = _need_one(a), _need_one(b)
    if op == "==":
        return _singular(lambda x: _eq(fa(x), fb(x)), 0)
    if op == "!=":
        return _singular(lambda x: not _eq(fa(x), fb(x)), 0)
    test: Callable[[int], bool] = {
        "<": lambda c: c < 0,
        "<=": lambda c: c <= 0,
        ">": lambda c: c > 0,
        ">=": lambda c: c >= 0,
    }[op]
    return _singular(lambda x: test(_order(fa(x), fb(x))), 0)


def _equals_constant(path: _Node, value: Any, negate: bool) -> _Node:
    """``f == "text"``: Python's ``==`` is jq's for a string (no other type equals one)."""
    f = _need_one(path)
    node = _singular((lambda x: f(x) != value) if negate else (lambda x: f(x) == value), 0)
    key = path.key
    if key is not None and not negate:
        node.keep = lambda xs: [x for x in xs if (x.get(key) if type(x) is dict else f(x)) == value]
    elif key is not None:
        node.keep = lambda xs: [x for x in xs if (x.get(key) if type(x) is dict else f(x)) != value]
    return node


def _logic(op: str, a: _Node, b: _Node) -> _Node:
    fa, fb = _need_one(a), _need_one(b)
    if op == "and":
        return _singular(lambda x: _truthy(fa(x)) and _truthy(fb(x)), 0)
    return _singular(lambda x: _truthy(fa(x)) or _truthy(fb(x)), 0)


def _constant(value: Any) -> _Node:
    return _singular(lambda _x: value, 0)


# ---- parser ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str, env: _Env) -> None:
        self.env = env
        self.toks: list[tuple[str, str]] = []
        pos = 0
        source = source.rstrip()
        while pos < len(source):
            m = _TOKEN.match(source, pos)
            if m is None or m.end() == pos:
                raise Unsupported
            kind = m.lastgroup
            assert kind is not None
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1] != value):
            raise Unsupported
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        kind, text = self.peek()
        return kind in ("op", "ident") and text == value

    def program(self) -> _Node:
        node = self.pipe()
        if self.peek()[0] != "end":
            raise Unsupported
        return node

    def pipe(self) -> _Node:
        node = self.comma()
        while self.at("|"):
            self.take()
            node = _pipe(node, self.comma(), self.env)
        return node

    def comma(self) -> _Node:
        node = self.disjunction()
        while self.at(","):
            self.take()
            node = _comma(node, self.disjunction())
        return node

    def disjunction(self) -> _Node:
        node = self.conjunction()
        while self.at("or"):
            self.take()
            node = _logic("or", node, self.conjunction())
        return node

    def conjunction(self) -> _Node:
        node = self.comparison()
        while self.at("and"):
            self.take()
            node = _logic("and", node, self.comparison())
        return node

    def comparison(self) -> _Node:
        left = self.postfix()
        kind, text = self.peek()
        if kind == "op" and text in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            before = self.i
            right = self.postfix()
            literal = self.toks[before] if self.i == before + 1 else None
            if text in ("==", "!=") and literal is not None and literal[0] == "str":
                node = _equals_constant(left, _string(literal[1]), text == "!=")
            else:
                node = _compare(text, left, right)
            if self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
                raise Unsupported  # jq's comparisons do not chain
            return node
        return left

    def postfix(self) -> _Node:
        node = self.term()
        while True:
            kind, text = self.peek()
            if kind == "field":
                self.take()
                node = _pipe(node, _field_node(text[1:]), self.env)
            elif kind == "op" and text == "." and self._next_is_string():
                self.take()
                node = _pipe(node, _field_node(_string(self.take()[1])), self.env)
            elif kind == "op" and text == "[":
                node = _pipe(node, self.brackets(), self.env)
            elif kind == "op" and text == "." and self._next_is("op", "["):
                self.take()  # ``.a.[0]``, as jq 1.7 allows
                node = _pipe(node, self.brackets(), self.env)
            else:
                return node

    def _next_is_string(self) -> bool:
        return self.i + 1 < len(self.toks) and self.toks[self.i + 1][0] == "str"

    def _next_is(self, kind: str, text: str) -> bool:
        return self.i + 1 < len(self.toks) and self.toks[self.i + 1] == (kind, text)

    def brackets(self) -> _Node:
        self.take("[")
        if self.at("]"):
            self.take()
            return _iterate_node()
        negative = self.at("-")
        if negative:
            self.take()
        kind, text = self.take()
        self.take("]")
        if kind == "num" and len(text) < 16:
            return _singular(_index(-int(text) if negative else int(text)))
        if kind == "str" and not negative:
            return _field_node(_string(text))
        raise Unsupported

    def term(self) -> _Node:
        kind, text = self.take()
        if kind == "field":
            return _field_node(text[1:])
        if kind == "str":
            if "\\(" in text:
                return _interpolation(text, self.env)
            return _constant(_string(text))
        if kind == "num":
            return _constant(_integer(text))
        if kind == "op":
            return self._op_term(text)
        return self._ident_term(text)

    def _op_term(self, text: str) -> _Node:
        if text == ".":
            if self.at("["):
                return self.brackets()
            if self.peek()[0] == "str":
                return _field_node(_string(self.take()[1]))
            return _singular(lambda x: x)
        if text == "-" and self.peek()[0] == "num":
            return _constant(-_integer(self.take()[1]))
        if text == "(":
            node = self.pipe()
            self.take(")")
            return node
        if text == "[":
            if self.at("]"):
                self.take()
                return _constant_list()
            node = self.pipe()
            self.take("]")
            return _collect(node, self.env)
        if text == "{":
            return self._object()
        raise Unsupported

    def _object(self) -> _Node:
        pairs: list[tuple[str | _Node, _Node]] = []
        while not self.at("}"):
            kind, text = self.take()
            key: str | _Node
            if kind == "op" and text == "(":
                key = self.pipe()
                self.take(")")
                if not self.at(":"):
                    raise Unsupported
            elif kind == "str":
                key = _string(text)
            elif kind == "ident" and text not in _KEYWORDS and text not in _CONSTANTS:
                key = text
            else:
                raise Unsupported
            if self.at(":"):
                self.take()
                value = self.postfix()
                while self.at("|"):
                    self.take()
                    value = _pipe(value, self.postfix(), self.env)
            elif kind == "ident" and isinstance(key, str):
                value = _field_node(key)
            else:
                raise Unsupported
            pairs.append((key, value))
            if not self.at("}"):
                self.take(",")
        self.take("}")
        return _object(pairs, self.env)

    def _ident_term(self, name: str) -> _Node:
        if name in _CONSTANTS:
            return _constant(_CONSTANTS[name])
        simple: dict[str, Fn] = {"add": _add, "length": _length, "keys": _keys}
        if name in simple:
            return _singular(simple[name], 1 if name == "add" else 0)
        if name == "not":
            return _singular(lambda x: not _truthy(x), 0)
        if name in ("select", "map"):
            self.take("(")
            arg = self.pipe()
            self.take(")")
            return _select(arg) if name == "select" else _map(arg, self.env)
        raise Unsupported


def _constant_list() -> _Node:
    return _singular(lambda _x: [], 0)


def _string(token: str) -> str:
    if "\\(" in token:
        raise Unsupported
    try:
        value = json.loads(token)
    except ValueError:
        raise Unsupported from None
    if not isinstance(value, str) or any("\ud800" <= c <= "\udfff" for c in value):
        raise Unsupported
    return value


def _integer(token: str) -> int:
    if len(token) > 15 or (len(token) > 1 and token[0] == "0"):
        raise Unsupported
    return int(token)


class FastJq:
    """A program of the subset with the output options it runs under."""

    def __init__(self, node: _Node, env: _Env, raw: bool, join: bool, pretty: bool) -> None:
        self.node = node
        self.env = env
        self.raw = raw
        self.join = join
        self.pretty = pretty

    def run(
        self, data: bytes, cost: int, check: Callable[[], None]
    ) -> tuple[list[bytes], str | None] | None:
        """The output of the program on the one value of ``data`` (``cost``: the memory its
        decoding takes) and the last value printed for ``-e`` (``null``, ``false``, any other
        text; None when none), or None when libjq must do it."""
        if len(data) > MAX_INPUT:
            return None
        budget = current_budget()
        deadline = None if budget is None else budget.deadline
        if deadline is not None and time.monotonic() + len(data) / PARSE_RATE > deadline:
            return None
        held = _Held()
        self.env.deadline, self.env.held, self.env.made = check, held, 0
        # the parse makes a container per bracket, all alive to the end: the collector would
        # walk the growing heap again and again for nothing (it took 40% of the parse)
        collecting = gc.isenabled()
        gc.disable()
        try:
            held.add(cost)
            check()
            results = self.node.apply([parse_input(data)])
            self.env.check()
            last = None if not results else _last_text(results[-1])
            return self._print(results, held, check), last
        except (Unsupported, RecursionError):  # RecursionError: ``==`` of deep values
            return None
        finally:
            self.env.deadline, self.env.held = _nothing, None
            held.close()
            if collecting:
                gc.enable()

    def _print(self, results: list[Any], held: _Held, check: Callable[[], None]) -> list[bytes]:
        """The printed results in pieces of about a megabyte."""
        end = b"" if self.join else b"\n"
        chunks: list[bytes] = []
        out: list[bytes] = []
        size = 0
        for value in results:
            if self.raw and type(value) is str:
                try:
                    pieces = [value.encode("utf-8")]
                except UnicodeEncodeError:
                    raise Unsupported from None
            else:
                pieces = _laid_out(value, self.pretty, held, check)
            if self.raw and type(value) is str:
                held.add(len(pieces[0]))
            if end:
                pieces.append(end)
            size += sum(map(len, pieces))
            out.extend(pieces)
            if size >= _PIECE:
                check()
                chunks.append(b"".join(out))
                out, size = [], 0
        if out:
            chunks.append(b"".join(out))
        return chunks


def compile_fast(source: str, opts: Any) -> FastJq | None:
    """The program as a :class:`FastJq` for jq's options ``opts``, or None when it (or an
    option this path does not print) is not in the subset."""
    if not ENABLED or opts.ascii or opts.sort_keys or opts.seq or opts.nul:
        return None
    pretty = not opts.compact and opts.indent is not None
    if pretty and (opts.indent != "  " or _orjson is None):
        return None
    env = _Env()
    try:
        node = _Parser(source, env).program()
    except (Unsupported, RecursionError):
        return None
    if node.copies > _MAX_COPIES or node.fanout > _MAX_FANOUT:
        return None
    return FastJq(node, env, opts.raw, opts.join, pretty)
