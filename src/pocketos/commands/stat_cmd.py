"""stat, and the backslash escapes shared with find's -printf."""

from __future__ import annotations

import re
import stat as S
from datetime import tzinfo

from pocketos.commands import command
from pocketos.commands._args import Opt
from pocketos.commands._fs import (
    _start,
    file_type_name,
    fmt_ts,
    mode_string,
    q,
    split_major_minor,
    strerror,
    tz_from_env,
    user_maps,
)
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.process import Context

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


__all__ = ["backslash_escapes"]
