"""uniq."""

from __future__ import annotations

import operator
from itertools import compress, islice
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._sortkeys import BLANKS, HELP
from pocketos.commands.text_common import (
    LINE_OVERHEAD,
    close_input,
    line_batches,
    open_file,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


def _skip_fields(line: bytes, n: int) -> bytes:
    ptr = 0
    lim = len(line)
    for _ in range(n):
        if ptr >= lim:
            break  # nothing left to skip: a huge count must not spin
        while ptr < lim and line[ptr] in BLANKS:
            ptr += 1
        while ptr < lim and line[ptr] not in BLANKS:
            ptr += 1
    return line[ptr:]


@command("uniq")
async def uniq(ctx: Context) -> int:
    spec = [
        Opt("c", "count"),
        Opt("d", "repeated"),
        Opt("D", "", "none", dest="all_rep"),
        Opt("", "all-repeated", "optional"),
        Opt("f", "skip-fields", "required"),
        Opt("", "group", "optional"),
        Opt("i", "ignore-case"),
        Opt("s", "skip-chars", "required"),
        Opt("u", "unique"),
        Opt("z", "zero-terminated"),
        Opt("w", "check-chars", "required"),
        HELP,
    ]
    try:
        p = parse("uniq", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: uniq [OPTION]... [INPUT [OUTPUT]]\n"
            "Filter adjacent matching lines from INPUT.\n"
            "  -c -d -D -u -i -f N -s N -w N -z --group",
        )
    nums: dict[str, int | None] = {}
    for key, label in (
        ("skip_fields", "number of fields to skip"),
        ("skip_chars", "number of bytes to skip"),
        ("check_chars", "number of bytes to compare"),
    ):
        v = p.str(key)
        if v is None:
            nums[key] = None
            continue
        if not v.isdigit():
            await ctx.err(f"{v}: invalid {label}")
            return 1
        nums[key] = int(v) if len(v) <= 4000 else (1 << 63) - 1
    skip_f = nums["skip_fields"] or 0
    skip_c = nums["skip_chars"] or 0
    width = nums["check_chars"]
    count = p.flag("count")
    repeated = p.flag("repeated")
    uniq_only = p.flag("unique")
    method: str | None = None
    if p.flag("all_rep"):
        method = "none"
    ar = p.get("all_repeated")
    if ar is not None:
        method = "none" if ar is True else str(ar)
        if method not in ("none", "prepend", "separate"):
            await ctx.err(f"invalid argument '{method}' for '--all-repeated'")
            return 1
    group = p.get("group")
    gmethod: str | None = None
    if group is not None:
        gmethod = "separate" if group is True else str(group)
        if gmethod not in ("separate", "prepend", "append", "both"):
            await ctx.err(f"invalid argument '{gmethod}' for '--group'")
            return 1
        if count or repeated or uniq_only or method:
            await ctx.err("--group is mutually exclusive with -c/-d/-D/-u")
            await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
            return 1
    if count and method is not None:
        await ctx.err("printing all duplicated lines and repeat counts is meaningless")
        await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
        return 1
    fold = p.flag("ignore_case")
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    ops = p.operands
    if len(ops) > 2:
        await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'uniq --help' for more information.\n")
        return 1
    inname = ops[0] if ops else "-"
    try:
        stream = open_file(ctx, inname)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{inname}: {exc.strerror}")
        return 1
    outbuf: list[bytes] = []
    outname = ops[1] if len(ops) > 1 else None

    def keyof(line: bytes) -> bytes:
        s = line[:-1] if line.endswith(sep) else line
        if skip_f:
            s = _skip_fields(s, skip_f)
        if skip_c:
            s = s[skip_c:]
        if width is not None:
            s = s[:width]
        if fold:
            s = s.lower()
        return s

    def norm(line: bytes) -> bytes:
        return line if line.endswith(sep) else line + sep

    group_lines: list[bytes] = []
    # -D and --group hold a whole group of lines, and OUTPUT is written at the end: both grow
    # with the input, so they are charged to the exec's memory budget
    held_group = ctx.budget.hold("uniq")

    def keep(parts: list[bytes]) -> None:
        ctx.charge(sum(map(len, parts)) + len(parts) * LINE_OVERHEAD, "uniq")
        outbuf.extend(parts)

    group_key: bytes | None = None
    first_group = True
    out = ctx.stdout

    # only -D/--all-repeated and --group need every line of a group; the rest count
    keep_all = method is not None or gmethod is not None
    group_count = 0

    def flush_group() -> list[bytes]:
        nonlocal first_group
        res: list[bytes] = []
        n = len(group_lines) if keep_all else (group_count if group_lines else 0)
        if not n:
            return res
        if gmethod is not None:
            if gmethod in ("prepend", "both") or (
                not first_group and gmethod in ("separate", "append")
            ):
                res.append(sep)
            res.extend(norm(x) for x in group_lines)
            first_group = False
            return res
        if method is not None:
            if n > 1:
                if method == "prepend" or (method == "separate" and not first_group):
                    res.append(sep)
                res.extend(norm(x) for x in group_lines)
                first_group = False
            return res
        if (repeated and n == 1) or (uniq_only and n > 1):
            return res
        if count:
            res.append(b"%7d " % n + norm(group_lines[0]))
        else:
            res.append(norm(group_lines[0]))
        return res

    # without per-line key options, whole lines are compared: find group boundaries of a
    # batch with C-level passes (see _uniq_fast)
    fast = not (skip_f or skip_c or width is not None or fold or keep_all)
    carry: list[Any] = [None, 0]  # the open group: first line, count so far
    try:
        async for batch in line_batches(stream, sep):
            ctx.check_killed()
            if fast:
                fout = _uniq_fast(batch, sep, carry, count, repeated, uniq_only, False)
                if fout:
                    if outname is None:
                        await out.write(b"".join(fout))
                    else:
                        keep(fout)
                continue
            emit: list[bytes] = []
            for line in batch:
                k = keyof(line)
                if group_key is not None and k == group_key:
                    if keep_all:
                        held_group.add(len(line) + LINE_OVERHEAD)
                        group_lines.append(line)
                    else:
                        group_count += 1
                    continue
                emit.extend(flush_group())
                if keep_all:
                    held_group.set(len(line) + LINE_OVERHEAD)
                group_lines = [line]
                group_count = 1
                group_key = k
            if emit:
                if outname is None:
                    await out.write(b"".join(emit))
                else:
                    keep(emit)
        tail = (
            _uniq_fast([], sep, carry, count, repeated, uniq_only, True) if fast else flush_group()
        )
        if gmethod in ("append", "both") and not first_group:
            tail.append(sep)
        if outname is None:
            await out.write(b"".join(tail))
        else:
            keep(tail)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"{inname}: {exc.strerror}")
        return 1
    finally:
        close_input(ctx, stream)
        held_group.close()
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, b"".join(outbuf))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{outname}: {exc.strerror}")
            return 1
    return 0


