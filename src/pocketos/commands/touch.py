"""touch."""

from __future__ import annotations

import re
import time
from datetime import datetime, tzinfo

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _start, q, strerror, tz_from_env
from pocketos.kernel.process import Context

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
        from pocketos.commands.date import parse_date

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
