"""Checksums: md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _dec, _iter_operand, _read_operand

_DIGESTS: dict[str, tuple[str, str]] = {
    # command -> (hashlib name, BSD tag)
    "md5sum": ("md5", "MD5"),
    "sha1sum": ("sha1", "SHA1"),
    "sha224sum": ("sha224", "SHA224"),
    "sha256sum": ("sha256", "SHA256"),
    "sha384sum": ("sha384", "SHA384"),
    "sha512sum": ("sha512", "SHA512"),
    "b2sum": ("blake2b", "BLAKE2b"),
}
_CKSUM_ALGOS = {
    "md5": ("md5", "MD5"),
    "sha1": ("sha1", "SHA1"),
    "sha224": ("sha224", "SHA224"),
    "sha256": ("sha256", "SHA256"),
    "sha384": ("sha384", "SHA384"),
    "sha512": ("sha512", "SHA512"),
    "blake2b": ("blake2b", "BLAKE2b"),
}


def _new_hash(algo: str, bits: int = 0) -> Any:
    if algo == "blake2b":
        return hashlib.blake2b(digest_size=(bits // 8) if bits else 64)
    return hashlib.new(algo)


def _escape_name(name: str) -> tuple[str, bool]:
    if "\\" in name or "\n" in name:
        return name.replace("\\", "\\\\").replace("\n", "\\n"), True
    return name, False


def _unescape_name(name: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c == "\\" and i + 1 < len(name):
            nxt = name[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


async def _digest_of(ctx: Context, name: str, algo: str, bits: int) -> str:
    h = _new_hash(algo, bits)
    async for chunk in _iter_operand(ctx, name):
        h.update(chunk)
    return str(h.hexdigest())


@dataclass
class _SumOpts:
    binary: bool = False
    tag: bool = False
    zero: bool = False
    check: bool = False
    quiet: bool = False
    status: bool = False
    strict: bool = False
    warn: bool = False
    ignore_missing: bool = False
    bits: int = 0


def _sum_usage(name: str) -> str:
    algo = _DIGESTS.get(name, ("", "CRC"))[1]
    return (
        f"Usage: {name} [OPTION]... [FILE]...\n"
        f"Print or check {algo} checksums.\n\n"
        "With no FILE, or when FILE is -, read standard input.\n"
        "  -b, --binary          read in binary mode\n"
        "  -c, --check           read checksums from the FILEs and check them\n"
        "      --tag             create a BSD-style checksum\n"
        "  -t, --text            read in text mode (default)\n"
        "  -z, --zero            end each output line with NUL, not newline\n"
        "      --ignore-missing  don't fail or report status for missing files\n"
        "      --quiet           don't print OK for each successfully verified file\n"
        "      --status          don't output anything, status code shows success\n"
        "      --strict          exit non-zero for improperly formatted checksum lines\n"
        "  -w, --warn            warn about improperly formatted checksum lines\n"
        "      --help            display this help and exit\n"
    )


_SUM_SPEC = [
    Opt("b", "binary"),
    Opt("t", "text"),
    Opt("c", "check"),
    Opt("", "tag"),
    Opt("z", "zero"),
    Opt("", "quiet"),
    Opt("", "status"),
    Opt("", "strict"),
    Opt("w", "warn"),
    Opt("", "ignore-missing"),
    Opt("", "help"),
    Opt("", "version"),
]


@command(*_DIGESTS)
async def digest_cmd(ctx: Context) -> int:
    name = ctx.name if ctx.name in _DIGESTS else "sha256sum"
    spec = list(_SUM_SPEC)
    if name == "b2sum":
        spec.append(Opt("l", "length", "required"))
    try:
        p = parse(name, ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_sum_usage(name))
        return 0
    if p.flag("version"):
        await ctx.out(f"{name} (pocketos coreutils) 9.1\n")
        return 0
    algo, tag = _DIGESTS[name]
    so = _SumOpts(
        binary=p.flag("binary") and not _last_is(p, "text"),
        tag=p.flag("tag"),
        zero=p.flag("zero"),
        check=p.flag("check"),
        quiet=p.flag("quiet"),
        status=p.flag("status"),
        strict=p.flag("strict"),
        warn=p.flag("warn"),
        ignore_missing=p.flag("ignore_missing"),
    )
    if name == "b2sum" and p.get("length") is not None:
        ln = p.str("length") or ""
        if not ln.isdigit() or int(ln) % 8 or int(ln) > 512 or int(ln) == 0:
            await ctx.err(f"invalid length: '{ln}'")
            if ln.isdigit() and int(ln) % 8:
                await ctx.err("length is not a multiple of 8")
            return 1
        so.bits = int(ln)
        if so.bits != 512:
            tag = f"BLAKE2b-{so.bits}"
    if not so.check:
        bad = _check_only_opts(p)
        if bad:
            await ctx.err(
                f"the {bad} option is meaningful only when verifying checksums\n"
                f"Try '{name} --help' for more information."
            )
            return 1
    files = p.operands or ["-"]
    if so.check:
        return await _verify(ctx, name, files, algo, so, {})
    return await _print_sums(ctx, files, algo, tag, so)


def _last_is(p: Any, key: str) -> bool:
    keys = [k for k, _ in p.order if k in ("binary", "text")]
    return bool(keys) and keys[-1] == key


def _check_only_opts(p: Any) -> str | None:
    for key, opt in (
        ("ignore_missing", "--ignore-missing"),
        ("status", "--status"),
        ("quiet", "--quiet"),
        ("strict", "--strict"),
        ("warn", "--warn"),
    ):
        if p.flag(key):
            return opt
    return None


async def _print_sums(
    ctx: Context, files: list[str], algo: str, tag: str, so: _SumOpts, untagged_ok: bool = True
) -> int:
    status = 0
    end = "\0" if so.zero else "\n"
    for f in files:
        try:
            digest = await _digest_of(ctx, f, algo, so.bits)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        shown, esc = (f, False) if so.zero else _escape_name(f)
        prefix = "\\" if esc else ""
        if so.tag:
            line = f"{prefix}{tag} ({shown}) = {digest}{end}"
        else:
            line = f"{prefix}{digest} {'*' if so.binary else ' '}{shown}{end}"
        await ctx.out(line)
    return status


_TAG_LINE = re.compile(r"^(\\?)([A-Za-z0-9-]+) ?\((.*)\) ?= ([0-9a-fA-F]+)$")
_PLAIN_LINE = re.compile(r"^(\\?)([0-9a-fA-F]+) ([ *]?)(.*)$", re.S)


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


async def _verify(
    ctx: Context,
    name: str,
    files: list[str],
    algo: str,
    so: _SumOpts,
    algos_by_tag: dict[str, tuple[str, int]],
) -> int:
    status = 0
    hexlen = _new_hash(algo, so.bits).digest_size * 2
    for f in files:
        try:
            data = await _read_operand(ctx, f)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        shown_file = "standard input" if f == "-" else f
        bad_lines = mismatched = unreadable = ok_count = 0
        lines = data.split(b"\0" if so.zero else b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for lineno, raw_line in enumerate(lines, 1):
            ctx.check_killed()
            line = _dec(raw_line)
            if line.endswith("\r"):
                line = line[:-1]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            want_algo, bits = algo, so.bits
            m = _TAG_LINE.match(line)
            target: str | None = None
            expected = ""
            escaped = False
            if m is not None:
                tagname = m.group(2)
                if algos_by_tag:
                    if tagname not in algos_by_tag:
                        m = None
                    else:
                        want_algo, bits = algos_by_tag[tagname]
                if m is not None:
                    escaped = bool(m.group(1))
                    target, expected = m.group(3), m.group(4)
            if target is None:
                m2 = _PLAIN_LINE.match(line)
                if m2 is not None and m2.group(4) and (m2.group(3) or True):
                    escaped = bool(m2.group(1))
                    expected, target = m2.group(2), m2.group(4)
                    if not m2.group(3) and target.startswith((" ", "*")):
                        target = None
            exp_len = _new_hash(want_algo, bits).digest_size * 2 if algos_by_tag else hexlen
            if target is None or len(expected) != exp_len:
                bad_lines += 1
                if so.warn:
                    await ctx.err(
                        f"{shown_file}: {lineno}: improperly formatted "
                        f"{_DIGESTS.get(name, ('', 'checksum'))[1]} checksum line"
                    )
                continue
            if escaped:
                target = _unescape_name(target)
            try:
                actual = await _digest_of(ctx, target, want_algo, bits)
            except BrokenPipeError:
                raise
            except OSError as exc:
                if so.ignore_missing and isinstance(exc, FileNotFoundError):
                    continue
                unreadable += 1
                if not so.status:
                    await ctx.os_error(exc, target)
                    await ctx.out(f"{target}: FAILED open or read\n")
                continue
            ok_count += 1
            if actual.lower() == expected.lower():
                if not so.status and not so.quiet:
                    await ctx.out(f"{target}: OK\n")
            else:
                mismatched += 1
                if not so.status:
                    await ctx.out(f"{target}: FAILED\n")
        if ok_count == 0 and unreadable == 0 and mismatched == 0:
            if so.ignore_missing and bad_lines == 0 and lines:
                await ctx.err(f"{shown_file}: no file was verified")
            else:
                await ctx.err(f"{shown_file}: no properly formatted checksum lines found")
            status = 1
            continue
        if not so.status:
            if bad_lines:
                await ctx.err(
                    "WARNING: "
                    + str(bad_lines)
                    + " "
                    + _plural(
                        bad_lines, "line is improperly formatted", "lines are improperly formatted"
                    )
                )
            if unreadable:
                await ctx.err(
                    "WARNING: "
                    + str(unreadable)
                    + " "
                    + _plural(
                        unreadable,
                        "listed file could not be read",
                        "listed files could not be read",
                    )
                )
            if mismatched:
                await ctx.err(
                    "WARNING: "
                    + str(mismatched)
                    + " "
                    + _plural(
                        mismatched,
                        "computed checksum did NOT match",
                        "computed checksums did NOT match",
                    )
                )
        if mismatched or unreadable or (so.strict and bad_lines):
            status = 1
    return status


# --- cksum ------------------------------------------------------------------------------------

_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _rev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


class _PosixCrc:
    """The POSIX ``cksum`` CRC (polynomial 0x04C11DB7, MSB first), computed with zlib's
    reflected CRC-32 over bit-reversed bytes."""

    def __init__(self) -> None:
        self.reg = 0  # reflected register
        self.length = 0

    def update(self, data: bytes) -> None:
        self.length += len(data)
        self.reg = zlib.crc32(data.translate(_BITREV), self.reg ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def value(self) -> int:
        n = self.length
        tail = bytearray()
        while n:
            tail.append(n & 0xFF)
            n >>= 8
        reg = zlib.crc32(bytes(tail).translate(_BITREV), self.reg ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        return (~_rev32(reg)) & 0xFFFFFFFF


@command("cksum")
async def cksum_cmd(ctx: Context) -> int:
    spec = list(_SUM_SPEC) + [
        Opt("a", "algorithm", "required"),
        Opt("", "untagged"),
        Opt("l", "length", "required"),
        Opt("", "debug"),
    ]
    try:
        p = parse("cksum", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_sum_usage("cksum"))
        return 0
    algo = (p.str("algorithm") or "crc").lower()
    names = ["sysv", "bsd", "crc", *_CKSUM_ALGOS]
    if algo not in names:
        await ctx.err(
            f"invalid argument '{algo}' for '--algorithm'\nValid arguments are:\n"
            + "".join(f"  - '{n}'\n" for n in names)
            + "Try 'cksum --help' for more information."
        )
        return 1
    files = p.operands or ["-"]
    so = _SumOpts(
        binary=False,
        tag=not p.flag("untagged"),
        zero=p.flag("zero"),
        check=p.flag("check"),
        quiet=p.flag("quiet"),
        status=p.flag("status"),
        strict=p.flag("strict"),
        warn=p.flag("warn"),
        ignore_missing=p.flag("ignore_missing"),
    )
    if p.get("length") is not None:
        ln = p.str("length") or ""
        if algo != "blake2b" or not ln.isdigit() or int(ln) % 8 or not 0 < int(ln) <= 512:
            await ctx.err(f"invalid length: '{ln}'")
            return 1
        so.bits = int(ln) if int(ln) != 512 else 0
    if so.check:
        if algo in ("sysv", "bsd", "crc") and p.get("algorithm") is not None:
            await ctx.err("--check is not supported with --algorithm={bsd,sysv,crc}")
            return 1
        tags = {tag: (h, 0) for h, tag in _CKSUM_ALGOS.values()}
        for bits in range(8, 513, 8):
            tags[f"BLAKE2b-{bits}"] = ("blake2b", bits)
        return await _verify(ctx, "cksum", files, "md5", so, tags)
    if algo in _CKSUM_ALGOS:
        h, tag = _CKSUM_ALGOS[algo]
        if h == "blake2b" and so.bits:
            tag = f"BLAKE2b-{so.bits}"
        return await _print_sums(ctx, files, h, tag, so)
    status = 0
    for f in files:
        try:
            total = 0
            crc = _PosixCrc()
            s = 0
            bsd = 0
            async for chunk in _iter_operand(ctx, f):
                total += len(chunk)
                if algo == "crc":
                    crc.update(chunk)
                elif algo == "sysv":
                    s += sum(chunk)
                else:
                    for b in chunk:
                        bsd = ((bsd >> 1) + ((bsd & 1) << 15) + b) & 0xFFFF
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        suffix = "" if f == "-" and not p.operands else f" {f}"
        if algo == "crc":
            await ctx.out(f"{crc.value()} {total}{suffix}\n")
        elif algo == "sysv":
            r = (s & 0xFFFF) + ((s & 0xFFFFFFFF) >> 16)
            r = (r & 0xFFFF) + (r >> 16)
            await ctx.out(f"{r} {(total + 511) // 512}{suffix}\n")
        else:
            sfx = "" if f == "-" and not p.operands else f" {f}"
            await ctx.out(f"{bsd:05d} {(total + 1023) // 1024:5d}{sfx}\n")
    return status