def _uniq_fast(
    batch: list[bytes],
    sep: bytes,
    carry: list[Any],
    count: bool,
    repeated: bool,
    uniq_only: bool,
    final: bool,
) -> list[bytes]:
    """Plain ``uniq`` (with -c/-d/-u) over one batch of lines. ``carry`` holds the group
    still open from earlier batches ([first line, count]); the batch's last group stays open
    unless ``final``. Returns the output lines."""
    if batch and not batch[-1].endswith(sep):
        batch[-1] += sep  # a missing final terminator compares (and prints) as present
    prev, prev_n = carry
    seq = batch if prev is None else [prev, *batch]
    extra = 0 if prev is None else prev_n - 1
    m = len(seq)
    if not m:
        return []
    starts = [0]
    starts.extend(compress(range(1, m), map(operator.ne, islice(seq, 1, None), seq)))
    if final:
        closed = starts
        ends = [*starts[1:], m]
    else:
        closed = starts[:-1]
        ends = starts[1:]
        last = starts[-1]
        carry[0] = seq[last]
        carry[1] = m - last + (extra if last == 0 else 0)
    if not closed:
        return []
    firsts = list(map(seq.__getitem__, closed))
    if not (count or repeated or uniq_only):
        return firsts
    counts = list(map(operator.sub, ends, closed))
    counts[0] += extra
    if repeated or uniq_only:
        keep = [(n > 1 if repeated else True) and (n == 1 if uniq_only else True) for n in counts]
        firsts = list(compress(firsts, keep))
        counts = list(compress(counts, keep))
    if count:
        return list(map(operator.add, map(b"%7d ".__mod__, counts), firsts))
    return firsts


# --------------------------------------------------------------------------------------- comm
