# mypy: disable-error-code="misc"
"""Pipelines and background jobs: stages run concurrently as tasks joined by bounded pipes, ``&``
jobs, ``time`` and job cancellation, as a mixin of the interpreter."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import check_alloc
from pocketos.kernel.process import ProcessInfo
from pocketos.kernel.streams import (
    BytesSource,
    OutputStream,
    Pipe,
)
from pocketos.shell.ast import (
    AndOr,
    Pipeline,
    Simple,
)
from pocketos.shell.state import (
    ExitShell,
    LoopControl,
    ReturnFn,
    ShellAttrs,
    ShellError,
    _err_status,
)
from pocketos.shell.traps import simple_text

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Jobs"]


class _Job:
    __slots__ = ("id", "pid", "task", "text", "status")

    def __init__(self, id: int, pid: int, task: asyncio.Task[int], text: str) -> None:
        self.id = id
        self.pid = pid
        self.task = task
        self.text = text
        self.status: int | None = None


#: first stages that only write (see ``Jobs._writes_only``), and word text that may wait
_WRITERS = frozenset(["echo", "printf"])
_WAITS = re.compile(r"\$\(|`|[<>]\(")


class _Held(OutputStream):
    """What a writer stage wrote, kept as written (no copy into one buffer)."""

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self._closed = False

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("write to closed pipe end")
        if len(data) > 4096 or self.size > 65536:
            check_alloc(self.size + len(data), "output buffer")
        self.chunks.append(bytes(data))
        self.size += len(data)

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed


def _first(eg: BaseExceptionGroup[Any]) -> BaseException:
    exc: BaseException = eg
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class JobGroup:
    """The background jobs of a shell and of its subshells, run as tasks of one
    ``asyncio.TaskGroup``. The group is held by a supervisor task started with the first job
    (a shell's jobs outlive the command that started them, so no command's frame can hold
    the group); ``close()`` cancels the jobs still running and waits until every job and the
    supervisor have ended, so no task outlives the shell."""

    def __init__(self) -> None:
        self._tg: asyncio.TaskGroup | None = None
        self._stop: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        #: set once the supervisor holds its group (every first job waits for the same one)
        self._ready: asyncio.Future[None] | None = None
        self.tasks: set[asyncio.Task[int]] = set()

    async def _supervise(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            if not ready.done():
                ready.set_result(None)
            await stop.wait()

    async def start(self, coro: Coroutine[Any, Any, int]) -> asyncio.Task[int]:
        """Run ``coro`` as a job (it must not raise: a job's failure is its status)."""
        if self._tg is None:
            if self._ready is None:
                # one supervisor per group, even when two pipeline stages start their first
                # job at once (a second one would never be stopped)
                loop = asyncio.get_running_loop()
                self._ready = loop.create_future()
                self._stop = asyncio.Event()
                self._supervisor = loop.create_task(
                    self._supervise(self._ready, self._stop), name="pocketos-jobs"
                )
            try:
                await asyncio.shield(self._ready)
            except BaseException:
                coro.close()
                raise
        if self._tg is None:  # closed while it started
            coro.close()
            raise asyncio.CancelledError
        task = self._tg.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self) -> None:
        sup, self._supervisor = self._supervisor, None
        self._ready = None
        if sup is None:
            return
        for t in list(self.tasks):
            t.cancel()
        if self._stop is not None:
            self._stop.set()
        self._tg = None
        await sup


def _node_text(node: AndOr) -> str:
    def cmd_text(c: Any) -> str:
        if isinstance(c, Simple):
            return " ".join(w.text for w in c.words)
        return type(c).__name__.lower()

    return " | ".join(cmd_text(c) for c in node.first.cmds)


