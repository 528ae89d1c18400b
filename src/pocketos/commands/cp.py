"""cp, mv and install."""

from __future__ import annotations

import errno
import posixpath

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, report
from pocketos.commands._fs import (
    UMASK,
    C_key,
    _start,
    apply_mode,
    file_key,
    missing_operand,
    prompt_yes,
    q,
    strerror,
    user_maps,
)
from pocketos.commands.rm import _mkdirs
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.process import Context

CP_HELP = """Usage: cp [OPTION]... SOURCE DEST
  or:  cp [OPTION]... SOURCE... DIRECTORY
  or:  cp [OPTION]... -t DIRECTORY SOURCE...
Copy SOURCE to DEST, or multiple SOURCE(s) to DIRECTORY.

  -a, --archive                same as -dR --preserve=all
  -d                           same as --no-dereference --preserve=links
  -f, --force                  remove an unwritable destination and try again
  -i, --interactive            prompt before overwrite (reads the answer from stdin)
  -H                           follow command-line symbolic links in SOURCE
  -L, --dereference            always follow symbolic links in SOURCE
  -n, --no-clobber             do not overwrite an existing file
  -P, --no-dereference         never follow symbolic links in SOURCE
  -p                           preserve mode, ownership and timestamps
  -R, -r, --recursive          copy directories recursively
  -s, --symbolic-link          make symbolic links instead of copying
  -l, --link                   hard link files instead of copying
  -t, --target-directory=DIR   copy all SOURCE arguments into DIR
  -T, --no-target-directory    treat DEST as a normal file
  -u, --update                 copy only when SOURCE is newer than DEST or DEST is missing
  -v, --verbose                explain what is being done
"""


def _inside(fs: FsView, parent: str, child: str) -> bool:
    """Is ``child`` (which may not exist yet) inside or equal to directory ``parent``?"""
    try:
        a = fs.realpath(parent)
    except OSError:
        a = fs.abspath(parent)
    try:
        b = fs.realpath(posixpath.dirname(fs.abspath(child)) or "/")
        b = posixpath.join(b, posixpath.basename(fs.abspath(child)))
    except OSError:
        b = fs.abspath(child)
    return b == a or b.startswith(a.rstrip("/") + "/")


def _same(a: StatResult, b: StatResult) -> bool:
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


