"""``find`` (GNU findutils behaviour).

Directories are walked in sorted (C locale) order, which is the VM's directory order.
Commands started by ``-exec``/``-execdir`` run through ``ctx.run``.
"""

from __future__ import annotations

import asyncio
import errno
import math
import re
import stat as S
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pocketos.commands import command
from pocketos.commands._fs import (
    C_key,
    apply_mode,
    mode_string,
    q,
    strerror,
    tz_from_env,
    user_maps,
)
from pocketos.commands._posixpat import bre_to_regex, glob_to_regex
from pocketos.commands.stat_cmd import backslash_escapes
from pocketos.kernel.budget import check_time
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context
from pocketos.kernel.streams import NullInput
from pocketos.lib import safe_regex

FIND_HELP = """Usage: find [-H] [-L] [-P] [path...] [expression]

Walks each path (default .) in sorted order and evaluates the expression for every file.
Operators: ( EXPR )  ! EXPR  -not EXPR  EXPR -a EXPR  EXPR -and EXPR  EXPR -o EXPR  EXPR -or EXPR
           EXPR , EXPR
Options:   -maxdepth N -mindepth N -depth -xdev -mount -daystart -regextype TYPE -follow -noleaf
Tests:     -name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname
           -type [fdlpscb] -xtype -size [+-]N[cwbkMG] -empty -newer FILE -anewer -cnewer
           -mtime -atime -ctime -mmin -amin -cmin [+-]N -perm [-/]MODE -user -group -uid -gid
           -nouser -nogroup -links -inum -samefile -readable -writable -executable
           -true -false
Actions:   -print -print0 -printf FORMAT -ls -fprint -delete -prune -quit
           -exec CMD {} ; -exec CMD {} + -execdir CMD {} ; -execdir CMD {} + -ok CMD ;
"""


class FindError(Exception):
    pass


@dataclass
class _Ent:
    path: str
    name: str
    depth: int
    start: str
    follow: bool
    fs_view: object
    _st: StatResult | None = None
    _lst: StatResult | None = None
    err: OSError | None = None

    def lstat(self) -> StatResult | None:
        if self._lst is None:
            try:
                self._lst = self.fs_view.lstat(self.path)  # type: ignore[attr-defined]
            except OSError:
                return None
        return self._lst

    def stat(self) -> StatResult | None:
        """The stat the tests use (follows links with -L; a broken link stays a link)."""
        if self._st is None:
            if self.follow:
                try:
                    self._st = self.fs_view.stat(self.path)  # type: ignore[attr-defined]
                except OSError:
                    self._st = self.lstat()
            else:
                self._st = self.lstat()
        return self._st


Pred = Callable[["_Ent"], "asyncio.Future[bool] | bool"]


def _glob_test(pat: str, icase: bool) -> Callable[[str], bool]:
    """fnmatch(3) of a whole name or path. Two or more stars would make the ``re``
    translation backtrack (polynomially in the length, per star), so those patterns run on
    the shell's linear matcher, which checks the deadline as it goes."""
    if pat.count("*") > 1:
        from pocketos.shell.globmatch import Matcher, nodes_for

        nodes = nodes_for(pat, extglob=False)
        return lambda s: Matcher(nodes, s, nocase=icase, tick=check_time).fullmatch()
    rx = glob_to_regex(pat, icase=icase)
    return lambda s: rx.match(s) is not None


def _stat_compare(attr: str, sign: str, num: float) -> Callable[[_Ent], bool]:
    """A test of the stat field ``attr`` against ``num``: more than (sign ``+``), less
    than (``-``) or equal; false when the entry cannot be stat'ed."""

    def test(e: _Ent) -> bool:
        st = e.stat()
        if st is None:
            return False
        x = getattr(st, attr)
        return bool(x > num if sign == "+" else x < num if sign == "-" else x == num)

    return test


@dataclass
class _Node:
    kind: str  # "and" | "or" | "not" | "comma" | "leaf"
    children: list[_Node] = field(default_factory=list)
    fn: Callable[[_Ent], object] | None = None
    is_async: bool = False
    name: str = ""


