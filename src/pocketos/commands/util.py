"""Shell utilities: env, printenv, which, date, sleep, timeout, seq, yes, expr, factor, numfmt,
uname, hostname, whoami, id, nproc, true, false, test/[, tput, clear, and the external
``printf``/``echo``. ``find`` and ``xargs`` live in :mod:`pocketos.commands.find`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, report
from pocketos.commands._args import parse as _raw_parse
from pocketos.commands._fs import (
    enc,
    q,
    short_keys,
    show_help,
    strerror,
    tz_from_env,
    user_maps,
)
from pocketos.commands.find import bre_to_regex  # importing find registers find and xargs
from pocketos.kernel.process import Context, signal_name, signal_number
from pocketos.shell.printf import format_printf
from pocketos.shell.testexpr import evaluate_test

__all__ = ["parse_date", "parse_duration", "strftime_gnu"]

HELP = Opt("", "help")


def parse(name: str, args: list[str], spec: list[Opt], **kw: object) -> Parsed:
    return _raw_parse(name, args, short_keys(spec), **kw)  # type: ignore[arg-type]


def _try(name: str) -> str:
    return f"Try '{name} --help' for more information."


# --------------------------------------------------------------------------------------------
# env / printenv
# --------------------------------------------------------------------------------------------

ENV_HELP = """Usage: env [OPTION]... [-] [NAME=VALUE]... [COMMAND [ARG]...]
Set each NAME to VALUE in the environment and run COMMAND.

  -i, --ignore-environment  start with an empty environment
  -0, --null           end each output line with NUL, not newline
  -u, --unset=NAME     remove variable from the environment
  -C, --chdir=DIR      change working directory to DIR
  -S, --split-string=S  process and split S into separate arguments
  -v, --debug          print verbose information for each processing step

