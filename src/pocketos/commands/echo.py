"""printf, echo and pwd as external commands."""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._args import UsageError, report
from pocketos.commands._fs import (
    enc,
    show_help,
)
from pocketos.commands._util import _try
from pocketos.kernel.process import Context
from pocketos.shell.printf import format_printf


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
    fmt, rest = args[0], args[1:]
    stop = _stop_at(fmt)
    excess: str | None = None
    if stop >= 0:
        # GNU printf ends all output at a ``\c`` of the format (bash's builtin does not)
        fmt = fmt[:stop]
        rest = rest[: len(_CONVERSION.findall(fmt.replace("%%", "")))]
    elif rest and "%" not in fmt.replace("%%", ""):
        excess = rest[0]  # a format that takes no argument: GNU printf says what it left out
    out, errors, status = format_printf(fmt, rest)
    await ctx.out(out)
    if excess is not None:
        errors = [*errors, f"warning: ignoring excess arguments, starting with '{excess}'"]
    for e in errors:
        await ctx.stderr.write(f"printf: {e}\n".encode("utf-8", "surrogateescape"))
    return status


_CONVERSION = re.compile(r"%[-+ #0'0-9.*]*[a-zA-Z]")


def _stop_at(fmt: str) -> int:
    """Where the first ``\\c`` of a printf format is (-1: none)."""
    i = fmt.find("\\")
    while 0 <= i < len(fmt) - 1:
        if fmt[i + 1] == "c":
            return i
        i = fmt.find("\\", i + 2)
    return -1


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
