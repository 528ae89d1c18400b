"""The shell interpreter: runs a parsed :class:`~pocketos.shell.ast.Script` inside a process
:class:`~pocketos.kernel.process.Context`.

Builtins and functions run in-process; other commands run through the kernel as child
processes. Pipelines run their stages concurrently as asyncio tasks connected by bounded pipes;
subshells, command substitutions and pipeline stages run on a copy of the shell state.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
from typing import TYPE_CHECKING, Any

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import Held
from pocketos.kernel.process import Context, ProcessKilled
from pocketos.shell.ast import (
    AndOr,
    ArithCmd,
    ArithFor,
    Case,
    CondCmd,
    For,
    FuncDef,
    Group,
    If,
    Script,
    Simple,
    Subshell,
    While,
)
from pocketos.shell.compound import Compound
from pocketos.shell.expand import Expander
from pocketos.shell.jobs import JobGroup, Jobs, _Job
from pocketos.shell.parser import Parser, ShellSyntaxError, parse
from pocketos.shell.redirect import FileOut, FileRW, Redirections, _close_all, _strerror
from pocketos.shell.shellstate import ShellState
from pocketos.shell.simple import SimpleCommands
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_EXPORT,
    ATTR_READONLY,
    ExitShell,
    FatalError,
    NoExec,
    ReportedError,
    ShellError,
    Var,
    encode_text,
)
from pocketos.shell.substitution import Substitutions
from pocketos.shell.traps import Traps, command_text, simple_text
from pocketos.shell.variables import _DYNAMIC, Variables

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["Shell", "run_script", "FileOut", "FileRW", "_strerror"]

SHELL_VERSION = "5.2.15(1)-release"


class Shell(
    Variables,
    SimpleCommands,
    Substitutions,
    Redirections,
    Compound,
    Jobs,
    Traps,
    Expander,
    ShellState,
):
    """A bash-compatible shell bound to a process context."""

    def __init__(self, ctx: Context, *, argv0: str = "bash", args: list[str] | None = None) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.cwd = ctx.cwd
        self.argv0 = argv0
        self._init_state(ctx.env, args or [])
        self.dynamic = _DYNAMIC
        home = self.vars.get("HOME")
        if home is None:
            self.vars["HOME"] = Var("/home/user", 0)
        self.vars["PWD"] = Var(self.cwd, ATTR_EXPORT)
        if "IFS" not in self.vars:
            self.vars["IFS"] = Var(" \t\n")
        for name, val in (
            ("PS4", "+ "),
            ("OPTIND", "1"),
            ("BASH", "/bin/bash"),
            ("BASH_VERSION", SHELL_VERSION),
            ("HOSTNAME", "pocketos"),
            ("SHELL", "/bin/bash"),
            ("PPID", str(ctx.ppid)),
            ("UID", "1000"),
            ("EUID", "1000"),
            ("MACHTYPE", "x86_64-pc-linux-gnu"),
            ("OSTYPE", "linux-gnu"),
            ("HOSTTYPE", "x86_64"),
            ("SHLVL", "1"),
            ("OPTERR", "1"),
            ("PS1", "\\s-\\v\\$ "),
            ("PS2", "> "),
        ):
            if name not in self.vars:
                self.vars[name] = Var(val)
        self.vars["BASH_VERSINFO"] = Var(
            {0: "5", 1: "2", 2: "15", 3: "1", 4: "release", 5: "x86_64-pc-linux-gnu"},
            ATTR_ARRAY | ATTR_READONLY,
        )
        self.fds: dict[int, Any] = {0: ctx.stdin, 1: ctx.stdout, 2: ctx.stderr}
        #: the streams this shell was given: its caller's to close, not its own
        self.inherited = (ctx.stdin, ctx.stdout, ctx.stderr)
        self.traps: dict[str, str] = {}
        #: in a subshell, the parent's traps: what ``trap``/``trap -p`` list (like bash)
        #: until the subshell sets a trap of its own
        self.shown_traps: dict[str, str] | None = None
        self.funcnames: list[str] = []
        self.call_depth = 0
        self.loop_depth = 0
        self.errexit_suppressed = 0
        self.last_status = 0
        self.pipestatus: list[int] = [0]
        self.lineno = 0
        self.last_bg = ""
        self.jobs: list[_Job] = []
        self.parent_jobs: list[_Job] = []
        #: background jobs started by subshells (shared by every clone of this shell)
        self.orphans: list[asyncio.Task[int]] = []
        #: the task group all those jobs run in (shared by every clone of this shell)
        self.job_group = JobGroup()
        #: memory held by big variable values (see ``charge_value``)
        self.var_mem: Held | None = None
        self.job_counter = 0
        #: the job the shell waits for in the foreground (job control), None at the prompt
        self.fg_job: _Job | None = None
        #: ``run()`` calls so far, and the one whose ``exit`` warned of stopped jobs
        self.runs = 0
        self.exit_warned = -2
        self.subshell_level = 0
        self.trace_level = 0
        self.is_subshell = False
        self.script_name: str | None = None
        self.start_time = time.monotonic()
        self.last_arg = ""
        self.hash_table: dict[str, str] = {}
        self.umask_value = 0o022
        self._rand_obj: random.Random | None = None
        self.dirstack: list[str] = []
        self.in_trap = False
        #: nesting of functions, eval, source, substitutions and traps (see ``nested``)
        self.nest = 0
        #: messages from synchronous code (nameref cycles), written after the expansion
        self.warnings: list[str] = []
        #: times ``trap ... RETURN`` was run (a function that sets it gets it on return)
        self.return_trap_sets = 0
        self.getopts_state = (0, 0)
        self._pending_psub: list[Any] = []
        self.active_aliases: dict[str, str] = {}
        #: builtins turned off by ``enable -n`` (a new set each time: subshells share it)
        self.disabled_builtins: frozenset[str] = frozenset()
        #: a compound command failed itself: its own redirection (see
        #: ``failed_here``)
        self.failed_itself = False
        #: in a command substitution: its output, and the background jobs that may hold it
        self.subst_out: tuple[Any, list[asyncio.Task[int]]] | None = None
        self.sourcing = 0
        #: a persistent (session) shell: ``run()`` keeps jobs and the EXIT trap for ``close()``
        self.keep_alive = False
        #: a terminal's shell: a signal ends the command line, not the shell (no EXIT trap)
        self.interactive = False
        #: called when a job of this shell ends (a terminal shows ``set -b``'s notice with it)
        self.on_job_end: Callable[[], None] | None = None
        #: ``exit`` was run
        self.exited = False
        self.bashpid = ctx.pid
        #: the last letter of ``$-`` when no script file runs: ``c`` (``-c``), ``s`` (stdin)
        self.input_flag = "c"
        self.builtins = _builtins()[0]
        self.special_builtins = _builtins()[1]
        #: names assigned in front of the running builtin or function (see ``_with_env``)
        self.temp_env: dict[str, Var | None] = {}

    @property
    def _rand(self) -> random.Random:
        if self._rand_obj is None:
            import random  # only for $RANDOM

            self._rand_obj = random.Random()
        return self._rand_obj

    # --- public API ---------------------------------------------------------------------------
    async def run(self, source: str, *, filename: str | None = None) -> int:
        """Run a script; returns its exit status. State persists across calls."""
        if len(source) > self.ctx.limits.max_source_bytes:
            raise LimitExceeded(
                "max_source_bytes",
                f"script too large (max_source_bytes={self.ctx.limits.max_source_bytes})",
            )
        if filename is not None:
            self.script_name = filename
        self.runs += 1
        try:
            exited = False
            killed_by: int | None = None
            try:
                status = await self._run_source(source, top=True)
            except ExitShell as e:
                status = e.status
                exited = True
                killed_by = e.signal
            if exited or not self.keep_alive:
                status = await self.run_exit_trap(status)
                self.exited = self.exited or exited
            info = self.ctx.info
            if killed_by is not None and info is not None and status == 128 + killed_by:
                # the signal it sent itself ended it (its EXIT trap has run): its process's
                # end is recorded as killed by it, as for a signal from another process
                info.pending_signal = killed_by
        except LimitExceeded:
            await self._cancel_jobs()
            raise
        except asyncio.CancelledError:
            await self._cancel_jobs()
            info = self.ctx.info
            if info is None or info.pending_signal is None:
                raise
            # a signal sent to this shell by another process (``kill $$`` from a child):
            # the shell ends with 128+signal, like bash killed by it
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self.last_status = (128 + info.pending_signal) & 0xFF
            return self.last_status
        except ProcessKilled as pk:
            await self._cancel_jobs()
            self.last_status = (128 + pk.signum) & 0xFF
            if not self.is_subshell and not self.interactive and pk.signum != 9:
                await self._exit_trap_after_signal()
            return self.last_status
        except RecursionError:
            await self.write_err(f"{self.argv0}: maximum recursion depth exceeded\n")
            status = 2
        except BrokenPipeError:
            status = 141
        except Exception as exc:  # a bug in the interpreter never escapes
            try:
                await self.write_err(f"{self.argv0}: internal error: {type(exc).__name__}: {exc}\n")
            except Exception:
                pass
            status = 2
        if not self.keep_alive or self.exited:
            await self._cancel_jobs()
            self._close_fds()
        self.last_status = status & 0xFF
        return self.last_status

    def fd_isatty(self, fd: int) -> bool:
        """``-t FD``: the descriptor is open on a terminal."""
        stream = self.fds.get(fd)
        return stream is not None and bool(getattr(stream, "isatty", lambda: False)())

    def _close_fds(self) -> None:
        """Close files that ``exec`` redirections left open."""
        for fd, stream in list(self.fds.items()):
            if isinstance(stream, FileOut) and stream not in self.inherited:
                stream.close()
                if fd > 2:
                    del self.fds[fd]

    async def close(self) -> int:
        """End a kept-alive shell: run the EXIT trap and cancel leftover jobs."""
        status = self.last_status
        if not self.exited:
            try:
                status = await self.run_exit_trap(status)
            except Exception:
                pass
            self.exited = True
        await self._cancel_jobs()
        self._close_fds()
        return status

    # --- running source -----------------------------------------------------------------------
    async def _run_source(self, source: str, *, top: bool, first_line: int = 1) -> int:
        try:
            script = parse(source, self.shopt.extglob, first_line)
        except ShellSyntaxError as err:
            return await self.run_incremental(source, err)
        if self.opts.noexec and not self.interactive:  # ``bash -n``: read, not run
            raise NoExec(self.last_status)
        return await self.run_toplevel(script)

    async def run_toplevel(self, script: Script) -> int:
        status = self.last_status
        skip_line = -1
        cur_line = -1
        for w in script.warnings:
            await self.write_err(f"{self.argv0}: {w}\n")
        for item in script.items:
            line = item.node.first.line
            if line == skip_line:
                continue
            if line != cur_line:
                cur_line = line
                self.active_aliases = dict(self.aliases) if self.aliases else {}
            try:
                status = await self.exec_item(item.node, item.background)
            except FatalError as e:
                await self.report(e)
                raise ExitShell(self._fatal_status(e)) from None
            except ShellError as e:
                await self.report(e)
                status = self.last_status = e.status
                skip_line = line
        return status

    def _fatal_status(self, e: FatalError) -> int:
        """The status an expansion error ends the shell with: 127 for ``bash -c`` (1 in a
        subshell), and 1 under ``set -e``, as bash does."""
        if self.is_subshell and e.sub_status is not None:
            return e.sub_status
        return 1 if self.opts.errexit and e.status == 127 else e.status

    async def run_incremental(
        self, source: str, err: ShellSyntaxError, where: str | None = None, fatal: bool = True
    ) -> int:
        """Run the complete commands before a syntax error, then report it (like bash,
        which reads and runs its input one command at a time)."""
        p = Parser(source, self.shopt.extglob)
        status = self.last_status
        # after ``set -n`` (or under ``bash -n``) the rest is only read
        stopped = NoExec(status) if self.opts.noexec and not self.interactive else None
        while True:
            p.extglob = self.shopt.extglob
            try:
                p.skip_newlines()
                if p.peek().kind == "eof":
                    break
                node = p.parse_and_or()
                t = p.peek()
                bg = False
                if t.kind == "op" and t.value in (";", "&"):
                    p.take()
                    bg = t.value == "&"
                elif t.kind not in ("nl", "eof"):
                    raise p.unexpected(t)
                # a following command on the same line must parse before anything runs
                items = [(node, bg)]
                while p.peek().kind not in ("nl", "eof"):
                    node2 = p.parse_and_or()
                    t = p.peek()
                    bg2 = False
                    if t.kind == "op" and t.value in (";", "&"):
                        p.take()
                        bg2 = t.value == "&"
                    elif t.kind not in ("nl", "eof"):
                        raise p.unexpected(t)
                    items.append((node2, bg2))
                if p.pending and p.peek().kind == "nl":
                    pass
            except ShellSyntaxError as e:
                await self.syntax_error(e, where)
                self.last_status = 2
                if fatal:
                    raise ExitShell(2) from None
                return 2
            for node, bg in items:
                if stopped is not None:
                    break
                try:
                    status = await self.exec_item(node, bg)
                except NoExec as ne:
                    stopped = ne
                except FatalError as fe:
                    await self.report(fe)
                    raise ExitShell(self._fatal_status(fe)) from None
                except ShellError as se:
                    await self.report(se)
                    status = self.last_status = se.status
                    break
        if stopped is not None:
            raise stopped
        return status

    async def syntax_error(self, e: ShellSyntaxError, where: str | None = None) -> None:
        if where is None:
            where = self.script_name if self.script_name else f"{self.argv0}: -c"
        msg = f"{where}: line {e.line}: {e.message}\n"
        if e.source_line is not None:
            msg += f"{where}: line {e.line}: `{e.source_line}'\n"
        await self.write_err(msg)

    def prefix(self) -> str:
        name = self.script_name if self.script_name else self.argv0
        return f"{name}: line {self.lineno}: "

    async def report(self, e: ShellError) -> None:
        if isinstance(e, ReportedError):
            return
        if e.message.startswith("command substitution:"):
            await self.write_err(f"{self.argv0}: {e.message}\n")
        elif isinstance(e, FatalError) and e.line is not None:
            name = self.script_name if self.script_name else self.argv0
            await self.write_err(f"{name}: line {e.line}: {e.message}\n")
        else:
            await self.write_err(f"{self.prefix()}{e.message}\n")

    async def error(self, msg: str) -> None:
        await self.write_err(f"{self.prefix()}{msg}\n")

    async def write_err(self, s: str) -> None:
        out = self.fds.get(2)
        if out is None:
            return
        try:
            await out.write(encode_text(s))
        except (BrokenPipeError, ValueError, OSError):
            pass

    async def write_out(self, data: str | bytes) -> None:
        if isinstance(data, str):
            data = encode_text(data)
        out = self.fds.get(1)
        if out is None:
            raise OSError(errno.EBADF, "Bad file descriptor")
        await out.write(data)

    # --- execution ------------------------------------------------------------------------------
    async def exec_script(self, script: Script) -> int:
        status = self.last_status
        info = self.ctx.info
        for item in script.items:
            if info is not None and info.pending_signal is not None:
                # the shell itself was signalled (Ctrl-C): the rest of the line does not run
                return 128 + info.pending_signal
            node = item.node
            if item.background:
                status = await self.start_background(node)
                continue
            pl = node.first
            if node.rest or pl.negate or pl.timed or len(pl.cmds) != 1:
                status = await self.exec_andor(node)
                continue
            # the common case: one command, no pipeline, no && / ||
            cmd = pl.cmds[0]
            status = await self.exec_cmd(cmd)
            self.pipestatus = [status]
            self.last_status = status
            if info is not None and (info.pending_traps or info.pending_signal is not None):
                await self.deliver_traps()
            if status and self.failed_here(cmd) and self.errexit_suppressed == 0:
                await self._failed(status)
        return status

    async def exec_read(self, script: Script) -> int:
        """Run text read while the script runs (``eval``'s words, ``source``'s file, the body
        of a ``$( )``, backquotes or ``<( )``). Bash reads such text a line at a time as it
        runs it, so each line sees the aliases defined when it is read
        (``alias e=echo; x=$(e hi)``), while the line that read it keeps its own."""
        saved = self.active_aliases
        items = script.items
        try:
            if not items or items[0].node.first.line == items[-1].node.first.line:
                self.active_aliases = dict(self.aliases) if self.aliases else {}
                return await self.exec_script(script)
            status = self.last_status
            start = 0
            for i in range(1, len(items) + 1):
                if i == len(items) or items[i].node.first.line != items[start].node.first.line:
                    self.active_aliases = dict(self.aliases) if self.aliases else {}
                    status = await self.exec_script(Script(items[start:i]))
                    start = i
            return status
        finally:
            self.active_aliases = saved

    async def exec_item(self, node: AndOr, background: bool) -> int:
        if background:
            return await self.start_background(node)
        return await self.exec_andor(node)

    async def exec_andor(self, node: AndOr) -> int:
        rest = node.rest
        if not rest:
            return await self.exec_pipeline(node.first, True)
        self.errexit_suppressed += 1
        try:
            status = await self.exec_pipeline(node.first, False)
        finally:
            self.errexit_suppressed -= 1
        n = len(rest)
        for i, (op, pl) in enumerate(rest):
            if (op == "&&") != (status == 0):
                continue
            last = i == n - 1
            if last:
                status = await self.exec_pipeline(pl, True)
            else:
                self.errexit_suppressed += 1
                try:
                    status = await self.exec_pipeline(pl, False)
                finally:
                    self.errexit_suppressed -= 1
        return status

    async def _yield(self) -> None:
        """Let other tasks (background jobs, pipeline stages) run during long loops."""
        self.ctx.check_killed()
        await asyncio.sleep(0)

    def failed_here(self, cmd: Any) -> bool:
        """Whether the failure of ``cmd`` (its status is not 0) is for ERR and ``set -e`` to
        act on. A compound command's failure is that of a command inside it, which they have
        acted on already, or ignored (``for …; do false && :; done``), unless it failed
        itself (its own redirection). A subshell is a command of its
        own."""
        if type(cmd) not in _FAILS_INSIDE:
            return True
        if self.failed_itself:
            self.failed_itself = False
            return True
        return False

    async def _failed(self, status: int) -> None:
        if "ERR" in self.traps and not self.in_trap and (not self.funcnames or self.opts.errtrace):
            await self.run_trap("ERR")
            self.last_status = status
        if self.opts.errexit:
            raise ExitShell(status)

    async def exec_cmd(self, cmd: Any) -> int:
        t = type(cmd)
        if t is Simple:
            if self.traps and "DEBUG" in self.traps:
                self.lineno = cmd.line
                await self.debug_trap(simple_text(cmd))
            if self._pending_psub:
                return await self._simple_with_psub(cmd)
            st = await self.exec_simple(cmd)
            if self._pending_psub:
                await self._flush_psub()
            return st
        if (t is ArithCmd or t is CondCmd) and self.traps and "DEBUG" in self.traps:
            self.lineno = cmd.line
            await self.debug_trap(command_text(cmd))
        handler = _DISPATCH.get(t)
        if handler is None:
            raise ShellError(f"unsupported command {t.__name__}")
        redirs = cmd.redirs if t is not FuncDef else None
        if redirs:
            saved = self.fds
            opened: list[Any] = []
            try:
                self.fds = await self.apply_redirs(redirs, dict(saved), opened, hold=True)
            except ShellError as e:
                self.fds = saved
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                self.failed_itself = t in _FAILS_INSIDE
                return 1
            try:
                return await handler(self, cmd)
            finally:
                self.fds = saved
                _close_all(opened)
        return await handler(self, cmd)

    # --- subshell state ---------------------------------------------------------------------------
    def clone(self) -> Shell:
        sub = Shell.__new__(Shell)
        sub.__dict__.update(self.__dict__)
        self._fork_state(sub)
        sub.fds = dict(self.fds)
        sub.traps = {k: v for k, v in self.traps.items() if k != "EXIT" and v == ""}
        sub.shown_traps = dict(self.traps if self.shown_traps is None else self.shown_traps)
        sub.funcnames = list(self.funcnames)
        # ``jobs | cat`` lists the shell's jobs, as bash's subshells do; they are not the
        # subshell's own to wait for
        sub.parent_jobs = self.jobs or self.parent_jobs
        sub.jobs = []
        sub.var_mem = None
        sub._rand_obj = None  # a subshell's $RANDOM is seeded anew, as bash's is
        sub.bashpid = self.ctx.pid * 100 + next(_BASHPID_SEQ)
        sub.is_subshell = True
        sub.dirstack = list(self.dirstack)
        sub._pending_psub = []
        return sub

    keep_fds = False


#: numbers subshells' $BASHPID apart (a module counter: writing a class attribute would
#: invalidate the interpreter's attribute caches for every Shell method lookup)
_BASHPID_SEQ = itertools.count(1)


#: Python frames a deeply recursive shell function needs: about 7 per shell call level, so
#: the default max_call_depth (1000) fits; measured safe on an 8 MiB C stack


_BUILTINS_CACHE: tuple[dict[str, Any], frozenset[str]] | None = None


def _builtins() -> tuple[dict[str, Any], frozenset[str]]:
    global _BUILTINS_CACHE
    if _BUILTINS_CACHE is None:
        from pocketos.shell.builtins import BUILTINS, SPECIAL_BUILTINS

        _BUILTINS_CACHE = (BUILTINS, SPECIAL_BUILTINS)
    return _BUILTINS_CACHE


_DISPATCH: dict[type, Any] = {
    Subshell: Shell._exec_subshell,
    Group: Shell._exec_group,
    If: Shell._exec_if,
    While: Shell._exec_while,
    For: Shell._exec_for,
    ArithFor: Shell._exec_arith_for,
    Case: Shell._exec_case,
    FuncDef: Shell._exec_funcdef,
    ArithCmd: Shell._exec_arith,
    CondCmd: Shell._exec_cond,
}

#: compound commands that fail only by a command inside them (see ``Shell.failed_here``)
_FAILS_INSIDE = frozenset([Group, If, While, For, ArithFor, Case])


async def run_script(
    ctx: Context, source: str, argv0: str = "bash", args: list[str] | None = None
) -> int:
    """Run ``source`` in a new shell bound to ``ctx``; returns the exit status."""
    return await Shell(ctx, argv0=argv0, args=args).run(source)
