"""dd and sync."""

from __future__ import annotations

import errno
import re
import time

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _parse, q, show_help, strerror
from pocketos.kernel.budget import check_alloc
from pocketos.kernel.process import Context

DD_HELP = """Usage: dd [OPERAND]...
Copy a file, converting and formatting according to the operands.

  bs=BYTES        read and write up to BYTES bytes at a time (default: 512)
  cbs=BYTES       convert BYTES bytes at a time
  conv=CONVS      convert the file as per the comma separated symbol list
  count=N         copy only N input blocks
  ibs=BYTES       read up to BYTES bytes at a time (default: 512)
  if=FILE         read from FILE instead of stdin
  iflag=FLAGS     read as per the comma separated symbol list (skip_bytes, count_bytes)
  obs=BYTES       write BYTES bytes at a time (default: 512)
  of=FILE         write to FILE instead of stdout
  oflag=FLAGS     write as per the comma separated symbol list (append, seek_bytes)
  seek=N          skip N obs-sized blocks at start of output
  skip=N          skip N ibs-sized blocks at start of input
  status=LEVEL    none, noxfer or progress

CONVS: notrunc, ucase, lcase, sync, noerror, fsync, fdatasync, excl, nocreat, swab.
N and BYTES may be followed by c=1, w=2, b=512, kB=1000, K=1024, MB, M, GB, G ...
"""


def _dd_number(text: str) -> int:
    total = 1
    for part in text.split("x"):
        m = re.fullmatch(r"(\d+)(c|w|b|kB|K|KiB|MB|M|MiB|GB|G|GiB|TB|T|TiB|k)?", part)
        if not m:
            raise ValueError(text)
        n = int(m.group(1))
        suf = m.group(2) or ""
        mult = {
            "": 1,
            "c": 1,
            "w": 2,
            "b": 512,
            "kB": 1000,
            "K": 1024,
            "k": 1024,
            "KiB": 1024,
            "MB": 1000**2,
            "M": 1024**2,
            "MiB": 1024**2,
            "GB": 1000**3,
            "G": 1024**3,
            "GiB": 1024**3,
            "TB": 1000**4,
            "T": 1024**4,
            "TiB": 1024**4,
        }[suf]
        total *= n * mult
    return total


def _dd_rate(nbytes: int, secs: float) -> str:
    if secs <= 0:
        return "Infinity B/s"
    rate = nbytes / secs
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if rate < 1000 or unit == "TB":
            return f"{rate:.3g} {unit}/s"
        rate /= 1000
    return ""  # pragma: no cover


