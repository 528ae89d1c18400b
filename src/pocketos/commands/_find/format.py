"""find's ``-printf`` directives and ``-ls`` lines."""

from __future__ import annotations

import errno
import re
import stat as S
from datetime import datetime

from pocketos.commands._find.state import Entry, FindError, FindState
from pocketos.commands._fs import mode_string
from pocketos.commands.stat_cmd import backslash_escapes
from pocketos.kernel.fs.api import StatResult


class Formatter(FindState):
    """Output formats: ``-printf`` and ``-ls``."""

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

    def ls_line(self, e: Entry) -> str:
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

    def printf(self, fmt: str, e: Entry) -> str:
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

    def _directive(self, d: str, e: Entry) -> str | int | None:
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
