"""File commands with GNU coreutils behaviour: ls, cp, mv, rm, mkdir, rmdir, touch, ln, chmod,
chown, chgrp, stat, readlink, realpath, basename, dirname, du, df, tree, file, mktemp, truncate,
split, dd, install and sync.

Everything goes through ``ctx.fs``; nothing here touches the host.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import posixpath
import re
import secrets
import stat as S
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.process import Context

UMASK = 0o022

# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def q(s: str) -> str:
    """Quote a file name for a message the way coreutils does in the C locale."""
    if "'" in s:
        return '"' + s + '"'
    return "'" + s + "'"


def strerror(exc: OSError) -> str:
    if exc.errno is not None and (not exc.strerror or exc.strerror.startswith("[")):
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


def C_key(name: str) -> bytes:  # noqa: N802 - named after the locale
    return enc(name)


def child_path(parent: str, name: str) -> str:
    """``parent/name`` with a single slash (``/`` + ``a`` is ``/a``)."""
    return parent.rstrip("/") + "/" + name


async def read_dir_sorted(ctx: Context, path: str) -> list[str] | None:
    """The entries of directory ``path`` in C order, or None once the error is reported."""
    try:
        return sorted(ctx.fs.listdir(path), key=C_key)
    except OSError as exc:
        await ctx.err(f"cannot read directory {q(path)}: {strerror(exc)}")
        return None


async def visit_children(
    ctx: Context, path: str, visit: Callable[[str, bool], Awaitable[None]]
) -> bool:
    """``await visit(child, False)`` for each entry of directory ``path`` in C order;
    False when the directory cannot be read (reported)."""
    names = await read_dir_sorted(ctx, path)
    if names is None:
        return False
    for n in names:
        await visit(child_path(path, n), False)
    return True


async def show_help(ctx: Context, text: str) -> int:
    await ctx.out(text if text.endswith("\n") else text + "\n")
    return 0


HELP = Opt("", "help")


def short_keys(spec: list[Opt]) -> list[Opt]:
    """Options with a short letter are stored under that letter (``p.flag("a")``), long-only
    options under their long name."""
    return [
        Opt(o.short, o.long, o.arg, dest=o.dest or o.short or o.key(), multiple=o.multiple)
        for o in spec
    ]


def parse_opts(name: str, args: list[str], spec: list[Opt], **kw: object) -> Parsed:
    """:func:`parse` with :func:`short_keys` and ``--help`` added."""
    return parse(name, args, short_keys([*spec, HELP]), **kw)  # type: ignore[arg-type]


def _parse(ctx: Context, spec: list[Opt], **kw: object) -> Parsed:
    return parse_opts(ctx.name, ctx.argv[1:], spec, **kw)


async def _start(
    ctx: Context, spec: list[Opt], help_text: str, need_operand: bool = False, **kw: object
) -> Parsed | int:
    """Parse the options (:func:`_parse`); the exit status instead once a usage error, the
    help text or (with ``need_operand``) a missing operand has been printed."""
    try:
        p = _parse(ctx, spec, **kw)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, help_text)
    if need_operand and not p.operands:
        return await report(ctx, missing_operand(ctx))
    return p


def missing_operand(ctx: Context, after: str | None = None) -> UsageError:
    if after is not None:
        msg = f"{ctx.name}: missing destination file operand after {q(after)}"
    else:
        msg = f"{ctx.name}: missing operand"
    return UsageError(f"{msg}\nTry '{ctx.name} --help' for more information.")


async def prompt_yes(ctx: Context, question: str) -> bool:
    """Ask on stderr, read one line from stdin: y/Y means yes (like GNU without a tty)."""
    await ctx.stderr.write(enc(f"{ctx.name}: {question}"))
    line = await ctx.stdin.readline()
    return line[:1] in (b"y", b"Y")


def user_maps(fs: FsView) -> tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]]:
    """(uid->name, name->uid, gid->name, name->gid) read from /etc/passwd and /etc/group."""
    uids: dict[int, str] = {}
    unames: dict[str, int] = {}
    gids: dict[int, str] = {}
    gnames: dict[str, int] = {}
    for path, idmap, namemap in (("/etc/passwd", uids, unames), ("/etc/group", gids, gnames)):
        try:
            text = fs.read_text(path)
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                n = int(parts[2])
                idmap.setdefault(n, parts[0])
                namemap.setdefault(parts[0], n)
    return uids, unames, gids, gnames


def mode_string(mode: int) -> str:
    """``-rwxr-xr-x`` for a full st_mode."""
    if S.S_ISDIR(mode):
        t = "d"
    elif S.S_ISLNK(mode):
        t = "l"
    elif S.S_ISCHR(mode):
        t = "c"
    elif S.S_ISBLK(mode):
        t = "b"
    elif S.S_ISFIFO(mode):
        t = "p"
    elif S.S_ISSOCK(mode):
        t = "s"
    else:
        t = "-"
    chars = []
    for who, (r, w, x, special, sch) in enumerate(
        (
            (S.S_IRUSR, S.S_IWUSR, S.S_IXUSR, S.S_ISUID, "s"),
            (S.S_IRGRP, S.S_IWGRP, S.S_IXGRP, S.S_ISGID, "s"),
            (S.S_IROTH, S.S_IWOTH, S.S_IXOTH, S.S_ISVTX, "t"),
        )
    ):
        del who
        chars.append("r" if mode & r else "-")
        chars.append("w" if mode & w else "-")
        if mode & special:
            chars.append(sch if mode & x else sch.upper())
        else:
            chars.append("x" if mode & x else "-")
    return t + "".join(chars)


_GNU_TYPE_NAMES = {
    "directory": "directory",
    "symlink": "symbolic link",
    "chardev": "character special file",
    "fifo": "fifo",
}


def file_type_name(st: StatResult) -> str:
    """The file type as coreutils words it (``stat %F``, ``rm -i``)."""
    kind = st.type_name
    if kind == "file":
        return "regular empty file" if st.st_size == 0 else "regular file"
    if kind in _GNU_TYPE_NAMES:
        return _GNU_TYPE_NAMES[kind]
    if S.S_ISBLK(st.st_mode):
        return "block special file"
    if S.S_ISSOCK(st.st_mode):
        return "socket"
    return "weird file"


def human_size(n: int, si: bool = False) -> str:
    """GNU ``-h`` rendering: 1023, 1.0K, 9.9K, 10K, 1.5M (rounding up)."""
    base = 1000 if si else 1024
    if n < base:
        return str(n)
    units = "KMGTPEZY"
    for i, u in enumerate(units):
        div = base ** (i + 1)
        tenths = -(-n * 10 // div)
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10}{u}"
        whole = -(-n // div)
        if whole < base or i == len(units) - 1:
            return f"{whole}{u}"
    return str(n)  # pragma: no cover


# --- time zones (fixed offsets only: the VM never reads host zone files) ----------------------

_TZ_RE = re.compile(r"^:?(?:<([^>]*)>|([A-Za-z]{3,}))([+-]?\d{1,2}(?::\d{2}(?::\d{2})?)?)?")


def tz_from_env(env: dict[str, str]) -> tzinfo:
    """UTC unless ``TZ`` holds a POSIX fixed-offset zone such as ``EST5`` or ``<+03>-3``."""
    tz = env.get("TZ", "")
    m = _TZ_RE.match(tz) if tz else None
    if not m or not m.group(3):
        name = (m.group(1) or m.group(2)) if m else "UTC"
        if name and name.upper() not in ("UTC", "GMT", "UCT", "ZULU", "UNIVERSAL"):
            # unknown zone names behave like UTC with that abbreviation, as in glibc
            return timezone(timedelta(0), name)
        return UTC
    name = m.group(1) or m.group(2)
    off = m.group(3)
    sign = -1 if not off.startswith("-") else 1  # POSIX: EST5 means UTC-5
    parts = off.lstrip("+-").split(":")
    secs = (
        int(parts[0]) * 3600
        + (int(parts[1]) * 60 if len(parts) > 1 else 0)
        + (int(parts[2]) if len(parts) > 2 else 0)
    )
    return timezone(timedelta(seconds=sign * secs), name)


def fmt_ts(ns: int, tz: tzinfo, digits: int = 9) -> str:
    """``2024-01-02 03:04:05.123456789 +0000`` (stat's %x style)."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz)
    frac = f"{ns % 1_000_000_000:09d}"[:digits]
    base = dt.strftime("%Y-%m-%d %H:%M:%S")
    if digits:
        base += "." + frac
    return base + " " + dt.strftime("%z")


def split_major_minor(dev: int) -> tuple[int, int]:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF), (dev & 0xFF) | ((dev >> 12) & ~0xFF)


def parse_size(text: str, *, allow_b: bool = True) -> int:
    """``10``, ``1K``, ``2M``, ``3KB``, ``4KiB``, ``5b`` (512) -> bytes; ValueError otherwise."""
    m = re.fullmatch(r"(\d+)([a-zA-Z]*)", text)
    if not m:
        raise ValueError(text)
    n = int(m.group(1))
    suf = m.group(2)
    if not suf:
        return n
    if suf in ("b",) and allow_b:
        return n * 512
    if suf in ("c",):
        return n
    if suf in ("w",):
        return n * 2
    letters = "KMGTPEZY"
    head = suf[0].upper()
    if head not in letters or (suf[0] == "k" and False):
        raise ValueError(text)
    power = letters.index(head) + 1
    rest = suf[1:]
    if rest in ("", "iB"):
        return n * 1024**power
    if rest == "B":
        return n * 1000**power
    raise ValueError(text)


def apply_mode(
    spec: str, cur: int, is_dir: bool, umask: int = UMASK, base_umask: bool = True
) -> int:
    """Apply an octal or symbolic mode ``spec`` to permission bits ``cur``; ValueError if bad."""
    if spec and all(c in "01234567" for c in spec):
        if len(spec) > 5:
            raise ValueError(spec)
        new = int(spec, 8)
        if is_dir and len(spec) < 5:
            # like GNU: short octal modes keep a directory's set-id bits
            new |= cur & (S.S_ISUID | S.S_ISGID) if len(spec) <= 3 else 0
        return new & 0o7777
    mode = cur & 0o7777
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)", clause)
        if not m:
            raise ValueError(spec)
        who = m.group(1)
        mask = 0
        if not who or "a" in who:
            mask = 0o7777
        else:
            if "u" in who:
                mask |= 0o4700
            if "g" in who:
                mask |= 0o2070
            if "o" in who:
                mask |= 0o1007
        for op, perms in re.findall(r"([-+=])([ugo]|[rwxXst]*)", m.group(2)):
            bits = 0
            if perms in ("u", "g", "o"):
                src = {"u": (mode >> 6) & 7, "g": (mode >> 3) & 7, "o": mode & 7}[perms]
                bits = src | (src << 3) | (src << 6)
            else:
                for c in perms:
                    if c == "r":
                        bits |= 0o444
                    elif c == "w":
                        bits |= 0o222
                    elif c == "x":
                        bits |= 0o111
                    elif c == "X":
                        if is_dir or mode & 0o111:
                            bits |= 0o111
                    elif c == "s":
                        bits |= S.S_ISUID | S.S_ISGID
                    elif c == "t":
                        bits |= S.S_ISVTX
            eff = mask
            if not who and base_umask:
                eff &= ~umask | 0o7000
            bits &= eff
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                clear = mask if who else 0o7777
                if not who:
                    # '=' without who: bits masked by the umask stay cleared too
                    clear = 0o7777 & ~(S.S_ISUID | S.S_ISGID) if not is_dir else 0o777 | S.S_ISVTX
                mode = (mode & ~clear) | bits
    return mode & 0o7777


async def _fs_fail(ctx: Context, verb: str, path: str, exc: OSError) -> None:
    await ctx.err(f"{verb} {q(path)}: {strerror(exc)}")


# --------------------------------------------------------------------------------------------
# ls
# --------------------------------------------------------------------------------------------

LS_HELP = """Usage: ls [OPTION]... [FILE]...
List information about the FILEs (the current directory by default).
Entries are sorted in the C locale unless -t, -S or -U is given.

  -a, --all                  do not ignore entries starting with .
  -A, --almost-all           do not list implied . and ..
  -d, --directory            list directories themselves, not their contents
  -F, --classify             append indicator (one of */=@|) to entries
  -p                         append / indicator to directories
  -h, --human-readable       with -l, print sizes like 1K 234M 2G
  -i, --inode                print the index number of each file
  -l                         use a long listing format
  -n, --numeric-uid-gid      like -l, but list numeric user and group IDs
  -g / -o                    like -l, but without the owner / group
  -L, --dereference          show information for the file symlinks point to
  -r, --reverse              reverse order while sorting
  -R, --recursive            list subdirectories recursively
  -s, --size                 print the allocated size of each file, in blocks
  -S                         sort by file size, largest first
  -t                         sort by time, newest first
  -U                         do not sort; list entries in directory order
  -1                         list one file per line
      --color[=WHEN]         accepted; output is never coloured
"""


