"""chmod, chown and chgrp."""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    _start,
    apply_mode,
    missing_operand,
    mode_string,
    parse_opts,
    q,
    show_help,
    strerror,
    user_maps,
    visit_children,
)
from pocketos.kernel.process import Context

CHMOD_HELP = """Usage: chmod [OPTION]... MODE[,MODE]... FILE...
  or:  chmod [OPTION]... OCTAL-MODE FILE...
  or:  chmod [OPTION]... --reference=RFILE FILE...
Change the mode of each FILE to MODE. MODE is octal or [ugoa]*([-+=]([rwxXst]*|[ugo]))+.

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -R, --recursive        change files and directories recursively
      --reference=RFILE  use RFILE's mode instead of MODE values
"""

_MODE_ARG = re.compile(r"^-[rwxXstugo0-7,+=-]+$")


def _split_mode_args(argv: list[str]) -> tuple[list[str], str | None]:
    """Pull a mode such as ``-w`` or ``-x,o+r`` out of argv before option parsing."""
    out: list[str] = []
    mode: str | None = None
    seen_dd = False
    for a in argv:
        if not seen_dd and mode is None and _MODE_ARG.match(a) and not set(a[1:]) <= set("Rcfv"):
            mode = a
            continue
        if a == "--":
            seen_dd = True
        out.append(a)
    return out, mode


def _octal_desc(mode: int) -> str:
    return f"{mode & 0o7777:04o} ({mode_string(mode)[1:]})"


@command("chmod")
async def chmod(ctx: Context) -> int:
    spec = [
        Opt("c", "changes"),
        Opt("f", "silent"),
        Opt("", "quiet", dest="f"),
        Opt("v", "verbose"),
        Opt("R", "recursive"),
        Opt("", "reference", "required"),
        Opt("", "preserve-root"),
        Opt("", "no-preserve-root"),
    ]
    args, dash_mode = _split_mode_args(ctx.argv[1:])
    try:
        p = parse_opts("chmod", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, CHMOD_HELP)
    ops = list(p.operands)
    fs = ctx.fs
    ref = p.str("reference")
    mode_spec: str | None = dash_mode
    ref_mode: int | None = None
    if ref is not None:
        try:
            ref_mode = fs.stat(ref).st_mode & 0o7777
        except OSError as exc:
            await ctx.err(f"failed to get attributes of {q(ref)}: {strerror(exc)}")
            return 1
    elif mode_spec is None:
        if not ops:
            return await report(ctx, missing_operand(ctx))
        mode_spec = ops.pop(0)
    if not ops:
        after = mode_spec if mode_spec is not None else ""
        return await report(
            ctx,
            UsageError(
                f"chmod: missing operand after {q(after)}\nTry 'chmod --help' for more information."
            ),
        )
    if mode_spec is not None:
        try:
            apply_mode(mode_spec, 0o644, False)
        except ValueError:
            await ctx.err(f"invalid mode: {q(mode_spec)}")
            await ctx.stderr.write(b"Try 'chmod --help' for more information.\n")
            return 1
    status = 0
    quiet = p.flag("f")

    async def one(path: str, top: bool) -> None:
        nonlocal status
        ctx.check_killed()
        try:
            lst = fs.lstat(path)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            if p.flag("v"):
                await ctx.out(f"{q(path)} could not be accessed\n")
            status = 1
            return
        if lst.is_symlink() and not top:
            return
        try:
            st = fs.stat(path)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot operate on dangling symlink {q(path)}")
            del exc
            status = 1
            return
        old = st.st_mode & 0o7777
        new = ref_mode if ref_mode is not None else apply_mode(mode_spec or "", old, st.is_dir())
        try:
            if new != old:
                fs.chmod(path, new)
        except OSError as exc:
            if not quiet:
                await ctx.err(f"changing permissions of {q(path)}: {strerror(exc)}")
            status = 1
            return
        full_new = (st.st_mode & ~0o7777) | new
        if new != old and (p.flag("v") or p.flag("c")):
            await ctx.out(
                f"mode of {q(path)} changed from {_octal_desc(st.st_mode)} to "
                f"{_octal_desc(full_new)}\n"
            )
        elif p.flag("v"):
            await ctx.out(f"mode of {q(path)} retained as {_octal_desc(st.st_mode)}\n")
        if (
            p.flag("R")
            and st.is_dir()
            and not lst.is_symlink()
            and not await visit_children(ctx, path, one)
        ):
            status = 1

    for path in ops:
        await one(path, True)
    return status


CHOWN_HELP = """Usage: chown [OPTION]... [OWNER][:[GROUP]] FILE...
  or:  chown [OPTION]... --reference=RFILE FILE...
Change the owner and/or group of each FILE to OWNER and/or GROUP (names from /etc/passwd and
/etc/group, or numeric ids).

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -h, --no-dereference   affect symbolic links instead of any referenced file
  -R, --recursive        operate on files and directories recursively
"""

