"""diff."""

from __future__ import annotations

import posixpath
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import encode, read_all, usage

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._diff import (
    HELP,
    Change,
    _split_keep,
    compute_changes,
    format_context,
    format_normal,
    format_unified,
)
from pocketos.commands.cmp import _probe


@dataclass
class DiffOpts:
    fmt: str = "normal"  # normal | unified | context
    context: int = 3
    brief: bool = False
    ignore_case: bool = False
    ignore_all_space: bool = False
    ignore_space_change: bool = False
    ignore_blank_lines: bool = False
    ignore_trailing_space: bool = False
    strip_cr: bool = False
    text: bool = False
    new_file: bool = False
    recursive: bool = False
    report_identical: bool = False
    minimal: bool = False
    labels: list[str] = field(default_factory=list)
    switches: str = ""
    exclude: list[str] = field(default_factory=list)


_WS_RUN = re.compile(rb"[ \t\v\f\r]+")
_WS_ANY = re.compile(rb"[ \t\v\f\r]")


def _key(line: bytes, o: DiffOpts) -> bytes:
    k = line
    if o.strip_cr and k.endswith(b"\r\n"):
        k = k[:-2] + b"\n"
    if o.ignore_all_space:
        k = _WS_ANY.sub(b"", k)
    elif o.ignore_space_change:
        nl = k.endswith(b"\n")
        body = k[:-1] if nl else k
        body = _WS_RUN.sub(b" ", body).rstrip(b" ")
        k = body + (b"\n" if nl else b"")
    elif o.ignore_trailing_space:
        nl = k.endswith(b"\n")
        body = (k[:-1] if nl else k).rstrip(b" \t\v\f\r")
        k = body + (b"\n" if nl else b"")
    if o.ignore_case:
        k = k.lower()
    # a missing final newline does not count as a difference in white space
    if (o.ignore_all_space or o.ignore_space_change) and not k.endswith(b"\n"):
        k += b"\n"
    return k


def _timestamp(ctx: Context, path: str) -> str:
    try:
        st = ctx.fs.stat(path)
        ns = st.st_mtime_ns
    except OSError:
        ns = 0
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{frac:09d} +0000"


