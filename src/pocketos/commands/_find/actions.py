"""find's actions: output, ``-delete``, ``-prune``, ``-quit`` and the commands run by
``-exec``, ``-execdir``, ``-ok`` and ``-okdir``."""

from __future__ import annotations

from pocketos.commands._find.format import Formatter
from pocketos.commands._find.state import PRUNE, Batch, Entry, FindError, Node
from pocketos.commands._fs import q, strerror
from pocketos.kernel.streams import NullInput

#: actions that change nothing in the tree being walked
_READ_ONLY = frozenset(("-print", "-print0", "-printf", "-ls", "-prune", "-quit"))


class Actions(Formatter):
    """The actions (``-print``, ``-printf``, ``-ls``, ``-delete``, ``-prune``, ``-quit``,
    ``-exec`` and its kin)."""

    def action(self, tok: str, leaf: Node) -> bool:
        """Make ``leaf`` the action ``tok``, reading its arguments; False when ``tok`` is not
        an action."""
        fs = self.fs
        if tok not in _READ_ONLY:
            self.mutates = True
        if tok in ("-print", "-print0", "-fprint", "-fprint0"):
            self.has_action = True
            if tok.startswith("-fprint"):
                target = self.arg(tok)
                sep = "\0" if tok.endswith("0") else "\n"
                try:
                    fs.write_bytes(target, b"")
                except OSError as exc:
                    raise FindError(f"{target}: {strerror(exc)}") from None

                def fprint(e: Entry) -> bool:
                    fs.write_bytes(
                        target, (e.path + sep).encode("utf-8", "surrogateescape"), append=True
                    )
                    return True

                leaf.fn = fprint
            else:
                sep = "\0" if tok == "-print0" else "\n"

                async def do_print(e: Entry) -> bool:
                    await self.write(e.path + sep)
                    return True

                leaf.fn = do_print
                leaf.is_async = True
        elif tok in ("-printf", "-fprintf"):
            self.has_action = True
            target2 = self.arg(tok) if tok == "-fprintf" else None
            fmt = self.arg(tok)
            self.check_format(fmt)

            async def do_printf(e: Entry) -> bool:
                text = self.printf(fmt, e)
                if target2 is not None:
                    fs.write_bytes(target2, text.encode("utf-8", "surrogateescape"), append=True)
                else:
                    await self.write(text)
                return True

            leaf.fn = do_printf
            leaf.is_async = True
        elif tok == "-ls":
            self.has_action = True

            async def do_ls(e: Entry) -> bool:
                await self.write(self.ls_line(e))
                return True

            leaf.fn = do_ls
            leaf.is_async = True
        elif tok == "-delete":
            self.has_action = True
            self.depth_first = True

            async def do_delete(e: Entry) -> bool:
                if e.path in (".",):
                    return True
                st = e.lstat()
                try:
                    if st is not None and st.is_dir():
                        fs.rmdir(e.path)
                    else:
                        fs.unlink(e.path)
                except OSError as exc:
                    await self.ctx.err(f"cannot delete {q(e.path)}: {strerror(exc)}")
                    self.status = 1
                    return False
                return True

            leaf.fn = do_delete
            leaf.is_async = True
        elif tok == "-prune":

            def prune(e: Entry) -> bool:
                if not self.depth_first:
                    e.err = PRUNE
                return True

            leaf.fn = prune
        elif tok == "-quit":

            def do_quit(e: Entry) -> bool:
                self.quit = True
                return True

            leaf.fn = do_quit
        elif tok in ("-exec", "-execdir", "-ok", "-okdir"):
            self.has_action = True
            cmd: list[str] = []
            plus = False
            while True:
                if self.pos >= len(self.args):
                    raise FindError(f"missing argument to `{tok}'")
                a = self.take()
                if a == ";":
                    break
                if a == "+" and cmd and cmd[-1] == "{}" and tok in ("-exec", "-execdir"):
                    plus = True
                    break
                cmd.append(a)
            if not cmd:
                raise FindError(f"missing argument to `{tok}'")
            in_dir = tok.endswith("dir")
            if plus:
                batch = Batch(cmd[:-1], in_dir)
                self.batches.append(batch)

                async def do_batch(e: Entry) -> bool:
                    await self.add_to_batch(batch, e)
                    return True

                leaf.fn = do_batch
            else:
                ask = tok.startswith("-ok")

                async def do_exec(e: Entry) -> bool:
                    return await self.exec_one(cmd, e, in_dir, ask)

                leaf.fn = do_exec
            leaf.is_async = True
        else:
            return False
        return True

    def _exec_path(self, e: Entry, in_dir: bool) -> tuple[str, str]:
        """(argument for {}, cwd) for -exec/-execdir."""
        if not in_dir:
            return e.path, self.ctx.cwd
        absp = self.fs.abspath(e.path)
        parent = absp.rsplit("/", 1)[0] or "/"
        base = absp.rsplit("/", 1)[1] if absp != "/" else "/"
        return ("./" + base) if base != "/" else "/", parent

    async def exec_one(self, cmd: list[str], e: Entry, in_dir: bool, ask: bool) -> bool:
        arg, cwd = self._exec_path(e, in_dir)
        argv = [c.replace("{}", arg) for c in cmd]
        if ask:
            await self.ctx.stderr.write(
                ("< " + " ".join(argv) + " ... " + arg + " > ? ").encode("utf-8", "surrogateescape")
            )
            line = await self.ctx.stdin.readline()
            if line[:1] not in (b"y", b"Y"):
                return False
        code = await self.ctx.run(argv, cwd=cwd, stdin=NullInput() if not ask else None)
        return code == 0

    async def add_to_batch(self, batch: Batch, e: Entry) -> None:
        arg, cwd = self._exec_path(e, batch.in_dir)
        if batch.in_dir and batch.cwd is not None and batch.cwd != cwd:
            await self.flush_batch(batch)
        batch.cwd = cwd
        batch.items.append(arg)
        batch.size += len(arg) + 1
        if batch.size > 128 * 1024 or len(batch.items) >= 5000:
            await self.flush_batch(batch)

    async def flush_batch(self, batch: Batch) -> None:
        if not batch.items:
            return
        argv = [*batch.cmd, *batch.items]
        cwd = batch.cwd or self.ctx.cwd
        batch.items = []
        batch.size = 0
        code = await self.ctx.run(argv, cwd=cwd, stdin=NullInput())
        if code != 0:
            self.status = 1
