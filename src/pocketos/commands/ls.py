"""ls and dir."""

from __future__ import annotations

import stat as S
import time
from datetime import datetime

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed
from pocketos.commands._fs import (
    C_key,
    _start,
    child_path,
    file_key,
    human_size,
    mode_string,
    q,
    qf,
    split_major_minor,
    strerror,
    tz_from_env,
    user_maps,
)
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context

LS_HELP = """Usage: ls [OPTION]... [FILE]...
List information about the FILEs (the current directory by default).
Entries are sorted in the C locale unless -t, -S or -U is given.

  -a, --all                  do not ignore entries starting with .
  -A, --almost-all           do not list implied . and ..
  -d, --directory            list directories themselves, not their contents
  -F, --classify             append indicator (one of */=@|) to entries
  -p                         append / indicator to directories
  -h, --human-readable       with -l, print sizes like 1K 234M 2G
  -i, --inode                print the index number of each file
  -l                         use a long listing format
  -n, --numeric-uid-gid      like -l, but list numeric user and group IDs
  -g / -o                    like -l, but without the owner / group
  -L, --dereference          show information for the file symlinks point to
  -r, --reverse              reverse order while sorting
  -R, --recursive            list subdirectories recursively
  -s, --size                 print the allocated size of each file, in blocks
  -S                         sort by file size, largest first
  -t                         sort by time, newest first
  -U                         do not sort; list entries in directory order
  -1                         list one file per line
      --color[=WHEN]         accepted; output is never coloured
"""


