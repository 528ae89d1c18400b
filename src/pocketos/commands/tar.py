"""tar."""

from __future__ import annotations

import fnmatch
import io
import posixpath
import stat as _stat
import tarfile
import time
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._archive import (
    BZIP2,
    GZIP,
    XZ,
    Codec,
    NotFormat,
    TooLarge,
    _dec,
    _enc,
    compress_bytes,
    decompress_all,
    detect_codec,
)

_TAR_USAGE = """Usage: tar [OPTION...] [FILE]...
Create, list or extract tar archives.

  -c, --create               create a new archive
  -x, --extract, --get       extract files from an archive
  -t, --list                 list the contents of an archive
  -f, --file=ARCHIVE         use archive file ARCHIVE ('-' for stdin/stdout)
  -C, --directory=DIR        change to directory DIR
  -v, --verbose              verbosely list files processed
  -z, --gzip                 filter the archive through gzip
  -j, --bzip2                filter the archive through bzip2
  -J, --xz                   filter the archive through xz
  -a, --auto-compress        use archive suffix to determine the compression
  -O, --to-stdout            extract files to standard output
  -p, --preserve-permissions extract information about file permissions
  -k, --keep-old-files       don't replace existing files when extracting
      --strip-components=N   strip N leading components from file names
      --exclude=PATTERN      exclude files matching PATTERN
  -T, --files-from=FILE      get names to extract or create from FILE
      --help                 give this help list
"""

_TAR_SPEC = [
    Opt("c", "create"),
    Opt("x", "extract"),
    Opt("", "get", dest="extract"),
    Opt("t", "list"),
    Opt("r", "append"),
    Opt("u", "update", dest="append"),
    Opt("f", "file", "required"),
    Opt("C", "directory", "required", multiple=True),
    Opt("v", "verbose"),
    Opt("z", "gzip"),
    Opt("", "gunzip", dest="gzip"),
    Opt("", "ungzip", dest="gzip"),
    Opt("j", "bzip2"),
    Opt("J", "xz"),
    Opt("a", "auto-compress"),
    Opt("O", "to-stdout"),
    Opt("p", "preserve-permissions"),
    Opt("", "same-permissions", dest="preserve_permissions"),
    Opt("k", "keep-old-files"),
    Opt("", "overwrite"),
    Opt("", "skip-old-files"),
    Opt("", "strip-components", "required"),
    Opt("", "exclude", "required", multiple=True),
    Opt("T", "files-from", "required"),
    Opt("m", "touch"),
    Opt("h", "dereference"),
    Opt("", "no-same-owner"),
    Opt("", "same-owner"),
    Opt("", "numeric-owner"),
    Opt("", "owner", "required"),
    Opt("", "group", "required"),
    Opt("", "mode", "required"),
    Opt("", "mtime", "required"),
    Opt("", "sort", "required"),
    Opt("", "help"),
    Opt("", "version"),
    Opt("o", "", dest="no_same_owner"),
    Opt("", "wildcards"),
    Opt("", "no-recursion"),
    Opt("P", "absolute-names"),
    Opt("", "totals"),
    Opt("", "format", "required"),
    Opt("H", "", "required", dest="format"),
]
_TAR_ARG_LETTERS = set("fCTXbNKgLVH")


def _expand_old_style(args: list[str]) -> list[str]:
    """``tar czf a.tgz dir`` -> ``tar -c -z -f a.tgz dir``."""
    if not args or args[0].startswith("-"):
        return args
    letters = args[0]
    rest = args[1:]
    out: list[str] = []
    for c in letters:
        out.append("-" + c)
        if c in _TAR_ARG_LETTERS and rest:
            out.append(rest.pop(0))
    return out + rest


class _TarErr:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.failed = False
        self.warned: set[str] = set()

    async def say(self, msg: str) -> None:
        await self.ctx.stderr.write(_enc(f"tar: {msg}\n"))

    async def fail(self, msg: str) -> None:
        self.failed = True
        await self.say(msg)

    async def once(self, msg: str) -> None:
        if msg not in self.warned:
            self.warned.add(msg)
            await self.say(msg)