CHGRP_HELP = """Usage: chgrp [OPTION]... GROUP FILE...
  or:  chgrp [OPTION]... --reference=RFILE FILE...
Change the group of each FILE to GROUP.

  -c, --changes          like verbose but report only when a change is made
  -f, --silent, --quiet  suppress most error messages
  -v, --verbose          output a diagnostic for every file processed
  -h, --no-dereference   affect symbolic links instead of any referenced file
  -R, --recursive        operate on files and directories recursively
"""


async def _chown_common(ctx: Context, is_chgrp: bool) -> int:
    name = "chgrp" if is_chgrp else "chown"
    spec = [
        Opt("c", "changes"),
        Opt("f", "silent"),
        Opt("", "quiet", dest="f"),
        Opt("v", "verbose"),
        Opt("h", "no-dereference"),
        Opt("", "dereference"),
        Opt("R", "recursive"),
        Opt("", "reference", "required"),
        Opt("H"),
        Opt("L"),
        Opt("P"),
        Opt("", "from", "required"),
        Opt("", "preserve-root"),
        Opt("", "no-preserve-root"),
    ]
    p = await _start(ctx, spec, CHGRP_HELP if is_chgrp else CHOWN_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    uids, unames, gids, gnames = user_maps(fs)
    ops = list(p.operands)
    uid, gid = -1, -1
    ref = p.str("reference")
    spec_text = ""
    if ref is not None:
        try:
            rst = fs.stat(ref)
        except OSError as exc:
            await ctx.err(f"failed to get attributes of {q(ref)}: {strerror(exc)}")
            return 1
        uid = -1 if is_chgrp else rst.st_uid
        gid = rst.st_gid
    else:
        if not ops:
            return await report(ctx, missing_operand(ctx))
        spec_text = ops.pop(0)
        if is_chgrp:
            g = spec_text
            if g.isdigit():
                gid = int(g)
            elif g in gnames:
                gid = gnames[g]
            else:
                await ctx.err(f"invalid group: {q(g)}")
                return 1
        else:
            user, sep, group = spec_text.partition(":")
            if not sep and "." in spec_text and spec_text not in unames:
                user, sep, group = spec_text.partition(".")
            if user:
                if user.isdigit():
                    uid = int(user)
                elif user in unames:
                    uid = unames[user]
                else:
                    await ctx.err(f"invalid user: {q(spec_text)}")
                    return 1
            if group:
                if group.isdigit():
                    gid = int(group)
                elif group in gnames:
                    gid = gnames[group]
                else:
                    await ctx.err(f"invalid group: {q(spec_text)}")
                    return 1
            elif sep and user:
                # "user:" means the user's login group
                try:
                    for line in fs.read_text("/etc/passwd").splitlines():
                        parts = line.split(":")
                        if len(parts) > 3 and parts[0] == user and parts[3].isdigit():
                            gid = int(parts[3])
                            break
                except OSError:
                    pass
    if not ops:
        after = spec_text or (ref or "")
        return await report(
            ctx,
            UsageError(
                f"{name}: missing operand after {q(after)}\n"
                f"Try '{name} --help' for more information."
            ),
        )
    follow = not p.flag("h")
    status = 0
    quiet = p.flag("f")

    def uname(n: int) -> str:
        return uids.get(n, str(n))

    def gname(n: int) -> str:
        return gids.get(n, str(n))

    async def one(path: str, top: bool) -> None:
        nonlocal status
        ctx.check_killed()
        try:
            lst = fs.lstat(path)
            st = fs.stat(path) if (follow and (top or not p.flag("R"))) else lst
        except OSError as exc:
            if not quiet:
                await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            status = 1
            return
        new_uid = st.st_uid if uid == -1 else uid
        new_gid = st.st_gid if gid == -1 else gid
        try:
            fs.chown(path, uid, gid, follow_symlinks=follow and not (lst.is_symlink() and not top))
        except OSError as exc:
            if not quiet:
                what = "group" if is_chgrp else "ownership"
                await ctx.err(f"changing {what} of {q(path)}: {strerror(exc)}")
            status = 1
            return
        changed = (new_uid, new_gid) != (st.st_uid, st.st_gid)
        if p.flag("v") or (p.flag("c") and changed):
            if is_chgrp:
                if changed:
                    await ctx.out(
                        f"changed group of {q(path)} from {gname(st.st_gid)} to {gname(new_gid)}\n"
                    )
                else:
                    await ctx.out(f"group of {q(path)} retained as {gname(st.st_gid)}\n")
            else:
                old = uname(st.st_uid) + (":" + gname(st.st_gid) if gid != -1 else "")
                new = uname(new_uid) + (":" + gname(new_gid) if gid != -1 else "")
                if changed:
                    await ctx.out(f"changed ownership of {q(path)} from {old} to {new}\n")
                else:
                    await ctx.out(f"ownership of {q(path)} retained as {new}\n")
        if p.flag("R") and lst.is_dir() and not await visit_children(ctx, path, one):
            status = 1

    for path in ops:
        await one(path, True)
    return status


@command("chown")
async def chown(ctx: Context) -> int:
    return await _chown_common(ctx, False)


@command("chgrp")
async def chgrp(ctx: Context) -> int:
    return await _chown_common(ctx, True)
