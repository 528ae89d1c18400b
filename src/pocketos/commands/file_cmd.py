"""file: the type of a file from its first bytes."""

from __future__ import annotations

import json
import re
import stat as S

from pocketos.commands import command
from pocketos.commands._args import Opt
from pocketos.commands._fs import _start, split_major_minor, strerror
from pocketos.kernel.process import Context

FILE_HELP = """Usage: file [OPTION...] [FILE...]
Determine type of FILEs from their first bytes (common formats only).

  -b, --brief                do not prepend filenames to output lines
  -i, --mime                 output MIME type strings
      --mime-type            output the MIME type only
  -L, --dereference          follow symlinks
  -h, --no-dereference       don't follow symlinks (default)
  -N, --no-pad               do not pad filenames so they align in the output
  -0, --print0               terminate filenames with ASCII NUL
"""

_INTERPRETERS: dict[str, tuple[str, str]] = {
    "sh": ("POSIX shell script", "text/x-shellscript"),
    "dash": ("POSIX shell script", "text/x-shellscript"),
    "bash": ("Bourne-Again shell script", "text/x-shellscript"),
    "zsh": ("Paul Falstad's zsh script", "text/x-shellscript"),
    "python": ("Python script", "text/x-script.python"),
    "python2": ("Python script", "text/x-script.python"),
    "python3": ("Python script", "text/x-script.python"),
    "perl": ("Perl script", "text/x-perl"),
    "ruby": ("Ruby script", "text/x-ruby"),
    "node": ("Node.js script", "application/javascript"),
    "awk": ("awk script", "text/x-awk"),
    "gawk": ("GNU awk script", "text/x-awk"),
}


def _text_kind(data: bytes) -> tuple[str, str] | None:
    """(description, charset) for text, None for binary data."""
    if b"\x00" in data:
        return None
    ctrl = set(range(0, 32)) - {7, 8, 9, 10, 11, 12, 13, 27}
    if any(b in ctrl for b in data[:65536]):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if any(0x80 <= b < 0xA0 for b in data):
            return ("Non-ISO extended-ASCII text", "unknown-8bit")
        return ("ISO-8859 text", "iso-8859-1")
    if text.isascii():
        return ("ASCII text", "us-ascii")
    return ("Unicode text, UTF-8 text", "utf-8")


def _line_notes(data: bytes) -> str:
    notes = []
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    longest = max((len(x) for x in lines), default=0)
    if longest > 300:
        notes.append(f"with very long lines ({longest})")
    if b"\r\n" in data:
        notes.append("with CRLF line terminators")
    elif b"\r" in data and b"\n" not in data:
        notes.append("with CR line terminators")
    elif b"\n" not in data:
        notes.append("with no line terminators")
    return "".join(", " + n for n in notes)


