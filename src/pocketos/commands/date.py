"""date, and the date parsing and formatting shared with touch and find."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
    strerror,
    tz_from_env,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context

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


__all__ = ["parse_date", "strftime_gnu"]