class _LsEnt:
    __slots__ = ("name", "path", "st", "target", "target_st")

    def __init__(
        self,
        name: str,
        path: str,
        st: StatResult,
        target: str | None = None,
        target_st: StatResult | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.st = st
        self.target = target
        self.target_st = target_st


def _indicator(st: StatResult | None, classify: bool, slash: bool) -> str:
    if st is None:
        return ""
    m = st.st_mode
    if S.S_ISDIR(m):
        return "/" if (classify or slash) else ""
    if not classify:
        return ""
    if S.S_ISLNK(m):
        return "@"
    if S.S_ISFIFO(m):
        return "|"
    if S.S_ISSOCK(m):
        return "="
    if S.S_ISREG(m) and m & 0o111:
        return "*"
    return ""


class _Ls:
    def __init__(self, ctx: Context, p: Parsed) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.all = False
        self.almost = False
        for key, _ in p.order:
            if key in ("a", "f"):
                self.all, self.almost = True, False
            elif key == "A":
                self.all, self.almost = False, True
        self.numeric = p.flag("n")
        self.no_owner = p.flag("g")
        self.no_group = p.flag("o")
        self.long = p.flag("l") or self.numeric or self.no_owner or self.no_group
        self.human = p.flag("h")
        self.recursive = p.flag("R")
        self.reverse = p.flag("r")
        self.dirs_only = p.flag("d")
        self.classify = p.flag("F")
        self.slash = p.flag("p")
        self.inode = p.flag("i")
        self.blocks = p.flag("s")
        self.deref = p.flag("L")
        self.sort = "name"
        for key, _ in p.order:
            if key == "t":
                self.sort = "time"
            elif key == "S":
                self.sort = "size"
            elif key in ("U", "f"):
                self.sort = "none"
        self.status = 0
        self.tz = tz_from_env(ctx.env)
        self.now = time.time()
        self._maps: tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]] | None = (
            None
        )
        self.first = True

    @property
    def maps(self) -> tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]]:
        if self._maps is None:
            self._maps = user_maps(self.fs)
        return self._maps

    def sort_ents(self, ents: list[_LsEnt]) -> list[_LsEnt]:
        if self.sort == "none":
            return ents
        if self.sort == "time":
            ents.sort(key=lambda e: (-e.st.st_mtime_ns, C_key(e.name)))
        elif self.sort == "size":
            ents.sort(key=lambda e: (-e.st.st_size, C_key(e.name)))
        else:
            ents.sort(key=lambda e: C_key(e.name))
        if self.reverse:
            ents.reverse()
        return ents

    def make(self, name: str, path: str, st: StatResult) -> _LsEnt:
        target = None
        tst = None
        if st.is_symlink():
            try:
                target = self.fs.readlink(path)
            except OSError:
                target = None
            try:
                tst = self.fs.stat(path)
            except OSError:
                tst = None
        return _LsEnt(name, path, st, target, tst)

    def date(self, st: StatResult) -> str:
        t = st.st_mtime_ns / 1e9
        dt = datetime.fromtimestamp(int(t), self.tz)
        recent = self.now - 15778476 < t <= self.now + 1
        if recent:
            return dt.strftime("%b ") + f"{dt.day:>2}" + dt.strftime(" %H:%M")
        return dt.strftime("%b ") + f"{dt.day:>2}" + f"  {dt.year}"

    def size_text(self, st: StatResult) -> str:
        if S.S_ISCHR(st.st_mode) or S.S_ISBLK(st.st_mode):
            ma, mi = split_major_minor(st.st_rdev)
            return f"{ma}, {mi}"
        return human_size(st.st_size) if self.human else str(st.st_size)

    def blocks_text(self, st: StatResult) -> str:
        kb = -(-st.st_blocks * 512 // 1024)
        return human_size(kb * 1024) if self.human else str(kb)

    def name_text(self, e: _LsEnt) -> str:
        s = e.name
        if self.long and e.target is not None:
            s += " -> " + e.target
            if self.classify:
                s += _indicator(e.target_st, True, False)
            return s
        return s + _indicator(e.st, self.classify, self.slash)

    async def emit(self, ents: list[_LsEnt], total: bool) -> None:
        out: list[str] = []
        if total and (self.long or self.blocks):
            kb = sum(-(-e.st.st_blocks * 512 // 1024) for e in ents)
            out.append(f"total {human_size(kb * 1024) if self.human else kb}")
        if self.long:
            uids, _, gids, _ = self.maps
            rows = []
            for e in ents:
                st = e.st
                owner = str(st.st_uid) if self.numeric else uids.get(st.st_uid, str(st.st_uid))
                group = str(st.st_gid) if self.numeric else gids.get(st.st_gid, str(st.st_gid))
                rows.append(
                    (
                        str(st.st_ino),
                        self.blocks_text(st),
                        mode_string(st.st_mode),
                        str(st.st_nlink),
                        owner,
                        group,
                        self.size_text(st),
                        self.date(st),
                        self.name_text(e),
                    )
                )
            if rows:
                w = [max(len(r[i]) for r in rows) for i in range(8)]
                for r in rows:
                    parts = []
                    if self.inode:
                        parts.append(r[0].rjust(w[0]))
                    if self.blocks:
                        parts.append(r[1].rjust(w[1]))
                    parts.append(r[2])
                    parts.append(r[3].rjust(w[3]))
                    if not self.no_owner:
                        parts.append(r[4].ljust(w[4]))
                    if not self.no_group:
                        parts.append(r[5].ljust(w[5]))
                    parts.append(r[6].rjust(w[6]))
                    parts.append(r[7])
                    parts.append(r[8])
                    out.append(" ".join(parts))
        else:
            iw = max((len(str(e.st.st_ino)) for e in ents), default=0)
            bw = max((len(self.blocks_text(e.st)) for e in ents), default=0)
            for e in ents:
                pre = ""
                if self.inode:
                    pre += str(e.st.st_ino).rjust(iw) + " "
                if self.blocks:
                    pre += self.blocks_text(e.st).rjust(bw) + " "
                out.append(pre + self.name_text(e))
        if out:
            await self.ctx.out("".join(s + "\n" for s in out))

    async def list_dir(self, path: str, shown: str, header: bool) -> None:
        self.ctx.check_killed()
        try:
            names = self.fs.listdir(path)
        except OSError as exc:
            await self.ctx.err(f"cannot open directory {q(shown)}: {strerror(exc)}")
            self.status = max(self.status, 1 if not self.first_level else 2)
            return
        if header:
            await self.ctx.out(("" if self.first else "\n") + shown + ":\n")
        self.first = False
        if self.all:
            names = [".", "..", *names]
        elif not self.almost:
            names = [n for n in names if not n.startswith(".")]
        else:
            names = [n for n in names if n not in (".", "..")]
        ents: list[_LsEnt] = []
        for n in names:
            p = child_path(path, n)
            try:
                st = (
                    self.fs.stat(p, follow_symlinks=self.deref)
                    if n not in (".", "..")
                    else self.fs.stat(p)
                )
            except OSError:
                try:
                    st = self.fs.lstat(p)
                except OSError as exc:
                    await self.ctx.err(f"cannot access {q(p)}: {strerror(exc)}")
                    self.status = max(self.status, 1)
                    continue
            ents.append(self.make(n, p, st))
        ents = self.sort_ents(ents)
        await self.emit(ents, True)
        if self.recursive:
            self.first_level = False
            for e in ents:
                if e.name in (".", "..") or not e.st.is_dir():
                    continue
                sub_shown = (shown.rstrip("/") + "/" + e.name) if shown != "/" else "/" + e.name
                if shown.endswith("/") and shown != "/":
                    sub_shown = shown + e.name
                await self.list_dir(e.path, sub_shown, True)

    first_level = True

    async def run(self, operands: list[str]) -> int:
        implicit = not operands
        if implicit:
            operands = ["."]
        follow_cmdline = self.deref or not (self.long or self.dirs_only or self.classify)
        files: list[_LsEnt] = []
        dirs: list[_LsEnt] = []
        for op in operands:
            try:
                st = self.fs.lstat(op)
            except OSError as exc:
                await self.ctx.err(f"cannot access {q(op)}: {strerror(exc)}")
                self.status = 2
                continue
            if st.is_symlink() and (follow_cmdline or self.deref):
                try:
                    tst = self.fs.stat(op)
                    if self.deref or tst.is_dir():
                        st = tst
                except OSError:
                    pass
            ent = self.make(op, op, st)
            if st.is_dir() and not self.dirs_only:
                dirs.append(ent)
            else:
                files.append(ent)
        files = self.sort_ents(files)
        if files:
            await self.emit(files, False)
            self.first = False
        dirs = self.sort_ents(dirs)
        header = self.recursive or len(operands) > 1
        for d in dirs:
            self.first_level = True
            await self.list_dir(d.path, d.name, header)
        return self.status


@command("ls", "dir")
async def ls(ctx: Context) -> int:
    spec = [Opt(c) for c in "aAdFphilnLrRsStU1goCxf"] + [
        Opt("a", "all"),
        Opt("A", "almost-all"),
        Opt("d", "directory"),
        Opt("F", "classify"),
        Opt("h", "human-readable"),
        Opt("i", "inode"),
        Opt("n", "numeric-uid-gid"),
        Opt("L", "dereference"),
        Opt("r", "reverse"),
        Opt("R", "recursive"),
        Opt("s", "size"),
        Opt("", "color", "optional"),
        Opt("", "colour", "optional", dest="color"),
        Opt("", "group-directories-first"),
    ]
    # keys for short options are the letters themselves
    spec = [Opt(o.short, o.long, o.arg, dest=o.short or o.key()) for o in spec]
    p = await _start(ctx, spec, LS_HELP, status=2)
    if isinstance(p, int):
        return p
    color = p.get("color")
    if isinstance(color, str) and color not in (
        "never",
        "no",
        "none",
        "auto",
        "tty",
        "if-tty",
        "always",
        "yes",
        "force",
    ):
        await ctx.err(f"invalid argument {q(color)} for '--color'")
        await ctx.stderr.write(
            b"Valid arguments are:\n  - 'always', 'yes', 'force'\n"
            b"  - 'never', 'no', 'none'\n  - 'auto', 'tty', 'if-tty'\n"
            b"Try 'ls --help' for more information.\n"
        )
        return 1
    return await _Ls(ctx, p).run(p.operands)


# --------------------------------------------------------------------------------------------
# cp / mv / install
# --------------------------------------------------------------------------------------------

CP_HELP = """Usage: cp [OPTION]... SOURCE DEST
  or:  cp [OPTION]... SOURCE... DIRECTORY
  or:  cp [OPTION]... -t DIRECTORY SOURCE...
Copy SOURCE to DEST, or multiple SOURCE(s) to DIRECTORY.

  -a, --archive                same as -dR --preserve=all
  -d                           same as --no-dereference --preserve=links
  -f, --force                  remove an unwritable destination and try again
  -i, --interactive            prompt before overwrite (reads the answer from stdin)
  -H                           follow command-line symbolic links in SOURCE
  -L, --dereference            always follow symbolic links in SOURCE
  -n, --no-clobber             do not overwrite an existing file
  -P, --no-dereference         never follow symbolic links in SOURCE
  -p                           preserve mode, ownership and timestamps
  -R, -r, --recursive          copy directories recursively
  -s, --symbolic-link          make symbolic links instead of copying
  -l, --link                   hard link files instead of copying
  -t, --target-directory=DIR   copy all SOURCE arguments into DIR
  -T, --no-target-directory    treat DEST as a normal file
  -u, --update                 copy only when SOURCE is newer than DEST or DEST is missing
  -v, --verbose                explain what is being done
"""


def _inside(fs: FsView, parent: str, child: str) -> bool:
    """Is ``child`` (which may not exist yet) inside or equal to directory ``parent``?"""
    try:
        a = fs.realpath(parent)
    except OSError:
        a = fs.abspath(parent)
    try:
        b = fs.realpath(posixpath.dirname(fs.abspath(child)) or "/")
        b = posixpath.join(b, posixpath.basename(fs.abspath(child)))
    except OSError:
        b = fs.abspath(child)
    return b == a or b.startswith(a.rstrip("/") + "/")


def _same(a: StatResult, b: StatResult) -> bool:
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


class _Copier:
    def __init__(
        self,
        ctx: Context,
        *,
        recursive: bool,
        deref: str,
        preserve: bool,
        no_clobber: bool = False,
        force: bool = False,
        interactive: bool = False,
        verbose: bool = False,
        update: bool = False,
        name: str = "cp",
        quiet_verbose: bool = False,
    ) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.recursive = recursive
        self.deref = deref  # "L" always, "H" command line, "P" never
        self.preserve = preserve
        self.no_clobber = no_clobber
        self.force = force
        self.interactive = interactive
        self.verbose = verbose and not quiet_verbose
        self.update = update
        self.status = 0

    async def fail(self, msg: str) -> bool:
        await self.ctx.err(msg)
        self.status = 1
        return False

    def _attrs(self, src_st: StatResult, dst: str, link: bool = False) -> None:
        if not self.preserve:
            return
        try:
            if not link:
                self.fs.chmod(dst, src_st.st_mode & 0o7777)
            self.fs.chown(dst, src_st.st_uid, src_st.st_gid, follow_symlinks=not link)
        except OSError:
            pass
        try:
            self.fs.utime(dst, (src_st.st_atime_ns, src_st.st_mtime_ns), follow_symlinks=not link)
        except OSError:
            pass

    async def copy(self, src: str, dst: str, top: bool = True) -> bool:
        self.ctx.check_killed()
        fs = self.fs
        try:
            lst = fs.lstat(src)
        except OSError as exc:
            return await self.fail(f"cannot stat {q(src)}: {strerror(exc)}")
        follow = self.deref == "L" or (self.deref == "H" and top)
        st = lst
        if lst.is_symlink() and follow:
            try:
                st = fs.stat(src)
            except OSError as exc:
                return await self.fail(f"cannot stat {q(src)}: {strerror(exc)}")
        try:
            dst_st: StatResult | None = fs.stat(dst)
        except OSError:
            dst_st = None
        try:
            dst_lst: StatResult | None = fs.lstat(dst)
        except OSError:
            dst_lst = None
        if dst_st is not None and _same(st, dst_st) and not (st.is_symlink()):
            return await self.fail(f"{q(src)} and {q(dst)} are the same file")
        if st.is_dir():
            if not self.recursive:
                return await self.fail(f"-r not specified; omitting directory {q(src)}")
            if _inside(fs, src, dst):
                return await self.fail(f"cannot copy a directory, {q(src)}, into itself, {q(dst)}")
            if dst_st is not None and not dst_st.is_dir():
                return await self.fail(
                    f"cannot overwrite non-directory {q(dst)} with directory {q(src)}"
                )
            if dst_st is None:
                try:
                    fs.mkdir(dst, mode=(st.st_mode & 0o7777) & ~UMASK | 0o700)
                except OSError as exc:
                    return await self.fail(f"cannot create directory {q(dst)}: {strerror(exc)}")
                if self.verbose:
                    await self.ctx.out(f"{q(src)} -> {q(dst)}\n")
            try:
                names = sorted(fs.listdir(src), key=C_key)
            except OSError as exc:
                return await self.fail(f"cannot access {q(src)}: {strerror(exc)}")
            ok = True
            for n in names:
                ok = (
                    await self.copy(posixpath.join(src, n), posixpath.join(dst, n), top=False)
                    and ok
                )
            if self.preserve:
                self._attrs(st, dst)
            return ok
        # non-directories
        if dst_lst is not None:
            if dst_st is not None and dst_st.is_dir():
                return await self.fail(f"cannot overwrite directory {q(dst)} with non-directory")
            if self.no_clobber:
                return True
            if self.update and dst_st is not None and dst_st.st_mtime_ns >= st.st_mtime_ns:
                return True
            if self.interactive and not await prompt_yes(self.ctx, f"overwrite {q(dst)}? "):
                return True
        if st.is_symlink():
            try:
                target = fs.readlink(src)
                if dst_lst is not None:
                    fs.unlink(dst)
                fs.symlink(target, dst)
            except OSError as exc:
                return await self.fail(f"cannot create symbolic link {q(dst)}: {strerror(exc)}")
            self._attrs(st, dst, link=True)
        else:
            try:
                data = fs.read_bytes(src)
            except OSError as exc:
                return await self.fail(f"cannot open {q(src)} for reading: {strerror(exc)}")
            if dst_lst is not None and dst_lst.is_symlink() and dst_st is None:
                # a dangling link as destination: GNU writes through it; we replace it
                try:
                    fs.unlink(dst)
                except OSError:
                    pass
                dst_lst = None
            try:
                self._write(dst, data, st, existed=dst_lst is not None)
            except OSError as exc:
                if self.force and dst_lst is not None:
                    try:
                        fs.unlink(dst)
                        self._write(dst, data, st, existed=False)
                    except OSError as exc2:
                        return await self.fail(
                            f"cannot create regular file {q(dst)}: {strerror(exc2)}"
                        )
                else:
                    verb = "cannot create regular file" if dst_lst is None else "cannot open"
                    tail = "" if dst_lst is None else " for writing"
                    return await self.fail(f"{verb} {q(dst)}{tail}: {strerror(exc)}")
            self._attrs(st, dst)
        if self.verbose:
            await self.ctx.out(f"{q(src)} -> {q(dst)}\n")
        return True

    def _write(self, dst: str, data: bytes, st: StatResult, existed: bool) -> None:
        mode = (st.st_mode & 0o7777) & ~UMASK
        self.fs.write_bytes(dst, data, mode=mode)
        if not existed:
            try:
                cur = self.fs.stat(dst).st_mode & 0o7777
                if cur != mode:
                    self.fs.chmod(dst, mode)
            except OSError:
                pass


def _is_link(fs: FsView, path: str) -> bool:
    try:
        return fs.lstat(path).is_symlink()
    except OSError:
        return False


def _targets(ctx: Context, p: Parsed, need: int = 2) -> tuple[list[tuple[str, str]], str | None]:
    """Pair each source with its destination path; returns (pairs, error message)."""
    fs = ctx.fs
    ops = p.operands
    tdir = p.str("target_directory")
    no_target = p.flag("no_target_directory")
    if tdir is not None:
        if not ops:
            return [], "missing file operand"
        if not fs.isdir(tdir):
            if not fs.exists(tdir):
                return [], f"target directory {q(tdir)}: No such file or directory"  # noqa: E501
            return [], f"target {q(tdir)} is not a directory"
        return [
            (s, posixpath.join(tdir, posixpath.basename(s.rstrip("/")) or s)) for s in ops
        ], None
    if not ops:
        return [], "missing file operand"
    if len(ops) == 1:
        return [], f"missing destination file operand after {q(ops[0])}"
    if no_target:
        if len(ops) > 2:
            return [], f"extra operand {q(ops[2])}"
        return [(ops[0], ops[1])], None
    dest = ops[-1]
    if fs.isdir(dest):
        return [
            (s, posixpath.join(dest, posixpath.basename(s.rstrip("/")) or s)) for s in ops[:-1]
        ], None
    if len(ops) > 2:
        return [], f"target {q(dest)} is not a directory"
    return [(ops[0], dest)], None


async def _target_error(ctx: Context, msg: str) -> int:
    if msg.startswith("missing"):
        return await report(
            ctx, UsageError(f"{ctx.name}: {msg}\nTry '{ctx.name} --help' for more information.")
        )
    await ctx.err(msg)
    return 1


@command("cp")
async def cp(ctx: Context) -> int:
    spec = [
        Opt("a", "archive"),
        Opt("d"),
        Opt("f", "force"),
        Opt("i", "interactive"),
        Opt("H"),
        Opt("L", "dereference"),
        Opt("n", "no-clobber"),
        Opt("P", "no-dereference"),
        Opt("p"),
        Opt("", "preserve", "optional"),
        Opt("R", "recursive", dest="r"),
        Opt("r", dest="r"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("u", "update"),
        Opt("v", "verbose"),
        Opt("x", "one-file-system"),
        Opt("s", "symbolic-link"),
        Opt("l", "link"),
    ]
    p = await _start(ctx, spec, CP_HELP)
    if isinstance(p, int):
        return p
    if p.flag("s") or p.flag("l"):
        return await _cp_links(ctx, p)
    recursive = p.flag("r") or p.flag("a")
    deref = "L" if not recursive else "P"
    for k, _ in p.order:
        if k in ("L",):
            deref = "L"
        elif k in ("P", "d", "a"):
            deref = "P"
        elif k == "H":
            deref = "H"
    interactive = False
    no_clobber = False
    for k, _ in p.order:
        if k == "i":
            interactive, no_clobber = True, False
        elif k == "n":
            interactive, no_clobber = False, True
        elif k == "f":
            interactive = False
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    c = _Copier(
        ctx,
        recursive=recursive,
        deref=deref,
        preserve=p.flag("a") or p.flag("p") or p.get("preserve") is not None,
        no_clobber=no_clobber,
        force=p.flag("f"),
        interactive=interactive,
        verbose=p.flag("v"),
        update=p.flag("u"),
    )
    for src, dst in pairs:
        if (
            dst.endswith("/")
            and not ctx.fs.isdir(dst)
            and ctx.fs.exists(src)
            and not ctx.fs.isdir(src)
        ):
            if c.verbose:
                await ctx.out(f"{q(src)} -> {q(dst)}\n")
            await ctx.err(f"cannot create regular file {q(dst)}: Not a directory")
            c.status = 1
            continue
        await c.copy(src, dst)
    return c.status


async def _cp_links(ctx: Context, p: Parsed) -> int:
    """``cp -s`` / ``cp -l``: make links instead of copies."""
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    fs = ctx.fs
    status = 0
    for src, dst in pairs:
        try:
            st = fs.lstat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if st.is_dir() and not (p.flag("r") or p.flag("a")):
            await ctx.err(f"-r not specified; omitting directory {q(src)}")
            status = 1
            continue
        if p.flag("s") and not src.startswith("/") and "/" in dst.rstrip("/"):
            await ctx.err(f"{dst}: can make relative symbolic links only in current directory")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"{q(src)} -> {q(dst)}\n")
        try:
            if fs.lexists(dst):
                if p.flag("n"):
                    continue
                if not p.flag("f"):
                    raise FileExistsError(errno.EEXIST, "File exists", dst)
                fs.unlink(dst)
            if p.flag("s"):
                fs.symlink(src, dst)
            else:
                fs.link(src, dst)
        except OSError as exc:
            kind = "symbolic link" if p.flag("s") else "hard link"
            await ctx.err(f"cannot create {kind} {q(dst)} to {q(src)}: {strerror(exc)}")
            status = 1
    return status


MV_HELP = """Usage: mv [OPTION]... SOURCE DEST
  or:  mv [OPTION]... SOURCE... DIRECTORY
  or:  mv [OPTION]... -t DIRECTORY SOURCE...
Rename SOURCE to DEST, or move SOURCE(s) to DIRECTORY.

  -f, --force                  do not prompt before overwriting
  -i, --interactive            prompt before overwrite (reads the answer from stdin)
  -n, --no-clobber             do not overwrite an existing file
  -t, --target-directory=DIR   move all SOURCE arguments into DIR
  -T, --no-target-directory    treat DEST as a normal file
  -u, --update                 move only when SOURCE is newer than DEST or DEST is missing
  -v, --verbose                explain what is being done
"""


@command("mv")
async def mv(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("i", "interactive"),
        Opt("n", "no-clobber"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("u", "update"),
        Opt("v", "verbose"),
        Opt("b", "backup", "optional"),
    ]
    p = await _start(ctx, spec, MV_HELP)
    if isinstance(p, int):
        return p
    interactive = False
    no_clobber = False
    for k, _ in p.order:
        if k == "i":
            interactive, no_clobber = True, False
        elif k == "n":
            interactive, no_clobber = False, True
        elif k == "f":
            interactive, no_clobber = False, False
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    fs = ctx.fs
    status = 0
    for src, dst in pairs:
        ctx.check_killed()
        try:
            sst = fs.lstat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if dst.endswith("/") and not (sst.is_dir() and not _is_link(fs, dst.rstrip("/"))):
            # "DEST/" names a directory: a file (or a link) there cannot take its place
            await ctx.err(f"cannot move {q(src)} to {q(dst)}: Not a directory")
            status = 1
            continue
        try:
            dst_lst: StatResult | None = fs.lstat(dst)
        except OSError:
            dst_lst = None
        if dst_lst is not None:
            try:
                dst_st = fs.stat(dst)
            except OSError:
                dst_st = dst_lst
            if _same(sst, dst_lst):
                await ctx.err(f"{q(src)} and {q(dst)} are the same file")
                status = 1
                continue
            if no_clobber:
                continue
            if p.flag("u") and dst_st.st_mtime_ns >= sst.st_mtime_ns:
                continue
            if interactive and not await prompt_yes(ctx, f"overwrite {q(dst)}? "):
                continue
            if sst.is_dir() and not dst_st.is_dir():
                await ctx.err(f"cannot overwrite non-directory {q(dst)} with directory {q(src)}")
                status = 1
                continue
            if not sst.is_dir() and dst_st.is_dir() and not dst_lst.is_symlink():
                await ctx.err(f"cannot overwrite directory {q(dst)} with non-directory")
                status = 1
                continue
        if sst.is_dir() and _inside(fs, src, dst):
            await ctx.err(f"cannot move {q(src)} to a subdirectory of itself, {q(dst)}")
            status = 1
            continue
        try:
            fs.rename(src, dst)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                ok = await _move_across(ctx, src, dst, sst, dst_lst)
                if not ok:
                    status = 1
                    continue
            else:
                await ctx.err(f"cannot move {q(src)} to {q(dst)}: {strerror(exc)}")
                status = 1
                continue
        if p.flag("v"):
            await ctx.out(f"renamed {q(src)} -> {q(dst)}\n")
    return status


async def _move_across(
    ctx: Context, src: str, dst: str, sst: StatResult, dst_lst: StatResult | None
) -> bool:
    """rename() failed with EXDEV: copy everything, keeping attributes, then delete ``src``."""
    fs = ctx.fs
    if dst_lst is not None:
        try:
            if dst_lst.is_dir():
                fs.rmdir(dst)
            else:
                fs.unlink(dst)
        except OSError as exc:
            await ctx.err(f"cannot remove {q(dst)}: {strerror(exc)}")
            return False
    c = _Copier(ctx, recursive=True, deref="P", preserve=True)
    if not await c.copy(src, dst):
        return False
    try:
        if sst.is_dir():
            fs.remove_tree(src)
        else:
            fs.unlink(src)
    except OSError as exc:
        await ctx.err(f"cannot remove {q(src)}: {strerror(exc)}")
        return False
    return True


INSTALL_HELP = """Usage: install [OPTION]... SOURCE DEST
  or:  install [OPTION]... SOURCE... DIRECTORY
  or:  install [OPTION]... -t DIRECTORY SOURCE...
  or:  install [OPTION]... -d DIRECTORY...
Copy files and set attributes (mode 0755 unless -m is given).

  -d, --directory             treat all arguments as directory names; create them
  -D                          create all leading components of DEST
  -m, --mode=MODE             set permission mode (as in chmod)
  -o, --owner=OWNER / -g, --group=GROUP   set ownership
  -p, --preserve-timestamps   keep access/modification times of SOURCE
  -t, --target-directory=DIR  copy all SOURCE arguments into DIR
  -T, --no-target-directory   treat DEST as a normal file
  -v, --verbose               print the name of each created file or directory
"""


@command("install")
async def install(ctx: Context) -> int:
    spec = [
        Opt("d", "directory"),
        Opt("D"),
        Opt("m", "mode", "required"),
        Opt("o", "owner", "required"),
        Opt("g", "group", "required"),
        Opt("p", "preserve-timestamps"),
        Opt("s", "strip"),
        Opt("c"),
        Opt("C", "compare"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("v", "verbose"),
    ]
    p = await _start(ctx, spec, INSTALL_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    mode_spec = p.str("m")
    try:
        mode = apply_mode(mode_spec, 0o755, False, base_umask=False) if mode_spec else 0o755
    except ValueError:
        await ctx.err(f"invalid mode {q(mode_spec or '')}")
        return 1
    uid, gid = -1, -1
    _, unames, _, gnames = user_maps(fs)
    if p.str("o") is not None:
        o = p.str("o") or ""
        uid = int(o) if o.isdigit() else unames.get(o, -2)
        if uid == -2:
            await ctx.err(f"invalid user {q(o)}")
            return 1
    if p.str("g") is not None:
        g = p.str("g") or ""
        gid = int(g) if g.isdigit() else gnames.get(g, -2)
        if gid == -2:
            await ctx.err(f"invalid group {q(g)}")
            return 1
    status = 0
    if p.flag("d"):
        if not p.operands:
            return await report(ctx, missing_operand(ctx))
        for d in p.operands:
            try:
                await _mkdirs(ctx, d, verbose=p.flag("v"), prefix="install: creating directory ")
                fs.chmod(d, mode)
                if uid != -1 or gid != -1:
                    fs.chown(d, uid, gid)
            except OSError as exc:
                await ctx.err(f"cannot create directory {q(d)}: {strerror(exc)}")
                status = 1
        return status
    if p.flag("D") and len(p.operands) >= 2 and p.str("target_directory") is None:
        parent = posixpath.dirname(p.operands[-1].rstrip("/"))
        if parent and not fs.isdir(parent):
            try:
                await _mkdirs(
                    ctx, parent, verbose=p.flag("v"), prefix="install: creating directory "
                )
            except OSError as exc:
                await ctx.err(f"cannot create directory {q(parent)}: {strerror(exc)}")
                return 1
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    for src, dst in pairs:
        try:
            st = fs.stat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if st.is_dir():
            await ctx.err(f"omitting directory {q(src)}")
            status = 1
            continue
        try:
            data = fs.read_bytes(src)
            if fs.lexists(dst) and not fs.isdir(dst):
                fs.unlink(dst)
            fs.write_bytes(dst, data, mode=mode)
            fs.chmod(dst, mode)
            if uid != -1 or gid != -1:
                fs.chown(dst, uid, gid)
            if p.flag("p"):
                fs.utime(dst, (st.st_atime_ns, st.st_mtime_ns))
        except OSError as exc:
            await ctx.err(f"cannot create regular file {q(dst)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"{q(src)} -> {q(dst)}\n")
    return status


# --------------------------------------------------------------------------------------------
# rm / mkdir / rmdir
# --------------------------------------------------------------------------------------------

RM_HELP = """Usage: rm [OPTION]... [FILE]...
Remove (unlink) the FILE(s).

  -f, --force           ignore nonexistent files and arguments, never prompt
  -i                    prompt before every removal (reads the answer from stdin)
  -I                    prompt once before removing more than three files, or recursively
  -r, -R, --recursive   remove directories and their contents recursively
  -d, --dir             remove empty directories
  -v, --verbose         explain what is being done
      --no-preserve-root  do not treat '/' specially
"""


class _Rm:
    def __init__(self, ctx: Context, p: Parsed) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.force = False
        self.interactive = False
        for k, _ in p.order:
            if k == "f":
                self.force, self.interactive = True, False
            elif k == "i":
                self.force, self.interactive = False, True
        self.recursive = p.flag("r")
        self.dir = p.flag("d")
        self.verbose = p.flag("v")
        self.status = 0

    async def fail(self, path: str, exc: OSError | str) -> None:
        text = exc if isinstance(exc, str) else strerror(exc)
        await self.ctx.err(f"cannot remove {q(path)}: {text}")
        self.status = 1

    async def remove(self, path: str, st: StatResult) -> bool:
        self.ctx.check_killed()
        fs = self.fs
        if st.is_dir():
            if not self.recursive:
                if self.dir:
                    return await self.finish(path, "directory", "removed directory", fs.rmdir)
                await self.fail(path, "Is a directory")
                return False
            try:
                names = sorted(fs.listdir(path), key=C_key)
            except OSError as exc:
                await self.fail(path, exc)
                return False
            if (
                self.interactive
                and names
                and not await prompt_yes(self.ctx, f"descend into directory {q(path)}? ")
            ):
                return False
            ok = True
            for n in names:
                child = child_path(path, n)
                try:
                    cst = fs.lstat(child)
                except OSError as exc:
                    await self.fail(child, exc)
                    ok = False
                    continue
                ok = await self.remove(child, cst) and ok
            if not ok:
                return False
            return await self.finish(path, "directory", "removed directory", fs.rmdir)
        return await self.finish(path, file_type_name(st), "removed", fs.unlink)

    async def finish(self, path: str, kind: str, done: str, op: Callable[[str], None]) -> bool:
        """Ask ``remove KIND PATH?`` (with -i), then ``op(path)`` and say ``DONE PATH``
        (with -v)."""
        if self.interactive and not await prompt_yes(self.ctx, f"remove {kind} {q(path)}? "):
            return False
        try:
            op(path)
        except OSError as exc:
            await self.fail(path, exc)
            return False
        if self.verbose:
            await self.ctx.out(f"{done} {q(path)}\n")
        return True


@command("rm")
async def rm(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("i"),
        Opt("I"),
        Opt("", "interactive", "optional"),
        Opt("r", "recursive", dest="r"),
        Opt("R", dest="r"),
        Opt("d", "dir"),
        Opt("v", "verbose"),
        Opt("", "preserve-root", "optional"),
        Opt("", "no-preserve-root"),
        Opt("", "one-file-system"),
    ]
    p = await _start(ctx, spec, RM_HELP)
    if isinstance(p, int):
        return p
    inter = p.get("interactive")
    if isinstance(inter, str):
        if inter in ("always", "yes"):
            p.order.append(("i", True))
        elif inter in ("once",):
            p.opts["I"] = True
    r = _Rm(ctx, p)
    if not p.operands:
        if r.force:
            return 0
        return await report(ctx, missing_operand(ctx))
    if p.flag("I") and not r.force and (len(p.operands) > 3 or r.recursive):
        n = len(p.operands)
        what = f"{n} argument{'s' if n != 1 else ''}"
        if r.recursive:
            what += " recursively"
        if not await prompt_yes(ctx, f"remove {what}? "):
            return 0
    for path in p.operands:
        base = posixpath.basename(path.rstrip("/"))
        if base in (".", ".."):
            await ctx.err(f"refusing to remove '.' or '..' directory: skipping {q(path)}")
            r.status = 1
            continue
        try:
            st = ctx.fs.lstat(path)
        except OSError as exc:
            if r.force and isinstance(exc, FileNotFoundError):
                continue
            await r.fail(path, exc)
            continue
        if r.recursive and ctx.fs.abspath(path) == "/" and not p.flag("no_preserve_root"):
            await ctx.err(f"it is dangerous to operate recursively on {q(path)}")
            await ctx.err("use --no-preserve-root to override this failsafe")
            r.status = 1
            continue
        await r.remove(path, st)
    return r.status


MKDIR_HELP = """Usage: mkdir [OPTION]... DIRECTORY...
Create the DIRECTORY(ies), if they do not already exist.

  -m, --mode=MODE   set file mode (as in chmod), not a=rwx - umask
  -p, --parents     no error if existing, make parent directories as needed
  -v, --verbose     print a message for each created directory
"""


async def _mkdirs(
    ctx: Context,
    path: str,
    verbose: bool,
    mode: int = 0o777 & ~UMASK,
    prefix: str = "mkdir: created directory ",
) -> None:
    """``mkdir -p``: create missing parents (0755), then ``path`` with ``mode``.
    Errors are OSErrors whose ``filename`` is the component that failed, as typed."""
    fs = ctx.fs
    comps = [c for c in path.split("/") if c]
    cur = "/" if path.startswith("/") else ""
    for i, comp in enumerate(comps):
        cur = (cur.rstrip("/") + "/" + comp) if cur else comp
        if comp in (".", "..") or fs.isdir(cur):
            continue
        last = i == len(comps) - 1
        if fs.lexists(cur):
            code = errno.EEXIST if last else errno.ENOTDIR
            raise OSError(code, os.strerror(code), cur)
        try:
            fs.mkdir(cur, mode=mode if last else 0o777 & ~UMASK | 0o300)
        except OSError as exc:
            raise OSError(exc.errno, strerror(exc), cur) from None
        if last and mode & ~(0o777 & ~UMASK):
            fs.chmod(cur, mode)
        if verbose:
            await ctx.stdout.write(enc(f"{prefix}{q(path if last else cur)}\n"))


@command("mkdir")
async def mkdir(ctx: Context) -> int:
    spec = [Opt("m", "mode", "required"), Opt("p", "parents"), Opt("v", "verbose"), Opt("Z")]
    p = await _start(ctx, spec, MKDIR_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = 0o777 & ~UMASK
    mspec = p.str("m")
    if mspec is not None:
        try:
            mode = apply_mode(mspec, 0o777, True, base_umask=True)
        except ValueError:
            await ctx.err(f"invalid mode {q(mspec)}")
            return 1
    status = 0
    fs = ctx.fs
    for d in p.operands:
        ctx.check_killed()
        try:
            if p.flag("p"):
                await _mkdirs(ctx, d, p.flag("v"), mode)
                continue
            fs.mkdir(d, mode=mode)
            if mspec is not None:
                fs.chmod(d, mode)
        except OSError as exc:
            shown = exc.filename if p.flag("p") and isinstance(exc.filename, str) else d
            await ctx.err(f"cannot create directory {q(shown)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"mkdir: created directory {q(d)}\n")
    return status


RMDIR_HELP = """Usage: rmdir [OPTION]... DIRECTORY...
Remove the DIRECTORY(ies), if they are empty.

      --ignore-fail-on-non-empty  ignore failures due to a directory being non-empty
  -p, --parents     remove DIRECTORY and its ancestors
  -v, --verbose     output a diagnostic for every directory processed
"""


@command("rmdir")
async def rmdir(ctx: Context) -> int:
    spec = [Opt("", "ignore-fail-on-non-empty"), Opt("p", "parents"), Opt("v", "verbose")]
    p = await _start(ctx, spec, RMDIR_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    ignore = p.flag("ignore_fail_on_non_empty")
    status = 0

    async def one(d: str) -> bool:
        if p.flag("v"):
            await ctx.out(f"rmdir: removing directory, {q(d)}\n")
        try:
            ctx.fs.rmdir(d)
            return True
        except OSError as exc:
            if ignore and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            await ctx.err(f"failed to remove {q(d)}: {strerror(exc)}")
            return False

    for d in p.operands:
        ok = await one(d)
        if not ok:
            if not (ignore and ctx.fs.isdir(d)):
                status = 1
            continue
        if p.flag("p"):
            cur = d.rstrip("/")
            while True:
                cur = posixpath.dirname(cur).rstrip("/")
                if not cur or cur in (".", "/"):
                    break
                if not await one(cur):
                    if not ignore or not ctx.fs.isdir(cur):
                        status = 1
                    break
    return status


# --------------------------------------------------------------------------------------------
# touch
# --------------------------------------------------------------------------------------------

TOUCH_HELP = """Usage: touch [OPTION]... FILE...
Update the access and modification times of each FILE to the current time.
A FILE that does not exist is created empty, unless -c is given.

  -a                     change only the access time
  -c, --no-create        do not create any files
  -d, --date=STRING      parse STRING and use it instead of current time
  -h, --no-dereference   affect each symbolic link instead of any referenced file
  -m                     change only the modification time
  -r, --reference=FILE   use this file's times instead of current time
  -t STAMP               use [[CC]YY]MMDDhhmm[.ss] instead of current time
"""


def parse_touch_stamp(stamp: str, tz: tzinfo) -> int:
    """``[[CC]YY]MMDDhhmm[.ss]`` -> ns since the epoch; ValueError if malformed."""
    m = re.fullmatch(r"(\d{8}|\d{10}|\d{12})(?:\.(\d{2}))?", stamp)
    if not m:
        raise ValueError(stamp)
    digits = m.group(1)
    sec = int(m.group(2) or 0)
    now = datetime.now(tz)
    if len(digits) == 12:
        year = int(digits[:4])
        digits = digits[4:]
    elif len(digits) == 10:
        yy = int(digits[:2])
        year = 1900 + yy if yy >= 69 else 2000 + yy
        digits = digits[2:]
    else:
        year = now.year
    dt = datetime(
        year,
        int(digits[0:2]),
        int(digits[2:4]),
        int(digits[4:6]),
        int(digits[6:8]),
        min(sec, 59),
        tzinfo=tz,
    )
    return int(dt.timestamp()) * 1_000_000_000 + (sec - min(sec, 59)) * 1_000_000_000


@command("touch")
async def touch(ctx: Context) -> int:
    spec = [
        Opt("a"),
        Opt("c", "no-create"),
        Opt("d", "date", "required"),
        Opt("h", "no-dereference"),
        Opt("m"),
        Opt("r", "reference", "required"),
        Opt("t", "", "required", dest="stamp"),
        Opt("f"),
        Opt("", "time", "required"),
    ]
    p = await _start(ctx, spec, TOUCH_HELP)
    if isinstance(p, int):
        return p
    if not p.operands:
        return await report(
            ctx, UsageError("touch: missing file operand\nTry 'touch --help' for more information.")
        )
    fs = ctx.fs
    tz = tz_from_env(ctx.env)
    atime: int | None = None
    mtime: int | None = None
    given = False
    ref = p.str("r")
    if ref is not None:
        try:
            rst = fs.stat(ref)
        except OSError as exc:
            await ctx.err(f"failed to get attributes of {q(ref)}: {strerror(exc)}")
            return 1
        atime, mtime = rst.st_atime_ns, rst.st_mtime_ns
        given = True
    dstr = p.str("d")
    if dstr is not None:
        from pocketos.commands.util import parse_date

        base = (mtime / 1e9) if mtime is not None else None
        try:
            t = parse_date(dstr, tz, now=base)
        except ValueError:
            await ctx.err(f"invalid date format {q(dstr)}")
            return 1
        atime = mtime = int(round(t * 1e9))
        given = True
    stamp = p.str("stamp")
    if stamp is not None:
        try:
            atime = mtime = parse_touch_stamp(stamp, tz)
        except ValueError:
            await ctx.err(f"invalid date format {q(stamp)}")
            return 1
        given = True
    if not given:
        atime = mtime = time.time_ns()
    which = p.str("time")
    only_a = p.flag("a") or which in ("access", "atime", "use")
    only_m = p.flag("m") or which in ("modify", "mtime")
    if only_a and not only_m:
        mtime = None
    elif only_m and not only_a:
        atime = None
    status = 0
    for f in p.operands:
        ctx.check_killed()
        if f == "-":
            continue
        try:
            exists = fs.lexists(f) if p.flag("h") else fs.exists(f)
            if not exists:
                if p.flag("c") or p.flag("h"):
                    continue
                fs.write_bytes(f, b"", append=True)
            fs.utime(f, (atime, mtime), follow_symlinks=not p.flag("h"))
        except OSError as exc:
            await ctx.err(f"cannot touch {q(f)}: {strerror(exc)}")
            status = 1
    return status


# --------------------------------------------------------------------------------------------
# ln
# --------------------------------------------------------------------------------------------

LN_HELP = """Usage: ln [OPTION]... [-T] TARGET LINK_NAME
  or:  ln [OPTION]... TARGET
  or:  ln [OPTION]... TARGET... DIRECTORY
  or:  ln [OPTION]... -t DIRECTORY TARGET...
Create links (hard links by default, symbolic links with --symbolic).

  -f, --force                 remove existing destination files
  -n, --no-dereference        treat LINK_NAME as a normal file if it is a symlink to a directory
  -r, --relative              with -s, create links relative to link location
  -s, --symbolic              make symbolic links instead of hard links
  -t, --target-directory=DIR  specify the DIRECTORY in which to create the links
  -T, --no-target-directory   treat LINK_NAME as a normal file always
  -v, --verbose               print name of each linked file
"""


@command("ln")
async def ln(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("n", "no-dereference"),
        Opt("s", "symbolic"),
        Opt("r", "relative"),
        Opt("i", "interactive"),
        Opt("L", "logical"),
        Opt("P", "physical"),
        Opt("b", "backup", "optional"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("v", "verbose"),
    ]
    p = await _start(ctx, spec, LN_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    ops = p.operands
    tdir = p.str("target_directory")
    nodere = p.flag("n")

    def is_dir_dest(path: str) -> bool:
        if nodere and fs.islink(path):
            return False
        return fs.isdir(path)

    pairs: list[tuple[str, str]] = []
    if tdir is not None:
        if not ops:
            return await report(
                ctx, UsageError("ln: missing file operand\nTry 'ln --help' for more information.")
            )
        if not fs.isdir(tdir):
            await ctx.err(f"target {q(tdir)} is not a directory")
            return 1
        pairs = [(t, posixpath.join(tdir, posixpath.basename(t.rstrip("/")))) for t in ops]
    elif not ops:
        return await report(
            ctx, UsageError("ln: missing file operand\nTry 'ln --help' for more information.")
        )
    elif len(ops) == 1:
        pairs = [(ops[0], posixpath.basename(ops[0].rstrip("/")) or ops[0])]
    elif p.flag("no_target_directory"):
        if len(ops) > 2:
            return await report(
                ctx,
                UsageError(f"ln: extra operand {q(ops[2])}\nTry 'ln --help' for more information."),
            )
        pairs = [(ops[0], ops[1])]
    elif is_dir_dest(ops[-1]):
        pairs = [(t, posixpath.join(ops[-1], posixpath.basename(t.rstrip("/")))) for t in ops[:-1]]
    elif len(ops) > 2:
        await ctx.err(f"target {q(ops[-1])} is not a directory")
        return 1
    else:
        pairs = [(ops[0], ops[1])]
    status = 0
    sym = p.flag("s")
    kind = "symbolic link" if sym else "hard link"
    for target, link in pairs:
        ctx.check_killed()
        if not sym:
            try:
                tst = fs.stat(target) if p.flag("L") else fs.lstat(target)
            except OSError as exc:
                await ctx.err(f"failed to access {q(target)}: {strerror(exc)}")
                status = 1
                continue
            if tst.is_dir():
                await ctx.err(f"{target}: hard link not allowed for directory")
                status = 1
                continue
        if fs.lexists(link):
            if p.flag("f"):
                try:
                    lst = fs.lstat(link)
                    if not sym:
                        tst2 = fs.lstat(target)
                        if _same(tst2, lst):
                            await ctx.err(f"{q(target)} and {q(link)} are the same file")
                            status = 1
                            continue
                    if lst.is_dir():
                        await ctx.err(f"{q(link)}: cannot overwrite directory")
                        status = 1
                        continue
                    fs.unlink(link)
                except OSError as exc:
                    await ctx.err(f"cannot remove {q(link)}: {strerror(exc)}")
                    status = 1
                    continue
            elif p.flag("i"):
                if not await prompt_yes(ctx, f"replace {q(link)}? "):
                    continue
                fs.unlink(link)
            else:
                await ctx.err(f"failed to create {kind} {q(link)}: File exists")
                status = 1
                continue
        try:
            if sym:
                value = target
                if p.flag("r"):
                    base = posixpath.dirname(fs.abspath(link))
                    try:
                        base = fs.realpath(base)
                    except OSError:
                        pass
                    value = posixpath.relpath(fs.abspath(target), base)
                fs.symlink(value, link)
            else:
                src = target
                if p.flag("L") and fs.islink(target):
                    src = fs.realpath(target)
                fs.link(src, link)
        except OSError as exc:
            await ctx.err(f"failed to create {kind} {q(link)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            arrow = "->" if sym else "=>"
            await ctx.out(f"{q(link)} {arrow} {q(target)}\n")
    return status


# --------------------------------------------------------------------------------------------
# chmod / chown / chgrp
# --------------------------------------------------------------------------------------------

CHMOD_HELP = """Usage: chmod [OPTION]... MODE[,MODE]... FILE...
  or:  chmod [OPTION]... OCTAL-MODE FILE...
  or:  chmod [OPTION]... --reference=RFILE FILE...
Change the mode of each FILE to MODE. MODE is octal or [ugoa]*([-+=]([rwxXst]*|[ugo]))+.

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -R, --recursive        change files and directories recursively
      --reference=RFILE  use RFILE's mode instead of MODE values
"""

_MODE_ARG = re.compile(r"^-[rwxXstugo0-7,+=-]+$")


def _split_mode_args(argv: list[str]) -> tuple[list[str], str | None]:
    """Pull a mode such as ``-w`` or ``-x,o+r`` out of argv before option parsing."""
    out: list[str] = []
    mode: str | None = None
    seen_dd = False
    for a in argv:
        if not seen_dd and mode is None and _MODE_ARG.match(a) and not set(a[1:]) <= set("Rcfv"):
            mode = a
            continue
        if a == "--":
            seen_dd = True
        out.append(a)
    return out, mode


def _octal_desc(mode: int) -> str:
    return f"{mode & 0o7777:04o} ({mode_string(mode)[1:]})"


@command("chmod")
async def chmod(ctx: Context) -> int:
    spec = [
        Opt("c", "changes"),
        Opt("f", "silent"),
        Opt("", "quiet", dest="f"),
        Opt("v", "verbose"),
        Opt("R", "recursive"),
        Opt("", "reference", "required"),
        Opt("", "preserve-root"),
        Opt("", "no-preserve-root"),
    ]
    args, dash_mode = _split_mode_args(ctx.argv[1:])
    try:
        p = parse_opts("chmod", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, CHMOD_HELP)
    ops = list(p.operands)
    fs = ctx.fs
    ref = p.str("reference")
    mode_spec: str | None = dash_mode
    ref_mode: int | None = None
    if ref is not None:
        try:
            ref_mode = fs.stat(ref).st_mode & 0o7777
        except OSError as exc:
            await ctx.err(f"failed to get attributes of {q(ref)}: {strerror(exc)}")
            return 1
    elif mode_spec is None:
        if not ops:
            return await report(ctx, missing_operand(ctx))
        mode_spec = ops.pop(0)
    if not ops:
        after = mode_spec if mode_spec is not None else ""
        return await report(
            ctx,
            UsageError(
                f"chmod: missing operand after {q(after)}\nTry 'chmod --help' for more information."
            ),
        )
    if mode_spec is not None:
        try:
            apply_mode(mode_spec, 0o644, False)
        except ValueError:
            await ctx.err(f"invalid mode: {q(mode_spec)}")
            await ctx.stderr.write(b"Try 'chmod --help' for more information.\n")
            return 1
    status = 0
    quiet = p.flag("f")

    async def one(path: str, top: bool) -> None:
        nonlocal status
        ctx.check_killed()
        try:
            lst = fs.lstat(path)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            if p.flag("v"):
                await ctx.out(f"{q(path)} could not be accessed\n")
            status = 1
            return
        if lst.is_symlink() and not top:
            return
        try:
            st = fs.stat(path)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot operate on dangling symlink {q(path)}")
            del exc
            status = 1
            return
        old = st.st_mode & 0o7777
        new = ref_mode if ref_mode is not None else apply_mode(mode_spec or "", old, st.is_dir())
        try:
            if new != old:
                fs.chmod(path, new)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"changing permissions of {q(path)}: {strerror(exc)}")
            status = 1
            return
        full_new = (st.st_mode & ~0o7777) | new
        if new != old and (p.flag("v") or p.flag("c")):
            await ctx.out(
                f"mode of {q(path)} changed from {_octal_desc(st.st_mode)} to "
                f"{_octal_desc(full_new)}\n"
            )
        elif p.flag("v"):
            await ctx.out(f"mode of {q(path)} retained as {_octal_desc(st.st_mode)}\n")
        if (
            p.flag("R")
            and st.is_dir()
            and not lst.is_symlink()
            and not await visit_children(ctx, path, one)
        ):
            status = 1

    for path in ops:
        await one(path, True)
    return status


CHOWN_HELP = """Usage: chown [OPTION]... [OWNER][:[GROUP]] FILE...
  or:  chown [OPTION]... --reference=RFILE FILE...
Change the owner and/or group of each FILE to OWNER and/or GROUP (names from /etc/passwd and
/etc/group, or numeric ids).

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -h, --no-dereference   affect symbolic links instead of any referenced file
  -R, --recursive        operate on files and directories recursively
"""

CHGRP_HELP = """Usage: chgrp [OPTION]... GROUP FILE...
  or:  chgrp [OPTION]... --reference=RFILE FILE...
Change the group of each FILE to GROUP.

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -h, --no-dereference   affect symbolic links instead of any referenced file
  -R, --recursive        operate on files and directories recursively
"""


async def _chown_common(ctx: Context, is_chgrp: bool) -> int:
    name = "chgrp" if is_chgrp else "chown"
    spec = [
        Opt("c", "changes"),
        Opt("f", "silent"),
        Opt("", "quiet", dest="f"),
        Opt("v", "verbose"),
        Opt("h", "no-dereference"),
        Opt("", "dereference"),
        Opt("R", "recursive"),
        Opt("", "reference", "required"),
        Opt("H"),
        Opt("L"),
        Opt("P"),
        Opt("", "from", "required"),
        Opt("", "preserve-root"),
        Opt("", "no-preserve-root"),
    ]
    p = await _start(ctx, spec, CHGRP_HELP if is_chgrp else CHOWN_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    uids, unames, gids, gnames = user_maps(fs)
    ops = list(p.operands)
    uid, gid = -1, -1
    ref = p.str("reference")
    spec_text = ""
    if ref is not None:
        try:
            rst = fs.stat(ref)
        except OSError as exc:
            await ctx.err(f"failed to get attributes of {q(ref)}: {strerror(exc)}")
            return 1
        uid = -1 if is_chgrp else rst.st_uid
        gid = rst.st_gid
    else:
        if not ops:
            return await report(ctx, missing_operand(ctx))
        spec_text = ops.pop(0)
        if is_chgrp:
            g = spec_text
            if g.isdigit():
                gid = int(g)
            elif g in gnames:
                gid = gnames[g]
            else:
                await ctx.err(f"invalid group: {q(g)}")
                return 1
        else:
            user, sep, group = spec_text.partition(":")
            if not sep and "." in spec_text and spec_text not in unames:
                user, sep, group = spec_text.partition(".")
            if user:
                if user.isdigit():
                    uid = int(user)
                elif user in unames:
                    uid = unames[user]
                else:
                    await ctx.err(f"invalid user: {q(spec_text)}")
                    return 1
            if group:
                if group.isdigit():
                    gid = int(group)
                elif group in gnames:
                    gid = gnames[group]
                else:
                    await ctx.err(f"invalid group: {q(spec_text)}")
                    return 1
            elif sep and user:
                # "user:" means the user's login group
                try:
                    for line in fs.read_text("/etc/passwd").splitlines():
                        parts = line.split(":")
                        if len(parts) > 3 and parts[0] == user and parts[3].isdigit():
                            gid = int(parts[3])
                            break
                except OSError:
                    pass
    if not ops:
        after = spec_text or (ref or "")
        return await report(
            ctx,
            UsageError(
                f"{name}: missing operand after {q(after)}\n"
                f"Try '{name} --help' for more information."
            ),
        )
    follow = not p.flag("h")
    status = 0
    quiet = p.flag("f")

    def uname(n: int) -> str:
        return uids.get(n, str(n))

    def gname(n: int) -> str:
        return gids.get(n, str(n))

    async def one(path: str, top: bool) -> None:
        nonlocal status
        ctx.check_killed()
        try:
            lst = fs.lstat(path)
            st = fs.stat(path) if (follow and (top or not p.flag("R"))) else lst
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            status = 1
            return
        new_uid = st.st_uid if uid == -1 else uid
        new_gid = st.st_gid if gid == -1 else gid
        try:
            fs.chown(path, uid, gid, follow_symlinks=follow and not (lst.is_symlink() and not top))
        except OSError as exc:
            if not quiet:
                what = "group" if is_chgrp else "ownership"
                await ctx.err(f"changing {what} of {q(path)}: {strerror(exc)}")
            status = 1
            return
        changed = (new_uid, new_gid) != (st.st_uid, st.st_gid)
        if p.flag("v") or (p.flag("c") and changed):
            if is_chgrp:
                if changed:
                    await ctx.out(
                        f"changed group of {q(path)} from {gname(st.st_gid)} to {gname(new_gid)}\n"
                    )
                else:
                    await ctx.out(f"group of {q(path)} retained as {gname(st.st_gid)}\n")
            else:
                old = uname(st.st_uid) + (":" + gname(st.st_gid) if gid != -1 else "")
                new = uname(new_uid) + (":" + gname(new_gid) if gid != -1 else "")
                if changed:
                    await ctx.out(f"changed ownership of {q(path)} from {old} to {new}\n")
                else:
                    await ctx.out(f"ownership of {q(path)} retained as {new}\n")
        if p.flag("R") and lst.is_dir() and not await visit_children(ctx, path, one):
            status = 1

    for path in ops:
        await one(path, True)
    return status


@command("chown")
async def chown(ctx: Context) -> int:
    return await _chown_common(ctx, False)


@command("chgrp")
async def chgrp(ctx: Context) -> int:
    return await _chown_common(ctx, True)


# --------------------------------------------------------------------------------------------
# stat
# --------------------------------------------------------------------------------------------

STAT_HELP = """Usage: stat [OPTION]... FILE...
Display file or file system status.

  -L, --dereference     follow links
  -c  --format=FORMAT   use the specified FORMAT instead of the default;
                          output a newline after each use of FORMAT
      --printf=FORMAT   like --format, but interpret backslash escapes, and do not output a
                          mandatory trailing newline
  -t, --terse           print the information in terse form

Sequences: %a %A %b %B %d %D %f %F %g %G %h %i %m %n %N %o %s %t %T %u %U %w %W %x %X %y %Y
%z %Z %%
"""

STAT_DEFAULT = (
    "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n"
    "Device: %Hd,%Ld\tInode: %-10i  Links: %h\n"
    "Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n"
    "Access: %x\nModify: %y\nChange: %z\n Birth: %w\n"
)
STAT_DEFAULT_DEV = (
    "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n"
    "Device: %Hd,%Ld\tInode: %-10i  Links: %-5h Device type: %Hr,%Lr\n"
    "Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n"
    "Access: %x\nModify: %y\nChange: %z\n Birth: %w\n"
)
STAT_TERSE = "%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %W %o\n"

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "r": "\r",
    "v": "\v",
    '"': '"',
    "e": "\x1b",
}


def backslash_escapes(s: str) -> str:
    """Interpret C-style escapes (\\n, \\t, \\NNN octal, \\xHH) like stat --printf."""
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 >= len(s):
            out.append(c)
            i += 1
            continue
        n = s[i + 1]
        if n in _ESCAPES:
            out.append(_ESCAPES[n])
            i += 2
        elif n in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1 :])
            assert m
            out.append(chr(int(m.group(0), 8) & 0xFF))
            i += 1 + len(m.group(0))
        elif n == "x" and re.match(r"[0-9a-fA-F]", s[i + 2 : i + 3]):
            m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 2 :])
            assert m
            out.append(chr(int(m.group(0), 16)))
            i += 2 + len(m.group(0))
        else:
            out.append("\\" + n)
            i += 2
    return "".join(out)


def _pct_fmt(flags: str, width: str, prec: str, value: object) -> str:
    if isinstance(value, int):
        spec = "<" if "-" in flags else ""
        if "+" in flags:
            spec += "+"
        elif " " in flags:
            spec += " "
        if "0" in flags and "-" not in flags:
            spec += "0"
        spec += width
        return format(value, spec)
    s = str(value)
    if prec:
        s = s[: int(prec[1:] or 0)]
    if width:
        s = s.ljust(int(width)) if "-" in flags else s.rjust(int(width))
    return s


def stat_format(
    fmt: str,
    name: str,
    st: StatResult,
    fs: FsView,
    tz: tzinfo,
    maps: tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]],
) -> str:
    uids, _, gids, _ = maps
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = re.match(r"%([-#+ 0]*)(\d*)(\.\d*)?([HL]?)([a-zA-Z%])?", fmt[i:])
        assert m
        flags, width, prec, hl, d = m.groups()
        i += len(m.group(0))
        if d is None:
            out.append(m.group(0))
            continue
        if d == "%":
            out.append("%")
            continue
        val: object
        ma, mi = split_major_minor(st.st_dev)
        rma, rmi = split_major_minor(st.st_rdev)
        if d == "n":
            val = name
        elif d == "N":
            val = q(name)
            if st.is_symlink():
                try:
                    val = f"{q(name)} -> {q(fs.readlink(name))}"
                except OSError:
                    pass
        elif d == "s":
            val = st.st_size
        elif d == "a":
            if "#" in flags:
                val = f"0{st.st_mode & 0o7777:o}"
            else:
                v = st.st_mode & 0o7777
                val = format(v, "o")
                if "0" in flags and width:
                    val = val.rjust(int(width), "0")
                    width = ""
            flags = flags.replace("0", "")
        elif d == "A":
            val = mode_string(st.st_mode)
        elif d == "F":
            val = file_type_name(st)
        elif d == "f":
            val = format(st.st_mode, "x")
        elif d == "u":
            val = st.st_uid
        elif d == "g":
            val = st.st_gid
        elif d == "U":
            val = uids.get(st.st_uid, "UNKNOWN")
        elif d == "G":
            val = gids.get(st.st_gid, "UNKNOWN")
        elif d == "i":
            val = st.st_ino
        elif d == "h":
            val = st.st_nlink
        elif d == "b":
            val = st.st_blocks
        elif d == "B":
            val = 512
        elif d == "o":
            val = st.st_blksize
        elif d == "d":
            val = ma if hl == "H" else mi if hl == "L" else st.st_dev
        elif d == "D":
            val = format(st.st_dev, "x")
        elif d == "r":
            val = rma if hl == "H" else rmi if hl == "L" else st.st_rdev
        elif d == "R":
            val = format(st.st_rdev, "x")
        elif d == "t":
            val = format(rma, "x")
        elif d == "T":
            val = format(rmi, "x")
        elif d == "m":
            try:
                val = fs.mount_of(name)[0]
            except (OSError, AttributeError):
                val = "/"
        elif d in "xyzw":
            ns = {
                "x": st.st_atime_ns,
                "y": st.st_mtime_ns,
                "z": st.st_ctime_ns,
                "w": st.st_birthtime_ns,
            }[d]
            if d == "w" and not ns:
                val = "-"
            else:
                digits = 9 if not prec else min(9, int(prec[1:] or 0))
                val = fmt_ts(ns, tz, digits)
                prec = ""
        elif d in "XYZW":
            ns = {
                "X": st.st_atime_ns,
                "Y": st.st_mtime_ns,
                "Z": st.st_ctime_ns,
                "W": st.st_birthtime_ns,
            }[d]
            if prec:
                digits = min(9, int(prec[1:] or 0))
                whole = f"{ns // 1_000_000_000}"
                val = whole + ("." + f"{ns % 1_000_000_000:09d}"[:digits] if digits else "")
                prec = ""
            else:
                val = ns // 1_000_000_000
        else:
            out.append("?")
            continue
        out.append(_pct_fmt(flags, width, prec or "", val))
    return "".join(out)


@command("stat")
async def stat_cmd(ctx: Context) -> int:
    spec = [
        Opt("L", "dereference"),
        Opt("c", "format", "required"),
        Opt("", "printf", "required"),
        Opt("t", "terse"),
        Opt("f", "file-system"),
    ]
    p = await _start(ctx, spec, STAT_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    tz = tz_from_env(ctx.env)
    maps = user_maps(fs)
    fmt = p.str("c")
    if fmt is not None:
        fmt += "\n"
    pf = p.str("printf")
    if pf is not None:
        fmt = backslash_escapes(pf)
    status = 0
    for name in p.operands:
        ctx.check_killed()
        try:
            st = fs.stat(name) if p.flag("L") else fs.lstat(name)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(name)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("f"):
            try:
                kind = fs.mount_of(name)[1]
            except (OSError, AttributeError):
                kind = "memory"
            text = (
                f'  File: "{name}"\n    ID: 0        Namelen: 255     Type: {kind}\n'
                f"Block size: 4096       Fundamental block size: 4096\n"
            )
            await ctx.out(text)
            continue
        f = fmt
        if f is None:
            if p.flag("t"):
                f = STAT_TERSE
            elif S.S_ISCHR(st.st_mode) or S.S_ISBLK(st.st_mode):
                f = STAT_DEFAULT_DEV
            else:
                f = STAT_DEFAULT
        text = stat_format(f, name, st, fs, tz, maps)
        # the default form shows the plain name unless it is a link
        if fmt is None and not p.flag("t") and not st.is_symlink():
            text = text.replace(f"  File: {q(name)}\n", f"  File: {name}\n", 1)
        await ctx.out(text)
    return status


# --------------------------------------------------------------------------------------------
# readlink / realpath / basename / dirname
# --------------------------------------------------------------------------------------------


def canonicalize(fs: FsView, path: str, mode: str) -> str:
    """Resolve ``path`` like ``readlink -e`` (mode "e": all components must exist), ``-f``
    ("f": all but the last) or ``-m`` ("m": none need exist). Raises OSError."""
    absp = path if path.startswith("/") else fs.cwd.rstrip("/") + "/" + path
    todo = [c for c in absp.split("/") if c]
    todo.reverse()
    resolved = "/"
    links = 0
    missing = False
    trailing_slash = path.endswith("/") and len(path) > 1
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            resolved = posixpath.dirname(resolved) or "/"
            continue
        cand = resolved.rstrip("/") + "/" + comp
        if missing:
            resolved = cand
            continue
        try:
            st = fs.lstat(cand)
        except OSError as exc:
            last = not todo
            if mode == "m" or (mode == "f" and last and exc.errno == errno.ENOENT):
                missing = True
                resolved = cand
                continue
            raise OSError(exc.errno, strerror(exc), path) from None
        if st.is_symlink():
            links += 1
            if links > 40:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            target = fs.readlink(cand)
            if target.startswith("/"):
                resolved = "/"
            todo.extend(reversed([c for c in target.split("/") if c]))
            continue
        if todo and not st.is_dir():
            if mode == "m":
                missing = True
                resolved = cand
                continue
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if not todo and trailing_slash and not st.is_dir() and mode != "m":
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        resolved = cand
    return resolved


READLINK_HELP = """Usage: readlink [OPTION]... FILE...
Print value of a symbolic link or canonical file name.

  -f, --canonicalize            follow every symlink; all but the last component must exist
  -e, --canonicalize-existing   follow every symlink; all components must exist
  -m, --canonicalize-missing    follow every symlink; no component need exist
  -n, --no-newline              do not output the trailing delimiter
  -q, --quiet / -s, --silent    suppress most error messages (the default)
  -v, --verbose                 report error messages
  -z, --zero                    end each output line with NUL, not newline
"""


@command("readlink")
async def readlink(ctx: Context) -> int:
    spec = [
        Opt("f", "canonicalize"),
        Opt("e", "canonicalize-existing"),
        Opt("m", "canonicalize-missing"),
        Opt("n", "no-newline"),
        Opt("q", "quiet"),
        Opt("s", "silent"),
        Opt("v", "verbose"),
        Opt("z", "zero"),
    ]
    p = await _start(ctx, spec, READLINK_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = ""
    for k, _ in p.order:
        if k in ("f", "e", "m"):
            mode = k
    end = "\0" if p.flag("z") else "\n"
    no_nl = p.flag("n") and len(p.operands) == 1
    status = 0
    verbose = p.flag("v")
    for path in p.operands:
        try:
            if mode:
                res = canonicalize(ctx.fs, path, mode)
            else:
                res = ctx.fs.readlink(path)
        except OSError as exc:
            if verbose:
                await ctx.err(f"{path}: {strerror(exc)}")
            status = 1
            continue
        await ctx.out(res + ("" if no_nl else end))
    return status


REALPATH_HELP = """Usage: realpath [OPTION]... FILE...
Print the resolved absolute file name; all but the last component must exist.

  -e, --canonicalize-existing  all components of the path must exist
  -m, --canonicalize-missing   no path components need exist or be a directory
  -L, --logical                resolve '..' components before symlinks
  -P, --physical               resolve symlinks as encountered (default)
  -q, --quiet                  suppress most error messages
      --relative-to=DIR        print the resolved path relative to DIR
      --relative-base=DIR      print absolute paths unless paths below DIR
  -s, --strip, --no-symlinks   don't expand symlinks
  -z, --zero                   end each output line with NUL, not newline
"""


@command("realpath")
async def realpath(ctx: Context) -> int:
    spec = [
        Opt("e", "canonicalize-existing"),
        Opt("m", "canonicalize-missing"),
        Opt("E", "canonicalize"),
        Opt("L", "logical"),
        Opt("P", "physical"),
        Opt("q", "quiet"),
        Opt("", "relative-to", "required"),
        Opt("", "relative-base", "required"),
        Opt("s", "strip"),
        Opt("", "no-symlinks", dest="s"),
        Opt("z", "zero"),
    ]
    p = await _start(ctx, spec, REALPATH_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = "f"
    for k, _ in p.order:
        if k in ("e", "m"):
            mode = k
        elif k == "E":
            mode = "f"
    fs = ctx.fs

    def resolve(path: str) -> str:
        if p.flag("s") or p.flag("L"):
            absp = fs.abspath(path)
            if p.flag("s"):
                if mode == "e" and not fs.lexists(absp):
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
                return absp
            return canonicalize(fs, absp, mode)
        return canonicalize(fs, path, mode)

    rel_to = p.str("relative_to")
    rel_base = p.str("relative_base")
    try:
        rt = resolve(rel_to) if rel_to is not None else None
        rb = resolve(rel_base) if rel_base is not None else None
    except OSError as exc:
        await ctx.err(f"{exc.filename}: {strerror(exc)}")
        return 1
    if rb is not None and rt is None:
        rt = rb
    elif (
        rb is not None and rt is not None and not (rt == rb or rt.startswith(rb.rstrip("/") + "/"))
    ):
        rt = None
        rb = None
    end = "\0" if p.flag("z") else "\n"
    status = 0
    for path in p.operands:
        try:
            res = resolve(path)
        except OSError as exc:
            if not p.flag("q"):
                await ctx.err(f"{path}: {strerror(exc)}")
            status = 1
            continue
        if rt is not None:
            inside = rb is None or res == rb or res.startswith(rb.rstrip("/") + "/")
            if inside:
                res = posixpath.relpath(res, rt)
        await ctx.out(res + end)
    return status


BASENAME_HELP = """Usage: basename NAME [SUFFIX]
  or:  basename OPTION... NAME...
Print NAME with any leading directory components removed.
If specified, also remove a trailing SUFFIX.

  -a, --multiple       support multiple arguments and treat each as a NAME
  -s, --suffix=SUFFIX  remove a trailing SUFFIX; implies -a
  -z, --zero           end each output line with NUL, not newline
"""


def base_name(name: str, suffix: str = "") -> str:
    if not name:
        return ""
    stripped = name.rstrip("/")
    if not stripped:
        return "/"
    b = stripped.rsplit("/", 1)[-1]
    if suffix and b != suffix and b.endswith(suffix):
        b = b[: -len(suffix)]
    return b


@command("basename")
async def basename(ctx: Context) -> int:
    spec = [Opt("a", "multiple"), Opt("s", "suffix", "required"), Opt("z", "zero")]
    p = await _start(ctx, spec, BASENAME_HELP)
    if isinstance(p, int):
        return p
    ops = p.operands
    if not ops:
        return await report(ctx, missing_operand(ctx))
    suffix = p.str("s") or ""
    multiple = p.flag("a") or p.get("s") is not None
    end = "\0" if p.flag("z") else "\n"
    if not multiple:
        if len(ops) > 2:
            return await report(
                ctx,
                UsageError(
                    f"basename: extra operand {q(ops[2])}\nTry 'basename --help' for more "
                    "information."
                ),
            )
        if len(ops) == 2:
            suffix = ops[1]
        ops = ops[:1]
    await ctx.out("".join(base_name(o, suffix) + end for o in ops))
    return 0


DIRNAME_HELP = """Usage: dirname [OPTION] NAME...
Output each NAME with its last non-slash component and trailing slashes removed;
if NAME contains no /'s, output '.' (meaning the current directory).

  -z, --zero     end each output line with NUL, not newline
"""


def dir_name(name: str) -> str:
    s = name.rstrip("/")
    if not s:
        return "/" if name.startswith("/") else "."
    if "/" not in s:
        return "."
    d = s.rsplit("/", 1)[0].rstrip("/")
    return d or "/"


@command("dirname")
async def dirname(ctx: Context) -> int:
    try:
        p = _parse(ctx, [Opt("z", "zero")])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, DIRNAME_HELP)
    if not p.operands:
        return await report(ctx, missing_operand(ctx))
    end = "\0" if p.flag("z") else "\n"
    await ctx.out("".join(dir_name(o) + end for o in p.operands))
    return 0


# --------------------------------------------------------------------------------------------
# du / df
# --------------------------------------------------------------------------------------------

DU_HELP = """Usage: du [OPTION]... [FILE]...
Summarize disk usage of the set of FILEs, recursively for directories.

  -a, --all             write counts for all files, not just directories
      --apparent-size   print apparent sizes rather than disk usage
  -b, --bytes           equivalent to '--apparent-size --block-size=1'
  -c, --total           produce a grand total
  -d, --max-depth=N     print the total for a directory only if it is N or fewer levels deep
  -h, --human-readable  print sizes in human readable format (e.g., 1K 234M 2G)
  -k                    like --block-size=1K
  -m                    like --block-size=1M
  -s, --summarize       display only a total for each argument
  -L, --dereference     dereference all symbolic links
  -0, --null            end each output line with NUL, not newline
"""


@command("du")
async def du(ctx: Context) -> int:
    spec = [
        Opt("a", "all"),
        Opt("", "apparent-size"),
        Opt("b", "bytes"),
        Opt("c", "total"),
        Opt("d", "max-depth", "required"),
        Opt("h", "human-readable"),
        Opt("k"),
        Opt("m"),
        Opt("s", "summarize"),
        Opt("L", "dereference"),
        Opt("x"),
        Opt("0", "null"),
        Opt("", "si"),
        Opt("B", "block-size", "required"),
    ]
    p = await _start(ctx, spec, DU_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    apparent = p.flag("apparent_size") or p.flag("b")
    unit = 1024
    human = False
    for k, v in p.order:
        if k == "b":
            unit = 1
        elif k == "k":
            unit = 1024
        elif k == "m":
            unit = 1024 * 1024
        elif k in ("h", "si"):
            human = True
        elif k == "B":
            try:
                unit = parse_size(str(v), allow_b=False)
            except ValueError:
                await ctx.err(f"invalid --block-size argument {q(str(v))}")
                return 1
    max_depth: int | None = None
    md = p.str("d")
    if md is not None:
        if not md.isdigit():
            await ctx.err(f"invalid maximum depth {q(md)}")
            return 1
        max_depth = int(md)
    if p.flag("s"):
        if max_depth is not None and max_depth != 0:
            await ctx.err(f"warning: summarizing conflicts with --max-depth={max_depth}")
            await ctx.stderr.write(b"Try 'du --help' for more information.\n")
            return 1
        max_depth = 0
    end = "\0" if p.flag("0") else "\n"
    show_all = p.flag("a")
    seen: set[tuple[int, int]] = set()
    status = 0

    def size_of(st: StatResult) -> int:
        return st.st_size if apparent else st.st_blocks * 512

    def fmt(n: int) -> str:
        if human:
            return human_size(n, si=p.flag("si"))
        return str(-(-n // unit))

    async def walk(path: str, depth: int, top: bool) -> int:
        nonlocal status
        ctx.check_killed()
        try:
            st = fs.stat(path) if p.flag("L") else fs.lstat(path)
        except OSError as exc:
            await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            status = 1
            return 0
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and not st.is_dir():
            if key in seen:
                return 0
            seen.add(key)
        total = size_of(st)
        if st.is_dir():
            names = await read_dir_sorted(ctx, path)
            if names is None:
                status = 1
                names = []
            for n in names:
                total += await walk(child_path(path, n), depth + 1, False)
            if max_depth is None or depth <= max_depth:
                await ctx.out(f"{fmt(total)}\t{path}{end}")
        elif top or (show_all and (max_depth is None or depth <= max_depth)):
            await ctx.out(f"{fmt(total)}\t{path}{end}")
        return total

    grand = 0
    for path in p.operands or ["."]:
        grand += await walk(path, 0, True)
    if p.flag("c"):
        await ctx.out(f"{fmt(grand)}\ttotal{end}")
    return status


DF_HELP = """Usage: df [OPTION]... [FILE]...
Show information about the file system on which each FILE resides, or all file systems by
default. Figures are the VM's own: its size limit and the bytes its writable layers hold.

  -h, --human-readable  print sizes in powers of 1024 (e.g., 1023M)
  -H, --si              print sizes in powers of 1000 (e.g., 1.1G)
  -k                    like --block-size=1K
  -T, --print-type      print file system type
  -i, --inodes          list inode information instead of block usage
"""


def _mount_list(ctx: Context) -> list[tuple[str, str, bool]]:
    """(mount point, kind, read-only) for every mount the VFS exposes."""
    vfs = ctx.fs.vfs
    out: list[tuple[str, str, bool]] = []
    getter = getattr(vfs, "mount_points", None) or getattr(vfs, "list_mounts", None)
    try:
        points = list(getter()) if callable(getter) else list(getattr(vfs, "mounts", {}) or {})
    except Exception:  # noqa: BLE001 - any shape we do not know falls back to "/"
        points = []
    for mp in points:
        point = (
            mp
            if isinstance(mp, str)
            else getattr(mp, "path", None)
            or getattr(mp, "mount_point", None)
            or (mp[0] if isinstance(mp, tuple) else None)
        )
        if not isinstance(point, str):
            continue
        try:
            out.append(ctx.fs.mount_of(point))
        except (OSError, AttributeError):
            out.append((point, "memory", False))
    if not any(m[0] == "/" for m in out):
        try:
            out.insert(0, ctx.fs.mount_of("/"))
        except (OSError, AttributeError):
            out.insert(0, ("/", "memory", False))
    seen: set[str] = set()
    uniq = []
    for m in sorted(out, key=lambda m: m[0]):
        if m[0] not in seen:
            seen.add(m[0])
            uniq.append(m)
    return uniq


def _vm_usage(ctx: Context) -> tuple[int, int]:
    vfs = ctx.fs.vfs
    fn = getattr(vfs, "usage", None)
    if callable(fn):
        try:
            u = fn()
            if isinstance(u, tuple) and len(u) == 2:
                return int(u[0]), int(u[1])
        except Exception:  # noqa: BLE001
            pass
    return 0, 0


@command("df")
async def df(ctx: Context) -> int:
    spec = [
        Opt("h", "human-readable"),
        Opt("H", "si"),
        Opt("k"),
        Opt("T", "print-type"),
        Opt("i", "inodes"),
        Opt("a", "all"),
        Opt("l", "local"),
        Opt("P", "portability"),
        Opt("t", "type", "required", multiple=True),
        Opt("x", "exclude-type", "required", multiple=True),
    ]
    p = await _start(ctx, spec, DF_HELP)
    if isinstance(p, int):
        return p
    mounts = _mount_list(ctx)
    if p.operands:
        sel = []
        for f in p.operands:
            try:
                ctx.fs.stat(f)
                sel.append(ctx.fs.mount_of(f))
            except OSError as exc:
                await ctx.err(f"{f}: {strerror(exc)}")
            except AttributeError:
                sel.append(("/", "memory", False))
        if not sel:
            return 1
        mounts = sel
    used_b, used_i = _vm_usage(ctx)
    total_b = ctx.limits.max_fs_bytes
    total_i = ctx.limits.max_fs_inodes
    human = p.flag("h") or p.flag("H")
    si = p.flag("H")
    inodes = p.flag("i")
    rows: list[list[str]] = []
    if inodes:
        header = ["Filesystem", "Inodes", "IUsed", "IFree", "IUse%", "Mounted on"]
    elif human:
        header = ["Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"]
    else:
        header = ["Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on"]
    if p.flag("T"):
        header.insert(1, "Type")
    for point, kind, _ro in mounts:
        if point == "/":
            tot, used = (total_i, used_i) if inodes else (total_b, used_b)
        else:
            tot, used = (0, 0)
        avail = max(tot - used, 0)
        pct = "-" if tot == 0 else f"{-(-used * 100 // tot) if used else 0}%"
        if inodes:
            nums = [str(tot), str(used), str(avail)]
        elif human:
            nums = [human_size(x, si=si) if x else "0" for x in (tot, used, avail)]
        else:
            nums = [str(-(-x // 1024)) for x in (tot, used, avail)]
        row = ["pocketos" if point == "/" else kind, *nums, pct, point]
        if p.flag("T"):
            row.insert(1, kind)
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = max(widths[0], 14)
    first_num = 2 if p.flag("T") else 1
    for i in range(first_num, first_num + 3):
        widths[i] = max(widths[i], 5)
    lines = []
    for r in [header, *rows]:
        cells = []
        for i, cell in enumerate(r):
            if i == len(r) - 1:
                cells.append(cell)
            elif i == 0 or (p.flag("T") and i == 1):
                cells.append(cell.ljust(widths[i]))
            else:
                cells.append(cell.rjust(widths[i]))
        lines.append(" ".join(cells))
    await ctx.out("".join(line + "\n" for line in lines))
    return 0


# --------------------------------------------------------------------------------------------
# tree
# --------------------------------------------------------------------------------------------

TREE_HELP = """usage: tree [-adfC] [-L level] [--noreport] [--dirsfirst] [<directory list>]
  -a            All files are listed.
  -d            List directories only.
  -f            Print the full path prefix for each file.
  -L level      Descend only level directories deep.
  -C / -n       Colorization on / off (output is never coloured).
  --noreport    Turn off file/directory count at end of tree listing.
  --dirsfirst   List directories before files.
"""


@command("tree")
async def tree(ctx: Context) -> int:
    spec = [
        Opt("a"),
        Opt("d"),
        Opt("f"),
        Opt("L", "", "required"),
        Opt("C"),
        Opt("n"),
        Opt("", "noreport"),
        Opt("", "dirsfirst"),
        Opt("l"),
        Opt("r"),
        Opt("I", "", "required", multiple=True),
        Opt("P", "", "required", multiple=True),
    ]
    p = await _start(ctx, spec, TREE_HELP, status=2)
    if isinstance(p, int):
        return p
    level: int | None = None
    lv = p.str("L")
    if lv is not None:
        if not lv.isdigit() or int(lv) < 1:
            await ctx.stderr.write(b"tree: Invalid level, must be greater than 0.\n")
            return 2
        level = int(lv)
    ignore = p.list("I")
    pattern = p.list("P")
    fs = ctx.fs
    ndirs = 0
    nfiles = 0
    lines: list[str] = []
    status = 0

    def matches(pats: list[str], name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, alt) for pat in pats for alt in pat.split("|"))

    def walk(path: str, prefix: str, depth: int) -> None:
        nonlocal ndirs, nfiles
        ctx.check_killed()
        try:
            names = fs.listdir(path)
        except OSError:
            return
        if not p.flag("a"):
            names = [n for n in names if not n.startswith(".")]
        ents = []
        for n in names:
            child = child_path(path, n)
            try:
                lst = fs.lstat(child)
            except OSError:
                continue
            try:
                st = fs.stat(child)
            except OSError:
                st = lst
            is_dir = st.is_dir()
            if ignore and matches(ignore, n):
                continue
            if p.flag("d") and not is_dir:
                continue
            if pattern and not is_dir and not matches(pattern, n):
                continue
            ents.append((n, child, lst, is_dir))
        ents.sort(key=lambda e: C_key(e[0]), reverse=p.flag("r"))
        if p.flag("dirsfirst"):
            ents.sort(key=lambda e: not e[3])
        for i, (n, child, lst, is_dir) in enumerate(ents):
            last = i == len(ents) - 1
            shown = child if p.flag("f") else n
            if lst.is_symlink():
                try:
                    shown += " -> " + fs.readlink(child)
                except OSError:
                    pass
            lines.append(prefix + ("└── " if last else "├── ") + shown)
            if is_dir:
                ndirs += 1
                if (not lst.is_symlink() or p.flag("l")) and (level is None or depth + 1 < level):
                    walk(child, prefix + ("    " if last else "│   "), depth + 1)
            else:
                nfiles += 1

    for top in p.operands or ["."]:
        try:
            st = fs.stat(top)
        except OSError:
            st = None
        if st is None or not st.is_dir():
            kind = "error opening dir" if st is None else "error opening dir"
            lines.append(f"{top}  [{kind}]")
            status = 2
            if st is not None:
                nfiles += 1
            continue
        lines.append(top)
        walk(top, "", 0)
    if not p.flag("noreport"):
        lines.append("")
        d = f"{ndirs} director{'y' if ndirs == 1 else 'ies'}"
        if p.flag("d"):
            lines.append(d)
        else:
            lines.append(f"{d}, {nfiles} file{'' if nfiles == 1 else 's'}")
    await ctx.out("".join(line + "\n" for line in lines))
    return status


# --------------------------------------------------------------------------------------------
# file
# --------------------------------------------------------------------------------------------

FILE_HELP = """Usage: file [OPTION...] [FILE...]
Determine type of FILEs from their first bytes (common formats only).

  -b, --brief                do not prepend filenames to output lines
  -i, --mime                 output MIME type strings
      --mime-type            output the MIME type only
  -L, --dereference          follow symlinks
  -h, --no-dereference       don't follow symlinks (default)
  -N, --no-pad               do not pad filenames so they align in the output
  -0, --print0               terminate filenames with ASCII NUL
"""

_INTERPRETERS: dict[str, tuple[str, str]] = {
    "sh": ("POSIX shell script", "text/x-shellscript"),
    "dash": ("POSIX shell script", "text/x-shellscript"),
    "bash": ("Bourne-Again shell script", "text/x-shellscript"),
    "zsh": ("Paul Falstad's zsh script", "text/x-shellscript"),
    "python": ("Python script", "text/x-script.python"),
    "python2": ("Python script", "text/x-script.python"),
    "python3": ("Python script", "text/x-script.python"),
    "perl": ("Perl script", "text/x-perl"),
    "ruby": ("Ruby script", "text/x-ruby"),
    "node": ("Node.js script", "application/javascript"),
    "awk": ("awk script", "text/x-awk"),
    "gawk": ("GNU awk script", "text/x-awk"),
}


def _text_kind(data: bytes) -> tuple[str, str] | None:
    """(description, charset) for text, None for binary data."""
    if b"\x00" in data:
        return None
    ctrl = set(range(0, 32)) - {7, 8, 9, 10, 11, 12, 13, 27}
    if any(b in ctrl for b in data[:65536]):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if any(0x80 <= b < 0xA0 for b in data):
            return ("Non-ISO extended-ASCII text", "unknown-8bit")
        return ("ISO-8859 text", "iso-8859-1")
    if text.isascii():
        return ("ASCII text", "us-ascii")
    return ("Unicode text, UTF-8 text", "utf-8")


def _line_notes(data: bytes) -> str:
    notes = []
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    longest = max((len(x) for x in lines), default=0)
    if longest > 300:
        notes.append(f"with very long lines ({longest})")
    if b"\r\n" in data:
        notes.append("with CRLF line terminators")
    elif b"\r" in data and b"\n" not in data:
        notes.append("with CR line terminators")
    elif b"\n" not in data:
        notes.append("with no line terminators")
    return "".join(", " + n for n in notes)


def classify_bytes(data: bytes, size: int) -> tuple[str, str]:
    """(description, mime) for file contents (``data`` is the file's first bytes)."""
    if size == 0:
        return "empty", "inode/x-empty; charset=binary"
    if data.startswith(b"\x7fELF") and len(data) >= 20:
        bits = "64-bit" if data[4] == 2 else "32-bit"
        endian = "LSB" if data[5] == 1 else "MSB"
        etype = int.from_bytes(data[16:18], "little" if data[5] == 1 else "big")
        kind = {
            1: "relocatable",
            2: "executable",
            3: "pie executable" if True else "",
            4: "core file",
        }.get(etype, "unknown type")
        machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
        arch = {
            0x3E: "x86-64",
            0x03: "Intel 80386",
            0xB7: "ARM aarch64",
            0x28: "ARM",
            0xF3: "UCB RISC-V",
        }.get(machine, "unknown arch")
        mime = {
            1: "application/x-object",
            2: "application/x-executable",
            3: "application/x-pie-executable",
            4: "application/x-coredump",
        }.get(etype, "application/octet-stream")
        return f"ELF {bits} {endian} {kind}, {arch}", mime + "; charset=binary"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 26 and data[12:16] == b"IHDR":
        w = int.from_bytes(data[16:20], "big")
        h = int.from_bytes(data[20:24], "big")
        depth = data[24]
        ctype = {
            0: f"{depth}-bit grayscale",
            2: f"{depth}-bit/color RGB",
            3: f"{depth}-bit colormap",
            4: f"{depth}-bit gray+alpha",
            6: f"{depth}-bit/color RGBA",
        }.get(data[25], f"{depth}-bit")
        inter = "interlaced" if len(data) > 28 and data[28] else "non-interlaced"
        return f"PNG image data, {w} x {h}, {ctype}, {inter}", "image/png; charset=binary"
    if data.startswith(b"\x89PNG"):
        return "PNG image data", "image/png; charset=binary"
    if data.startswith(b"\xff\xd8\xff"):
        desc = "JPEG image data"
        if data[6:11] == b"JFIF\x00" and len(data) >= 13:
            desc += f", JFIF standard {data[11]}.{data[12]:02d}"
        elif data[6:11] == b"Exif\x00":
            desc += ", Exif standard"
        return desc, "image/jpeg; charset=binary"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        desc = f"GIF image data, version {data[3:6].decode()}"
        if len(data) >= 10:
            desc += (
                f", {int.from_bytes(data[6:8], 'little')} x {int.from_bytes(data[8:10], 'little')}"
            )
        return desc, "image/gif; charset=binary"
    if data.startswith(b"%PDF-"):
        m = re.match(rb"%PDF-(\d+\.\d+)", data)
        ver = m.group(1).decode() if m else "?"
        return f"PDF document, version {ver}", "application/pdf; charset=binary"
    if data.startswith(b"\x1f\x8b"):
        return "gzip compressed data", "application/gzip; charset=binary"
    if data.startswith(b"BZh") and len(data) > 3 and 0x31 <= data[3] <= 0x39:
        return (
            f"bzip2 compressed data, block size = {chr(data[3])}00k",
            "application/x-bzip2; charset=binary",
        )
    if data.startswith(b"\xfd7zXZ\x00"):
        return "XZ compressed data", "application/x-xz; charset=binary"
    if data.startswith(b"(\xb5/\xfd"):
        return "Zstandard compressed data", "application/zstd; charset=binary"
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7-zip archive data", "application/x-7z-compressed; charset=binary"
    if data.startswith(b"PK\x03\x04") and len(data) >= 6:
        v = int.from_bytes(data[4:6], "little")
        return (
            f"Zip archive data, at least v{v // 10}.{v % 10} to extract",
            "application/zip; charset=binary",
        )
    if data.startswith(b"PK\x05\x06"):
        return "Zip archive data (empty)", "application/zip; charset=binary"
    if len(data) >= 262 and data[257:262] == b"ustar":
        if data[257:265] == b"ustar  \x00":
            return "POSIX tar archive (GNU)", "application/x-tar; charset=binary"
        return "POSIX tar archive", "application/x-tar; charset=binary"
    if data.startswith(b"SQLite format 3\x00"):
        return "SQLite 3.x database", "application/vnd.sqlite3; charset=binary"
    if data.startswith(b"\x00asm"):
        return "WebAssembly (wasm) binary module", "application/wasm; charset=binary"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "RIFF (little-endian) data, Web/P image", "image/webp; charset=binary"
    tk = _text_kind(data)
    if tk is None:
        return "data", "application/octet-stream; charset=binary"
    desc, charset = tk
    notes = _line_notes(data)
    if data.startswith(b"#!"):
        first = data.split(b"\n", 1)[0][2:].decode("utf-8", "replace").strip().split()
        interp = ""
        if first:
            interp = first[0].rsplit("/", 1)[-1]
            if interp == "env" and len(first) > 1:
                interp = (
                    [a for a in first[1:] if not a.startswith("-")][0]
                    if any(not a.startswith("-") for a in first[1:])
                    else ""
                )
        name = re.sub(r"\d+(\.\d+)*$", "", interp) if interp not in _INTERPRETERS else interp
        if interp in _INTERPRETERS or name in _INTERPRETERS:
            kind, mime = _INTERPRETERS.get(interp) or _INTERPRETERS[name]
            if kind.startswith("Node.js"):
                return f"{kind} executable, {desc}{notes}", f"{mime}; charset={charset}"
            return f"{kind}, {desc} executable{notes}", f"{mime}; charset={charset}"
        return (
            f"a {' '.join(first)} script, {desc} executable{notes}",
            f"text/plain; charset={charset}",
        )
    stripped = data.lstrip()
    low = stripped[:256].lower()
    if low.startswith(b"<?xml"):
        m = re.match(rb"<\?xml\s+version=[\"'](\d+\.\d+)", stripped)
        ver = m.group(1).decode() if m else "1.0"
        return f"XML {ver} document, {desc}{notes}", f"text/xml; charset={charset}"
    if low.startswith(b"<!doctype html") or low.startswith(b"<html") or b"<html" in low[:64]:
        return f"HTML document, {desc}{notes}", f"text/html; charset={charset}"
    if stripped[:1] in (b"{", b"[") and size == len(data):
        try:
            json.loads(data.decode("utf-8"))
            return "JSON text data", f"application/json; charset={charset}"
        except ValueError:
            pass
    return f"{desc}{notes}", f"text/plain; charset={charset}"


@command("file")
async def file_cmd(ctx: Context) -> int:
    spec = [
        Opt("b", "brief"),
        Opt("i", "mime"),
        Opt("", "mime-type"),
        Opt("", "mime-encoding"),
        Opt("L", "dereference"),
        Opt("h", "no-dereference"),
        Opt("N", "no-pad"),
        Opt("0", "print0"),
        Opt("z", "uncompress"),
        Opt("f", "files-from", "required"),
        Opt("E"),
    ]
    p = await _start(ctx, spec, FILE_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    names = list(p.operands)
    ff = p.str("f")
    if ff is not None:
        try:
            data = (await ctx.stdin.read()) if ff == "-" else fs.read_bytes(ff)
        except OSError as exc:
            await ctx.err(f"Cannot open `{ff}' ({strerror(exc)})")
            return 1
        names += [ln.decode("utf-8", "surrogateescape") for ln in data.splitlines() if ln]
    if not names:
        await ctx.stderr.write(
            b"Usage: file [-bcCdEhikLlNnprsSvzZ0] [--apple] "
            b"[--extension] [--mime-encoding]\n"
            b"            [--mime-type] [-e <testname>] [-F <separator>] "
            b" [-f <namefile>]\n            [-m <magicfiles>] [-P <parameter=value>] "
            b"[--exclude-quiet]\n            <file> ...\n"
            b"       file -C [-m <magicfiles>]\n       file [--help]\n"
        )
        return 1
    follow = False
    for k, _ in p.order:
        if k == "L":
            follow = True
        elif k == "h":
            follow = False
    mime_mode = (
        "full"
        if p.flag("i")
        else "type"
        if p.flag("mime_type")
        else "enc"
        if p.flag("mime_encoding")
        else ""
    )
    results: list[tuple[str, str]] = []
    status = 0
    for name in names:
        ctx.check_killed()
        if name == "-":
            data = await ctx.stdin.read(1 << 20)
            desc, mime = classify_bytes(data, len(data))
            results.append(("/dev/stdin", desc if not mime_mode else mime))
            continue
        try:
            st = fs.stat(name) if follow else fs.lstat(name)
        except OSError as exc:
            if follow and fs.lexists(name):
                t = fs.readlink(name)
                desc, mime = f"broken symbolic link to {t}", "inode/symlink; charset=binary"
            else:
                desc = f"cannot open `{name}' ({strerror(exc)})"
                mime = desc
                status = 0
            results.append((name, desc if not mime_mode else mime))
            continue
        if st.is_dir():
            desc, mime = "directory", "inode/directory; charset=binary"
        elif st.is_symlink():
            try:
                t = fs.readlink(name)
            except OSError:
                t = "?"
            broken = not fs.exists(name)
            desc = f"{'broken ' if broken else ''}symbolic link to {t}"
            mime = "inode/symlink; charset=binary"
        elif S.S_ISCHR(st.st_mode):
            ma, mi = split_major_minor(st.st_rdev)
            desc, mime = f"character special ({ma}/{mi})", "inode/chardevice; charset=binary"
        elif S.S_ISFIFO(st.st_mode):
            desc, mime = "fifo (named pipe)", "inode/fifo; charset=binary"
        else:
            try:
                with fs.open(name, "rb") as fh:
                    data = fh.read(1 << 20)
            except OSError as exc:
                desc = f"cannot open `{name}' ({strerror(exc)})"
                results.append((name, desc))
                continue
            desc, mime = classify_bytes(data, st.st_size)
        if mime_mode == "type":
            out = mime.split(";")[0]
        elif mime_mode == "enc":
            out = mime.split("charset=")[-1]
        elif mime_mode:
            out = mime
        else:
            out = desc
        results.append((name, out))
    width = max(len(n) for n, _ in results) + 1
    lines = []
    for n, d in results:
        if p.flag("b"):
            lines.append(d)
        elif p.flag("0"):
            lines.append(f"{n}\0{d}")
        elif p.flag("N"):
            lines.append(f"{n}: {d}")
        else:
            lines.append(f"{(n + ':').ljust(width)} {d}")
    await ctx.out("".join(line + "\n" for line in lines))
    return status


# --------------------------------------------------------------------------------------------
# mktemp
# --------------------------------------------------------------------------------------------

MKTEMP_HELP = """Usage: mktemp [OPTION]... [TEMPLATE]
Create a temporary file or directory, safely, and print its name.
TEMPLATE must contain at least 3 consecutive 'X's in last component.
If TEMPLATE is not specified, use tmp.XXXXXXXXXX, and --tmpdir is implied.

  -d, --directory     create a directory, not a file
  -u, --dry-run       do not create anything; merely print a name (unsafe)
  -q, --quiet         suppress diagnostics about file/dir-creation failure
      --suffix=SUFF   append SUFF to TEMPLATE
  -p DIR, --tmpdir[=DIR]  interpret TEMPLATE relative to DIR ($TMPDIR, else /tmp)
  -t                  interpret TEMPLATE as a single file name component, relative to a directory
"""

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@command("mktemp")
async def mktemp(ctx: Context) -> int:
    spec = [
        Opt("d", "directory"),
        Opt("u", "dry-run"),
        Opt("q", "quiet"),
        Opt("", "suffix", "required"),
        Opt("p", "", "required", dest="tmpdir_p"),
        Opt("", "tmpdir", "optional"),
        Opt("t"),
    ]
    p = await _start(ctx, spec, MKTEMP_HELP)
    if isinstance(p, int):
        return p
    if len(p.operands) > 1:
        return await report(
            ctx, UsageError("mktemp: too many templates\nTry 'mktemp --help' for more information.")
        )
    quiet = p.flag("q")
    template = p.operands[0] if p.operands else None
    tmpdir_opt = p.get("tmpdir")
    pdir = p.str("tmpdir_p")
    use_dir: str | None = None
    if pdir is not None:
        use_dir = pdir
    elif tmpdir_opt is not None:
        use_dir = tmpdir_opt if isinstance(tmpdir_opt, str) and tmpdir_opt else ""
    if template is None:
        template = "tmp.XXXXXXXXXX"
        if use_dir is None:
            use_dir = ""
    elif p.flag("t") and use_dir is None:
        use_dir = ""
    suffix = p.str("suffix") or ""
    if suffix and "/" in suffix:
        await ctx.err(f"invalid suffix {q(suffix)}, contains directory separator")
        return 1
    if not suffix:
        m = re.search(r"X*$", template)
        tail_x = m.group(0) if m else ""
        if not tail_x:
            # GNU: X's must end the template unless --suffix is given
            idx = template.rfind("X")
            if idx >= 0 and template[: idx + 1].endswith("XXX"):
                suffix = template[idx + 1 :]
                template = template[: idx + 1]
    if use_dir is not None:
        if (
            "/" in template
            and template.startswith("/")
            and (p.flag("t") or pdir is not None or tmpdir_opt is not None)
        ):
            await ctx.err(f"invalid template, {q(template)}; with --tmpdir, it may not be absolute")
            return 1
        base = use_dir or ctx.env.get("TMPDIR") or "/tmp"
        if p.flag("t") and pdir is None and not isinstance(tmpdir_opt, str):
            base = ctx.env.get("TMPDIR") or "/tmp"
        template = base.rstrip("/") + "/" + template
    m = re.search(r"X{3,}$", template)
    if not m or "/" in template[m.start() :]:
        await ctx.err(f"too few X's in template {q(template + suffix)}")
        return 1
    head = template[: m.start()]
    nx = len(m.group(0))
    fs = ctx.fs
    for _ in range(100):
        name = head + "".join(secrets.choice(_ALNUM) for _ in range(nx)) + suffix
        if p.flag("u"):
            if fs.lexists(name):
                continue
            await ctx.out(name + "\n")
            return 0
        try:
            if p.flag("d"):
                fs.mkdir(name, mode=0o700)
            else:
                fs.write_bytes(name, b"", mode=0o600, exclusive=True)
        except FileExistsError:
            continue
        except OSError as exc:
            if not quiet:
                what = "directory" if p.flag("d") else "file"
                await ctx.err(
                    f"failed to create {what} via template "
                    f"{q(head + 'X' * nx + suffix)}: {strerror(exc)}"
                )
            return 1
        try:
            fs.chmod(name, 0o700 if p.flag("d") else 0o600)
        except OSError:
            pass
        await ctx.out(name + "\n")
        return 0
    if not quiet:
        await ctx.err(f"failed to create file via template {q(template)}: File exists")
    return 1


# --------------------------------------------------------------------------------------------
# truncate
# --------------------------------------------------------------------------------------------

TRUNCATE_HELP = """Usage: truncate OPTION... FILE...
Shrink or extend the size of each FILE to the specified size.
A FILE argument that does not exist is created.

  -c, --no-create        do not create any files
  -o, --io-blocks        treat SIZE as number of IO blocks instead of bytes
  -r, --reference=RFILE  base size on RFILE
  -s, --size=SIZE        set or adjust the file size by SIZE bytes

SIZE may have a prefix: '+' extend by, '-' reduce by, '<' at most, '>' at least,
'/' round down to multiple of, '%' round up to multiple of; and a suffix K, M, G (1024) or
KB, MB, GB (1000).
"""


@command("truncate")
async def truncate(ctx: Context) -> int:
    spec = [
        Opt("c", "no-create"),
        Opt("o", "io-blocks"),
        Opt("r", "reference", "required"),
        Opt("s", "size", "required"),
    ]
    p = await _start(ctx, spec, TRUNCATE_HELP)
    if isinstance(p, int):
        return p
    size_s = p.str("s")
    ref = p.str("r")
    if size_s is None and ref is None:
        return await report(
            ctx,
            UsageError(
                "truncate: you must specify either '--size' or '--reference'\n"
                "Try 'truncate --help' for more information."
            ),
        )
    if not p.operands:
        return await report(
            ctx,
            UsageError(
                "truncate: missing file operand\nTry 'truncate --help' for more information."
            ),
        )
    fs = ctx.fs
    op = ""
    amount = 0
    if size_s is not None:
        s = size_s
        if s and s[0] in "+-<>/%":
            op, s = s[0], s[1:]
        try:
            amount = parse_size(s, allow_b=False)
        except ValueError:
            await ctx.err(f"Invalid number: {q(size_s)}")
            return 1
        if p.flag("o"):
            amount *= 4096
        if op in "/%" and op and amount == 0:
            await ctx.err("division by zero")
            return 1
    ref_size: int | None = None
    if ref is not None:
        try:
            ref_size = fs.stat(ref).st_size
        except OSError as exc:
            await ctx.err(f"cannot stat {q(ref)}: {strerror(exc)}")
            return 1
    status = 0
    for f in p.operands:
        try:
            try:
                cur = fs.stat(f).st_size
            except FileNotFoundError:
                if p.flag("c"):
                    continue
                fs.write_bytes(f, b"", append=True)
                cur = 0
            base = ref_size if ref_size is not None else cur
            if size_s is None:
                new = base
            elif op == "+":
                new = base + amount
            elif op == "-":
                new = max(0, base - amount)
            elif op == "<":
                new = min(base, amount)
            elif op == ">":
                new = max(base, amount)
            elif op == "/":
                new = base // amount * amount
            elif op == "%":
                new = -(-base // amount) * amount
            else:
                new = amount
            fs.truncate(f, new)
        except OSError as exc:
            await ctx.err(f"cannot open {q(f)} for writing: {strerror(exc)}")
            status = 1
    return status


# --------------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------------

SPLIT_HELP = """Usage: split [OPTION]... [FILE [PREFIX]]
Output pieces of FILE to PREFIXaa, PREFIXab, ...; default size is 1000 lines, and default
PREFIX is 'x'. With no FILE, or when FILE is -, read standard input.

  -a, --suffix-length=N   generate suffixes of length N (default 2)
      --additional-suffix=SUFFIX  append an additional SUFFIX to file names
  -b, --bytes=SIZE        put SIZE bytes per output file
  -C, --line-bytes=SIZE   put at most SIZE bytes of records per output file
  -d                      use numeric suffixes starting at 0, not alphabetic
  -x                      use hex suffixes starting at 0, not alphabetic
  -e, --elide-empty-files  do not generate empty output files with '-n'
  -l, --lines=NUMBER      put NUMBER lines/records per output file
  -n, --number=CHUNKS     generate CHUNKS output files (N, K/N, l/N, l/K/N)
      --verbose           print a diagnostic just before each output file is opened
"""


def _suffixes(length: int | None, alphabet: str, start: int = 0) -> Iterator[str]:
    """Output file suffixes. With no fixed length they widen like GNU: aa..yz, zaaa..zyzz, ..."""
    n = len(alphabet)

    def word(i: int, width: int) -> str:
        chars = []
        for _ in range(width):
            chars.append(alphabet[i % n])
            i //= n
        return "".join(reversed(chars))

    if length is not None:
        for i in range(start, n**length):
            yield word(i, length)
        return
    k = 0
    while True:
        lead = alphabet[-1] * k
        for i in range((n - 1) * n ** (k + 1)):
            yield lead + word(i, k + 2)
        k += 1


@command("split")
async def split(ctx: Context) -> int:
    spec = [
        Opt("a", "suffix-length", "required"),
        Opt("", "additional-suffix", "required"),
        Opt("b", "bytes", "required"),
        Opt("C", "line-bytes", "required"),
        Opt("d", "", "optional", dest="d"),
        Opt("", "numeric-suffixes", "optional", dest="d"),
        Opt("x", "", "optional", dest="x"),
        Opt("", "hex-suffixes", "optional", dest="x"),
        Opt("e", "elide-empty-files"),
        Opt("l", "lines", "required"),
        Opt("n", "number", "required"),
        Opt("", "verbose"),
        Opt("t", "separator", "required"),
        Opt("u", "unbuffered"),
    ]
    p = await _start(ctx, spec, SPLIT_HELP)
    if isinstance(p, int):
        return p
    ops = p.operands
    if len(ops) > 2:
        return await report(
            ctx,
            UsageError(
                f"split: extra operand {q(ops[2])}\nTry 'split --help' for more information."
            ),
        )
    infile = ops[0] if ops else "-"
    prefix = ops[1] if len(ops) > 1 else "x"
    extra = p.str("additional_suffix") or ""
    alen: int | None = None
    if p.str("a") is not None:
        a = p.str("a") or ""
        # a file name holds at most 255 bytes: a longer suffix could never be created
        if not a.isdigit() or len(a) > 4 or int(a) > 255:
            await ctx.err(f"invalid suffix length: {q(a)}")
            return 1
        alen = int(a)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    start = 0
    if p.get("d") is not None:
        alphabet = "0123456789"
        dv = p.get("d")
        if isinstance(dv, str) and dv.isdigit():
            start = int(dv)
    if p.get("x") is not None:
        alphabet = "0123456789abcdef"
        xv = p.get("x")
        if isinstance(xv, str):
            start = int(xv, 16)
    sep = (p.str("t") or "\n").encode("utf-8", "surrogateescape")
    if sep == b"\\0":
        sep = b"\0"
    mode = "l"
    amount = 1000
    try:
        if p.str("l") is not None:
            mode, amount = "l", parse_size(p.str("l") or "", allow_b=False)
        if p.str("b") is not None:
            mode, amount = "b", parse_size(p.str("b") or "")
        if p.str("C") is not None:
            mode, amount = "C", parse_size(p.str("C") or "")
    except ValueError:
        bad = p.str("l") or p.str("b") or p.str("C") or ""
        await ctx.err(
            f"invalid number of lines: {q(bad)}"
            if mode == "l"
            else f"invalid number of bytes: {q(bad)}"
        )
        return 1
    number = p.str("n")
    if amount <= 0:
        await ctx.err(f"invalid number of {'lines' if mode == 'l' else 'bytes'}: '0'")
        return 1
    fs = ctx.fs
    if alen is None and (start or number):
        alen = 2
        if number is not None:
            m0 = re.search(r"(\d+)$", number)
            chunks = int(m0.group(1)) if m0 else 1
            while len(alphabet) ** alen < chunks + start:
                alen += 1
    if alen is not None:
        sfx = _suffixes(alen, alphabet, start)
    else:
        sfx = _suffixes(alen, alphabet)
    created: list[str] = []

    async def new_name() -> str | None:
        s = next(sfx, None)
        if s is None:
            await ctx.err("output file suffixes exhausted")
            return None
        name = prefix + s + extra
        if p.flag("verbose"):
            await ctx.out(f"creating file {q(name)}\n")
        created.append(name)
        return name

    try:
        if infile == "-":
            data = await ctx.stdin.read()
        else:
            data = fs.read_bytes(infile)
    except OSError as exc:
        await ctx.err(f"cannot open {q(infile)} for reading: {strerror(exc)}")
        return 1
    pieces: list[bytes] = []
    if number is not None:
        m = re.fullmatch(r"(?:(l|r)/)?(?:(\d+)/)?(\d+)", number)
        if (
            not m
            or len(m.group(3)) > 18
            or int(m.group(3)) == 0
            or int(m.group(3)) > ctx.limits.max_fs_inodes
        ):
            # each chunk is a file: more chunks than the VM has inodes can never be written
            await ctx.err(f"invalid number of chunks: {q(number)}")
            return 1
        kind, kth, n = m.group(1), m.group(2), int(m.group(3))
        size = len(data)
        if kind == "r":
            recs = _records(data, sep)
            buckets: list[list[bytes]] = [[] for _ in range(n)]
            for i, r in enumerate(recs):
                buckets[i % n].append(r)
            pieces = [b"".join(b) for b in buckets]
        elif kind == "l":
            pieces = []
            pos = 0
            for i in range(n):
                end = size if i == n - 1 else (i + 1) * (size // n)
                if end < pos:
                    end = pos
                # extend to the end of the record
                if i < n - 1:
                    nl = data.find(sep, max(end - 1, pos))
                    end = size if nl < 0 else nl + len(sep)
                pieces.append(data[pos:end])
                pos = end
        else:
            pieces = []
            for i in range(n):
                lo = i * (size // n)
                hi = size if i == n - 1 else (i + 1) * (size // n)
                pieces.append(data[lo:hi])
        if kth is not None:
            k = int(kth)
            if k < 1 or k > n:
                await ctx.err(f"invalid chunk number: {q(kth)}")
                return 1
            await ctx.out(pieces[k - 1])
            return 0
        for piece in pieces:
            if not piece and p.flag("e"):
                continue
            name = await new_name()
            if name is None:
                return 1
            fs.write_bytes(name, piece)
        return 0
    if mode == "b":
        pieces = [data[i : i + amount] for i in range(0, len(data), amount)]
    elif mode == "l":
        recs = _records(data, sep)
        pieces = [b"".join(recs[i : i + amount]) for i in range(0, len(recs), amount)]
    else:
        recs = _records(data, sep)
        cur = b""
        for r in recs:
            while len(r) > amount:
                if cur:
                    pieces.append(cur)
                    cur = b""
                pieces.append(r[:amount])
                r = r[amount:]
            if len(cur) + len(r) > amount:
                pieces.append(cur)
                cur = b""
            cur += r
        if cur:
            pieces.append(cur)
    for piece in pieces:
        ctx.check_killed()
        name = await new_name()
        if name is None:
            return 1
        try:
            fs.write_bytes(name, piece)
        except OSError as exc:
            await ctx.err(f"{name}: {strerror(exc)}")
            return 1
    return 0


def _records(data: bytes, sep: bytes) -> list[bytes]:
    parts = data.split(sep)
    recs = [x + sep for x in parts[:-1]]
    if parts[-1]:
        recs.append(parts[-1])
    return recs


# --------------------------------------------------------------------------------------------
# dd
# --------------------------------------------------------------------------------------------

DD_HELP = """Usage: dd [OPERAND]...
Copy a file, converting and formatting according to the operands.

  bs=BYTES        read and write up to BYTES bytes at a time (default: 512)
  cbs=BYTES       convert BYTES bytes at a time
  conv=CONVS      convert the file as per the comma separated symbol list
  count=N         copy only N input blocks
  ibs=BYTES       read up to BYTES bytes at a time (default: 512)
  if=FILE         read from FILE instead of stdin
  iflag=FLAGS     read as per the comma separated symbol list (skip_bytes, count_bytes)
  obs=BYTES       write BYTES bytes at a time (default: 512)
  of=FILE         write to FILE instead of stdout
  oflag=FLAGS     write as per the comma separated symbol list (append, seek_bytes)
  seek=N          skip N obs-sized blocks at start of output
  skip=N          skip N ibs-sized blocks at start of input
  status=LEVEL    none, noxfer or progress

CONVS: notrunc, ucase, lcase, sync, noerror, fsync, fdatasync, excl, nocreat, swab.
N and BYTES may be followed by c=1, w=2, b=512, kB=1000, K=1024, MB, M, GB, G ...
"""


def _dd_number(text: str) -> int:
    total = 1
    for part in text.split("x"):
        m = re.fullmatch(r"(\d+)(c|w|b|kB|K|KiB|MB|M|MiB|GB|G|GiB|TB|T|TiB|k)?", part)
        if not m:
            raise ValueError(text)
        n = int(m.group(1))
        suf = m.group(2) or ""
        mult = {
            "": 1,
            "c": 1,
            "w": 2,
            "b": 512,
            "kB": 1000,
            "K": 1024,
            "k": 1024,
            "KiB": 1024,
            "MB": 1000**2,
            "M": 1024**2,
            "MiB": 1024**2,
            "GB": 1000**3,
            "G": 1024**3,
            "GiB": 1024**3,
            "TB": 1000**4,
            "T": 1024**4,
            "TiB": 1024**4,
        }[suf]
        total *= n * mult
    return total


def _dd_rate(nbytes: int, secs: float) -> str:
    if secs <= 0:
        return "Infinity B/s"
    rate = nbytes / secs
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if rate < 1000 or unit == "TB":
            return f"{rate:.3g} {unit}/s"
        rate /= 1000
    return ""  # pragma: no cover


def _dd_amount(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    si = n
    su = ""
    for u in ("kB", "MB", "GB", "TB", "PB"):
        if si < 1000:
            break
        si /= 1000  # type: ignore[assignment]
        su = u
    bi = n
    bu = ""
    for u in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if bi < 1024:
            break
        bi /= 1024  # type: ignore[assignment]
        bu = u

    def g(v: float) -> str:
        return f"{v:.1f}" if v < 10 else f"{v:.0f}"

    if n < 1024:
        return f"{n} bytes ({g(si)} {su}) "[:-1]
    return f"{n} bytes ({g(si)} {su}, {g(bi)} {bu})"


@command("dd")
async def dd(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args and args[0] == "--help":
        return await show_help(ctx, DD_HELP)
    opts: dict[str, str] = {}
    for a in args:
        if a == "--":
            continue
        if a.startswith("-") and "=" not in a:
            if a.startswith("--"):
                msg = f"dd: unrecognized option '{a}'"
            else:
                msg = f"dd: invalid option -- '{a[1:2]}'"
            return await report(ctx, UsageError(msg + "\nTry 'dd --help' for more information."))
        k, eq, v = a.partition("=")
        if not eq or k not in (
            "if",
            "of",
            "bs",
            "ibs",
            "obs",
            "cbs",
            "count",
            "skip",
            "seek",
            "conv",
            "status",
            "iflag",
            "oflag",
            "iseek",
            "oseek",
        ):
            await ctx.err(f"unrecognized operand {q(a)}")
            await ctx.stderr.write(b"Try 'dd --help' for more information.\n")
            return 1
        opts[k] = v
    try:
        ibs = _dd_number(opts.get("ibs", "512"))
        obs = _dd_number(opts.get("obs", "512"))
        if "bs" in opts:
            ibs = obs = _dd_number(opts["bs"])
        count = _dd_number(opts["count"]) if "count" in opts else None
        skip = _dd_number(opts.get("skip", opts.get("iseek", "0")))
        seek = _dd_number(opts.get("seek", opts.get("oseek", "0")))
    except ValueError as exc:
        await ctx.err(f"invalid number: {q(str(exc))}")
        return 1
    if ibs <= 0 or obs <= 0:
        await ctx.err("invalid number: '0'")
        return 1
    conv = set(filter(None, opts.get("conv", "").split(",")))
    iflag = set(filter(None, opts.get("iflag", "").split(",")))
    oflag = set(filter(None, opts.get("oflag", "").split(",")))
    bad = conv - {
        "notrunc",
        "ucase",
        "lcase",
        "sync",
        "noerror",
        "fsync",
        "fdatasync",
        "excl",
        "nocreat",
        "swab",
        "sparse",
    }
    if bad:
        await ctx.err(f"invalid conversion: {q(sorted(bad)[0])}")
        await ctx.stderr.write(b"Try 'dd --help' for more information.\n")
        return 1
    if {"ucase", "lcase"} <= conv:
        await ctx.err("cannot combine lcase and ucase")
        return 1
    status_level = opts.get("status", "")
    fs = ctx.fs
    t0 = time.monotonic()
    skip_bytes = skip if "skip_bytes" in iflag else skip * ibs
    seek_bytes = seek if "seek_bytes" in oflag else seek * obs
    infile = opts.get("if")
    outfile = opts.get("of")
    fh = None
    try:
        if infile is not None:
            fh = fs.open(infile, "rb")
            if skip_bytes:
                fh.seek(skip_bytes)
        elif skip_bytes:
            left = skip_bytes
            while left > 0:
                chunk = await ctx.stdin.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        if outfile is not None:
            exists = fs.exists(outfile)
            if "excl" in conv and exists:
                raise FileExistsError(errno.EEXIST, "File exists", outfile)
            if "nocreat" in conv and not exists:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", outfile)
    except OSError as exc:
        if fh is not None:
            fh.close()
        await ctx.err(
            f"failed to open {q(exc.filename or infile or outfile or '-')}: {strerror(exc)}"
        )
        return 1

    async def read_block(size: int) -> bytes:
        if fh is not None:
            return fh.read(size)
        data = await ctx.stdin.read(size)
        if "fullblock" in iflag:
            while data and len(data) < size:
                more = await ctx.stdin.read(size - len(data))
                if not more:
                    break
                data += more
        return data

    full_in = part_in = 0
    total_in = 0
    total_out = 0
    out_parts: list[bytes] = []
    pending = b""
    try:
        while True:
            ctx.check_killed()
            if count is not None:
                if "count_bytes" in iflag:
                    if total_in >= count:
                        break
                    want = min(ibs, count - total_in)
                elif full_in + part_in >= count:
                    break
                else:
                    want = ibs
            else:
                want = ibs
            block = await read_block(want)
            if not block:
                break
            total_in += len(block)
            if len(block) == ibs:
                full_in += 1
            else:
                part_in += 1
                if "sync" in conv:
                    block += b"\0" * (ibs - len(block))
            if "swab" in conv:
                b = bytearray(block)
                for i in range(0, len(b) - 1, 2):
                    b[i], b[i + 1] = b[i + 1], b[i]
                block = bytes(b)
            if "ucase" in conv:
                block = block.upper()
            elif "lcase" in conv:
                block = block.lower()
            total_out += len(block)
            if outfile is None:
                pending += block
                if len(pending) >= obs:
                    cut = len(pending) - len(pending) % obs
                    await ctx.stdout.write(pending[:cut])
                    pending = pending[cut:]
            else:
                out_parts.append(block)
                if seek_bytes + total_out > ctx.limits.max_file_size:
                    # the output is assembled in memory: bound it like the file it becomes
                    raise OSError(errno.EFBIG, "File too large", outfile)
        if outfile is None:
            if pending:
                await ctx.stdout.write(pending)
        else:
            data_out = b"".join(out_parts)
            if "append" in oflag:
                fs.write_bytes(outfile, data_out, append=True)
            else:
                old = fs.read_bytes(outfile) if fs.exists(outfile) else b""
                head = old[:seek_bytes].ljust(seek_bytes, b"\0")
                tail = old[seek_bytes + len(data_out) :] if "notrunc" in conv else b""
                fs.write_bytes(outfile, head + data_out + tail)
    except OSError as exc:
        what = (
            "error writing"
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
            else "failed to open"
        )
        await ctx.err(f"{what} {q(exc.filename or outfile or infile or '-')}: {strerror(exc)}")
        return 1
    finally:
        if fh is not None:
            fh.close()
    full_out, part_out = divmod(total_out, obs)
    if status_level != "none":
        elapsed = max(time.monotonic() - t0, 1e-6)
        msg = f"{full_in}+{part_in} records in\n{full_out}+{1 if part_out else 0} records out\n"
        if status_level != "noxfer":
            n = total_out
            msg += f"{_dd_amount(n)} copied, {elapsed:.6g} s, {_dd_rate(n, elapsed)}\n"
        await ctx.stderr.write(msg.encode())
    return 0


# --------------------------------------------------------------------------------------------
# sync
# --------------------------------------------------------------------------------------------


@command("sync")
async def sync(ctx: Context) -> int:
    try:
        p = _parse(ctx, [Opt("d", "data"), Opt("f", "file-system")])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx, "Usage: sync [OPTION] [FILE]...\nSynchronize cached writes (a no-op in the VM).\n"
        )
    for f in p.operands:
        if not ctx.fs.exists(f):
            await ctx.err(f"error opening {q(f)}: No such file or directory")
            return 1
    return 0


__all__ = [
    "C_key",
    "apply_mode",
    "parse_opts",
    "short_keys",
    "backslash_escapes",
    "canonicalize",
    "classify_bytes",
    "enc",
    "fmt_ts",
    "human_size",
    "mode_string",
    "parse_size",
    "q",
    "show_help",
    "strerror",
    "tz_from_env",
    "user_maps",
]