def classify_bytes(data: bytes, size: int) -> tuple[str, str]:
    """(description, mime) for file contents (``data`` is the file's first bytes)."""
    if size == 0:
        return "empty", "inode/x-empty; charset=binary"
    if data.startswith(b"\x7fELF") and len(data) >= 20:
        bits = "64-bit" if data[4] == 2 else "32-bit"
        endian = "LSB" if data[5] == 1 else "MSB"
        etype = int.from_bytes(data[16:18], "little" if data[5] == 1 else "big")
        kind = {
            1: "relocatable",
            2: "executable",
            3: "pie executable" if True else "",
            4: "core file",
        }.get(etype, "unknown type")
        machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
        arch = {
            0x3E: "x86-64",
            0x03: "Intel 80386",
            0xB7: "ARM aarch64",
            0x28: "ARM",
            0xF3: "UCB RISC-V",
        }.get(machine, "unknown arch")
        mime = {
            1: "application/x-object",
            2: "application/x-executable",
            3: "application/x-pie-executable",
            4: "application/x-coredump",
        }.get(etype, "application/octet-stream")
        return f"ELF {bits} {endian} {kind}, {arch}", mime + "; charset=binary"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 26 and data[12:16] == b"IHDR":
        w = int.from_bytes(data[16:20], "big")
        h = int.from_bytes(data[20:24], "big")
        depth = data[24]
        ctype = {
            0: f"{depth}-bit grayscale",
            2: f"{depth}-bit/color RGB",
            3: f"{depth}-bit colormap",
            4: f"{depth}-bit gray+alpha",
            6: f"{depth}-bit/color RGBA",
        }.get(data[25], f"{depth}-bit")
        inter = "interlaced" if len(data) > 28 and data[28] else "non-interlaced"
        return f"PNG image data, {w} x {h}, {ctype}, {inter}", "image/png; charset=binary"
    if data.startswith(b"\x89PNG"):
        return "PNG image data", "image/png; charset=binary"
    if data.startswith(b"\xff\xd8\xff"):
        desc = "JPEG image data"
        if data[6:11] == b"JFIF\x00" and len(data) >= 13:
            desc += f", JFIF standard {data[11]}.{data[12]:02d}"
        elif data[6:11] == b"Exif\x00":
            desc += ", Exif standard"
        return desc, "image/jpeg; charset=binary"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        desc = f"GIF image data, version {data[3:6].decode()}"
        if len(data) >= 10:
            desc += (
                f", {int.from_bytes(data[6:8], 'little')} x {int.from_bytes(data[8:10], 'little')}"
            )
        return desc, "image/gif; charset=binary"
    if data.startswith(b"%PDF-"):
        m = re.match(rb"%PDF-(\d+\.\d+)", data)
        ver = m.group(1).decode() if m else "?"
        return f"PDF document, version {ver}", "application/pdf; charset=binary"
    if data.startswith(b"\x1f\x8b"):
        return "gzip compressed data", "application/gzip; charset=binary"
    if data.startswith(b"BZh") and len(data) > 3 and 0x31 <= data[3] <= 0x39:
        return (
            f"bzip2 compressed data, block size = {chr(data[3])}00k",
            "application/x-bzip2; charset=binary",
        )
    if data.startswith(b"\xfd7zXZ\x00"):
        return "XZ compressed data", "application/x-xz; charset=binary"
    if data.startswith(b"(\xb5/\xfd"):
        return "Zstandard compressed data", "application/zstd; charset=binary"
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7-zip archive data", "application/x-7z-compressed; charset=binary"
    if data.startswith(b"PK\x03\x04") and len(data) >= 6:
        v = int.from_bytes(data[4:6], "little")
        return (
            f"Zip archive data, at least v{v // 10}.{v % 10} to extract",
            "application/zip; charset=binary",
        )
    if data.startswith(b"PK\x05\x06"):
        return "Zip archive data (empty)", "application/zip; charset=binary"
    if len(data) >= 262 and data[257:262] == b"ustar":
        if data[257:265] == b"ustar  \x00":
            return "POSIX tar archive (GNU)", "application/x-tar; charset=binary"
        return "POSIX tar archive", "application/x-tar; charset=binary"
    if data.startswith(b"SQLite format 3\x00"):
        return "SQLite 3.x database", "application/vnd.sqlite3; charset=binary"
    if data.startswith(b"\x00asm"):
        return "WebAssembly (wasm) binary module", "application/wasm; charset=binary"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "RIFF (little-endian) data, Web/P image", "image/webp; charset=binary"
    tk = _text_kind(data)
    if tk is None:
        return "data", "application/octet-stream; charset=binary"
    desc, charset = tk
    notes = _line_notes(data)
    if data.startswith(b"#!"):
        first = data.split(b"\n", 1)[0][2:].decode("utf-8", "replace").strip().split()
        interp = ""
        if first:
            interp = first[0].rsplit("/", 1)[-1]
            if interp == "env" and len(first) > 1:
                interp = (
                    [a for a in first[1:] if not a.startswith("-")][0]
                    if any(not a.startswith("-") for a in first[1:])
                    else ""
                )
        name = re.sub(r"\d+(\.\d+)*$", "", interp) if interp not in _INTERPRETERS else interp
        if interp in _INTERPRETERS or name in _INTERPRETERS:
            kind, mime = _INTERPRETERS.get(interp) or _INTERPRETERS[name]
            if kind.startswith("Node.js"):
                return f"{kind} executable, {desc}{notes}", f"{mime}; charset={charset}"
            return f"{kind}, {desc} executable{notes}", f"{mime}; charset={charset}"
        return (
            f"a {' '.join(first)} script, {desc} executable{notes}",
            f"text/plain; charset={charset}",
        )
    stripped = data.lstrip()
    low = stripped[:256].lower()
    if low.startswith(b"<?xml"):
        m = re.match(rb"<\?xml\s+version=[\"'](\d+\.\d+)", stripped)
        ver = m.group(1).decode() if m else "1.0"
        return f"XML {ver} document, {desc}{notes}", f"text/xml; charset={charset}"
    if low.startswith(b"<!doctype html") or low.startswith(b"<html") or b"<html" in low[:64]:
        return f"HTML document, {desc}{notes}", f"text/html; charset={charset}"
    if stripped[:1] in (b"{", b"[") and size == len(data):
        try:
            json.loads(data.decode("utf-8"))
            return "JSON text data", f"application/json; charset={charset}"
        except ValueError:
            pass
    return f"{desc}{notes}", f"text/plain; charset={charset}"