With no COMMAND, print the resulting environment.
"""


def _split_string(s: str) -> list[str]:
    """``env -S``: split on blanks, honouring quotes and backslash escapes."""
    out: list[str] = []
    cur: list[str] = []
    have = False
    i = 0
    while i < len(s):
        c = s[i]
        if c in " \t\n":
            if have:
                out.append("".join(cur))
                cur, have = [], False
        elif c == "'":
            j = s.find("'", i + 1)
            j = len(s) if j < 0 else j
            cur.append(s[i + 1 : j])
            have = True
            i = j
        elif c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                if s[j] == "\\" and j + 1 < len(s):
                    j += 1
                    cur.append({"n": "\n", "t": "\t"}.get(s[j], s[j]))
                else:
                    cur.append(s[j])
                j += 1
            have = True
            i = j
        elif c == "\\" and i + 1 < len(s):
            i += 1
            cur.append({"n": "\n", "t": "\t", "_": " "}.get(s[i], s[i]))
            have = True
        elif c == "#" and not have:
            break
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        out.append("".join(cur))
    return out


@command("env")
async def env_cmd(ctx: Context) -> int:
    args = list(ctx.argv[1:])
    spec = [
        Opt("i", "ignore-environment"),
        Opt("0", "null"),
        Opt("u", "unset", "required", multiple=True),
        Opt("C", "chdir", "required"),
        Opt("S", "split-string", "required"),
        Opt("v", "debug"),
        HELP,
    ]
    # a lone "-" means -i
    args = ["-i" if a == "-" else a for a in args[:1]] + args[1:] if args[:1] == ["-"] else args
    try:
        p = parse("env", args, spec, stop_at_operand=True, status=125)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, ENV_HELP)
    ops = list(p.operands)
    if ops[:1] == ["-"]:
        ops = ops[1:]
        p.opts["i"] = True
    split = p.str("S")
    if split is not None:
        ops = _split_string(split) + ops
    env: dict[str, str] = {} if p.flag("i") else dict(ctx.env)
    unset: list[str] = [str(x) for x in (p.opts.get("u") or [])]  # type: ignore[attr-defined]
    for name in unset:
        if not name or "=" in name:
            await ctx.err(f"cannot unset {q(name)}: Invalid argument")
            return 125
        env.pop(name, None)
    while ops and "=" in ops[0]:
        k, _, v = ops.pop(0).partition("=")
        env.pop(k, None)
        env[k] = v
    cwd = ctx.cwd
    chdir = p.str("C")
    if chdir is not None:
        if not ops:
            await ctx.err("must specify command with --chdir (-C)")
            await ctx.stderr.write((_try("env") + "\n").encode())
            return 125
        try:
            st = ctx.fs.stat(chdir)
            if not st.is_dir():
                raise NotADirectoryError(20, "Not a directory", chdir)
        except OSError as exc:
            await ctx.err(f"cannot change directory to {q(chdir)}: {strerror(exc)}")
            return 125
        cwd = ctx.fs.abspath(chdir)
    if not ops:
        end = "\0" if p.flag("0") else "\n"
        await ctx.out("".join(f"{k}={v}{end}" for k, v in env.items()))
        return 0
    if p.flag("0"):
        await ctx.err("cannot specify --null (-0) with command")
        await ctx.stderr.write((_try("env") + "\n").encode())
        return 125
    try:
        fn = ctx.kernel.find_command(ops[0], env, cwd)
    except OSError as exc:
        await ctx.err(f"{q(ops[0])}: {strerror(exc)}")
        return 126 if exc.errno in (13, 21) else 127
    if fn is None:
        await ctx.err(f"{q(ops[0])}: No such file or directory")
        return 127
    return await ctx.run(ops, env=env, cwd=cwd)


@command("printenv")
async def printenv(ctx: Context) -> int:
    try:
        p = parse("printenv", ctx.argv[1:], [Opt("0", "null"), HELP], status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: printenv [OPTION]... [VARIABLE]...\n"
            "Print the values of the specified environment VARIABLE(s).\n"
            "If no VARIABLE is specified, print name and value pairs for "
            "them all.\n\n  -0, --null     end each output line with "
            "NUL, not newline\n",
        )
    end = "\0" if p.flag("0") else "\n"
    if not p.operands:
        await ctx.out("".join(f"{k}={v}{end}" for k, v in ctx.env.items()))
        return 0
    status = 0
    out = []
    for name in p.operands:
        if "=" not in name and name in ctx.env:
            out.append(ctx.env[name] + end)
        else:
            status = 1
    await ctx.out("".join(out))
    return status


# --------------------------------------------------------------------------------------------
# which
# --------------------------------------------------------------------------------------------


@command("which")
async def which(ctx: Context) -> int:
    try:
        p = parse("which", ctx.argv[1:], [Opt("a"), Opt("s"), HELP], status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: which [-as] COMMAND...\n"
            "Print the full path of each COMMAND found in PATH.\n\n"
            "  -a     print all matching pathnames of each argument\n"
            "  -s     silently return 0 if all found, 1 otherwise\n",
        )
    if not p.operands:
        return 1
    fs = ctx.fs
    path_var = ctx.env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    status = 0
    out: list[str] = []

    def executable(path: str) -> bool:
        try:
            st = fs.stat(path)
        except (OSError, ValueError):
            return False
        return st.is_file() and bool(st.st_mode & 0o111)

    for name in p.operands:
        found: list[str] = []
        if "/" in name:
            if executable(name):
                found.append(name)
        else:
            for d in path_var.split(":"):
                cand = (d or ".").rstrip("/") + "/" + name
                if executable(cand):
                    found.append(cand)
                    if not p.flag("a"):
                        break
            if not found:
                # a registered command without a stub in the VM filesystem
                with contextlib.suppress(OSError):
                    if ctx.kernel.find_command(name, ctx.env, ctx.cwd) is not None:
                        found.append("/usr/bin/" + name)
        if not found:
            status = 1
        out.extend(found)
    if not p.flag("s"):
        await ctx.out("".join(f + "\n" for f in out))
    return status


# --------------------------------------------------------------------------------------------
# date
# --------------------------------------------------------------------------------------------

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MON_RE = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY_RE = r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_UNITS = {
    "year": "years",
    "month": "months",
    "fortnight": "fortnights",
    "week": "weeks",
    "day": "days",
    "hour": "hours",
    "minute": "minutes",
    "min": "minutes",
    "second": "seconds",
    "sec": "seconds",
}


def _tz_offset_text(text: str) -> timezone | None:
    t = text.strip()
    up = t.upper()
    if up in ("Z", "UTC", "GMT", "UT"):
        return UTC
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", up)
    if m:
        secs = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60
        return timezone(timedelta(seconds=secs if m.group(1) == "+" else -secs))
    return None


def parse_date(text: str, tz: tzinfo, now: float | None = None) -> float:
    """Parse a ``date -d`` string into seconds since the epoch (ValueError if not understood).

    Understood: ``@N``, ISO 8601 dates and times (``2024-01-02``, ``2024-01-02T03:04:05Z``,
    ``... +02:00``), ``HH:MM[:SS]``, ``Jan 2 2024``, ``2 Jan 2024``, RFC 2822 dates,
    ``MM/DD[/YYYY]``, ``YYYYMMDD``, ``now``, ``today``, ``yesterday``, ``tomorrow``, weekday names with ``next``/``last``, and relative items such as
    ``3 days ago``, ``+1 week``, ``next month``, ``-2 hours``.
    """
    now_ts = time.time() if now is None else now
    s = text.strip().lower()
    if s.startswith("@"):
        m = re.fullmatch(r"@\s*([+-]?\d+(?:\.\d*)?)", s)
        if not m:
            raise ValueError(text)
        return float(m.group(1))
    base = datetime.fromtimestamp(now_ts, tz)
    if not s:
        # an empty string means the start of today
        return base.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    y, mo, d = base.year, base.month, base.day
    hh, mi, ss = base.hour, base.minute, base.second
    frac = now_ts - math.floor(now_ts)
    date_set = time_set = False
    zone: tzinfo | None = None
    rel = {"years": 0, "months": 0, "days": 0.0, "hours": 0.0, "minutes": 0.0, "seconds": 0.0}
    weekday: tuple[int, int] | None = None  # (weekday, ordinal)
    pos = 0
    n = len(s)

    def eat(pattern: str) -> re.Match[str] | None:
        nonlocal pos
        m = re.compile(pattern).match(s, pos)
        if m:
            pos = m.end()
        return m

    last_rel: list[str] = []
    while True:
        eat(r"[\s,]+")
        if pos >= n:
            break
        m = eat(
            r"(\d{4})-(\d{1,2})-(\d{1,2})(?:t(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
            r"(?![\d])"
        )
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            date_set = True
            if m.group(4) is not None:
                hh, mi, ss = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
                frac = float("0." + m.group(7)) if m.group(7) else 0.0
                time_set = True
            continue
        m = eat(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:\s*(am|pm|a\.m\.|p\.m\.))?")
        if m:
            hh, mi, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            frac = float("0." + m.group(4)) if m.group(4) else 0.0
            if m.group(5):
                if hh > 12 or hh == 0:
                    raise ValueError(text)
                hh = hh % 12 + (12 if m.group(5).startswith("p") else 0)
            time_set = True
            continue
        m = eat(r"(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)(?![a-z])")
        if m:
            hh = int(m.group(1))
            if hh > 12 or hh == 0:
                raise ValueError(text)
            hh = hh % 12 + (12 if m.group(2).startswith("p") else 0)
            mi = ss = 0
            frac = 0.0
            time_set = True
            continue
        m = eat(
            r"(z|utc|gmt|ut)(?![a-z])([+-]\d{1,2}(?::?\d{2})?)?|([+-])(\d{1,2})(?::?(\d{2}))?"
            r"(?![\d])"
        )
        if m and (time_set or m.group(1)):
            if m.group(3):
                # like GNU, a signed number right after a time is a UTC offset
                sign = 1 if m.group(3) == "+" else -1
                secs = int(m.group(4)) * 3600 + int(m.group(5) or 0) * 60
                zone = timezone(timedelta(seconds=sign * secs))
            else:
                zone = _tz_offset_text((m.group(1) or "") + (m.group(2) or ""))
            continue
        if m:
            pos = m.start()
        m = eat(_MON_RE + r"\s+(\d{1,2})(?:(?:st|nd|rd|th))?(?:,?\s+(\d{4}))?(?![\d:])")
        if m:
            mo = [
                "jan",
                "feb",
                "mar",
                "apr",
                "may",
                "jun",
                "jul",
                "aug",
                "sep",
                "oct",
                "nov",
                "dec",
            ].index(m.group(1)) + 1
            d = int(m.group(2))
            if m.group(3):
                y = int(m.group(3))
            date_set = True
            continue
        m = eat(r"(\d{1,2})(?:st|nd|rd|th)?[\s-]+" + _MON_RE + r"(?:[\s-]+(\d{4}|\d{2}))?(?![\d:])")
        if m:
            d = int(m.group(1))
            mo = [
                "jan",
                "feb",
                "mar",
                "apr",
                "may",
                "jun",
                "jul",
                "aug",
                "sep",
                "oct",
                "nov",
                "dec",
            ].index(m.group(2)) + 1
            if m.group(3):
                yy = int(m.group(3))
                y = yy if len(m.group(3)) == 4 else (1900 + yy if yy >= 69 else 2000 + yy)
            date_set = True
            continue
        m = eat(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d])")
        if m:
            mo, d = int(m.group(1)), int(m.group(2))
            if m.group(3):
                yy = int(m.group(3))
                y = yy if len(m.group(3)) == 4 else (1900 + yy if yy >= 69 else 2000 + yy)
            date_set = True
            continue
        m = eat(r"(\d{4})(\d{2})(\d{2})(?![\d])")
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            date_set = True
            continue
        m = eat(r"(now|today)(?![a-z])")
        if m:
            continue
        m = eat(r"(yesterday|tomorrow)(?![a-z])")
        if m:
            rel["days"] += -1 if m.group(1) == "yesterday" else 1
            continue
        m = eat(r"(?:(next|last|this)\s+)?" + _DAY_RE + r"(?![a-z])")
        if m:
            wd = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(m.group(2))
            ordinal = {"next": 1, "last": -1, "this": 0, None: 0}[m.group(1)]
            if not date_set:
                weekday = (wd, ordinal)
            continue
        m = eat(
            r"(?:([+-]?\s*\d+)|(next|last|this|a|an))?\s*(year|month|fortnight|week|day|"
            r"hour|minute|min|second|sec)s?(?![a-z])"
        )
        if m:
            if m.group(1) is not None:
                amount = int(m.group(1).replace(" ", ""))
            else:
                amount = {"next": 1, "last": -1, "this": 0, "a": 1, "an": 1, None: 1}[m.group(2)]
            unit = _UNITS[m.group(3)]
            if unit == "fortnights":
                unit, amount = "days", amount * 14
            elif unit == "weeks":
                unit, amount = "days", amount * 7
            rel[unit] += amount
            last_rel.append(unit)
            m2 = eat(r"\s+ago(?![a-z])")
            if m2:
                for k in rel:
                    rel[k] = -rel[k]
            continue
        m = eat(r"ago(?![a-z])")
        if m and last_rel:
            for k in rel:
                rel[k] = -rel[k]
            continue
        m = eat(r"(\d{4})(?![\d])")
        if m and date_set:
            y = int(m.group(1))
            continue
        raise ValueError(text)
    if date_set and not time_set:
        hh = mi = ss = 0
        frac = 0.0
    if weekday is not None and not date_set:
        if not time_set:
            hh = mi = ss = 0
            frac = 0.0
        cur = date(y, mo, d)
        wd, ordinal = weekday
        delta = (wd - cur.weekday()) % 7
        if ordinal > 0:
            delta = delta or 7
            delta += 7 * (ordinal - 1)
        elif ordinal < 0:
            delta = delta - 7 if delta else -7
        nd = cur + timedelta(days=delta)
        y, mo, d = nd.year, nd.month, nd.day
    if not (1 <= mo <= 12) or not (1 <= d <= 31) or hh > 24 or mi > 59 or ss > 60:
        raise ValueError(text)
    total_months = (y * 12 + (mo - 1)) + rel["years"] * 12 + rel["months"]
    y2, mo2 = divmod(int(total_months), 12)
    mo2 += 1
    try:
        naive = datetime(y2, mo2, 1) + timedelta(days=d - 1, hours=hh, minutes=mi, seconds=ss)
    except (ValueError, OverflowError):
        raise ValueError(text) from None
    if (y2, mo2) == (y, mo) and d > 28:
        # validate a day that must exist in its month (e.g. 2024-02-30 is invalid)
        try:
            date(y, mo, d)
        except ValueError:
            raise ValueError(text) from None
    aware = naive.replace(tzinfo=zone or tz)
    result = aware + timedelta(
        days=rel["days"], hours=rel["hours"], minutes=rel["minutes"], seconds=rel["seconds"]
    )
    return result.timestamp() + frac


_NUM_PAD = {
    "d": (2, "0"),
    "e": (2, " "),
    "H": (2, "0"),
    "I": (2, "0"),
    "k": (2, " "),
    "l": (2, " "),
    "m": (2, "0"),
    "M": (2, "0"),
    "S": (2, "0"),
    "j": (3, "0"),
    "y": (2, "0"),
    "C": (2, "0"),
    "g": (2, "0"),
    "U": (2, "0"),
    "V": (2, "0"),
    "W": (2, "0"),
    "u": (1, "0"),
    "w": (1, "0"),
    "q": (1, "0"),
    "G": (1, "0"),
    "Y": (1, "0"),
    "s": (1, "0"),
}


def _zone_text(dt: datetime, colons: int) -> str:
    off = dt.utcoffset() or timedelta(0)
    secs = int(off.total_seconds())
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if colons == 0:
        return f"{sign}{h:02d}{m:02d}"
    if colons == 1:
        return f"{sign}{h:02d}:{m:02d}"
    if colons == 2:
        return f"{sign}{h:02d}:{m:02d}:{s:02d}"
    if s:
        return f"{sign}{h:02d}:{m:02d}:{s:02d}"
    if m:
        return f"{sign}{h:02d}:{m:02d}"
    return f"{sign}{h:02d}"


def strftime_gnu(fmt: str, dt: datetime, ns: int = 0) -> str:
    """GNU ``date`` formatting in the C locale, with flags ``-_0^#``, widths, ``%N``,
    ``%s``, ``%:z``, ``%::z``, ``%:::z``, ``%P``."""
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = re.compile(r"%([-_0^#]*)(\d*)(:{0,3})[EO]?([a-zA-Z%+])?").match(fmt, i)
        assert m
        flags, width, colons, d = m.groups()
        i = m.end()
        if d is None:
            out.append(m.group(0))
            continue
        iso = dt.isocalendar()
        val: str
        numeric = False
        if d == "%":
            val = "%"
        elif d == "a":
            val = _DAYS[dt.weekday()][:3]
        elif d == "A":
            val = _DAYS[dt.weekday()]
        elif d in ("b", "h"):
            val = _MONTHS[dt.month - 1][:3]
        elif d == "B":
            val = _MONTHS[dt.month - 1]
        elif d == "c":
            val = strftime_gnu("%a %b %e %H:%M:%S %Y", dt, ns)
        elif d == "D":
            val = strftime_gnu("%m/%d/%y", dt, ns)
        elif d == "F":
            val = strftime_gnu("%Y-%m-%d", dt, ns)
        elif d == "T":
            val = strftime_gnu("%H:%M:%S", dt, ns)
        elif d == "R":
            val = strftime_gnu("%H:%M", dt, ns)
        elif d == "r":
            val = strftime_gnu("%I:%M:%S %p", dt, ns)
        elif d == "x":
            val = strftime_gnu("%m/%d/%y", dt, ns)
        elif d == "X":
            val = strftime_gnu("%H:%M:%S", dt, ns)
        elif d == "n":
            val = "\n"
        elif d == "t":
            val = "\t"
        elif d == "p":
            val = "AM" if dt.hour < 12 else "PM"
        elif d == "P":
            val = "am" if dt.hour < 12 else "pm"
        elif d == "Z":
            val = dt.tzname() or ""
        elif d == "z":
            val = _zone_text(dt, len(colons))
        elif d == "N":
            digits = int(width) if width else 9
            val = f"{ns:09d}"[:digits].ljust(digits, "0")
            width = ""
        elif d == "+":
            val = strftime_gnu("%a %b %e %H:%M:%S %Z %Y", dt, ns)
        else:
            numeric = True
            if d == "d" or d == "e":
                num = dt.day
            elif d == "H" or d == "k":
                num = dt.hour
            elif d == "I" or d == "l":
                num = dt.hour % 12 or 12
            elif d == "m":
                num = dt.month
            elif d == "M":
                num = dt.minute
            elif d == "S":
                num = dt.second
            elif d == "j":
                num = dt.timetuple().tm_yday
            elif d == "y":
                num = dt.year % 100
            elif d == "Y":
                num = dt.year
            elif d == "C":
                num = dt.year // 100
            elif d == "g":
                num = iso[0] % 100
            elif d == "G":
                num = iso[0]
            elif d == "V":
                num = iso[1]
            elif d == "u":
                num = iso[2]
            elif d == "w":
                num = (dt.weekday() + 1) % 7
            elif d == "U":
                num = (dt.timetuple().tm_yday + 6 - (dt.weekday() + 1) % 7) // 7
            elif d == "W":
                num = (dt.timetuple().tm_yday + 6 - dt.weekday()) // 7
            elif d == "q":
                num = (dt.month - 1) // 3 + 1
            elif d == "s":
                num = int(dt.timestamp())
            else:
                out.append(m.group(0))
                continue
            w0, pad = _NUM_PAD[d]
            if "-" in flags:
                val = str(num)
            else:
                if "_" in flags:
                    pad = " "
                elif "0" in flags:
                    pad = "0"
                w = int(width) if width else w0
                sign = "-" if num < 0 else ""
                body = str(abs(num))
                if pad == "0":
                    val = sign + body.rjust(w - len(sign), "0")
                else:
                    val = (sign + body).rjust(w)
                width = ""
        if "^" in flags and d != "P":
            val = val.upper()
        elif "#" in flags and not numeric:
            val = val.lower() if d in ("Z", "p") else val.upper()
        if width and not numeric:
            w = int(width)
            padc = "0" if "0" in flags else " "
            if "-" not in flags:
                val = val.rjust(w, padc)
        out.append(val)
    return "".join(out)


DATE_HELP = """Usage: date [OPTION]... [+FORMAT]
Display the current time in the given FORMAT (UTC unless TZ names a fixed offset).

  -d, --date=STRING          display time described by STRING, not 'now'
  -f, --file=DATEFILE        like --date; once for each line of DATEFILE
  -I[FMT], --iso-8601[=FMT]  output date/time in ISO 8601 format (date, hours, minutes,
                               seconds, ns)
  -R, --rfc-email            output date and time in RFC 5322 format
      --rfc-3339=FMT         output date/time in RFC 3339 format (date, seconds, ns)
  -r, --reference=FILE       display the last modification time of FILE
  -u, --utc, --universal     print Coordinated Universal Time (UTC)
