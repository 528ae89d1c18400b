"""truncate."""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _start, parse_size, q, strerror
from pocketos.kernel.process import Context

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
