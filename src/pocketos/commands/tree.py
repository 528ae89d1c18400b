"""tree."""

from __future__ import annotations

import fnmatch

from pocketos.commands import command
from pocketos.commands._args import Opt
from pocketos.commands._fs import C_key, _start, child_path, file_key
from pocketos.kernel.process import Context

TREE_HELP = """usage: tree [-adfC] [-L level] [--noreport] [--dirsfirst] [<directory list>]
  -a            All files are listed.
  -d            List directories only.
  -f            Print the full path prefix for each file.
  -L level      Descend only level directories deep.
  -C / -n       Colorization on / off (output is never coloured).
  --noreport    Turn off file/directory count at end of tree listing.
  --dirsfirst   List directories before files.
"""


@command("tree")
async def tree(ctx: Context) -> int:
    spec = [
        Opt("a"),
        Opt("d"),
        Opt("f"),
        Opt("L", "", "required"),
        Opt("C"),
        Opt("n"),
        Opt("", "noreport"),
        Opt("", "dirsfirst"),
        Opt("l"),
        Opt("r"),
        Opt("I", "", "required", multiple=True),
        Opt("P", "", "required", multiple=True),
    ]
    p = await _start(ctx, spec, TREE_HELP, status=2)
    if isinstance(p, int):
        return p
    level: int | None = None
    lv = p.str("L")
    if lv is not None:
        if not lv.isdigit() or int(lv) < 1:
            await ctx.stderr.write(b"tree: Invalid level, must be greater than 0.\n")
            return 2
        level = int(lv)
    ignore = p.list("I")
    pattern = p.list("P")
    fs = ctx.fs
    ndirs = 0
    nfiles = 0
    lines: list[str] = []
    status = 0
    # (device, inode) of every directory met so far: with -l, a link to one of them is shown
    # "[recursive, not followed]" (a directory met twice through links, not only a cycle, as
    # tree does)
    met: set[tuple[int, int]] = set()

    def matches(pats: list[str], name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, alt) for pat in pats for alt in pat.split("|"))

    def walk(path: str, prefix: str, depth: int) -> None:
        nonlocal ndirs, nfiles
        ctx.check_killed()
        try:
            names = fs.listdir(path)
        except OSError:
            return
        if not p.flag("a"):
            names = [n for n in names if not n.startswith(".")]
        ents = []
        for n in names:
            child = child_path(path, n)
            try:
                lst = fs.lstat(child)
            except OSError:
                continue
            try:
                st = fs.stat(child)
            except OSError:
                st = lst
            is_dir = st.is_dir()
            if ignore and matches(ignore, n):
                continue
            if p.flag("d") and not is_dir:
                continue
            if pattern and not is_dir and not matches(pattern, n):
                continue
            ents.append((n, child, lst, st, is_dir))
        ents.sort(key=lambda e: C_key(e[0]), reverse=p.flag("r"))
        if p.flag("dirsfirst"):
            ents.sort(key=lambda e: not e[4])
        for i, (n, child, lst, st, is_dir) in enumerate(ents):
            last = i == len(ents) - 1
            shown = child if p.flag("f") else n
            if lst.is_symlink():
                try:
                    shown += " -> " + fs.readlink(child)
                except OSError:
                    pass
            follow = is_dir and (not lst.is_symlink() or p.flag("l"))
            if is_dir:
                key = file_key(st)
                if lst.is_symlink() and p.flag("l") and key in met:
                    shown += "  [recursive, not followed]"
                    follow = False
                if key is not None:
                    met.add(key)
            lines.append(prefix + ("└── " if last else "├── ") + shown)
            if is_dir:
                ndirs += 1
                if follow and (level is None or depth + 1 < level):
                    walk(child, prefix + ("    " if last else "│   "), depth + 1)
            else:
                nfiles += 1

    for top in p.operands or ["."]:
        try:
            st = fs.stat(top)
        except OSError:
            st = None
        if st is None or not st.is_dir():
            kind = "error opening dir" if st is None else "error opening dir"
            lines.append(f"{top}  [{kind}]")
            status = 2
            if st is not None:
                nfiles += 1
            continue
        lines.append(top)
        if (key := file_key(st)) is not None:
            met.add(key)
        walk(top, "", 0)
    if not p.flag("noreport"):
        lines.append("")
        d = f"{ndirs} director{'y' if ndirs == 1 else 'ies'}"
        if p.flag("d"):
            lines.append(d)
        else:
            lines.append(f"{d}, {nfiles} file{'' if nfiles == 1 else 's'}")
    await ctx.out("".join(line + "\n" for line in lines))
    return status
