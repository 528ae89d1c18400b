"""tty and stty: the terminal a command's input comes from, its window size and echo."""

from __future__ import annotations

from typing import Any

from pocketos.commands import command
from pocketos.commands._fs import show_help
from pocketos.kernel.process import Context


def _terminal(ctx: Context) -> Any:
    stdin = ctx.stdin
    return stdin if stdin is not None and stdin.isatty() else None


@command("tty")
async def tty(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: tty [OPTION]...\nPrint the file name of the terminal connected to "
            "standard input.\n\n  -s, --silent, --quiet   print nothing, only return an "
            "exit status\n",
        )
    silent = False
    for a in args:
        if a in ("-s", "--silent", "--quiet"):
            silent = True
        else:
            if a.startswith("--"):
                await ctx.err(f"unrecognized option '{a}'")
            else:
                await ctx.err(f"invalid option -- '{a[1:2] or a}'")
            await ctx.stderr.write(b"Try 'tty --help' for more information.\n")
            return 2
    term = _terminal(ctx)
    if term is None:
        if not silent:
            await ctx.out("not a tty\n")
        return 1
    if not silent:
        await ctx.out(str(getattr(term, "name", "/dev/tty")) + "\n")
    return 0


_STTY_HELP = (
    "Usage: stty [SETTING]...\n  or:  stty -a\nPrint or change terminal characteristics of "
    "standard input.\n\n  -a, --all   print all current settings\n  size        print the "
    "number of rows and columns\n  rows N      tell the kernel the terminal has N rows\n  cols N"
    "      tell the kernel the terminal has N columns (also: columns N)\n  [-]echo     echo "
    "input characters\n  sane        reset settings to reasonable values\n"
)


@command("stty")
async def stty(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(ctx, _STTY_HELP)
    term = _terminal(ctx)
    if term is None:
        await ctx.err("'standard input': Inappropriate ioctl for device")
        return 1
    rows, cols = term.winsize()
    if not args or args in (["-a"], ["--all"]):
        echo = "echo" if term.echo else "-echo"
        if args:
            await ctx.out(
                f"speed 38400 baud; rows {rows}; columns {cols}; line = 0;\n"
                "intr = ^C; quit = ^\\; erase = ^?; kill = ^U; eof = ^D; susp = ^Z; "
                "werase = ^W;\n"
                f"icanon isig {echo} echoe echok echoctl icrnl onlcr\n"
            )
        else:
            await ctx.out(f"speed 38400 baud; line = 0;\n{echo}\n")
        return 0
    i = 0
    changes: list[tuple[str, Any]] = []
    while i < len(args):
        a = args[i]
        if a == "size":
            changes.append(("size", None))
        elif a in ("echo", "-echo"):
            changes.append(("echo", a == "echo"))
        elif a == "sane":
            changes.append(("echo", True))
        elif a in ("rows", "cols", "columns"):
            if i + 1 >= len(args):
                await ctx.err(f"missing argument to '{a}'")
                return 1
            v = args[i + 1]
            if not v.isdigit() or not 1 <= int(v) <= 10_000:
                await ctx.err(f"invalid integer argument: '{v}'")
                return 1
            changes.append(("rows" if a == "rows" else "cols", int(v)))
            i += 1
        else:
            await ctx.err(f"invalid argument '{a}'")
            await ctx.stderr.write(b"Try 'stty --help' for more information.\n")
            return 1
        i += 1
    for what, value in changes:
        if what == "size":
            rows, cols = term.winsize()
            await ctx.out(f"{rows} {cols}\n")
        elif what == "echo":
            term.set_echo(value)
        elif what == "rows":
            term.set_winsize(value, term.winsize()[1])
        elif what == "cols":
            term.set_winsize(term.winsize()[0], value)
    return 0
