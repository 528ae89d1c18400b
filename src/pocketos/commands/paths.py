"""readlink, realpath, basename and dirname."""

from __future__ import annotations

import errno
import os
import posixpath

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _parse, _start, missing_operand, q, show_help, strerror
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.process import Context


def canonicalize(fs: FsView, path: str, mode: str) -> str:
    """Resolve ``path`` like ``readlink -e`` (mode "e": all components must exist), ``-f``
    ("f": all but the last) or ``-m`` ("m": none need exist). Raises OSError."""
    absp = path if path.startswith("/") else fs.cwd.rstrip("/") + "/" + path
    todo = [c for c in absp.split("/") if c]
    todo.reverse()
    resolved = "/"
    links = 0
    missing = False
    trailing_slash = path.endswith("/") and len(path) > 1
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            resolved = posixpath.dirname(resolved) or "/"
            continue
        cand = resolved.rstrip("/") + "/" + comp
        if missing:
            resolved = cand
            continue
        try:
            st = fs.lstat(cand)
        except OSError as exc:
            last = not todo
            if mode == "m" or (mode == "f" and last and exc.errno == errno.ENOENT):
                missing = True
                resolved = cand
                continue
            raise OSError(exc.errno, strerror(exc), path) from None
        if st.is_symlink():
            links += 1
            if links > 40:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            target = fs.readlink(cand)
            if target.startswith("/"):
                resolved = "/"
            todo.extend(reversed([c for c in target.split("/") if c]))
            continue
        if todo and not st.is_dir():
            if mode == "m":
                missing = True
                resolved = cand
                continue
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if not todo and trailing_slash and not st.is_dir() and mode != "m":
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        resolved = cand
    return resolved


READLINK_HELP = """Usage: readlink [OPTION]... FILE...
Print value of a symbolic link or canonical file name.

  -f, --canonicalize            follow every symlink; all but the last component must exist
  -e, --canonicalize-existing   follow every symlink; all components must exist
  -m, --canonicalize-missing    follow every symlink; no component need exist
  -n, --no-newline              do not output the trailing delimiter
  -q, --quiet / -s, --silent    suppress most error messages (the default)
  -v, --verbose                 report error messages
  -z, --zero                    end each output line with NUL, not newline
"""