"""


@command("date")
async def date_cmd(ctx: Context) -> int:
    spec = [
        Opt("d", "date", "required"),
        Opt("f", "file", "required"),
        Opt("I", "iso-8601", "optional"),
        Opt("R", "rfc-email"),
        Opt("", "rfc-822", dest="R"),
        Opt("", "rfc-2822", dest="R"),
        Opt("", "rfc-3339", "required"),
        Opt("r", "reference", "required"),
        Opt("u", "utc"),
        Opt("", "universal", dest="u"),
        Opt("s", "set", "required"),
        Opt("", "debug"),
        HELP,
    ]
    try:
        p = parse("date", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, DATE_HELP)
    tz = UTC if p.flag("u") else tz_from_env(ctx.env)
    fmt: str | None = None
    ops = p.operands
    if len(ops) > 1:
        return await report(ctx, UsageError(f"date: extra operand {q(ops[1])}\n{_try('date')}"))
    if ops:
        if not ops[0].startswith("+"):
            if p.get("d") is not None or p.get("f") is not None:
                return await report(
                    ctx,
                    UsageError(
                        f"date: the argument {q(ops[0])} lacks a leading '+';\nwhen using an "
                        f"option to specify date(s), any non-option\nargument must be a format "
                        f"string beginning with '+'\n{_try('date')}"
                    ),
                )
            await ctx.err("cannot set date: Operation not permitted")
            return 1
        fmt = ops[0][1:]
    if p.get("s") is not None:
        await ctx.err("cannot set date: Operation not permitted")
        return 1
    iso = p.get("I")
    formats_given = sum(x is not None for x in (fmt, iso, p.get("R"), p.get("rfc_3339")))
    if formats_given > 1:
        await ctx.err("multiple output formats specified")
        return 1
    if iso is not None:
        kind = iso if isinstance(iso, str) else "date"
        table = {
            "date": "%Y-%m-%d",
            "hours": "%Y-%m-%dT%H%:z",
            "minutes": "%Y-%m-%dT%H:%M%:z",
            "seconds": "%Y-%m-%dT%H:%M:%S%:z",
            "ns": "%Y-%m-%dT%H:%M:%S,%N%:z",
        }
        match = [k for k in table if k.startswith(kind)] if kind else ["date"]
        if len(match) != 1:
            await ctx.err(f"invalid argument {q(kind)} for '--iso-8601'")
            await ctx.stderr.write(
                b"Valid arguments are:\n  - 'hours'\n  - 'minutes'\n"
                b"  - 'date'\n  - 'seconds'\n  - 'ns'\n" + (_try("date") + "\n").encode()
            )
            return 1
        fmt = table[match[0]]
    rfc = p.str("rfc_3339")
    if rfc is not None:
        table = {
            "date": "%Y-%m-%d",
            "seconds": "%Y-%m-%d %H:%M:%S%:z",
            "ns": "%Y-%m-%d %H:%M:%S.%N%:z",
        }
        match = [k for k in table if k.startswith(rfc)] if rfc else []
        if len(match) != 1:
            await ctx.err(f"invalid argument {q(rfc)} for '--rfc-3339'")
            await ctx.stderr.write(
                b"Valid arguments are:\n  - 'date'\n  - 'seconds'\n"
                b"  - 'ns'\n" + (_try("date") + "\n").encode()
            )
            return 1
        fmt = table[match[0]]
    if p.flag("R"):
        fmt = "%a, %d %b %Y %H:%M:%S %z"
    if fmt is None:
        fmt = "%a %b %e %H:%M:%S %Z %Y"
    stamps: list[float | Decimal | None] = []
    ref = p.str("r")
    dstr = p.str("d")
    dfile = p.str("f")
    status = 0
    if ref is not None:
        try:
            st = ctx.fs.stat(ref)
        except OSError as exc:
            await ctx.err(f"{ref}: {strerror(exc)}")
            return 1
        stamps.append(st.st_mtime_ns / 1e9)
    elif dfile is not None:
        try:
            data = (await ctx.stdin.read()) if dfile == "-" else ctx.fs.read_bytes(dfile)
        except OSError as exc:
            await ctx.err(f"{dfile}: {strerror(exc)}")
            return 1
        for line in data.decode("utf-8", "surrogateescape").splitlines():
            try:
                stamps.append(parse_date(line, tz))
            except ValueError:
                await ctx.err(f"invalid date {q(line)}")
                stamps.append(None)
                status = 1
    elif dstr is not None:
        try:
            exact = re.fullmatch(r"\s*@\s*([+-]?\d+(?:\.\d*)?)\s*", dstr)
            stamps.append(Decimal(exact.group(1)) if exact else parse_date(dstr, tz))
        except (ValueError, OverflowError, OSError):
            await ctx.err(f"invalid date {q(dstr)}")
            return 1
    else:
        stamps.append(time.time_ns() / 1e9)
    out: list[str] = []
    for ts in stamps:
        if ts is None:
            continue
        whole = math.floor(ts)
        ns = (
            int((ts - whole) * 1_000_000_000)
            if isinstance(ts, Decimal)
            else int(round((ts - whole) * 1e9))
        )
        if ns >= 1_000_000_000:
            whole, ns = whole + 1, ns - 1_000_000_000
        try:
            dt = datetime.fromtimestamp(whole, tz)
        except (OverflowError, ValueError, OSError):
            await ctx.err(
                f"time {whole if whole.bit_length() < 10_000 else 'value'} is out of range"
            )
            return 1
        out.append(strftime_gnu(fmt, dt, ns) + "\n")
    await ctx.out("".join(out))
    return status


# --------------------------------------------------------------------------------------------
# sleep / timeout
# --------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """``1.5``, ``2s``, ``3m``, ``1h``, ``1d``, ``inf`` -> seconds (ValueError if invalid)."""
    m = re.fullmatch(
        r"\s*([+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)([smhd]?)", text, re.IGNORECASE
    )
    if not m:
        raise ValueError(text)
    value = float(m.group(1))
    return value * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2).lower()]


@command("sleep")
async def sleep(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: sleep NUMBER[SUFFIX]...\n"
            "Pause for NUMBER seconds. SUFFIX may be 's' for seconds "
            "(the default),\n'm' for minutes, 'h' for hours or 'd' for "
            "days. NUMBER may be a fraction.\nGiven two or more "
            "arguments, pause for the sum of their values.\n",
        )
    if "--" in args:
        i = args.index("--")
        args = args[:i] + args[i + 1 :]
    if not args:
        return await report(ctx, UsageError(f"sleep: missing operand\n{_try('sleep')}"))
    total = 0.0
    bad = False
    for a in args:
        if a.startswith("-") and len(a) > 1 and not re.fullmatch(r"-[\d.]+", a):
            return await report(
                ctx,
                UsageError(
                    f"sleep: invalid option -- '{a[1]}'\n{_try('sleep')}"
                    if not a.startswith("--")
                    else f"sleep: unrecognized option '{a}'\n{_try('sleep')}"
                ),
            )
        try:
            total += parse_duration(a)
        except ValueError:
            await ctx.err(f"invalid time interval {q(a)}")
            bad = True
    if bad:
        await ctx.stderr.write((_try("sleep") + "\n").encode())
        return 1
    deadline = ctx.budget.deadline
    if deadline is not None and total > 0 and math.isfinite(total):
        left = deadline - time.monotonic()
        if total > left:
            # sleeping past the exec deadline: wake at the deadline and let the budget fire
            await asyncio.sleep(max(left, 0))
            check = getattr(ctx.budget, "check_time", None)
            if callable(check):
                check()
            total -= max(left, 0)
    step = 0.5
    remaining = total
    while remaining > 0:
        chunk = min(step, remaining) if math.isfinite(remaining) else step
        await asyncio.sleep(chunk)
        ctx.check_killed()
        if math.isfinite(remaining):
            remaining -= chunk
    return 0


TIMEOUT_HELP = """Usage: timeout [OPTION] DURATION COMMAND [ARG]...
Start COMMAND, and kill it if still running after DURATION.

      --preserve-status  exit with the same status as COMMAND, even when the command times out
      --foreground       accepted for compatibility
  -k, --kill-after=DURATION  also send a KILL signal if COMMAND is still running this long
                           after the initial signal was sent
  -s, --signal=SIGNAL    specify the signal to be sent on timeout (default TERM)
  -v, --verbose          diagnose to stderr any signal sent upon timeout

