"""cmp."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import encode, read_all, read_prefix, usage

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView
    from pocketos.kernel.process import Context

from pocketos.commands._diff import HELP


@command("cmp")
async def cmp(ctx: Context) -> int:
    spec = [
        Opt("b", "print-bytes"),
        Opt("i", "ignore-initial", "required"),
        Opt("l", "verbose"),
        Opt("n", "bytes", "required"),
        Opt("s", "quiet"),
        Opt("", "silent", dest="quiet"),
        HELP,
    ]
    try:
        p = parse("cmp", ctx.argv[1:], spec, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: cmp [OPTION]... FILE1 [FILE2 [SKIP1 [SKIP2]]]\n"
            "Compare two files byte by byte.\n  -b -i SKIP -l -n LIMIT -s",
        )
    ops = p.operands
    if not ops:
        await ctx.err("missing operand after 'cmp'")
        await ctx.stderr.write(b"cmp: Try 'cmp --help' for more information.\n")
        return 2
    if len(ops) > 4:
        await ctx.err(f"extra operand '{ops[4]}'")
        await ctx.stderr.write(b"cmp: Try 'cmp --help' for more information.\n")
        return 2
    n0 = ops[0]
    n1 = ops[1] if len(ops) > 1 else "-"
    skips = [0, 0]
    ig = p.str("ignore_initial")
    from pocketos.commands.text_bin import _parse_num

    if ig is not None:
        parts = ig.split(":", 1)
        vals = [_parse_num(x) for x in parts]
        if any(v is None for v in vals):
            await ctx.err(f"invalid --ignore-initial value '{ig}'")
            return 2
        skips = [vals[0] or 0, (vals[1] if len(vals) > 1 else vals[0]) or 0]
    for k, s in enumerate(ops[2:4]):
        v = _parse_num(s)
        if v is None:
            await ctx.err(f"invalid --ignore-initial value '{s}'")
            return 2
        skips[k] = v
    limit: int | None = None
    if p.str("bytes") is not None:
        limit = _parse_num(p.str("bytes") or "")
        if limit is None:
            await ctx.err(f"invalid --bytes value '{p.str('bytes')}'")
            return 2
    quiet = p.flag("quiet")
    verbose = p.flag("verbose")
    if quiet and verbose:
        await ctx.err("options -l and -s are incompatible")
        return 2
    datas = []
    for k, name in enumerate((n0, n1)):
        try:
            if limit is not None:
                datas.append(await read_prefix(ctx, name, skips[k] + limit))
            else:
                datas.append(await read_all(ctx, name))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 2
    a = datas[0][skips[0] :]
    b = datas[1][skips[1] :]
    if limit is not None:
        a, b = a[:limit], b[:limit]
    if n0 == n1 and n0 != "-" and skips[0] == skips[1]:
        return 0
    m = min(len(a), len(b))
    if verbose:
        width = len(str(m if m else 1))
        diffs: list[str] = []
        for i in range(m):
            if a[i] != b[i]:
                if p.flag("print_bytes"):
                    diffs.append(
                        f"{i + 1:>{width}} {a[i]:3o} {_pb(a[i]):<4} {b[i]:3o} {_pb(b[i])}\n"
                    )
                else:
                    diffs.append(f"{i + 1:>{width}} {a[i]:3o} {b[i]:3o}\n")
        await ctx.stdout.write(encode("".join(diffs)))
        if len(a) != len(b):
            short = n0 if len(a) < len(b) else n1
            await _eof(ctx, short, m, a if len(a) < len(b) else b, verbose=True)
            return 1
        return 1 if diffs else 0
    first = -1
    if a[:m] != b[:m]:
        lo, hi = 0, m
        # find the first differing byte quickly
        step = 4096
        i = 0
        while i < m:
            j = min(m, i + step)
            if a[i:j] != b[i:j]:
                lo, hi = i, j
                break
            i = j
        for k in range(lo, hi):
            if a[k] != b[k]:
                first = k
                break
    if first >= 0:
        if not quiet:
            line = a[:first].count(b"\n") + 1
            unit = "byte" if _localized(ctx) or p.flag("print_bytes") else "char"
            msg = f"{n0} {n1} differ: {unit} {first + 1}, line {line}"
            if p.flag("print_bytes"):
                msg += f" is {a[first]:3o} {_pb(a[first])} {b[first]:3o} {_pb(b[first])}"
            await ctx.stdout.write(encode(msg + "\n"))
        return 1
    if len(a) != len(b):
        if not quiet:
            short = n0 if len(a) < len(b) else n1
            await _eof(ctx, short, m, a if len(a) < len(b) else b)
        return 1
    return 0


def _localized(ctx: Context) -> bool:
    """True under a real locale (e.g. en_US.UTF-8), where GNU cmp says "byte" rather than
    the C locale's "char"."""
    env = ctx.env
    loc = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or "C"
    return loc not in ("C", "POSIX") and not loc.startswith("C.")


def _pb(c: int) -> str:
    """cmp -b rendering of a byte (like ``cat -v``)."""
    s = ""
    if c >= 128:
        s = "M-"
        c -= 128
    if c < 32:
        return s + "^" + chr(c + 64)
    if c == 127:
        return s + "^?"
    return s + chr(c)


async def _eof(ctx: Context, name: str, nbytes: int, data: bytes, verbose: bool = False) -> None:
    if nbytes == 0:
        await ctx.err(f"EOF on {name} which is empty")
        return
    if verbose:
        await ctx.err(f"EOF on {name} after byte {nbytes}")
        return
    lines = data[:nbytes].count(b"\n")
    if data[:nbytes].endswith(b"\n"):
        await ctx.err(f"EOF on {name} after byte {nbytes}, line {lines}")
    else:
        await ctx.err(f"EOF on {name} after byte {nbytes}, in line {lines + 1}")


def _probe(fs: FsView, path: str) -> tuple[bool, OSError | None]:
    """Whether ``path`` exists, and the error when it cannot be told apart from "missing"."""
    if path == "-":
        return True, None
    try:
        fs.stat(path)
        return True, None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False, None
        return False, exc
