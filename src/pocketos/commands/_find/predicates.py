"""find's tests: the predicates that look at a file and change nothing."""

from __future__ import annotations

import math
import re
import stat as S
from collections.abc import Callable
from datetime import datetime

from pocketos.commands._find.state import Entry, FindError, FindState, Node
from pocketos.commands._fs import apply_mode, q, strerror
from pocketos.commands._posixpat import bre_to_regex, glob_to_regex
from pocketos.kernel.budget import check_time
from pocketos.lib import safe_regex


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


def _stat_compare(attr: str, sign: str, num: float) -> Callable[[Entry], bool]:
    """A test of the stat field ``attr`` against ``num``: more than (sign ``+``), less
    than (``-``) or equal; false when the entry cannot be stat'ed."""

    def test(e: Entry) -> bool:
        st = e.stat()
        if st is None:
            return False
        x = getattr(st, attr)
        return bool(x > num if sign == "+" else x < num if sign == "-" else x == num)

    return test


class Tests(FindState):
    """The tests (``-name``, ``-type``, ``-size``, ``-mtime``, ``-perm``, ...)."""

    def _numarg(self, pred: str, text: str) -> tuple[str, float]:
        m = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)", text)
        if not m:
            raise FindError(f"invalid argument `{text}' to `{pred}'")
        return m.group(1), float(m.group(2))

    def test(self, tok: str, leaf: Node) -> bool:
        """Make ``leaf`` the test ``tok``, reading its arguments; False when ``tok`` is not a
        test."""
        fs = self.fs
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

            def lname(e: Entry) -> bool:
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

            def type_test(e: Entry) -> bool:
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

            def size_test(e: Entry) -> bool:
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

            def empty(e: Entry) -> bool:
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

            def time_test(e: Entry) -> bool:
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

            def newer(e: Entry) -> bool:
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

            def perm(e: Entry) -> bool:
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

                def idtest(e: Entry) -> bool:
                    st = e.stat()
                    return st is not None and getattr(st, attr) == ident

                leaf.fn = idtest
        elif tok in ("-nouser", "-nogroup"):
            uids, _, gids, _ = self.maps
            table = uids if tok == "-nouser" else gids
            attr = "st_uid" if tok == "-nouser" else "st_gid"

            def noid(e: Entry) -> bool:
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

            def same(e: Entry) -> bool:
                st = e.stat()
                return st is not None and (st.st_ino, st.st_dev) == (ref.st_ino, ref.st_dev)

            leaf.fn = same
        elif tok in ("-readable", "-writable", "-executable"):
            bit = {"-readable": 0o444, "-writable": 0o222, "-executable": 0o111}[tok]

            def access(e: Entry) -> bool:
                st = e.stat()
                return st is not None and bool(st.st_mode & bit & 0o700)

            leaf.fn = access
        elif tok == "-true":
            leaf.fn = lambda e: True
        elif tok == "-false":
            leaf.fn = lambda e: False
        else:
            return False
        return True