class _Copier:
    def __init__(
        self,
        ctx: Context,
        *,
        recursive: bool,
        deref: str,
        preserve: bool,
        no_clobber: bool = False,
        force: bool = False,
        interactive: bool = False,
        verbose: bool = False,
        update: bool = False,
        name: str = "cp",
        quiet_verbose: bool = False,
    ) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.recursive = recursive
        self.deref = deref  # "L" always, "H" command line, "P" never
        self.preserve = preserve
        self.no_clobber = no_clobber
        self.force = force
        self.interactive = interactive
        self.verbose = verbose and not quiet_verbose
        self.update = update
        self.status = 0
        #: (device, inode) of the source directories being copied: one met again through a
        #: link (-L) is a cycle, which GNU refuses rather than copy without end
        self.ancestors: set[tuple[int, int]] = set()

    async def fail(self, msg: str) -> bool:
        await self.ctx.err(msg)
        self.status = 1
        return False

    def _attrs(self, src_st: StatResult, dst: str, link: bool = False) -> None:
        if not self.preserve:
            return
        try:
            if not link:
                self.fs.chmod(dst, src_st.st_mode & 0o7777)
            self.fs.chown(dst, src_st.st_uid, src_st.st_gid, follow_symlinks=not link)
        except OSError:
            pass
        try:
            self.fs.utime(dst, (src_st.st_atime_ns, src_st.st_mtime_ns), follow_symlinks=not link)
        except OSError:
            pass

    async def copy(self, src: str, dst: str, top: bool = True) -> bool:
        self.ctx.check_killed()
        fs = self.fs
        try:
            lst = fs.lstat(src)
        except OSError as exc:
            return await self.fail(f"cannot stat {q(src)}: {strerror(exc)}")
        follow = self.deref == "L" or (self.deref == "H" and top)
        st = lst
        if lst.is_symlink() and follow:
            try:
                st = fs.stat(src)
            except OSError as exc:
                return await self.fail(f"cannot stat {q(src)}: {strerror(exc)}")
        try:
            dst_st: StatResult | None = fs.stat(dst)
        except OSError:
            dst_st = None
        try:
            dst_lst: StatResult | None = fs.lstat(dst)
        except OSError:
            dst_lst = None
        if dst_st is not None and _same(st, dst_st) and not (st.is_symlink()):
            return await self.fail(f"{q(src)} and {q(dst)} are the same file")
        if st.is_dir():
            if not self.recursive:
                return await self.fail(f"-r not specified; omitting directory {q(src)}")
            if _inside(fs, src, dst):
                return await self.fail(f"cannot copy a directory, {q(src)}, into itself, {q(dst)}")
            if dst_st is not None and not dst_st.is_dir():
                return await self.fail(
                    f"cannot overwrite non-directory {q(dst)} with directory {q(src)}"
                )
            key = file_key(st)
            if key in self.ancestors:
                return await self.fail(f"cannot copy cyclic symbolic link {q(src)}")
            if dst_st is None:
                try:
                    fs.mkdir(dst, mode=(st.st_mode & 0o7777) & ~UMASK | 0o700)
                except OSError as exc:
                    return await self.fail(f"cannot create directory {q(dst)}: {strerror(exc)}")
                if self.verbose:
                    await self.ctx.out(f"{q(src)} -> {q(dst)}\n")
            try:
                names = sorted(fs.listdir(src), key=C_key)
            except OSError as exc:
                return await self.fail(f"cannot access {q(src)}: {strerror(exc)}")
            ok = True
            if key is not None:
                self.ancestors.add(key)
            for n in names:
                ok = (
                    await self.copy(posixpath.join(src, n), posixpath.join(dst, n), top=False)
                    and ok
                )
            self.ancestors.discard(key)
            if self.preserve:
                self._attrs(st, dst)
            return ok
        # non-directories
        if dst_lst is not None:
            if dst_st is not None and dst_st.is_dir():
                return await self.fail(f"cannot overwrite directory {q(dst)} with non-directory")
            if self.no_clobber:
                return True
            if self.update and dst_st is not None and dst_st.st_mtime_ns >= st.st_mtime_ns:
                return True
            if self.interactive and not await prompt_yes(self.ctx, f"overwrite {q(dst)}? "):
                return True
        if st.is_symlink():
            try:
                target = fs.readlink(src)
                if dst_lst is not None:
                    fs.unlink(dst)
                fs.symlink(target, dst)
            except OSError as exc:
                return await self.fail(f"cannot create symbolic link {q(dst)}: {strerror(exc)}")
            self._attrs(st, dst, link=True)
        else:
            try:
                data = fs.read_bytes(src)
            except OSError as exc:
                return await self.fail(f"cannot open {q(src)} for reading: {strerror(exc)}")
            if dst_lst is not None and dst_lst.is_symlink() and dst_st is None:
                # a dangling link as destination: GNU writes through it; we replace it
                try:
                    fs.unlink(dst)
                except OSError:
                    pass
                dst_lst = None
            try:
                self._write(dst, data, st, existed=dst_lst is not None)
            except OSError as exc:
                if self.force and dst_lst is not None:
                    try:
                        fs.unlink(dst)
                        self._write(dst, data, st, existed=False)
                    except OSError as exc2:
                        return await self.fail(
                            f"cannot create regular file {q(dst)}: {strerror(exc2)}"
                        )
                else:
                    verb = "cannot create regular file" if dst_lst is None else "cannot open"
                    tail = "" if dst_lst is None else " for writing"
                    return await self.fail(f"{verb} {q(dst)}{tail}: {strerror(exc)}")
            self._attrs(st, dst)
        if self.verbose:
            await self.ctx.out(f"{q(src)} -> {q(dst)}\n")
        return True

    def _write(self, dst: str, data: bytes, st: StatResult, existed: bool) -> None:
        mode = (st.st_mode & 0o7777) & ~UMASK
        self.fs.write_bytes(dst, data, mode=mode)
        if not existed:
            try:
                cur = self.fs.stat(dst).st_mode & 0o7777
                if cur != mode:
                    self.fs.chmod(dst, mode)
            except OSError:
                pass


def _is_link(fs: FsView, path: str) -> bool:
    try:
        return fs.lstat(path).is_symlink()
    except OSError:
        return False


