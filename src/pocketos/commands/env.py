"""env and printenv."""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
    strerror,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context

ENV_HELP = """Usage: env [OPTION]... [-] [NAME=VALUE]... [COMMAND [ARG]...]
Set each NAME to VALUE in the environment and run COMMAND.

  -i, --ignore-environment  start with an empty environment
  -0, --null           end each output line with NUL, not newline
  -u, --unset=NAME     remove variable from the environment
  -C, --chdir=DIR      change working directory to DIR
  -S, --split-string=S  process and split S into separate arguments
  -v, --debug          print verbose information for each processing step

With no COMMAND, print the resulting environment.
"""


def _split_string(s: str) -> list[str]:
    """``env -S``: split on blanks, honouring quotes and backslash escapes."""
    out: list[str] = []
    cur: list[str] = []
    have = False
    i = 0
    while i < len(s):
        c = s[i]
        if c in " \t\n":
            if have:
                out.append("".join(cur))
                cur, have = [], False
        elif c == "'":
            j = s.find("'", i + 1)
            j = len(s) if j < 0 else j
            cur.append(s[i + 1 : j])
            have = True
            i = j
        elif c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                if s[j] == "\\" and j + 1 < len(s):
                    j += 1
                    cur.append({"n": "\n", "t": "\t"}.get(s[j], s[j]))
                else:
                    cur.append(s[j])
                j += 1
            have = True
            i = j
        elif c == "\\" and i + 1 < len(s):
            i += 1
            cur.append({"n": "\n", "t": "\t", "_": " "}.get(s[i], s[i]))
            have = True
        elif c == "#" and not have:
            break
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        out.append("".join(cur))
    return out


@command("env")
async def env_cmd(ctx: Context) -> int:
    args = list(ctx.argv[1:])
    spec = [
        Opt("i", "ignore-environment"),
        Opt("0", "null"),
        Opt("u", "unset", "required", multiple=True),
        Opt("C", "chdir", "required"),
        Opt("S", "split-string", "required"),
        Opt("v", "debug"),
        HELP,
    ]
    # a lone "-" means -i
    args = ["-i" if a == "-" else a for a in args[:1]] + args[1:] if args[:1] == ["-"] else args
    try:
        p = parse("env", args, spec, stop_at_operand=True, status=125)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, ENV_HELP)
    ops = list(p.operands)
    if ops[:1] == ["-"]:
        ops = ops[1:]
        p.opts["i"] = True
    split = p.str("S")
    if split is not None:
        ops = _split_string(split) + ops
    env: dict[str, str] = {} if p.flag("i") else dict(ctx.env)
    unset: list[str] = [str(x) for x in (p.opts.get("u") or [])]  # type: ignore[attr-defined]
    for name in unset:
        if not name or "=" in name:
            await ctx.err(f"cannot unset {q(name)}: Invalid argument")
            return 125
        env.pop(name, None)
    while ops and "=" in ops[0]:
        k, _, v = ops.pop(0).partition("=")
        env.pop(k, None)
        env[k] = v
    cwd = ctx.cwd
    chdir = p.str("C")
    if chdir is not None:
        if not ops:
            await ctx.err("must specify command with --chdir (-C)")
            await ctx.stderr.write((_try("env") + "\n").encode())
            return 125
        try:
            st = ctx.fs.stat(chdir)
            if not st.is_dir():
                raise NotADirectoryError(20, "Not a directory", chdir)
        except OSError as exc:
            await ctx.err(f"cannot change directory to {q(chdir)}: {strerror(exc)}")
            return 125
        cwd = ctx.fs.abspath(chdir)
    if not ops:
        end = "\0" if p.flag("0") else "\n"
        await ctx.out("".join(f"{k}={v}{end}" for k, v in env.items()))
        return 0
    if p.flag("0"):
        await ctx.err("cannot specify --null (-0) with command")
        await ctx.stderr.write((_try("env") + "\n").encode())
        return 125
    try:
        fn = ctx.kernel.find_command(ops[0], env, cwd)
    except OSError as exc:
        await ctx.err(f"{q(ops[0])}: {strerror(exc)}")
        return 126 if exc.errno in (13, 21) else 127
    if fn is None:
        await ctx.err(f"{q(ops[0])}: No such file or directory")
        return 127
    return await ctx.run(ops, env=env, cwd=cwd)


@command("printenv")
async def printenv(ctx: Context) -> int:
    try:
        p = parse("printenv", ctx.argv[1:], [Opt("0", "null"), HELP], status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: printenv [OPTION]... [VARIABLE]...\n"
            "Print the values of the specified environment VARIABLE(s).\n"
            "If no VARIABLE is specified, print name and value pairs for "
            "them all.\n\n  -0, --null     end each output line with "
            "NUL, not newline\n",
        )
    end = "\0" if p.flag("0") else "\n"
    if not p.operands:
        await ctx.out("".join(f"{k}={v}{end}" for k, v in ctx.env.items()))
        return 0
    status = 0
    out = []
    for name in p.operands:
        if "=" not in name and name in ctx.env:
            out.append(ctx.env[name] + end)
        else:
            status = 1
    await ctx.out("".join(out))
    return status
