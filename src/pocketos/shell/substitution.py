# mypy: disable-error-code="misc"
"""Command substitution ``$(...)`` and process substitution ``<(...)``/``>(...)``, as a mixin of
the interpreter."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pocketos.kernel.budget import check_alloc
from pocketos.kernel.streams import (
    BytesSink,
    BytesSource,
)
from pocketos.shell.ast import (
    DQ,
    AndOr,
    CmdSub,
    Lit,
    Param,
    ProcSub,
    Quoted,
    Simple,
)
from pocketos.shell.builtins import lookup as lookup_builtin
from pocketos.shell.nodememo import NodeMemo
from pocketos.shell.redirect import FileIn, _strerror
from pocketos.shell.state import (
    ExitShell,
    LoopControl,
    ReturnFn,
    ShellAttrs,
    ShellError,
    _err_status,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["NOT_ASKED", "Substitutions"]


class _SubstSink(BytesSink):
    """Collects command-substitution output; yields now and then so timeouts can act."""

    #: bytes written since the last yield (an instance's own once it writes)
    _since = 0

    async def write(self, data: bytes) -> None:
        self.buffer += data
        self._since += len(data)
        if self._since >= 65536:
            self._since = 0
            check_alloc(len(self.buffer), "command substitution")
            await asyncio.sleep(0)


#: variables whose value is not the same in a subshell, or changes as it is read (``$-``
#: loses ``e`` in a command substitution without ``inherit_errexit``)
_DYNAMIC = frozenset(
    ["RANDOM", "SRANDOM", "BASHPID", "BASH_SUBSHELL", "LINENO", "SECONDS", "BASH_COMMAND", "-"]
)


def _pure(parts: list[Any]) -> bool:
    """Whether expanding these word parts reads variables at most: literal text, quotes and
    plain ``$name``/``${name}``/``${#name}``/``"${a[@]}"`` (no default, assignment,
    arithmetic, substitution or dynamic variable)."""
    for p in parts:
        t = type(p)
        if t is Lit or t is Quoted:
            continue
        if t is DQ:
            if not _pure(p.parts):
                return False
            continue
        if t is not Param:
            return False
        if p.op or p.indirect or p.prefix_list or p.keys or p.name in _DYNAMIC:
            return False
        if p.index is not None and p.index not in ("@", "*") and not p.index.isdigit():
            return False
    return True


def _reads_only(cmd: Simple) -> str | None:
    """The name ``cmd`` runs when its text alone lets it run without a subshell (see
    :meth:`Substitutions.run_here`): no assignment, a plain name, and words and
    redirections that only read variables; else None."""
    words = cmd.words
    if not words or cmd.assigns:
        return None
    name = words[0].simple
    if name is None or "=" in name:
        return None
    for r in cmd.redirs:
        if r.heredoc is not None or r.fdvar or r.target is None or not _pure(r.target.parts):
            return None
    for w in words:
        if w.simple is None and not _pure(w.parts):
            return None
    return name


_reads_only_memo: NodeMemo[Simple, str | None] = NodeMemo(_reads_only)

#: the shapes of a ``$( )`` body that :meth:`Substitutions.command_subst` may run without a
#: subshell: ``$(< file)``, one simple command, a two-stage pipeline; anything else
_READ, _ONE, _TWO, _OTHER = "read", "one", "two", "other"


def _shape(p: CmdSub) -> tuple[str, Any]:
    """The shape of ``p``'s body, with the node it is run from: the ``<`` target word, the
    simple command, the pipeline (or None)."""
    items = p.body.items
    if len(items) != 1 or items[0].background or items[0].node.rest:
        return _OTHER, None
    pl = items[0].node.first
    cmds = pl.cmds
    c0 = cmds[0]
    if len(cmds) == 1 and type(c0) is Simple:
        if (
            not c0.words
            and not c0.assigns
            and len(c0.redirs) == 1
            and c0.redirs[0].op == "<"
            and c0.redirs[0].target is not None
        ):
            return _READ, c0.redirs[0].target  # bash reads the file even under ``!``
        if pl.negate or pl.timed:
            return _OTHER, None
        return _ONE, c0
    if len(cmds) == 2:
        return _TWO, pl
    return _OTHER, None


_shape_memo: NodeMemo[CmdSub, tuple[str, Any]] = NodeMemo(_shape)

#: :meth:`Substitutions.run_here`'s ``builtin`` when its caller did not ask
#: :meth:`Substitutions.here_builtin`
NOT_ASKED: Any = object()


def _after_redirs(redirs: list[Any], fds: dict[int, bool]) -> None:
    """Apply ``redirs`` to ``fds`` (descriptor: whether it is the output looked for), as far
    as their text tells: a file, or a descriptor named by a word not known before it runs,
    is taken for something else."""
    for r in redirs:
        op = r.op
        if r.fdvar is not None:
            continue  # a descriptor of its own, from 10 up
        fd = r.fd if r.fd is not None else (0 if op[0] == "<" else 1)
        if op in (">&", "<&"):
            t = r.target.simple if r.target is not None else None
            if t == "-":
                fds.pop(fd, None)
                continue
            if t is not None and t.endswith("-") and t[:-1].isdigit():
                fds[fd] = fds.pop(int(t[:-1]), False)
                continue
            if t is not None and t.isdigit():
                fds[fd] = fds.get(int(t), False)
                continue
            if op == ">&" and r.fd is None:
                op = "&>"
        if op in ("&>", "&>>"):
            fds[1] = fds[2] = False
        else:
            fds[fd] = False


def _keeps_output(node: AndOr, held: frozenset[int]) -> bool:
    """Whether a background job running ``node``, started with the descriptors ``held``
    open on a command substitution's output, may keep that output open: each stage's
    stderr, and the last stage's stdout, unless the stage's redirections point them
    elsewhere (``cmd > log 2>&1 &``)."""
    for pl in [node.first, *(pl for _, pl in node.rest)]:
        last = len(pl.cmds) - 1
        for i, cmd in enumerate(pl.cmds):
            fds = {fd: True for fd in held}
            if i < last:
                fds[1] = False  # the pipe to the next stage
                if pl.stderr_too[i]:
                    fds[2] = False
            _after_redirs(getattr(cmd, "redirs", []), fds)
            if any(fds.values()):
                return True
    return False


class Substitutions(ShellAttrs):
    """Mixin for :class:`Shell`: command and process substitution."""

    async def _simple_with_psub(self: Shell, cmd: Simple) -> int:
        outer = self._pending_psub
        self._pending_psub = []
        try:
            st = await self.exec_simple(cmd)
            await self._flush_psub()
        finally:
            self._pending_psub = outer
        return st

    async def _flush_psub(self: Shell) -> None:
        """Feed what was written to each ``>( )`` file to its command."""
        pending, self._pending_psub = self._pending_psub, []
        for path, sub, body in pending:
            try:
                data = self.fs.read_bytes(path)
            except OSError:
                data = b""
            sub.fds[0] = BytesSource(data)
            try:
                await sub.exec_read(body)
            except (ExitShell, ShellError, LoopControl, ReturnFn):
                pass
            try:
                self.fs.unlink(path)
            except OSError:
                pass
        self.last_status = self.last_status

    # --- substitutions ----------------------------------------------------------------------------
    async def command_subst(self: Shell, p: CmdSub) -> str:
        if (self.aliases or self.active_aliases) and self.active_aliases != self.aliases:
            return await self._subst_reading_aliases(p)
        shape, node = _shape_memo(p)
        if shape is _READ:
            path = await self._redir_target(node)
            try:
                stream = self._open_in(path, now=True)
            except ShellError as e:
                await self.error(e.message)
                self.last_status = 1
                return ""
            try:
                data = await stream.read()
            finally:
                if type(stream) is FileIn:
                    stream.close()
            self.last_status = 0
            return data.decode("utf-8", "surrogateescape").replace("\x00", "").rstrip("\n")
        sink = _SubstSink()
        status: int | None = None
        if shape is _ONE:
            status = await self.run_here(node, {1: sink}, True)
        elif shape is _TWO:
            status = await self.writer_pipeline_here(node, sink)
        if status is None:
            status = await self._subst_subshell(p, sink)
        self.last_status = status
        out = sink.buffer.decode("utf-8", "surrogateescape")
        if "\x00" in out:
            out = out.replace("\x00", "")
            await self.error("warning: command substitution: ignored null byte in input")
        return out.rstrip("\n")

    async def _subst_reading_aliases(self: Shell, p: CmdSub) -> str:
        """``$( )`` with the aliases defined now: bash reads its body when it runs it."""
        saved = self.active_aliases
        self.active_aliases = dict(self.aliases)
        try:
            return await self.command_subst(p)
        finally:
            self.active_aliases = saved

    async def _subst_subshell(self: Shell, p: CmdSub, sink: _SubstSink) -> int:
        sub = self.clone()
        sub.trace_level += 1
        sub.subshell_level += 1
        sub.fds[1] = sink
        holders: list[asyncio.Task[int]] = []
        sub.subst_out = (sink, holders)
        if self.opts.errexit and not self.shopt.inherit_errexit:
            sub.opts = self.opts.without_errexit()
        try:
            status = await sub.nested(sub.exec_read(p.body))
        except ExitShell as e:
            status = e.status
        except ShellError as e:
            await sub.report(e)
            status = _err_status(e)
        except LoopControl:
            status = 0
        except ReturnFn as r:
            status = r.status
        status = await sub.run_exit_trap(status)
        # bash reads until every writer has closed the output: background jobs still holding
        # it (``$(echo hi &)``) are waited for, not those writing elsewhere (``$(cmd >log &)``)
        while holders:
            pending, holders[:] = list(holders), []
            await asyncio.wait(pending)
        sub.release_memory()
        return status

    async def run_here(
        self: Shell,
        cmd: Simple,
        fds: dict[int, Any],
        writer: bool = False,
        builtin: Any = NOT_ASKED,
    ) -> int | None:
        """Run ``cmd`` from this shell with ``fds`` laid over its descriptors, where bash forks
        a subshell for it (``$(prog args < file)``, a pipeline stage), when that subshell
        could make no difference: a program (no builtin, function or alias) — or, with
        ``writer``, ``echo``/``printf`` without ``-v`` — whose words and redirections only read
        variables. The program sees the same environment and descriptors; ``$?`` is left as it
        was. None when the command does not qualify, or when expanding its words fails (the
        subshell then runs it and reports that as bash does). ``builtin`` is what
        :meth:`here_builtin` answered, when the caller asked it already."""
        if builtin is NOT_ASKED:
            builtin = self.here_builtin(cmd, writer)
        if builtin is False:
            return None
        words = cmd.words
        name = words[0].simple
        try:
            argv = await self.expand_words(words)
        except ShellError:
            return None
        if builtin is not None and name == "printf" and len(argv) > 1 and argv[1][:2] == "-v":
            return None
        if self.warnings:
            await self.flush_warnings()
        self.ctx.budget.command()
        saved, line, status = self.fds, self.lineno, self.last_status
        self.fds = {**saved, **fds}
        self.lineno = cmd.line
        try:
            if builtin is not None:
                return await self._with_env(cmd, self._call_builtin, builtin, argv)
            return await self.run_external(cmd, argv)
        finally:
            self.fds, self.lineno, self.last_status = saved, line, status

    def here_builtin(self: Shell, cmd: Simple, writer: bool) -> Any:
        """What :meth:`run_here` can tell before it expands anything: False when ``cmd`` does
        not qualify, else the builtin it names (``echo``/``printf``, with ``writer``) or None
        for a program."""
        if self.traps or self.opts.xtrace:
            return False
        name = _reads_only_memo(cmd)
        if name is None or name in self.functions or name in self.active_aliases:
            return False
        builtin = self.builtins.get(name) or lookup_builtin(name)
        if builtin is not None and name in self.disabled_builtins:
            builtin = None  # ``enable -n``: the program of that name
        if builtin is not None and not (writer and name in ("echo", "printf")):
            return False
        return builtin

    def note_background(self: Shell, node: AndOr, task: asyncio.Task[int]) -> None:
        """In a command substitution, a background job that may write to its output: the
        substitution waits for it."""
        assert self.subst_out is not None
        sink, holders = self.subst_out
        held = frozenset(fd for fd, f in self.fds.items() if f is sink)
        if held and _keeps_output(node, held):
            holders.append(task)

    async def process_subst(self: Shell, p: ProcSub) -> str:
        self.job_counter += 1
        path = f"/tmp/.psub-{self.ctx.pid}-{self.job_counter}-{id(p) & 0xFFFF}"
        sub = self.clone()
        sub.subshell_level += 1
        if p.direction == "<":
            sink = BytesSink()
            sub.fds[1] = sink
            try:
                await sub.exec_read(p.body)
            except (ExitShell, ShellError):
                pass
            try:
                self.fs.write_bytes(path, sink.getvalue())
            except OSError as exc:
                raise ShellError(f"process substitution: {_strerror(exc)}") from None
            return path
        # >( ): the command reads what was written once the current command finishes
        try:
            self.fs.write_bytes(path, b"")
        except OSError as exc:
            raise ShellError(f"process substitution: {_strerror(exc)}") from None
        self._pending_psub.append((path, sub, p.body))
        return path