class _LsEnt:
    __slots__ = ("name", "path", "st", "target", "target_st")

    def __init__(
        self,
        name: str,
        path: str,
        st: StatResult,
        target: str | None = None,
        target_st: StatResult | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.st = st
        self.target = target
        self.target_st = target_st


def _indicator(st: StatResult | None, classify: bool, slash: bool) -> str:
    if st is None:
        return ""
    m = st.st_mode
    if S.S_ISDIR(m):
        return "/" if (classify or slash) else ""
    if not classify:
        return ""
    if S.S_ISLNK(m):
        return "@"
    if S.S_ISFIFO(m):
        return "|"
    if S.S_ISSOCK(m):
        return "="
    if S.S_ISREG(m) and m & 0o111:
        return "*"
    return ""


class _Ls:
    def __init__(self, ctx: Context, p: Parsed) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.all = False
        self.almost = False
        for key, _ in p.order:
            if key in ("a", "f"):
                self.all, self.almost = True, False
            elif key == "A":
                self.all, self.almost = False, True
        self.numeric = p.flag("n")
        self.no_owner = p.flag("g")
        self.no_group = p.flag("o")
        self.long = p.flag("l") or self.numeric or self.no_owner or self.no_group
        self.human = p.flag("h")
        self.recursive = p.flag("R")
        self.reverse = p.flag("r")
        self.dirs_only = p.flag("d")
        self.classify = p.flag("F")
        self.slash = p.flag("p")
        self.inode = p.flag("i")
        self.blocks = p.flag("s")
        self.deref = p.flag("L")
        self.sort = "name"
        for key, _ in p.order:
            if key == "t":
                self.sort = "time"
            elif key == "S":
                self.sort = "size"
            elif key in ("U", "f"):
                self.sort = "none"
        self.status = 0
        self.tz = tz_from_env(ctx.env)
        self.now = time.time()
        self._maps: tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]] | None = (
            None
        )
        self.first = True
        #: (device, inode) of the directories -R is inside, to notice a cycle through links
        self.listing: set[tuple[int, int]] = set()

    @property
    def maps(self) -> tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]]:
        if self._maps is None:
            self._maps = user_maps(self.fs)
        return self._maps

    def sort_ents(self, ents: list[_LsEnt]) -> list[_LsEnt]:
        if self.sort == "none":
            return ents
        if self.sort == "time":
            ents.sort(key=lambda e: (-e.st.st_mtime_ns, C_key(e.name)))
        elif self.sort == "size":
            ents.sort(key=lambda e: (-e.st.st_size, C_key(e.name)))
        else:
            ents.sort(key=lambda e: C_key(e.name))
        if self.reverse:
            ents.reverse()
        return ents

    def make(self, name: str, path: str, st: StatResult) -> _LsEnt:
        target = None
        tst = None
        if st.is_symlink():
            try:
                target = self.fs.readlink(path)
            except OSError:
                target = None
            try:
                tst = self.fs.stat(path)
            except OSError:
                tst = None
        return _LsEnt(name, path, st, target, tst)

    def date(self, st: StatResult) -> str:
        t = st.st_mtime_ns / 1e9
        dt = datetime.fromtimestamp(int(t), self.tz)
        recent = self.now - 15778476 < t <= self.now + 1
        if recent:
            return dt.strftime("%b ") + f"{dt.day:>2}" + dt.strftime(" %H:%M")
        return dt.strftime("%b ") + f"{dt.day:>2}" + f"  {dt.year}"

    def size_text(self, st: StatResult) -> str:
        if S.S_ISCHR(st.st_mode) or S.S_ISBLK(st.st_mode):
            ma, mi = split_major_minor(st.st_rdev)
            return f"{ma}, {mi}"
        return human_size(st.st_size) if self.human else str(st.st_size)

    def blocks_text(self, st: StatResult) -> str:
        kb = -(-st.st_blocks * 512 // 1024)
        return human_size(kb * 1024) if self.human else str(kb)

    def name_text(self, e: _LsEnt) -> str:
        s = e.name
        if self.long and e.target is not None:
            s += " -> " + e.target
            if self.classify:
                s += _indicator(e.target_st, True, False)
            return s
        return s + _indicator(e.st, self.classify, self.slash)

    async def emit(self, ents: list[_LsEnt], total: bool) -> None:
        out: list[str] = []
        if total and (self.long or self.blocks):
            kb = sum(-(-e.st.st_blocks * 512 // 1024) for e in ents)
            out.append(f"total {human_size(kb * 1024) if self.human else kb}")
        if self.long:
            uids, _, gids, _ = self.maps
            rows = []
            for e in ents:
                st = e.st
                owner = str(st.st_uid) if self.numeric else uids.get(st.st_uid, str(st.st_uid))
                group = str(st.st_gid) if self.numeric else gids.get(st.st_gid, str(st.st_gid))
                rows.append(
                    (
                        str(st.st_ino),
                        self.blocks_text(st),
                        mode_string(st.st_mode),
                        str(st.st_nlink),
                        owner,
                        group,
                        self.size_text(st),
                        self.date(st),
                        self.name_text(e),
                    )
                )
            if rows:
                w = [max(len(r[i]) for r in rows) for i in range(8)]
                for r in rows:
                    parts = []
                    if self.inode:
                        parts.append(r[0].rjust(w[0]))
                    if self.blocks:
                        parts.append(r[1].rjust(w[1]))
                    parts.append(r[2])
                    parts.append(r[3].rjust(w[3]))
                    if not self.no_owner:
                        parts.append(r[4].ljust(w[4]))
                    if not self.no_group:
                        parts.append(r[5].ljust(w[5]))
                    parts.append(r[6].rjust(w[6]))
                    parts.append(r[7])
                    parts.append(r[8])
                    out.append(" ".join(parts))
        else:
            iw = max((len(str(e.st.st_ino)) for e in ents), default=0)
            bw = max((len(self.blocks_text(e.st)) for e in ents), default=0)
            for e in ents:
                pre = ""
                if self.inode:
                    pre += str(e.st.st_ino).rjust(iw) + " "
                if self.blocks:
                    pre += self.blocks_text(e.st).rjust(bw) + " "
                out.append(pre + self.name_text(e))
        if out:
            await self.ctx.out("".join(s + "\n" for s in out))

    async def list_dir(self, path: str, shown: str, header: bool, st: StatResult) -> None:
        self.ctx.check_killed()
        try:
            names = self.fs.listdir(path)
        except OSError as exc:
            await self.ctx.err(f"cannot open directory {q(shown)}: {strerror(exc)}")
            self.status = max(self.status, 1 if not self.first_level else 2)
            return
        key = file_key(st)
        if self.recursive and key in self.listing:
            # a link (-L) back to a directory this walk is inside: GNU names it and goes on
            await self.ctx.err(f"{qf(shown)}: not listing already-listed directory")
            self.status = 2
            return
        if header:
            await self.ctx.out(("" if self.first else "\n") + shown + ":\n")
        self.first = False
        if self.all:
            names = [".", "..", *names]
        elif not self.almost:
            names = [n for n in names if not n.startswith(".")]
        else:
            names = [n for n in names if n not in (".", "..")]
        ents: list[_LsEnt] = []
        for n in names:
            p = child_path(path, n)
            try:
                st = (
                    self.fs.stat(p, follow_symlinks=self.deref)
                    if n not in (".", "..")
                    else self.fs.stat(p)
                )
            except OSError:
                try:
                    st = self.fs.lstat(p)
                except OSError as exc:
                    await self.ctx.err(f"cannot access {q(p)}: {strerror(exc)}")
                    self.status = max(self.status, 1)
                    continue
            ents.append(self.make(n, p, st))
        ents = self.sort_ents(ents)
        await self.emit(ents, True)
        if self.recursive:
            self.first_level = False
            if key is not None:
                self.listing.add(key)
            for e in ents:
                if e.name in (".", "..") or not e.st.is_dir():
                    continue
                sub_shown = (shown.rstrip("/") + "/" + e.name) if shown != "/" else "/" + e.name
                if shown.endswith("/") and shown != "/":
                    sub_shown = shown + e.name
                await self.list_dir(e.path, sub_shown, True, e.st)
            self.listing.discard(key)

    first_level = True

    async def run(self, operands: list[str]) -> int:
        implicit = not operands
        if implicit:
            operands = ["."]
        follow_cmdline = self.deref or not (self.long or self.dirs_only or self.classify)
        files: list[_LsEnt] = []
        dirs: list[_LsEnt] = []
        for op in operands:
            try:
                st = self.fs.lstat(op)
            except OSError as exc:
                await self.ctx.err(f"cannot access {q(op)}: {strerror(exc)}")
                self.status = 2
                continue
            if st.is_symlink() and (follow_cmdline or self.deref):
                try:
                    tst = self.fs.stat(op)
                    if self.deref or tst.is_dir():
                        st = tst
                except OSError:
                    pass
            ent = self.make(op, op, st)
            if st.is_dir() and not self.dirs_only:
                dirs.append(ent)
            else:
                files.append(ent)
        files = self.sort_ents(files)
        if files:
            await self.emit(files, False)
            self.first = False
        dirs = self.sort_ents(dirs)
        header = self.recursive or len(operands) > 1
        for d in dirs:
            self.first_level = True
            await self.list_dir(d.path, d.name, header, d.st)
        return self.status


@command("ls", "dir")
async def ls(ctx: Context) -> int:
    spec = [Opt(c) for c in "aAdFphilnLrRsStU1goCxf"] + [
        Opt("a", "all"),
        Opt("A", "almost-all"),
        Opt("d", "directory"),
        Opt("F", "classify"),
        Opt("h", "human-readable"),
        Opt("i", "inode"),
        Opt("n", "numeric-uid-gid"),
        Opt("L", "dereference"),
        Opt("r", "reverse"),
        Opt("R", "recursive"),
        Opt("s", "size"),
        Opt("", "color", "optional"),
        Opt("", "colour", "optional", dest="color"),
        Opt("", "group-directories-first"),
    ]
    # keys for short options are the letters themselves
    spec = [Opt(o.short, o.long, o.arg, dest=o.short or o.key()) for o in spec]
    p = await _start(ctx, spec, LS_HELP, status=2)
    if isinstance(p, int):
        return p
    color = p.get("color")
    if isinstance(color, str) and color not in (
        "never",
        "no",
        "none",
        "auto",
        "tty",
        "if-tty",
        "always",
        "yes",
        "force",
    ):
        await ctx.err(f"invalid argument {q(color)} for '--color'")
        await ctx.stderr.write(
            b"Valid arguments are:\n  - 'always', 'yes', 'force'\n"
            b"  - 'never', 'no', 'none'\n  - 'auto', 'tty', 'if-tty'\n"
            b"Try 'ls --help' for more information.\n"
        )
        return 1
    return await _Ls(ctx, p).run(p.operands)