@command("file")
async def file_cmd(ctx: Context) -> int:
    spec = [
        Opt("b", "brief"),
        Opt("i", "mime"),
        Opt("", "mime-type"),
        Opt("", "mime-encoding"),
        Opt("L", "dereference"),
        Opt("h", "no-dereference"),
        Opt("N", "no-pad"),
        Opt("0", "print0"),
        Opt("z", "uncompress"),
        Opt("f", "files-from", "required"),
        Opt("E"),
    ]
    p = await _start(ctx, spec, FILE_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    names = list(p.operands)
    ff = p.str("f")
    if ff is not None:
        try:
            data = (await ctx.stdin.read()) if ff == "-" else fs.read_bytes(ff)
        except OSError as exc:
            await ctx.err(f"Cannot open `{ff}' ({strerror(exc)})")
            return 1
        names += [ln.decode("utf-8", "surrogateescape") for ln in data.splitlines() if ln]
    if not names:
        await ctx.stderr.write(
            b"Usage: file [-bcCdEhikLlNnprsSvzZ0] [--apple] "
            b"[--extension] [--mime-encoding]\n"
            b"            [--mime-type] [-e <testname>] [-F <separator>] "
            b" [-f <namefile>]\n            [-m <magicfiles>] [-P <parameter=value>] "
            b"[--exclude-quiet]\n            <file> ...\n"
            b"       file -C [-m <magicfiles>]\n       file [--help]\n"
        )
        return 1
    follow = False
    for k, _ in p.order:
        if k == "L":
            follow = True
        elif k == "h":
            follow = False
    mime_mode = (
        "full"
        if p.flag("i")
        else "type"
        if p.flag("mime_type")
        else "enc"
        if p.flag("mime_encoding")
        else ""
    )
    results: list[tuple[str, str]] = []
    status = 0
    for name in names:
        ctx.check_killed()
        if name == "-":
            data = await ctx.stdin.read(1 << 20)
            desc, mime = classify_bytes(data, len(data))
            results.append(("/dev/stdin", desc if not mime_mode else mime))
            continue
        try:
            st = fs.stat(name) if follow else fs.lstat(name)
        except OSError as exc:
            if follow and fs.lexists(name):
                t = fs.readlink(name)
                desc, mime = f"broken symbolic link to {t}", "inode/symlink; charset=binary"
            else:
                desc = f"cannot open `{name}' ({strerror(exc)})"
                mime = desc
                status = 0
            results.append((name, desc if not mime_mode else mime))
            continue
        if st.is_dir():
            desc, mime = "directory", "inode/directory; charset=binary"
        elif st.is_symlink():
            try:
                t = fs.readlink(name)
            except OSError:
                t = "?"
            broken = not fs.exists(name)
            desc = f"{'broken ' if broken else ''}symbolic link to {t}"
            mime = "inode/symlink; charset=binary"
        elif S.S_ISCHR(st.st_mode):
            ma, mi = split_major_minor(st.st_rdev)
            desc, mime = f"character special ({ma}/{mi})", "inode/chardevice; charset=binary"
        elif S.S_ISFIFO(st.st_mode):
            desc, mime = "fifo (named pipe)", "inode/fifo; charset=binary"
        else:
            try:
                with fs.open(name, "rb") as fh:
                    data = fh.read(1 << 20)
            except OSError as exc:
                desc = f"cannot open `{name}' ({strerror(exc)})"
                results.append((name, desc))
                continue
            desc, mime = classify_bytes(data, st.st_size)
        if mime_mode == "type":
            out = mime.split(";")[0]
        elif mime_mode == "enc":
            out = mime.split("charset=")[-1]
        elif mime_mode:
            out = mime
        else:
            out = desc
        results.append((name, out))
    width = max(len(n) for n, _ in results) + 1
    lines = []
    for n, d in results:
        if p.flag("b"):
            lines.append(d)
        elif p.flag("0"):
            lines.append(f"{n}\0{d}")
        elif p.flag("N"):
            lines.append(f"{n}: {d}")
        else:
            lines.append(f"{(n + ':').ljust(width)} {d}")
    await ctx.out("".join(line + "\n" for line in lines))
    return status


__all__ = ["classify_bytes"]
