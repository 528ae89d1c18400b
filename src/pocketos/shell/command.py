"""The ``bash`` and ``sh`` commands: ``bash -c 'script' [name args...]``, ``bash file args``
and ``bash`` reading its script from stdin."""

from __future__ import annotations

import errno

from pocketos.commands import command
from pocketos.kernel.process import Context
from pocketos.shell.interp import Shell, _strerror
from pocketos.shell.options import FLAG_LETTERS, SET_OPTION_NAMES, SHOPT_NAMES

__all__ = ["bash_command"]

USAGE = """Usage:\tbash [GNU long option] [option] ...
\tbash [GNU long option] [option] script-file ...
Shell options:
\t-c command, -s, -e, -u, -x, -o option, --norc, --noprofile, --posix
"""


@command("bash", "sh")
async def bash_command(ctx: Context) -> int:
    name = ctx.name
    args = ctx.argv[1:]
    script: str | None = None
    use_c = False
    read_stdin = False
    opts: dict[str, bool] = {}
    shopts: dict[str, bool] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a in ("--help",):
            await ctx.out(USAGE)
            return 0
        if a == "--version":
            await ctx.out("GNU bash, version 5.2.15(1)-release (pocketos)\n")
            return 0
        if a in (
            "--norc",
            "--noprofile",
            "--posix",
            "--login",
            "-l",
            "-i",
            "--noediting",
            "-r",
            "--restricted",
        ):
            i += 1
            continue
        if a.startswith("--"):
            await ctx.stderr.write(
                f"{name}: {a}: invalid option\n".encode("utf-8", "surrogateescape")
            )
            await ctx.stderr.write(USAGE.encode())
            return 2
        if a in ("-o", "+o", "-O", "+O"):
            if i + 1 < len(args):
                oname = args[i + 1]
                if oname not in (SET_OPTION_NAMES if a[1] == "o" else SHOPT_NAMES):
                    kind = "option" if a[1] == "o" else "shell option"
                    await ctx.stderr.write(
                        f"{name}: {oname}: invalid {kind} name\n".encode("utf-8", "surrogateescape")
                    )
                    return 2
                (opts if a[1] == "o" else shopts)[oname] = a[0] == "-"
                i += 2
                continue
            i += 1
            continue
        if len(a) > 1 and a[0] in "-+":
            for c in a[1:]:
                if c == "c":
                    use_c = True
                elif c == "s":
                    read_stdin = True
                elif c in FLAG_LETTERS:
                    opts[FLAG_LETTERS[c]] = a[0] == "-"
                elif c in "ilr":
                    pass
                else:
                    await ctx.stderr.write(
                        f"{name}: -{c}: invalid option\n".encode("utf-8", "surrogateescape")
                    )
                    await ctx.stderr.write(USAGE.encode())
                    return 2
            i += 1
            continue
        break
    rest = args[i:]
    filename: str | None = None
    argv0 = name
    if use_c:
        if not rest:
            await ctx.stderr.write(
                f"{name}: -c: option requires an argument\n".encode("utf-8", "surrogateescape")
            )
            return 2
        script = rest[0]
        if len(rest) > 1:
            argv0 = rest[1]
            params = rest[2:]
        else:
            params = []
    elif rest and not read_stdin:
        filename = rest[0]
        params = rest[1:]
        argv0 = filename
        try:
            data = ctx.fs.read_bytes(filename)
        except OSError as exc:
            await ctx.stderr.write(
                f"{name}: {filename}: {_strerror(exc)}\n".encode("utf-8", "surrogateescape")
            )
            # like bash: a script that exists but cannot be read (denied, a directory) is 126
            return 126 if exc.errno in (errno.EACCES, errno.EPERM, errno.EISDIR) else 127
        script = data.decode("utf-8", "surrogateescape")
    else:
        params = rest
        data = await ctx.stdin.read()
        script = data.decode("utf-8", "surrogateescape")
    sh = Shell(ctx, argv0=argv0, args=params)
    if not use_c and filename is None:
        sh.argv0 = name
    for k, v in opts.items():
        sh.own_opts().set(k, v)
    for k, v in shopts.items():
        sh.own_shopt().set(k, v)
    if not use_c and filename is None:
        sh.script_name = None
        sh.input_flag = "s"  # ``$-`` shows where the commands come from
    return await sh.run(script, filename=filename)
