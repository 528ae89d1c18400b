"""ln."""

from __future__ import annotations

import posixpath

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _start, prompt_yes, q, strerror
from pocketos.commands.cp import _same
from pocketos.kernel.process import Context

LN_HELP = """Usage: ln [OPTION]... [-T] TARGET LINK_NAME
  or:  ln [OPTION]... TARGET
  or:  ln [OPTION]... TARGET... DIRECTORY
  or:  ln [OPTION]... -t DIRECTORY TARGET...
Create links (hard links by default, symbolic links with --symbolic).

  -f, --force                 remove existing destination files
  -n, --no-dereference        treat LINK_NAME as a normal file if it is a symlink to a directory
  -r, --relative              with -s, create links relative to link location
  -s, --symbolic              make symbolic links instead of hard links
  -t, --target-directory=DIR  specify the DIRECTORY in which to create the links
  -T, --no-target-directory   treat LINK_NAME as a normal file always
  -v, --verbose               print name of each linked file
"""


@command("ln")
async def ln(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("n", "no-dereference"),
        Opt("s", "symbolic"),
        Opt("r", "relative"),
        Opt("i", "interactive"),
        Opt("L", "logical"),
        Opt("P", "physical"),
        Opt("b", "backup", "optional"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("v", "verbose"),
    ]
    p = await _start(ctx, spec, LN_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    ops = p.operands
    tdir = p.str("target_directory")
    nodere = p.flag("n")

    def is_dir_dest(path: str) -> bool:
        if nodere and fs.islink(path):
            return False
        return fs.isdir(path)

    pairs: list[tuple[str, str]] = []
    if tdir is not None:
        if not ops:
            return await report(
                ctx, UsageError("ln: missing file operand\nTry 'ln --help' for more information.")
            )
        if not fs.isdir(tdir):
            await ctx.err(f"target {q(tdir)} is not a directory")
            return 1
        pairs = [(t, posixpath.join(tdir, posixpath.basename(t.rstrip("/")))) for t in ops]
    elif not ops:
        return await report(
            ctx, UsageError("ln: missing file operand\nTry 'ln --help' for more information.")
        )
    elif len(ops) == 1:
        pairs = [(ops[0], posixpath.basename(ops[0].rstrip("/")) or ops[0])]
    elif p.flag("no_target_directory"):
        if len(ops) > 2:
            return await report(
                ctx,
                UsageError(f"ln: extra operand {q(ops[2])}\nTry 'ln --help' for more information."),
            )
        pairs = [(ops[0], ops[1])]
    elif is_dir_dest(ops[-1]):
        pairs = [(t, posixpath.join(ops[-1], posixpath.basename(t.rstrip("/")))) for t in ops[:-1]]
    elif len(ops) > 2:
        await ctx.err(f"target {q(ops[-1])} is not a directory")
        return 1
    else:
        pairs = [(ops[0], ops[1])]
    status = 0
    sym = p.flag("s")
    kind = "symbolic link" if sym else "hard link"
    for target, link in pairs:
        ctx.check_killed()
        if not sym:
            try:
                tst = fs.stat(target) if p.flag("L") else fs.lstat(target)
            except OSError as exc:
                await ctx.err(f"failed to access {q(target)}: {strerror(exc)}")
                status = 1
                continue
            if tst.is_dir():
                await ctx.err(f"{target}: hard link not allowed for directory")
                status = 1
                continue
        if fs.lexists(link):
            if p.flag("f"):
                try:
                    lst = fs.lstat(link)
                    if not sym:
                        tst2 = fs.lstat(target)
                        if _same(tst2, lst):
                            await ctx.err(f"{q(target)} and {q(link)} are the same file")
                            status = 1
                            continue
                    if lst.is_dir():
                        await ctx.err(f"{q(link)}: cannot overwrite directory")
                        status = 1
                        continue
                    fs.unlink(link)
                except OSError as exc:
                    await ctx.err(f"cannot remove {q(link)}: {strerror(exc)}")
                    status = 1
                    continue
            elif p.flag("i"):
                if not await prompt_yes(ctx, f"replace {q(link)}? "):
                    continue
                fs.unlink(link)
            else:
                await ctx.err(f"failed to create {kind} {q(link)}: File exists")
                status = 1
                continue
        try:
            if sym:
                value = target
                if p.flag("r"):
                    base = posixpath.dirname(fs.abspath(link))
                    try:
                        base = fs.realpath(base)
                    except OSError:
                        pass
                    value = posixpath.relpath(fs.abspath(target), base)
                fs.symlink(value, link)
            else:
                src = target
                if p.flag("L") and fs.islink(target):
                    src = fs.realpath(target)
                fs.link(src, link)
        except OSError as exc:
            await ctx.err(f"failed to create {kind} {q(link)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            arrow = "->" if sym else "=>"
            await ctx.out(f"{q(link)} {arrow} {q(target)}\n")
    return status