class _Find:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.maxdepth: int | None = None
        self.mindepth = 0
        self.depth_first = False
        self.follow = "P"
        self.status = 0
        self.quit = False
        self.has_action = False
        self.regextype = "emacs"
        self.now = time.time()
        self.daystart = False
        self.batches: list[_Batch] = []
        self.tz = tz_from_env(ctx.env)
        self._maps: tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]] | None = (
            None
        )
        self.out_buf: list[bytes] = []
        self.seen_non_option = ""
        self.warnings: list[str] = []

    @property
    def maps(self) -> tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]]:
        if self._maps is None:
            self._maps = user_maps(self.fs)
        return self._maps

    async def write(self, data: str | bytes) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        await self.ctx.stdout.write(data)

    # --- parsing ---------------------------------------------------------------------------
    def parse(self, args: list[str]) -> _Node | None:
        self.args = args
        self.pos = 0
        if not args:
            return None
        node = self.p_comma()
        if self.pos < len(args):
            tok = args[self.pos]
            if tok == ")":
                raise FindError("invalid expression; you have too many ')'")
            raise FindError(f"paths must precede expression: `{tok}'")
        return node

    def peek(self) -> str | None:
        return self.args[self.pos] if self.pos < len(self.args) else None

    def take(self) -> str:
        tok = self.args[self.pos]
        self.pos += 1
        return tok

    def arg(self, pred: str) -> str:
        if self.pos >= len(self.args):
            raise FindError(f"missing argument to `{pred}'")
        return self.take()

    def p_comma(self) -> _Node:
        left = self.p_or()
        while self.peek() == ",":
            self.take()
            right = self.p_or()
            left = _Node("comma", [left, right])
        return left

    def p_or(self) -> _Node:
        left = self.p_and()
        while self.peek() in ("-o", "-or"):
            tok = self.take()
            if self.peek() is None or self.peek() in (")", "-o", "-or", "-a", "-and", ","):
                raise FindError(f"expected an expression after '{tok}'")
            right = self.p_and()
            left = _Node("or", [left, right])
        return left

    def p_and(self) -> _Node:
        left = self.p_unary()
        while True:
            tok = self.peek()
            if tok is None or tok in (")", "-o", "-or", ","):
                return left
            if tok in ("-a", "-and"):
                self.take()
                if self.peek() is None or self.peek() in (")", "-o", "-or", "-a", "-and", ","):
                    raise FindError(f"expected an expression after '{tok}'")
            right = self.p_unary()
            left = _Node("and", [left, right])

    def p_unary(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise FindError("expected an expression")
        if tok in ("!", "-not"):
            self.take()
            if self.peek() is None:
                raise FindError(f"expected an expression after '{tok}'")
            return _Node("not", [self.p_unary()])
        if tok == "(":
            self.take()
            if self.peek() == ")":
                raise FindError("invalid expression; empty parentheses are not allowed.")
            inner = self.p_comma()
            if self.peek() != ")":
                raise FindError(
                    "invalid expression; I was expecting to find a ')' somewhere "
                    "but did not see one."
                )
            self.take()
            return inner
        if tok == ")":
            raise FindError("invalid expression; you have too many ')'")
        return self.primary()

    def _numarg(self, pred: str, text: str) -> tuple[str, float]:
        m = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)", text)
        if not m:
            raise FindError(f"invalid argument `{text}' to `{pred}'")
        return m.group(1), float(m.group(2))

    def primary(self) -> _Node:
        tok = self.take()
        leaf = _Node("leaf", name=tok)
        fs = self.fs
        global_opts = {
            "-maxdepth",
            "-mindepth",
            "-depth",
            "-d",
            "-xdev",
            "-mount",
            "-noleaf",
            "-follow",
            "-regextype",
            "-daystart",
            "-ignore_readdir_race",
            "-noignore_readdir_race",
            "-warn",
            "-nowarn",
        }
        if tok in global_opts:
            if self.seen_non_option and tok not in (
                "-daystart",
                "-follow",
                "-regextype",
                "-warn",
                "-nowarn",
            ):
                self.warnings.append(
                    f"find: warning: you have specified the global option {tok} after the "
                    f"argument {self.seen_non_option}, but global options are not positional, "
                    f"i.e., {tok} affects tests specified before it as well as those specified "
                    "after it.  Please specify global options before other arguments."
                )
            if tok in ("-maxdepth", "-mindepth"):
                v = self.arg(tok)
                if not re.fullmatch(r"\+?\d+", v):
                    raise FindError(
                        f"Expected a positive decimal integer argument to {tok}, but got `{v}'"
                    )
                if tok == "-maxdepth":
                    self.maxdepth = int(v)
                else:
                    self.mindepth = int(v)
            elif tok in ("-depth", "-d"):
                self.depth_first = True
            elif tok == "-follow":
                self.follow = "L"
            elif tok == "-regextype":
                v = self.arg(tok)
                if v not in (
                    "emacs",
                    "posix-basic",
                    "posix-extended",
                    "posix-egrep",
                    "egrep",
                    "findutils-default",
                    "grep",
                    "posix-awk",
                    "awk",
                    "gnu-awk",
                    "sed",
                    "ed",
                ):
                    raise FindError(
                        f"Unknown regular expression type `{v}'; valid types are "
                        "`findutils-default', `ed', `emacs', `gnu-awk', `grep', "
                        "`posix-awk', `awk', `posix-basic', `posix-egrep', "
                        "`egrep', `posix-extended', `sed'."
                    )
                self.regextype = v
            elif tok == "-daystart":
                self.daystart = True
            leaf.fn = lambda e: True
            return leaf
        if not self.seen_non_option:
            self.seen_non_option = tok
        if tok in ("-name", "-iname"):
            pat = self.arg(tok)
            name_ok = _glob_test(pat, icase=tok == "-iname")
            leaf.fn = lambda e: name_ok(e.name)
        elif tok in ("-path", "-ipath", "-wholename", "-iwholename"):
            pat = self.arg(tok)
            path_ok = _glob_test(pat, icase=tok.startswith("-i"))
            leaf.fn = lambda e: path_ok(e.path)
        elif tok in ("-lname", "-ilname"):
            pat = self.arg(tok)
            link_ok = _glob_test(pat, icase=tok == "-ilname")

            def lname(e: _Ent) -> bool:
                st = e.lstat()
                if st is None or not st.is_symlink():
                    return False
                try:
                    return link_ok(fs.readlink(e.path))
                except OSError:
                    return False

            leaf.fn = lname
        elif tok in ("-regex", "-iregex"):
            pat = self.arg(tok)
            flavor = {
                "emacs": "emacs",
                "findutils-default": "emacs",
                "posix-basic": "basic",
                "grep": "basic",
                "sed": "basic",
                "ed": "basic",
            }.get(self.regextype, "extended")
            try:
                rx2 = safe_regex.compile(
                    bre_to_regex(pat, flavor),
                    re.DOTALL | (re.IGNORECASE if tok == "-iregex" else 0),
                )
            except re.error as exc:
                raise FindError(f"invalid regular expression {q(pat)}: {exc}") from None
            leaf.fn = lambda e: bool(rx2.fullmatch(e.path))
        elif tok in ("-type", "-xtype"):
            v = self.arg(tok)
            kinds = v.split(",")
            for k in kinds:
                if len(k) != 1 or k not in "fdlpscbD":
                    if not k:
                        raise FindError(f"Arguments to {tok} should contain at least one letter")
                    raise FindError(f"Unknown argument to {tok}: {k}")
            checks = {
                "f": S.S_ISREG,
                "d": S.S_ISDIR,
                "l": S.S_ISLNK,
                "p": S.S_ISFIFO,
                "s": S.S_ISSOCK,
                "c": S.S_ISCHR,
                "b": S.S_ISBLK,
                "D": lambda m: False,
            }
            xt = tok == "-xtype"

            def type_test(e: _Ent) -> bool:
                if xt:
                    if self.follow == "L":
                        st = e.lstat()
                    else:
                        try:
                            st = fs.stat(e.path)
                        except OSError:
                            st = e.lstat()
                else:
                    st = e.stat()
                if st is None:
                    return False
                return any(checks[k](st.st_mode) for k in kinds)

            leaf.fn = type_test
        elif tok == "-size":
            v = self.arg(tok)
            m = re.fullmatch(r"([+-]?)(\d+)([bcwkMG]?)", v)
            if not m:
                raise FindError(
                    f"invalid -size type `{v[-1:]}'"
                    if v and not v[-1].isdigit()
                    else f"invalid argument `{v}' to `-size'"
                )
            sign, count, unit = m.group(1), int(m.group(2)), m.group(3) or "b"
            mult = {"b": 512, "c": 1, "w": 2, "k": 1024, "M": 1024**2, "G": 1024**3}[unit]

            def size_test(e: _Ent) -> bool:
                st = e.stat()
                if st is None:
                    return False
                units = -(-st.st_size // mult)
                if sign == "+":
                    return units > count
                if sign == "-":
                    return units < count
                return units == count

            leaf.fn = size_test
        elif tok == "-empty":

            def empty(e: _Ent) -> bool:
                st = e.stat()
                if st is None:
                    return False
                if st.is_dir():
                    try:
                        return not fs.listdir(e.path)
                    except OSError:
                        return False
                return st.is_file() and st.st_size == 0

            leaf.fn = empty
        elif tok in ("-mtime", "-atime", "-ctime", "-mmin", "-amin", "-cmin"):
            v = self.arg(tok)
            sign, num = self._numarg(tok, v)
            attr = {"m": "st_mtime_ns", "a": "st_atime_ns", "c": "st_ctime_ns"}[tok[1]]
            unit = 86400.0 if tok.endswith("time") else 60.0

            def time_test(e: _Ent) -> bool:
                st = e.stat()
                if st is None:
                    return False
                ref = self.now
                if self.daystart and unit == 86400.0:
                    dt = datetime.fromtimestamp(self.now, self.tz)
                    ref = dt.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + 86400
                delta = math.floor((ref - getattr(st, attr) / 1e9) / unit)
                if sign == "+":
                    return delta > num
                if sign == "-":
                    return delta < num
                return delta == num

            leaf.fn = time_test
        elif tok in ("-newer", "-anewer", "-cnewer") or re.fullmatch(r"-newer[amcB][amcBt]", tok):
            v = self.arg(tok)
            mine = {"-newer": "m", "-anewer": "a", "-cnewer": "c"}.get(tok, tok[6:7])
            theirs = "m" if len(tok) != 8 else tok[7]
            attrs = {
                "m": "st_mtime_ns",
                "a": "st_atime_ns",
                "c": "st_ctime_ns",
                "B": "st_birthtime_ns",
            }
            if theirs == "t":
                from pocketos.commands.date import parse_date

                try:
                    ref_ns = int(parse_date(v, self.tz) * 1e9)
                except ValueError:
                    raise FindError(
                        f"I cannot figure out how to interpret `{v}' as a date or time"
                    ) from None
            else:
                try:
                    rst = fs.stat(v) if self.follow != "P" else fs.lstat(v)
                except OSError as exc:
                    raise FindError(f"{q(v)}: {strerror(exc)}") from None
                ref_ns = getattr(rst, attrs[theirs])
            a = attrs[mine]

            def newer(e: _Ent) -> bool:
                st = e.stat()
                return st is not None and getattr(st, a) > ref_ns

            leaf.fn = newer
        elif tok == "-perm":
            v = self.arg(tok)
            mode_txt = v
            kind = ""
            if v[:1] in "-/+":
                kind, mode_txt = v[0], v[1:]
            try:
                want = apply_mode(mode_txt, 0, False, base_umask=False)
            except ValueError:
                raise FindError(f"invalid mode `{v}'") from None

            def perm(e: _Ent) -> bool:
                st = e.stat()
                if st is None:
                    return False
                have = st.st_mode & 0o7777
                if kind == "-":
                    return have & want == want
                if kind in "/+" and kind:
                    return want == 0 or bool(have & want)
                return have == want

            leaf.fn = perm
        elif tok in ("-user", "-group", "-uid", "-gid"):
            v = self.arg(tok)
            _, unames, _, gnames = self.maps
            if tok in ("-uid", "-gid"):
                sign, num = self._numarg(tok, v)
                leaf.fn = _stat_compare("st_uid" if tok == "-uid" else "st_gid", sign, num)
            else:
                names = unames if tok == "-user" else gnames
                if v in names:
                    ident = names[v]
                elif v.isdigit():
                    ident = int(v)
                else:
                    what = "user" if tok == "-user" else "group"
                    raise FindError(f"{q(v)} is not the name of a known {what}")
                attr = "st_uid" if tok == "-user" else "st_gid"

                def idtest(e: _Ent) -> bool:
                    st = e.stat()
                    return st is not None and getattr(st, attr) == ident

                leaf.fn = idtest
        elif tok in ("-nouser", "-nogroup"):
            uids, _, gids, _ = self.maps
            table = uids if tok == "-nouser" else gids
            attr = "st_uid" if tok == "-nouser" else "st_gid"

            def noid(e: _Ent) -> bool:
                st = e.stat()
                return st is not None and getattr(st, attr) not in table

            leaf.fn = noid
        elif tok in ("-links", "-inum"):
            v = self.arg(tok)
            sign, num = self._numarg(tok, v)
            leaf.fn = _stat_compare("st_nlink" if tok == "-links" else "st_ino", sign, num)
        elif tok == "-samefile":
            v = self.arg(tok)
            try:
                ref = fs.stat(v) if self.follow == "L" else fs.lstat(v)
            except OSError as exc:
                raise FindError(f"{q(v)}: {strerror(exc)}") from None

            def same(e: _Ent) -> bool:
                st = e.stat()
                return st is not None and (st.st_ino, st.st_dev) == (ref.st_ino, ref.st_dev)

            leaf.fn = same
        elif tok in ("-readable", "-writable", "-executable"):
            bit = {"-readable": 0o444, "-writable": 0o222, "-executable": 0o111}[tok]

            def access(e: _Ent) -> bool:
                st = e.stat()
                return st is not None and bool(st.st_mode & bit & 0o700)

            leaf.fn = access
        elif tok == "-true":
            leaf.fn = lambda e: True
        elif tok == "-false":
            leaf.fn = lambda e: False
        elif tok in ("-print", "-print0", "-fprint", "-fprint0"):
            self.has_action = True
            if tok.startswith("-fprint"):
                target = self.arg(tok)
                sep = "\0" if tok.endswith("0") else "\n"
                try:
                    fs.write_bytes(target, b"")
                except OSError as exc:
                    raise FindError(f"{target}: {strerror(exc)}") from None

                def fprint(e: _Ent) -> bool:
                    fs.write_bytes(
                        target, (e.path + sep).encode("utf-8", "surrogateescape"), append=True
                    )
                    return True

                leaf.fn = fprint
            else:
                sep = "\0" if tok == "-print0" else "\n"

                async def do_print(e: _Ent) -> bool:
                    await self.write(e.path + sep)
                    return True

                leaf.fn = do_print
                leaf.is_async = True
        elif tok in ("-printf", "-fprintf"):
            self.has_action = True
            target2 = self.arg(tok) if tok == "-fprintf" else None
            fmt = self.arg(tok)
            self.check_format(fmt)

            async def do_printf(e: _Ent) -> bool:
                text = self.printf(fmt, e)
                if target2 is not None:
                    fs.write_bytes(target2, text.encode("utf-8", "surrogateescape"), append=True)
                else:
                    await self.write(text)
                return True

            leaf.fn = do_printf
            leaf.is_async = True
        elif tok == "-ls":
            self.has_action = True

            async def do_ls(e: _Ent) -> bool:
                await self.write(self.ls_line(e))
                return True

            leaf.fn = do_ls
            leaf.is_async = True
        elif tok == "-delete":
            self.has_action = True
            self.depth_first = True

            async def do_delete(e: _Ent) -> bool:
                if e.path in (".",):
                    return True
                st = e.lstat()
                try:
                    if st is not None and st.is_dir():
                        fs.rmdir(e.path)
                    else:
                        fs.unlink(e.path)
                except OSError as exc:
                    await self.ctx.err(f"cannot delete {q(e.path)}: {strerror(exc)}")
                    self.status = 1
                    return False
                return True

            leaf.fn = do_delete
            leaf.is_async = True
        elif tok == "-prune":

            def prune(e: _Ent) -> bool:
                if not self.depth_first:
                    e.err = _PRUNE
                return True

            leaf.fn = prune
        elif tok == "-quit":

            def do_quit(e: _Ent) -> bool:
                self.quit = True
                return True

            leaf.fn = do_quit
        elif tok in ("-exec", "-execdir", "-ok", "-okdir"):
            self.has_action = True
            cmd: list[str] = []
            plus = False
            while True:
                if self.pos >= len(self.args):
                    raise FindError(f"missing argument to `{tok}'")
                a = self.take()
                if a == ";":
                    break
                if a == "+" and cmd and cmd[-1] == "{}" and tok in ("-exec", "-execdir"):
                    plus = True
                    break
                cmd.append(a)
            if not cmd:
                raise FindError(f"missing argument to `{tok}'")
            in_dir = tok.endswith("dir")
            if plus:
                batch = _Batch(cmd[:-1], in_dir)
                self.batches.append(batch)

                async def do_batch(e: _Ent) -> bool:
                    await self.add_to_batch(batch, e)
                    return True

                leaf.fn = do_batch
            else:
                ask = tok.startswith("-ok")

                async def do_exec(e: _Ent) -> bool:
                    return await self.exec_one(cmd, e, in_dir, ask)

                leaf.fn = do_exec
            leaf.is_async = True
        else:
            if tok.startswith("-"):
                raise FindError(f"unknown predicate `{tok}'")
            raise FindError(f"paths must precede expression: `{tok}'")
        return leaf

    def check_format(self, fmt: str) -> None:
        """Reject a -printf format GNU rejects; collect warnings for unknown sequences."""
        i = 0
        while i < len(fmt):
            c = fmt[i]
            if c == "\\" and i + 1 < len(fmt):
                if fmt[i + 1] not in "abfnrtv\\c01234567":
                    self.warnings.append(f"find: warning: unrecognized escape `\\{fmt[i + 1]}'")
                i += 2
                continue
            if c == "%":
                m = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([ACT].|[a-zA-Z%{}]|)").match(fmt, i)
                assert m
                d = m.group(4)
                if not d:
                    raise FindError("error: % at end of format string")
                if d[0] not in "ACT" and d not in "%pfhPHdyYlsmMinkbugUGact":
                    self.warnings.append(f"find: warning: unrecognized format directive `%{d}'")
                i = m.end()
                continue
            i += 1

    # --- actions ---------------------------------------------------------------------------
    def _exec_path(self, e: _Ent, in_dir: bool) -> tuple[str, str]:
        """(argument for {}, cwd) for -exec/-execdir."""
        if not in_dir:
            return e.path, self.ctx.cwd
        absp = self.fs.abspath(e.path)
        parent = absp.rsplit("/", 1)[0] or "/"
        base = absp.rsplit("/", 1)[1] if absp != "/" else "/"
        return ("./" + base) if base != "/" else "/", parent

    async def exec_one(self, cmd: list[str], e: _Ent, in_dir: bool, ask: bool) -> bool:
        arg, cwd = self._exec_path(e, in_dir)
        argv = [c.replace("{}", arg) for c in cmd]
        if ask:
            await self.ctx.stderr.write(
                ("< " + " ".join(argv) + " ... " + arg + " > ? ").encode("utf-8", "surrogateescape")
            )
            line = await self.ctx.stdin.readline()
            if line[:1] not in (b"y", b"Y"):
                return False
        code = await self.ctx.run(argv, cwd=cwd, stdin=NullInput() if not ask else None)
        return code == 0

    async def add_to_batch(self, batch: _Batch, e: _Ent) -> None:
        arg, cwd = self._exec_path(e, batch.in_dir)
        if batch.in_dir and batch.cwd is not None and batch.cwd != cwd:
            await self.flush_batch(batch)
        batch.cwd = cwd
        batch.items.append(arg)
        batch.size += len(arg) + 1
        if batch.size > 128 * 1024 or len(batch.items) >= 5000:
            await self.flush_batch(batch)

    async def flush_batch(self, batch: _Batch) -> None:
        if not batch.items:
            return
        argv = [*batch.cmd, *batch.items]
        cwd = batch.cwd or self.ctx.cwd
        batch.items = []
        batch.size = 0
        code = await self.ctx.run(argv, cwd=cwd, stdin=NullInput())
        if code != 0:
            self.status = 1

    def ls_line(self, e: _Ent) -> str:
        st = e.stat()
        if st is None:
            return ""
        uids, _, gids, _ = self.maps
        dt = datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000, self.tz)
        recent = self.now - 15778476 < st.st_mtime <= self.now + 1
        when = (
            dt.strftime("%b ")
            + f"{dt.day:>2} "
            + (dt.strftime("%H:%M") if recent else f" {dt.year}")
        )
        name = e.path
        if st.is_symlink():
            try:
                name += " -> " + self.fs.readlink(e.path)
            except OSError:
                pass
        kb = -(-st.st_blocks * 512 // 1024)
        return (
            f"{st.st_ino:>9} {kb:>6} {mode_string(st.st_mode)} {st.st_nlink:>3} "
            f"{uids.get(st.st_uid, str(st.st_uid)):<8} {gids.get(st.st_gid, str(st.st_gid)):<8} "
            f"{st.st_size:>8} {when} {name}\n"
        )

    def printf(self, fmt: str, e: _Ent) -> str:
        out: list[str] = []
        i = 0
        n = len(fmt)
        while i < n:
            c = fmt[i]
            if c == "\\":
                if i + 1 < n and fmt[i + 1] == "c":
                    self._printf_stop = True
                    break
                m = re.match(r"\\([0-7]{1,3}|.)", fmt[i:], re.DOTALL)
                if m is None:
                    out.append(c)
                    i += 1
                    continue
                tok = m.group(0)
                out.append(backslash_escapes(tok) if tok[1] in "abfnrtv\\01234567" else tok)
                i += len(tok)
                continue
            if c != "%":
                out.append(c)
                i += 1
                continue
            m = re.match(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([ACT].|[a-zA-Z%{}]|)", fmt[i:])
            assert m
            flags, width, prec, d = m.groups()
            i += len(m.group(0))
            if not d:
                out.append("%")
                continue
            val = self._directive(d, e)
            if val is None:
                out.append(m.group(0))
                continue
            if prec and d[0] not in "ACT" and not isinstance(val, int):
                val = val[: int(prec)]
            s = str(val)
            if width:
                w = int(width)
                s = (
                    s.ljust(w)
                    if "-" in flags
                    else (s.rjust(w, "0") if "0" in flags and isinstance(val, int) else s.rjust(w))
                )
            out.append(s)
        return "".join(out)

    def _directive(self, d: str, e: _Ent) -> str | int | None:
        st = e.stat()
        path = e.path
        if d == "%":
            return "%"
        if d == "p":
            return path
        if d == "f":
            if path.rstrip("/") == "":
                return "/"
            if e.depth:
                return path.rstrip("/").rsplit("/", 1)[-1]
            stripped = path.rstrip("/")
            return path[len(stripped.rsplit("/", 1)[0]) + 1 :] if "/" in stripped else path
        if d == "h":
            if "/" not in path.rstrip("/"):
                return "."
            head = path.rstrip("/").rsplit("/", 1)[0]
            return head or "/"
        if d == "P":
            start = e.start
            if path == start:
                return ""
            rest = path[len(start) :]
            return rest.lstrip("/") if not start.endswith("/") else rest
        if d == "H":
            return e.start
        if d == "d":
            return e.depth
        if d == "y":
            lst = e.lstat() if self.follow == "P" else st
            return _type_letter(lst)
        if d == "Y":
            try:
                tst = self.fs.stat(path)
                return _type_letter(tst)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return "L"
                return "N"
        if d == "l":
            lst = e.lstat()
            if lst is not None and lst.is_symlink():
                try:
                    return self.fs.readlink(path)
                except OSError:
                    return ""
            return ""
        if st is None:
            return ""
        if d == "s":
            return st.st_size
        if d == "m":
            return format(st.st_mode & 0o7777, "o")
        if d == "M":
            return mode_string(st.st_mode)
        if d == "i":
            return st.st_ino
        if d == "n":
            return st.st_nlink
        if d == "k":
            return -(-st.st_blocks * 512 // 1024)
        if d == "b":
            return st.st_blocks
        if d in ("u", "g"):
            uids, _, gids, _ = self.maps
            return (
                uids.get(st.st_uid, str(st.st_uid))
                if d == "u"
                else gids.get(st.st_gid, str(st.st_gid))
            )
        if d in ("U", "G"):
            return st.st_uid if d == "U" else st.st_gid
        if d in ("a", "c", "t"):
            ns = {"a": st.st_atime_ns, "c": st.st_ctime_ns, "t": st.st_mtime_ns}[d]
            dt = datetime.fromtimestamp(ns // 1_000_000_000, self.tz)
            return (
                dt.strftime("%a %b ")
                + f"{dt.day:>2}"
                + dt.strftime(" %H:%M:%S")
                + f".{ns % 1_000_000_000:09d}0"
                + dt.strftime(" %Y")
            )
        if d[0] in "ACT" and len(d) == 2:
            ns = {"A": st.st_atime_ns, "C": st.st_ctime_ns, "T": st.st_mtime_ns}[d[0]]
            k = d[1]
            dt = datetime.fromtimestamp(ns // 1_000_000_000, self.tz)
            frac = f"{ns % 1_000_000_000:09d}0"
            if k == "@":
                return f"{ns // 1_000_000_000}.{frac}"
            if k == "+":
                return dt.strftime("%Y-%m-%d+%H:%M:%S") + "." + frac
            if k == "S":
                return dt.strftime("%S") + "." + frac
            if k == "T":
                return dt.strftime("%H:%M:%S") + "." + frac
            from pocketos.commands.date import strftime_gnu

            return strftime_gnu("%" + k, dt, ns % 1_000_000_000)
        return None

    # --- evaluation ------------------------------------------------------------------------
    async def evaluate(self, node: _Node, e: _Ent) -> bool:
        if node.kind == "leaf":
            assert node.fn is not None
            r = node.fn(e)
            if node.is_async:
                r = await r  # type: ignore[misc]
            return bool(r)
        if node.kind == "and":
            return await self.evaluate(node.children[0], e) and await self.evaluate(
                node.children[1], e
            )
        if node.kind == "or":
            return await self.evaluate(node.children[0], e) or await self.evaluate(
                node.children[1], e
            )
        if node.kind == "not":
            return not await self.evaluate(node.children[0], e)
        await self.evaluate(node.children[0], e)
        return await self.evaluate(node.children[1], e)

    async def visit(
        self, node: _Node, path: str, name: str, depth: int, start: str, follow: bool
    ) -> None:
        if self.quit:
            return
        self.ctx.check_killed()
        e = _Ent(path, name, depth, start, follow, self.fs)
        lst = e.lstat()
        if lst is None:
            try:
                self.fs.lstat(path)
            except OSError as exc:
                await self.ctx.err(f"{q(path)}: {strerror(exc)}")
                self.status = 1
                return
        st = e.stat()
        is_dir = st is not None and st.is_dir()
        if is_dir and follow and lst is not None and lst.is_symlink():
            # loop detection for -L: compare with ancestors
            key = (st.st_dev, st.st_ino) if st else None
            if key in self._ancestors:
                await self.ctx.err(
                    f"File system loop detected; {q(path)} is part of the same "
                    "file system loop as "
                    f"{q(self._ancestors[key])}."
                )
                self.status = 1
                return
        in_range = depth >= self.mindepth
        if in_range and not self.depth_first:
            await self.evaluate(node, e)
            if self.quit:
                return
        pruned = e.err is _PRUNE
        if is_dir and not pruned and (self.maxdepth is None or depth < self.maxdepth):
            try:
                names = sorted(self.fs.listdir(path), key=C_key)
            except OSError as exc:
                await self.ctx.err(f"{q(path)}: {strerror(exc)}")
                self.status = 1
                names = []
            key2 = (st.st_dev, st.st_ino) if st else (0, 0)
            self._ancestors[key2] = path
            for n in names:
                child = path + n if path.endswith("/") else path + "/" + n
                await self.visit(node, child, n, depth + 1, start, self.follow == "L")
                if self.quit:
                    break
            self._ancestors.pop(key2, None)
        if in_range and self.depth_first and not self.quit:
            await self.evaluate(node, e)

    _ancestors: dict[tuple[int, int], str]

    async def run(self, argv: list[str]) -> int:
        i = 0
        while i < len(argv) and argv[i] in ("-H", "-L", "-P", "-D", "-O3", "-O1", "-O2"):
            if argv[i] in ("-H", "-L", "-P"):
                self.follow = argv[i][1]
            elif argv[i] == "-D":
                i += 1
            i += 1
        paths: list[str] = []
        while (
            i < len(argv)
            and not (argv[i].startswith("-") and len(argv[i]) > 1)
            and argv[i] not in ("(", "!")
        ):
            paths.append(argv[i])
            i += 1
        expr = argv[i:]
        try:
            node = self.parse(expr)
        except FindError as exc:
            await self.ctx.err(str(exc))
            return 1
        for w in self.warnings:
            # GNU warns about misplaced global options only when stdin is a terminal (never
            # here) or with -warn
            if "global option" in w and "-warn" not in expr:
                continue
            await self.ctx.stderr.write((w + "\n").encode())
        if node is None:
            node = _Node("leaf", fn=lambda e: True, name="-true")
        if not self.has_action:
            printer = _Node("leaf", name="-print", is_async=True)

            async def do_print(e: _Ent) -> bool:
                await self.write(e.path + "\n")
                return True

            printer.fn = do_print
            node = _Node("and", [node, printer])
        for p in paths or ["."]:
            if self.quit:
                break
            if p == "":
                await self.ctx.err("'': No such file or directory")
                self.status = 1
                continue
            self._ancestors = {}
            follow_top = self.follow in ("L", "H")
            name = p.rstrip("/").rsplit("/", 1)[-1] or "/"
            await self.visit(node, p, name, 0, p, follow_top)
        for b in self.batches:
            await self.flush_batch(b)
        return self.status


_PRUNE = OSError("prune")


@dataclass
class _Batch:
    cmd: list[str]
    in_dir: bool
    items: list[str] = field(default_factory=list)
    size: int = 0
    cwd: str | None = None


def _type_letter(st: StatResult | None) -> str:
    if st is None:
        return "N"
    m = st.st_mode
    for test, letter in (
        (S.S_ISREG, "f"),
        (S.S_ISDIR, "d"),
        (S.S_ISLNK, "l"),
        (S.S_ISFIFO, "p"),
        (S.S_ISSOCK, "s"),
        (S.S_ISCHR, "c"),
        (S.S_ISBLK, "b"),
    ):
        if test(m):
            return letter
    return "U"


@command("find")
async def find(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"] or args[:1] == ["-help"]:
        await ctx.out(FIND_HELP)
        return 0
    if args[:1] == ["--version"]:
        await ctx.out("find (pocketos findutils) 4.9.0\n")
        return 0
    return await _Find(ctx).run(args)


__all__ = ["find"]