def _dd_amount(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    si = n
    su = ""
    for u in ("kB", "MB", "GB", "TB", "PB"):
        if si < 1000:
            break
        si /= 1000  # type: ignore[assignment]
        su = u
    bi = n
    bu = ""
    for u in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if bi < 1024:
            break
        bi /= 1024  # type: ignore[assignment]
        bu = u

    def g(v: float) -> str:
        return f"{v:.1f}" if v < 10 else f"{v:.0f}"

    if n < 1024:
        return f"{n} bytes ({g(si)} {su}) "[:-1]
    return f"{n} bytes ({g(si)} {su}, {g(bi)} {bu})"


@command("dd")
async def dd(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args and args[0] == "--help":
        return await show_help(ctx, DD_HELP)
    opts: dict[str, str] = {}
    for a in args:
        if a == "--":
            continue
        if a.startswith("-") and "=" not in a:
            if a.startswith("--"):
                msg = f"dd: unrecognized option '{a}'"
            else:
                msg = f"dd: invalid option -- '{a[1:2]}'"
            return await report(ctx, UsageError(msg + "\nTry 'dd --help' for more information."))
        k, eq, v = a.partition("=")
        if not eq or k not in (
            "if",
            "of",
            "bs",
            "ibs",
            "obs",
            "cbs",
            "count",
            "skip",
            "seek",
            "conv",
            "status",
            "iflag",
            "oflag",
            "iseek",
            "oseek",
        ):
            await ctx.err(f"unrecognized operand {q(a)}")
            await ctx.stderr.write(b"Try 'dd --help' for more information.\n")
            return 1
        opts[k] = v
    try:
        ibs = _dd_number(opts.get("ibs", "512"))
        obs = _dd_number(opts.get("obs", "512"))
        if "bs" in opts:
            ibs = obs = _dd_number(opts["bs"])
        count = _dd_number(opts["count"]) if "count" in opts else None
        skip = _dd_number(opts.get("skip", opts.get("iseek", "0")))
        seek = _dd_number(opts.get("seek", opts.get("oseek", "0")))
    except ValueError as exc:
        await ctx.err(f"invalid number: {q(str(exc))}")
        return 1
    if ibs <= 0 or obs <= 0:
        await ctx.err("invalid number: '0'")
        return 1
    # the blocks are buffers of these sizes: a bs past the memory budget is refused up front
    check_alloc(max(ibs, obs), "dd: buffer")
    conv = set(filter(None, opts.get("conv", "").split(",")))
    iflag = set(filter(None, opts.get("iflag", "").split(",")))
    oflag = set(filter(None, opts.get("oflag", "").split(",")))
    bad = conv - {
        "notrunc",
        "ucase",
        "lcase",
        "sync",
        "noerror",
        "fsync",
        "fdatasync",
        "excl",
        "nocreat",
        "swab",
        "sparse",
    }
    if bad:
        await ctx.err(f"invalid conversion: {q(sorted(bad)[0])}")
        await ctx.stderr.write(b"Try 'dd --help' for more information.\n")
        return 1
    if {"ucase", "lcase"} <= conv:
        await ctx.err("cannot combine lcase and ucase")
        return 1
    status_level = opts.get("status", "")
    fs = ctx.fs
    t0 = time.monotonic()
    skip_bytes = skip if "skip_bytes" in iflag else skip * ibs
    seek_bytes = seek if "seek_bytes" in oflag else seek * obs
    infile = opts.get("if")
    outfile = opts.get("of")
    fh = None
    try:
        if infile is not None:
            fh = fs.open(infile, "rb")
            if skip_bytes:
                fh.seek(skip_bytes)
        elif skip_bytes:
            left = skip_bytes
            while left > 0:
                chunk = await ctx.stdin.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        if outfile is not None:
            exists = fs.exists(outfile)
            if "excl" in conv and exists:
                raise FileExistsError(errno.EEXIST, "File exists", outfile)
            if "nocreat" in conv and not exists:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", outfile)
    except OSError as exc:
        if fh is not None:
            fh.close()
        await ctx.err(
            f"failed to open {q(exc.filename or infile or outfile or '-')}: {strerror(exc)}"
        )
        return 1

    async def read_block(size: int) -> bytes:
        if fh is not None:
            return fh.read(size)
        data = await ctx.stdin.read(size)
        if "fullblock" in iflag:
            while data and len(data) < size:
                more = await ctx.stdin.read(size - len(data))
                if not more:
                    break
                data += more
        return data

    full_in = part_in = 0
    total_in = 0
    total_out = 0
    out_parts: list[bytes] = []
    pending = b""
    try:
        while True:
            ctx.check_killed()
            if count is not None:
                if "count_bytes" in iflag:
                    if total_in >= count:
                        break
                    want = min(ibs, count - total_in)
                elif full_in + part_in >= count:
                    break
                else:
                    want = ibs
            else:
                want = ibs
            block = await read_block(want)
            if not block:
                break
            total_in += len(block)
            if len(block) == ibs:
                full_in += 1
            else:
                part_in += 1
                if "sync" in conv:
                    block += b"\0" * (ibs - len(block))
            if "swab" in conv:
                b = bytearray(block)
                for i in range(0, len(b) - 1, 2):
                    b[i], b[i + 1] = b[i + 1], b[i]
                block = bytes(b)
            if "ucase" in conv:
                block = block.upper()
            elif "lcase" in conv:
                block = block.lower()
            total_out += len(block)
            if outfile is None:
                pending += block
                if len(pending) >= obs:
                    cut = len(pending) - len(pending) % obs
                    await ctx.stdout.write(pending[:cut])
                    pending = pending[cut:]
            else:
                out_parts.append(block)
                if seek_bytes + total_out > ctx.limits.max_file_size:
                    # the output is assembled in memory: bound it like the file it becomes
                    raise OSError(errno.EFBIG, "File too large", outfile)
        if outfile is None:
            if pending:
                await ctx.stdout.write(pending)
        else:
            data_out = b"".join(out_parts)
            if "append" in oflag:
                fs.write_bytes(outfile, data_out, append=True)
            else:
                old = fs.read_bytes(outfile) if fs.exists(outfile) else b""
                head = old[:seek_bytes].ljust(seek_bytes, b"\0")
                tail = old[seek_bytes + len(data_out) :] if "notrunc" in conv else b""
                fs.write_bytes(outfile, head + data_out + tail)
    except OSError as exc:
        what = (
            "error writing"
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
            else "failed to open"
        )
        await ctx.err(f"{what} {q(exc.filename or outfile or infile or '-')}: {strerror(exc)}")
        return 1
    finally:
        if fh is not None:
            fh.close()
    full_out, part_out = divmod(total_out, obs)
    if status_level != "none":
        elapsed = max(time.monotonic() - t0, 1e-6)
        msg = f"{full_in}+{part_in} records in\n{full_out}+{1 if part_out else 0} records out\n"
        if status_level != "noxfer":
            n = total_out
            msg += f"{_dd_amount(n)} copied, {elapsed:.6g} s, {_dd_rate(n, elapsed)}\n"
        await ctx.stderr.write(msg.encode())
    return 0


@command("sync")
async def sync(ctx: Context) -> int:
    try:
        p = _parse(ctx, [Opt("d", "data"), Opt("f", "file-system")])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx, "Usage: sync [OPTION] [FILE]...\nSynchronize cached writes (a no-op in the VM).\n"
        )
    for f in p.operands:
        if not ctx.fs.exists(f):
            await ctx.err(f"error opening {q(f)}: No such file or directory")
            return 1
    return 0
