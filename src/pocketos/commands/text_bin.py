"""strings, od, xxd, hexdump: looking at bytes."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse, report
from pocketos.commands._common import drop_front, leading_number_option, parse_size
from pocketos.commands.text_common import close_input, encode, open_file, read_all, usage

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pocketos.kernel.process import Context

HELP = Opt("", "help")


async def _read_inputs(
    ctx: Context, names: list[str], skip: int = 0, limit: int | None = None
) -> tuple[bytes, bool]:
    """Concatenate inputs, skipping ``skip`` bytes and keeping at most ``limit``.
    Returns (data, ok); errors are reported as ``NAME: file: reason``."""
    out = bytearray()
    ok = True
    for name in names:
        try:
            stream = open_file(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            ok = False
            continue
        try:
            while True:
                if limit is not None and len(out) >= limit:
                    break
                data = await stream.read(65536)
                if not data:
                    break
                if skip:
                    data, skip = drop_front(data, skip)
                    if not data:
                        continue
                ctx.budget.check_alloc(len(out) + len(data), ctx.name)
                out += data
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            ok = False
        finally:
            close_input(ctx, stream)
    if limit is not None:
        del out[limit:]
    return bytes(out), ok


# ------------------------------------------------------------------------------------ strings


@command("strings")
async def strings(ctx: Context) -> int:
    spec = [
        Opt("a", "all"),
        Opt("d", "data"),
        Opt("n", "bytes", "required"),
        Opt("t", "radix", "required"),
        Opt("o"),
        Opt("e", "encoding", "required"),
        Opt("w", "include-all-whitespace"),
        Opt("f", "print-file-name"),
        Opt("s", "output-separator", "required"),
        HELP,
    ]
    args = leading_number_option(ctx.argv[1:], "n")
    try:
        p = parse("strings", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: strings [option(s)] [file(s)]\n"
            " Display printable strings in [file(s)] (stdin by default)\n"
            "  -a -n MIN -t {o,d,x} -w -f -s SEP",
        )
    ns = p.str("bytes", "4") or "4"
    if not ns.isdigit() or int(ns) < 1:
        await ctx.stderr.write(encode(f"strings: invalid minimum string length {ns}\n"))
        return 1
    minlen = int(ns)
    radix = p.str("radix")
    if p.flag("o"):
        radix = "o"
    if radix is not None and radix not in ("o", "d", "x"):
        await ctx.stderr.write(encode(f"strings: invalid radix: {radix}\n"))
        return 1
    ws = p.flag("include_all_whitespace")
    chars = rb"\t\x20-\x7e" + (rb"\n\r\v\f" if ws else b"")
    rx = re.compile(b"[" + chars + b"]{" + str(minlen).encode() + b",}")
    osep = encode(p.str("output_separator", "\n") or "")
    if p.str("output_separator") is None:
        osep = b"\n"
    status = 0
    names = p.operands or ["-"]
    for name in names:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.stderr.write(encode(f"strings: '{name}': {exc.strerror}\n"))
            status = 1
            continue
        out: list[bytes] = []
        for m in rx.finditer(data):
            prefix = b""
            if p.flag("print_file_name"):
                prefix = encode(("{standard input}" if name == "-" else name) + ": ")
            if radix is not None:
                off = m.start()
                num = {"o": f"{off:o}", "d": f"{off}", "x": f"{off:x}"}[radix]
                prefix += num.rjust(7).encode() + b" "
            out.append(prefix + m.group(0) + osep)
        await ctx.stdout.write(b"".join(out))
    return status


# ----------------------------------------------------------------------------------------- od

_OCT_W = {1: 3, 2: 6, 4: 11, 8: 22}
_DEC_W = {1: 4, 2: 6, 4: 11, 8: 20}
_UNS_W = {1: 3, 2: 5, 4: 10, 8: 20}
_HEX_W = {1: 2, 2: 4, 4: 8, 8: 16}
_FLT_W = {4: 15, 8: 24}
_NAMES = [
    "nul",
    "soh",
    "stx",
    "etx",
    "eot",
    "enq",
    "ack",
    "bel",
    "bs",
    "ht",
    "nl",
    "vt",
    "ff",
    "cr",
    "so",
    "si",
    "dle",
    "dc1",
    "dc2",
    "dc3",
    "dc4",
    "nak",
    "syn",
    "etb",
    "can",
    "em",
    "sub",
    "esc",
    "fs",
    "gs",
    "rs",
    "us",
    "sp",
]
_C_ESC = {0: "\\0", 7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


@dataclass
class OdSpec:
    kind: str  # a c d f o u x
    size: int
    width: int
    zflag: bool = False
    pad: int = 0


def _float_text(v: float, size: int) -> str:
    if v != v:
        return "-nan" if math.copysign(1.0, v) < 0 else "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    for prec in range(1, 18):
        s = f"{v:.{prec}g}"
        if size == 4:
            if struct.unpack("<f", struct.pack("<f", float(s)))[0] == v:
                return s
        elif float(s) == v:
            return s
    return f"{v:.17g}"


def _od_spec(text: str) -> list[OdSpec] | str:
    out: list[OdSpec] = []
    i = 0
    sizes = {"C": 1, "S": 2, "I": 4, "L": 8}
    while i < len(text):
        k = text[i]
        i += 1
        if k == "a":
            out.append(OdSpec("a", 1, 3))
        elif k == "c":
            out.append(OdSpec("c", 1, 3))
        elif k in "doux":
            size = 4
            m = re.match(r"\d+", text[i:])
            if m:
                size = int(m.group(0))
                i += len(m.group(0))
            elif i < len(text) and text[i] in sizes:
                size = sizes[text[i]]
                i += 1
            if size not in (1, 2, 4, 8):
                return (
                    f"invalid type string '{text}';\nthis system doesn't provide a "
                    f"{size}-byte integral type"
                )
            w = {"d": _DEC_W, "o": _OCT_W, "u": _UNS_W, "x": _HEX_W}[k][size]
            out.append(OdSpec(k, size, w))
        elif k == "f":
            size = 8
            m = re.match(r"\d+", text[i:])
            if m:
                size = int(m.group(0))
                i += len(m.group(0))
            elif i < len(text) and text[i] in "FDL":
                size = {"F": 4, "D": 8, "L": 8}[text[i]]
                i += 1
            if size not in (4, 8):
                return (
                    f"invalid type string '{text}';\nthis system doesn't provide a "
                    f"{size}-byte floating point type"
                )
            out.append(OdSpec("f", size, _FLT_W[size]))
        else:
            return f"invalid character '{k}' in type string '{text}'"
        if i < len(text) and text[i] == "z":
            out[-1].zflag = True
            i += 1
    return out


def _od_fields(spec: OdSpec, block: bytes, nfields: int) -> str:
    size = spec.size
    n = (len(block) + size - 1) // size
    if len(block) % size:
        block = block + b"\0" * (size - len(block) % size)
    parts: list[str] = []
    pad_remaining = spec.pad
    fields = nfields
    for idx in range(n):
        i = fields - idx
        next_pad = spec.pad * (i - 1) // fields
        w = pad_remaining - next_pad + spec.width
        pad_remaining = next_pad
        chunk = block[idx * size : (idx + 1) * size]
        if spec.kind in "doux":
            val = int.from_bytes(chunk, "little", signed=spec.kind == "d")
            if spec.kind == "o":
                s = format(val, "o").rjust(spec.width, "0")
            elif spec.kind == "x":
                s = format(val, "x").rjust(spec.width, "0")
            else:
                s = str(val)
        elif spec.kind == "f":
            v = struct.unpack("<f" if size == 4 else "<d", chunk)[0]
            s = _float_text(v, size)
        elif spec.kind == "c":
            c = chunk[0]
            if c in _C_ESC:
                s = _C_ESC[c]
            elif 32 <= c < 127:
                s = chr(c)
            else:
                s = format(c, "03o")
        else:
            c = chunk[0] & 0x7F
            s = _NAMES[c] if c <= 32 else ("del" if c == 127 else chr(c))
        parts.append(s.rjust(w))
    return "".join(parts)


@command("od")
async def od(ctx: Context) -> int:
    spec = [
        Opt("A", "address-radix", "required"),
        Opt("j", "skip-bytes", "required"),
        Opt("N", "read-bytes", "required"),
        Opt("t", "format", "required", multiple=True),
        Opt("v", "output-duplicates"),
        Opt("w", "width", "optional"),
        Opt("", "endian", "required"),
        Opt("S", "strings", "optional"),
        Opt("a"),
        Opt("b"),
        Opt("c"),
        Opt("d"),
        Opt("f"),
        Opt("i"),
        Opt("l"),
        Opt("o"),
        Opt("s"),
        Opt("x"),
        Opt("D"),
        Opt("O"),
        Opt("X"),
        Opt("e"),
        Opt("F"),
        Opt("h"),
        Opt("B"),
        Opt("H"),
        Opt("I"),
        Opt("L"),
        HELP,
    ]
    try:
        p = parse("od", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: od [OPTION]... [FILE]...\n"
            "Write an unambiguous representation, octal bytes by default, of "
            "FILE to standard output.\n"
            "  -A RADIX -j BYTES -N BYTES -t TYPE -v -w[BYTES]",
        )
    short = {
        "a": "a",
        "b": "o1",
        "c": "c",
        "d": "u2",
        "f": "fF",
        "i": "dI",
        "l": "dL",
        "o": "o2",
        "s": "d2",
        "x": "x2",
        "D": "u4",
        "O": "o4",
        "X": "x4",
        "e": "fD",
        "F": "fD",
        "h": "x2",
        "B": "o2",
        "H": "x4",
        "I": "dL",
        "L": "dL",
    }
    specs: list[OdSpec] = []
    for k, v in p.order:
        text = str(v) if k == "format" else short.get(k)
        if text is None:
            continue
        res = _od_spec(text)
        if isinstance(res, str):
            await ctx.err(res)
            return 1
        specs.extend(res)
    if not specs:
        specs = [OdSpec("o", 2, 6)]
    radix = p.str("address_radix", "o") or "o"
    if radix not in ("o", "d", "x", "n"):
        await ctx.err(
            f"invalid output address radix '{radix}'; it must be one character from [doxn]"
        )
        return 1
    span = _skip_and_limit(p, "skip_bytes", "read_bytes")
    if isinstance(span, tuple):
        skip, limit = span
    else:
        key, v = span
        await ctx.err(f"invalid {'-j' if key == 'skip_bytes' else '-N'} argument '{v}'")
        return 1
    width = 16
    w = p.get("width")
    if w is not None:
        width = 32 if w is True else (_parse_num(str(w)) or 0)
        if width <= 0:
            await ctx.err(f"invalid -w argument '{w}'")
            return 1
    data, ok = await _read_inputs(ctx, p.operands or ["-"], skip, limit)
    if skip and len(data) == 0 and ok:
        total = 0
        for name in p.operands or []:
            try:
                total += ctx.fs.stat(name).st_size
            except OSError:
                pass
        if skip > total and p.operands:
            await ctx.err("cannot skip past end of combined input")
            return 1
    per_block = max((s.width + 1) * (width // s.size) for s in specs)
    for s in specs:
        s.pad = per_block - s.width * (width // s.size)

    def addr(n: int) -> str:
        if radix == "o":
            return format(n, "07o")
        if radix == "d":
            return format(n, "07d")
        if radix == "x":
            return format(n, "06x")
        return ""

    awidth = len(addr(0))
    lines: list[str] = []
    for off, block in _squeezed_blocks(data, width, not p.flag("output_duplicates"), lines):
        for si, s in enumerate(specs):
            head = addr(skip + off) if si == 0 else " " * awidth
            body = _od_fields(s, block, width // s.size)
            if s.zflag:
                full = per_block
                body = body.ljust(full)
                txt = "".join(chr(c) if 32 <= c < 127 else "." for c in block)
                body += f"  >{txt}<"
            lines.append(head + body + "\n")
        if len(lines) > 512:
            await ctx.stdout.write(encode("".join(lines)))
            lines.clear()
            ctx.check_killed()
    if radix != "n":
        lines.append(addr(skip + len(data)) + "\n")
    await ctx.stdout.write(encode("".join(lines)))
    return 0 if ok else 1


def _parse_num(text: str) -> int | None:
    t = text.strip()
    try:
        if t.lower().startswith("0x"):
            return int(t, 16)
        if t.startswith("0") and len(t) > 1 and t.isdigit():
            return int(t, 8)
    except ValueError:
        return None
    return parse_size(t)


def _squeezed_blocks(
    data: bytes, width: int, squeeze: bool, lines: list[str]
) -> Iterator[tuple[int, bytes]]:
    """(offset, block) for each ``width``-byte block of ``data``; with ``squeeze``, a run of
    full blocks equal to the one before is skipped and shown as one ``*`` line in ``lines``."""
    prev: bytes | None = None
    starred = False
    for off in range(0, len(data), width):
        block = data[off : off + width]
        if squeeze and prev is not None and block == prev and len(block) == width:
            if not starred:
                lines.append("*\n")
                starred = True
            continue
        starred = False
        prev = block
        yield off, block


def _skip_and_limit(p: Parsed, skip_key: str, limit_key: str) -> tuple[int, int | None] | list[str]:
    """The byte offset to start at and the byte count to read at most (None: all), or
    ``[key, value]`` for the first option whose value is not a number."""
    skip = 0
    limit: int | None = None
    for key in (skip_key, limit_key):
        v = p.str(key)
        if v is None:
            continue
        num = _parse_num(v)
        if num is None:
            return [key, v]
        if key == skip_key:
            skip = num
        else:
            limit = num
    return skip, limit


# ---------------------------------------------------------------------------------------- xxd


def _printable(c: int) -> str:
    return chr(c) if 32 <= c < 127 else "."


@command("xxd")
async def xxd(ctx: Context) -> int:
    spec = [
        Opt("p", "ps"),
        Opt("r", "revert"),
        Opt("l", "len", "required"),
        Opt("s", "seek", "required"),
        Opt("c", "cols", "required"),
        Opt("g", "groupsize", "required"),
        Opt("u", "uppercase"),
        Opt("i", "include"),
        Opt("", "postscript", dest="ps"),
        Opt("", "plain", dest="ps"),
        Opt("o", "offset", "required"),
        HELP,
    ]
    args = []
    for a in ctx.argv[1:]:
        # xxd accepts single-dash long names such as -ps, -len, -seek, -cols
        alias = {
            "-ps": "-p",
            "-plain": "-p",
            "-postscript": "-p",
            "-len": "-l",
            "-seek": "-s",
            "-cols": "-c",
            "-groupsize": "-g",
            "-revert": "-r",
            "-include": "-i",
            "-uppercase": "-u",
        }.get(a)
        args.append(alias or a)
    try:
        p = parse("xxd", args, spec)
    except UsageError as e:
        msg = e.message.splitlines()[0]
        await ctx.stderr.write(encode(msg + "\nUsage:\n       xxd [options] [infile [outfile]]\n"))
        return 1
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage:\n       xxd [options] [infile [outfile]]\n"
            "    or\n       xxd -r [-s [-]offset] [-c cols] [-ps] "
            "[infile [outfile]]\n"
            "Options: -c cols -g bytes -l len -p -r -s seek -u -i",
        )
    plain = p.flag("ps")
    upper = p.flag("uppercase")
    ops = p.operands
    inname = ops[0] if ops else "-"
    outname = ops[1] if len(ops) > 1 else None
    bound: int | None = None
    ls0, ss0 = p.str("len"), p.str("seek")
    if ls0 is not None and not p.flag("revert") and (ss0 is None or not ss0.startswith("-")):
        n_len = _parse_num(ls0)
        n_seek = _parse_num(ss0.lstrip("+")) if ss0 is not None else 0
        if n_len is not None and n_seek is not None:
            bound = n_len + n_seek
    try:
        stream = open_file(ctx, inname)
    except OSError as exc:
        await ctx.stderr.write(encode(f"xxd: {inname}: {exc.strerror}\n"))
        return 2
    try:
        if bound is None:
            raw = await stream.read(-1)
        else:
            chunks = bytearray()
            while len(chunks) < bound:
                piece = await stream.read(min(65536, bound - len(chunks)))
                if not piece:
                    break
                chunks += piece
            raw = bytes(chunks)
    finally:
        close_input(ctx, stream)
    cols_s = p.str("cols")
    if p.flag("revert"):
        out = _xxd_revert(raw, plain)
        return await _xxd_emit(ctx, out, outname)
    seek = 0
    ss = p.str("seek")
    if ss is not None:
        v = _parse_num(ss.lstrip("+"))
        if v is None:
            await ctx.stderr.write(b"xxd: invalid seek value\n")
            return 1
        seek = v if not ss.startswith("-") else max(0, len(raw) - (_parse_num(ss[1:]) or 0))
    data = raw[seek:]
    ls = p.str("len")
    if ls is not None:
        v = _parse_num(ls)
        if v is None:
            await ctx.stderr.write(b"xxd: invalid length\n")
            return 1
        data = data[:v]
    fmt = "%02X" if upper else "%02x"
    if p.flag("include"):
        cols = int(cols_s) if cols_s else 12
        name = None if inname == "-" else re.sub(r"[^A-Za-z0-9]", "_", inname)
        lines = []
        if name:
            if name[0].isdigit():
                name = "__" + name
            lines.append(f"unsigned char {name}[] = {{\n")
        hexfmt = "0x%02X" if upper else "0x%02x"
        for off in range(0, len(data), cols):
            chunk = data[off : off + cols]
            sep = "," if off + cols < len(data) else ""
            lines.append("  " + ", ".join(hexfmt % c for c in chunk) + sep + "\n")
        if name:
            lines.append("};\n")
            lines.append(f"unsigned int {name}_len = {len(data)};\n")
        return await _xxd_emit(ctx, encode("".join(lines)), outname)
    if plain:
        cols = int(cols_s) if cols_s else 30
        if cols <= 0:
            text = "".join(fmt % c for c in data)
            return await _xxd_emit(ctx, encode(text + "\n" if text else ""), outname)
        lines = [
            "".join(fmt % c for c in data[o : o + cols]) + "\n" for o in range(0, len(data), cols)
        ]
        return await _xxd_emit(ctx, encode("".join(lines)), outname)
    cols = 16
    if cols_s is not None:
        if not cols_s.isdigit() or not 1 <= int(cols_s) <= 256:
            await ctx.stderr.write(b"xxd: invalid number of columns (max. 256).\n")
            return 1
        cols = int(cols_s)
    group = 2
    gs = p.str("groupsize")
    if gs is not None:
        if not gs.isdigit():
            await ctx.stderr.write(b"xxd: invalid group size\n")
            return 1
        group = int(gs) or cols
    base = seek + (_parse_num(p.str("offset") or "0") or 0)
    ngroups = (cols + group - 1) // group
    hexw = cols * 2 + ngroups - 1
    out_lines = []
    for off in range(0, len(data), cols):
        chunk = data[off : off + cols]
        groups = [
            "".join(fmt % c for c in chunk[g : g + group]) for g in range(0, len(chunk), group)
        ]
        hx = " ".join(groups).ljust(hexw)
        out_lines.append(f"{base + off:08x}: {hx}  {''.join(_printable(c) for c in chunk)}\n")
    return await _xxd_emit(ctx, encode("".join(out_lines)), outname)


async def _xxd_emit(ctx: Context, data: bytes, outname: str | None) -> int:
    if outname is None:
        await ctx.stdout.write(data)
        return 0
    try:
        ctx.fs.write_bytes(outname, data)
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.stderr.write(encode(f"xxd: {outname}: {exc.strerror}\n"))
        return 2
    return 0


def _xxd_revert(raw: bytes, plain: bool) -> bytes:
    text = raw.decode("latin-1")
    if plain:
        digits = re.sub(r"[^0-9A-Fa-f]", "", text)
        if len(digits) % 2:
            digits = digits[:-1]
        return bytes.fromhex(digits)
    out = bytearray()
    for line in text.splitlines():
        m = re.match(r"\s*([0-9A-Fa-f]+):\s?(.*)$", line)
        if not m:
            continue
        off = int(m.group(1), 16)
        rest = m.group(2)
        cut = rest.find("  ")
        hexpart = rest if cut < 0 else rest[:cut]
        digits = re.sub(r"[^0-9A-Fa-f]", "", hexpart)
        if len(digits) % 2:
            digits = digits[:-1]
        chunk = bytes.fromhex(digits)
        if off > len(out):
            out += b"\0" * (off - len(out))
        out[off : off + len(chunk)] = chunk
    return bytes(out)


# ------------------------------------------------------------------------------------ hexdump


@command("hexdump", "hd")
async def hexdump(ctx: Context) -> int:
    spec = [
        Opt("C", "canonical"),
        Opt("n", "length", "required"),
        Opt("s", "skip", "required"),
        Opt("v", "no-squeezing"),
        Opt("x"),
        Opt("d"),
        Opt("o"),
        Opt("b"),
        Opt("c"),
        HELP,
    ]
    try:
        p = parse("hexdump", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage:\n hexdump [options] <file>...\n"
            "Display file contents in hexadecimal, decimal, octal, or ascii.\n"
            "  -C -b -c -d -o -x -n LENGTH -s OFFSET -v",
        )
    canonical = p.flag("canonical") or ctx.name == "hd"
    span = _skip_and_limit(p, "skip", "length")
    if isinstance(span, tuple):
        skip, limit = span
    else:
        key, v = span
        await ctx.stderr.write(encode(f"hexdump: invalid {key} argument: '{v}'\n"))
        return 1
    data, ok = await _read_inputs(ctx, p.operands or ["-"], skip, limit)
    squeeze = not p.flag("no_squeezing")
    mode = "C" if canonical else "x2"
    for k, _ in p.order:
        if k in ("x", "d", "o", "b", "c"):
            mode = k
    lines: list[str] = []
    for off, block in _squeezed_blocks(data, 16, squeeze, lines):
        addr = skip + off
        if mode == "C":
            left = " ".join(f"{c:02x}" for c in block[:8])
            right = " ".join(f"{c:02x}" for c in block[8:])
            hx = (left.ljust(23) + "  " + right).ljust(48)
            txt = "".join(_printable(c) for c in block)
            lines.append(f"{addr:08x}  {hx}  |{txt}|\n")
        else:
            lines.append(f"{addr:07x}" + _hd_row(mode, block) + "\n")
    if data or mode != "C":
        if mode == "C":
            if data:
                lines.append(f"{skip + len(data):08x}\n")
        else:
            if data:
                lines.append(f"{skip + len(data):07x}\n")
    await ctx.stdout.write(encode("".join(lines)))
    return 0 if ok else 1


def _hd_row(mode: str, block: bytes) -> str:
    if mode in ("x2", "x", "d", "o"):
        padded = block + (b"\0" if len(block) % 2 else b"")
        cells = []
        for i in range(8):
            if i * 2 < len(block):
                v = padded[i * 2] | (padded[i * 2 + 1] << 8)
                if mode == "x2":
                    cells.append(f" {v:04x}")
                elif mode == "x":
                    cells.append(f"    {v:04x}")
                elif mode == "d":
                    cells.append(f"   {v:05d}")
                else:
                    cells.append(f"  {v:06o}")
            else:
                cells.append(" " * (5 if mode == "x2" else 8))
        return "".join(cells)
    cells = []
    for i in range(16):
        if i < len(block):
            c = block[i]
            if mode == "b":
                cells.append(f" {c:03o}")
            else:
                esc = {
                    0: "\\0",
                    7: "\\a",
                    8: "\\b",
                    12: "\\f",
                    10: "\\n",
                    13: "\\r",
                    9: "\\t",
                    11: "\\v",
                }
                if c in esc:
                    cells.append(f"  {esc[c]}")
                elif 32 <= c < 127:
                    cells.append(f"   {chr(c)}")
                else:
                    cells.append(f" {c:03o}")
        else:
            cells.append("    ")
    return "".join(cells)
