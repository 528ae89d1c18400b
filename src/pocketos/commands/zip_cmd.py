"""zip and unzip."""

from __future__ import annotations

import fnmatch
import io
import lzma
import posixpath
import struct
import time
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import UsageError

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._archive import OUT_CHUNK, TooLarge, _enc
from pocketos.commands.tar import _through_symlink

# what a damaged zip file can raise while it is read
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    struct.error,
    OSError,
)
_ZIP_ERRORS_OR_LIMIT: tuple[type[BaseException], ...] = (TooLarge, *_ZIP_ERRORS)

_ZIP_USAGE = """Usage: zip [-options] zipfile list
  -r   recurse into directories     -j   junk (don't record) directory names
  -q   quiet operation              -0   store only
  -1   compress faster              -9   compress better
  -d   delete entries in zipfile    -m   move into zipfile (delete OS files)
  -D   do not add directory entries -x   exclude the names that follow
"""


def _dos_time(mtime_ns: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(mtime_ns // 10**9)
    if t.tm_year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _zip_args(argv: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Parse zip's own option style: flags may be clustered, ``-x`` takes the rest."""
    flags: dict[str, Any] = {"level": 6}
    operands: list[str] = []
    excludes: list[str] = []
    i = 0
    in_x = False
    while i < len(argv):
        a = argv[i]
        if a in ("-x", "--exclude"):
            in_x = True
            i += 1
            continue
        if a in ("-i", "--include"):
            in_x = False
            i += 1
            continue
        if in_x and not (a.startswith("-") and len(a) > 1):
            excludes.append(a)
            i += 1
            continue
        if a == "--help":
            flags["help"] = True
        elif a.startswith("--"):
            long = {
                "--recurse-paths": "r",
                "--quiet": "q",
                "--junk-paths": "j",
                "--delete": "d",
                "--move": "m",
                "--no-dir-entries": "D",
                "--symlinks": "y",
                "--test": "T",
            }.get(a)
            if long is None:
                raise UsageError(
                    f"zip error: Invalid command arguments (long option '{a[2:]}' not supported)",
                    16,
                )
            flags[long] = True
        elif a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c.isdigit():
                    flags["level"] = int(c)
                elif c in "rqjdmDyTvXoRlFSAuf":
                    flags[c] = True
                elif c == "x":
                    in_x = True
                else:
                    raise UsageError(
                        f"zip error: Invalid command arguments (short option '{c}' not supported)",
                        16,
                    )
            in_x = in_x and a.endswith("x")
        else:
            operands.append(a)
            in_x = False
        i += 1
    return flags, operands, excludes


@command("zip")
async def zip_cmd(ctx: Context) -> int:
    try:
        flags, operands, excludes = _zip_args(list(ctx.argv[1:]))
    except UsageError as e:
        await ctx.stderr.write(_enc(e.message + "\n"))
        return e.status
    if flags.get("help"):
        await ctx.out(_ZIP_USAGE)
        return 0
    if not operands:
        await ctx.stderr.write(b"zip error: Nothing to do! (try: zip -r archive.zip . )\n")
        return 12
    zname = operands[0]
    if not posixpath.basename(zname).count(".") and not ctx.fs.exists(zname):
        zname += ".zip"
    names = operands[1:]
    zabs = ctx.fs.abspath(zname)
    quiet = bool(flags.get("q"))
    existing: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
    order: list[str] = []
    if ctx.fs.exists(zname):
        try:
            raw = ctx.fs.read_bytes(zname)
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                for info in zf.infolist():
                    existing[info.filename] = (
                        info,
                        zf.read(info) if info.file_size <= ctx.limits.max_file_size else b"",
                    )
                    order.append(info.filename)
        except _ZIP_ERRORS:
            await ctx.stderr.write(_enc(f"\nzip error: Zip file structure invalid ({zname})\n"))
            return 3
    if flags.get("d"):
        removed = 0
        for n in names:
            for key in list(order):
                if key == n or fnmatch.fnmatchcase(key, n):
                    order.remove(key)
                    existing.pop(key, None)
                    removed += 1
                    if not quiet:
                        await ctx.out(f"deleting: {key}\n")
        if not removed:
            await ctx.stderr.write(_enc(f"\nzip error: Nothing to do! ({zname})\n"))
            return 12
        return await _zip_write(ctx, zname, existing, order, {})
    added: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
    to_move: list[str] = []
    for n in names:
        if n == "-":
            data = await ctx.stdin.read()
            zi = zipfile.ZipInfo("-", _dos_time(time.time_ns()))
            zi.external_attr = 0o100644 << 16
            added["-"] = (zi, data)
            continue
        try:
            st = ctx.fs.stat(n)
        except OSError:
            await ctx.stderr.write(_enc(f"\tzip warning: name not matched: {n}\n"))
            continue
        for path, est in _zip_walk(ctx, n, st, bool(flags.get("r"))):
            ctx.check_killed()
            if ctx.fs.abspath(path) == zabs:
                continue
            arc = path.lstrip("/")
            while arc.startswith("./"):
                arc = arc[2:]
            if flags.get("j"):
                if est.is_dir():
                    continue
                arc = posixpath.basename(arc)
            if est.is_dir():
                if flags.get("D"):
                    continue
                arc = arc.rstrip("/") + "/"
            if not arc or arc == "/":
                continue
            if any(fnmatch.fnmatchcase(arc, x) or fnmatch.fnmatchcase(path, x) for x in excludes):
                continue
            zi = zipfile.ZipInfo(arc, _dos_time(est.st_mtime_ns))
            zi.create_system = 3
            zi.external_attr = (est.st_mode & 0xFFFF) << 16
            if est.is_dir():
                zi.external_attr |= 0x10
                data = b""
            else:
                try:
                    data = ctx.fs.read_bytes(path)
                except OSError as exc:
                    await ctx.stderr.write(
                        _enc(f"\tzip warning: could not open for reading: {path}: {exc.strerror}\n")
                    )
                    continue
            added[arc] = (zi, data)
            to_move.append(path)
    if not added:
        await ctx.stderr.write(_enc(f"\nzip error: Nothing to do! ({zname})\n"))
        return 12
    level = int(flags.get("level", 6))
    verb_lines: list[str] = []
    final: dict[str, tuple[zipfile.ZipInfo, bytes]] = dict(existing)
    for arc, (zi, data) in added.items():
        if arc.endswith("/") or not data or level == 0:
            zi.compress_type = zipfile.ZIP_STORED
            how = "stored 0%"
        else:
            comp = zlib.compressobj(level, zlib.DEFLATED, -15)
            csize = len(comp.compress(data) + comp.flush())
            if csize < len(data):
                zi.compress_type = zipfile.ZIP_DEFLATED
                pct = int(round((1 - csize / len(data)) * 100)) if data else 0
                how = f"deflated {pct}%"
            else:
                zi.compress_type = zipfile.ZIP_STORED
                how = "stored 0%"
        verb = "updating" if arc in existing else "  adding"
        verb_lines.append(f"{verb}: {arc} ({how})\n")
        final[arc] = (zi, data)
        if arc not in order:
            order.append(arc)
    rc = await _zip_write(ctx, zname, final, order, {}, level)
    if rc:
        return rc
    if not quiet:
        await ctx.out("".join(verb_lines))
    if flags.get("m"):
        for path in reversed(to_move):
            try:
                if ctx.fs.isdir(path):
                    ctx.fs.rmdir(path)
                else:
                    ctx.fs.unlink(path)
            except OSError:
                pass
    return 0


def _zip_walk(ctx: Context, path: str, st: Any, recurse: bool) -> Iterator[tuple[str, Any]]:
    yield path, st
    if not st.is_dir() or not recurse:
        return
    try:
        names = sorted(ctx.fs.listdir(path))
    except OSError:
        return
    for n in names:
        child = path.rstrip("/") + "/" + n if path not in (".",) else n
        try:
            cst = ctx.fs.stat(child)
        except OSError:
            continue
        yield from _zip_walk(ctx, child, cst, recurse)


async def _zip_write(
    ctx: Context,
    zname: str,
    entries: dict[str, tuple[zipfile.ZipInfo, bytes]],
    order: list[str],
    _unused: dict[str, Any],
    level: int = 6,
) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in order:
            if name not in entries:
                continue
            zi, data = entries[name]
            if zi.compress_type == zipfile.ZIP_DEFLATED:
                zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level or 6)
            else:
                zf.writestr(zi, data, compress_type=zipfile.ZIP_STORED)
    try:
        ctx.fs.write_bytes(zname, buf.getvalue())
    except OSError as exc:
        await ctx.stderr.write(
            _enc(
                f"zip I/O error: {exc.strerror}\nzip error: Could not "
                f"create output file ({zname})\n"
            )
        )
        return 15
    return 0


_UNZIP_USAGE = """UnZip 6.00 (pocketos). Usage: unzip [-opts[modifiers]] file[.zip] [list]
  -p  extract files to pipe, no messages     -l  list files (short format)
  -t  test compressed archive data           -d  extract files into exdir
  -o  overwrite files WITHOUT prompting      -n  never overwrite existing files
  -q  quiet mode                             -j  junk paths (do not make directories)
  -x  exclude files that follow
"""


def _unzip_args(argv: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    flags: dict[str, Any] = {}
    operands: list[str] = []
    excludes: list[str] = []
    i = 0
    in_x = False
    while i < len(argv):
        a = argv[i]
        if a == "--help" or a == "-h":
            flags["help"] = True
        elif a.startswith("-") and len(a) > 1 and not in_x:
            j = 1
            while j < len(a):
                c = a[j]
                if c == "d":
                    rest = a[j + 1 :]
                    if rest:
                        flags["d"] = rest
                    elif i + 1 < len(argv):
                        i += 1
                        flags["d"] = argv[i]
                    else:
                        raise UsageError(
                            "error:  must specify directory to which to extract with -d option", 10
                        )
                    break
                if c == "x":
                    in_x = True
                elif c in "lopqtjnvcaCLXKZ":
                    flags[c] = flags.get(c, 0) + 1
                else:
                    raise UsageError(f"unzip:  unrecognized option -- '{c}'", 10)
                j += 1
        elif in_x:
            if a.startswith("-"):
                in_x = False
                continue
            excludes.append(a)
        else:
            operands.append(a)
        i += 1
    return flags, operands, excludes


def _zip_sanitize(name: str) -> tuple[str, list[str]]:
    """Strip absolute and ``..`` parts like Info-ZIP; returns (name, warnings)."""
    warnings: list[str] = []
    n = name
    if n.startswith("/"):
        warnings.append(f"warning: stripped absolute path spec from {name}")
        n = n.lstrip("/")
    parts = n.split("/")
    if ".." in parts:
        warnings.append(f'warning:  skipped "../" path component(s) in {name}')
        parts = [x for x in parts if x != ".."]
        n = "/".join(parts)
    return n, warnings


@command("unzip")
async def unzip_cmd(ctx: Context) -> int:
    try:
        flags, operands, excludes = _unzip_args(list(ctx.argv[1:]))
    except UsageError as e:
        await ctx.stderr.write(_enc(e.message + "\n"))
        return e.status
    if flags.get("help") or not operands:
        await ctx.out(_UNZIP_USAGE)
        return 0
    zname = operands[0]
    members = operands[1:]
    raw = None
    for cand in (zname, zname + ".zip", zname + ".ZIP"):
        try:
            if ctx.fs.isfile(cand):
                raw = ctx.fs.read_bytes(cand)
                zname = cand
                break
        except OSError:
            continue
    if raw is None:
        await ctx.stderr.write(
            _enc(f"unzip:  cannot find or open {zname}, {zname}.zip or {zname}.ZIP.\n")
        )
        return 9
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS:
        await ctx.out(f"Archive:  {zname}\n")
        await ctx.stderr.write(
            _enc(
                "  End-of-central-directory signature not found.  Either this file is not\n"
                "  a zipfile, or it constitutes one disk of a multi-part archive.  In the\n"
                "  latter case the central directory and zipfile comment will be found on\n"
                f"  the last disk(s) of this archive.\nunzip:  cannot find zipfile directory in "
                f"one of {zname} or\n        {zname}.zip, and cannot find {zname}.ZIP, period.\n"
            )
        )
        return 9
    quiet = int(flags.get("q", 0))
    infos = zf.infolist()
    used: set[str] = set()

    def selected(n: str) -> bool:
        if excludes and any(fnmatch.fnmatchcase(n, x) for x in excludes):
            return False
        if not members:
            return True
        for m in members:
            if n == m or fnmatch.fnmatchcase(n, m):
                used.add(m)
                return True
        return False

    chosen = [i for i in infos if selected(i.filename)]
    status = 0
    with zf:
        if flags.get("l") or flags.get("v"):
            await _unzip_list(ctx, zname, chosen, quiet)
        elif flags.get("p") or flags.get("c"):
            for info in chosen:
                if info.is_dir():
                    continue
                try:
                    async for chunk in _zip_read(ctx, zf, info):
                        await ctx.stdout.write(chunk)
                except TooLarge:
                    await ctx.stderr.write(
                        _enc(
                            f"unzip: {info.filename}: exceeds the file size limit "
                            f"({ctx.limits.max_file_size} bytes)\n"
                        )
                    )
                    status = 2
                except _ZIP_ERRORS as exc:
                    await ctx.stderr.write(_enc(f"unzip: {info.filename}: {exc}\n"))
                    status = 2
        elif flags.get("t"):
            if not quiet:
                await ctx.out(f"Archive:  {zname}\n")
            bad = 0
            for info in chosen:
                try:
                    async for _ in _zip_read(ctx, zf, info):
                        pass
                    if not quiet:
                        await ctx.out(f"    testing: {info.filename.ljust(22)}   OK\n")
                except _ZIP_ERRORS_OR_LIMIT:
                    bad += 1
                    await ctx.out(f"    testing: {info.filename.ljust(22)}  bad CRC\n")
            if bad:
                await ctx.out(f"At least one error was detected in {zname}.\n")
                status = 2
            elif not quiet or quiet < 2:
                await ctx.out(f"No errors detected in compressed data of {zname}.\n")
        else:
            status = await _unzip_extract(ctx, zf, zname, chosen, flags, quiet)
    for m in members:
        if m not in used:
            await ctx.stderr.write(_enc(f"caution: filename not matched:  {m}\n"))
            status = 11
    return status


async def _zip_read(
    ctx: Context, zf: zipfile.ZipFile, info: zipfile.ZipInfo
) -> AsyncIterator[bytes]:
    limit = ctx.limits.max_file_size
    if info.file_size > limit:
        raise TooLarge()
    total = 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(OUT_CHUNK)
            if not chunk:
                return
            total += len(chunk)
            if total > limit:
                raise TooLarge()
            ctx.check_killed()
            yield chunk


async def _unzip_list(ctx: Context, zname: str, infos: list[zipfile.ZipInfo], quiet: int) -> None:
    lines: list[str] = []
    if not quiet:
        lines.append(f"Archive:  {zname}")
    lines.append("  Length      Date    Time    Name")
    lines.append("---------  ---------- -----   ----")
    total = 0
    for i in infos:
        y, mo, d, h, mi, _s = i.date_time
        total += i.file_size
        lines.append(f"{i.file_size:9d}  {y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}   {i.filename}")
    lines.append("---------                     -------")
    n = len(infos)
    lines.append(f"{total:9d}                     {n} file{'s' if n != 1 else ''}")
    await ctx.out("\n".join(lines) + "\n")


async def _unzip_extract(
    ctx: Context,
    zf: zipfile.ZipFile,
    zname: str,
    infos: list[zipfile.ZipInfo],
    flags: dict[str, Any],
    quiet: int,
) -> int:
    dest = flags.get("d")
    out: list[str] = []
    status = 0
    if not quiet:
        await ctx.out(f"Archive:  {zname}\n")
    if dest:
        try:
            ctx.fs.mkdir(dest, exist_ok=True)
        except OSError as exc:
            await ctx.stderr.write(
                _enc(
                    f"checkdir:  cannot create extraction directory: "
                    f"{dest}\n           {exc.strerror}\n"
                )
            )
            return 2
    never = bool(flags.get("n"))
    always = bool(flags.get("o"))
    for info in infos:
        ctx.check_killed()
        name, warns = _zip_sanitize(info.filename)
        for w in warns:
            await ctx.stderr.write(_enc(w + "\n"))
            status = max(status, 1)
        if flags.get("j"):
            if info.is_dir():
                continue
            name = posixpath.basename(name)
        if not name or name in ("/", "."):
            continue
        path = posixpath.join(dest, name) if dest else name
        shown = path
        if _through_symlink(ctx.fs, path.rstrip("/")):
            await ctx.stderr.write(
                _enc(f"error:  cannot create {shown}\n        refusing to follow a symbolic link\n")
            )
            status = max(status, 1)
            continue
        try:
            if info.is_dir():
                if not ctx.fs.isdir(path):
                    ctx.fs.mkdir(path.rstrip("/"), parents=True, exist_ok=True)
                    if not quiet:
                        await ctx.out(f"   creating: {shown}\n")
                continue
            parent = posixpath.dirname(path)
            if parent and not ctx.fs.isdir(parent):
                ctx.fs.mkdir(parent, parents=True, exist_ok=True)
                if not quiet:
                    await ctx.out(f"   creating: {parent}/\n")
            if ctx.fs.lexists(path) and not always:
                if never:
                    continue
                await ctx.stderr.write(
                    _enc(
                        f"replace {shown}? [y]es, [n]o, [A]ll, [N]one, [r]ename:  NULL\n"
                        '(EOF or read error, treating as "[N]one" ...)\n'
                    )
                )
                never = True
                status = max(status, 1)
                continue
            parts: list[bytes] = []
            async for chunk in _zip_read(ctx, zf, info):
                parts.append(chunk)
            data = b"".join(parts)
            if ctx.fs.lexists(path):
                ctx.fs.unlink(path)
            mode = (info.external_attr >> 16) & 0o7777 if info.create_system == 3 else 0o644
            mode = mode or 0o644
            ctx.fs.write_bytes(path, data, mode=mode)
            try:
                ctx.fs.chmod(path, mode & ~0o022 if mode else 0o644)
                ts_ns = int(_utc_from_dos(info.date_time)) * 10**9
                ctx.fs.utime(path, (ts_ns, ts_ns))
            except (OSError, OverflowError, ValueError):
                pass
            if not quiet:
                label = " extracting" if info.compress_type == zipfile.ZIP_STORED else "  inflating"
                out.append(f"{label}: {shown.ljust(22)}  \n")
                await ctx.out(out.pop())
        except TooLarge:
            await ctx.stderr.write(
                _enc(
                    f"error: {shown}: exceeds the file size limit "
                    f"({ctx.limits.max_file_size} bytes)\n"
                )
            )
            status = 2
        except _ZIP_ERRORS[:-1] as exc:
            await ctx.stderr.write(_enc(f"error: {shown}: {exc}\n"))
            status = 2
        except OSError as exc:
            await ctx.stderr.write(_enc(f"error:  cannot create {shown}\n        {exc.strerror}\n"))
            status = 2
    return status


def _utc_from_dos(dt: tuple[int, int, int, int, int, int]) -> float:
    import calendar

    return calendar.timegm((*dt, 0, 0, 0))
