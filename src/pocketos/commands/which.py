"""which."""

from __future__ import annotations

import contextlib

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    show_help,
)
from pocketos.commands._util import HELP, parse
from pocketos.kernel.process import Context


@command("which")
async def which(ctx: Context) -> int:
    try:
        p = parse("which", ctx.argv[1:], [Opt("a"), Opt("s"), HELP], status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: which [-as] COMMAND...\n"
            "Print the full path of each COMMAND found in PATH.\n\n"
            "  -a     print all matching pathnames of each argument\n"
            "  -s     silently return 0 if all found, 1 otherwise\n",
        )
    if not p.operands:
        return 1
    fs = ctx.fs
    path_var = ctx.env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    status = 0
    out: list[str] = []

    def executable(path: str) -> bool:
        try:
            st = fs.stat(path)
        except (OSError, ValueError):
            return False
        return st.is_file() and bool(st.st_mode & 0o111)

    for name in p.operands:
        found: list[str] = []
        if "/" in name:
            if executable(name):
                found.append(name)
        else:
            for d in path_var.split(":"):
                cand = (d or ".").rstrip("/") + "/" + name
                if executable(cand):
                    found.append(cand)
                    if not p.flag("a"):
                        break
            if not found:
                # a registered command without a stub in the VM filesystem
                with contextlib.suppress(OSError):
                    if ctx.kernel.find_command(name, ctx.env, ctx.cwd) is not None:
                        found.append("/usr/bin/" + name)
        if not found:
            status = 1
        out.extend(found)
    if not p.flag("s"):
        await ctx.out("".join(f + "\n" for f in out))
    return status
