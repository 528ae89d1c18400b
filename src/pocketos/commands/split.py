"""split."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _start, parse_size, q, strerror
from pocketos.kernel.process import Context

SPLIT_HELP = """Usage: split [OPTION]... [FILE [PREFIX]]
Output pieces of FILE to PREFIXaa, PREFIXab, ...; default size is 1000 lines, and default
PREFIX is 'x'. With no FILE, or when FILE is -, read standard input.

  -a, --suffix-length=N   generate suffixes of length N (default 2)
      --additional-suffix=SUFFIX  append an additional SUFFIX to file names
  -b, --bytes=SIZE        put SIZE bytes per output file
  -C, --line-bytes=SIZE   put at most SIZE bytes of records per output file
  -d                      use numeric suffixes starting at 0, not alphabetic
  -x                      use hex suffixes starting at 0, not alphabetic
  -e, --elide-empty-files  do not generate empty output files with '-n'
  -l, --lines=NUMBER      put NUMBER lines/records per output file
  -n, --number=CHUNKS     generate CHUNKS output files (N, K/N, l/N, l/K/N)
      --verbose           print a diagnostic just before each output file is opened
"""


def _suffixes(length: int | None, alphabet: str, start: int = 0) -> Iterator[str]:
    """Output file suffixes. With no fixed length they widen like GNU: aa..yz, zaaa..zyzz, ..."""
    n = len(alphabet)

    def word(i: int, width: int) -> str:
        chars = []
        for _ in range(width):
            chars.append(alphabet[i % n])
            i //= n
        return "".join(reversed(chars))

    if length is not None:
        for i in range(start, n**length):
            yield word(i, length)
        return
    k = 0
    while True:
        lead = alphabet[-1] * k
        for i in range((n - 1) * n ** (k + 1)):
            yield lead + word(i, k + 2)
        k += 1


@command("split")
async def split(ctx: Context) -> int:
    spec = [
        Opt("a", "suffix-length", "required"),
        Opt("", "additional-suffix", "required"),
        Opt("b", "bytes", "required"),
        Opt("C", "line-bytes", "required"),
        Opt("d", "", "optional", dest="d"),
        Opt("", "numeric-suffixes", "optional", dest="d"),
        Opt("x", "", "optional", dest="x"),
        Opt("", "hex-suffixes", "optional", dest="x"),
        Opt("e", "elide-empty-files"),
        Opt("l", "lines", "required"),
        Opt("n", "number", "required"),
        Opt("", "verbose"),
        Opt("t", "separator", "required"),
        Opt("u", "unbuffered"),
    ]
    p = await _start(ctx, spec, SPLIT_HELP)
    if isinstance(p, int):
        return p
    ops = p.operands
    if len(ops) > 2:
        return await report(
            ctx,
            UsageError(
                f"split: extra operand {q(ops[2])}\nTry 'split --help' for more information."
            ),
        )
    infile = ops[0] if ops else "-"
    prefix = ops[1] if len(ops) > 1 else "x"
    extra = p.str("additional_suffix") or ""
    alen: int | None = None
    if p.str("a") is not None:
        a = p.str("a") or ""
        # a file name holds at most 255 bytes: a longer suffix could never be created
        if not a.isdigit() or len(a) > 4 or int(a) > 255:
            await ctx.err(f"invalid suffix length: {q(a)}")
            return 1
        alen = int(a)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    start = 0
    if p.get("d") is not None:
        alphabet = "0123456789"
        dv = p.get("d")
        if isinstance(dv, str) and dv.isdigit():
            start = int(dv)
    if p.get("x") is not None:
        alphabet = "0123456789abcdef"
        xv = p.get("x")
        if isinstance(xv, str):
            start = int(xv, 16)
    sep = (p.str("t") or "\n").encode("utf-8", "surrogateescape")
    if sep == b"\\0":
        sep = b"\0"
    mode = "l"
    amount = 1000
    try:
        if p.str("l") is not None:
            mode, amount = "l", parse_size(p.str("l") or "", allow_b=False)
        if p.str("b") is not None:
            mode, amount = "b", parse_size(p.str("b") or "")
        if p.str("C") is not None:
            mode, amount = "C", parse_size(p.str("C") or "")
    except ValueError:
        bad = p.str("l") or p.str("b") or p.str("C") or ""
        await ctx.err(
            f"invalid number of lines: {q(bad)}"
            if mode == "l"
            else f"invalid number of bytes: {q(bad)}"
        )
        return 1
    number = p.str("n")
    if amount <= 0:
        await ctx.err(f"invalid number of {'lines' if mode == 'l' else 'bytes'}: '0'")
        return 1
    fs = ctx.fs
    if alen is None and (start or number):
        alen = 2
        if number is not None:
            m0 = re.search(r"(\d+)$", number)
            chunks = int(m0.group(1)) if m0 else 1
            while len(alphabet) ** alen < chunks + start:
                alen += 1
    if alen is not None:
        sfx = _suffixes(alen, alphabet, start)
    else:
        sfx = _suffixes(alen, alphabet)
    created: list[str] = []

    async def new_name() -> str | None:
        s = next(sfx, None)
        if s is None:
            await ctx.err("output file suffixes exhausted")
            return None
        name = prefix + s + extra
        if p.flag("verbose"):
            await ctx.out(f"creating file {q(name)}\n")
        created.append(name)
        return name

    try:
        if infile == "-":
            data = await ctx.stdin.read()
        else:
            data = fs.read_bytes(infile)
    except OSError as exc:
        await ctx.err(f"cannot open {q(infile)} for reading: {strerror(exc)}")
        return 1
    pieces: list[bytes] = []
    if number is not None:
        m = re.fullmatch(r"(?:(l|r)/)?(?:(\d+)/)?(\d+)", number)
        if (
            not m
            or len(m.group(3)) > 18
            or int(m.group(3)) == 0
            or int(m.group(3)) > ctx.limits.max_fs_inodes
        ):
            # each chunk is a file: more chunks than the VM has inodes can never be written
            await ctx.err(f"invalid number of chunks: {q(number)}")
            return 1
        kind, kth, n = m.group(1), m.group(2), int(m.group(3))
        size = len(data)
        if kind == "r":
            recs = _records(data, sep)
            buckets: list[list[bytes]] = [[] for _ in range(n)]
            for i, r in enumerate(recs):
                buckets[i % n].append(r)
            pieces = [b"".join(b) for b in buckets]
        elif kind == "l":
            pieces = []
            pos = 0
            for i in range(n):
                end = size if i == n - 1 else (i + 1) * (size // n)
                if end < pos:
                    end = pos
                # extend to the end of the record
                if i < n - 1:
                    nl = data.find(sep, max(end - 1, pos))
                    end = size if nl < 0 else nl + len(sep)
                pieces.append(data[pos:end])
                pos = end
        else:
            pieces = []
            for i in range(n):
                lo = i * (size // n)
                hi = size if i == n - 1 else (i + 1) * (size // n)
                pieces.append(data[lo:hi])
        if kth is not None:
            k = int(kth)
            if k < 1 or k > n:
                await ctx.err(f"invalid chunk number: {q(kth)}")
                return 1
            await ctx.out(pieces[k - 1])
            return 0
        for piece in pieces:
            if not piece and p.flag("e"):
                continue
            name = await new_name()
            if name is None:
                return 1
            fs.write_bytes(name, piece)
        return 0
    if mode == "b":
        pieces = [data[i : i + amount] for i in range(0, len(data), amount)]
    elif mode == "l":
        recs = _records(data, sep)
        pieces = [b"".join(recs[i : i + amount]) for i in range(0, len(recs), amount)]
    else:
        recs = _records(data, sep)
        cur = b""
        for r in recs:
            while len(r) > amount:
                if cur:
                    pieces.append(cur)
                    cur = b""
                pieces.append(r[:amount])
                r = r[amount:]
            if len(cur) + len(r) > amount:
                pieces.append(cur)
                cur = b""
            cur += r
        if cur:
            pieces.append(cur)
    for piece in pieces:
        ctx.check_killed()
        name = await new_name()
        if name is None:
            return 1
        try:
            fs.write_bytes(name, piece)
        except OSError as exc:
            await ctx.err(f"{name}: {strerror(exc)}")
            return 1
    return 0


def _records(data: bytes, sep: bytes) -> list[bytes]:
    parts = data.split(sep)
    recs = [x + sep for x in parts[:-1]]
    if parts[-1]:
        recs.append(parts[-1])
    return recs
