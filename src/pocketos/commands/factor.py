"""factor."""

from __future__ import annotations

import math

from pocketos.commands import command
from pocketos.commands._args import UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
)
from pocketos.commands._util import _try
from pocketos.kernel.process import Context


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