DURATION is a number with an optional suffix s, m, h or d; 0 disables the timeout.
If the command times out, and --preserve-status is not set, then exit with status 124.
"""


@command("timeout")
async def timeout(ctx: Context) -> int:
    spec = [
        Opt("", "preserve-status"),
        Opt("", "foreground"),
        Opt("k", "kill-after", "required"),
        Opt("s", "signal", "required"),
        Opt("v", "verbose"),
        HELP,
    ]
    try:
        p = parse("timeout", ctx.argv[1:], spec, stop_at_operand=True, status=125)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, TIMEOUT_HELP)
    ops = p.operands
    if len(ops) < 2:
        msg = "missing operand" if not ops else f"missing operand after {q(ops[0])}"
        return await report(ctx, UsageError(f"timeout: {msg}\n{_try('timeout')}", 125))
    try:
        duration = parse_duration(ops[0])
    except ValueError:
        await ctx.err(f"invalid time interval {q(ops[0])}")
        await ctx.stderr.write((_try("timeout") + "\n").encode())
        return 125
    sig_text = p.str("s") or "TERM"
    try:
        signum = signal_number(sig_text)
    except ValueError:
        await ctx.err(f"{sig_text}: invalid signal")
        await ctx.stderr.write((_try("timeout") + "\n").encode())
        return 125
    if p.str("k") is not None:
        try:
            parse_duration(p.str("k") or "")
        except ValueError:
            await ctx.err(f"invalid time interval {q(p.str('k') or '')}")
            await ctx.stderr.write((_try("timeout") + "\n").encode())
            return 125
    argv = ops[1:]
    task = asyncio.ensure_future(ctx.run(argv))
    if duration <= 0 or not math.isfinite(duration):
        return await task
    done, _ = await asyncio.wait({task}, timeout=duration)
    if task in done:
        return task.result()
    if p.flag("v"):
        await ctx.err(f"sending signal {signal_name(signum)} to command {q(argv[0])}")
    # deliver the signal to the child processes, then stop the child's task
    kernel = ctx.kernel
    procs = getattr(kernel, "procs", {})
    for info in list(procs.values()):
        if info.ppid == ctx.pid and info.status == "running":
            with contextlib.suppress(ProcessLookupError, ValueError):
                kernel.kill(info.pid, signum)
    await asyncio.sleep(0)
    if not task.done():
        task.cancel()
    code: int | None = None
    try:
        code = await task
    except asyncio.CancelledError:
        cur = asyncio.current_task()
        if cur is not None and cur.cancelling():
            raise
        code = None
    if p.flag("preserve_status") or signum == 9:
        # KILL also ends GNU timeout itself, so its status is 137 like the command's
        return code if code is not None and signum != 9 else 128 + signum
    return 124


# --------------------------------------------------------------------------------------------
# seq / yes
# --------------------------------------------------------------------------------------------

SEQ_HELP = """Usage: seq [OPTION]... LAST
  or:  seq [OPTION]... FIRST LAST
  or:  seq [OPTION]... FIRST INCREMENT LAST
Print numbers from FIRST to LAST, in steps of INCREMENT.

  -f, --format=FORMAT      use printf style floating-point FORMAT
  -s, --separator=STRING   use STRING to separate numbers (default: \\n)
  -w, --equal-width        equalize width by padding with leading zeroes
