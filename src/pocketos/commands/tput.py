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


#: xterm's strings, sent only when stdout is a terminal (a ``vm.open_shell()`` terminal)
_XTERM = {
    "sgr0": "\x1b(B\x1b[m",
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "smul": "\x1b[4m",
    "rmul": "\x1b[24m",
    "rev": "\x1b[7m",
    "blink": "\x1b[5m",
    "smso": "\x1b[7m",
    "rmso": "\x1b[27m",
    "sitm": "\x1b[3m",
    "ritm": "\x1b[23m",
    "clear": "\x1b[H\x1b[2J",
    "el": "\x1b[K",
    "el1": "\x1b[1K",
    "ed": "\x1b[J",
    "home": "\x1b[H",
    "civis": "\x1b[?25l",
    "cnorm": "\x1b[?12l\x1b[?25h",
    "cvvis": "\x1b[?12;25h",
    "sc": "\x1b7",
    "rc": "\x1b8",
    "cuu1": "\x1b[A",
    "cud1": "\n",
    "cub1": "\b",
    "cuf1": "\x1b[C",
    "smcup": "\x1b[?1049h\x1b[22;0;0t",
    "rmcup": "\x1b[?1049l\x1b[23;0;0t",
    "op": "\x1b[39;49m",
    "bel": "\x07",
    "smam": "\x1b[?7h",
    "rmam": "\x1b[?7l",
}
#: capabilities with numeric parameters: the escape for the given numbers
_XTERM_PARAM = {
    "setaf": lambda n: f"\x1b[{30 + n}m" if n < 8 else f"\x1b[38;5;{n}m",
    "setab": lambda n: f"\x1b[{40 + n}m" if n < 8 else f"\x1b[48;5;{n}m",
    "cuu": lambda n: f"\x1b[{n}A",
    "cud": lambda n: f"\x1b[{n}B",
    "cuf": lambda n: f"\x1b[{n}C",
    "cub": lambda n: f"\x1b[{n}D",
    "hpa": lambda n: f"\x1b[{n + 1}G",
    "vpa": lambda n: f"\x1b[{n + 1}d",
}


def _winsize(ctx: Context) -> tuple[int, int] | None:
    """(rows, cols) of the terminal on stdout (or stdin), if there is one."""
    for stream in (ctx.stdout, ctx.stdin):
        size = getattr(stream, "winsize", None)
        if stream is not None and stream.isatty() and size is not None:
            rows, cols = size()
            return int(rows), int(cols)
    return None


def _number(ctx: Context, cap: str) -> int:
    size = _winsize(ctx)
    if cap in ("cols", "columns", "lines"):
        env = ctx.env.get("LINES" if cap == "lines" else "COLUMNS", "")
        if env.isdigit() and int(env) > 0:
            return int(env)
        if size is not None:
            return size[0] if cap == "lines" else size[1]
    if cap == "colors" and size is not None:
        return 256
    return _TPUT_NUMBERS[cap]


async def _string(ctx: Context, cap: str, params: list[str]) -> int:
    """On a terminal, write the escape for ``cap``; elsewhere nothing (status 0 either way)."""
    if _winsize(ctx) is None:
        return 0
    if cap == "cup":
        try:
            row, col = (int(p) for p in params[:2])
        except ValueError:
            return 1
        await ctx.out(f"\x1b[{row + 1};{col + 1}H")
        return 0
    if cap in _XTERM_PARAM:
        try:
            n = int(params[0]) if params else 1
        except ValueError:
            return 1
        await ctx.out(_XTERM_PARAM[cap](n))
        return 0
    if cap in _XTERM:
        await ctx.out(_XTERM[cap])
    return 0


@command("tput")
async def tput(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: tput [-T TERM] CAPNAME [PARAMETERS...]\n"
            "Terminal capabilities. On a terminal (vm.open_shell) they are xterm's,\n"
            "with its window size; elsewhere an 80x24, 8-colour terminal whose\n"
            "string capabilities print nothing.\n",
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
                await ctx.out(f"{_number(ctx, cap)}\n")
            elif cap in _TPUT_STRINGS:
                await _string(ctx, cap, [])
            else:
                status = 4
        return status
    if not args:
        await ctx.stderr.write(b"usage: tput [-T TERM] CAPNAME [PARAMETERS...]\n")
        return 2
    cap = args[0]
    if cap in _TPUT_NUMBERS:
        await ctx.out(f"{_number(ctx, cap)}\n")
        return 0
    if cap == "longname":
        await ctx.out("pocketos virtual terminal")
        return 0
    if cap in _TPUT_STRINGS:
        return await _string(ctx, cap, args[1:])
    if cap in ("am", "km", "xenl", "bce"):
        return 0
    await ctx.err(f"unknown terminal capability {q(cap)}")
    return 4


@command("clear")
async def clear(ctx: Context) -> int:
    if ctx.argv[1:] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: clear\nClear the screen (on a terminal; elsewhere it prints nothing).\n",
        )
    if _winsize(ctx) is not None:
        await ctx.out("\x1b[H\x1b[2J\x1b[3J")
    return 0