def _targets(ctx: Context, p: Parsed, need: int = 2) -> tuple[list[tuple[str, str]], str | None]:
    """Pair each source with its destination path; returns (pairs, error message)."""
    fs = ctx.fs
    ops = p.operands
    tdir = p.str("target_directory")
    no_target = p.flag("no_target_directory")
    if tdir is not None:
        if not ops:
            return [], "missing file operand"
        if not fs.isdir(tdir):
            if not fs.exists(tdir):
                return [], f"target directory {q(tdir)}: No such file or directory"  # noqa: E501
            return [], f"target {q(tdir)} is not a directory"
        return [
            (s, posixpath.join(tdir, posixpath.basename(s.rstrip("/")) or s)) for s in ops
        ], None
    if not ops:
        return [], "missing file operand"
    if len(ops) == 1:
        return [], f"missing destination file operand after {q(ops[0])}"
    if no_target:
        if len(ops) > 2:
            return [], f"extra operand {q(ops[2])}"
        return [(ops[0], ops[1])], None
    dest = ops[-1]
    if fs.isdir(dest):
        return [
            (s, posixpath.join(dest, posixpath.basename(s.rstrip("/")) or s)) for s in ops[:-1]
        ], None
    if len(ops) > 2:
        return [], f"target {q(dest)} is not a directory"
    return [(ops[0], dest)], None


async def _target_error(ctx: Context, msg: str) -> int:
    if msg.startswith("missing"):
        return await report(
            ctx, UsageError(f"{ctx.name}: {msg}\nTry '{ctx.name} --help' for more information.")
        )
    await ctx.err(msg)
    return 1


@command("cp")
async def cp(ctx: Context) -> int:
    spec = [
        Opt("a", "archive"),
        Opt("d"),
        Opt("f", "force"),
        Opt("i", "interactive"),
        Opt("H"),
        Opt("L", "dereference"),
        Opt("n", "no-clobber"),
        Opt("P", "no-dereference"),
        Opt("p"),
        Opt("", "preserve", "optional"),
        Opt("R", "recursive", dest="r"),
        Opt("r", dest="r"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("u", "update"),
        Opt("v", "verbose"),
        Opt("x", "one-file-system"),
        Opt("s", "symbolic-link"),
        Opt("l", "link"),
    ]
    p = await _start(ctx, spec, CP_HELP)
    if isinstance(p, int):
        return p
    if p.flag("s") or p.flag("l"):
        return await _cp_links(ctx, p)
    recursive = p.flag("r") or p.flag("a")
    deref = "L" if not recursive else "P"
    for k, _ in p.order:
        if k in ("L",):
            deref = "L"
        elif k in ("P", "d", "a"):
            deref = "P"
        elif k == "H":
            deref = "H"
    interactive = False
    no_clobber = False
    for k, _ in p.order:
        if k == "i":
            interactive, no_clobber = True, False
        elif k == "n":
            interactive, no_clobber = False, True
        elif k == "f":
            interactive = False
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    c = _Copier(
        ctx,
        recursive=recursive,
        deref=deref,
        preserve=p.flag("a") or p.flag("p") or p.get("preserve") is not None,
        no_clobber=no_clobber,
        force=p.flag("f"),
        interactive=interactive,
        verbose=p.flag("v"),
        update=p.flag("u"),
    )
    for src, dst in pairs:
        if (
            dst.endswith("/")
            and not ctx.fs.isdir(dst)
            and ctx.fs.exists(src)
            and not ctx.fs.isdir(src)
        ):
            if c.verbose:
                await ctx.out(f"{q(src)} -> {q(dst)}\n")
            await ctx.err(f"cannot create regular file {q(dst)}: Not a directory")
            c.status = 1
            continue
        await c.copy(src, dst)
    return c.status


async def _cp_links(ctx: Context, p: Parsed) -> int:
    """``cp -s`` / ``cp -l``: make links instead of copies."""
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    fs = ctx.fs
    status = 0
    for src, dst in pairs:
        try:
            st = fs.lstat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if st.is_dir() and not (p.flag("r") or p.flag("a")):
            await ctx.err(f"-r not specified; omitting directory {q(src)}")
            status = 1
            continue
        if p.flag("s") and not src.startswith("/") and "/" in dst.rstrip("/"):
            await ctx.err(f"{dst}: can make relative symbolic links only in current directory")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"{q(src)} -> {q(dst)}\n")
        try:
            if fs.lexists(dst):
                if p.flag("n"):
                    continue
                if not p.flag("f"):
                    raise FileExistsError(errno.EEXIST, "File exists", dst)
                fs.unlink(dst)
            if p.flag("s"):
                fs.symlink(src, dst)
            else:
                fs.link(src, dst)
        except OSError as exc:
            kind = "symbolic link" if p.flag("s") else "hard link"
            await ctx.err(f"cannot create {kind} {q(dst)} to {q(src)}: {strerror(exc)}")
            status = 1
    return status


