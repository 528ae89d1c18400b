"""Limits on sqlite run for a guest: a progress handler that checks the exec's deadline and
kill flag, printf() with a bounded width, and ATTACH denied."""

from __future__ import annotations

import re
import sqlite3 as _sqlite
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


def _sqlite_progress(ctx: Context) -> Callable[[], int]:
    import time as _time

    deadline = ctx.budget.deadline

    def check() -> int:
        if ctx.info is not None and ctx.info.pending_signal is not None:
            return 1
        if deadline is not None and _time.monotonic() > deadline:
            return 1
        return 0

    return check


_FMT_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")


def _bounded_printf(limit: int) -> Callable[..., Any]:
    """``printf``/``format`` that refuses a width or precision past ``limit`` before SQLite's
    own, which pads one character at a time and cannot be interrupted (2e9 takes a minute),
    then formats with the built-in on a private connection."""
    aux = _sqlite.connect(":memory:", check_same_thread=False)
    aux.setlimit(_sqlite.SQLITE_LIMIT_LENGTH, limit)

    def printf(fmt: Any = None, *args: Any) -> Any:
        if isinstance(fmt, str):
            i = 0
            for m in _FMT_SPEC.finditer(fmt):
                if m.group(4) == "%":
                    continue
                for part in (m.group(2), m.group(3)):
                    if part == "*":
                        v = args[i] if i < len(args) else 0
                        i += 1
                        n = abs(int(v)) if isinstance(v, (int, float)) else 0
                    else:
                        n = int(part) if part else 0
                    if n > limit:
                        raise _sqlite.DataError("string or blob too big")
                i += 1
        marks = ",".join("?" * (1 + len(args)))
        return aux.execute(f"select printf({marks})", (fmt, *args)).fetchone()[0]

    return printf


def _deny_attach(action: int, *args: Any) -> int:
    if action == _sqlite.SQLITE_ATTACH:
        return _sqlite.SQLITE_DENY
    return _sqlite.SQLITE_OK