@command("readlink")
async def readlink(ctx: Context) -> int:
    spec = [
        Opt("f", "canonicalize"),
        Opt("e", "canonicalize-existing"),
        Opt("m", "canonicalize-missing"),
        Opt("n", "no-newline"),
        Opt("q", "quiet"),
        Opt("s", "silent"),
        Opt("v", "verbose"),
        Opt("z", "zero"),
    ]
    p = await _start(ctx, spec, READLINK_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = ""
    for k, _ in p.order:
        if k in ("f", "e", "m"):
            mode = k
    end = "\0" if p.flag("z") else "\n"
    no_nl = p.flag("n") and len(p.operands) == 1
    status = 0
    verbose = p.flag("v")
    for path in p.operands:
        try:
            if mode:
                res = canonicalize(ctx.fs, path, mode)
            else:
                res = ctx.fs.readlink(path)
        except OSError as exc:
            if verbose:
                await ctx.err(f"{path}: {strerror(exc)}")
            status = 1
            continue
        await ctx.out(res + ("" if no_nl else end))
    return status


REALPATH_HELP = """Usage: realpath [OPTION]... FILE...
Print the resolved absolute file name; all but the last component must exist.

  -e, --canonicalize-existing  all components of the path must exist
  -m, --canonicalize-missing   no path components need exist or be a directory
  -L, --logical                resolve '..' components before symlinks
  -P, --physical               resolve symlinks as encountered (default)
  -q, --quiet                  suppress most error messages
      --relative-to=DIR        print the resolved path relative to DIR
      --relative-base=DIR      print absolute paths unless paths below DIR
  -s, --strip, --no-symlinks   don't expand symlinks
  -z, --zero                   end each output line with NUL, not newline
"""


@command("realpath")
async def realpath(ctx: Context) -> int:
    spec = [
        Opt("e", "canonicalize-existing"),
        Opt("m", "canonicalize-missing"),
        Opt("E", "canonicalize"),
        Opt("L", "logical"),
        Opt("P", "physical"),
        Opt("q", "quiet"),
        Opt("", "relative-to", "required"),
        Opt("", "relative-base", "required"),
        Opt("s", "strip"),
        Opt("", "no-symlinks", dest="s"),
        Opt("z", "zero"),
    ]
    p = await _start(ctx, spec, REALPATH_HELP, need_operand=True)
    if isinstance(p, int):
        return p
    mode = "f"
    for k, _ in p.order:
        if k in ("e", "m"):
            mode = k
        elif k == "E":
            mode = "f"
    fs = ctx.fs

    def resolve(path: str) -> str:
        if p.flag("s") or p.flag("L"):
            absp = fs.abspath(path)
            if p.flag("s"):
                if mode == "e" and not fs.lexists(absp):
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
                return absp
            return canonicalize(fs, absp, mode)
        return canonicalize(fs, path, mode)

    rel_to = p.str("relative_to")
    rel_base = p.str("relative_base")
    try:
        rt = resolve(rel_to) if rel_to is not None else None
        rb = resolve(rel_base) if rel_base is not None else None
    except OSError as exc:
        await ctx.err(f"{exc.filename}: {strerror(exc)}")
        return 1
    if rb is not None and rt is None:
        rt = rb
    elif (
        rb is not None and rt is not None and not (rt == rb or rt.startswith(rb.rstrip("/") + "/"))
    ):
        rt = None
        rb = None
    end = "\0" if p.flag("z") else "\n"
    status = 0
    for path in p.operands:
        try:
            res = resolve(path)
        except OSError as exc:
            if not p.flag("q"):
                await ctx.err(f"{path}: {strerror(exc)}")
            status = 1
            continue
        if rt is not None:
            inside = rb is None or res == rb or res.startswith(rb.rstrip("/") + "/")
            if inside:
                res = posixpath.relpath(res, rt)
        await ctx.out(res + end)
    return status


BASENAME_HELP = """Usage: basename NAME [SUFFIX]
  or:  basename OPTION... NAME...
Print NAME with any leading directory components removed.
If specified, also remove a trailing SUFFIX.

  -a, --multiple       support multiple arguments and treat each as a NAME
  -s, --suffix=SUFFIX  remove a trailing SUFFIX; implies -a
  -z, --zero           end each output line with NUL, not newline
"""


def base_name(name: str, suffix: str = "") -> str:
    if not name:
        return ""
    stripped = name.rstrip("/")
    if not stripped:
        return "/"
    b = stripped.rsplit("/", 1)[-1]
    if suffix and b != suffix and b.endswith(suffix):
        b = b[: -len(suffix)]
    return b


@command("basename")
async def basename(ctx: Context) -> int:
    spec = [Opt("a", "multiple"), Opt("s", "suffix", "required"), Opt("z", "zero")]
    p = await _start(ctx, spec, BASENAME_HELP)
    if isinstance(p, int):
        return p
    ops = p.operands
    if not ops:
        return await report(ctx, missing_operand(ctx))
    suffix = p.str("s") or ""
    multiple = p.flag("a") or p.get("s") is not None
    end = "\0" if p.flag("z") else "\n"
    if not multiple:
        if len(ops) > 2:
            return await report(
                ctx,
                UsageError(
                    f"basename: extra operand {q(ops[2])}\nTry 'basename --help' for more "
                    "information."
                ),
            )
        if len(ops) == 2:
            suffix = ops[1]
        ops = ops[:1]
    await ctx.out("".join(base_name(o, suffix) + end for o in ops))
    return 0


DIRNAME_HELP = """Usage: dirname [OPTION] NAME...
Output each NAME with its last non-slash component and trailing slashes removed;
if NAME contains no /'s, output '.' (meaning the current directory).

  -z, --zero     end each output line with NUL, not newline
"""


def dir_name(name: str) -> str:
    s = name.rstrip("/")
    if not s:
        return "/" if name.startswith("/") else "."
    if "/" not in s:
        return "."
    d = s.rsplit("/", 1)[0].rstrip("/")
    return d or "/"


@command("dirname")
async def dirname(ctx: Context) -> int:
    try:
        p = _parse(ctx, [Opt("z", "zero")])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, DIRNAME_HELP)
    if not p.operands:
        return await report(ctx, missing_operand(ctx))
    end = "\0" if p.flag("z") else "\n"
    await ctx.out("".join(dir_name(o) + end for o in p.operands))
    return 0


__all__ = ["canonicalize"]