MV_HELP = """Usage: mv [OPTION]... SOURCE DEST
  or:  mv [OPTION]... SOURCE... DIRECTORY
  or:  mv [OPTION]... -t DIRECTORY SOURCE...
Rename SOURCE to DEST, or move SOURCE(s) to DIRECTORY.

  -f, --force                  do not prompt before overwriting
  -i, --interactive            prompt before overwrite (reads the answer from stdin)
  -n, --no-clobber             do not overwrite an existing file
  -t, --target-directory=DIR   move all SOURCE arguments into DIR
  -T, --no-target-directory    treat DEST as a normal file
  -u, --update                 move only when SOURCE is newer than DEST or DEST is missing
  -v, --verbose                explain what is being done
"""


@command("mv")
async def mv(ctx: Context) -> int:
    spec = [
        Opt("f", "force"),
        Opt("i", "interactive"),
        Opt("n", "no-clobber"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("u", "update"),
        Opt("v", "verbose"),
        Opt("b", "backup", "optional"),
    ]
    p = await _start(ctx, spec, MV_HELP)
    if isinstance(p, int):
        return p
    interactive = False
    no_clobber = False
    for k, _ in p.order:
        if k == "i":
            interactive, no_clobber = True, False
        elif k == "n":
            interactive, no_clobber = False, True
        elif k == "f":
            interactive, no_clobber = False, False
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    fs = ctx.fs
    status = 0
    for src, dst in pairs:
        ctx.check_killed()
        try:
            sst = fs.lstat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if dst.endswith("/") and not (sst.is_dir() and not _is_link(fs, dst.rstrip("/"))):
            # "DEST/" names a directory: a file (or a link) there cannot take its place
            await ctx.err(f"cannot move {q(src)} to {q(dst)}: Not a directory")
            status = 1
            continue
        try:
            dst_lst: StatResult | None = fs.lstat(dst)
        except OSError:
            dst_lst = None
        if dst_lst is not None:
            try:
                dst_st = fs.stat(dst)
            except OSError:
                dst_st = dst_lst
            if _same(sst, dst_lst):
                await ctx.err(f"{q(src)} and {q(dst)} are the same file")
                status = 1
                continue
            if no_clobber:
                continue
            if p.flag("u") and dst_st.st_mtime_ns >= sst.st_mtime_ns:
                continue
            if interactive and not await prompt_yes(ctx, f"overwrite {q(dst)}? "):
                continue
            if sst.is_dir() and not dst_st.is_dir():
                await ctx.err(f"cannot overwrite non-directory {q(dst)} with directory {q(src)}")
                status = 1
                continue
            if not sst.is_dir() and dst_st.is_dir() and not dst_lst.is_symlink():
                await ctx.err(f"cannot overwrite directory {q(dst)} with non-directory")
                status = 1
                continue
        if sst.is_dir() and _inside(fs, src, dst):
            await ctx.err(f"cannot move {q(src)} to a subdirectory of itself, {q(dst)}")
            status = 1
            continue
        try:
            fs.rename(src, dst)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                ok = await _move_across(ctx, src, dst, sst, dst_lst)
                if not ok:
                    status = 1
                    continue
            else:
                await ctx.err(f"cannot move {q(src)} to {q(dst)}: {strerror(exc)}")
                status = 1
                continue
        if p.flag("v"):
            await ctx.out(f"renamed {q(src)} -> {q(dst)}\n")
    return status


async def _move_across(
    ctx: Context, src: str, dst: str, sst: StatResult, dst_lst: StatResult | None
) -> bool:
    """rename() failed with EXDEV: copy everything, keeping attributes, then delete ``src``."""
    fs = ctx.fs
    if dst_lst is not None:
        try:
            if dst_lst.is_dir():
                fs.rmdir(dst)
            else:
                fs.unlink(dst)
        except OSError as exc:
            await ctx.err(f"cannot remove {q(dst)}: {strerror(exc)}")
            return False
    c = _Copier(ctx, recursive=True, deref="P", preserve=True)
    if not await c.copy(src, dst):
        return False
    try:
        if sst.is_dir():
            fs.remove_tree(src)
        else:
            fs.unlink(src)
    except OSError as exc:
        await ctx.err(f"cannot remove {q(src)}: {strerror(exc)}")
        return False
    return True


INSTALL_HELP = """Usage: install [OPTION]... SOURCE DEST
  or:  install [OPTION]... SOURCE... DIRECTORY
  or:  install [OPTION]... -t DIRECTORY SOURCE...
  or:  install [OPTION]... -d DIRECTORY...
Copy files and set attributes (mode 0755 unless -m is given).

  -d, --directory             treat all arguments as directory names; create them
  -D                          create all leading components of DEST
  -m, --mode=MODE             set permission mode (as in chmod)
  -o, --owner=OWNER / -g, --group=GROUP   set ownership
  -p, --preserve-timestamps   keep access/modification times of SOURCE
  -t, --target-directory=DIR  copy all SOURCE arguments into DIR
  -T, --no-target-directory   treat DEST as a normal file
  -v, --verbose               print the name of each created file or directory
"""


@command("install")
async def install(ctx: Context) -> int:
    spec = [
        Opt("d", "directory"),
        Opt("D"),
        Opt("m", "mode", "required"),
        Opt("o", "owner", "required"),
        Opt("g", "group", "required"),
        Opt("p", "preserve-timestamps"),
        Opt("s", "strip"),
        Opt("c"),
        Opt("C", "compare"),
        Opt("t", "target-directory", "required", dest="target_directory"),
        Opt("T", "no-target-directory", dest="no_target_directory"),
        Opt("v", "verbose"),
    ]
    p = await _start(ctx, spec, INSTALL_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    mode_spec = p.str("m")
    try:
        mode = apply_mode(mode_spec, 0o755, False, base_umask=False) if mode_spec else 0o755
    except ValueError:
        await ctx.err(f"invalid mode {q(mode_spec or '')}")
        return 1
    uid, gid = -1, -1
    _, unames, _, gnames = user_maps(fs)
    if p.str("o") is not None:
        o = p.str("o") or ""
        uid = int(o) if o.isdigit() else unames.get(o, -2)
        if uid == -2:
            await ctx.err(f"invalid user {q(o)}")
            return 1
    if p.str("g") is not None:
        g = p.str("g") or ""
        gid = int(g) if g.isdigit() else gnames.get(g, -2)
        if gid == -2:
            await ctx.err(f"invalid group {q(g)}")
            return 1
    status = 0
    if p.flag("d"):
        if not p.operands:
            return await report(ctx, missing_operand(ctx))
        for d in p.operands:
            try:
                await _mkdirs(ctx, d, verbose=p.flag("v"), prefix="install: creating directory ")
                fs.chmod(d, mode)
                if uid != -1 or gid != -1:
                    fs.chown(d, uid, gid)
            except OSError as exc:
                await ctx.err(f"cannot create directory {q(d)}: {strerror(exc)}")
                status = 1
        return status
    if p.flag("D") and len(p.operands) >= 2 and p.str("target_directory") is None:
        parent = posixpath.dirname(p.operands[-1].rstrip("/"))
        if parent and not fs.isdir(parent):
            try:
                await _mkdirs(
                    ctx, parent, verbose=p.flag("v"), prefix="install: creating directory "
                )
            except OSError as exc:
                await ctx.err(f"cannot create directory {q(parent)}: {strerror(exc)}")
                return 1
    pairs, err = _targets(ctx, p)
    if err:
        return await _target_error(ctx, err)
    for src, dst in pairs:
        try:
            st = fs.stat(src)
        except OSError as exc:
            await ctx.err(f"cannot stat {q(src)}: {strerror(exc)}")
            status = 1
            continue
        if st.is_dir():
            await ctx.err(f"omitting directory {q(src)}")
            status = 1
            continue
        try:
            data = fs.read_bytes(src)
            if fs.lexists(dst) and not fs.isdir(dst):
                fs.unlink(dst)
            fs.write_bytes(dst, data, mode=mode)
            fs.chmod(dst, mode)
            if uid != -1 or gid != -1:
                fs.chown(dst, uid, gid)
            if p.flag("p"):
                fs.utime(dst, (st.st_atime_ns, st.st_mtime_ns))
        except OSError as exc:
            await ctx.err(f"cannot create regular file {q(dst)}: {strerror(exc)}")
            status = 1
            continue
        if p.flag("v"):
            await ctx.out(f"{q(src)} -> {q(dst)}\n")
    return status
