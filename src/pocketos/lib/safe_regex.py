"""Regular expressions that cannot hold the host: one compile for every command (grep, sed,
awk, expr, find ...).

Python's :mod:`re` backtracks: ``(a*)*b`` is exponential and even ``x*y`` is quadratic in the
length of the subject, inside one C call that no timeout can interrupt. :func:`compile` keeps
``re`` where that cannot matter and guards the rest:

* Each pattern gets a *safe length* from its shape: no repetition at all is always safe (linear);
  ``k`` unbounded repetitions cost up to ``n**(k+1)`` steps, so subjects up to
  ``STEPS ** (1 / (k+1))`` characters stay on ``re``; nested repetition, repetition of an
  alternation or a back-reference is exponential and only tiny subjects stay on ``re``.
* Longer subjects run on the ``regex`` module, whose matcher checks a timeout as it goes. On the
  event-loop thread it gets a small slice (:data:`LOOP_SLICE`) when the caller can move the work
  to a worker thread (:func:`movable`, then :func:`in_worker`, which is given the whole remaining
  deadline); otherwise at most ``Limits.max_regex_time`` seconds. Past the exec's deadline the
  match ends with ``LimitExceeded("timeout")``.

The ``regex`` module releases the GIL while it matches, so a worker thread running a slow match
does not stop the event loop that every VM of the process shares.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import regex as _regex

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import current_budget

__all__ = [
    "LOOP_SLICE",
    "RegexSliceExceeded",
    "SafePattern",
    "compile",
    "in_worker",
    "may_match_newline",
    "movable",
    "safe_length",
]

T = TypeVar("T")

#: worst-case backtracking steps allowed on ``re`` (a few tens of milliseconds)
STEPS = 10_000_000
#: seconds a guarded match may hold the event loop before it moves to a worker thread
LOOP_SLICE = 0.05
#: the ``regex`` module overshoots its timeout about fourfold (measured: asked 0.5 s, took 2 s)
TIMEOUT_SCALE = 0.25
#: subjects up to this length stay on ``re`` even for exponential patterns
TINY = 20

_INF = sys.maxsize
#: the safe length of a pattern without repetition: any subject
UNBOUNDED = _INF
#: re flag -> regex flag (their values differ: re.ASCII is regex.VERSION1)
_FLAGS = (
    (re.IGNORECASE, _regex.IGNORECASE),
    (re.MULTILINE, _regex.MULTILINE),
    (re.DOTALL, _regex.DOTALL),
    (re.VERBOSE, _regex.VERBOSE),
    (re.ASCII, _regex.ASCII),
    (re.LOCALE, _regex.LOCALE),
)
_local = threading.local()


class RegexSliceExceeded(LimitExceeded):
    """A guarded match used its slice of the event loop; the caller may rerun the work with
    :func:`in_worker`. Uncaught, it ends the exec naming ``max_regex_time``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "max_regex_time",
            f"regular expression too slow (over max_regex_time={seconds:g}s)",
        )


# --- how long may re run? ------------------------------------------------------------------------

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _shape(items: Any, depth: int, acc: list[int]) -> bool:
    """Walk a parsed pattern; count unbounded repeats in ``acc[0]``; return True if it can be
    exponential (nested repetition, repeated alternation, back-references)."""
    danger = False
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            lo, hi, sub = av
            many = hi is re._constants.MAXREPEAT or hi > 16  # type: ignore[attr-defined]
            if many:
                acc[0] += 1
            if (many or hi > 1) and _has_variable(sub):
                danger = True
            danger |= _shape(sub, depth + 1, acc)
        elif name == "SUBPATTERN":
            danger |= _shape(av[-1], depth, acc)
        elif name == "BRANCH":
            for alt in av[1]:
                danger |= _shape(alt, depth, acc)
        elif name in ("ASSERT", "ASSERT_NOT"):
            danger |= _shape(av[1], depth, acc)
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            danger = True
    return danger


def _has_variable(items: Any) -> bool:
    """True if a repeated body can match in more than one way (a repeat or an alternation)."""
    for op, av in items:
        name = str(op)
        if name in _REPEATS or name == "BRANCH" or name in ("GROUPREF", "GROUPREF_EXISTS"):
            return True
        if name == "SUBPATTERN" and _has_variable(av[-1]):
            return True
    return False


#: patterns up to this length have their shape remembered (commands compile the same few
#: patterns again and again: parsing one costs more than compiling it, which ``re`` caches)
_SHAPE_CACHED_LEN = 512
_SHAPE_CACHE_SIZE = 1024
_safe_lengths: dict[tuple[type, str | bytes, int], int] = {}
_newlines: dict[tuple[type, str | bytes, int], bool] = {}


