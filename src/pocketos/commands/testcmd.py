"""true, false, test and [."""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._fs import (
    show_help,
)
from pocketos.commands.sysinfo import _identity
from pocketos.kernel.process import Context
from pocketos.shell.testexpr import evaluate_test


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