def _lookup_names(ctx: Context) -> tuple[dict[int, str], dict[int, str]]:
    users: dict[int, str] = {}
    groups: dict[int, str] = {}
    for path, table in (("/etc/passwd", users), ("/etc/group", groups)):
        try:
            for line in ctx.fs.read_text(path).splitlines():
                parts = line.split(":")
                if len(parts) >= 3 and parts[2].isdigit():
                    table.setdefault(int(parts[2]), parts[0])
        except OSError:
            pass
    return users, groups


def _safe_member_name(name: str) -> tuple[str | None, str | None]:
    """(sanitized name or None to skip, the leading prefix removed)."""
    prefix = ""
    n = name
    while n.startswith("/"):
        prefix += "/"
        n = n[1:]
    parts = n.split("/")
    if ".." in parts:
        # GNU strips everything up to the last '..' and refuses the member
        last = len(parts) - 1 - parts[::-1].index("..")
        removed = "/".join(parts[: last + 1]) + "/"
        return None, prefix + removed
    return n, prefix or None


def _excluded(name: str, patterns: list[str]) -> bool:
    """GNU's unanchored matching: a pattern may match any run of whole components."""
    if not patterns:
        return False
    parts = name.rstrip("/").split("/")
    n = len(parts)
    for pat in patterns:
        pat = pat.rstrip("/")
        for i in range(n):
            for j in range(i + 1, n + 1):
                if fnmatch.fnmatchcase("/".join(parts[i:j]), pat):
                    return True
    return False


def _mode_string(mode: int, typ: bytes) -> str:
    kind = {
        tarfile.DIRTYPE: "d",
        tarfile.SYMTYPE: "l",
        tarfile.LNKTYPE: "h",
        tarfile.CHRTYPE: "c",
        tarfile.BLKTYPE: "b",
        tarfile.FIFOTYPE: "p",
    }.get(typ, "-")
    s = _stat.filemode(mode)[1:]
    return kind + s


@command("tar")
async def tar_cmd(ctx: Context) -> int:
    try:
        p = parse("tar", _expand_old_style(list(ctx.argv[1:])), _TAR_SPEC, status=64)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_TAR_USAGE)
        return 0
    if p.flag("version"):
        await ctx.out("tar (GNU tar) 1.34\n")
        return 0
    _UGSWIDTH[0] = 19
    modes = [m for m in ("create", "extract", "list", "append") if p.flag(m)]
    err = _TarErr(ctx)
    if not modes:
        await err.say(
            "You must specify one of the '-Acdtrux', '--delete' or '--test-label'"
            " options\nTry 'tar --help' or 'tar --usage' for more information."
        )
        return 2
    if len(modes) > 1:
        await err.say(
            "You may not specify more than one '-Acdtrux', '--delete' or  "
            "'--test-label' option\nTry 'tar --help' or 'tar --usage' for more "
            "information."
        )
        return 2
    mode = modes[0]
    archive = p.str("file") or "-"
    operands = list(p.operands)
    if p.get("files_from") is not None:
        src = p.str("files_from") or "-"
        try:
            data = await ctx.stdin.read() if src == "-" else ctx.fs.read_bytes(src)
        except OSError as exc:
            await err.say(f"{src}: Cannot open: {exc.strerror}")
            await err.say("Error is not recoverable: exiting now")
            return 2
        operands += [ln for ln in _dec(data).splitlines() if ln]
    codec: Codec | None = None
    if p.flag("gzip"):
        codec = GZIP
    elif p.flag("bzip2"):
        codec = BZIP2
    elif p.flag("xz"):
        codec = XZ
    elif p.flag("auto_compress"):
        for sfx, c in (
            (".tgz", GZIP),
            (".tar.gz", GZIP),
            (".gz", GZIP),
            (".tbz2", BZIP2),
            (".tbz", BZIP2),
            (".bz2", BZIP2),
            (".txz", XZ),
            (".xz", XZ),
        ):
            if archive.endswith(sfx):
                codec = c
                break
    try:
        strip = int(p.str("strip_components") or "0")
    except ValueError:
        await err.say(f"Invalid number of elements: '{p.str('strip_components')}'")
        return 2
    dirs = p.list("directory")
    base = dirs[-1] if dirs else "."
    try:
        if mode == "create":
            await _tar_create(ctx, p, err, archive, codec, operands, base)
        elif mode == "append":
            await _tar_append(ctx, p, err, archive, operands, base)
        else:
            await _tar_read(ctx, p, err, archive, codec, operands, base, mode, strip)
    except _TarFatal:
        return 2
    if err.failed:
        await err.say("Exiting with failure status due to previous errors")
        return 2
    return 0