class Jobs(ShellAttrs):
    """Mixin for :class:`Shell`: pipelines and background jobs."""

    async def start_background(self: Shell, node: AndOr) -> int:
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
            except Exception:  # a job's failure is its status, never its group's end
                return 1

        task = await self.job_group.start(runner())
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

    async def _cancel_jobs(self: Shell) -> None:
        """End this shell's jobs (the top shell: those of its subshells too) and wait for
        them; the job group is closed even when a cancellation arrives meanwhile."""
        try:
            await self._end_jobs()
        finally:
            if not self.is_subshell:
                await self.job_group.close()

    async def _end_jobs(self: Shell) -> None:
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

    async def exec_pipeline(self: Shell, pl: Pipeline, check: bool) -> int:
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

    async def _timed(self: Shell, pl: Pipeline, check: bool) -> int:
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

    async def _run_pipeline(self: Shell, pl: Pipeline) -> int:
        cmds = pl.cmds
        n = len(cmds)
        cap = self.ctx.limits.pipe_buffer
        if n == 2 and self._writes_only(cmds[0]) and not (pl.stderr_too and pl.stderr_too[0]):
            return await self._writer_pipeline(pl, cap)
        pipes = [Pipe(capacity=cap) for _ in range(n - 1)]
        tasks: list[asyncio.Task[int]] = []
        lastpipe = self.shopt.lastpipe
        procs: list[ProcessInfo] = []
        try:
            # the stages are one task group: a stage that fails ends the others, and
            # cancelling the pipeline cancels every stage before it returns
            async with asyncio.TaskGroup() as tg:
                for i, cmd in enumerate(cmds):
                    if lastpipe and i == n - 1:
                        tasks.append(tg.create_task(self._last_stage(cmd, pipes[i - 1])))
                        continue
                    if type(cmd) is Simple and self.traps and "DEBUG" in self.traps:
                        # bash runs a simple command's DEBUG trap in the shell, before the
                        # stage starts; a compound stage runs in a subshell without it
                        self.lineno = cmd.line
                        await self.debug_trap(simple_text(cmd))
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
                    ends = ([pipes[i].writer] if i < n - 1 else []) + (
                        [pipes[i - 1].reader] if i > 0 else []
                    )
                    task = tg.create_task(self._stage(sub, cmd, ends))
                    if info is not None:
                        info.task = task
                    tasks.append(task)
        except BaseExceptionGroup as eg:
            # what the first failing stage raised, as if the pipeline had raised it
            raise _first(eg) from None
        finally:
            kernel = self.ctx.kernel
            for info in procs:
                kernel.end_process(info, 0)
        results = [t.result() for t in tasks]
        self.pipestatus = list(results)
        if self.opts.pipefail:
            for s in reversed(results):
                if s:
                    return s
            return 0
        return results[-1]

    def _writes_only(self: Shell, cmd: Any) -> bool:
        """Whether a first stage only writes what it computed from its words: ``echo`` or
        ``printf`` with no substitution that could wait (nor DEBUG trap, alias, function,
        ``lastpipe``) — its output is the same whether the next stage runs alongside or after."""
        if type(cmd) is not Simple or cmd.assigns or not cmd.words:
            return False
        name = cmd.words[0].simple
        if name not in _WRITERS or name in self.functions or self.shopt.lastpipe:
            return False
        if name in self.active_aliases and self.shopt.expand_aliases:
            return False
        if self.traps and "DEBUG" in self.traps:
            return False
        for w in cmd.words:
            if w.simple is None and _WAITS.search(w.text):
                return False
        for r in cmd.redirs:
            if r.heredoc is not None or r.target is None or _WAITS.search(r.target.text):
                return False
        return True

    async def _writer_pipeline(self: Shell, pl: Pipeline, cap: int) -> int:
        """``echo …|cmd`` / ``printf …|cmd``: the writer runs to its end first (its output
        kept in memory), then the reader reads it, in this task when it is a plain command.
        That is one of the ways the two could interleave with a pipe of ``cap`` bytes; when
        the output is more than the pipe holds, it goes through a pipe to the reader's task
        so a reader that stops early still ends the writer with SIGPIPE's status."""
        first, second = pl.cmds
        sub = self.clone()
        held = _Held()
        sub.fds[1] = held
        st0 = await self._stage(sub, first, [])
        reader = self.clone()
        info = self._stage_process(second)
        if info is None and held.size <= cap:
            reader.fds[0] = src = BytesSource(b"".join(held.chunks))
            st1 = await self._stage(reader, second, [src])
        else:
            pipe = Pipe(capacity=cap)
            reader.fds[0] = pipe.reader
            if info is not None:
                reader.bashpid = info.pid
            try:
                async with asyncio.TaskGroup() as tg:
                    task = tg.create_task(self._stage(reader, second, [pipe.reader]))
                    if info is not None:
                        info.task = task
                    try:
                        while held.chunks:
                            await pipe.writer.write(held.chunks.popleft())
                    except BrokenPipeError:
                        st0 = 141
                    finally:
                        pipe.writer.close()
            except BaseExceptionGroup as eg:
                raise _first(eg) from None
            finally:
                if info is not None:
                    self.ctx.kernel.end_process(info, 0)
            st1 = task.result()
        held.chunks.clear()
        self.pipestatus = [st0, st1]
        if self.opts.pipefail and st1 == 0:
            return st0
        return st1

    def _stage_process(self: Shell, cmd: Any) -> ProcessInfo | None:
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

    async def _last_stage(self: Shell, cmd: Any, pipe: Pipe) -> int:
        saved = self.fds
        self.fds = dict(saved)
        self.fds[0] = pipe.reader
        try:
            return await self.exec_cmd(cmd)
        finally:
            self.fds = saved
            pipe.reader.close()

    async def _stage(self: Shell, sub: Shell, cmd: Any, ends: list[Any]) -> int:
        """Run one stage in its subshell ``sub``; close its pipe ``ends`` when it is done."""
        try:
            return await sub.exec_cmd(cmd)
        except ExitShell as e:
            return e.status
        except BrokenPipeError:
            return 141
        except ShellError as e:
            await sub.report(e)
            return _err_status(e)
        except LoopControl:
            return 0
        except ReturnFn as r:
            return r.status
        finally:
            sub.release_memory()
            for end in ends:
                end.close()
