"""The shell interpreter: runs a parsed :class:`~pocketos.shell.ast.Script` inside a process
:class:`~pocketos.kernel.process.Context`.

Builtins and functions run in-process; other commands run through the kernel as child
processes. Pipelines run their stages concurrently as asyncio tasks connected by bounded pipes;
subshells, command substitutions and pipeline stages run on a copy of the shell state.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import Held, check_alloc, pace
from pocketos.kernel.process import SIGNALS, Context, ProcessInfo, ProcessKilled
from pocketos.kernel.streams import (
    BytesSink,
    BytesSource,
    HandleInput,
    InputStream,
    NullInput,
    NullOutput,
    OutputStream,
    Pipe,
)
from pocketos.shell import pattern as pat
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.ast import (
    AndOr,
    ArithCmd,
    ArithFor,
    Assign,
    Case,
    CmdSub,
    CondAnd,
    CondBinary,
    CondCmd,
    CondExpr,
    CondNot,
    CondOr,
    CondUnary,
    CondWord,
    For,
    FuncDef,
    Group,
    If,
    Pipeline,
    ProcSub,
    Redir,
    Script,
    Simple,
    Subshell,
    While,
    Word,
)
from pocketos.shell.expand import Expander
from pocketos.shell.parser import Parser, ShellSyntaxError, parse, parse_word_text
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_NAMEREF,
    ATTR_READONLY,
    ATTR_UPPER,
    BreakLoop,
    ContinueLoop,
    ExitShell,
    FatalError,
    ReturnFn,
    ShellError,
    Var,
    encode_text,
    quote_word,
    unbound_error,
)

__all__ = ["Shell", "run_script"]

SHELL_VERSION = "5.2.15(1)-release"
#: trap names of the signals a trap can catch
#: nesting levels run on one Python stack before ``Shell.nested`` starts a fresh one
HOP_EVERY = 8
_T = TypeVar("_T")
#: builtins whose ``name=value`` arguments are assignments
_DECLARATION = frozenset(["local", "declare", "typeset", "export", "readonly"])
#: values at least this long are charged to the exec's memory budget
BIG_VALUE = 64 * 1024
#: longest chain of namerefs bash follows
NAMEREF_MAX = 8
_SIGNUMS = {k: v for k, v in SIGNALS.items() if k not in ("KILL", "STOP")}
_DYNAMIC = frozenset(
    [
        "RANDOM",
        "SECONDS",
        "LINENO",
        "BASHPID",
        "EPOCHSECONDS",
        "SHELLOPTS",
        "BASH_SUBSHELL",
        "EPOCHREALTIME",
        "SRANDOM",
        "FUNCNAME",
        "PIPESTATUS",
        "BASH_SOURCE",
        "BASH_LINENO",
        "GROUPS",
    ]
)
_OPTION_LETTERS = {
    "e": "errexit",
    "u": "nounset",
    "x": "xtrace",
    "f": "noglob",
    "C": "noclobber",
    "a": "allexport",
    "n": "noexec",
    "v": "verbose",
    "h": "hashall",
    "B": "braceexpand",
    "b": "notify",
    "m": "monitor",
    "E": "errtrace",
    "T": "functrace",
    "H": "histexpand",
    "P": "physical",
    "p": "privileged",
    "k": "keyword",
    "t": "onecmd",
}


_DEFAULT_OPTS: dict[str, bool] = {
    n: False
    for n in (
        "errexit",
        "nounset",
        "xtrace",
        "noglob",
        "noclobber",
        "allexport",
        "pipefail",
        "noexec",
        "verbose",
        "posix",
        "notify",
        "monitor",
        "ignoreeof",
        "nolog",
        "functrace",
        "errtrace",
        "emacs",
        "vi",
        "onecmd",
        "physical",
        "privileged",
        "keyword",
        "histexpand",
        "history",
        "interactive-comments",
    )
}
_DEFAULT_OPTS["hashall"] = True
_DEFAULT_OPTS["braceexpand"] = True
_DEFAULT_OPTS["interactive-comments"] = True
_DEFAULT_SHOPT: dict[str, bool] = {
    n: False
    for n in (
        "extglob",
        "nullglob",
        "dotglob",
        "failglob",
        "globstar",
        "expand_aliases",
        "nocaseglob",
        "nocasematch",
        "lastpipe",
        "inherit_errexit",
        "xpg_echo",
        "extquote",
        "sourcepath",
        "globasciiranges",
        "cdspell",
        "checkwinsize",
        "cmdhist",
        "histappend",
        "interactive_comments",
        "promptvars",
        "shift_verbose",
        "login_shell",
        "progcomp",
        "hostcomplete",
        "complete_fullquote",
        "checkhash",
        "assoc_expand_once",
        "autocd",
        "direxpand",
        "dirspell",
        "execfail",
        "extdebug",
        "force_fignore",
        "gnu_errfmt",
        "huponexit",
        "lithist",
        "localvar_inherit",
        "localvar_unset",
        "mailwarn",
        "no_empty_cmd_completion",
        "nocaseglob",
        "patsub_replacement",
        "progcomp_alias",
        "varredir_close",
        "checkjobs",
        "compat31",
        "compat32",
        "compat40",
        "compat41",
        "compat42",
        "compat43",
        "compat44",
        "globskipdots",
        "noexpand_translation",
        "histreedit",
        "histverify",
        "restricted_shell",
        "cdable_vars",
    )
}
for _n in (
    "extquote",
    "sourcepath",
    "globasciiranges",
    "cmdhist",
    "checkwinsize",
    "interactive_comments",
    "promptvars",
    "progcomp",
    "hostcomplete",
    "complete_fullquote",
    "patsub_replacement",
    "progcomp_alias",
    "globskipdots",
):
    _DEFAULT_SHOPT[_n] = True


class FileOut(OutputStream):
    """Output redirected to a file in the VM filesystem."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._closed = False

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self.handle.write(data)
        await pace()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.handle.close()
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        return self._closed


class FileRW(FileOut, InputStream):
    """A file opened with ``<>``: readable and writable."""

    async def read(self, n: int = -1) -> bytes:
        return bytes(self.handle.read(n))

    async def readuntil(self, sep: bytes) -> bytes:
        out = bytearray()
        while True:
            c = self.handle.read(1)
            if not c:
                return bytes(out)
            out += c
            if out.endswith(sep):
                return bytes(out)


class _Job:
    __slots__ = ("id", "pid", "task", "text", "status")

    def __init__(self, id: int, pid: int, task: asyncio.Task[int], text: str) -> None:
        self.id = id
        self.pid = pid
        self.task = task
        self.text = text
        self.status: int | None = None