class _TarFatal(Exception):
    pass


def _tar_info_for(
    ctx: Context,
    fs_path: str,
    arcname: str,
    st: Any,
    users: dict[int, str],
    groups: dict[int, str],
    p: Any,
) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(arcname)
    ti.mode = _stat.S_IMODE(st.st_mode)
    ti.mtime = st.st_mtime_ns // 10**9
    ti.uid = st.st_uid
    ti.gid = st.st_gid
    ti.uname = users.get(st.st_uid, "") if not p.flag("numeric_owner") else ""
    ti.gname = groups.get(st.st_gid, "") if not p.flag("numeric_owner") else ""
    if p.get("owner") is not None:
        ti.uname = (p.str("owner") or "").split(":")[0]
    if p.get("group") is not None:
        ti.gname = (p.str("group") or "").split(":")[0]
    return ti


async def _tar_create(
    ctx: Context,
    p: Any,
    err: _TarErr,
    archive: str,
    codec: Codec | None,
    operands: list[str],
    base: str,
) -> None:
    if not operands:
        await err.say(
            "Cowardly refusing to create an empty archive\n"
            "Try 'tar --help' or 'tar --usage' for more information."
        )
        raise _TarFatal()
    fs = ctx.fs.with_cwd(ctx.fs.abspath(base))
    users, groups = _lookup_names(ctx)
    buf = io.BytesIO()
    verbose_out = ctx.stderr if archive == "-" else ctx.stdout
    excludes = p.list("exclude")
    seen_inodes: dict[tuple[int, int], str] = {}
    archive_abs = ctx.fs.abspath(archive) if archive != "-" else None
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for op in operands:
            ctx.check_killed()
            arc = op
            stripped = ""
            while arc.startswith("/"):
                arc = arc[1:]
                stripped = "/"
            if stripped and not p.flag("absolute_names"):
                await err.once("Removing leading `/' from member names")
            parts = arc.split("/")
            if ".." in parts and not p.flag("absolute_names"):
                last = len(parts) - 1 - parts[::-1].index("..")
                prefix = "/".join(parts[: last + 1]) + "/"
                await err.once(f"Removing leading `{prefix}' from member names")
                arc = "/".join(parts[last + 1 :])
            try:
                st = fs.stat(op, follow_symlinks=p.flag("dereference"))
            except OSError as exc:
                await err.fail(f"{op}: Cannot stat: {exc.strerror}")
                continue
            for fs_path, name, est in _walk_for_tar(fs, op, arc, st, p):
                ctx.check_killed()
                if _excluded(name, excludes):
                    continue
                if archive_abs is not None and fs.abspath(fs_path) == archive_abs:
                    await err.say(f"{name}: file is the archive; not dumped")
                    continue
                ti = _tar_info_for(ctx, fs_path, name, est, users, groups, p)
                data: bytes | None = None
                if est.is_dir():
                    ti.type = tarfile.DIRTYPE
                elif est.is_symlink():
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = fs.readlink(fs_path)
                elif est.is_file():
                    key = (est.st_dev, est.st_ino)
                    if est.st_nlink > 1 and key in seen_inodes:
                        ti.type = tarfile.LNKTYPE
                        ti.linkname = seen_inodes[key]
                    else:
                        if est.st_nlink > 1:
                            seen_inodes[key] = name
                        try:
                            data = fs.read_bytes(fs_path)
                        except OSError as exc:
                            await err.fail(f"{fs_path}: Cannot open: {exc.strerror}")
                            continue
                        ti.size = len(data)
                else:
                    await err.say(f"{name}: file type not supported; not dumped")
                    continue
                if not name:
                    continue
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
                if p.flag("verbose"):
                    shown = name + ("/" if est.is_dir() and not name.endswith("/") else "")
                    await verbose_out.write(_enc(_tar_verbose_line(ti, shown, p) + "\n"))
    raw = buf.getvalue()
    if codec is not None:
        raw = compress_bytes(codec, raw, 6 if codec is not BZIP2 else 9)
    if archive == "-":
        await ctx.stdout.write(raw)
    else:
        try:
            ctx.fs.write_bytes(archive, raw)
        except OSError as exc:
            await err.say(f"{archive}: Cannot open: {exc.strerror}")
            await err.say("Error is not recoverable: exiting now")
            raise _TarFatal() from None


