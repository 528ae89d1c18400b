"""tput and clear."""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._fs import (
    q,
    show_help,
)
from pocketos.kernel.process import Context

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