"""


def _seq_num(text: str) -> tuple[Decimal, int]:
    """(value, precision) of a seq operand; ValueError if it is not a number."""
    t = text.strip()
    if not re.fullmatch(
        r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", t, re.IGNORECASE
    ):
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", t):
            return Decimal(int(t, 16)), 0
        raise ValueError(text)
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise ValueError(text) from None
    m = re.match(r"[+-]?\d*\.?(\d*)(?:[eE]([+-]?\d+))?", t)
    prec = len(m.group(1)) if m else 0
    if m and m.group(2):
        exp = int(m.group(2))
        prec = max(prec - exp, 0)
    return value, prec


@command("seq")
async def seq(ctx: Context) -> int:
    spec = [
        Opt("f", "format", "required"),
        Opt("s", "separator", "required"),
        Opt("w", "equal-width"),
        HELP,
    ]
    # negative numbers are operands, not options
    raw = ctx.argv[1:]
    negs = {f"\0neg{i}": a for i, a in enumerate(raw) if re.fullmatch(r"-\.?\d.*", a)}
    args = [next((k for k, v in negs.items() if v is a), a) for a in raw]
    try:
        p = parse("seq", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    p.operands = [negs.get(o, o) for o in p.operands]
    if p.flag("help"):
        return await show_help(ctx, SEQ_HELP)
    ops = p.operands
    if not ops:
        return await report(ctx, UsageError(f"seq: missing operand\n{_try('seq')}"))
    if len(ops) > 3:
        return await report(ctx, UsageError(f"seq: extra operand {q(ops[3])}\n{_try('seq')}"))
    vals = []
    for o in ops:
        try:
            vals.append(_seq_num(o))
        except ValueError:
            await ctx.err(f"invalid floating point argument: {q(o)}")
            await ctx.stderr.write((_try("seq") + "\n").encode())
            return 1
    if len(vals) == 1:
        first, step, last = (Decimal(1), 0), (Decimal(1), 0), vals[0]
    elif len(vals) == 2:
        first, step, last = vals[0], (Decimal(1), 0), vals[1]
    else:
        first, step, last = vals
    if step[0] == 0:
        await ctx.err(f"invalid Zero increment value: {q(ops[1])}")
        await ctx.stderr.write((_try("seq") + "\n").encode())
        return 1
    if first[0].is_nan() or step[0].is_nan() or last[0].is_nan():
        await ctx.err(f"invalid 'not-a-number' argument: {q('nan')}")
        return 1
    sep = p.str("s")
    sep = "\n" if sep is None else sep
    fmt = p.str("f")
    if fmt is not None and p.flag("w"):
        await ctx.err("format string may not be specified when printing equal width strings")
        await ctx.stderr.write((_try("seq") + "\n").encode())
        return 1
    prec = max(first[1], step[1])
    all_int = (
        all(v[0] == v[0].to_integral_value() and v[1] == 0 for v in (first, step)) and prec == 0
    )
    a, inc, b = first[0], step[0], last[0]
    if fmt is not None:
        if len(re.findall(r"%[^%]", fmt.replace("%%", ""))) != 1 or not re.search(
            r"%[-+ #0']*\d*(?:\.\d*)?[eEfgGaA]", fmt
        ):
            bad = "no %% directive" if "%" not in fmt.replace("%%", "") else "invalid"
            await ctx.err(
                f"format {q(fmt)} has {bad}"
                if bad.startswith("no")
                else f"format {q(fmt)} has unknown %{fmt.split('%')[-1][:1]} directive"
            )
            return 1
        pyfmt = fmt.replace("'", "")

        def render(x: Decimal) -> str:
            return pyfmt % float(x)
    elif all_int:

        def render(x: Decimal) -> str:
            return str(int(x))
    else:
        quant = Decimal(1).scaleb(-prec)

        def render(x: Decimal) -> str:
            if x.is_infinite():
                return "inf" if x > 0 else "-inf"
            return (
                str(x.quantize(quant, rounding=ROUND_HALF_EVEN))
                if prec
                else str(x.to_integral_value(rounding=ROUND_HALF_EVEN))
            )

    width = 0
    if p.flag("w") and not (a.is_infinite() or b.is_infinite()):
        width = max(
            len(render(a)),
            len(render(b) if (b - a) % inc == 0 or all_int else render(a + inc * ((b - a) // inc))),
        )

    def pad(s: str) -> str:
        if not width or len(s) >= width:
            return s
        if s.startswith("-"):
            return "-" + s[1:].rjust(width - 1, "0")
        return s.rjust(width, "0")

    if (inc > 0 and a > b) or (inc < 0 and a < b):
        return 0
    buf: list[str] = []
    count = 0
    i = 0
    first_out = True
    infinite = b.is_infinite()
    if (
        all_int
        and not infinite
        and fmt is None
        and not width
        and max(abs(a), abs(b)).adjusted() >= 4000
    ):
        await ctx.err("number too large (more than 4000 digits)")
        return 1
    if all_int and not infinite and fmt is None and not width:
        # fast path: plain integers
        ia, iinc, ib = int(a), int(inc), int(b)
        stop = ib + (1 if iinc > 0 else -1)
        batch = 2048
        cur = ia
        while (iinc > 0 and cur < stop) or (iinc < 0 and cur > stop):
            end = cur + iinc * batch
            if iinc > 0:
                end = min(end, stop)
            else:
                end = max(end, stop)
            chunk = sep.join(map(str, range(cur, end, iinc)))
            await ctx.out(chunk if first_out else sep + chunk)
            first_out = False
            cur = end
            ctx.check_killed()
        await ctx.out("\n")
        return 0
    while True:
        x = a + inc * i
        if (inc > 0 and x > b) or (inc < 0 and x < b):
            break
        buf.append(pad(render(x)))
        i += 1
        count += 1
        if count >= 1024:
            await ctx.out(("" if first_out else sep) + sep.join(buf))
            first_out = False
            buf = []
            count = 0
            ctx.check_killed()
    if buf:
        await ctx.out(("" if first_out else sep) + sep.join(buf))
        first_out = False
    if not first_out:
        await ctx.out("\n")
    return 0


@command("yes")
async def yes(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: yes [STRING]...\n"
            "Repeatedly output a line with all specified STRING(s), "
            "or 'y'.\n",
        )
    if args[:1] == ["--"]:
        args = args[1:]
    elif args and args[0].startswith("-") and len(args[0]) > 1:
        a = args[0]
        return await report(
            ctx,
            UsageError(
                f"yes: unrecognized option '{a}'\n{_try('yes')}"
                if a.startswith("--")
                else f"yes: invalid option -- '{a[1]}'\n{_try('yes')}"
            ),
        )
    line = enc(" ".join(args) if args else "y") + b"\n"
    block = line * max(1, 8192 // len(line))
    while True:
        await ctx.stdout.write(block)
        ctx.check_killed()


# --------------------------------------------------------------------------------------------
# expr
# --------------------------------------------------------------------------------------------


class _ExprError(Exception):
    def __init__(self, msg: str, status: int = 2) -> None:
        super().__init__(msg)
        self.status = status


_INT_RE = re.compile(r"-?\d+")


def _is_null(v: str | int) -> bool:
    if isinstance(v, int):
        return v == 0
    return v == "" or bool(re.fullmatch(r"-?0+", v))


def _to_int(v: str | int) -> int:
    if isinstance(v, int):
        return v
    if _INT_RE.fullmatch(v):
        return int(v)
    raise _ExprError("non-integer argument")


class _Expr:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.pos = 0

    def peek(self) -> str | None:
        return self.args[self.pos] if self.pos < len(self.args) else None

    def take(self) -> str:
        t = self.args[self.pos]
        self.pos += 1
        return t

    def run(self) -> str | int:
        v = self.or_()
        if self.pos < len(self.args):
            raise _ExprError(f"syntax error: unexpected argument {q(self.args[self.pos])}")
        return v

    def or_(self) -> str | int:
        left = self.and_()
        while self.peek() == "|":
            self.take()
            right = self.and_()
            if _is_null(left):
                left = 0 if _is_null(right) else right
        return left

    def and_(self) -> str | int:
        left = self.cmp()
        while self.peek() == "&":
            self.take()
            right = self.cmp()
            if _is_null(left) or _is_null(right):
                left = 0
        return left

    def cmp(self) -> str | int:
        left = self.add()
        while self.peek() in ("<", "<=", "=", "==", "!=", ">=", ">"):
            op = self.take()
            right = self.add()
            ls, rs = str(left), str(right)
            if _INT_RE.fullmatch(ls) and _INT_RE.fullmatch(rs):
                a: object = int(ls)
                b: object = int(rs)
            else:
                a, b = enc(ls), enc(rs)
            res = {
                "<": a < b,
                "<=": a <= b,
                "=": a == b,
                "==": a == b,  # type: ignore[operator]
                "!=": a != b,
                ">=": a >= b,
                ">": a > b,
            }[op]  # type: ignore[operator]
            left = 1 if res else 0
        return left

    def add(self) -> str | int:
        left = self.mul()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.mul()
            a, b = _to_int(left), _to_int(right)
            left = a + b if op == "+" else a - b
        return left

    def mul(self) -> str | int:
        left = self.colon()
        while self.peek() in ("*", "/", "%"):
            op = self.take()
            right = self.colon()
            a, b = _to_int(left), _to_int(right)
            if op == "*":
                left = a * b
            else:
                if b == 0:
                    raise _ExprError("division by zero")
                qt = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
                left = qt if op == "/" else a - b * qt
        return left

    def colon(self) -> str | int:
        left = self.prim()
        while self.peek() == ":":
            self.take()
            right = self.prim()
            left = _expr_match(str(left), str(right))
        return left

    def operand(self) -> str:
        if self.peek() is None:
            prev = self.args[self.pos - 1] if self.pos else ""
            raise _ExprError(f"syntax error: missing argument after {q(prev)}")
        return self.take()

    def prim(self) -> str | int:
        tok = self.peek()
        if tok is None:
            if self.pos == 0:
                raise _ExprError("syntax error: missing argument")
            raise _ExprError(f"syntax error: missing argument after {q(self.args[self.pos - 1])}")
        if tok == "(":
            self.take()
            v = self.or_()
            if self.peek() != ")":
                if self.peek() is None:
                    raise _ExprError(
                        f"syntax error: expecting ')' after {q(self.args[self.pos - 1])}"
                    )
                raise _ExprError(f"syntax error: expecting ')' instead of {q(self.args[self.pos])}")
            self.take()
            return v
        if tok == ")":
            raise _ExprError("syntax error: unexpected ')'")
        need = {"+": 1, "length": 1, "match": 2, "index": 2, "substr": 3}.get(tok)
        if need is not None and self.pos + need >= len(self.args):
            last = self.args[-1]
            raise _ExprError(f"syntax error: missing argument after {q(last)}")
        if tok == "+" and self.pos + 1 < len(self.args):
            self.take()
            return self.take()
        if tok == "length" and self.pos + 1 < len(self.args):
            self.take()
            return len(str(self.prim()))
        if tok == "match" and self.pos + 2 < len(self.args):
            self.take()
            s = str(self.prim())
            r = str(self.prim())
            return _expr_match(s, r)
        if tok == "index" and self.pos + 2 < len(self.args):
            self.take()
            s = str(self.prim())
            chars = str(self.prim())
            for i, c in enumerate(s):
                if c in chars:
                    return i + 1
            return 0
        if tok == "substr" and self.pos + 3 < len(self.args):
            self.take()
            s = str(self.prim())
            pos_s = str(self.prim())
            len_s = str(self.prim())
            if not _INT_RE.fullmatch(pos_s) or not _INT_RE.fullmatch(len_s):
                return ""
            start, length = int(pos_s), int(len_s)
            if start < 1 or length < 1 or start > len(s):
                return ""
            return s[start - 1 : start - 1 + length]
        self.take()
        return tok


def _expr_match(s: str, pattern: str) -> str | int:
    try:
        rx = re.compile(bre_to_regex(pattern, "basic"), re.DOTALL)
    except re.error as exc:
        raise _ExprError(_regex_message(exc)) from None
    m = rx.match(s)
    if rx.groups:
        if not m or m.group(1) is None:
            return ""
        return m.group(1)
    return len(m.group(0)) if m else 0


def _regex_message(exc: re.error) -> str:
    msg = str(exc)
    if "missing )" in msg:
        return "Unmatched ( or \\("
    if "unbalanced parenthesis" in msg:
        return "Unmatched ) or \\)"
    if "unterminated character set" in msg:
        return "Unmatched [, [^, [:, [., or [="
    return "Invalid regular expression"


@command("expr")
async def expr(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args == ["--help"]:
        return await show_help(
            ctx,
            "Usage: expr EXPRESSION\n"
            "Print the value of EXPRESSION to standard output.\n\n"
            "  ARG1 | ARG2, ARG1 & ARG2, ARG1 < <= = != >= > ARG2,\n"
            "  ARG1 + - * / % ARG2, STRING : REGEXP,\n"
            "  match STRING REGEXP, substr STRING POS LENGTH,\n"
            "  index STRING CHARS, length STRING, + TOKEN, ( EXPR )\n\n"
            "Exit status is 0 if EXPRESSION is neither null nor 0, "
            "1 if it is null or 0,\n2 if it is syntactically invalid, "
            "and 3 if an error occurred.\n",
        )
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        return await report(ctx, UsageError(f"expr: missing operand\n{_try('expr')}", 2))
    try:
        v = _Expr(args).run()
        text = f"{v}\n"
    except _ExprError as exc:
        await ctx.err(str(exc))
        return exc.status
    except ValueError:
        # Python refuses int <-> str conversions past 4,300 digits
        await ctx.err("number too large (more than 4300 digits)")
        return 3
    await ctx.out(text)
    return 1 if _is_null(v) else 0


# --------------------------------------------------------------------------------------------
# factor
# --------------------------------------------------------------------------------------------


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _rho(n: int) -> int:
    if n % 2 == 0:
        return 2
    c = 1
    while True:
        x = y = 2
        d = 1
        while d == 1:
            x = (x * x + c) % n
            y = (y * y + c) % n
            y = (y * y + c) % n
            d = math.gcd(abs(x - y), n)
        if d != n:
            return d
        c += 1


def factorize(n: int) -> list[int]:
    out: list[int] = []
    for p in (2, 3, 5):
        while n % p == 0:
            out.append(p)
            n //= p
    f = 7
    steps = (4, 2, 4, 2, 4, 6, 2, 6)
    i = 0
    while f * f <= n and f < 10000:
        while n % f == 0:
            out.append(f)
            n //= f
        f += steps[i % 8]
        i += 1
    stack = [n] if n > 1 else []
    big: list[int] = []
    while stack:
        m = stack.pop()
        if m == 1:
            continue
        if _is_prime(m):
            big.append(m)
            continue
        d = _rho(m)
        stack += [d, m // d]
    return out + sorted(big)


@command("factor")
async def factor(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: factor [OPTION] [NUMBER]...\n"
            "Print the prime factors of each specified integer NUMBER.  "
            "If none\nare specified on the command line, read them "
            "from standard input.\n\n  -h, --exponents   print "
            "repeated factors in form p^e unless e is 1\n",
        )
    exponents = False
    nums: list[str] = []
    for a in args:
        if a in ("-h", "--exponents"):
            exponents = True
        elif a.startswith("-") and len(a) > 1 and not a[1:].isdigit():
            return await report(
                ctx,
                UsageError(
                    f"factor: unrecognized option '{a}'\n{_try('factor')}"
                    if a.startswith("--")
                    else f"factor: invalid option -- '{a[1]}'\n{_try('factor')}"
                ),
            )
        else:
            nums.append(a)
    status = 0

    async def one(tok: str) -> None:
        nonlocal status
        t = tok.strip()
        if t.startswith("+"):
            t = t[1:]
        if not t.isdigit() or not t.isascii():
            await ctx.err(f"{q(tok)} is not a valid positive integer")
            status = 1
            return
        n = int(t)
        fs = factorize(n) if n > 1 else []
        if exponents:
            parts = []
            for f in sorted(set(fs)):
                c = fs.count(f)
                parts.append(f"{f}^{c}" if c > 1 else str(f))
        else:
            parts = [str(f) for f in fs]
        await ctx.out(f"{n}:" + "".join(" " + x for x in parts) + "\n")

    if nums:
        for t in nums:
            await one(t)
    else:
        async for line in ctx.stdin:
            for tok in line.decode("utf-8", "surrogateescape").split():
                await one(tok)
                ctx.check_killed()
    return status


# --------------------------------------------------------------------------------------------
# numfmt
# --------------------------------------------------------------------------------------------

NUMFMT_HELP = """Usage: numfmt [OPTION]... [NUMBER]...
Reformat NUMBER(s), or the numbers from standard input if none are specified.

  -d, --delimiter=X    use X instead of whitespace for field delimiter
      --field=N        replace the number in input field N (default is 1)
      --format=FORMAT  use printf style floating-point FORMAT
      --from=UNIT      auto-scale input numbers to UNITs; default is 'none'
      --from-unit=N    specify the input unit size (instead of the default 1)
      --header[=N]     print (without converting) the first N header lines (default 1)
      --invalid=MODE   failure mode for invalid numbers: abort (default), fail, warn, ignore
      --padding=N      pad the output to N characters; positive N will right-align
      --round=METHOD   up, down, from-zero (default), towards-zero, nearest
      --suffix=SUFFIX  add SUFFIX to output numbers, and accept optional SUFFIX in input
      --to=UNIT        auto-scale output numbers to UNITs
      --to-unit=N      the output unit size (instead of the default 1)

