"""Processes of the in-process VM: ``exec`` (a script in a fresh shell), ``run`` (one command),
``sandbox_run`` (a host program in the heavy sandbox), ``spawn`` (in the background, as a
:class:`Process`) and the calls that signal, wait for and list them
(:class:`ProcessesMixin` of :class:`~pocketos.AsyncVM`)."""

from __future__ import annotations

import asyncio
import errno
import stat as S
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, cast

from pocketos._loop import run_sync
from pocketos.errors import LimitExceeded, fs_error
from pocketos.kernel.budget import Budget, use_budget
from pocketos.kernel.jobctl import enter_process
from pocketos.kernel.limits import Limits, check_seconds
from pocketos.kernel.process import Context, ProcessInfo, signal_number
from pocketos.kernel.streams import BytesSink, BytesSource, InputStream, OutputStream, Pipe
from pocketos.vm_api import LIMIT_STATUS, TIMEOUT_STATUS, ExecResult, check_abs, to_bytes

if TYPE_CHECKING:
    from dataclasses import dataclass as record

    from pocketos.kernel.fs.vfs import VFS
    from pocketos.kernel.kernel import Kernel
    from pocketos.vm import AsyncVM
else:
    from pocketos.kernel.record import record

__all__ = ["Process", "ProcessesMixin", "PumpedProcess", "SyncProcess"]