def _remembered(
    cache: dict[tuple[type, str | bytes, int], T],
    analyse: Callable[[str | bytes, int], T],
    pattern: str | bytes,
    flags: int,
) -> T:
    """``analyse(pattern, flags)``, remembered in ``cache`` for short patterns."""
    if not isinstance(pattern, (str, bytes)) or len(pattern) > _SHAPE_CACHED_LEN:
        return analyse(pattern, flags)
    key = (type(pattern), pattern, int(flags))
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= _SHAPE_CACHE_SIZE:
            cache.clear()
        hit = cache[key] = analyse(pattern, flags)
    return hit


def safe_length(pattern: str | bytes, flags: int = 0) -> int:
    """The longest subject ``re`` may search with ``pattern`` within :data:`STEPS`."""
    return _remembered(_safe_lengths, _safe_length, pattern, flags)


def _safe_length(pattern: str | bytes, flags: int) -> int:
    try:
        tree = re._parser.parse(pattern, flags)  # type: ignore[attr-defined]
    except Exception:
        return TINY
    acc = [0]
    if _shape(tree.data, 0, acc):
        return TINY
    k = acc[0]
    if k == 0:
        return _INF
    return max(TINY, int(STEPS ** (1.0 / (k + 1))))


_NL = 10
#: categories (\s, \D, \W ...) that contain the newline
_NL_CATEGORIES = {"CATEGORY_SPACE", "CATEGORY_NOT_DIGIT", "CATEGORY_NOT_WORD", "CATEGORY_LINEBREAK"}
_NL_CATEGORIES |= {f"CATEGORY_UNI_{c[9:]}" for c in list(_NL_CATEGORIES)}


def _set_has_newline(items: Any) -> bool:
    negate = False
    found = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            found |= av == _NL
        elif name == "RANGE":
            found |= av[0] <= _NL <= av[1]
        elif name == "CATEGORY":
            found |= str(av) in _NL_CATEGORIES
        else:
            return True  # not a shape the parser makes: assume the worst
    return found != negate