def _walk_for_tar(fs: Any, path: str, arc: str, st: Any, p: Any) -> Iterator[tuple[str, str, Any]]:
    yield path, arc, st
    if not st.is_dir() or p.flag("no_recursion"):
        return
    try:
        names = sorted(fs.listdir(path))
    except OSError:
        return
    for n in names:
        child = posixpath.join(path, n)
        carc = (arc.rstrip("/") + "/" + n) if arc not in ("", ".") else n
        if arc == ".":
            carc = "./" + n
        try:
            cst = fs.stat(child, follow_symlinks=p.flag("dereference"))
        except OSError:
            continue
        yield from _walk_for_tar(fs, child, carc, cst, p)


def _tar_verbose_line(ti: tarfile.TarInfo, shown: str, p: Any) -> str:
    if p.count("verbose") < 2:
        return shown
    return _tar_long_line(ti, shown)


# GNU tar widens the owner/size column as longer entries appear and keeps it wide
_UGSWIDTH = [19]


def _tar_long_line(ti: tarfile.TarInfo, name: str) -> str:
    mode = _mode_string(ti.mode, ti.type)
    owner = f"{ti.uname or ti.uid}/{ti.gname or ti.gid}"
    size = (
        str(ti.size)
        if ti.type not in (tarfile.CHRTYPE, tarfile.BLKTYPE)
        else f"{ti.devmajor},{ti.devminor}"
    )
    pad = len(owner) + 1 + len(size)
    if pad > _UGSWIDTH[0]:
        _UGSWIDTH[0] = pad
    width = _UGSWIDTH[0] - pad + len(size)
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ti.mtime))
    line = f"{mode} {owner} {size.rjust(width)} {when} {name}"
    if ti.type == tarfile.SYMTYPE:
        line += f" -> {ti.linkname}"
    elif ti.type == tarfile.LNKTYPE:
        line += f" link to {ti.linkname}"
    return line


async def _tar_load(ctx: Context, err: _TarErr, archive: str, codec: Codec | None) -> bytes:
    try:
        if archive == "-":
            raw = await ctx.stdin.read()
        else:
            raw = ctx.fs.read_bytes(archive)
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal() from None
    found = detect_codec(raw)
    use = found or codec
    if use is not None:
        try:
            raw = decompress_all(use, raw, ctx.limits.max_fs_bytes)
        except TooLarge:
            await err.say(
                f"{archive}: decompressed archive exceeds the filesystem limit "
                f"({ctx.limits.max_fs_bytes} bytes)"
            )
            raise _TarFatal() from None
        except (NotFormat, ValueError):
            await err.say("Child returned status 1")
            await err.say("Error is not recoverable: exiting now")
            raise _TarFatal() from None
    return raw


def _member_selected(name: str, operands: list[str], used: set[str]) -> bool:
    if not operands:
        return True
    n = name.rstrip("/")
    for op in operands:
        o = op.rstrip("/")
        if (
            n == o
            or n.startswith(o + "/")
            or (any(ch in o for ch in "*?[") and fnmatch.fnmatchcase(n, o))
        ):
            used.add(op)
            return True
    return False


