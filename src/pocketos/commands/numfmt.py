"""numfmt."""

from __future__ import annotations

import math
import re

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context

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