UNIT: none, auto (input only), si (1000), iec (1024), iec-i (1024, Ki suffixes).
"""

_SUFFIX_LETTERS = "KMGTPEZYRQ"


class _NumfmtError(Exception):
    pass


def _round(x: float, method: str) -> float:
    if method == "up":
        return math.ceil(x)
    if method == "down":
        return math.floor(x)
    if method == "towards-zero":
        return math.trunc(x)
    if method == "nearest":
        return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)
    return math.ceil(x) if x >= 0 else -math.ceil(-x)


def _numfmt_parse(tok: str, unit: str, suffix: str, from_unit: int) -> float:
    t = tok
    if suffix and t.endswith(suffix):
        t = t[: -len(suffix)]
    m = re.fullmatch(r"\s*([+-]?(?:\d+\.?\d*|\.\d+))([A-Za-z]*)\s*", t)
    if not m:
        raise _NumfmtError(f"invalid number: {q(tok)}")
    val = float(m.group(1))
    suf = m.group(2)
    if not suf:
        return val * from_unit
    if unit == "none":
        raise _NumfmtError(f"invalid suffix in input: {q(tok)}")
    letter = suf[0]
    if letter not in _SUFFIX_LETTERS or len(suf) > 2 or (len(suf) == 2 and suf[1] != "i"):
        raise _NumfmtError(f"invalid suffix in input: {q(tok)}")
    power = _SUFFIX_LETTERS.index(letter) + 1
    if unit == "si":
        if len(suf) == 2:
            raise _NumfmtError(f"invalid suffix in input: {q(tok)}")
        base = 1000
    elif unit == "iec":
        if len(suf) == 2:
            raise _NumfmtError(f"invalid suffix in input: {q(tok)}")
        base = 1024
    elif unit == "iec-i":
        if len(suf) != 2:
            raise _NumfmtError(f"missing 'i' suffix in input: {q(tok)} (e.g. Ki/Mi/Gi)")
        base = 1024
    else:  # auto
        base = 1024 if len(suf) == 2 else 1000
    return val * base**power * from_unit


def _numfmt_render(val: float, unit: str, rnd: str, to_unit: int) -> str:
    val = val / to_unit
    if unit == "none":
        r = _round(val, rnd)
        return str(int(r))
    base = 1000 if unit == "si" else 1024
    if abs(val) < base and abs(_round(val, rnd)) < base:
        return str(int(_round(val, rnd)))
    power = 0
    x = abs(val)
    while x >= base and power < len(_SUFFIX_LETTERS):
        x /= base
        power += 1
    sign = "-" if val < 0 else ""
    if x < 10:
        y = _round(x * 10, rnd) / 10
        if y >= 10:
            text = f"{int(y)}"
        else:
            text = f"{y:.1f}"
    else:
        y = _round(x, rnd)
        if y >= base and power < len(_SUFFIX_LETTERS):
            power += 1
            y = y / base
            text = f"{_round(y * 10, rnd) / 10:.1f}"
        else:
            text = str(int(y))
    letter = _SUFFIX_LETTERS[power - 1]
    return sign + text + letter + ("i" if unit == "iec-i" else "")


@command("numfmt")
async def numfmt(ctx: Context) -> int:
    spec = [
        Opt("d", "delimiter", "required"),
        Opt("", "field", "required"),
        Opt("", "format", "required"),
        Opt("", "from", "required"),
        Opt("", "from-unit", "required"),
        Opt("", "grouping"),
        Opt("", "header", "optional"),
        Opt("", "invalid", "required"),
        Opt("", "padding", "required"),
        Opt("", "round", "required"),
        Opt("", "suffix", "required"),
        Opt("", "to", "required"),
        Opt("", "to-unit", "required"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("numfmt", ctx.argv[1:], spec, allow_numeric=True)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, NUMFMT_HELP)
    units = ("none", "auto", "si", "iec", "iec-i")
    from_u = p.str("from") or "none"
    to_u = p.str("to") or "none"
    for opt, val in (("from", from_u), ("to", to_u)):
        if val not in units or (opt == "to" and val == "auto"):
            await ctx.err(f"invalid argument {q(val)} for '--{opt}'")
            await ctx.stderr.write(
                b"Valid arguments are:\n  - 'none'\n  - 'auto'\n  - 'si'\n"
                b"  - 'iec'\n  - 'iec-i'\n" + (_try("numfmt") + "\n").encode()
            )
            return 1
    rnd = p.str("round") or "from-zero"
    if rnd not in ("up", "down", "from-zero", "towards-zero", "nearest"):
        await ctx.err(f"invalid argument {q(rnd)} for '--round'")
        return 1
    suffix = p.str("suffix") or ""
    padding = 0
    if p.str("padding") is not None:
        try:
            padding = int(p.str("padding") or "")
        except ValueError:
            padding = 0
        if abs(padding) > ctx.limits.max_output_bytes:
            padding = 0  # every line would be past the output limit: refuse it up front
        if padding == 0:
            await ctx.err(f"invalid padding value {q(p.str('padding') or '')}")
            return 1
    try:
        from_unit = int(p.str("from_unit") or 1)
        to_unit = int(p.str("to_unit") or 1)
    except ValueError:
        await ctx.err("invalid unit size")
        return 1
    fmt = p.str("format")
    invalid = p.str("invalid") or "abort"
    field_n = int(p.str("field") or 1) if (p.str("field") or "1").isdigit() else 1
    delim = p.str("d")
    status = 0

    def convert(tok: str) -> str:
        val = _numfmt_parse(tok, from_u, suffix, from_unit)
        if fmt is not None:
            m = re.fullmatch(r"(.*?)%([-0']*)(\d*)(?:\.(\d+))?f(.*)", fmt)
            if not m:
                raise _NumfmtError(f"invalid format {q(fmt)}")
            pre, flags, width, prec, post = m.groups()
            if prec is not None and to_u == "none":
                p10 = 10 ** int(prec)
                body = f"{_round(val * p10, rnd) / p10:.{int(prec)}f}"
            else:
                body = _numfmt_render(val, to_u, rnd, to_unit)
            body += suffix
            if width:
                body = (
                    body.ljust(int(width))
                    if "-" in flags
                    else body.rjust(int(width), "0" if "0" in flags and body[:1].isdigit() else " ")
                )
            return pre + body + post
        body = _numfmt_render(val, to_u, rnd, to_unit) + suffix
        if padding:
            body = body.rjust(padding) if padding > 0 else body.ljust(-padding)
        return body

    async def handle(line: str, from_stdin: bool = True) -> None:
        nonlocal status
        lead = ""
        if delim is not None:
            parts = line.split(delim)
            seps = [delim] * (len(parts) - 1)
        else:
            tokens = re.split(r"(\s+)", line)
            parts = tokens[0::2]
            seps = tokens[1::2]
            if parts and parts[0] == "" and len(parts) > 1:
                # leading blanks belong to the first field
                parts = parts[1:]
                lead = seps[0]
                seps = seps[1:]
            else:
                lead = ""
        idx = field_n - 1
        if idx < len(parts):
            try:
                old = parts[idx]
                try:
                    parts[idx] = convert(old)
                except (OverflowError, ValueError) as exc:
                    raise _NumfmtError(f"value too large to be converted: {q(old)}") from exc
                before = (
                    (seps[idx - 1] if idx > 0 and idx - 1 < len(seps) else lead if idx == 0 else "")
                    if delim is None
                    else ""
                )
                if from_stdin and before and not padding and fmt is None:
                    # a field after blanks keeps the width of blanks + field, right-aligned
                    new = parts[idx].rjust(len(before) + len(old))
                    if idx > 0 and not new.startswith(" "):
                        new = " " + new
                    parts[idx] = new
                    if idx == 0:
                        lead = ""
                    else:
                        seps[idx - 1] = ""
            except _NumfmtError as exc:
                if invalid == "abort":
                    raise
                if invalid in ("fail", "warn"):
                    await ctx.err(str(exc))
                if invalid == "fail":
                    status = 2
        out = parts[0] if parts else ""
        for s, part in zip(seps, parts[1:], strict=False):
            out += s + part
        if delim is None:
            out = lead + out
        await ctx.out(out + "\n")

    try:
        if p.operands:
            for tok in p.operands:
                await handle(tok, False)
        else:
            header = p.get("header")
            skip = 0
            if header is not None:
                skip = int(header) if isinstance(header, str) and header.isdigit() else 1
            async for raw in ctx.stdin:
                line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
                if skip:
                    skip -= 1
                    await ctx.out(line + "\n")
                    continue
                await handle(line)
    except _NumfmtError as exc:
        await ctx.err(str(exc))
        return 2
    return status


# --------------------------------------------------------------------------------------------
# system identity: uname, hostname, whoami, id, nproc
# --------------------------------------------------------------------------------------------

KERNEL_RELEASE = "6.1.0-pocketos"
KERNEL_VERSION = "#1 SMP PREEMPT_DYNAMIC pocketos"
MACHINE = "x86_64"
NPROC = 2


def _hostname(ctx: Context) -> str:
    try:
        name = ctx.fs.read_text("/etc/hostname").strip()
    except OSError:
        name = ""
    return name or "pocketos"


@command("uname")
async def uname(ctx: Context) -> int:
    spec = [
        Opt("a", "all"),
        Opt("s", "kernel-name"),
        Opt("n", "nodename"),
        Opt("r", "kernel-release"),
        Opt("v", "kernel-version"),
        Opt("m", "machine"),
        Opt("p", "processor"),
        Opt("i", "hardware-platform"),
        Opt("o", "operating-system"),
        HELP,
    ]
    try:
        p = parse("uname", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: uname [OPTION]...\nPrint certain system "
            "information.  With no OPTION, same as -s.\n\n"
            "  -a, --all  -s  -n  -r  -v  -m  -p  -i  -o\n",
        )
    if p.operands:
        return await report(
            ctx, UsageError(f"uname: extra operand {q(p.operands[0])}\n{_try('uname')}")
        )
    fields = [
        ("s", "Linux"),
        ("n", _hostname(ctx)),
        ("r", KERNEL_RELEASE),
        ("v", KERNEL_VERSION),
        ("m", MACHINE),
        ("p", MACHINE),
        ("i", MACHINE),
        ("o", "GNU/Linux"),
    ]
    if p.flag("a"):
        chosen = [v for k, v in fields if k not in ("p", "i")]
    else:
        chosen = [v for k, v in fields if p.flag(k)]
        if not chosen:
            chosen = ["Linux"]
    await ctx.out(" ".join(chosen) + "\n")
    return 0


@command("hostname")
async def hostname(ctx: Context) -> int:
    spec = [
        Opt("s", "short"),
        Opt("f", "fqdn"),
        Opt("", "long", dest="f"),
        Opt("i", "ip-address"),
        Opt("I", "all-ip-addresses"),
        Opt("d", "domain"),
        HELP,
    ]
    try:
        p = parse("hostname", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx, "Usage: hostname [-s|-f|-i|-I|-d]\nShow the VM's host name (from /etc/hostname).\n"
        )
    if p.operands:
        await ctx.err("you must be root to change the host name")
        return 1
    name = _hostname(ctx)
    if p.flag("i") or p.flag("I"):
        await ctx.out("127.0.0.1\n")
    elif p.flag("d"):
        await ctx.out(name.partition(".")[2] + "\n")
    elif p.flag("s"):
        await ctx.out(name.split(".")[0] + "\n")
    else:
        await ctx.out(name + "\n")
    return 0


def _identity(ctx: Context) -> tuple[str, int, int]:
    """(user name, uid, gid) of the current user: $USER if known, else uid 1000."""
    uids, unames, _, _ = user_maps(ctx.fs)
    name = ctx.env.get("USER") or ctx.env.get("LOGNAME") or ""
    uid = unames.get(name)
    if uid is None:
        uid = 1000
        name = uids.get(uid, name or "user")
    gid = uid
    try:
        for line in ctx.fs.read_text("/etc/passwd").splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == name and parts[3].isdigit():
                gid = int(parts[3])
                break
    except OSError:
        pass
    return name, uid, gid


@command("whoami")
async def whoami(ctx: Context) -> int:
    try:
        p = parse("whoami", ctx.argv[1:], [HELP])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, "Usage: whoami\nPrint the user name of the current user.\n")
    if p.operands:
        return await report(
            ctx, UsageError(f"whoami: extra operand {q(p.operands[0])}\n{_try('whoami')}")
        )
    await ctx.out(_identity(ctx)[0] + "\n")
    return 0


@command("id")
async def id_cmd(ctx: Context) -> int:
    spec = [
        Opt("u", "user"),
        Opt("g", "group"),
        Opt("G", "groups"),
        Opt("n", "name"),
        Opt("r", "real"),
        Opt("z", "zero"),
        HELP,
    ]
    try:
        p = parse("id", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: id [OPTION]... [USER]...\n"
            "Print user and group information for each specified USER,\n"
            "or (when USER omitted) for the current user.\n\n"
            "  -g, --group  -G, --groups  -n, --name  -r, --real  "
            "-u, --user\n",
        )
    uids, unames, gids, _ = user_maps(ctx.fs)
    targets: list[tuple[str, int, int]] = []
    if p.operands:
        for who in p.operands:
            uid = unames.get(who)
            if uid is None and who.isdigit() and int(who) in uids:
                uid = int(who)
                who = uids[uid]
            if uid is None:
                await ctx.err(f"{q(who)}: no such user")
                return 1
            gid = uid
            try:
                for line in ctx.fs.read_text("/etc/passwd").splitlines():
                    parts = line.split(":")
                    if len(parts) > 3 and parts[0] == who and parts[3].isdigit():
                        gid = int(parts[3])
            except OSError:
                pass
            targets.append((who, uid, gid))
    else:
        targets.append(_identity(ctx))
    modes = sum(p.flag(k) for k in ("u", "g", "G"))
    if modes > 1:
        await ctx.err('cannot print "only" of more than one choice')
        return 1
    if (p.flag("n") or p.flag("r")) and not modes:
        await ctx.err("cannot print only names or real IDs in default format")
        return 1
    lines = []
    for name, uid, gid in targets:
        groups = [gid]
        try:
            for line in ctx.fs.read_text("/etc/group").splitlines():
                parts = line.split(":")
                if len(parts) > 3 and parts[2].isdigit() and name in parts[3].split(","):
                    g = int(parts[2])
                    if g not in groups:
                        groups.append(g)
        except OSError:
            pass
        if p.flag("u"):
            lines.append(name if p.flag("n") else str(uid))
        elif p.flag("g"):
            lines.append(gids.get(gid, str(gid)) if p.flag("n") else str(gid))
        elif p.flag("G"):
            sep = "\0" if p.flag("z") else " "
            lines.append(sep.join(gids.get(g, str(g)) if p.flag("n") else str(g) for g in groups))
        else:
            gtext = ",".join(f"{g}({gids.get(g, str(g))})" for g in groups)
            lines.append(f"uid={uid}({name}) gid={gid}({gids.get(gid, str(gid))}) groups={gtext}")
    end = "\0" if p.flag("z") else "\n"
    await ctx.out("".join(line + end for line in lines))
    return 0


@command("nproc")
async def nproc(ctx: Context) -> int:
    try:
        p = parse("nproc", ctx.argv[1:], [Opt("", "all"), Opt("", "ignore", "required"), HELP])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: nproc [OPTION]...\nPrint the number of processing "
            f"units available (always {NPROC} in the VM).\n\n"
            "      --all       print the number of installed "
            "processors\n      --ignore=N  if possible, exclude N "
            "processing units\n",
        )
    if p.operands:
        return await report(
            ctx, UsageError(f"nproc: extra operand {q(p.operands[0])}\n{_try('nproc')}")
        )
    n = NPROC
    ign = p.str("ignore")
    if ign is not None:
        if not ign.isdigit():
            await ctx.err(f"invalid number: {q(ign)}")
            return 1
        n = max(1, n - int(ign))
    await ctx.out(f"{n}\n")
    return 0


# --------------------------------------------------------------------------------------------
# true / false / test / [
# --------------------------------------------------------------------------------------------


@command("true")
async def true_cmd(ctx: Context) -> int:
    if ctx.argv[1:] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: true [ignored command line arguments]\n"
            "Exit with a status code indicating success.\n",
        )
    return 0


@command("false")
async def false_cmd(ctx: Context) -> int:
    if ctx.argv[1:] == ["--help"]:
        await show_help(
            ctx,
            "Usage: false [ignored command line arguments]\n"
            "Exit with a status code indicating failure.\n",
        )
        return 1
    return 1


TEST_HELP = """Usage: test EXPRESSION
  or:  test
  or:  [ EXPRESSION ]
  or:  [ ]