class Shell(Expander):
    """A bash-compatible shell bound to a process context."""

    def __init__(self, ctx: Context, *, argv0: str = "bash", args: list[str] | None = None) -> None:
        self.ctx = ctx
        self.fs = ctx.fs
        self.cwd = ctx.cwd
        self.argv0 = argv0
        self.positional: list[str] = list(args or [])
        self.vars: dict[str, Var] = {}
        for k, v in ctx.env.items():
            self.vars[k] = Var(v, ATTR_EXPORT)
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
        self.functions: dict[str, FuncDef] = {}
        self.aliases: dict[str, str] = {}
        self.opts: dict[str, bool] = dict(_DEFAULT_OPTS)
        self.shopt: dict[str, bool] = dict(_DEFAULT_SHOPT)
        self.fds: dict[int, Any] = {0: ctx.stdin, 1: ctx.stdout, 2: ctx.stderr}
        #: the streams this shell was given: its caller's to close, not its own
        self.inherited = (ctx.stdin, ctx.stdout, ctx.stderr)
        self.traps: dict[str, str] = {}
        #: in a subshell, the parent's traps: what ``trap``/``trap -p`` list (like bash)
        #: until the subshell sets a trap of its own
        self.shown_traps: dict[str, str] | None = None
        self.frames: list[dict[str, Var | None]] = []
        self.funcnames: list[str] = []
        self.call_depth = 0
        self.loop_depth = 0
        self.errexit_suppressed = 0
        self.last_status = 0
        self.pipestatus: list[int] = [0]
        self.lineno = 0
        self.last_bg = ""
        self.jobs: list[_Job] = []
        #: background jobs started by subshells (shared by every clone of this shell)
        self.orphans: list[asyncio.Task[int]] = []
        #: memory held by big variable values (see ``charge_value``)
        self.var_mem: Held | None = None
        self.job_counter = 0
        self.subshell_level = 0
        self.trace_level = 0
        self.is_subshell = False
        self.script_name: str | None = None
        self.start_time = time.monotonic()
        self.last_arg = ""
        self.hash_table: dict[str, str] = {}
        self.umask_value = 0o022
        self._env_cache: dict[str, str] | None = None
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
        self.sourcing = 0
        #: a persistent (session) shell: ``run()`` keeps jobs and the EXIT trap for ``close()``
        self.keep_alive = False
        #: a terminal's shell: a signal ends the command line, not the shell (no EXIT trap)
        self.interactive = False
        #: ``exit`` was run
        self.exited = False
        self.bashpid = ctx.pid
        self.builtins = _builtins()[0]
        self.special_builtins = _builtins()[1]

    @property
    def _rand(self) -> random.Random:
        if self._rand_obj is None:
            self._rand_obj = random.Random()
        return self._rand_obj

    # --- option shortcuts ---------------------------------------------------------------------
    @property
    def opt_nounset(self) -> bool:
        return self.opts["nounset"]

    @property
    def opt_noglob(self) -> bool:
        return self.opts["noglob"]

    # --- public API ---------------------------------------------------------------------------
    def exported_env(self) -> dict[str, str]:
        env = self._env_cache
        if env is None:
            env = {
                k: v.value
                for k, v in self.vars.items()
                if v.attrs & ATTR_EXPORT and isinstance(v.value, str)
            }
            self._env_cache = env
        return env

    async def run(self, source: str, *, filename: str | None = None) -> int:
        """Run a script; returns its exit status. State persists across calls."""
        if len(source) > self.ctx.limits.max_source_bytes:
            raise LimitExceeded(
                "max_source_bytes",
                f"script too large (max_source_bytes={self.ctx.limits.max_source_bytes})",
            )
        if filename is not None:
            self.script_name = filename
        try:
            exited = False
            try:
                status = await self._run_source(source, top=True)
            except ExitShell as e:
                status = e.status
                exited = True
            if exited or not self.keep_alive:
                status = await self.run_exit_trap(status)
                self.exited = self.exited or exited
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

    async def run_exit_trap(self, status: int) -> int:
        action = self.traps.pop("EXIT", None)
        if action:
            self.last_status = status
            try:
                await self._run_source(action, top=False)
            except ExitShell as e:
                return e.status
        return status

    async def _exit_trap_after_signal(self) -> None:
        """A shell ended by a signal still runs its EXIT trap, like bash."""
        info = self.ctx.info
        if "EXIT" not in self.traps or info is None:
            return
        sig = info.pending_signal
        status = self.last_status
        info.pending_signal = None
        try:
            await self.run_exit_trap(status)
        except (ShellError, ExitShell, ProcessKilled):
            pass
        finally:
            info.pending_signal = sig
            self.last_status = status

    async def _cancel_jobs(self) -> None:
        if not self.is_subshell and self.orphans:
            orphans = [t for t in self.orphans if not t.done()]
            self.orphans.clear()
            for t in orphans:
                t.cancel()
            if orphans:
                await asyncio.wait(orphans)
        if not self.jobs:
            return
        for _ in range(3):
            if all(j.task.done() for j in self.jobs):
                break
            await asyncio.sleep(0)
        for j in self.jobs:
            if not j.task.done():
                j.task.cancel()
        for j in self.jobs:
            try:
                await j.task
            except BaseException:
                pass
        self.jobs.clear()

    # --- running source -----------------------------------------------------------------------
    async def _run_source(self, source: str, *, top: bool, first_line: int = 1) -> int:
        try:
            script = parse(source, self.shopt["extglob"], first_line)
        except ShellSyntaxError as err:
            return await self._run_incremental(source, err)
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
                raise ExitShell(
                    e.sub_status if self.is_subshell and e.sub_status is not None else e.status
                ) from None
            except ShellError as e:
                await self.report(e)
                status = self.last_status = e.status
                skip_line = line
        return status

    async def _run_incremental(
        self, source: str, err: ShellSyntaxError, where: str | None = None, fatal: bool = True
    ) -> int:
        """Run the complete commands before a syntax error, then report it (like bash,
        which reads and runs its input one command at a time)."""
        p = Parser(source, self.shopt["extglob"])
        status = self.last_status
        while True:
            p.extglob = self.shopt["extglob"]
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
                try:
                    status = await self.exec_item(node, bg)
                except FatalError as fe:
                    await self.report(fe)
                    raise ExitShell(fe.status) from None
                except ShellError as se:
                    await self.report(se)
                    status = self.last_status = se.status
                    break
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
        if e.message.startswith("command substitution:"):
            await self.write_err(f"{self.argv0}: {e.message}\n")
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
                status = self.start_background(node)
                continue
            pl = node.first
            if node.rest or pl.negate or pl.timed or len(pl.cmds) != 1:
                status = await self.exec_andor(node)
                continue
            # the common case: one command, no pipeline, no && / ||
            status = await self.exec_cmd(pl.cmds[0])
            self.pipestatus = [status]
            self.last_status = status
            if info is not None and (info.pending_traps or info.pending_signal is not None):
                await self.deliver_traps()
            if status and self.errexit_suppressed == 0:
                await self._failed(status)
        return status

    async def exec_item(self, node: AndOr, background: bool) -> int:
        if background:
            return self.start_background(node)
        return await self.exec_andor(node)

    def start_background(self, node: AndOr) -> int:
        sub = self.clone()
        sub.errexit_suppressed = 0

        async def runner() -> int:
            try:
                return await sub.exec_andor(node)
            except ExitShell as e:
                return e.status
            except ShellError as e:
                await sub.report(e)
                return e.status
            except BrokenPipeError:
                return 141
            except LimitExceeded as e:
                budget = sub.ctx.budget
                budget.limit_hit = budget.limit_hit or e.limit
                await sub.write_err(f"{sub.argv0}: {e.message}\n")
                return 126

        task = asyncio.ensure_future(runner())
        self.job_counter += 1
        pid = self.ctx.pid * 1000 + self.job_counter if self.ctx.pid else 10000 + self.job_counter
        job_id = max(j.id for j in self.jobs) + 1 if self.jobs else 1
        self.jobs.append(_Job(job_id, pid, task, _node_text(node)))
        if self.is_subshell:
            # a subshell's jobs outlive it; the top shell ends them when it ends
            self.orphans.append(task)
        self.last_bg = str(pid)
        self.last_status = 0
        return 0

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

    async def exec_pipeline(self, pl: Pipeline, check: bool) -> int:
        if pl.timed:
            return await self._timed(pl, check)
        cmds = pl.cmds
        if pl.negate:
            self.errexit_suppressed += 1
        try:
            if len(cmds) == 1:
                status = await self.exec_cmd(cmds[0])
                self.pipestatus = [status]
            else:
                status = await self._run_pipeline(pl)
        finally:
            if pl.negate:
                self.errexit_suppressed -= 1
        if pl.negate:
            status = 0 if status else 1
        self.last_status = status
        info = self.ctx.info
        if info is not None and (info.pending_traps or info.pending_signal is not None):
            await self.deliver_traps()
        if status and check and not pl.negate and self.errexit_suppressed == 0:
            await self._failed(status)
        return status

    async def _timed(self, pl: Pipeline, check: bool) -> int:
        start = time.perf_counter()
        cpu = time.process_time()
        inner = Pipeline(pl.cmds, pl.negate, pl.stderr_too, pl.line, False)
        try:
            return await self.exec_pipeline(inner, check)
        finally:
            real = time.perf_counter() - start
            user = time.process_time() - cpu

            def fmt(t: float) -> str:
                m, sec = divmod(t, 60)
                return f"{int(m)}m{sec:.3f}s"

            await self.write_err(f"\nreal\t{fmt(real)}\nuser\t{fmt(user)}\nsys\t0m0.000s\n")

    async def _yield(self) -> None:
        """Let other tasks (background jobs, pipeline stages) run during long loops."""
        self.ctx.check_killed()
        await asyncio.sleep(0)

    async def _failed(self, status: int) -> None:
        if (
            "ERR" in self.traps
            and not self.in_trap
            and (not self.funcnames or self.opts["errtrace"])
        ):
            await self.run_trap("ERR")
            self.last_status = status
        if self.opts["errexit"]:
            raise ExitShell(status)

    def sync_caught_signals(self) -> None:
        """Tell the kernel which signals this shell traps, so that ``kill`` queues them."""
        info = self.ctx.info
        if info is None or self.is_subshell:
            return
        caught: set[int] = set()
        for name in self.traps:
            num = _SIGNUMS.get(name)
            if num is not None:
                caught.add(num)
        info.caught = frozenset(caught)

    async def deliver_traps(self) -> None:
        """Run the traps of signals that arrived while a command ran (bash runs them
        once the foreground command has finished); end the shell if it was killed."""
        info = self.ctx.info
        if info is None:
            return
        if info.pending_signal is not None:
            raise ProcessKilled(info.pending_signal)
        if self.in_trap:
            return
        while info.pending_traps:
            num = info.pending_traps.pop(0)
            for name, n in _SIGNUMS.items():
                if n == num and self.traps.get(name):
                    await self.run_trap(name)
                    break

    async def run_trap(self, name: str) -> None:
        action = self.traps.get(name)
        if not action:
            return
        saved = self.last_status
        self.in_trap = True
        # bash numbers an ERR trap's lines from the failed command's line; others from 1
        first = max(self.lineno, 1) if name == "ERR" else 1
        try:
            await self.nested(self._run_source(action, top=False, first_line=first))
        finally:
            self.in_trap = False
            self.last_status = saved

    async def _run_pipeline(self, pl: Pipeline) -> int:
        cmds = pl.cmds
        n = len(cmds)
        cap = self.ctx.limits.pipe_buffer
        pipes = [Pipe(capacity=cap) for _ in range(n - 1)]
        tasks = []
        lastpipe = self.shopt["lastpipe"]
        procs: list[ProcessInfo] = []
        try:
            for i, cmd in enumerate(cmds):
                if lastpipe and i == n - 1:
                    tasks.append(asyncio.ensure_future(self._last_stage(cmd, pipes[i - 1])))
                    continue
                sub = self.clone()
                info = self._stage_process(cmd)
                if info is not None:
                    procs.append(info)
                    sub.bashpid = info.pid
                if i > 0:
                    sub.fds[0] = pipes[i - 1].reader
                if i < n - 1:
                    sub.fds[1] = pipes[i].writer
                    if pl.stderr_too and pl.stderr_too[i]:
                        sub.fds[2] = pipes[i].writer
                task = asyncio.ensure_future(self._stage(sub, cmd, i, n, pipes))
                if info is not None:
                    info.task = task
                tasks.append(task)
            results = await asyncio.gather(*tasks)
        except (Exception, asyncio.CancelledError):
            for t in tasks:
                if not t.done():
                    t.cancel()
            if tasks:
                await asyncio.wait(tasks)
            raise
        finally:
            kernel = self.ctx.kernel
            for info in procs:
                kernel.end_process(info, 0)
        self.pipestatus = list(results)
        if self.opts["pipefail"]:
            for s in reversed(results):
                if s:
                    return s
            return 0
        return results[-1]

    def _stage_process(self, cmd: Any) -> ProcessInfo | None:
        """A process-table entry for a pipeline stage the shell runs itself (a function,
        a compound command: bash forks a subshell for it), so that ``max_processes`` bounds
        recursion through pipelines. A stage that is a plain command needs none: the
        command gets its own process."""
        if type(cmd) is Simple:
            words = cmd.words
            if not words:
                return None
            first = words[0].simple
            if first is not None and first not in self.functions and "=" not in first:
                return None
        return self.ctx.kernel.new_process(
            ["bash"],
            env=self.exported_env(),
            cwd=self.cwd,
            ppid=self.ctx.pid,
            max_processes=self.ctx.limits.max_processes,
        )

    async def _last_stage(self, cmd: Any, pipe: Pipe) -> int:
        saved = self.fds
        self.fds = dict(saved)
        self.fds[0] = pipe.reader
        try:
            return await self.exec_cmd(cmd)
        finally:
            self.fds = saved
            pipe.reader.close()

    async def _stage(self, sub: Shell, cmd: Any, i: int, n: int, pipes: list[Pipe]) -> int:
        try:
            return await sub.exec_cmd(cmd)
        except ExitShell as e:
            return e.status
        except BrokenPipeError:
            return 141
        except ShellError as e:
            await sub.report(e)
            return _err_status(e)
        except (BreakLoop, ContinueLoop):
            return 0
        except ReturnFn as r:
            return r.status
        finally:
            sub.release_memory()
            if i < n - 1:
                pipes[i].writer.close()
            if i > 0:
                pipes[i - 1].reader.close()

    async def exec_cmd(self, cmd: Any) -> int:
        t = type(cmd)
        if t is Simple:
            if self._pending_psub:
                return await self._simple_with_psub(cmd)
            st = await self.exec_simple(cmd)
            if self._pending_psub:
                await self._flush_psub()
            return st
        handler = _DISPATCH.get(t)
        if handler is None:
            raise ShellError(f"unsupported command {t.__name__}")
        redirs = cmd.redirs if t is not FuncDef else None
        if redirs:
            saved = self.fds
            opened: list[Any] = []
            try:
                self.fds = await self.apply_redirs(redirs, dict(saved), opened)
            except ShellError as e:
                self.fds = saved
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                return 1
            try:
                return await handler(self, cmd)
            finally:
                self.fds = saved
                _close_all(opened)
        return await handler(self, cmd)

    async def _simple_with_psub(self, cmd: Simple) -> int:
        outer = self._pending_psub
        self._pending_psub = []
        try:
            st = await self.exec_simple(cmd)
            await self._flush_psub()
        finally:
            self._pending_psub = outer
        return st

    async def _flush_psub(self) -> None:
        """Feed what was written to each ``>( )`` file to its command."""
        pending, self._pending_psub = self._pending_psub, []
        for path, sub, body in pending:
            try:
                data = self.fs.read_bytes(path)
            except OSError:
                data = b""
            sub.fds[0] = BytesSource(data)
            try:
                await sub.exec_script(body)
            except (ExitShell, ShellError, BreakLoop, ContinueLoop, ReturnFn):
                pass
            try:
                self.fs.unlink(path)
            except OSError:
                pass
        self.last_status = self.last_status

    # --- simple commands ------------------------------------------------------------------------
    async def exec_simple(self, cmd: Simple) -> int:
        self.ctx.budget.command()
        self.lineno = cmd.line
        words = cmd.words
        if self.shopt["expand_aliases"] and words and self.active_aliases:
            cmd = self._expand_alias(cmd)
            words = cmd.words
        if words and words[0].simple in _DECLARATION and len(words) > 1:
            argv = await self._expand_declaration(words)
        else:
            argv = await self.expand_words(words) if words else []
        if self.warnings:
            await self.flush_warnings()
        if not argv:
            return await self._assign_only(cmd)
        if self.opts["xtrace"]:
            await self._trace(cmd, argv)
        name = argv[0]
        self.last_arg = argv[-1]
        func = self.functions.get(name)
        if func is not None and name not in self.special_builtins:
            if not cmd.assigns and not cmd.redirs:
                st = await self.call_function(func, argv)
                self.last_status = st
                return st
            return await self._with_env(cmd, self.call_function, func, argv)
        builtin = self.builtins.get(name)
        if builtin is not None:
            if name in ("command", "builtin") and len(argv) > 1:
                pass
            return await self._with_env(cmd, self._call_builtin, builtin, argv)
        return await self._external(cmd, argv)

    async def _expand_declaration(self, words: list[Word]) -> list[str]:
        """Arguments of ``local``/``declare``/``export``/...: a ``name=value`` word is an
        assignment, its value neither split nor globbed (``local v=$1``), like bash."""
        if words[0].simple in self.functions:
            return await self.expand_words(words)
        argv = [words[0].simple or ""]
        for w in words[1:]:
            a = w.assign
            if a is not None and a.array is not None:
                argv.append(w.text)  # name=(...): the builtin expands the elements itself
                continue
            if a is None or a.value is None:
                argv.extend(await self.expand_word(w) if w.simple is None else [w.simple])
                continue
            head = a.name + (f"[{a.index}]" if a.index is not None else "")
            head += "+=" if a.append else "="
            argv.append(head + await self.expand_str(a.value, assign=True))
        return argv

    def _expand_alias(self, cmd: Simple) -> Simple:
        first = cmd.words[0].simple
        seen: set[str] = set()
        aliases = self.active_aliases
        while first is not None and first in aliases and first not in seen:
            seen.add(first)
            text = aliases[first]
            try:
                sub = parse(text + " ", self.shopt["extglob"])
            except ShellSyntaxError:
                return cmd
            if (
                len(sub.items) != 1
                or sub.items[0].node.rest
                or len(sub.items[0].node.first.cmds) != 1
            ):
                return cmd
            inner = sub.items[0].node.first.cmds[0]
            if not isinstance(inner, Simple):
                return cmd
            rest = cmd.words[1:]
            if text.endswith(" ") and rest:
                rest = self._alias_next(rest, aliases, seen)
            cmd = Simple(
                cmd.assigns + inner.assigns, inner.words + rest, inner.redirs + cmd.redirs, cmd.line
            )
            first = cmd.words[0].simple if cmd.words else None
            if inner.words and inner.words[0].simple == first and first in seen:
                break
        return cmd

    def _alias_next(self, words: list[Word], aliases: dict[str, str], seen: set[str]) -> list[Word]:
        """After an alias ending in a blank, the next word is alias-expanded too."""
        w = words[0].simple
        if w is None or w not in aliases or w in seen:
            return words
        seen.add(w)
        text = aliases[w]
        try:
            sub = parse(text + " ", self.shopt["extglob"])
        except ShellSyntaxError:
            return words
        if len(sub.items) != 1 or sub.items[0].node.rest or len(sub.items[0].node.first.cmds) != 1:
            return words
        inner = sub.items[0].node.first.cmds[0]
        if not isinstance(inner, Simple) or inner.assigns or inner.redirs:
            return words
        rest = words[1:]
        if text.endswith(" ") and rest:
            rest = self._alias_next(rest, aliases, seen)
        return inner.words + rest

    async def _trace(
        self,
        cmd: Simple | None,
        argv: list[str],
        assigns: list[str] | None = None,
        ps4_before: str | None = None,
    ) -> None:
        ps4 = self.get_str("PS4") if ps4_before is None else ps4_before
        ps4 = ps4 if ps4 is not None else "+ "
        if ps4 and ("$" in ps4 or "`" in ps4):
            ps4 = await self._expand_ps4(ps4)
        if ps4:
            ps4 = ps4[0] * self.trace_level + ps4
        lines = []
        if assigns:
            for a in assigns:
                lines.append(ps4 + a + "\n")
        if argv:
            lines.append(ps4 + " ".join(quote_word(a) for a in argv) + "\n")
        await self.write_err("".join(lines))

    async def _expand_ps4(self, ps4: str) -> str:
        """PS4 expanded with tracing off (a ``$(...)`` in it is not traced, and does not
        expand PS4 again); a malformed PS4 is reported and used as it is, like bash."""
        opts = self.opts
        if not opts["xtrace"]:
            return ps4
        opts["xtrace"] = False
        try:
            return await self.expand_str(parse_word_text(ps4))
        except ShellSyntaxError:
            await self.write_err(f"{self.argv0}: {ps4}: bad substitution\n")
        except ShellError:
            pass
        finally:
            opts["xtrace"] = True
        return ps4

    async def _assign_only(self, cmd: Simple) -> int:
        status = 0
        traced: list[str] = []
        if cmd.redirs:
            saved = self.fds
            opened: list[Any] = []
            try:
                self.fds = await self.apply_redirs(cmd.redirs, dict(saved), opened)
            except ShellError as e:
                self.fds = saved
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                return 1
            self.fds = saved
            _close_all(opened)
        # $? in the values is still the previous command's status (bash)
        had_sub = False
        ps4_before = self.get_str("PS4") if self.opts["xtrace"] else None
        for a in cmd.assigns:
            try:
                cs = a.cmdsub
                if cs is None:
                    cs = a.cmdsub = _has_cmdsub(a)
                had_sub = had_sub or cs
                val = await self.do_assign(a)
                if self.opts["xtrace"]:
                    traced.append(
                        f"{a.name}{'+' if a.append else ''}="
                        f"{quote_word(val) if isinstance(val, str) else val}"
                    )
            except ShellError as e:
                if isinstance(e, FatalError) or "readonly" not in e.message:
                    raise
                await self.error(e.message)
                self.last_status = 1
                raise ExitShell(1) from None
        if traced:
            await self._trace(None, [], traced, ps4_before)
        if had_sub:
            return self.last_status
        return status

    async def do_assign(self, a: Assign, local: bool = False) -> str:
        if a.array is not None:
            await self.assign_array(a.name, a.array, a.append, index=a.index)
            return "(" + " ".join(x.text for x in a.array) + ")"
        val = await self.expand_str(a.value, assign=True) if a.value is not None else ""
        index = a.index
        if index is not None:
            if index in ("@", "*"):
                raise ShellError(f"{a.name}[{index}]: bad array subscript")
            index = await self.subscript_key(a.name, index)
        self.assign_var(a.name, val, index=index, append=a.append)
        return val

    async def assign_array(
        self, name: str, elems: list[Any], append: bool, index: str | None = None
    ) -> None:
        var = self.vars.get(name)
        if var is not None and var.attrs & ATTR_READONLY:
            raise ShellError(f"{name}: readonly variable")
        assoc = var is not None and bool(var.attrs & ATTR_ASSOC)
        new: dict[Any, str] = {}
        if append and var is not None:
            if isinstance(var.value, dict):
                new = dict(var.value)
            elif var.value is not None:
                new = {0: var.value}
        nxt = (max(new) + 1) if (new and not assoc) else 0
        for e in elems:
            if isinstance(e, Assign):
                key_text = e.index or ""
                val = await self.expand_str(e.value, assign=True) if e.value is not None else ""
                if assoc:
                    key: Any = await self.expand_str(parse_word_text(key_text))
                else:
                    key = await self.arith_text(key_text)
                    if key < 0:
                        key += nxt
                    nxt = key + 1
                if e.append:
                    val = new.get(key, "") + val
                new[key] = self._coerce(var, val)
            else:
                if assoc:
                    fields = await self.expand_word(e)
                    for f in fields:
                        new[f] = ""
                    continue
                for f in await self.expand_word(e):
                    new[nxt] = self._coerce(var, f)
                    nxt += 1
        attrs = var.attrs if var is not None else 0
        if not assoc:
            attrs |= ATTR_ARRAY
        self.set_var_obj(name, Var(new, attrs))

    def _coerce(self, var: Var | None, val: str) -> str:
        if var is None:
            return val
        a = var.attrs
        if a & ATTR_INTEGER:
            try:
                val = str(evaluate(val, self)) if val.strip() else "0"
            except ArithError as e:
                raise ShellError(str(e)) from None
        if a & ATTR_LOWER:
            val = val.lower()
        elif a & ATTR_UPPER:
            val = val.upper()
        return val

    async def _with_env(self, cmd: Simple, fn: Any, target: Any, argv: list[str]) -> int:
        """Run a builtin/function with the command's assignments (temporary) and redirections."""
        saved_vars: list[tuple[str, Var | None]] = []
        if cmd.assigns:
            for a in cmd.assigns:
                saved_vars.append((a.name, self.vars.get(a.name)))
                val = await self.expand_str(a.value, assign=True) if a.value is not None else ""
                old = self.vars.get(a.name)
                attrs = (old.attrs if old is not None else 0) | ATTR_EXPORT
                self.vars[a.name] = Var(val, attrs)
            self._env_cache = None
        saved_fds = self.fds
        opened: list[Any] = []
        try:
            if cmd.redirs:
                try:
                    self.fds = await self.apply_redirs(cmd.redirs, dict(saved_fds), opened)
                except ShellError as e:
                    self.fds = saved_fds
                    await self.error(e.message)
                    self.last_status = 1
                    return 1
            status = await fn(target, argv)
            self.last_status = status
            return status
        finally:
            if self._keep_fds:
                self._keep_fds = False
            else:
                self.fds = saved_fds
                _close_all(opened)
            if saved_vars:
                special = argv[0] in self.special_builtins and self.builtins.get(argv[0]) is target
                if not special:
                    for name, old in reversed(saved_vars):
                        if old is None:
                            self.vars.pop(name, None)
                        else:
                            self.vars[name] = old
                self._env_cache = None

    async def _call_builtin(self, builtin: Any, argv: list[str]) -> int:
        try:
            return await builtin(self, argv)
        except ShellError as e:
            if isinstance(e, FatalError):
                raise
            await self.error(e.message)
            return e.status
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.error(f"{argv[0]}: write error: {_strerror(exc)}")
            return 1

    async def nested(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Await ``coro``, one level deeper in the script's nesting (functions, eval, source,
        command substitutions, traps). Every ``HOP_EVERY`` levels it runs in a task of its own,
        which starts on a fresh Python stack: deep shell recursion is bounded by
        ``max_call_depth``, never by the host's recursion limit, which is left alone. The task
        is awaited at once, so a cancellation reaches it and it never outlives its caller."""
        try:
            self.ctx.budget.call_depth(self.nest + 1)
        except LimitExceeded:
            coro.close()
            raise
        self.nest += 1
        try:
            if self.nest % HOP_EVERY:
                return await coro
            return await asyncio.ensure_future(coro)
        finally:
            self.nest -= 1

    async def call_function(self, func: FuncDef, argv: list[str]) -> int:
        return await self.nested(self._call_function(func, argv))

    async def _call_function(self, func: FuncDef, argv: list[str]) -> int:
        return_trap_sets = self.return_trap_sets
        self.call_depth += 1
        self.ctx.budget.call_depth(self.call_depth)
        saved_pos = self.positional
        self.positional = argv[1:]
        self.frames.append({})
        self.funcnames.append(func.name)
        saved_loops = self.loop_depth
        saved_line = self.lineno
        self.loop_depth = 0
        body = func.body
        try:
            if type(body) is Group and not body.redirs:
                status = await self.exec_script(body.body)
            else:
                status = await self.exec_cmd(body)
        except ReturnFn as r:
            status = r.status
        finally:
            self.loop_depth = saved_loops
            self.lineno = saved_line  # the caller's line again (an ERR trap on the call uses it)
            frame = self.frames.pop()
            for name, old in frame.items():
                if name == "-":
                    if old is not None and isinstance(old.value, dict):
                        self.opts = dict(old.value)
                elif old is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = old
            if frame:
                self._env_cache = None
            self.positional = saved_pos
            self.funcnames.pop()
            self.call_depth -= 1
        action = self.traps.get("RETURN")
        if (
            action
            and not self.in_trap
            and (self.return_trap_sets != return_trap_sets or self.opts["functrace"])
        ):
            # like bash: functions do not inherit the RETURN trap unless functrace is on
            await self.run_trap("RETURN")
        self.last_status = status
        return status

    async def _external(self, cmd: Simple, argv: list[str]) -> int:
        name = argv[0]
        env = self.exported_env()
        if cmd.assigns:
            env = dict(env)
            for a in cmd.assigns:
                env[a.name] = (
                    await self.expand_str(a.value, assign=True) if a.value is not None else ""
                )
        kernel = self.ctx.kernel
        saved_fds = self.fds
        opened: list[Any] = []
        if cmd.redirs:
            try:
                fds = await self.apply_redirs(cmd.redirs, dict(saved_fds), opened)
            except ShellError as e:
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                return 1
        else:
            fds = saved_fds
        try:
            func = kernel.find_command(name, env, self.cwd)
        except OSError as exc:
            func = None
            msg = f"{name}: {_strerror(exc)}"
            status = 126 if exc.errno in (errno.EACCES, errno.EISDIR) else 127
        else:
            msg = f"{name}: command not found"
            status = 127
        if func is None:
            self.fds = fds
            try:
                await self.error(msg)
            finally:
                self.fds = saved_fds
                _close_all(opened)
            self.last_status = status
            return status
        try:
            stdin = fds.get(0)
            stdout = fds.get(1)
            stderr = fds.get(2)
            status = await kernel.run_command(
                argv,
                stdin=stdin if isinstance(stdin, InputStream) else NullInput(),
                stdout=stdout if isinstance(stdout, OutputStream) else _ClosedOut(),
                stderr=stderr if isinstance(stderr, OutputStream) else NullOutput(),
                env=env,
                cwd=self.cwd,
                ppid=self.ctx.pid,
                limits=self.ctx.limits,
                budget=self.ctx.budget,
                func=func,
            )
        finally:
            _close_all(opened)
        self.last_status = status
        if status == 141 and self.fds.get(1) is not None:
            pass
        return status

    # --- redirections ---------------------------------------------------------------------------
    async def apply_redirs(
        self, redirs: list[Redir], fds: dict[int, Any], opened: list[Any]
    ) -> dict[int, Any]:
        for r in redirs:
            op = r.op
            fd = r.fd
            if r.fdvar:
                fd = await self._fdvar_fd(r, fds)
                if fd < 0:
                    continue
            if r.heredoc is not None:
                hd = r.heredoc
                body = hd.body
                text = (
                    ""
                    if body is None
                    else (body.simple if body.simple is not None else await self.expand_str(body))
                )
                fds[0 if fd is None else fd] = BytesSource(text.encode("utf-8", "surrogateescape"))
                continue
            assert r.target is not None
            if op == "<<<":
                text = await self.expand_str(r.target)
                fds[0 if fd is None else fd] = BytesSource(
                    (text + "\n").encode("utf-8", "surrogateescape")
                )
                continue
            if op in (">&", "<&"):
                target = await self.expand_str(r.target)
                src_fd = (1 if op == ">&" else 0) if fd is None else fd
                if target == "-":
                    fds.pop(src_fd, None)
                    continue
                if target.endswith("-") and target[:-1].isdigit():
                    n = int(target[:-1])
                    if n not in fds:
                        raise ShellError(f"{n}: Bad file descriptor")
                    fds[src_fd] = fds[n]
                    fds.pop(n, None)
                    continue
                if target.isdigit():
                    n = int(target)
                    if n not in fds:
                        raise ShellError(f"{target}: Bad file descriptor")
                    fds[src_fd] = fds[n]
                    continue
                if op == "<&":
                    raise ShellError(f"{target}: ambiguous redirect")
                if fd is not None:
                    raise ShellError(f"{target}: ambiguous redirect")
                op = "&>"
            path = await self._redir_target(r.target)
            if op == "<":
                stream = self._open_in(path)
                fds[0 if fd is None else fd] = stream
            elif op == "<>":
                rw = self._open_rw(path)
                opened.append(rw)
                fds[0 if fd is None else fd] = rw
            elif op in (">", ">|", ">>", "&>", "&>>"):
                append = op in (">>", "&>>")
                out = self._open_out(path, append, clobber=op == ">|")
                if not isinstance(out, (NullOutput,)) and isinstance(out, FileOut):
                    opened.append(out)
                if op in ("&>", "&>>"):
                    fds[1] = out
                    fds[2] = out
                else:
                    fds[1 if fd is None else fd] = out
        return fds

    async def _fdvar_fd(self, r: Redir, fds: dict[int, Any]) -> int:
        """``{name}>file``: the lowest free fd from 10 up, stored in ``name``; ``{name}>&-``
        closes the fd that ``name`` holds (and returns -1: nothing more to do)."""
        name = r.fdvar or ""
        if r.op in (">&", "<&") and r.target is not None and r.target.simple == "-":
            cur = self.get_str(name)
            if cur is None or not cur.isdigit():
                raise ShellError(f"{name}: ambiguous redirect")
            if int(cur) not in fds:
                raise ShellError(f"{cur}: Bad file descriptor")
            fds.pop(int(cur), None)
            return -1
        fd = 10
        while fd in fds:
            fd += 1
        self.assign_var(name, str(fd))
        return fd

    async def _redir_target(self, w: Word) -> str:
        if w.simple is not None:
            return w.simple
        fields = await self.expand_word(w)
        if len(fields) != 1:
            raise ShellError(f"{w.text}: ambiguous redirect")
        return fields[0]

    def _special_stream(self, path: str) -> Any:
        if path == "/dev/null":
            return "null"
        if path in ("/dev/stdin", "/dev/fd/0"):
            return self.fds.get(0)
        if path in ("/dev/stdout", "/dev/fd/1"):
            return self.fds.get(1)
        if path in ("/dev/stderr", "/dev/fd/2"):
            return self.fds.get(2)
        if path.startswith("/dev/fd/") and path[8:].isdigit():
            return self.fds.get(int(path[8:]))
        return None

    def _open_in(self, path: str) -> InputStream:
        sp = self._special_stream(path)
        if sp == "null":
            return NullInput()
        if isinstance(sp, InputStream):
            return sp
        try:
            p = self._abs(path)
            if self.fs.stat(p).is_chardev():
                return HandleInput(self.fs.open(p, "rb"))
            data = self.fs.read_bytes(p)
        except IsADirectoryError:
            return _DirInput()
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None
        return BytesSource(data)

    def _open_rw(self, path: str) -> FileRW:
        p = self._abs(path)
        try:
            if not self.fs.exists(p):
                self.fs.write_bytes(p, b"")
            return FileRW(self.fs.open(p, "r+b"))
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None

    def _open_out(self, path: str, append: bool, clobber: bool) -> OutputStream:
        sp = self._special_stream(path)
        if sp == "null":
            return NullOutput()
        if isinstance(sp, OutputStream):
            return sp
        p = self._abs(path)
        if self.opts["noclobber"] and not append and not clobber:
            try:
                st = self.fs.stat(p)
                import stat as S

                if S.S_ISREG(st.st_mode):
                    raise ShellError(f"{path}: cannot overwrite existing file")
            except FileNotFoundError:
                pass
            except OSError:
                pass
        try:
            h = self.fs.open(p, "ab" if append else "wb")
        except OSError as exc:
            raise ShellError(f"{path}: {_strerror(exc)}") from None
        return FileOut(h)

    def _abs(self, path: str) -> str:
        if path.startswith("/"):
            return path
        return self.cwd.rstrip("/") + "/" + path

    # --- compound commands ----------------------------------------------------------------------
    async def _exec_subshell(self, cmd: Subshell) -> int:
        sub = self.clone()
        sub.subshell_level += 1
        self.lineno = cmd.line
        try:
            status = await sub.exec_script(cmd.body)
        except ExitShell as e:
            status = e.status
        except (BreakLoop, ContinueLoop):
            status = 0
        except ReturnFn as r:
            status = r.status
        except ShellError as e:
            await sub.report(e)
            status = _err_status(e)
        finally:
            sub.release_memory()
        status = await sub.run_exit_trap(status)
        self.last_status = status
        return status

    async def _exec_group(self, cmd: Group) -> int:
        return await self.exec_script(cmd.body)

    async def _exec_if(self, cmd: If) -> int:
        for cond, body in cmd.clauses:
            self.errexit_suppressed += 1
            try:
                st = await self.exec_script(cond)
            finally:
                self.errexit_suppressed -= 1
            if st == 0:
                return await self.exec_script(body)
        if cmd.orelse is not None:
            return await self.exec_script(cmd.orelse)
        self.last_status = 0
        return 0

    async def _exec_while(self, cmd: While) -> int:
        status = 0
        budget = self.ctx.budget
        self.loop_depth += 1
        try:
            while True:
                budget.loop()
                self.errexit_suppressed += 1
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                try:
                    try:
                        st = await self.exec_script(cmd.cond)
                    finally:
                        self.errexit_suppressed -= 1
                    if (st == 0) == cmd.until:
                        break
                    status = await self.exec_script(cmd.body)
                except BreakLoop as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = b.status
                    break
                except ContinueLoop as c:
                    if c.n > 1:
                        c.n -= 1
                        raise
                    continue
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _exec_for(self, cmd: For) -> int:
        self.lineno = cmd.line
        if cmd.words is None:
            items = list(self.positional)
        else:
            items = await self.expand_words(cmd.words)
        if cmd.select:
            return await self._exec_select(cmd, items)
        status = 0
        budget = self.ctx.budget
        name = cmd.var
        self.loop_depth += 1
        try:
            for it in items:
                budget.loop()
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                self.assign_var(name, it)
                try:
                    status = await self.exec_script(cmd.body)
                except BreakLoop as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = b.status
                    break
                except ContinueLoop as c:
                    if c.n > 1:
                        c.n -= 1
                        raise
                    continue
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _exec_select(self, cmd: For, items: list[str]) -> int:
        status = 0
        self.loop_depth += 1
        try:
            while True:
                self.ctx.budget.loop()
                menu = "".join(f"{i + 1}) {it}\n" for i, it in enumerate(items))
                ps3 = self.get_str("PS3")
                await self.write_err(menu + (ps3 if ps3 is not None else "#? "))
                stdin = self.fds.get(0)
                line = await stdin.readline() if isinstance(stdin, InputStream) else b""
                if not line:
                    await self.write_out("\n")
                    status = 1
                    break
                reply = line.decode("utf-8", "surrogateescape").rstrip("\n")
                self.assign_var("REPLY", reply)
                if not reply.strip():
                    continue
                try:
                    k = int(reply.strip())
                    choice = items[k - 1] if 1 <= k <= len(items) else ""
                except ValueError:
                    choice = ""
                self.assign_var(cmd.var, choice)
                try:
                    status = await self.exec_script(cmd.body)
                except BreakLoop as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = b.status
                    break
                except ContinueLoop as c:
                    if c.n > 1:
                        c.n -= 1
                        raise
                    continue
        finally:
            self.loop_depth -= 1
        return status

    async def _exec_arith_for(self, cmd: ArithFor) -> int:
        self.lineno = cmd.line
        status = 0
        budget = self.ctx.budget
        init, cond, step = cmd.init, cmd.cond, cmd.step
        plain = "$" not in init + cond + step and "`" not in init + cond + step
        try:
            if plain:
                from pocketos.shell.arith import compile_expr

                f_init, f_cond, f_step = (
                    compile_expr(init),
                    compile_expr(cond.strip() or "1"),
                    compile_expr(step),
                )
                f_init(self)
            else:
                await self.arith_text(init)
        except ArithError as e:
            raise ShellError(f"((: {e}")
        except ZeroDivisionError:
            raise ShellError("division by 0") from None
        self.loop_depth += 1
        try:
            while True:
                budget.loop()
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                if plain:
                    try:
                        c = f_cond(self)
                    except ZeroDivisionError:
                        raise ShellError("division by 0") from None
                else:
                    c = await self.arith_text(cond) if cond.strip() else 1
                if not c:
                    break
                try:
                    status = await self.exec_script(cmd.body)
                except BreakLoop as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = b.status
                    break
                except ContinueLoop as cl:
                    if cl.n > 1:
                        cl.n -= 1
                        raise
                if plain:
                    f_step(self)
                else:
                    await self.arith_text(step)
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _exec_case(self, cmd: Case) -> int:
        self.lineno = cmd.line
        word = await self.expand_str(cmd.word)
        status = 0
        nocase = self.shopt["nocasematch"]
        items = cmd.items
        i = 0
        n = len(items)
        matched_any = False
        while i < n:
            item = items[i]
            hit = False
            for pw in item.patterns:
                p = await self.expand_pattern(pw)
                if pat.match(p, word, nocase, tick=self.ctx.budget.check_time):
                    hit = True
                    break
            if not hit:
                i += 1
                continue
            matched_any = True
            status = await self.exec_script(item.body)
            while item.term == ";&" and i + 1 < n:
                i += 1
                item = items[i]
                status = await self.exec_script(item.body)
            if item.term == ";;&":
                i += 1
                continue
            break
        if not matched_any:
            status = 0
        self.last_status = status
        return status

    async def _exec_funcdef(self, cmd: FuncDef) -> int:
        self.functions[cmd.name] = cmd
        self.last_status = 0
        return 0

    async def _exec_arith(self, cmd: ArithCmd) -> int:
        self.ctx.budget.command()
        self.lineno = cmd.line
        if self.opts["xtrace"]:
            await self.write_err(f"{self.get_str('PS4') or ''}(( {cmd.expr.strip()} ))\n")
        try:
            v = await self.arith_text(cmd.expr)
        except ShellError as e:
            await self.write_err(f"{self.prefix()}((: {e.message}\n")
            self.last_status = 1
            return 1
        st = 0 if v else 1
        self.last_status = st
        return st

    async def _exec_cond(self, cmd: CondCmd) -> int:
        self.ctx.budget.command()
        self.lineno = cmd.line
        try:
            r = await self.eval_cond(cmd.expr)
        except ShellError as e:
            if isinstance(e, FatalError):
                raise
            await self.error(e.message)
            self.last_status = 2
            return 2
        st = 0 if r else 1
        self.last_status = st
        return st

    async def _trace_cond(self, prefix: str, text: str) -> None:
        ps4 = self.get_str("PS4")
        ps4 = "+ " if ps4 is None else ps4
        if ps4:
            ps4 = ps4[0] * self.trace_level + ps4
        await self.write_err(f"{ps4}[[ {prefix}{text} ]]\n")

    async def eval_cond(self, e: CondExpr, prefix: str = "") -> bool:
        if isinstance(e, CondAnd):
            return await self.eval_cond(e.left, prefix) and await self.eval_cond(e.right)
        if isinstance(e, CondOr):
            return await self.eval_cond(e.left, prefix) or await self.eval_cond(e.right)
        if isinstance(e, CondNot):
            return not await self.eval_cond(e.expr, prefix + "! ")
        if isinstance(e, CondWord):
            w = await self.expand_str(e.word)
            if self.opts["xtrace"]:
                await self._trace_cond(prefix, w)
            return w != ""
        if isinstance(e, CondUnary):
            op = e.op
            arg = await self.expand_str(e.arg)
            if self.opts["xtrace"]:
                await self._trace_cond(prefix, f"{op} {arg}")
            if op == "-v":
                return self._var_isset(arg)
            if op == "-z":
                return arg == ""
            if op == "-n":
                return arg != ""
            if op == "-o":
                return self.opts.get(arg, False)
            from pocketos.shell.testexpr import evaluate_test

            st, err = evaluate_test([op, arg], self.fs.with_cwd(self.cwd), isatty=self.fd_isatty)
            if err:
                raise ShellError(err)
            return st == 0
        assert isinstance(e, CondBinary)
        op = e.op
        left = await self.expand_str(e.left)
        if self.opts["xtrace"]:
            await self._trace_cond(prefix, f"{left} {op} {await self.expand_str(e.right)}")
        if op in ("==", "=", "!="):
            p = await self.expand_pattern(e.right)
            r = pat.match(p, left, self.shopt["nocasematch"], tick=self.ctx.budget.check_time)
            return r if op != "!=" else not r
        if op == "=~":
            return await self._regex_match(left, e.right)
        right = await self.expand_str(e.right)
        if op == "<":
            return left.encode("utf-8", "surrogateescape") < right.encode(
                "utf-8", "surrogateescape"
            )
        if op == ">":
            return left.encode("utf-8", "surrogateescape") > right.encode(
                "utf-8", "surrogateescape"
            )
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            a = await self.arith_text(left) if left.strip() else 0
            b = await self.arith_text(right) if right.strip() else 0
            return {
                "-eq": a == b,
                "-ne": a != b,
                "-lt": a < b,
                "-le": a <= b,
                "-gt": a > b,
                "-ge": a >= b,
            }[op]
        from pocketos.shell.testexpr import evaluate_test

        st, err = evaluate_test([left, op, right], self.fs.with_cwd(self.cwd))
        if err:
            raise ShellError(err)
        return st == 0

    async def _regex_match(self, left: str, w: Word) -> bool:
        import re

        # quoted parts match literally
        from pocketos.shell.expand import _Fields

        fb = _Fields()
        await self._expand_parts(w.parts, fb, False)
        rx_parts = []
        for text, q in zip(fb.text, fb.qs, strict=False):
            rx_parts.append(re.escape(text) if q else text)
        rx = "".join(rx_parts)
        try:
            flags = re.IGNORECASE if self.shopt["nocasematch"] else 0
            m = re.search(_ere_to_py(rx), left, flags)
        except re.error:
            return False  # bash: status 2 for an invalid regex
        if m is None:
            self.set_var_obj("BASH_REMATCH", Var({}, ATTR_ARRAY))
            return False
        groups = {0: m.group(0)}
        for i, g in enumerate(m.groups(), 1):
            groups[i] = g if g is not None else ""
        self.set_var_obj("BASH_REMATCH", Var(groups, ATTR_ARRAY))
        return True

    # --- substitutions ----------------------------------------------------------------------------
    async def command_subst(self, p: CmdSub) -> str:
        items = p.body.items
        if len(items) == 1 and not items[0].background and not items[0].node.rest:
            cmds = items[0].node.first.cmds
            c0 = cmds[0]
            if (
                len(cmds) == 1
                and isinstance(c0, Simple)
                and not c0.words
                and not c0.assigns
                and len(c0.redirs) == 1
                and c0.redirs[0].op == "<"
                and c0.redirs[0].target is not None
            ):
                path = await self._redir_target(c0.redirs[0].target)
                try:
                    stream = self._open_in(path)
                except ShellError as e:
                    await self.error(e.message)
                    self.last_status = 1
                    return ""
                data = await stream.read()
                self.last_status = 0
                return data.decode("utf-8", "surrogateescape").replace("\x00", "").rstrip("\n")
        sink = _SubstSink()
        sub = self.clone()
        sub.trace_level += 1
        sub.subshell_level += 1
        sub.fds[1] = sink
        if not self.shopt["inherit_errexit"]:
            sub.opts["errexit"] = False
        try:
            status = await sub.nested(sub.exec_script(p.body))
        except ExitShell as e:
            status = e.status
        except ShellError as e:
            await sub.report(e)
            status = _err_status(e)
        except (BreakLoop, ContinueLoop):
            status = 0
        except ReturnFn as r:
            status = r.status
        status = await sub.run_exit_trap(status)
        sub.release_memory()
        self.last_status = status
        data = sink.getvalue()
        out = data.decode("utf-8", "surrogateescape")
        if "\x00" in out:
            out = out.replace("\x00", "")
            await self.error("warning: command substitution: ignored null byte in input")
        return out.rstrip("\n")

    async def process_subst(self, p: ProcSub) -> str:
        self.job_counter += 1
        path = f"/tmp/.psub-{self.ctx.pid}-{self.job_counter}-{id(p) & 0xFFFF}"
        sub = self.clone()
        if p.direction == "<":
            sink = BytesSink()
            sub.fds[1] = sink
            try:
                await sub.exec_script(p.body)
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

    # --- variables --------------------------------------------------------------------------------
    def get_str(self, name: str) -> str | None:
        v = self.vars.get(name)
        if v is None:
            if name in self.dynamic:
                r = self.lookup(name, None)
                return r if isinstance(r, str) else None
            return None
        val = v.value
        if isinstance(val, dict):
            return val.get(0) if not v.attrs & ATTR_ASSOC else val.get("0")
        return val

    def resolve_nameref(self, name: str) -> str | None:
        """The variable a chain of namerefs starting at ``name`` ends at; ``None`` (and a
        warning for a cycle) when it loops or is longer than bash's limit of 8."""
        seen = {name}
        cur = name
        for _ in range(NAMEREF_MAX + 1):
            v = self.vars.get(cur)
            if v is None or not v.attrs & ATTR_NAMEREF:
                return cur
            nxt = v.value
            if not isinstance(nxt, str) or not nxt:
                return cur
            if nxt in seen:
                self.warnings.append(f"warning: {name}: circular name reference")
                return None
            seen.add(nxt)
            cur = nxt
        return None

    async def flush_warnings(self) -> None:
        msgs, self.warnings = self.warnings, []
        for m in msgs:
            await self.error(m)

    def lookup(self, name: str, index: str | None) -> str | list[str] | None:
        """Value of a parameter; a list for ``$@``, ``$*`` and ``a[@]``."""
        v = self.vars.get(name)
        if v is not None and v.attrs & ATTR_NAMEREF and isinstance(v.value, str) and v.value:
            target = self.resolve_nameref(name)
            if target is None or target == name:
                return None
            return self.lookup(target, index)
        if v is not None and name not in self.dynamic:
            val = v.value
            if val is None:
                return None
            if isinstance(val, dict):
                if index is None:
                    return val.get("0" if v.attrs & ATTR_ASSOC else 0)
                if index in ("@", "*"):
                    if v.attrs & ATTR_ASSOC:
                        return list(val.values())
                    return [val[k] for k in sorted(val)]
                if v.attrs & ATTR_ASSOC:
                    return val.get(index)
                try:
                    k = int(index)
                except ValueError:
                    return None
                if k < 0:
                    k += (max(val) + 1) if val else 0
                return val.get(k)
            if index is None or index == "0":
                return val
            if index in ("@", "*"):
                return [val]
            return None
        if name.isdigit():
            if name == "0":
                return self.argv0
            k = int(name)
            return self.positional[k - 1] if k <= len(self.positional) else None
        if name in ("@", "*"):
            return list(self.positional)
        if name == "#":
            return str(len(self.positional))
        if name == "?":
            return str(self.last_status)
        if name == "$":
            return str(self.ctx.pid)
        if name == "!":
            return self.last_bg or None
        if name == "-":
            return self.flags_string()
        if name == "_":
            return self.last_arg
        if name == "RANDOM":
            return str(self._rand.randrange(32768))
        if name == "SRANDOM":
            return str(self._rand.getrandbits(32))
        if name == "SECONDS":
            return str(int(time.monotonic() - self.start_time))
        if name == "LINENO":
            return str(self.lineno)
        if name == "BASHPID":
            return str(self.bashpid)
        if name == "BASH_SUBSHELL":
            return str(self.subshell_level)
        if name == "SHELLOPTS":
            return ":".join(k for k in sorted(self.opts) if self.opts[k])
        if name == "EPOCHSECONDS":
            return str(int(time.time()))
        if name == "EPOCHREALTIME":
            return f"{time.time():.6f}"
        if name == "FUNCNAME":
            names = list(reversed(self.funcnames))
            if names and self.script_name:
                names.append("main")
            return self._index_list(names, index)
        if name == "PIPESTATUS":
            return self._index_list([str(s) for s in self.pipestatus], index)
        if name == "BASH_SOURCE":
            return self._index_list([self.script_name or ""] * (len(self.funcnames) + 1), index)
        if name == "GROUPS":
            return self._index_list(["1000"], index)
        if v is not None:
            val = v.value
            if isinstance(val, dict):
                return self.lookup_in(v, index)
            return val
        return None

    def lookup_in(self, v: Var, index: str | None) -> str | list[str] | None:
        val = v.value
        assert isinstance(val, dict)
        if index in ("@", "*"):
            return [val[k] for k in self._sorted_keys(val)]
        return val.get(index if v.attrs & ATTR_ASSOC else int(index or 0))

    def _index_list(self, items: list[str], index: str | None) -> str | list[str] | None:
        if index in ("@", "*"):
            return items
        try:
            k = int(index or "0")
        except ValueError:
            return None
        return items[k] if -len(items) <= k < len(items) else None

    def _sorted_keys(self, d: dict[Any, str]) -> list[Any]:
        keys = list(d)
        if keys and isinstance(keys[0], int):
            keys.sort()
        return keys

    def flags_string(self) -> str:
        s = ""
        for letter, name in (
            ("a", "allexport"),
            ("e", "errexit"),
            ("f", "noglob"),
            ("h", "hashall"),
            ("n", "noexec"),
            ("u", "nounset"),
            ("v", "verbose"),
            ("x", "xtrace"),
            ("B", "braceexpand"),
            ("C", "noclobber"),
        ):
            if self.opts.get(name):
                s += letter
        return s + "c" if not self.script_name else s

    def _var_isset(self, arg: str) -> bool:
        import re

        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", arg)
        if not m:
            if arg.isdigit():
                return 0 < int(arg) <= len(self.positional)
            return False
        name, idx = m.group(1), m.group(2)
        v = self.vars.get(name)
        if v is None or v.value is None:
            return name in self.dynamic and self.lookup(name, idx) is not None
        if idx is None:
            if isinstance(v.value, dict):
                return ("0" if v.attrs & ATTR_ASSOC else 0) in v.value
            return True
        if idx in ("@", "*"):
            return bool(v.value) if isinstance(v.value, dict) else True
        if isinstance(v.value, dict):
            if v.attrs & ATTR_ASSOC:
                return idx in v.value
            try:
                k = evaluate(idx, self)
            except ArithError:
                return False
            if k < 0:
                k += (max(v.value) + 1) if v.value else 0
            return k in v.value
        return idx == "0"

    def set_var_obj(self, name: str, var: Var) -> None:
        old = self.vars.get(name)
        if old is not None and old.attrs & ATTR_EXPORT:
            var.attrs |= ATTR_EXPORT
        self.vars[name] = var
        if var.attrs & ATTR_EXPORT:
            self._env_cache = None

    def assign_var(
        self, name: str, value: str, *, index: str | None = None, append: bool = False
    ) -> None:
        v = self.vars.get(name)
        if v is None:
            if name in ("RANDOM",):
                try:
                    self._rand.seed(int(value))
                except ValueError:
                    pass
                return
            if name == "SECONDS":
                try:
                    self.start_time = time.monotonic() - int(value)
                except ValueError:
                    pass
                return
            if len(value) >= BIG_VALUE:
                self.charge_value(None, value)
            if index is not None:
                self.vars[name] = Var({int(index): value}, ATTR_ARRAY)
                return
            attrs = ATTR_EXPORT if self.opts["allexport"] else 0
            self.vars[name] = Var(value, attrs)
            if attrs:
                self._env_cache = None
            return
        a = v.attrs
        if a & ATTR_NAMEREF and isinstance(v.value, str) and v.value and v.value != name:
            target = self.resolve_nameref(name)
            if target is None:
                self.warnings.clear()
                raise ShellError(f"warning: {name}: circular name reference")
            if target != name:
                self.assign_var(target, value, index=index, append=append)
                return
        if a & ATTR_READONLY:
            raise ShellError(f"{name}: readonly variable")
        if a & (ATTR_INTEGER | ATTR_LOWER | ATTR_UPPER):
            if a & ATTR_INTEGER:
                try:
                    if append:
                        cur = self.lookup(name, index)
                        value = f"({cur if isinstance(cur, str) and cur else 0})+({value or 0})"
                        append = False
                    value = str(evaluate(value, self)) if value.strip() else "0"
                except ArithError as e:
                    raise ShellError(str(e)) from None
            if a & ATTR_LOWER:
                value = value.lower()
            elif a & ATTR_UPPER:
                value = value.upper()
        cur_val = v.value
        if isinstance(cur_val, dict):
            if index is None:
                index = "0"
            key: Any = index if a & ATTR_ASSOC else int(index)
            if not a & ATTR_ASSOC and key < 0:
                key += (max(cur_val) + 1) if cur_val else 0
                if key < 0:
                    raise ShellError(f"{name}[{index}]: bad array subscript")
            if append:
                value = cur_val.get(key, "") + value
            if len(value) >= BIG_VALUE or len(cur_val.get(key) or "") >= BIG_VALUE:
                self.charge_value(cur_val.get(key), value)
            cur_val[key] = value
            return
        if index is not None and index != "0":
            d: dict[Any, str] = {}
            if cur_val is not None:
                d[0] = cur_val
            d[int(index)] = value
            v.value = d
            v.attrs |= ATTR_ARRAY
            return
        if append and cur_val is not None:
            value = cur_val + value
        if len(value) >= BIG_VALUE or (cur_val is not None and len(cur_val) >= BIG_VALUE):
            self.charge_value(cur_val, value)
        v.value = value
        if a & ATTR_EXPORT:
            self._env_cache = None

    def charge_value(self, old: str | None, new: str) -> None:
        """Account a big value replacing ``old`` to the exec's memory budget (and check the
        deadline): ``a=$a$a`` ends at ``max_memory`` instead of growing the host."""
        budget = self.ctx.budget
        budget.check_time()
        held = self.var_mem
        if held is None or held.budget is not budget:
            held = self.var_mem = budget.hold("variables")
        delta = (len(new) if len(new) >= BIG_VALUE else 0) - (
            len(old) if old is not None and len(old) >= BIG_VALUE else 0
        )
        if delta > 0:
            held.add(delta)
        elif delta < 0:
            held.sub(-delta)

    def release_memory(self) -> None:
        """A subshell ends: what its own variables held goes back to the budget."""
        if self.var_mem is not None:
            self.var_mem.close()
            self.var_mem = None

    def unset_var(self, name: str, index: str | None = None) -> None:
        v = self.vars.get(name)
        if v is None:
            return
        if v.attrs & ATTR_READONLY:
            raise ShellError(f"{name}: cannot unset: readonly variable")
        if index is not None and isinstance(v.value, dict):
            key: Any = index if v.attrs & ATTR_ASSOC else int(index)
            if not v.attrs & ATTR_ASSOC and key < 0:
                key += (max(v.value) + 1) if v.value else 0
            v.value.pop(key, None)
            return
        if self.frames:
            # unset inside a function after local: keep the local slot but unset it
            for frame in reversed(self.frames):
                if name in frame:
                    v.value = None
                    if v.attrs & ATTR_EXPORT:
                        self._env_cache = None
                    return
        del self.vars[name]
        if v.attrs & ATTR_EXPORT:
            self._env_cache = None

    def declare_local(self, name: str) -> None:
        frame = self.frames[-1]
        if name not in frame:
            old = self.vars.get(name)
            frame[name] = old
            if old is not None:
                self.vars[name] = Var(None, old.attrs & ATTR_EXPORT)
            self._env_cache = None

    # arithmetic environment
    def arith_get(self, name: str, index: str | None) -> int:
        if index is None:
            v = self.vars.get(name)
            if v is not None and type(v.value) is str and name not in _DYNAMIC:
                s = v.value
                if s.isdigit() and (s[0] != "0" or len(s) == 1):
                    return int(s)
            else:
                r = self.lookup(name, None)
                if r is None:
                    if self.opts["nounset"]:
                        raise unbound_error(name)
                    return 0
                s = r if isinstance(r, str) else ""
        else:
            key = self._arith_key(name, index)
            r = self.lookup(name, key)
            if r is None:
                return 0
            s = r if isinstance(r, str) else ""
        if not s:
            return 0
        if s.isdigit():
            return int(s) if s[0] != "0" or len(s) == 1 else evaluate(s, self)
        return evaluate(s, self)

    def _arith_key(self, name: str, index: str) -> str:
        v = self.vars.get(name)
        if v is not None and v.attrs & ATTR_ASSOC:
            return index
        if index in ("@", "*"):
            return "0"
        return str(evaluate(index, self))

    def arith_set(self, name: str, index: str | None, value: int) -> None:
        key = self._arith_key(name, index) if index is not None else None
        self.assign_var(name, str(value), index=key)

    # --- subshell state ---------------------------------------------------------------------------
    def clone(self) -> Shell:
        sub = Shell.__new__(Shell)
        sub.__dict__.update(self.__dict__)
        sub.vars = {k: v.copy() for k, v in self.vars.items()}
        sub.functions = dict(self.functions)
        sub.aliases = dict(self.aliases)
        sub.positional = list(self.positional)
        sub.opts = dict(self.opts)
        sub.shopt = dict(self.shopt)
        sub.fds = dict(self.fds)
        sub.traps = {k: v for k, v in self.traps.items() if k != "EXIT" and v == ""}
        sub.shown_traps = dict(self.traps if self.shown_traps is None else self.shown_traps)
        sub.frames = [dict(f) for f in self.frames]
        sub.funcnames = list(self.funcnames)
        sub.jobs = []
        sub.var_mem = None
        Shell._bashpid_seq += 1
        sub.bashpid = self.ctx.pid * 100 + Shell._bashpid_seq
        sub.is_subshell = True
        sub.dirstack = list(self.dirstack)
        sub._pending_psub = []
        return sub

    _keep_fds = False
    _bashpid_seq = 0


