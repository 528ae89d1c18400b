"""Shared helpers of the file commands: quoting, errors, options, users, modes, sizes and time zones.

Everything goes through ``ctx.fs``; nothing here touches the host.
"""

from __future__ import annotations

import os
import re
import stat as S
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.process import Context

UMASK = 0o022


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def q(s: str) -> str:
    """Quote a file name for a message the way coreutils does in the C locale."""
    if "'" in s:
        return '"' + s + '"'
    return "'" + s + "'"


#: characters that make coreutils quote a name in a "name: message" line (quotef)
_QF_SPECIAL = frozenset(" \t\n!\"$&'()*:;<=>?[\\]^`{|}")


def qf(s: str) -> str:
    """Quote a file name only where a shell would need it, as coreutils' ``quotef`` does for
    the name that starts a message ("ls: a b: ..." becomes "ls: 'a b': ...")."""
    if s and s[0] not in "#~" and s.isprintable() and not _QF_SPECIAL.intersection(s):
        return s
    return q(s)


def file_key(st: StatResult) -> tuple[int, int] | None:
    """(device, inode) naming a file for the walkers that notice a directory met again;
    ``None`` where the file system gives no inode (a directory made up above a mount point),
    which then never counts as met."""
    return (st.st_dev, st.st_ino) if st.st_ino else None


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


__all__ = [
    "C_key",
    "apply_mode",
    "parse_opts",
    "short_keys",
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