def _newline_in(items: Any, dotall: bool) -> bool:
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            if av == _NL:
                return True
        elif name == "NOT_LITERAL":
            if av != _NL:
                return True
        elif name == "ANY":
            if dotall:
                return True
        elif name == "IN":
            if _set_has_newline(av):
                return True
        elif name in _REPEATS:
            if _newline_in(av[2], dotall):
                return True
        elif name == "SUBPATTERN":
            _group, add, remove, sub = av
            inner = (dotall or bool(add & re.DOTALL)) and not remove & re.DOTALL
            if _newline_in(sub, inner):
                return True
        elif name == "BRANCH":
            if any(_newline_in(alt, dotall) for alt in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            if _newline_in(av[1] if name != "ATOMIC_GROUP" else av, dotall):
                return True
        elif name not in ("AT", "GROUPREF"):
            return True  # conditionals and anything new: assume the worst
    return False


def may_match_newline(pattern: str | bytes, flags: int = 0) -> bool:
    """True unless no part of ``pattern`` can match or look at a newline character, so that
    every match (and every lookaround) stays within one line. Back-references repeat what a
    group matched, so they follow from the groups."""
    return _remembered(_newlines, _may_match_newline, pattern, flags)


def _may_match_newline(pattern: str | bytes, flags: int) -> bool:
    try:
        tree = re._parser.parse(pattern, flags)  # type: ignore[attr-defined]
    except Exception:
        return True
    return _newline_in(tree.data, bool(tree.state.flags & re.DOTALL))


# --- guarded patterns ----------------------------------------------------------------------------


@contextmanager
def movable() -> Iterator[None]:
    """Inside this block a slow match on the event loop raises :class:`RegexSliceExceeded`
    after :data:`LOOP_SLICE`: the caller then reruns its (side-effect free) step with
    :func:`in_worker`."""
    prev = getattr(_local, "movable", False)
    _local.movable = True
    try:
        yield
    finally:
        _local.movable = prev


def _worker_call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    _local.worker = True
    try:
        return fn(*args)
    finally:
        _local.worker = False


async def in_worker(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a worker thread, where guarded matches get the whole remaining
    deadline (the exec's budget is carried along)."""
    return await asyncio.to_thread(_worker_call, fn, args)


class SafePattern:
    """A compiled pattern with the :class:`re.Pattern` API whose matches are bounded in time."""

    def __init__(self, pattern: Any, flags: int = 0) -> None:
        rx = re.compile(pattern, flags)
        self.rx = rx
        self.pattern = rx.pattern
        self.flags = rx.flags
        self.groups = rx.groups
        self.groupindex = rx.groupindex
        self.safe_len = safe_length(pattern, flags)
        self._slow: Any = None
        if self.safe_len == _INF:
            # no repetition: re is linear, use it directly
            self.search = rx.search  # type: ignore[method-assign]
            self.match = rx.match  # type: ignore[method-assign]
            self.fullmatch = rx.fullmatch  # type: ignore[method-assign]
            self.sub = rx.sub  # type: ignore[method-assign]
            self.subn = rx.subn  # type: ignore[method-assign]
            self.finditer = rx.finditer  # type: ignore[method-assign]
            self.findall = rx.findall  # type: ignore[method-assign]
            self.split = rx.split  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"SafePattern({self.pattern!r})"

    def _guard(self, method: str, *args: Any, **kw: Any) -> Any:
        if self._slow is None:
            fl = _regex.VERSION0
            for a, b in _FLAGS:
                if self.flags & a:
                    fl |= b
            self._slow = _regex.compile(self.pattern, fl)
        budget = current_budget()
        if budget is not None and self.safe_len == TINY:
            # exponential shapes keep a backtracking stack of ~170 bytes per character
            budget.check_alloc(
                len(args[1] if method in ("sub", "subn") else args[0]) * 128, "regex"
            )
        deadline = budget.deadline if budget is not None else None
        now = time.monotonic()
        remaining = None if deadline is None else max(0.0, deadline - now)
        if getattr(_local, "worker", False):
            timeout = remaining
            final = True
        else:
            cap = (
                LOOP_SLICE
                if getattr(_local, "movable", False)
                else (budget.limits.max_regex_time if budget is not None else 1.0)
            )
            final = remaining is not None and remaining <= cap
            timeout = cap if remaining is None else min(cap, remaining)
        # on the loop, ask for less to stay within the cap; in a worker the exec's own
        # timeout ends the wait on time and the thread stops soon after
        scale = 1.0 if final and getattr(_local, "worker", False) else TIMEOUT_SCALE
        while True:
            try:
                asked = None if timeout is None else timeout * scale
                res = getattr(self._slow, method)(*args, timeout=asked, **kw)
                if method == "finditer":
                    res = iter(list(res))
                return res
            except TimeoutError:
                left = None if deadline is None else deadline - time.monotonic()
                if final and left is not None and left > 0:
                    # the time left was under the cap and the shortened ask ran out before
                    # the deadline: the match gets the rest (a timeout is not reported early)
                    timeout = max(left, 0.001)
                    continue
                break
        if final or (deadline is not None and time.monotonic() >= deadline):
            if budget is not None:
                budget.limit_hit = budget.limit_hit or "timeout"
                raise LimitExceeded(
                    "timeout",
                    f"timed out after {budget.timeout:g}s"
                    if budget.timeout is not None
                    else "timed out",
                ) from None
            raise LimitExceeded("timeout", "timed out") from None
        exc = RegexSliceExceeded(timeout if timeout is not None else 0.0)
        if budget is not None and not getattr(_local, "movable", False):
            budget.limit_hit = budget.limit_hit or exc.limit
        raise exc from None

    def search(self, string: Any, pos: int = 0, endpos: int = _INF) -> Any:
        if min(endpos, len(string)) - pos <= self.safe_len:
            return self.rx.search(string, pos, endpos)
        return self._guard("search", string, pos, endpos)

    def match(self, string: Any, pos: int = 0, endpos: int = _INF) -> Any:
        if min(endpos, len(string)) - pos <= self.safe_len:
            return self.rx.match(string, pos, endpos)
        return self._guard("match", string, pos, endpos)

    def fullmatch(self, string: Any, pos: int = 0, endpos: int = _INF) -> Any:
        if min(endpos, len(string)) - pos <= self.safe_len:
            return self.rx.fullmatch(string, pos, endpos)
        return self._guard("fullmatch", string, pos, endpos)

    def sub(self, repl: Any, string: Any, count: int = 0) -> Any:
        if len(string) <= self.safe_len:
            return self.rx.sub(repl, string, count)
        return self._guard("sub", repl, string, count)

    def subn(self, repl: Any, string: Any, count: int = 0) -> Any:
        if len(string) <= self.safe_len:
            return self.rx.subn(repl, string, count)
        return self._guard("subn", repl, string, count)

    def finditer(self, string: Any, pos: int = 0, endpos: int = _INF) -> Any:
        if min(endpos, len(string)) - pos <= self.safe_len:
            return self.rx.finditer(string, pos, endpos)
        return self._guard("finditer", string, pos, endpos)

    def findall(self, string: Any, pos: int = 0, endpos: int = _INF) -> Any:
        if min(endpos, len(string)) - pos <= self.safe_len:
            return self.rx.findall(string, pos, endpos)
        return self._guard("findall", string, pos, endpos)

    def split(self, string: Any, maxsplit: int = 0) -> Any:
        if len(string) <= self.safe_len:
            return self.rx.split(string, maxsplit)
        return self._guard("split", string, maxsplit)


def compile(pattern: Any, flags: int = 0) -> SafePattern:  # noqa: A001 - mirrors re.compile
    """Compile like :func:`re.compile` (raises ``re.error``) into a :class:`SafePattern`."""
    return SafePattern(pattern, flags)