async def _tar_read(
    ctx: Context,
    p: Any,
    err: _TarErr,
    archive: str,
    codec: Codec | None,
    operands: list[str],
    base: str,
    mode: str,
    strip: int,
) -> None:
    raw = await _tar_load(ctx, err, archive, codec)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")  # noqa: SIM115
    except tarfile.TarError:
        if not raw:
            await err.say("This does not look like a tar archive")
        else:
            await err.say("This does not look like a tar archive")
            await err.say("Skipping to next header")
        await err.say("Exiting with failure status due to previous errors")
        raise _TarFatal() from None
    excludes = p.list("exclude")
    used: set[str] = set()
    fs = ctx.fs.with_cwd(ctx.fs.abspath(base)) if mode == "extract" else ctx.fs
    if mode == "extract" and not ctx.fs.isdir(base):
        await err.say(f"{base}: Cannot open: No such file or directory")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal()
    verbose_out = ctx.stdout
    dir_times: list[tuple[str, int, int]] = []
    # directories this extraction has seen to be real directories (not symbolic links), so
    # that each member does not look up every component of its path again
    known_dirs: set[str] = set()
    limit = ctx.limits.max_file_size
    try:
        members = iter(tf)
        while True:
            try:
                ti = next(members)
            except StopIteration:
                break
            except tarfile.TarError:
                await err.fail("Skipping to next header")
                break
            ctx.check_killed()
            name = ti.name
            if ti.isdir() and not name.endswith("/"):
                shown_name = name + "/"
            else:
                shown_name = name
            if _excluded(name, excludes) or not _member_selected(name, operands, used):
                continue
            if mode == "list":
                _, removed = _safe_member_name(name)
                if removed:
                    await err.once(f"Removing leading `{removed}' from member names")
                if p.flag("verbose"):
                    await verbose_out.write(_enc(_tar_long_line(ti, shown_name) + "\n"))
                else:
                    await verbose_out.write(_enc(shown_name + "\n"))
                continue
            safe, removed = _safe_member_name(name)
            if removed:
                await err.once(f"Removing leading `{removed}' from member names")
            if safe is None:
                await err.fail(f"{name}: Member name contains '..'")
                continue
            if strip:
                parts = [x for x in safe.split("/") if x]
                if len(parts) <= strip:
                    continue
                safe = "/".join(parts[strip:])
            if (not safe or safe in (".", "./")) and ti.isdir():
                continue
            if p.flag("verbose"):
                out = ctx.stderr if p.flag("to_stdout") else verbose_out
                line = _tar_long_line(ti, shown_name) if p.count("verbose") >= 2 else shown_name
                await out.write(_enc(line + "\n"))
            if p.flag("to_stdout"):
                if ti.isfile():
                    try:
                        fh = tf.extractfile(ti)
                        data = fh.read() if fh is not None else b""
                    except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
                        await err.fail(f"{name}: Cannot read: {exc}")
                        continue
                    await ctx.stdout.write(data)
                continue
            try:
                await _tar_extract_member(
                    ctx, fs, tf, ti, safe, p, err, dir_times, limit, known_dirs
                )
            except (tarfile.TarError, EOFError, ValueError, zlib.error) as exc:
                await err.fail(f"{name}: Cannot extract: {exc}")
    finally:
        tf.close()
    for path, atime, mtime in reversed(dir_times):
        try:
            fs.utime(path, (atime, mtime))
        except OSError:
            pass
    for op in operands:
        if op not in used:
            await err.fail(f"{op}: Not found in archive")


def _through_symlink(fs: Any, path: str, known: set[str] | None = None) -> bool:
    """Is a directory on the way to ``path`` a symbolic link? ``known`` holds directories
    already seen to be real ones (and gains those seen now)."""
    if known is None:
        known = set()
    parts = path.split("/")[:-1]
    cur = ""
    for part in parts:
        if not part or part == ".":
            continue
        cur = f"{cur}/{part}" if cur else part
        if cur in known:
            continue
        try:
            st = fs.lstat(cur)
        except OSError:
            return False
        if st.is_symlink():
            return True
        if st.is_dir():
            known.add(cur)
    return False


def _prefixes(path: str) -> list[str]:
    out = []
    cur = ""
    for part in path.split("/"):
        if not part or part == ".":
            continue
        cur = f"{cur}/{part}" if cur else part
        out.append(cur)
    return out


