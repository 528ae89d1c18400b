"""The ``test`` / ``[`` engine: bash 5's semantics, files checked through an :class:`FsView`.

:func:`evaluate_test` receives the operands (without the command name) and returns
``(status, message)``: status 0 (true), 1 (false) or 2 (usage error, with a message such as
``"test: too many arguments"``; the caller prefixes ``bash: line N: ``).

The algorithm is bash's: with 0 to 4 operands the POSIX rules decide by count, beyond that a
recursive parser with ``!``, ``-a`` (tighter) and ``-o``, and parentheses. Every operand is
parsed even when the result is already known, so errors on the right of ``-o`` are reported as
bash reports them.
"""

from __future__ import annotations

import stat as _stat
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketos.kernel.fs.api import StatResult
    from pocketos.kernel.fs.view import FsView

__all__ = ["evaluate_test", "UNARY_OPS", "BINARY_OPS", "TestSyntaxError"]

UNARY_OPS = frozenset(f"-{c}" for c in "abcdefghknoprstuvwxzGLNORS")
BINARY_OPS = frozenset(
    ["=", "==", "!=", "<", ">", "-nt", "-ot", "-ef", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"]
)
_INT_OPS = {
    "-eq": lambda a, b: a == b,
    "-ne": lambda a, b: a != b,
    "-lt": lambda a, b: a < b,
    "-le": lambda a, b: a <= b,
    "-gt": lambda a, b: a > b,
    "-ge": lambda a, b: a >= b,
}
_INTMAX = (1 << 63) - 1
_INTMIN = -(1 << 63)
_LEADING_SPACE = " \t\n\v\f\r"


class TestSyntaxError(Exception):
    """A malformed expression: status 2 with the message."""

    __test__ = False  # not a pytest test class


def parse_integer(text: str) -> int | None:
    """bash's ``legal_number``: decimal, optional sign, surrounding blanks; None if invalid."""
    s = text.lstrip(_LEADING_SPACE)
    s = s.rstrip(" \t")
    if not s:
        return None
    body = s[1:] if s[0] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return None
    if len(body.lstrip("0")) > 19:
        return None
    value = int(s)
    if value > _INTMAX or value < _INTMIN:
        return None
    return value


class _Evaluator:
    def __init__(
        self,
        args: list[str],
        fs: FsView,
        *,
        uid: int | None,
        gid: int | None,
        is_set: Callable[[str], bool] | None,
        option_on: Callable[[str], bool] | None,
        is_nameref: Callable[[str], bool] | None,
        isatty: Callable[[int], bool] | None,
    ) -> None:
        self.argv = args
        self.argc = len(args)
        self.pos = 0
        self.fs = fs
        self.uid = uid
        self.gid = gid
        self.is_set = is_set
        self.option_on = option_on
        self.is_nameref = is_nameref
        self.isatty = isatty
        self.bracket = False

    # --- driver ---------------------------------------------------------------------------
    def run(self) -> bool:
        n = self.argc
        if n == 0:
            return False
        if n == 1:
            self.pos = n
            return self.argv[0] != ""
        if n == 2:
            value = self.two_args()
            self.pos = n
            return value
        if n == 3:
            return self.three_args()
        if n == 4:
            if self.argv[0] == "!":
                self.pos = 1
                return not self.three_args()
            if self.argv[0] == "(" and self.argv[3] == ")":
                self.pos = 1
                value = self.two_args()
                self.pos = n
                return value
        return self.expr()

    def advance(self, need_more: bool) -> None:
        self.pos += 1
        if need_more and self.pos >= self.argc:
            raise TestSyntaxError("argument expected")

    def two_args(self) -> bool:
        a = self.argv[self.pos]
        if a == "!":
            return self.argv[self.pos + 1] == ""
        if len(a) == 2 and a[0] == "-" and a in UNARY_OPS:
            return self.unary()
        raise TestSyntaxError(f"{a}: unary operator expected")

    def three_args(self) -> bool:
        p = self.pos
        a, op, b = self.argv[p], self.argv[p + 1], self.argv[p + 2]
        if op in BINARY_OPS:
            value = self.binary()
        elif op in ("-a", "-o"):
            value = (a != "" and b != "") if op == "-a" else (a != "" or b != "")
        elif a == "!":
            self.pos += 1
            value = not self.two_args()
        elif a == "(" and b == ")":
            value = op != ""
        else:
            raise TestSyntaxError(f"{op}: binary operator expected")
        self.pos = self.argc
        return value

    # --- the general parser -----------------------------------------------------------------
    def expr(self) -> bool:
        if self.pos >= self.argc:
            raise TestSyntaxError("argument expected")
        return self.or_()

    def or_(self) -> bool:
        # bash recurses to the right; every operand is evaluated either way
        value = self.and_()
        while self.pos < self.argc and self.argv[self.pos] == "-o":
            self.advance(False)
            right = self.and_()
            value = value or right
        return value

    def and_(self) -> bool:
        value = self.term()
        while self.pos < self.argc and self.argv[self.pos] == "-a":
            self.advance(False)
            right = self.term()
            value = value and right
        return value

    def term(self) -> bool:
        if self.pos >= self.argc:
            raise TestSyntaxError("argument expected")
        a = self.argv[self.pos]
        if a == "!":
            negate = False
            while self.pos < self.argc and self.argv[self.pos] == "!":
                self.advance(True)
                negate = not negate
            value = self.term()
            return not value if negate else value
        if a == "(":
            self.advance(True)
            value = self.expr()
            if self.pos >= self.argc:
                # ``[`` still sees its ``]`` there, as bash does
                if self.bracket:
                    raise TestSyntaxError("`)' expected, found ]")
                raise TestSyntaxError("`)' expected")
            if self.argv[self.pos] != ")":
                raise TestSyntaxError(f"`)' expected, found {self.argv[self.pos]}")
            self.advance(False)
            return value
        if self.pos + 3 <= self.argc and self.argv[self.pos + 1] in BINARY_OPS:
            return self.binary()
        if len(a) == 2 and a[0] == "-" and a in UNARY_OPS:
            return self.unary()
        self.advance(False)
        return a != ""

    # --- operators ----------------------------------------------------------------------------
    def binary(self) -> bool:
        p = self.pos
        left, op, right = self.argv[p], self.argv[p + 1], self.argv[p + 2]
        self.pos = p + 3
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return _key(left) < _key(right)
        if op == ">":
            return _key(left) > _key(right)
        if op in _INT_OPS:
            a = parse_integer(left)
            if a is None:
                raise TestSyntaxError(f"{left}: integer expression expected")
            b = parse_integer(right)
            if b is None:
                raise TestSyntaxError(f"{right}: integer expression expected")
            return bool(_INT_OPS[op](a, b))
        if op == "-ef":
            s1, s2 = self._stat(left), self._stat(right)
            return (
                s1 is not None
                and s2 is not None
                and s1.st_dev == s2.st_dev
                and s1.st_ino == s2.st_ino
            )
        s1, s2 = self._stat(left), self._stat(right)
        if op == "-nt":
            if s1 is None:
                return False
            return s2 is None or s1.st_mtime_ns > s2.st_mtime_ns
        # -ot
        if s2 is None:
            return False
        return s1 is None or s1.st_mtime_ns < s2.st_mtime_ns

    def unary(self) -> bool:
        op = self.argv[self.pos]
        if op == "-t":
            self.advance(False)
            if self.pos < self.argc:
                fd = parse_integer(self.argv[self.pos])
                if fd is None:
                    return False
                self.advance(False)
                return self._tty(fd)
            return self._tty(1)
        self.advance(True)
        arg = self.argv[self.pos]
        self.advance(False)
        return self.unary_test(op, arg)

    def _tty(self, fd: int) -> bool:
        if self.isatty is None or not 0 <= fd <= _INTMAX:
            return False
        return bool(self.isatty(fd))

    def unary_test(self, op: str, arg: str) -> bool:
        if op == "-z":
            return arg == ""
        if op == "-n":
            return arg != ""
        if op == "-v":
            return bool(self.is_set(arg)) if self.is_set else False
        if op == "-o":
            return bool(self.option_on(arg)) if self.option_on else False
        if op == "-R":
            return bool(self.is_nameref(arg)) if self.is_nameref else False
        if op in ("-L", "-h"):
            st = self._stat(arg, follow=False)
            return st is not None and _stat.S_ISLNK(st.st_mode)
        st = self._stat(arg)
        if st is None:
            return False
        mode = st.st_mode
        if op in ("-e", "-a"):
            return True
        if op == "-f":
            return _stat.S_ISREG(mode)
        if op == "-d":
            return _stat.S_ISDIR(mode)
        if op == "-s":
            return st.st_size > 0
        if op == "-b":
            return _stat.S_ISBLK(mode)
        if op == "-c":
            return _stat.S_ISCHR(mode)
        if op == "-p":
            return _stat.S_ISFIFO(mode)
        if op == "-S":
            return _stat.S_ISSOCK(mode)
        if op == "-g":
            return bool(mode & _stat.S_ISGID)
        if op == "-u":
            return bool(mode & _stat.S_ISUID)
        if op == "-k":
            return bool(mode & _stat.S_ISVTX)
        if op == "-O":
            return self.uid is None or st.st_uid == self.uid
        if op == "-G":
            return self.gid is None or st.st_gid == self.gid
        if op == "-N":
            return st.st_mtime_ns > st.st_atime_ns
        if op in ("-r", "-w", "-x"):
            return self._access(arg, st, op[1])
        return False  # pragma: no cover - every operator is handled above

    def _access(self, path: str, st: StatResult, what: str) -> bool:
        if what == "w" and self._read_only(path):
            return False
        mode = st.st_mode
        if self.uid == 0:
            if what == "x":
                return _stat.S_ISDIR(mode) or bool(mode & 0o111)
            return True
        bit = {"r": 4, "w": 2, "x": 1}[what]
        if self.uid is None or st.st_uid == self.uid:
            return bool(mode >> 6 & bit)
        if self.gid is not None and st.st_gid == self.gid:
            return bool(mode >> 3 & bit)
        return bool(mode & bit)

    def _read_only(self, path: str) -> bool:
        try:
            return bool(self.fs.mount_of(self.fs.realpath(path))[2])
        except (OSError, AttributeError, ValueError):
            return False

    def _stat(self, path: str, follow: bool = True) -> StatResult | None:
        if path == "" or "\x00" in path:
            return None
        slash = path.endswith("/")
        try:
            st = self.fs.stat(path, follow_symlinks=follow or slash)
        except (OSError, ValueError):
            return None
        if slash and not _stat.S_ISDIR(st.st_mode):
            return None  # ENOTDIR
        return st


def _key(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def evaluate_test(
    args: list[str],
    fs: FsView,
    *,
    name: str = "test",
    uid: int | None = None,
    gid: int | None = None,
    is_set: Callable[[str], bool] | None = None,
    option_on: Callable[[str], bool] | None = None,
    is_nameref: Callable[[str], bool] | None = None,
    isatty: Callable[[int], bool] | None = None,
) -> tuple[int, str | None]:
    """Evaluate ``test ARGS`` (or ``[ ARGS ]`` when ``name == "["``; ``args`` then ends with
    ``]``, which is checked and removed here).

    ``uid``/``gid``: the caller's ids for ``-r -w -x -O -G`` (``None``: the owner of every
    file, so the owner bits decide; ``uid=0``: root rules). ``is_set`` answers ``-v NAME``,
    ``option_on`` ``-o OPTION``, ``is_nameref`` ``-R NAME`` and ``isatty`` ``-t FD``; without
    them those tests are false.
    Returns (0 true / 1 false / 2 error, message or None).
    """
    if name == "[":
        if not args or args[-1] != "]":
            return 2, "[: missing `]'"
        args = args[:-1]
    ev = _Evaluator(
        list(args),
        fs,
        uid=uid,
        gid=gid,
        is_set=is_set,
        option_on=option_on,
        is_nameref=is_nameref,
        isatty=isatty,
    )
    ev.bracket = name == "["
    try:
        value = ev.run()
        if ev.pos < ev.argc:
            raise TestSyntaxError("too many arguments")
    except TestSyntaxError as exc:
        return 2, f"{name}: {exc}"
    except RecursionError:
        return 2, f"{name}: expression too complex"
    return (0 if value else 1), None