#: Python frames a deeply recursive shell function needs: about 7 per shell call level, so
#: the default max_call_depth (1000) fits; measured safe on an 8 MiB C stack


_BUILTINS_CACHE: tuple[dict[str, Any], frozenset[str]] | None = None


def _builtins() -> tuple[dict[str, Any], frozenset[str]]:
    global _BUILTINS_CACHE
    if _BUILTINS_CACHE is None:
        from pocketos.shell.builtins import BUILTINS, SPECIAL_BUILTINS

        _BUILTINS_CACHE = (BUILTINS, SPECIAL_BUILTINS)
    return _BUILTINS_CACHE


def _err_status(e: ShellError) -> int:
    if isinstance(e, FatalError) and e.sub_status is not None:
        return e.sub_status
    return e.status


def _close_all(opened: list[Any]) -> None:
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


class _DirInput(InputStream):
    """A directory opened for reading: opening works, reading fails (like on Linux)."""

    async def read(self, n: int = -1) -> bytes:
        raise IsADirectoryError(errno.EISDIR, "Is a directory")

    async def readuntil(self, sep: bytes) -> bytes:
        raise IsADirectoryError(errno.EISDIR, "Is a directory")


class _SubstSink(BytesSink):
    """Collects command-substitution output; yields now and then so timeouts can act."""

    def __init__(self) -> None:
        super().__init__()
        self._since = 0

    async def write(self, data: bytes) -> None:
        self.buffer += data
        self._since += len(data)
        if self._since >= 65536:
            self._since = 0
            check_alloc(len(self.buffer), "command substitution")
            await asyncio.sleep(0)