Exit with the status determined by EXPRESSION (0 true, 1 false, 2 error).
File tests: -e -f -d -L -h -r -w -x -s -p -S -b -c -g -u -k -O -G -N; FILE1 -nt -ot -ef FILE2
Strings: -n -z = == != < >; integers: -eq -ne -lt -le -gt -ge; ! -a -o ( ).
"""


async def _test_common(ctx: Context, bracket: bool) -> int:
    args = list(ctx.argv[1:])
    if bracket and args == ["--help"]:
        return await show_help(ctx, TEST_HELP)
    name = "[" if bracket else "test"
    _, uid, gid = _identity(ctx)
    try:
        status, message = evaluate_test(
            args, ctx.fs, name=name, uid=uid, gid=gid, is_set=lambda v: v in ctx.env
        )
    except Exception as exc:  # noqa: BLE001 - never let a bad expression escape
        await ctx.stderr.write(f"{name}: {exc}\n".encode("utf-8", "surrogateescape"))
        return 2
    if message:
        text = message if message.startswith(f"{name}:") else f"{name}: {message}"
        # coreutils quotes like 'this', bash like `this'
        text = re.sub(r"`([^`']*)'", r"'\1'", text)
        await ctx.stderr.write((text + "\n").encode("utf-8", "surrogateescape"))
    return status


@command("test")
async def test_cmd(ctx: Context) -> int:
    return await _test_common(ctx, False)


@command("[")
async def bracket_cmd(ctx: Context) -> int:
    return await _test_common(ctx, True)


# --------------------------------------------------------------------------------------------
# tput / clear
# --------------------------------------------------------------------------------------------

_TPUT_NUMBERS = {"cols": 80, "columns": 80, "lines": 24, "colors": 8, "it": 8, "pairs": 64}
_TPUT_STRINGS = {
    "sgr0",
    "bold",
    "dim",
    "smul",
    "rmul",
    "rev",
    "blink",
    "smso",
    "rmso",
    "setaf",
    "setab",
    "setf",
    "setb",
    "clear",
    "cup",
    "civis",
    "cnorm",
    "cvvis",
    "el",
    "ed",
    "el1",
    "home",
    "smcup",
    "rmcup",
    "sc",
    "rc",
    "cuu1",
    "cud1",
    "cub1",
    "cuf1",
    "cuu",
    "cud",
    "cub",
    "cuf",
    "hpa",
    "vpa",
    "op",
    "bel",
    "reset",
    "init",
    "smam",
    "rmam",
    "ritm",
    "sitm",
    "hs",
    "longname",
}


@command("tput")
async def tput(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: tput [-T TERM] CAPNAME [PARAMETERS...]\n"
            "Terminal capabilities for a fixed 80x24, 8-colour terminal;"
            "\nstring capabilities print nothing (output is not a "
            "terminal).\n",
        )
    if args[:1] == ["-T"]:
        args = args[2:]
    elif args[:1] and args[0].startswith("-T"):
        args = args[1:]
    if args[:1] == ["-S"]:
        data = await ctx.stdin.read()
        caps = [ln.split()[0] for ln in data.decode("utf-8", "replace").splitlines() if ln.split()]
        status = 0
        for cap in caps:
            if cap in _TPUT_NUMBERS:
                await ctx.out(f"{_TPUT_NUMBERS[cap]}\n")
            elif cap not in _TPUT_STRINGS:
                status = 4
        return status
    if not args:
        await ctx.stderr.write(b"usage: tput [-T TERM] CAPNAME [PARAMETERS...]\n")
        return 2
    cap = args[0]
    if cap in _TPUT_NUMBERS:
        await ctx.out(f"{_TPUT_NUMBERS[cap]}\n")
        return 0
    if cap == "longname":
        await ctx.out("pocketos virtual terminal")
        return 0
    if cap in _TPUT_STRINGS:
        return 0
    if cap in ("am", "km", "xenl", "bce"):
        return 0
    await ctx.err(f"unknown terminal capability {q(cap)}")
    return 4


@command("clear")
async def clear(ctx: Context) -> int:
    if ctx.argv[1:] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: clear\nClear the screen (prints nothing: the VM's "
            "output is never a terminal).\n",
        )
    return 0


# --------------------------------------------------------------------------------------------
# printf / echo as external commands
# --------------------------------------------------------------------------------------------


@command("printf")
async def printf_cmd(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args == ["--help"]:
        return await show_help(
            ctx,
            "Usage: printf FORMAT [ARGUMENT]...\n"
            "Print ARGUMENT(s) according to FORMAT, like the C "
            "function.\n",
        )
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        return await report(ctx, UsageError(f"printf: missing operand\n{_try('printf')}"))
    out, errors, status = format_printf(args[0], args[1:])
    await ctx.out(out)
    for e in errors:
        await ctx.stderr.write(f"printf: {e}\n".encode("utf-8", "surrogateescape"))
    return status


_ECHO_ESC = {
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def echo_escapes(s: str) -> tuple[bytes, bool]:
    """Interpret ``echo -e`` escapes; returns (bytes, stop) where stop means ``\\c`` was seen."""
    out = bytearray()
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d in _ECHO_ESC:
                out += _ECHO_ESC[d].encode()
                i += 2
                continue
            if d == "c":
                return bytes(out), True
            if d == "0":
                m = re.match(r"[0-7]{0,3}", s[i + 2 :])
                digits = m.group(0) if m else ""
                out.append(int(digits or "0", 8) & 0xFF)
                i += 2 + len(digits)
                continue
            if d == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 2 :])
                if m:
                    out.append(int(m.group(0), 16))
                    i += 2 + len(m.group(0))
                    continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return bytes(out), False


@command("echo")
async def echo(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args == ["--help"]:
        return await show_help(
            ctx,
            "Usage: echo [SHORT-OPTION]... [STRING]...\n"
            "Echo the STRING(s) to standard output.\n\n"
            "  -n     do not output the trailing newline\n"
            "  -e     enable interpretation of backslash escapes\n"
            "  -E     disable interpretation of backslash escapes "
            "(default)\n",
        )
    newline = True
    escapes = False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for c in args[0][1:]:
            if c == "n":
                newline = False
            elif c == "e":
                escapes = True
            else:
                escapes = False
        args = args[1:]
    text = " ".join(args)
    if escapes:
        data, stop = echo_escapes(text)
        if stop:
            await ctx.stdout.write(data)
            return 0
    else:
        data = enc(text)
    await ctx.stdout.write(data + (b"\n" if newline else b""))
    return 0


@command("pwd")
async def pwd_cmd(ctx: Context) -> int:
    """``/bin/pwd``: -L (default: $PWD when it names the cwd) and -P (resolve symlinks)."""
    physical = False
    for a in ctx.argv[1:]:
        if a == "--help":
            return await show_help(
                ctx, "Usage: pwd [-LP]\nPrint the full filename of the current working directory.\n"
            )
        if a in ("-P", "--physical"):
            physical = True
        elif a in ("-L", "--logical"):
            physical = False
        elif a.startswith("-"):
            await ctx.stderr.write(
                f"pwd: invalid option -- '{a[1:2]}'\n"
                "Try 'pwd --help' for more information.\n".encode()
            )
            return 1
        else:
            await ctx.err("ignoring non-option arguments")
    cwd = ctx.cwd
    if physical:
        try:
            cwd = ctx.fs.realpath(cwd, strict=True)
        except OSError as exc:
            await ctx.os_error(exc, cwd)
            return 1
    await ctx.out(cwd + "\n")
    return 0