class _StreamBuffer(OutputStream, InputStream):
    """An unbounded buffer: a process writes, the host reads (``Process.stdout``)."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.buf = bytearray()
        self.eof = False
        self.event = asyncio.Event()
        self.budget = budget

    async def write(self, data: bytes) -> None:
        if self.budget is not None:
            self.budget.output(len(data))
        self.buf += data
        self.event.set()

    def close(self) -> None:
        self.eof = True
        self.event.set()

    async def read(self, n: int = -1) -> bytes:
        while not self.buf and not self.eof:
            self.event.clear()
            await self.event.wait()
        if n < 0:
            while not self.eof:
                self.event.clear()
                await self.event.wait()
            data = bytes(self.buf)
            self.buf.clear()
            return data
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    async def readuntil(self, sep: bytes) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                data = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return data
            if self.eof:
                data = bytes(self.buf)
                self.buf.clear()
                return data
            self.event.clear()
            await self.event.wait()


def _killed_status(info: ProcessInfo) -> int:
    if info.exit_code is not None:
        return info.exit_code
    return 128 + (info.pending_signal or 9)


def _killed_before_start(task: asyncio.Task[int]) -> bool:
    """Whether a CancelledError out of awaiting ``task`` means it was killed before its first
    step (so its body never ran) rather than that the waiter itself is being cancelled."""
    me = asyncio.current_task()
    return task.cancelled() and not (me is not None and me.cancelling())


class PumpedProcess:
    """A process that runs elsewhere (in a VM's worker, on a server) with the surface of
    :class:`Process`: a task pumps its output into ``stdout``/``stderr`` here until it ends.

    A subclass provides ``_pull()`` (feed the streams; the exit status), ``_input(data)``
    (deliver stdin), ``close_stdin()`` and ``kill()``; ``_lost(exc)`` may turn a broken link
    into an exit status (with the reason on stderr) and ``_ended()`` tidy up after the streams
    close."""

    def __init__(self, pid: int, writable: bool) -> None:
        self.pid = pid
        self._writable = writable
        self.stdout = _StreamBuffer()
        self.stderr = _StreamBuffer()
        self.task: asyncio.Task[int] = asyncio.ensure_future(self._pump())

    async def _pull(self) -> int:
        raise NotImplementedError

    async def _input(self, data: bytes) -> None:
        raise NotImplementedError

    async def _lost(self, exc: Exception) -> int:
        raise exc

    async def _ended(self) -> None:
        return None

    async def _pump(self) -> int:
        try:
            return await self._pull()
        except Exception as exc:
            return await self._lost(exc)
        finally:
            self.stdout.close()
            self.stderr.close()
            await self._ended()

    async def write(self, data: str | bytes) -> None:
        if not self._writable:
            raise ValueError("stdin was given as a value; it is not writable")
        await self._input(to_bytes(data))

    async def wait(self, timeout: float | None = None) -> int:
        return await asyncio.wait_for(asyncio.shield(self.task), check_seconds(timeout))

    @property
    def exit_code(self) -> int | None:
        return self.task.result() if self.task.done() and not self.task.cancelled() else None

    @property
    def returncode(self) -> int | None:
        return self.exit_code


class Process:
    """A process started with ``spawn``: write its stdin, read its output, wait or kill it."""

    def __init__(
        self,
        vm: AsyncVM,
        info: ProcessInfo,
        stdin: Pipe | None,
        stdout: _StreamBuffer,
        stderr: _StreamBuffer,
        task: asyncio.Task[int],
    ) -> None:
        self.vm = vm
        self.info = info
        self.pid = info.pid
        self._stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.task = task

    async def write(self, data: str | bytes) -> None:
        if self._stdin is None:
            raise ValueError("stdin was given as a value; it is not writable")
        await self._stdin.writer.write(to_bytes(data))

    def close_stdin(self) -> None:
        if self._stdin is not None:
            self._stdin.writer.close()

    async def wait(self, timeout: float | None = None) -> int:
        try:
            return await asyncio.wait_for(asyncio.shield(self.task), check_seconds(timeout))
        except asyncio.CancelledError:
            if not _killed_before_start(self.task):
                raise
        return _killed_status(self.info)

    @property
    def exit_code(self) -> int | None:
        if not self.task.done():
            return None
        return _killed_status(self.info) if self.task.cancelled() else self.task.result()

    @property
    def returncode(self) -> int | None:
        return self.exit_code

    def kill(self, sig: int | str = "KILL") -> None:
        self.vm.kill(self.pid, sig)


class ProcessesMixin:
    """exec, run, sandbox_run and spawn, and the process table."""

    if TYPE_CHECKING:
        vfs: VFS
        kernel: Kernel
        limits: Limits
        cwd: str
        _tasks: set[asyncio.Task[Any]]

        def _alive(self) -> None: ...

    # --- processes ---------------------------------------------------------------------
    def _cwd(self, cwd: str | None) -> str:
        """The working directory for a new process: an explicit ``cwd`` must be an existing
        directory (like ``subprocess``), never silently a path that is not there."""
        if cwd is None:
            return self.cwd
        c = check_abs(cwd)
        st = self.vfs.stat(c)
        if not S.S_ISDIR(st.st_mode):
            raise fs_error(errno.ENOTDIR, c)
        return c

    def _root_ctx(
        self,
        *,
        env: Mapping[str, str] | None,
        cwd: str | None,
        stdin: InputStream,
        stdout: OutputStream,
        stderr: OutputStream,
        budget: Budget,
        argv: list[str],
    ) -> Context:
        e = self.kernel.environ(env)
        c = self._cwd(cwd)
        info = self.kernel.new_process(argv, env=e, cwd=c, ppid=0)
        return Context(
            self.kernel,
            argv,
            env=e,
            cwd=c,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pid=info.pid,
            ppid=0,
            limits=budget.limits,
            info=info,
            budget=budget,
        )

    def _sinks(
        self,
        budget: Budget,
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> tuple[BytesSink, BytesSink]:
        def counter(cb: Callable[[bytes], Any] | None) -> Callable[[bytes], None]:
            def on_write(data: bytes) -> None:
                budget.output(len(data))
                if cb is not None:
                    cb(data)

            return on_write

        return BytesSink(counter(on_stdout)), BytesSink(counter(on_stderr))

    async def _run_with_limits(
        self,
        coro: Any,
        budget: Budget,
        timeout: float | None,
        stderr: BytesSink,
        ctx: Context | None,
        who: str = "bash",
    ) -> tuple[int, str | None]:
        if budget.pool is None:
            budget.pool = self.kernel.memory

        async def bounded() -> int:
            # the shell itself and every process it starts find the budget from here
            use_budget(budget)
            if ctx is not None and ctx.info is not None:
                enter_process(ctx.info)
            return int(await coro)

        task = asyncio.ensure_future(bounded())
        close = getattr(coro, "close", None)
        if close is not None:
            # a task killed before its first step never awaited the coroutine: close it quietly
            task.add_done_callback(lambda _t: close())
        if ctx is not None and ctx.info is not None:
            ctx.info.task = task
        code: int | None = None
        status = "exited"  # the shell's end, as its process-ended audit record says
        try:
            code = await asyncio.wait_for(task, timeout) if timeout is not None else await task
        except TimeoutError:
            budget.limit_hit = budget.limit_hit or "timeout"
            stderr.buffer += f"{who}: timed out after {timeout:g}s\n".encode()
            code, status = TIMEOUT_STATUS, "killed"
        except asyncio.CancelledError:
            # the guest's process was killed by a signal (``kill``): a status, not an exception
            # for our caller, unless our caller itself is being cancelled
            me = asyncio.current_task()
            info = ctx.info if ctx is not None else None
            if (me is not None and me.cancelling()) or info is None or not task.cancelled():
                raise
            code, status = 128 + (info.pending_signal or 9), "killed"
        except LimitExceeded as exc:
            stderr.buffer += f"{who}: {exc.message}\n".encode()
            code = TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS
            status = "killed"
            if budget.limit_hit is None:
                budget.limit_hit = exc.limit
        finally:
            budget.reset_memory()
            if ctx is not None and ctx.info is not None and ctx.info.status == "running":
                if code is None:  # our caller was cancelled, or the shell raised
                    code, status = _killed_status(ctx.info), "killed"
                self.kernel.end_process(ctx.info, code, status)
        return code, budget.limit_hit

    async def exec(
        self,
        script: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
        args: list[str] | None = None,
        argv0: str = "bash",
        escalate: bool | Mapping[str, Any] = False,
    ) -> ExecResult:
        """Run ``script`` in a fresh shell, like ``bash -c script argv0 args...``.

        ``escalate=True`` (or a dict of sandbox options: memory, max_processes, expose, ports)
        runs the script with the host's real ``bash`` in the heavy sandbox over this VM's
        files instead; that needs the ``sandbox.run`` permission for ``bash``."""
        self._alive()
        if escalate is not False:
            if limits is not None:
                raise ValueError(
                    "exec(escalate=...) does not take limits=; pass sandbox options "
                    "(memory, max_processes) in escalate={...}"
                )
            extra = {} if escalate is True else dict(escalate)
            return await self.sandbox_run(
                ["bash", "-c", script, argv0, *(args or [])],
                cwd=cwd,
                env=env,
                stdin=stdin,
                timeout=timeout,
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                **extra,
            )
        from pocketos.shell.interp import Shell

        lim = self.limits.merged(limits)
        t = check_seconds(timeout) if timeout is not None else lim.timeout
        budget = Budget(lim, t)
        out, err = self._sinks(budget, on_stdout, on_stderr)
        src = BytesSource(to_bytes(stdin)) if stdin is not None else BytesSource(b"")
        start = time.perf_counter()
        ctx = self._root_ctx(
            env=env,
            cwd=cwd,
            stdin=src,
            stdout=out,
            stderr=err,
            budget=budget,
            argv=["bash", "-c", script],
        )
        shell = Shell(ctx, argv0=argv0, args=args)
        code, hit = await self._run_with_limits(shell.run(script), budget, t, err, ctx)
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def run(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
    ) -> ExecResult:
        """Run one command (no shell) and collect its output."""
        self._alive()
        if not argv:
            raise ValueError("argv must not be empty")
        lim = self.limits.merged(limits)
        t = check_seconds(timeout) if timeout is not None else lim.timeout
        budget = Budget(lim, t)
        out, err = self._sinks(budget, None, None)
        src = BytesSource(to_bytes(stdin)) if stdin is not None else BytesSource(b"")
        e = self.kernel.environ(env)
        start = time.perf_counter()
        coro = self.kernel.run_command(
            list(argv),
            stdin=src,
            stdout=out,
            stderr=err,
            env=e,
            cwd=self._cwd(cwd),
            ppid=0,
            limits=lim,
            budget=budget,
        )
        code, hit = await self._run_with_limits(coro, budget, t, err, None, who=argv[0])
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def sandbox_run(
        self,
        argv: list[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        **options: Any,
    ) -> ExecResult:
        """Run a real host program in the heavy sandbox over this VM's files, policy and
        network (needs ``sandbox.run``; ``options``: memory, max_processes, expose, ports).
        See docs/sandbox.md."""
        self._alive()
        from pocketos.sandbox import SandboxOptions, sandbox_run

        opts = SandboxOptions(timeout=timeout if timeout is not None else self.limits.timeout)
        for k, v in options.items():
            if not hasattr(opts, k):
                raise TypeError(f"sandbox_run() got an unexpected keyword argument {k!r}")
            setattr(opts, k, tuple(v) if k in ("expose", "ports") else v)
        out, err = self._sinks(Budget(self.limits), on_stdout, on_stderr)
        start = time.perf_counter()
        hit: str | None = None
        try:
            code = await sandbox_run(
                self.kernel,
                list(argv),
                cwd=cwd or self.cwd,
                env={**self.kernel.env, **(env or {})},
                stdin=to_bytes(stdin) if stdin is not None else None,
                stdout=out.write,
                stderr=err.write,
                options=opts,
            )
        except LimitExceeded as exc:
            err.buffer += f"sandbox: {exc.message}\n".encode()
            code, hit = LIMIT_STATUS, exc.limit
        if code == TIMEOUT_STATUS and opts.timeout is not None:
            hit = "timeout"
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def spawn(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        limits: Limits | Mapping[str, Any] | None = None,
    ) -> Process:
        """Start a command in the background. ``stdin=None`` gives a writable pipe
        (``await proc.write(...)``, ``proc.close_stdin()``)."""
        self._alive()
        lim = self.limits.merged(limits)
        budget = Budget(lim, lim.timeout)
        pipe: Pipe | None = None
        src: InputStream
        if stdin is None:
            pipe = Pipe(lim.pipe_buffer)
            src = pipe.reader
        else:
            src = BytesSource(to_bytes(stdin))
        out, err = _StreamBuffer(budget), _StreamBuffer(budget)
        e = self.kernel.environ(env)
        info_holder: dict[str, ProcessInfo] = {}
        kernel = self.kernel
        func = kernel.find_command(argv[0], e, cwd or self.cwd)
        if func is None:
            raise FileNotFoundError(errno.ENOENT, f"command not found: {argv[0]}", argv[0])
        kernel.check("child_process", "spawn", argv[0].rsplit("/", 1)[-1])
        info = kernel.new_process(list(argv), env=e, cwd=self._cwd(cwd), ppid=0)
        info_holder["i"] = info

        async def main() -> int:
            enter_process(info)
            ctx = Context(
                kernel,
                list(argv),
                env=e,
                cwd=cwd or self.cwd,
                stdin=src,
                stdout=out,
                stderr=err,
                pid=info.pid,
                limits=lim,
                info=info,
                budget=budget,
            )
            code, status = 1, "exited"
            # the wall clock bounds a spawned process as it bounds an exec: a process blocked
            # in a read or a sleep never reaches a deadline check of its own
            deadline = asyncio.timeout(lim.timeout)
            try:
                async with deadline:
                    code = await func(ctx)
                code = (code or 0) & 0xFF
                status = "exited"
            except TimeoutError as exc:
                if deadline.expired():
                    budget.limit_hit = budget.limit_hit or "timeout"
                    err.buf += f"{argv[0]}: timed out after {lim.timeout:g}s\n".encode()
                    code, status = TIMEOUT_STATUS, "killed"
                else:  # the command's own, as any other exception below
                    err.buf += f"{argv[0]}: internal error: {exc}\n".encode()
                    code, status = 2, "exited"
            except BrokenPipeError:
                code, status = 141, "killed"
            except asyncio.CancelledError:
                sig = info.pending_signal or 9
                code, status = 128 + sig, "killed"
            except LimitExceeded as exc:
                # the message bypasses the (possibly exhausted) output budget
                err.buf += f"{argv[0]}: {exc.message}\n".encode()
                code, status = (
                    (TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS),
                    "killed",
                )
            except Exception as exc:
                err.buf += f"{argv[0]}: internal error: {exc}\n".encode()
                code, status = 2, "exited"
            finally:
                out.close()
                err.close()
                kernel.end_process(info, code, status)
            return code

        def reap_unstarted(t: asyncio.Task[int]) -> None:
            # a task cancelled before its first step never enters main(): end it here
            if t.cancelled() and info.status == "running":
                out.close()
                err.close()
                kernel.end_process(info, _killed_status(info), "killed")

        task = asyncio.ensure_future(main())
        info.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(reap_unstarted)
        return Process(cast("AsyncVM", self), info, pipe, out, err, task)

    def kill(self, pid: int, sig: int | str = "TERM") -> None:
        """Signal process ``pid``; a process that has exited but is still listed is left
        alone (no error), an unknown pid is ProcessLookupError."""
        info = self.kernel.procs.get(pid)
        if info is not None and info.status != "running":
            signal_number(sig)  # a bad signal is still an error
            return
        self.kernel.kill(pid, sig)

    async def wait(self, pid: int, timeout: float | None = None) -> int:
        info = self.kernel.procs.get(pid)
        if info is None:
            raise ProcessLookupError(errno.ESRCH, f"No such process: {pid}")
        if info.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(info.task), check_seconds(timeout))
            except asyncio.CancelledError:
                if not _killed_before_start(info.task):
                    raise
        return info.exit_code if info.exit_code is not None else -1

    def list_processes(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.kernel.procs.values()]

    def process_tree(self) -> list[dict[str, Any]]:
        return self.kernel.process_tree()


@record
class SyncProcess:
    """The sync twin of :class:`Process`, returned by ``VM.spawn``."""

    proc: Process
    _out: bytearray = field(default_factory=bytearray)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write(self, data: str | bytes) -> None:
        run_sync(self.proc.write(data))

    def close_stdin(self) -> None:
        self.proc.close_stdin()

    def wait(self, timeout: float | None = None) -> int:
        return run_sync(self.proc.wait(timeout))

    def read_stdout(self, n: int = -1) -> bytes:
        return run_sync(self.proc.stdout.read(n))

    def read_stderr(self, n: int = -1) -> bytes:
        return run_sync(self.proc.stderr.read(n))

    def kill(self, sig: int | str = "KILL") -> None:
        self.proc.kill(sig)

    @property
    def exit_code(self) -> int | None:
        return self.proc.exit_code
