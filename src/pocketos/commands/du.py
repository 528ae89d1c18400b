"""du and df."""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._args import Opt
from pocketos.commands._fs import (
    _start,
    child_path,
    file_key,
    human_size,
    parse_size,
    q,
    read_dir_sorted,
    strerror,
)
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context

DU_HELP = """Usage: du [OPTION]... [FILE]...
Summarize disk usage of the set of FILEs, recursively for directories.

  -a, --all             write counts for all files, not just directories
      --apparent-size   print apparent sizes rather than disk usage
  -b, --bytes           equivalent to '--apparent-size --block-size=1'
  -c, --total           produce a grand total
  -d, --max-depth=N     print the total for a directory only if it is N or fewer levels deep
  -h, --human-readable  print sizes in human readable format (e.g., 1K 234M 2G)
  -k                    like --block-size=1K
  -m                    like --block-size=1M
  -s, --summarize       display only a total for each argument
  -L, --dereference     dereference all symbolic links
  -0, --null            end each output line with NUL, not newline
"""


@command("du")
async def du(ctx: Context) -> int:
    spec = [
        Opt("a", "all"),
        Opt("", "apparent-size"),
        Opt("b", "bytes"),
        Opt("c", "total"),
        Opt("d", "max-depth", "required"),
        Opt("h", "human-readable"),
        Opt("k"),
        Opt("m"),
        Opt("s", "summarize"),
        Opt("L", "dereference"),
        Opt("x"),
        Opt("0", "null"),
        Opt("", "si"),
        Opt("B", "block-size", "required"),
    ]
    p = await _start(ctx, spec, DU_HELP)
    if isinstance(p, int):
        return p
    fs = ctx.fs
    apparent = p.flag("apparent_size") or p.flag("b")
    unit = 1024
    human = False
    for k, v in p.order:
        if k == "b":
            unit = 1
        elif k == "k":
            unit = 1024
        elif k == "m":
            unit = 1024 * 1024
        elif k in ("h", "si"):
            human = True
        elif k == "B":
            try:
                unit = parse_size(str(v), allow_b=False)
            except ValueError:
                await ctx.err(f"invalid --block-size argument {q(str(v))}")
                return 1
    max_depth: int | None = None
    md = p.str("d")
    if md is not None:
        if not md.isdigit():
            await ctx.err(f"invalid maximum depth {q(md)}")
            return 1
        max_depth = int(md)
    if p.flag("s"):
        if max_depth is not None and max_depth != 0:
            await ctx.err(f"warning: summarizing conflicts with --max-depth={max_depth}")
            await ctx.stderr.write(b"Try 'du --help' for more information.\n")
            return 1
        max_depth = 0
    end = "\0" if p.flag("0") else "\n"
    show_all = p.flag("a")
    operands = p.operands or ["."]
    # what is counted once: GNU's du counts every file and directory once when it follows
    # links (-L: a link back to a directory it is inside, or to one it walked already, is
    # skipped without a word) or has several operands; otherwise only files with hard links
    once_all = p.flag("L") or len(operands) > 1
    seen: set[tuple[int, int]] = set()
    status = 0

    def size_of(st: StatResult) -> int:
        return st.st_size if apparent else st.st_blocks * 512

    def fmt(n: int) -> str:
        if human:
            return human_size(n, si=p.flag("si"))
        return str(-(-n // unit))

    async def walk(path: str, depth: int, top: bool) -> int:
        nonlocal status
        ctx.check_killed()
        try:
            st = fs.stat(path) if p.flag("L") else fs.lstat(path)
        except OSError as exc:
            await ctx.err(f"cannot access {q(path)}: {strerror(exc)}")
            status = 1
            return 0
        key = file_key(st)
        if key is not None and (once_all or (st.st_nlink > 1 and not st.is_dir())):
            if key in seen:
                return 0
            seen.add(key)
        total = size_of(st)
        if st.is_dir():
            names = await read_dir_sorted(ctx, path)
            if names is None:
                status = 1
                names = []
            for n in names:
                total += await walk(child_path(path, n), depth + 1, False)
            if max_depth is None or depth <= max_depth:
                await ctx.out(f"{fmt(total)}\t{path}{end}")
        elif top or (show_all and (max_depth is None or depth <= max_depth)):
            await ctx.out(f"{fmt(total)}\t{path}{end}")
        return total

    grand = 0
    for path in operands:
        grand += await walk(path, 0, True)
    if p.flag("c"):
        await ctx.out(f"{fmt(grand)}\ttotal{end}")
    return status


DF_HELP = """Usage: df [OPTION]... [FILE]...
Show information about the file system on which each FILE resides, or all file systems by
default. Figures are the VM's own: its size limit and the bytes its writable layers hold.

  -h, --human-readable  print sizes in powers of 1024 (e.g., 1023M)
  -H, --si              print sizes in powers of 1000 (e.g., 1.1G)
  -k                    like --block-size=1K
  -T, --print-type      print file system type
  -i, --inodes          list inode information instead of block usage
"""


def _mount_list(ctx: Context) -> list[tuple[str, str, bool]]:
    """(mount point, kind, read-only) for every mount the VFS exposes."""
    vfs = ctx.fs.vfs
    out: list[tuple[str, str, bool]] = []
    getter = getattr(vfs, "mount_points", None) or getattr(vfs, "list_mounts", None)
    try:
        points = list(getter()) if callable(getter) else list(getattr(vfs, "mounts", {}) or {})
    except Exception:  # noqa: BLE001 - any shape we do not know falls back to "/"
        points = []
    for mp in points:
        point = (
            mp
            if isinstance(mp, str)
            else getattr(mp, "path", None)
            or getattr(mp, "mount_point", None)
            or (mp[0] if isinstance(mp, tuple) else None)
        )
        if not isinstance(point, str):
            continue
        try:
            out.append(ctx.fs.mount_of(point))
        except (OSError, AttributeError):
            out.append((point, "memory", False))
    if not any(m[0] == "/" for m in out):
        try:
            out.insert(0, ctx.fs.mount_of("/"))
        except (OSError, AttributeError):
            out.insert(0, ("/", "memory", False))
    seen: set[str] = set()
    uniq = []
    for m in sorted(out, key=lambda m: m[0]):
        if m[0] not in seen:
            seen.add(m[0])
            uniq.append(m)
    return uniq


def _vm_usage(ctx: Context) -> tuple[int, int]:
    vfs = ctx.fs.vfs
    fn = getattr(vfs, "usage", None)
    if callable(fn):
        try:
            u = fn()
            if isinstance(u, tuple) and len(u) == 2:
                return int(u[0]), int(u[1])
        except Exception:  # noqa: BLE001
            pass
    return 0, 0


@command("df")
async def df(ctx: Context) -> int:
    spec = [
        Opt("h", "human-readable"),
        Opt("H", "si"),
        Opt("k"),
        Opt("T", "print-type"),
        Opt("i", "inodes"),
        Opt("a", "all"),
        Opt("l", "local"),
        Opt("P", "portability"),
        Opt("t", "type", "required", multiple=True),
        Opt("x", "exclude-type", "required", multiple=True),
    ]
    p = await _start(ctx, spec, DF_HELP)
    if isinstance(p, int):
        return p
    mounts = _mount_list(ctx)
    if p.operands:
        sel = []
        for f in p.operands:
            try:
                ctx.fs.stat(f)
                sel.append(ctx.fs.mount_of(f))
            except OSError as exc:
                await ctx.err(f"{f}: {strerror(exc)}")
            except AttributeError:
                sel.append(("/", "memory", False))
        if not sel:
            return 1
        mounts = sel
    used_b, used_i = _vm_usage(ctx)
    total_b = ctx.limits.max_fs_bytes
    total_i = ctx.limits.max_fs_inodes
    human = p.flag("h") or p.flag("H")
    si = p.flag("H")
    inodes = p.flag("i")
    rows: list[list[str]] = []
    if inodes:
        header = ["Filesystem", "Inodes", "IUsed", "IFree", "IUse%", "Mounted on"]
    elif human:
        header = ["Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"]
    else:
        header = ["Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on"]
    if p.flag("T"):
        header.insert(1, "Type")
    for point, kind, _ro in mounts:
        if point == "/":
            tot, used = (total_i, used_i) if inodes else (total_b, used_b)
        else:
            tot, used = (0, 0)
        avail = max(tot - used, 0)
        pct = "-" if tot == 0 else f"{-(-used * 100 // tot) if used else 0}%"
        if inodes:
            nums = [str(tot), str(used), str(avail)]
        elif human:
            nums = [human_size(x, si=si) if x else "0" for x in (tot, used, avail)]
        else:
            nums = [str(-(-x // 1024)) for x in (tot, used, avail)]
        row = ["pocketos" if point == "/" else kind, *nums, pct, point]
        if p.flag("T"):
            row.insert(1, kind)
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = max(widths[0], 14)
    first_num = 2 if p.flag("T") else 1
    for i in range(first_num, first_num + 3):
        widths[i] = max(widths[i], 5)
    lines = []
    for r in [header, *rows]:
        cells = []
        for i, cell in enumerate(r):
            if i == len(r) - 1:
                cells.append(cell)
            elif i == 0 or (p.flag("T") and i == 1):
                cells.append(cell.ljust(widths[i]))
            else:
                cells.append(cell.rjust(widths[i]))
        lines.append(" ".join(cells))
    await ctx.out("".join(line + "\n" for line in lines))
    return 0
