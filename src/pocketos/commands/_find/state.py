"""find's run state, and what it works on: the entries it visits, the parsed expression
and the batches of ``-exec ... {} +``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pocketos.commands._fs import tz_from_env, user_maps
from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.process import Context


class FindError(Exception):
    pass


@dataclass
class Entry:
    path: str
    name: str
    depth: int
    start: str
    follow: bool
    fs_view: object
    _st: StatResult | None = None
    _lst: StatResult | None = None
    err: OSError | None = None
    #: the lstat already failed (the walker's listing said so): do not ask again
    lstat_failed: bool = False

    def lstat(self) -> StatResult | None:
        if self._lst is None:
            if self.lstat_failed:
                return None
            try:
                self._lst = self.fs_view.lstat(self.path)  # type: ignore[attr-defined]
            except OSError:
                return None
        return self._lst

    def stat(self) -> StatResult | None:
        """The stat the tests use (follows links with -L; a broken link stays a link)."""
        if self._st is None:
            if self.follow:
                try:
                    self._st = self.fs_view.stat(self.path)  # type: ignore[attr-defined]
                except OSError:
                    self._st = self.lstat()
            else:
                self._st = self.lstat()
        return self._st


@dataclass
class Node:
    kind: str  # "and" | "or" | "not" | "comma" | "leaf"
    children: list[Node] = field(default_factory=list)
    fn: Callable[[Entry], object] | None = None
    is_async: bool = False
    name: str = ""


PRUNE = OSError("prune")

#: output held before it is written
OUT_BUFFER = 16384


@dataclass
class Batch:
    cmd: list[str]
    in_dir: bool
    items: list[str] = field(default_factory=list)
    size: int = 0
    cwd: str | None = None


class FindState:
    """The state of one find run: its options, the expression being parsed and what the run
    has found so far. The parser, the tests, the actions and the walk build on it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.maxdepth: int | None = None
        self.mindepth = 0
        self.depth_first = False
        self.follow = "P"
        self.status = 0
        self.quit = False
        self.has_action = False
        #: an action may change the tree (``-delete``, ``-exec``, ``-fprint``...): each entry
        #: is then looked up when it is visited, never taken from its directory's listing
        self.mutates = False
        self.regextype = "emacs"
        self.now = time.time()
        self.daystart = False
        self.batches: list[Batch] = []
        self.tz = tz_from_env(ctx.env)
        self._maps: tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]] | None = (
            None
        )
        self.out_buf: list[bytes] = []
        self.out_size = 0
        self.seen_non_option = ""
        self.warnings: list[str] = []
        #: the expression's tokens and the parser's place in them
        self.args: list[str] = []
        self.pos = 0

    @property
    def maps(self) -> tuple[dict[int, str], dict[str, int], dict[int, str], dict[str, int]]:
        if self._maps is None:
            self._maps = user_maps(self.fs)
        return self._maps

    async def write(self, data: str | bytes) -> None:
        """Output, held in a buffer (as GNU find's stdio holds it) unless an action may run
        a command or change the tree: a write to a pipe wakes its reader each time."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if self.mutates:
            await self.ctx.stdout.write(data)
            return
        self.out_buf.append(data)
        self.out_size += len(data)
        if self.out_size >= OUT_BUFFER:
            await self.flush()

    async def flush(self) -> None:
        if self.out_buf:
            data = b"".join(self.out_buf)
            self.out_buf.clear()
            self.out_size = 0
            await self.ctx.stdout.write(data)

    async def err(self, message: str) -> None:
        """An error message, after the output that came before it."""
        await self.flush()
        await self.ctx.err(message)

    # --- the expression's tokens ----------------------------------------------------------
    def peek(self) -> str | None:
        return self.args[self.pos] if self.pos < len(self.args) else None

    def take(self) -> str:
        tok = self.args[self.pos]
        self.pos += 1
        return tok

    def arg(self, pred: str) -> str:
        if self.pos >= len(self.args):
            raise FindError(f"missing argument to `{pred}'")
        return self.take()
