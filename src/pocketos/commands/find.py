"""``find`` (GNU findutils behaviour).

Directories are walked in sorted (C locale) order, which is the VM's directory order.
Commands started by ``-exec``/``-execdir`` run through ``ctx.run``.
"""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._find.parser import Parser
from pocketos.commands._find.state import PRUNE, Entry, FindError, Node
from pocketos.commands._fs import C_key, file_key, q, strerror
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context

FIND_HELP = """Usage: find [-H] [-L] [-P] [path...] [expression]

Walks each path (default .) in sorted order and evaluates the expression for every file.
Operators: ( EXPR )  ! EXPR  -not EXPR  EXPR -a EXPR  EXPR -and EXPR  EXPR -o EXPR  EXPR -or EXPR
           EXPR , EXPR
Options:   -maxdepth N -mindepth N -depth -xdev -mount -daystart -regextype TYPE -follow -noleaf
Tests:     -name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname
           -type [fdlpscb] -xtype -size [+-]N[cwbkMG] -empty -newer FILE -anewer -cnewer
           -mtime -atime -ctime -mmin -amin -cmin [+-]N -perm [-/]MODE -user -group -uid -gid
           -nouser -nogroup -links -inum -samefile -readable -writable -executable
           -true -false
Actions:   -print -print0 -printf FORMAT -ls -fprint -delete -prune -quit
           -exec CMD {} ; -exec CMD {} + -execdir CMD {} ; -execdir CMD {} + -ok CMD ;
"""


def _entry_key(entry: tuple[str, object]) -> bytes:
    return C_key(entry[0])


class _Find(Parser):
    """One run: the walk over each path, evaluating the expression at every entry."""

    async def evaluate(self, node: Node, e: Entry) -> bool:
        if node.kind == "leaf":
            assert node.fn is not None
            r = node.fn(e)
            if node.is_async:
                r = await r  # type: ignore[misc]
            return bool(r)
        if node.kind == "and":
            return await self.evaluate(node.children[0], e) and await self.evaluate(
                node.children[1], e
            )
        if node.kind == "or":
            return await self.evaluate(node.children[0], e) or await self.evaluate(
                node.children[1], e
            )
        if node.kind == "not":
            return not await self.evaluate(node.children[0], e)
        await self.evaluate(node.children[0], e)
        return await self.evaluate(node.children[1], e)

    async def visit(
        self,
        node: Node,
        path: str,
        name: str,
        depth: int,
        start: str,
        follow: bool,
        listed: StatResult | OSError | None = None,
    ) -> None:
        """Walk ``path``; ``listed`` is its lstat (or the error) from the parent's listing."""
        if self.quit:
            return
        self.ctx.check_killed()
        e = Entry(path, name, depth, start, follow, self.fs)
        if isinstance(listed, OSError):
            e.lstat_failed = True
        elif listed is not None:
            e._lst = listed
        lst = e.lstat()
        if lst is None:
            try:
                self.fs.lstat(path)
            except OSError as exc:
                await self.err(f"{q(path)}: {strerror(exc)}")
                self.status = 1
                return
        st = e.stat()
        is_dir = st is not None and st.is_dir()
        if is_dir and follow:
            # loop detection for -L: compare with ancestors (the directory met again need not
            # be a link itself: ``up -> ..`` leads to the parent, whose child is an ancestor)
            key = file_key(st) if st else None
            if key is not None and key in self._ancestors:
                await self.err(
                    f"File system loop detected; {q(path)} is part of the same "
                    "file system loop as "
                    f"{q(self._ancestors[key])}."
                )
                self.status = 1
                return
        in_range = depth >= self.mindepth
        if in_range and not self.depth_first:
            await self.evaluate(node, e)
            if self.quit:
                return
        pruned = e.err is PRUNE
        if is_dir and not pruned and (self.maxdepth is None or depth < self.maxdepth):
            entries: list[tuple[str, StatResult | OSError | None]]
            try:
                if self.mutates:
                    entries = [(n, None) for n in sorted(self.fs.listdir(path), key=C_key)]
                else:
                    entries = sorted(self.fs.lstat_entries(path), key=_entry_key)
            except OSError as exc:
                await self.err(f"{q(path)}: {strerror(exc)}")
                self.status = 1
                entries = []
            key2 = file_key(st) if st else None
            if key2 is not None:
                self._ancestors[key2] = path
            follow_child = self.follow == "L"
            for n, listed in entries:
                child = path + n if path.endswith("/") else path + "/" + n
                await self.visit(node, child, n, depth + 1, start, follow_child, listed)
                if self.quit:
                    break
            if key2 is not None:
                self._ancestors.pop(key2, None)
        if in_range and self.depth_first and not self.quit:
            await self.evaluate(node, e)

    _ancestors: dict[tuple[int, int], str]

    async def run(self, argv: list[str]) -> int:
        i = 0
        while i < len(argv) and argv[i] in ("-H", "-L", "-P", "-D", "-O3", "-O1", "-O2"):
            if argv[i] in ("-H", "-L", "-P"):
                self.follow = argv[i][1]
            elif argv[i] == "-D":
                i += 1
            i += 1
        paths: list[str] = []
        while (
            i < len(argv)
            and not (argv[i].startswith("-") and len(argv[i]) > 1)
            and argv[i] not in ("(", "!")
        ):
            paths.append(argv[i])
            i += 1
        expr = argv[i:]
        try:
            node = self.parse(expr)
        except FindError as exc:
            await self.err(str(exc))
            return 1
        for w in self.warnings:
            # GNU warns about misplaced global options only when stdin is a terminal (never
            # here) or with -warn
            if "global option" in w and "-warn" not in expr:
                continue
            await self.ctx.stderr.write((w + "\n").encode())
        if node is None:
            node = Node("leaf", fn=lambda e: True, name="-true")
        if not self.has_action:
            printer = Node("leaf", name="-print", is_async=True)

            async def do_print(e: Entry) -> bool:
                await self.write(e.path + "\n")
                return True

            printer.fn = do_print
            node = Node("and", [node, printer])
        for p in paths or ["."]:
            if self.quit:
                break
            if p == "":
                await self.err("'': No such file or directory")
                self.status = 1
                continue
            self._ancestors = {}
            follow_top = self.follow in ("L", "H")
            name = p.rstrip("/").rsplit("/", 1)[-1] or "/"
            await self.visit(node, p, name, 0, p, follow_top)
        await self.flush()
        for b in self.batches:
            await self.flush_batch(b)
        return self.status


@command("find")
async def find(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"] or args[:1] == ["-help"]:
        await ctx.out(FIND_HELP)
        return 0
    if args[:1] == ["--version"]:
        await ctx.out("find (pocketos findutils) 4.9.0\n")
        return 0
    return await _Find(ctx).run(args)


__all__ = ["find"]