class DiffRunner:
    def __init__(self, ctx: Context, o: DiffOpts) -> None:
        self.ctx = ctx
        self.o = o
        self.status = 0

    async def out(self, data: bytes) -> None:
        await self.ctx.stdout.write(data)

    async def trouble(self, msg: str) -> None:
        await self.ctx.err(msg)
        self.status = 2

    def _is_dir(self, path: str) -> bool:
        return path != "-" and self.ctx.fs.isdir(path)

    async def compare_paths(self, p0: str, p1: str, top: bool = True) -> None:
        fs = self.ctx.fs
        d0, d1 = self._is_dir(p0), self._is_dir(p1)
        if top and d0 and not d1 and p1 != "-":
            p0 = posixpath.join(p0, posixpath.basename(p1))
            d0 = self._is_dir(p0)
        elif top and d1 and not d0 and p0 != "-":
            p1 = posixpath.join(p1, posixpath.basename(p0))
            d1 = self._is_dir(p1)
        if d0 and d1:
            await self.compare_dirs(p0, p1)
            return
        if d0 != d1 and not top:
            a = "directory" if d0 else "regular file"
            b = "directory" if d1 else "regular file"
            await self.out(encode(f"File {p0} is a {a} while file {p1} is a {b}\n"))
            self.status = max(self.status, 1)
            return
        exists0, err0 = _probe(fs, p0)
        exists1, err1 = _probe(fs, p1)
        for p, err in ((p0, err0), (p1, err1)):
            if err is not None:
                # anything but "missing" (a denied path, a link loop) is trouble even with -N
                await self.trouble(f"{p}: {err.strerror}")
                return
        data0 = data1 = b""
        if exists0:
            try:
                data0 = await read_all(self.ctx, p0)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await self.trouble(f"{p0}: {exc.strerror}")
                return
        elif not self.o.new_file:
            await self.trouble(f"{p0}: No such file or directory")
            if not exists1 and top:
                await self.trouble(f"{p1}: No such file or directory")
            return
        if exists1:
            try:
                data1 = await read_all(self.ctx, p1)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await self.trouble(f"{p1}: {exc.strerror}")
                return
        elif not self.o.new_file:
            await self.trouble(f"{p1}: No such file or directory")
            return
        await self.compare_data(p0, p1, data0, data1, exists0, exists1, top)

    async def compare_data(
        self, p0: str, p1: str, data0: bytes, data1: bytes, exists0: bool, exists1: bool, top: bool
    ) -> None:
        o = self.o
        if data0 == data1:
            if o.report_identical:
                await self.out(encode(f"Files {p0} and {p1} are identical\n"))
            return
        binary = not o.text and (b"\0" in data0[:65536] or b"\0" in data1[:65536])
        if binary or o.brief:
            if binary and not o.brief:
                await self.out(encode(f"Binary files {p0} and {p1} differ\n"))
                self.status = max(self.status, 1)
                return
            # brief: still needs a real comparison when options relax equality
            if not binary and self._relaxed():
                a, b = _split_keep(data0), _split_keep(data1)
                if not self._changes(a, b):
                    return
            await self.out(encode(f"Files {p0} and {p1} differ\n"))
            self.status = max(self.status, 1)
            return
        a, b = _split_keep(data0), _split_keep(data1)
        changes = self._changes(a, b)
        if not changes:
            return
        self.status = max(self.status, 1)
        if not top and o.switches is not None:
            await self.out(encode(f"diff{o.switches} {p0} {p1}\n"))
        if o.fmt == "normal":
            await self.out(format_normal(a, b, changes))
            return
        h0 = o.labels[0] if len(o.labels) > 0 else f"{p0}\t{self._stamp(p0, exists0)}"
        h1 = o.labels[1] if len(o.labels) > 1 else f"{p1}\t{self._stamp(p1, exists1)}"
        if o.fmt == "unified":
            await self.out(format_unified(a, b, changes, o.context, h0, h1))
        else:
            await self.out(format_context(a, b, changes, o.context, h0, h1))

    def _stamp(self, path: str, exists: bool) -> str:
        if not exists:
            return "1970-01-01 00:00:00.000000000 +0000"
        if path == "-":
            ns = time.time_ns()
            secs, frac = divmod(ns, 1_000_000_000)
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{frac:09d} +0000"
        return _timestamp(self.ctx, path)

    def _relaxed(self) -> bool:
        o = self.o
        return (
            o.ignore_case
            or o.ignore_all_space
            or o.ignore_space_change
            or o.ignore_blank_lines
            or o.ignore_trailing_space
            or o.strip_cr
        )

    def _changes(self, a: list[bytes], b: list[bytes]) -> list[Change]:
        o = self.o
        if self._relaxed():
            ka = [_key(x, o) for x in a]
            kb = [_key(x, o) for x in b]
        else:
            ka, kb = a, b
        horizon = o.context if o.fmt != "normal" else 0
        changes = compute_changes(ka, kb, o.minimal, a, b, horizon)
        if o.ignore_blank_lines:

            def blank(line: bytes) -> bool:
                return (
                    line.strip(b" \t\r\n\v\f") == b""
                    if o.ignore_all_space or o.ignore_space_change
                    else line in (b"\n", b"")
                )

            changes = [
                c
                for c in changes
                if not (
                    all(blank(x) for x in a[c.line0 : c.line0 + c.deleted])
                    and all(blank(x) for x in b[c.line1 : c.line1 + c.inserted])
                )
            ]
        return changes

    def _excluded(self, name: str) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(name, pat) for pat in self.o.exclude)

    async def compare_dirs(self, d0: str, d1: str) -> None:
        fs = self.ctx.fs
        try:
            n0 = set(fs.listdir(d0))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.trouble(f"{d0}: {exc.strerror}")
            return
        try:
            n1 = set(fs.listdir(d1))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.trouble(f"{d1}: {exc.strerror}")
            return
        for name in sorted(n0 | n1):
            self.ctx.check_killed()
            if self._excluded(name):
                continue
            p0 = posixpath.join(d0, name)
            p1 = posixpath.join(d1, name)
            if name not in n1 and not self.o.new_file:
                await self.out(encode(f"Only in {d0}: {name}\n"))
                self.status = max(self.status, 1)
                continue
            if name not in n0 and not self.o.new_file:
                await self.out(encode(f"Only in {d1}: {name}\n"))
                self.status = max(self.status, 1)
                continue
            is_d0 = name in n0 and fs.isdir(p0)
            is_d1 = name in n1 and fs.isdir(p1)
            if is_d0 and is_d1:
                if self.o.recursive:
                    await self.compare_dirs(p0, p1)
                else:
                    await self.out(encode(f"Common subdirectories: {p0} and {p1}\n"))
                continue
            if (is_d0 or is_d1) and (name not in n0 or name not in n1):
                # -N with a directory on one side only
                if self.o.recursive:
                    await self._new_dir(p0, p1, is_d0)
                else:
                    side = d0 if is_d0 else d1
                    await self.out(encode(f"Only in {side}: {name}\n"))
                    self.status = max(self.status, 1)
                continue
            await self.compare_paths(p0, p1, top=False)

    async def _new_dir(self, p0: str, p1: str, left: bool) -> None:
        fs = self.ctx.fs
        base = p0 if left else p1
        for name in sorted(fs.listdir(base)):
            await self.compare_paths(posixpath.join(p0, name), posixpath.join(p1, name), top=False)


