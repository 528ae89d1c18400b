"""sort and shuf."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._sortkeys import (
    _IDENT,
    HELP,
    BatchFn,
    Key,
    SortPlan,
    _apply_flags,
    compare_lines,
    make_batch,
    make_keyfunc,
    parse_keydef,
    sort_lines,
)
from pocketos.commands.text_common import (
    decode,
    encode,
    read_all,
    read_prefix,
    split_lines,
    usage,
)

if TYPE_CHECKING:
    from pocketos.kernel.process import Context


_SORT_SPEC = [
    Opt("b", "ignore-leading-blanks"),
    Opt("d", "dictionary-order"),
    Opt("f", "ignore-case"),
    Opt("g", "general-numeric-sort"),
    Opt("i", "ignore-nonprinting"),
    Opt("M", "month-sort"),
    Opt("h", "human-numeric-sort"),
    Opt("n", "numeric-sort"),
    Opt("R", "random-sort"),
    Opt("", "random-source", "required"),
    Opt("r", "reverse"),
    Opt("", "sort", "required"),
    Opt("V", "version-sort"),
    Opt("c", dest="check"),
    Opt("", "check", "optional"),
    Opt("C"),
    Opt("", "compress-program", "required"),
    Opt("", "debug"),
    Opt("", "files0-from", "required"),
    Opt("k", "key", "required", multiple=True),
    Opt("m", "merge"),
    Opt("o", "output", "required"),
    Opt("s", "stable"),
    Opt("S", "buffer-size", "required"),
    Opt("t", "field-separator", "required"),
    Opt("T", "temporary-directory", "required"),
    Opt("", "parallel", "required"),
    Opt("u", "unique"),
    Opt("z", "zero-terminated"),
    HELP,
]

_SORT_WORDS = {
    "general-numeric": "g",
    "human-numeric": "h",
    "month": "M",
    "numeric": "n",
    "random": "R",
    "version": "V",
}


@command("sort")
async def sort(ctx: Context) -> int:
    try:
        p = parse("sort", ctx.argv[1:], _SORT_SPEC, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: sort [OPTION]... [FILE]...\n"
            "Write sorted concatenation of all FILE(s) to standard output.\n"
            "  -b -d -f -g -h -i -M -n -R -r -V -k KEYDEF -t SEP -u -s -o FILE\n"
            "  -c -C -z -m --random-source=FILE",
        )
    gkey = Key()
    flagmap = {
        "ignore_leading_blanks": "b",
        "dictionary_order": "d",
        "ignore_case": "f",
        "general_numeric_sort": "g",
        "ignore_nonprinting": "i",
        "month_sort": "M",
        "human_numeric_sort": "h",
        "numeric_sort": "n",
        "random_sort": "R",
        "reverse": "r",
        "version_sort": "V",
    }
    for k, v in p.order:
        if k in flagmap:
            ch = flagmap[k]
            _apply_flags(gkey, ch, "s")
            if ch == "b":
                gkey.skipeblanks = True
        elif k == "sort":
            word = str(v)
            if word not in _SORT_WORDS:
                await ctx.stderr.write(
                    encode(
                        f"sort: invalid argument '{word}' for '--sort'\n"
                        "Valid arguments are:\n  - 'general-numeric'\n  - 'human-numeric'\n"
                        "  - 'month'\n  - 'numeric'\n  - 'random'\n  - 'version'\n"
                        "Try 'sort --help' for more information.\n"
                    )
                )
                return 2
            _apply_flags(gkey, _SORT_WORDS[word], "s")
    ordering = [gkey.numeric, gkey.general, gkey.human, gkey.month, gkey.version, gkey.rand]
    if sum(ordering) > 1:
        opts = "".join(c for c, f in zip("nghMVR", ordering, strict=True) if f)
        await ctx.err(f"options '-{opts}' are incompatible")
        return 2
    tab: int | None = None
    tsep = p.str("field_separator")
    if tsep is not None:
        tb = encode(tsep)
        if tb == b"\\0":
            tb = b"\0"
        if len(tb) != 1:
            if not tb:
                await ctx.err("empty tab")
            else:
                await ctx.err(f"multi-character tab '{tsep}'")
            return 2
        tab = tb[0]
    keys: list[Key] = []
    for kdef in p.list("key"):
        try:
            keys.append(parse_keydef(kdef))
        except ValueError as exc:
            await ctx.err(str(exc))
            return 2
    salt = b""
    if gkey.rand or any(k.rand for k in keys):
        src = p.str("random_source")
        if src is not None:
            try:
                salt = await read_prefix(ctx, src, 64)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await ctx.err(f"{src}: {exc.strerror}")
                return 2
        else:
            salt = secrets.token_bytes(16)
    passes: list[tuple[Callable[[bytes], Any], bool]] = []
    batches: list[BatchFn | None] = []
    text_keys: list[bool] = []

    def is_text(k: Key) -> bool:
        return not (k.numeric or k.general or k.human or k.month or k.version or k.rand)

    if not keys:
        only_reverse = gkey.has_flags() and not any(
            (
                gkey.skipsblanks,
                gkey.dictionary,
                gkey.ignore_np,
                gkey.fold,
                gkey.numeric,
                gkey.general,
                gkey.human,
                gkey.month,
                gkey.version,
                gkey.rand,
            )
        )
        if gkey.has_flags() and not only_reverse:
            passes.append((make_keyfunc(gkey, tab, True, salt), gkey.reverse))
            batches.append(make_batch(gkey, tab, True))
        else:
            passes.append((_IDENT, gkey.reverse))
            batches.append(None)
        text_keys.append(is_text(gkey))
    else:
        for kd in keys:
            if not kd.has_flags():
                for attr in (
                    "skipsblanks",
                    "skipeblanks",
                    "fold",
                    "dictionary",
                    "ignore_np",
                    "numeric",
                    "general",
                    "human",
                    "month",
                    "version",
                    "rand",
                    "reverse",
                ):
                    setattr(kd, attr, getattr(gkey, attr))
            passes.append((make_keyfunc(kd, tab, False, salt), kd.reverse))
            batches.append(make_batch(kd, tab, False))
            text_keys.append(is_text(kd))
    stable = p.flag("stable")
    unique = p.flag("unique")
    plan = SortPlan(
        passes, last_resort=not stable, reverse=gkey.reverse, batches=batches, text_keys=text_keys
    )
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    files = list(p.operands)
    f0 = p.str("files0_from")
    if f0 is not None:
        try:
            raw = await read_all(ctx, f0)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot open '{f0}' for reading: {exc.strerror}")
            return 2
        files = [decode(x) for x in raw.split(b"\0") if x]
    if not files:
        files = ["-"]
    check = p.get("check")
    quiet_check = p.flag("C")
    if check is not None or quiet_check:
        if isinstance(check, str) and check not in ("quiet", "silent", "diagnose-first"):
            await ctx.err(f"invalid argument '{check}' for '--check'")
            return 2
        quiet = quiet_check or check in ("quiet", "silent")
        if len(files) > 1:
            await ctx.err(f"extra operand '{files[1]}' not allowed with -c")
            return 2
        try:
            data = await read_all(ctx, files[0])
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot read: {files[0]}: {exc.strerror}")
            return 2
        lines = split_lines(data, sep)
        for i in range(1, len(lines)):
            if i % 4096 == 0:
                ctx.check_killed()
            c = compare_lines(lines[i - 1], lines[i], plan, unique)
            if c > 0 or (unique and c == 0):
                if not quiet:
                    await ctx.err(f"{files[0]}:{i + 1}: disorder: {decode(lines[i])}")
                return 1
        return 0
    chunks: list[bytes] = []
    for name in files:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            if isinstance(exc, IsADirectoryError):
                await ctx.err(f"read failed: {name}: Is a directory")
            else:
                await ctx.err(f"cannot read: {name}: {exc.strerror}")
            return 2
        if data and not data.endswith(sep):
            data += sep
        chunks.append(data)
    lines = split_lines(b"".join(chunks), sep)
    ctx.check_killed()
    result = sort_lines(lines, plan, unique, sep)
    ctx.check_killed()
    payload = sep.join(result) + sep if result else b""
    outname = p.str("output")
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"open failed: {outname}: {exc.strerror}")
            return 2
        return 0
    await ctx.stdout.write(payload)
    return 0


# --------------------------------------------------------------------------------------- uniq


@command("shuf")
async def shuf(ctx: Context) -> int:
    spec = [
        Opt("e", "echo"),
        Opt("i", "input-range", "required"),
        Opt("n", "head-count", "required"),
        Opt("o", "output", "required"),
        Opt("", "random-source", "required"),
        Opt("r", "repeat"),
        Opt("z", "zero-terminated"),
        HELP,
    ]
    try:
        p = parse("shuf", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: shuf [OPTION]... [FILE]\n"
            "  or:  shuf -e [OPTION]... [ARG]...\n"
            "  or:  shuf -i LO-HI [OPTION]...\n"
            "Write a random permutation of the input lines to standard output.\n"
            "  -n COUNT -o FILE -r --random-source=FILE -z",
        )
    sep = b"\0" if p.flag("zero_terminated") else b"\n"
    limit: int | None = None
    if p.str("head_count") is not None:
        hc = p.str("head_count") or ""
        if not hc.isdigit():
            await ctx.err(f"invalid line count: '{hc}'")
            return 1
        limit = int(hc)
    src = p.str("random_source")
    if src is not None:
        try:
            seed = await read_prefix(ctx, src, 1 << 16)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{src}: {exc.strerror}")
            return 1
        rng = random.Random(hashlib.sha256(seed).digest())
    else:
        rng = random.Random(secrets.randbits(128))
    rng_range = p.str("input_range")
    items: list[bytes] | range
    if rng_range is not None:
        m = re.fullmatch(r"(\d+)-(\d+)", rng_range)
        if (
            not m
            or max(len(m.group(1)), len(m.group(2))) > 4000
            or int(m.group(2)) + 1 < int(m.group(1))
        ):
            await ctx.err(f"invalid input range: '{rng_range}'")
            return 1
        if p.operands:
            await ctx.err(f"extra operand '{p.operands[0]}'")
            return 1
        lo, hi = int(m.group(1)), int(m.group(2))
        items = range(lo, hi + 1)
    elif p.flag("echo"):
        items = [encode(x) for x in p.operands]
    else:
        if len(p.operands) > 1:
            await ctx.err(f"extra operand '{p.operands[1]}'")
            await ctx.stderr.write(b"Try 'shuf --help' for more information.\n")
            return 1
        name = p.operands[0] if p.operands else "-"
        try:
            items = split_lines(await read_all(ctx, name), sep)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            return 1

    def item(i: int) -> bytes:
        v = items[i]
        return str(v).encode() if isinstance(v, int) else v

    out_parts: list[bytes] = []
    outname = p.str("output")
    if p.flag("repeat"):
        if len(items) == 0:
            if limit:
                await ctx.err("no lines to repeat")
                return 1
            return 0
        n = limit
        count = 0
        while n is None or count < n:
            out_parts.append(item(rng.randrange(len(items))) + sep)
            count += 1
            if len(out_parts) >= 1024 or (n is not None and count >= n):
                if outname is None:
                    await ctx.stdout.write(b"".join(out_parts))
                    out_parts.clear()
                ctx.check_killed()
        if outname is None:
            return 0
    else:
        total = len(items)
        k = total if limit is None else min(limit, total)
        if isinstance(items, range) and k < total:
            picks = rng.sample(items, k)
            out_parts = [str(v).encode() + sep for v in picks]
        else:
            order = list(range(total))
            rng.shuffle(order)
            out_parts = [item(i) + sep for i in order[:k]]
    payload = b"".join(out_parts)
    if outname is not None:
        try:
            ctx.fs.write_bytes(outname, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{outname}: {exc.strerror}")
            return 1
        return 0
    await ctx.stdout.write(payload)
    return 0
