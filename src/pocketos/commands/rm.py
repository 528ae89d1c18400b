"""rm, mkdir and rmdir."""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, report
from pocketos.commands._fs import (
    UMASK,
    C_key,
    _start,
    apply_mode,
    child_path,
    enc,
    file_type_name,
    missing_operand,
    prompt_yes,
    q,
    strerror,
)
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context

RM_HELP = """Usage: rm [OPTION]... [FILE]...
Remove (unlink) the FILE(s).

  -f, --force           ignore nonexistent files and arguments, never prompt
  -i                    prompt before every removal (reads the answer from stdin)
  -I                    prompt once before removing more than three files, or recursively
  -r, -R, --recursive   remove directories and their contents recursively
  -d, --dir             remove empty directories
  -v, --verbose         explain what is being done
      --no-preserve-root  do not treat '/' specially
"""


class _Rm:
    def __init__(self, ctx: Context, p: Parsed) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.force = False
        self.interactive = False
        for k, _ in p.order:
            if k == "f":
                self.force, self.interactive = True, False
            elif k == "i":
                self.force, self.interactive = False, True
        self.recursive = p.flag("r")
        self.dir = p.flag("d")
        self.verbose = p.flag("v")
        self.status = 0

    async def fail(self, path: str, exc: OSError | str) -> None:
        text = exc if isinstance(exc, str) else strerror(exc)
        await self.ctx.err(f"cannot remove {q(path)}: {text}")
        self.status = 1

    async def remove(self, path: str, st: StatResult) -> bool:
        self.ctx.check_killed()
        fs = self.fs
        if st.is_dir():
            if not self.recursive:
                if self.dir:
                    return await self.finish(path, "directory", "removed directory", fs.rmdir)
                await self.fail(path, "Is a directory")
                return False
            try:
                names = sorted(fs.listdir(path), key=C_key)
            except OSError as exc:
                await self.fail(path, exc)
                return False
            if (
                self.interactive
                and names
                and not await prompt_yes(self.ctx, f"descend into directory {q(path)}? ")
            ):
                return False
            ok = True
            for n in names:
                child = child_path(path, n)
                try:
                    cst = fs.lstat(child)
                except OSError as exc:
                    await self.fail(child, exc)
                    ok = False
                    continue
                ok = await self.remove(child, cst) and ok
            if not ok:
                return False
            return await self.finish(path, "directory", "removed directory", fs.rmdir)
        return await self.finish(path, file_type_name(st), "removed", fs.unlink)

    async def finish(self, path: str, kind: str, done: str, op: Callable[[str], None]) -> bool:
        """Ask ``remove KIND PATH?`` (with -i), then ``op(path)`` and say ``DONE PATH``
        (with -v)."""
        if self.interactive and not await prompt_yes(self.ctx, f"remove {kind} {q(path)}? "):
            return False
        try:
            op(path)
        except OSError as exc:
            await self.fail(path, exc)
            return False
        if self.verbose:
            await self.ctx.out(f"{done} {q(path)}\n")
        return True


@command("rm")
async def rm(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("i"),
        Opt("I"),
        Opt("", "interactive", "optional"),
        Opt("r", "recursive", dest="r"),
        Opt("R", dest="r"),
        Opt("d", "dir"),
        Opt("v", "verbose"),
        Opt("", "preserve-root", "optional"),
        Opt("", "no-preserve-root"),
        Opt("", "one-file-system"),
    ]
    p = await _start(ctx, spec, RM_HELP)
    if isinstance(p, int):
        return p
    inter = p.get("interactive")
    if isinstance(inter, str):
        if inter in ("always", "yes"):
            p.order.append(("i", True))
        elif inter in ("once",):
            p.opts["I"] = True
    r = _Rm(ctx, p)
    if not p.operands:
        if r.force:
            return 0
        return await report(ctx, missing_operand(ctx))
    if p.flag("I") and not r.force and (len(p.operands) > 3 or r.recursive):
        n = len(p.operands)
        what = f"{n} argument{'s' if n != 1 else ''}"
        if r.recursive:
            what += " recursively"
        if not await prompt_yes(ctx, f"remove {what}? "):
            return 0
    for path in p.operands:
        base = posixpath.basename(path.rstrip("/"))
        if base in (".", ".."):
            await ctx.err(f"refusing to remove '.' or '..' directory: skipping {q(path)}")
            r.status = 1
            continue
        try:
            st = ctx.fs.lstat(path)
        except OSError as exc:
            if r.force and isinstance(exc, FileNotFoundError):
                continue
            await r.fail(path, exc)
            continue
        if r.recursive and ctx.fs.abspath(path) == "/" and not p.flag("no_preserve_root"):
            await ctx.err(f"it is dangerous to operate recursively on {q(path)}")
            await ctx.err("use --no-preserve-root to override this failsafe")
            r.status = 1
            continue
        await r.remove(path, st)
    return r.status


