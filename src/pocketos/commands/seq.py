"""seq and yes."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    enc,
    q,
    show_help,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context

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