class _ClosedOut(OutputStream):
    async def write(self, data: bytes) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")


def _strerror(exc: OSError) -> str:
    if exc.errno is not None:
        try:
            return os.strerror(exc.errno)
        except ValueError:
            pass
    return exc.strerror or str(exc)


def _has_cmdsub(a: Assign) -> bool:
    if a.value is None:
        return False
    from pocketos.shell.ast import DQ as _DQ

    def walk(parts: list[Any]) -> bool:
        for p in parts:
            if isinstance(p, CmdSub):
                return True
            if isinstance(p, _DQ) and walk(p.parts):
                return True
        return False

    return walk(a.value.parts)


def _node_text(node: AndOr) -> str:
    def cmd_text(c: Any) -> str:
        if isinstance(c, Simple):
            return " ".join(w.text for w in c.words)
        return type(c).__name__.lower()

    return " | ".join(cmd_text(c) for c in node.first.cmds)


def _ere_to_py(rx: str) -> str:
    """POSIX ERE -> Python regex (bracket classes, literal braces)."""
    out = []
    i = 0
    n = len(rx)
    while i < n:
        c = rx[i]
        if c == "\\" and i + 1 < n:
            out.append(rx[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and rx[j] == "^":
                j += 1
            if j < n and rx[j] == "]":
                j += 1
            while j < n and rx[j] != "]":
                if rx[j] == "[" and j + 1 < n and rx[j + 1] == ":":
                    k = rx.find(":]", j + 2)
                    if k > 0:
                        j = k + 2
                        continue
                j += 1
            body = rx[i + 1 : j]
            neg = body.startswith("^")
            if neg:
                body = body[1:]
            conv = []
            k = 0
            while k < len(body):
                if body.startswith("[:", k):
                    e = body.find(":]", k)
                    name = body[k + 2 : e]
                    conv.append(pat._CLASSES.get(name, ""))
                    k = e + 2
                    continue
                ch = body[k]
                conv.append("\\" + ch if ch in "\\[]^" else ch)
                k += 1
            out.append("[" + ("^" if neg else "") + "".join(conv) + "]")
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


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


async def run_script(
    ctx: Context, source: str, argv0: str = "bash", args: list[str] | None = None
) -> int:
    """Run ``source`` in a new shell bound to ``ctx``; returns the exit status."""
    return await Shell(ctx, argv0=argv0, args=args).run(source)
