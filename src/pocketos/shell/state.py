"""Shell variables, control-flow signals and small shared helpers."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.kernel.budget import Held

__all__ = [
    "encode_text",
    "ATTR_ASSOC",
    "ATTR_ARRAY",
    "ATTR_EXPORT",
    "ATTR_INTEGER",
    "ATTR_LOWER",
    "ATTR_READONLY",
    "ATTR_NAMEREF",
    "ATTR_UPPER",
    "BreakLoop",
    "ContinueLoop",
    "LoopControl",
    "ExitShell",
    "FatalError",
    "ReturnFn",
    "ShellError",
    "ShellAttrs",
    "_err_status",
    "Var",
    "quote_word",
    "unbound_error",
]

ATTR_EXPORT = 1
ATTR_READONLY = 2
ATTR_INTEGER = 4
ATTR_ARRAY = 8
ATTR_ASSOC = 16
ATTR_LOWER = 32
ATTR_UPPER = 64
ATTR_NAMEREF = 128


class Var:
    """A shell variable. ``value`` is a str (scalar), ``dict[int, str]`` (indexed array) or
    ``dict[str, str]`` (associative array); ``None`` means declared but unset."""

    __slots__ = ("value", "attrs", "owner")

    def __init__(self, value: str | dict | None, attrs: int = 0) -> None:  # type: ignore[type-arg]
        self.value = value
        self.attrs = attrs
        #: the mark of the :class:`~pocketos.shell.vartable.VarTable` that may change this
        #: variable in place (``None``: a new one, not yet owned)
        self.owner: object = None

    def copy(self) -> Var:
        v = self.value
        return Var(dict(v) if isinstance(v, dict) else v, self.attrs)


def _lone_surrogates(exc: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start : exc.end]:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            out.append(cp - 0xDC00)  # a raw byte carried through str (surrogateescape)
        else:  # a code point like ``$'\udc00'``: its UTF-8 form, as bash writes it
            out += bytes([0xE0 | cp >> 12, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F])
    return bytes(out), exc.end


codecs.register_error("pocketos.shell", _lone_surrogates)


def encode_text(s: str) -> bytes:
    """Text -> bytes for output: raw bytes come back as they were read, and a lone
    surrogate never raises."""
    return s.encode("utf-8", "pocketos.shell")


class ShellError(Exception):
    """An error that ends the current command with a message (status ``status``)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ReportedError(ShellError):
    """An error already reported where it happened (assigning a readonly variable): like
    bash, the shell abandons the command it is running and goes on with the next line."""


class FatalError(ShellError):
    """An expansion error that ends a non-interactive shell (``${x:?}``, ``set -u``)."""

    sub_status: int | None = None
    #: the line it happened at, when a function it ends has returned to its caller's line
    line: int | None = None


def unbound_error(name: str, status: int = 127) -> FatalError:
    """``set -u``: ends ``bash -c`` with 127 (or ``status``), a subshell with 1."""
    err = FatalError(f"{name}: unbound variable", status)
    err.sub_status = 1
    return err


class LoopControl(Exception):
    """``break N`` or ``continue N`` on its way out to the N-th enclosing loop. Every loop it
    passes asks :meth:`here`; the one it is meant for stops it, the others re-raise it."""

    #: ``break`` ends the loop; ``continue`` goes on with its next pass
    breaks = False

    def __init__(self, n: int, status: int = 0) -> None:
        self.n = n
        self.status = status

    def here(self) -> bool:
        """True at the loop this is meant for; otherwise one loop level fewer to go."""
        if self.n > 1:
            self.n -= 1
            return False
        return True


class BreakLoop(LoopControl):
    breaks = True


class ContinueLoop(LoopControl):
    pass


class ReturnFn(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class ExitShell(Exception):
    def __init__(self, status: int, signal: int | None = None) -> None:
        self.status = status
        #: the signal ending the shell (``kill -TERM $$`` with no trap for it), None for ``exit``
        self.signal = signal


class NoExec(ExitShell):
    """``set -n`` in a shell that is not interactive: nothing more runs (bash reads the rest of
    its input only for syntax errors) and the shell ends without its EXIT trap."""


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@%^")


def quote_word(s: str) -> str:
    """Quote like bash's ``set -x`` / ``declare -p`` / ``${x@Q}`` output."""
    if s and all(c in _SAFE for c in s):
        return s
    if any(ord(c) < 32 or ord(c) == 127 for c in s):
        out = []
        for c in s:
            o = ord(c)
            if c == "\n":
                out.append("\\n")
            elif c == "\t":
                out.append("\\t")
            elif c == "\r":
                out.append("\\r")
            elif c == "\x1b":
                out.append("\\E")
            elif c == "'":
                out.append("\\'")
            elif c == "\\":
                out.append("\\\\")
            elif o < 32 or o == 127:
                out.append(f"\\{o:03o}")
            else:
                out.append(c)
        return "$'" + "".join(out) + "'"
    return "'" + s.replace("'", "'\\''") + "'"


def _err_status(e: ShellError) -> int:
    """The status a shell error ends its command with."""
    if isinstance(e, FatalError) and e.sub_status is not None:
        return e.sub_status
    return e.status


class ShellAttrs:
    """The interpreter state that the parts of :class:`~pocketos.shell.interp.Shell` (its
    mixins: variables, simple commands, compound commands, redirections, jobs, traps,
    substitutions) assign, declared once for the type checker. ``Shell.__init__`` sets them."""

    if TYPE_CHECKING:
        positional: list[str]
        fds: dict[int, Any]
        last_status: int
        pipestatus: list[int]
        lineno: int
        last_bg: str
        last_arg: str
        loop_depth: int
        call_depth: int
        nest: int
        errexit_suppressed: int
        job_counter: int
        fg_job: Any
        parent_jobs: list[Any]
        exit_warned: int
        runs: int
        in_trap: bool
        start_time: float
        warnings: list[str]
        var_mem: Held | None
        _pending_psub: list[Any]
        keep_fds: bool