_DIFF_SPEC = [
    Opt("u"),
    Opt("", "unified", "optional"),
    Opt("U", arg="required", dest="unified"),
    Opt("c"),
    Opt("", "context", "optional"),
    Opt("C", arg="required", dest="context"),
    Opt("", "normal"),
    Opt("q", "brief"),
    Opt("s", "report-identical-files"),
    Opt("i", "ignore-case"),
    Opt("w", "ignore-all-space"),
    Opt("b", "ignore-space-change"),
    Opt("B", "ignore-blank-lines"),
    Opt("Z", "ignore-trailing-space"),
    Opt("", "strip-trailing-cr"),
    Opt("a", "text"),
    Opt("N", "new-file"),
    Opt("r", "recursive"),
    Opt("d", "minimal"),
    Opt("", "label", "required", multiple=True),
    Opt("L", dest="label", arg="required", multiple=True),
    Opt("", "color", "optional"),
    Opt("p", "show-c-function"),
    Opt("x", "exclude", "required", multiple=True),
    Opt("", "no-dereference"),
    Opt("", "speed-large-files"),
    Opt("H"),
    Opt("", "from-file", "required"),
    Opt("", "to-file", "required"),
    HELP,
]


@command("diff")
async def diff(ctx: Context) -> int:
    args = list(ctx.argv[1:])
    # -NUM is an old spelling of -C NUM / -U NUM context
    try:
        p = parse("diff", args, _DIFF_SPEC, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: diff [OPTION]... FILES\n"
            "Compare FILES line by line.\n"
            "  -u -U N -c -C N -q -s -r -N -i -w -b -B -a --label LABEL "
            "--normal -x PAT",
        )
    o = DiffOpts()
    for k, v in p.order:
        if k == "u":
            o.fmt = "unified"
        elif k == "c":
            o.fmt = "context"
        elif k in ("unified", "context"):
            o.fmt = k
            if v is not True:
                sv = str(v)
                if not sv.isdigit():
                    await ctx.err(f"invalid context length '{sv}'")
                    await ctx.stderr.write(b"Try 'diff --help' for more information.\n")
                    return 2
                o.context = int(sv)
        elif k == "normal":
            o.fmt = "normal"
    o.brief = p.flag("brief")
    o.report_identical = p.flag("report_identical_files")
    o.ignore_case = p.flag("ignore_case")
    o.ignore_all_space = p.flag("ignore_all_space")
    o.ignore_space_change = p.flag("ignore_space_change")
    o.ignore_blank_lines = p.flag("ignore_blank_lines")
    o.ignore_trailing_space = p.flag("ignore_trailing_space")
    o.strip_cr = p.flag("strip_trailing_cr")
    o.text = p.flag("text")
    o.new_file = p.flag("new_file")
    o.recursive = p.flag("recursive")
    o.minimal = p.flag("minimal")
    o.labels = p.list("label")
    o.exclude = p.list("exclude")
    # the switches as written, for the "diff -r ..." lines of recursive comparisons
    sw = list(args)
    if "--" in sw:
        sw = sw[: sw.index("--")]
    left = list(p.operands)
    for idx in range(len(sw) - 1, -1, -1):
        if left and sw[idx] == left[-1]:
            left.pop()
            del sw[idx]
    o.switches = "".join(" " + s for s in sw)
    ops = p.operands
    ff, tf = p.str("from_file"), p.str("to_file")
    pairs: list[tuple[str, str]] = []
    if ff is not None:
        pairs = [(ff, x) for x in ops]
    elif tf is not None:
        pairs = [(x, tf) for x in ops]
    else:
        if len(ops) < 2:
            if not ops:
                await ctx.err("missing operand after 'diff'")
            else:
                await ctx.err(f"missing operand after '{ops[-1]}'")
            await ctx.stderr.write(b"diff: Try 'diff --help' for more information.\n")
            return 2
        if len(ops) > 2:
            await ctx.err(f"extra operand '{ops[2]}'")
            await ctx.stderr.write(b"diff: Try 'diff --help' for more information.\n")
            return 2
        pairs = [(ops[0], ops[1])]
    runner = DiffRunner(ctx, o)
    for a, b in pairs:
        await runner.compare_paths(a, b)
    return runner.status