MKDIR_HELP = """Usage: mkdir [OPTION]... DIRECTORY...
Create the DIRECTORY(ies), if they do not already exist.

  -m, --mode=MODE   set file mode (as in chmod), not a=rwx - umask
  -p, --parents     no error if existing, make parent directories as needed
  -v, --verbose     print a message for each created directory
"""


async def _mkdirs(
    ctx: Context,
    path: str,
    verbose: bool,
    mode: int = 0o777 & ~UMASK,
    prefix: str = "mkdir: created directory ",
) -> None:
    """``mkdir -p``: create missing parents (0755), then ``path`` with ``mode``.
    Errors are OSErrors whose ``filename`` is the component that failed, as typed."""
    fs = ctx.fs
    comps = [c for c in path.split("/") if c]
    cur = "/" if path.startswith("/") else ""
    #: the previous component was created here: this one cannot exist yet
    made = False
    for i, comp in enumerate(comps):
        cur = (cur.rstrip("/") + "/" + comp) if cur else comp
        if comp in (".", ".."):
            made = False
            continue
        last = i == len(comps) - 1
        if not made:
            if fs.isdir(cur):
                continue
            if fs.lexists(cur):
                code = errno.EEXIST if last else errno.ENOTDIR
                raise OSError(code, os.strerror(code), cur)
        try:
            fs.mkdir(cur, mode=mode if last else 0o777 & ~UMASK | 0o300)
        except OSError as exc:
            if made and exc.errno == errno.EEXIST and fs.isdir(cur):
                continue  # made meanwhile by another process (while -v wrote)
            raise OSError(exc.errno, strerror(exc), cur) from None
        made = True
        if last and mode & ~(0o777 & ~UMASK):
            fs.chmod(cur, mode)
        if verbose:
            await ctx.stdout.write(enc(f"{prefix}{q(path if last else cur)}\n"))


@command("mkdir")
async def mkdir(ctx: Context) -> int:
    spec = [Opt("m", "mode", "required"), Opt("p", "parents"), Opt("v", "verbose"), Opt("Z")]
    p = await _start(ctx, spec, MKDIR_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = 0o777 & ~UMASK
    mspec = p.str("m")
    if mspec is not None:
        try:
            mode = apply_mode(mspec, 0o777, True, base_umask=True)
        except ValueError:
            await ctx.err(f"invalid mode {q(mspec)}")
            return 1
    status = 0
    fs = ctx.fs
    for d in p.operands:
        ctx.check_killed()
        try:
            if p.flag("p"):
                await _mkdirs(ctx, d, p.flag("v"), mode)
                continue
            fs.mkdir(d, mode=mode)
            if mspec is not None:
                fs.chmod(d, mode)
        except OSError as exc:
            shown = exc.filename if p.flag("p") and isinstance(exc.filename, str) else d
            await ctx.err(f"cannot create directory {q(shown)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"mkdir: created directory {q(d)}\n")
    return status


RMDIR_HELP = """Usage: rmdir [OPTION]... DIRECTORY...
Remove the DIRECTORY(ies), if they are empty.

      --ignore-fail-on-non-empty  ignore failures due to a directory being non-empty
  -p, --parents     remove DIRECTORY and its ancestors
  -v, --verbose     output a diagnostic for every directory processed
"""


@command("rmdir")
async def rmdir(ctx: Context) -> int:
    spec = [Opt("", "ignore-fail-on-non-empty"), Opt("p", "parents"), Opt("v", "verbose")]
    p = await _start(ctx, spec, RMDIR_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    ignore = p.flag("ignore_fail_on_non_empty")
    status = 0

    async def one(d: str) -> bool:
        if p.flag("v"):
            await ctx.out(f"rmdir: removing directory, {q(d)}\n")
        try:
            ctx.fs.rmdir(d)
            return True
        except OSError as exc:
            if ignore and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            await ctx.err(f"failed to remove {q(d)}: {strerror(exc)}")
            return False

    for d in p.operands:
        ok = await one(d)
        if not ok:
            if not (ignore and ctx.fs.isdir(d)):
                status = 1
            continue
        if p.flag("p"):
            cur = d.rstrip("/")
            while True:
                cur = posixpath.dirname(cur).rstrip("/")
                if not cur or cur in (".", "/"):
                    break
                if not await one(cur):
                    if not ignore or not ctx.fs.isdir(cur):
                        status = 1
                    break
    return status