async def _tar_extract_member(
    ctx: Context,
    fs: Any,
    tf: tarfile.TarFile,
    ti: tarfile.TarInfo,
    path: str,
    p: Any,
    err: _TarErr,
    dir_times: list[tuple[str, int, int]],
    limit: int,
    known: set[str],
) -> None:
    path = path.rstrip("/") or path
    if _through_symlink(fs, path, known):
        await err.fail(f"{path}: Cannot open: Not a directory (refusing to follow a symbolic link)")
        return
    parent = posixpath.dirname(path)
    try:
        if parent and parent not in known:
            fs.mkdir(parent, parents=True, exist_ok=True)
            # no component was a symbolic link (checked above), so all are directories now
            known.update(_prefixes(parent))
    except OSError as exc:
        await err.fail(f"{path}: Cannot mkdir: {exc.strerror}")
        return
    mode = ti.mode & 0o7777
    if not p.flag("preserve_permissions"):
        mode &= ~0o022
    mtime_ns = int(ti.mtime) * 10**9
    exists = fs.lexists(path)
    if ti.issym() or (exists and not ti.isdir()):
        # what was a directory may become a file or a link: look again from now on
        known.clear()
    if exists and p.flag("keep_old_files") and not ti.isdir():
        await err.fail(f"{path}: Cannot open: File exists")
        return
    if exists and p.flag("skip_old_files") and not ti.isdir():
        return
    try:
        if ti.isdir():
            if exists and not fs.isdir(path):
                fs.unlink(path)
                known.clear()
            fs.mkdir(path, mode=mode | 0o700, parents=True, exist_ok=True)
            try:
                fs.chmod(path, mode)
            except OSError:
                pass
            if not p.flag("touch"):
                dir_times.append((path, mtime_ns, mtime_ns))
            return
        if exists:
            if fs.isdir(path) and not fs.islink(path):
                await err.fail(f"{path}: Cannot open: Is a directory")
                return
            fs.unlink(path)
        if ti.issym():
            fs.symlink(ti.linkname, path)
            return
        if ti.islnk():
            target, _ = _safe_member_name(ti.linkname)
            if target is None:
                await err.fail(f"{path}: Cannot hard link to '{ti.linkname}': Invalid argument")
                return
            fs.link(target, path)
            return
        if not ti.isfile():
            await err.fail(f"{path}: Cannot create special file: not supported")
            return
        if ti.size > limit:
            await err.fail(f"{path}: Cannot write: File too large (limit {limit} bytes)")
            return
        fh = tf.extractfile(ti)
        data = fh.read() if fh is not None else b""
        fs.write_bytes(path, data, mode=mode)
        fs.chmod(path, mode)
        if not p.flag("touch"):
            fs.utime(path, (mtime_ns, mtime_ns))
    except OSError as exc:
        await err.fail(f"{path}: Cannot open: {exc.strerror}")


async def _tar_append(
    ctx: Context, p: Any, err: _TarErr, archive: str, operands: list[str], base: str
) -> None:
    if archive == "-":
        await err.say("Options '-Aru' are incompatible with '-f -'")
        raise _TarFatal()
    try:
        old = ctx.fs.read_bytes(archive) if ctx.fs.exists(archive) else b""
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        raise _TarFatal() from None
    if detect_codec(old) is not None:
        await err.say("Cannot update compressed archives")
        await err.say("Error is not recoverable: exiting now")
        raise _TarFatal()
    sink = _Capture()
    saved = ctx.stdout
    ctx.stdout = sink  # type: ignore[assignment]
    try:
        await _tar_create(ctx, p, err, "-", None, operands, base)
    finally:
        ctx.stdout = saved
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for blob in (old, sink.getvalue()):
        if not blob:
            continue
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tf:
            for ti in tf:
                fh = tf.extractfile(ti) if ti.isfile() else None
                members.append((ti, fh.read() if fh is not None else None))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as out:
        for ti, data in members:
            out.addfile(ti, io.BytesIO(data) if data is not None else None)
    try:
        ctx.fs.write_bytes(archive, buf.getvalue())
    except OSError as exc:
        await err.say(f"{archive}: Cannot open: {exc.strerror}")
        raise _TarFatal() from None


class _Capture:
    def __init__(self) -> None:
        self.buf = bytearray()

    async def write(self, data: bytes) -> None:
        self.buf += data

    def getvalue(self) -> bytes:
        return bytes(self.buf)
