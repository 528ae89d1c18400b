"""comm and join."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._sortkeys import HELP
from pocketos.commands.text_common import (
    encode,
    read_all,
    split_lines,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


@command("comm")
async def comm(ctx: Context) -> int:
    spec = [
        Opt("1"),
        Opt("2"),
        Opt("3"),
        Opt("", "check-order"),
        Opt("", "nocheck-order"),
        Opt("", "output-delimiter", "required"),
        Opt("", "total"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("comm", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: comm [OPTION]... FILE1 FILE2\n"
            "Compare sorted files FILE1 and FILE2 line by line.\n"
            "  -1 -2 -3 --check-order --nocheck-order --output-delimiter=STR "
            "--total -z",
        )
    ops = p.operands
    if len(ops) < 2:
        if not ops:
            await ctx.err("missing operand")
        else:
            await ctx.err(f"missing operand after '{ops[-1]}'")
        await ctx.stderr.write(b"Try 'comm --help' for more information.\n")
        return 1
    if len(ops) > 2:
        await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'comm --help' for more information.\n")
        return 1
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    datas = []
    for name in ops:
        try:
            datas.append(split_lines(await read_all(ctx, name), sep))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1
    a, b = datas
    delim_s = p.str("output_delimiter")
    delim = encode(delim_s) if delim_s is not None else b"\t"
    if delim_s == "":
        delim = b"\0"
    show = [not p.flag("1"), not p.flag("2"), not p.flag("3")]
    check = "default"
    if p.flag("check_order"):
        check = "on"
    if p.flag("nocheck_order"):
        check = "off"
    col1 = b""
    col2 = delim if show[0] else b""
    col3 = (delim if show[0] else b"") + (delim if show[1] else b"")
    prefixes = [col1, col2, col3]
    out: list[bytes] = []
    counts = [0, 0, 0]
    warned = [False, False]
    seen_unpairable = False
    status = 0
    i = j = 0
    prev: list[bytes | None] = [None, None]

    async def check_order(which: int, line: bytes) -> bool:
        nonlocal status
        if check == "off" or (check == "default" and not seen_unpairable):
            return True
        pv = prev[which]
        if pv is not None and not warned[which] and pv > line:
            warned[which] = True
            await ctx.stdout.write(b"".join(out))
            out.clear()
            await ctx.err(f"file {which + 1} is not in sorted order")
            if check == "on":
                status = 1
                return False
        return True

    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a[i] < b[j]):
            which, line = 0, a[i]
            i += 1
            seen_unpairable = True
            col = 0
        elif i >= len(a) or b[j] < a[i]:
            which, line = 1, b[j]
            j += 1
            seen_unpairable = True
            col = 1
        else:
            line = a[i]
            if not await check_order(0, a[i]) or not await check_order(1, b[j]):
                break
            prev[0], prev[1] = a[i], b[j]
            i += 1
            j += 1
            counts[2] += 1
            if show[2]:
                out.append(prefixes[2] + line + sep)
            continue
        if not await check_order(which, line):
            break
        prev[which] = line
        counts[col] += 1
        if show[col]:
            out.append(prefixes[col] + line + sep)
    if status:
        return 1
    if p.flag("total"):
        out.append(
            encode(f"{counts[0]}")
            + delim
            + encode(f"{counts[1]}")
            + delim
            + encode(f"{counts[2]}")
            + delim
            + b"total"
            + sep
        )
    await ctx.stdout.write(b"".join(out))
    if warned[0] or warned[1]:
        await ctx.err("input is not in sorted order")
        return 1
    return 0


# --------------------------------------------------------------------------------------- join


def _join_fields(line: bytes, tab: bytes | None) -> list[bytes]:
    if tab is not None:
        return line.split(tab)
    return line.split()


@command("join")
async def join(ctx: Context) -> int:
    spec = [
        Opt("a", "", "required", multiple=True),
        Opt("e", "", "required"),
        Opt("i", "ignore-case"),
        Opt("j", "", "required"),
        Opt("o", "", "required", multiple=True),
        Opt("t", "", "required"),
        Opt("v", "", "required", multiple=True),
        Opt("1", "", "required", dest="f1"),
        Opt("2", "", "required", dest="f2"),
        Opt("", "check-order"),
        Opt("", "nocheck-order"),
        Opt("", "header"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("join", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: join [OPTION]... FILE1 FILE2\n"
            "For each pair of input lines with identical join fields, write a "
            "line to standard output.\n"
            "  -a FILENUM -e EMPTY -i -j FIELD -o FORMAT -t CHAR -v FILENUM "
            "-1 FIELD -2 FIELD --header -z",
        )
    ops = p.operands
    if len(ops) != 2:
        if len(ops) < 2:
            await ctx.err("missing operand" if not ops else f"missing operand after '{ops[-1]}'")
        else:
            await ctx.err(f"extra operand '{ops[2]}'")
        await ctx.stderr.write(b"Try 'join --help' for more information.\n")
        return 1
    f1 = f2 = 0
    for k, v in p.order:
        sv = str(v)
        if k in ("j", "f1", "f2"):
            if not sv.isdigit() or int(sv) < 1:
                await ctx.err(f"invalid field number: '{sv}'")
                return 1
            if k in ("j", "f1"):
                f1 = int(sv) - 1
            if k in ("j", "f2"):
                f2 = int(sv) - 1
    unpaired: set[int] = set()
    only_unpaired = False
    for v in p.list("a"):
        if v not in ("1", "2"):
            await ctx.err(f"invalid file number: '{v}'")
            return 1
        unpaired.add(int(v))
    for v in p.list("v"):
        if v not in ("1", "2"):
            await ctx.err(f"invalid file number: '{v}'")
            return 1
        unpaired.add(int(v))
        only_unpaired = True
    tab: bytes | None = None
    if p.str("t") is not None:
        tb = encode(p.str("t") or "")
        if len(tb) > 1 and tb != b"\\0":
            await ctx.err(f"multi-character tab '{p.str('t')}'")
            return 1
        tab = b"\0" if tb == b"\\0" else (tb if tb else b"\n")
    empty = p.str("e")
    fmt: list[tuple[int, int]] | None = None
    auto = False
    olist = p.list("o")
    if olist:
        fmt = []
        for spec_s in olist:
            for item in re.split(r"[ ,]+", str(spec_s).strip()):
                if item == "auto" and len(olist) == 1:
                    auto = True
                    continue
                if item == "0":
                    fmt.append((0, 0))
                    continue
                m = re.fullmatch(r"([12])\.(\d+)", item)
                if not m or int(m.group(2)) < 1:
                    await ctx.err(f"invalid field specifier: '{item}'")
                    return 1
                fmt.append((int(m.group(1)), int(m.group(2)) - 1))
        if auto:
            fmt = None
    fold = p.flag("ignore_case")
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    datas = []
    for name in ops:
        try:
            datas.append(split_lines(await read_all(ctx, name), sep))
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1
    la = [_join_fields(x, tab) for x in datas[0]]
    lb = [_join_fields(x, tab) for x in datas[1]]
    osep = tab if tab is not None else b" "
    empty_b = encode(empty) if empty is not None else None
    out: list[bytes] = []

    def keyf(fields: list[bytes], n: int) -> bytes:
        k = fields[n] if n < len(fields) else b""
        return k.lower() if fold else k

    auto_n = (len(la[0]) if la else 0, len(lb[0]) if lb else 0)

    def render(x: list[bytes] | None, y: list[bytes] | None) -> bytes:
        parts: list[bytes] = []
        if fmt is not None:
            for fno, idx in fmt:
                if fno == 0:
                    src = x if x is not None else y
                    n = f1 if x is not None else f2
                    val = src[n] if src is not None and n < len(src) else None
                else:
                    src = x if fno == 1 else y
                    val = src[idx] if src is not None and idx < len(src) else None
                parts.append(val if val is not None else (empty_b or b""))
            return osep.join(parts) + sep
        src = x if x is not None else y
        n = f1 if x is not None else f2
        key = src[n] if src is not None and n < len(src) else (empty_b or b"")
        parts.append(key)
        for fields, jn, cnt in ((x, f1, auto_n[0]), (y, f2, auto_n[1])):
            if auto:
                for c in range(cnt):
                    if c == jn:
                        continue
                    if fields is not None and c < len(fields):
                        parts.append(fields[c])
                    else:
                        parts.append(empty_b or b"")
            elif fields is not None:
                parts.extend(v for c, v in enumerate(fields) if c != jn)
        return osep.join(parts) + sep

    i = j = 0
    if p.flag("header") and la and lb:
        out.append(render(la[0], lb[0]))
        i = j = 1
    elif p.flag("header"):
        if la:
            out.append(render(la[0], None))
            i = 1
        if lb:
            out.append(render(None, lb[0]))
            j = 1
    while i < len(la) and j < len(lb):
        ka, kb = keyf(la[i], f1), keyf(lb[j], f2)
        if ka < kb:
            if 1 in unpaired:
                out.append(render(la[i], None))
            i += 1
        elif ka > kb:
            if 2 in unpaired:
                out.append(render(None, lb[j]))
            j += 1
        else:
            i2 = i
            while i2 < len(la) and keyf(la[i2], f1) == ka:
                i2 += 1
            j2 = j
            while j2 < len(lb) and keyf(lb[j2], f2) == kb:
                j2 += 1
            if not only_unpaired:
                for x in la[i:i2]:
                    for y in lb[j:j2]:
                        out.append(render(x, y))
            i, j = i2, j2
    if 1 in unpaired:
        out.extend(render(x, None) for x in la[i:])
    if 2 in unpaired:
        out.extend(render(None, y) for y in lb[j:])
    await ctx.stdout.write(b"".join(out))
    return 0


# --------------------------------------------------------------------------------------- shuf
