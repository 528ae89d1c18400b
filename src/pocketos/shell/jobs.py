# mypy: disable-error-code="misc"
"""Pipelines and background jobs: stages run concurrently as tasks joined by bounded pipes, ``&``
jobs, ``time`` and job cancellation, as a mixin of the interpreter."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import check_alloc
from pocketos.kernel.jobctl import ProcessGroup, use_group
from pocketos.kernel.process import ProcessInfo, ProcessKilled
from pocketos.kernel.streams import (
    BytesSource,
    OutputStream,
    Pipe,
)
from pocketos.shell.ast import (
    AndOr,
    Pipeline,
    Simple,
    Subshell,
)
from pocketos.shell.nodememo import NodeMemo
from pocketos.shell.printer import format_andor, format_pipeline
from pocketos.shell.state import (
    ExitShell,
    LoopControl,
    ReturnFn,
    ShellAttrs,
    ShellError,
    _err_status,
)
from pocketos.shell.substitution import NOT_ASKED
from pocketos.shell.traps import simple_text

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Jobs", "end_or_stop", "job_line", "job_marks", "job_status"]


_STOPPED_LONG = {19: "Stopped (signal)", 21: "Stopped (tty input)", 22: "Stopped (tty output)"}
_KILLED_BY = {
    1: "Hangup",
    2: "Interrupt",
    3: "Quit",
    9: "Killed",
    13: "Broken pipe",
    15: "Terminated",
}


class _Job:
    """One job of the shell's job table: a background job, or a foreground one that
    stopped. Its processes form one process group, which STOP/CONT act on."""

    __slots__ = ("id", "pid", "task", "text", "status", "group", "killed_by", "stamp", "error")

    def __init__(
        self, id: int, pid: int, task: asyncio.Task[int], text: str, group: ProcessGroup
    ) -> None:
        self.id = id
        self.pid = pid
        self.task = task
        self.text = text
        self.status: int | None = None
        self.group = group
        #: the signal ``kill`` ended it with (its status is then 128 + it)
        self.killed_by: int | None = None
        #: when it last went to the background or stopped (orders ``%+`` and ``%-``)
        self.stamp = 0
        #: what a foreground job raised, for the shell waiting for it
        self.error: BaseException | None = None

    @property
    def stopped(self) -> bool:
        return not self.task.done() and self.group.stop_signal is not None

    def state(self, long: bool = False) -> str:
        """The state column of ``jobs``."""
        if not self.task.done():
            sig = self.group.stop_signal
            if sig is None:
                return "Running"
            return _STOPPED_LONG.get(sig, "Stopped") if long else "Stopped"
        code = job_status(self)
        if self.killed_by is not None or self.task.cancelled():
            return _KILLED_BY.get(code - 128, f"Signal {code - 128}")
        return "Done" if code == 0 else f"Exit {code}"


def job_status(j: _Job) -> int:
    """The status of a finished job."""
    if j.killed_by is not None:
        return 128 + j.killed_by
    if j.task.cancelled():
        return 143
    try:
        return j.task.result()
    except BaseException:
        return 1


def job_marks(table: list[_Job]) -> dict[int, str]:
    """``+`` for the current job of ``table``, ``-`` for the previous one: the most recently
    stopped jobs first, then the most recently started."""
    order = sorted(table, key=lambda j: (j.stopped, j.stamp), reverse=True)
    marks = {j.id: " " for j in table}
    if order:
        marks[order[0].id] = "+"
    if len(order) > 1:
        marks[order[1].id] = "-"
    return marks


def job_line(j: _Job, marks: dict[int, str], long: bool = False) -> str:
    """One line of ``jobs``: ``[1]+  Stopped                 sleep 100``."""
    mark = marks.get(j.id, " ")
    state = j.state(long)
    text = j.text + (" &" if state == "Running" else "")
    if long:
        return f"[{j.id}]{mark} {j.pid:>5} {state:<24}{text}"
    return f"[{j.id}]{mark}  {state:<24}{text}"


async def end_or_stop(job: _Job) -> None:
    """Wait until ``job`` ends or its process group stops."""
    stopped: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def changed(g: ProcessGroup) -> None:
        if g.stop_signal is not None and not stopped.done():
            stopped.set_result(None)

    remove = job.group.listen(changed)
    try:
        await asyncio.wait([job.task, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        remove()
        stopped.cancel()


#: first stages that only write (see ``Jobs._writes_only``), and word text that may wait
_WRITERS = frozenset(["echo", "printf"])
_WAITS = re.compile(r"\$\(|`|[<>]\(")


def _writer(cmd: Simple) -> str | None:
    """``echo`` or ``printf`` when that is what ``cmd`` runs, with no assignment and no
    substitution that could wait in its words or redirections (by its text); else None."""
    if cmd.assigns or not cmd.words:
        return None
    name = cmd.words[0].simple
    if name not in _WRITERS:
        return None
    for w in cmd.words:
        if w.simple is None and _WAITS.search(w.text):
            return None
    for r in cmd.redirs:
        if r.heredoc is not None or r.target is None or _WAITS.search(r.target.text):
            return None
    return name


_writer_memo: NodeMemo[Simple, str | None] = NodeMemo(_writer)


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
        #: ``close()`` is running: a job a cancelled one starts meanwhile is refused
        self._closing = False
        self.tasks: set[asyncio.Task[int]] = set()

    async def _supervise(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            if not ready.done():
                ready.set_result(None)
            await stop.wait()

    async def start(self, coro: Coroutine[Any, Any, int]) -> asyncio.Task[int]:
        """Run ``coro`` as a job (it must not raise: a job's failure is its status)."""
        if self._closing:
            # a job ending under ``close()`` must not start another: its supervisor would
            # outlive the shell
            coro.close()
            raise asyncio.CancelledError
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
        """Cancel the jobs and wait until they and the supervisor have ended. A cancellation
        of the caller meanwhile cancels the jobs again but does not cut the wait short (the
        supervisor would outlive its shell); it is raised once they have ended."""
        sup, self._supervisor = self._supervisor, None
        self._ready = None
        if sup is None:
            return
        self._closing = True
        cancelled = False
        try:
            for t in list(self.tasks):
                t.cancel()
            if self._stop is not None:
                self._stop.set()
            self._tg = None
            while not sup.done():
                try:
                    await asyncio.wait({sup})
                except asyncio.CancelledError:
                    cancelled = True
                    for t in list(self.tasks):
                        t.cancel()
        finally:
            self._closing = False
        if cancelled:
            raise asyncio.CancelledError
        sup.result()


class Jobs(ShellAttrs):
    """Mixin for :class:`Shell`: pipelines and background jobs."""

    async def start_background(self: Shell, node: AndOr) -> int:
        sub = self.clone()
        sub.errexit_suppressed = 0
        if not _lone_subshell(node):
            sub.subshell_level += 1
        group = ProcessGroup()

        async def runner() -> int:
            use_group(group)  # a job of its own: stopping it never stops this shell
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
        job = self._add_job(task, format_andor(node), group)
        if self.subst_out is not None:
            self.note_background(node, task)
        if self.is_subshell:
            # a subshell's jobs outlive it; the top shell ends them when it ends
            self.orphans.append(task)
        self.last_bg = str(job.pid)
        self.last_status = 0
        if self.interactive and not self.is_subshell:
            await self.write_err(f"[{job.id}] {job.pid}\n")  # as bash -i
        return 0

    def _add_job(self: Shell, task: asyncio.Task[int], text: str, group: ProcessGroup) -> _Job:
        self.job_counter += 1
        pid = self.ctx.pid * 1000 + self.job_counter if self.ctx.pid else 10000 + self.job_counter
        job_id = max(j.id for j in self.jobs) + 1 if self.jobs else 1
        job = _Job(job_id, pid, task, text, group)
        job.stamp = self.job_counter
        self.jobs.append(job)
        hook = self.on_job_end
        if hook is not None and not self.is_subshell:
            task.add_done_callback(lambda _t: hook())
        return job

    def job_notices(self: Shell) -> str:
        """What an interactive bash shows of the jobs that ended since it last looked
        (``[1]+  Done                    sleep 1``, ``Exit 3``, ``Terminated``), each once:
        they leave the job table. A job waited for in the foreground is not among them."""
        ended = [j for j in self.jobs if j.task.done() and j is not self.fg_job]
        if not ended:
            return ""
        marks = job_marks(self.jobs)
        self.jobs = [j for j in self.jobs if j not in ended]
        return "".join(job_line(j, marks) + "\n" for j in ended)

    @property
    def job_control(self: Shell) -> bool:
        """``set -m`` in the shell itself: foreground jobs can be stopped and resumed."""
        return self.opts.monitor and not self.is_subshell

    async def foreground(
        self: Shell,
        make: Callable[[], Coroutine[Any, Any, int]],
        text: str,
        cleanup: Callable[[], None] | None = None,
    ) -> int:
        """Run ``make()`` as a foreground job in a process group of its own: when the group
        is stopped (Ctrl-Z, ``kill -STOP``), the job goes to the job table, stopped, and the
        shell goes on with status 128+signal, as bash with job control."""
        group = ProcessGroup()
        job: _Job | None = None

        async def body() -> int:
            use_group(group)
            try:
                return await make()
            except BaseException as exc:
                if job is not None and job in self.jobs:
                    # it was stopped once and is a job now: its failure is its status
                    if isinstance(exc, ProcessKilled):
                        return 128 + exc.signum
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    return 1
                if job is not None:
                    job.error = exc
                return 1
            finally:
                if cleanup is not None:
                    cleanup()

        task = await self.job_group.start(body())
        job = _Job(0, 0, task, text, group)
        return await self.wait_foreground(job)

    async def wait_foreground(self: Shell, job: _Job) -> int:
        """Wait for a foreground job to end or stop; a stopped job joins the job table."""
        self.fg_job = job
        try:
            await end_or_stop(job)
        except asyncio.CancelledError:
            job.task.cancel()
            await asyncio.wait({job.task})
            raise
        finally:
            self.fg_job = None
        if job.task.done():
            if job in self.jobs:
                self.jobs.remove(job)
            if job.error is not None:
                raise job.error
            if self.interactive and not self.is_subshell and self.jobs:
                # bash -i reports the background jobs that ended once a foreground job ends
                notices = self.job_notices()
                if notices:
                    await self.write_err(notices)
            return job_status(job)
        sig = job.group.stop_signal or 20
        if job not in self.jobs:
            job = self._add_job(job.task, job.text, job.group)
            self.fg_job = None
        else:
            self.job_counter += 1
            job.stamp = self.job_counter
        await self.write_err(f"\n{job_line(job, job_marks(self.jobs))}\n")
        return 128 + sig

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
            elif self.job_control and self.fg_job is None:
                plain = Pipeline(pl.cmds, False, pl.stderr_too, pl.line, False)
                status = await self.foreground(
                    lambda: self._run_pipeline(pl), format_pipeline(plain)
                )
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
        if (
            status
            and check
            and not pl.negate
            and (len(cmds) > 1 or self.failed_here(cmds[0]))
            and self.errexit_suppressed == 0
        ):
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
        lastpipe = self.shopt.lastpipe and not self.job_control  # as bash
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
                        if type(cmd) is not Subshell:
                            sub.subshell_level += 1
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
        if type(cmd) is not Simple:
            return False
        name = _writer_memo(cmd)
        if name is None or name in self.functions or self.shopt.lastpipe:
            return False
        if name in self.disabled_builtins:
            return False
        if name in self.active_aliases and self.shopt.expand_aliases:
            return False
        return not (self.traps and "DEBUG" in self.traps)

    async def _writer_pipeline(self: Shell, pl: Pipeline, cap: int) -> int:
        """``echo …|cmd`` / ``printf …|cmd``: the writer runs to its end first (its output
        kept in memory), then the reader reads it, in this task when it is a plain command.
        That is one of the ways the two could interleave with a pipe of ``cap`` bytes; when
        the output is more than the pipe holds, it goes through a pipe to the reader's task
        so a reader that stops early still ends the writer with SIGPIPE's status."""
        first, second = pl.cmds
        held = _Held()
        st0 = await self._stage_here(first, {1: held}, True)
        assert st0 is not None
        return await self.read_held(second, held, st0, cap)

    async def writer_pipeline_here(self: Shell, pl: Pipeline, out: Any) -> int | None:
        """``echo …|prog`` / ``printf …|prog`` run as :meth:`_writer_pipeline` would run it in
        a subshell, but from this shell with ``out`` as its output, for a caller that would
        fork one only to run it (a command substitution): when no subshell could make a
        difference — both stages are commands :meth:`run_here` takes (no trap, xtrace or job
        control) — and None, with nothing run, otherwise. ``PIPESTATUS`` is left as it was."""
        first, second = pl.cmds
        if (
            self.job_control
            or pl.negate
            or pl.timed
            or (pl.stderr_too and pl.stderr_too[0])
            or type(second) is not Simple
            or not self._writes_only(first)
            or self.here_builtin(second, False) is not None
        ):
            return None
        # the writer changes nothing here_builtin reads: its answer for the reader holds
        saved, pipestatus = self.fds, self.pipestatus
        self.fds = {**saved, 1: out}
        try:
            held = _Held()
            st0 = await self._stage_here(first, {1: held}, True, subshell=False)
            if st0 is None:
                return None
            return await self.read_held(second, held, st0, self.ctx.limits.pipe_buffer, None)
        finally:
            self.fds, self.pipestatus = saved, pipestatus

    async def read_held(
        self: Shell, second: Any, held: _Held, st0: int, cap: int, builtin: Any = NOT_ASKED
    ) -> int:
        """The reading stage of :meth:`_writer_pipeline`, once the writer ended with ``st0``
        having written ``held``; sets ``PIPESTATUS`` and returns the pipeline's status.
        ``builtin``: :meth:`here_builtin`'s answer for ``second``, when known."""
        info = self._stage_process(second)
        if info is None and held.size <= cap:
            src = BytesSource(b"".join(held.chunks))
            st1 = await self._stage_here(second, {0: src}, False, builtin=builtin)
            assert st1 is not None
        else:
            reader = self.clone()
            pipe = Pipe(capacity=cap)
            reader.fds[0] = pipe.reader
            if info is not None:
                reader.bashpid = info.pid
                if type(second) is not Subshell:
                    reader.subshell_level += 1
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

    async def _stage_here(
        self: Shell,
        cmd: Any,
        fds: dict[int, Any],
        writer: bool,
        subshell: bool = True,
        builtin: Any = NOT_ASKED,
    ) -> int | None:
        """A stage of :meth:`_writer_pipeline` in this task: from this shell when a subshell
        could make no difference (``run_here``, given ``builtin``), else in a subshell copy —
        or, without ``subshell``, not at all (None); ``fds`` are closed when it ends."""
        try:
            try:
                status = (
                    await self.run_here(cmd, fds, writer, builtin) if type(cmd) is Simple else None
                )
            except ExitShell as e:
                status = e.status
            except ShellError as e:
                await self.report(e)
                status = _err_status(e)
            if status is None and subshell:
                sub = self.clone()
                sub.fds.update(fds)
                if type(cmd) is not Subshell and self._runs_itself(cmd):
                    sub.subshell_level += 1
                status = await self._stage(sub, cmd, [])
            return status
        finally:
            for end in fds.values():
                end.close()

    def _runs_itself(self: Shell, cmd: Any) -> bool:
        """Whether the shell runs this pipeline stage itself (a function, a compound
        command: bash forks a subshell for it, one ``BASH_SUBSHELL`` level down) rather than
        as a plain command."""
        if type(cmd) is Simple:
            words = cmd.words
            if not words:
                return False
            first = words[0].simple
            if first is not None and first not in self.functions and "=" not in first:
                return False
        return True

    def _stage_process(self: Shell, cmd: Any) -> ProcessInfo | None:
        """A process-table entry for a pipeline stage the shell runs itself, so that
        ``max_processes`` bounds recursion through pipelines. A stage that is a plain
        command needs none: the command gets its own process."""
        if not self._runs_itself(cmd):
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


def _lone_subshell(node: AndOr) -> bool:
    """Whether a background job is one ``( … )`` and nothing else: bash's forked job runs it
    in place, so it is one ``BASH_SUBSHELL`` level down, not two."""
    if node.rest:
        return False
    cmds = node.first.cmds
    return len(cmds) == 1 and type(cmds[0]) is Subshell
