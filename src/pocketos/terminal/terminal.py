"""An interactive terminal on a VM: a persistent shell behind a prompt with line editing, its
commands attached to a terminal device (``isatty`` is true, the line discipline cooks their
input, Ctrl-C interrupts them), shared by any number of attached clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pocketos.errors import LimitExceeded
from pocketos.kernel.budget import Budget, use_budget
from pocketos.kernel.jobctl import ProcessGroup, enter_process
from pocketos.kernel.process import signal_number
from pocketos.terminal.clients import TerminalClient
from pocketos.terminal.completion import complete
from pocketos.terminal.editor import LineEditor
from pocketos.terminal.prompt import DEFAULT_PS1, expand_prompt
from pocketos.terminal.shared import MAX_CLIENTS, SCROLLBACK, SharedTerminal, check_size
from pocketos.terminal.tty import LineDiscipline, TtyInput, TtyOutput, onlcr

if TYPE_CHECKING:
    from pocketos.vm import AsyncVM

__all__ = ["Terminal", "open_terminal", "MAX_CLIENTS", "SCROLLBACK"]

TIMEOUT_STATUS = 124  # as exec(): a command line that ran out of time
LIMIT_STATUS = 125  # and one that hit another limit

#: keys queued for the prompt at most (a client typing faster than the shell reads)
MAX_KEYS = 1024 * 1024
_numbers = itertools.count()


def _incomplete(source: str) -> bool:
    """True when ``source`` needs more lines (an open quote or block, a trailing backslash)."""
    from pocketos.shell.parser import ShellSyntaxError, parse

    stripped = source.rstrip("\n")
    if (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1:
        return True
    try:
        parse(source)
    except ShellSyntaxError as exc:
        return "unexpected end of file" in exc.message or "unexpected EOF" in exc.message
    except Exception:
        return False
    return False


class Terminal(SharedTerminal):
    """A shell on a terminal (``vm.open_shell()``).

    The opener is the owner, a writer: ``write(keys)``, ``read()``/``on_output(cb)``,
    ``resize(cols, rows)``, ``wait()`` for the exit status, ``close()``. Others may
    ``attach(role="viewer")`` to watch, or ``attach(role="writer")`` to type once the owner
    ``allow_writers()``.
    """

    def __init__(
        self,
        vm: AsyncVM,
        *,
        cols: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> None:
        from pocketos.shell.interp import Shell

        self._init_shared(vm, cols, rows, timeout)
        self.number = next(_numbers)
        self.name = f"/dev/pts/{self.number}"
        self._keys = bytearray()  # keys for the prompt, not yet edited
        self._key_event = asyncio.Event()
        self._input_event = asyncio.Event()
        self._running = False
        self._done = asyncio.Event()
        self._commands = 0
        self.disc = LineDiscipline(self._signal)
        tin = TtyInput(
            self.disc, self._wait_input, self._winsize, self.name, self._resize, self._fg_group
        )
        tout = TtyOutput(self._emit, self._winsize, self.name)
        base_env = {"TERM": "xterm-256color", "PS1": DEFAULT_PS1}
        base_env.update(env or {})
        self.budget = Budget(vm.limits, None)
        self.ctx = vm._root_ctx(
            env=base_env,
            cwd=cwd,
            stdin=tin,
            stdout=tout,
            stderr=tout,
            budget=self.budget,
            argv=["bash", "-i"],
        )
        self.shell = Shell(self.ctx, argv0="bash")
        self.shell.keep_alive = True
        self.shell.interactive = True
        self.shell.own_opts().monitor = True  # job control, as ``bash -i``: Ctrl-Z stops a job
        self.shell.on_job_end = self._job_ended
        self.editor = LineEditor(lambda line, pos: complete(line, pos, self.shell), self._cols)
        self._set_size_vars()
        self.owner = TerminalClient(self, "writer", owner=True)
        self.clients.append(self.owner)
        self._task: asyncio.Task[None] | None = None

    # -- lifetime -----------------------------------------------------------------------------
    def start(self) -> Terminal:
        if self._task is None:
            self._task = asyncio.ensure_future(self._main())
            self._task.set_name(f"pocketos-terminal-{self.id}")
            tasks = getattr(self.vm, "_tasks", None)
            if tasks is not None:
                tasks.add(self._task)
                self._task.add_done_callback(tasks.discard)
        return self

    async def close(self) -> int:
        """End the shell (its EXIT trap runs, running commands are killed)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.exit_code is None:
            await self._finish(self.shell.last_status)
        return self.exit_code if self.exit_code is not None else 0

    @property
    def running(self) -> bool:
        """True while a command line runs (keys then go to it, not to the prompt)."""
        return self._running

    # -- output --------------------------------------------------------------------------------
    async def _emit(self, data: bytes, *, wait: bool = True) -> None:
        """Show ``data`` to every client; a program's output (``wait``) then waits for the
        writers to keep up, the way a pty blocks a program whose reader is slow."""
        if not data:
            return
        self._keep(data)
        for c in list(self.clients):
            c._deliver(data, droppable=not wait)
        if wait:
            for c in list(self.clients):
                if c.role == "writer":
                    await c._wait_drained()

    def _emit_now(self, data: bytes) -> None:
        """Show ``data`` at once, from a callback (a job's notice under ``set -b``)."""
        self._keep(data)
        for c in list(self.clients):
            c._deliver(data)

    def _job_ended(self) -> None:
        """A background job ended: under ``set -b`` its notice shows at once (at the prompt,
        on a line of its own, and the prompt with what was typed is drawn again); otherwise
        it waits for the next prompt."""
        if not self.shell.opts.notify or self.exit_code is not None or self.shell.exited:
            return
        notices = self.shell.job_notices()
        if not notices:
            return
        data = onlcr(notices.encode("utf-8", "surrogateescape"))
        if self._running:
            self._emit_now(data)
        else:
            self._emit_now(b"\r\n" + data + self.editor.begin_again())

    # -- input ---------------------------------------------------------------------------------
    async def _input(self, data: bytes) -> None:
        if self.exit_code is not None:
            raise ConnectionError(f"terminal {self.id} has ended (status {self.exit_code})")
        if self._running:
            echo = self.disc.feed(data)
            self._input_event.set()
            await self._emit(echo, wait=False)
        else:
            if len(self._keys) + len(data) > MAX_KEYS:
                raise BlockingIOError(
                    f"terminal {self.id}: {len(self._keys)} bytes of input are waiting "
                    f"(the most is {MAX_KEYS})"
                )
            self._keys += data
            self._key_event.set()

    async def _wait_input(self) -> None:
        self._input_event.clear()
        await self._input_event.wait()

    def _signal(self, name: str) -> None:
        """Ctrl-C and friends while a command runs: the signal goes to the foreground job."""
        info = self.ctx.info
        if info is None or info.status != "running" or not self._running:
            return
        num = signal_number(name)
        kernel = self.vm.kernel
        job = self.shell.fg_job
        if name == "TSTP":
            if job is not None:
                kernel.signal_group(job.group, num)  # the foreground job stops
            elif num in info.caught:
                info.pending_traps.append(num)
            return  # the interactive shell itself ignores TSTP
        with contextlib.suppress(ProcessLookupError):
            kernel.kill(info.pid, num)
        if num in info.caught:
            # the shell traps it: its running commands still get it, as in a process group
            for child in list(info.children):
                with contextlib.suppress(ProcessLookupError):
                    kernel.kill(child, num)

    def _fg_group(self) -> ProcessGroup | None:
        """The process group the terminal belongs to: the shell's foreground job, or the
        shell itself at the prompt and while it runs builtins."""
        job = self.shell.fg_job
        if job is not None:
            return job.group  # type: ignore[no-any-return]
        info = self.ctx.info
        return info.group if info is not None else None

    # -- window size -----------------------------------------------------------------------------
    def _winsize(self) -> tuple[int, int]:
        return self.rows, self.cols

    def _cols(self) -> int:
        return self.cols

    def _resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = check_size(cols, rows)
        self._set_size_vars()

    def _set_size_vars(self) -> None:
        self.shell.assign_var("COLUMNS", str(self.cols))
        self.shell.assign_var("LINES", str(self.rows))

    # -- the shell -----------------------------------------------------------------------------
    def _prompt(self, var: str) -> str:
        ps = self.shell.get_str(var)
        if ps is None:
            ps = DEFAULT_PS1 if var == "PS1" else "> "
        return expand_prompt(ps, self.shell, tty=self.name, number=self._commands + 1)

    async def _edit(self, prompt: str, initial: str = "") -> tuple[str, str]:
        """Read one line at the prompt: (action, line)."""
        await self._emit(self.editor.begin(prompt, initial))
        while True:
            if not self._keys:
                self._key_event.clear()
                await self._key_event.wait()
                continue
            data = bytes(self._keys)
            self._keys.clear()
            r = self.editor.feed(data)
            await self._emit(r.echo)
            if r.action is not None:
                self._keys[:0] = r.rest
                return r.action, r.line

    async def _main(self) -> None:
        status = 0
        try:
            pending = ""
            while True:
                source = ""
                notices = self.shell.job_notices()  # jobs that ended, as bash -i shows them
                if notices:
                    await self._emit(onlcr(notices.encode("utf-8", "surrogateescape")))
                prompt = self._prompt("PS1")
                action, line = await self._edit(prompt, pending)
                pending = ""
                while action == "line":
                    source += line + "\n"
                    if not _incomplete(source):
                        break
                    action, line = await self._edit(self._prompt("PS2"))
                if action == "eof":
                    if source:
                        continue
                    await self._emit(b"exit\r\n")
                    break
                if action == "interrupt":
                    self.shell.last_status = 130
                    continue
                self.editor.remember(source)
                if not source.strip():
                    continue
                self._commands += 1
                # keys typed after Enter are typeahead for the command
                self._running = True
                if self._keys:
                    ahead = bytes(self._keys)
                    self._keys.clear()
                    await self._emit(self.disc.feed(ahead), wait=False)
                try:
                    await self._run(source)
                finally:
                    self._running = False
                    ahead = self.disc.take_typeahead()
                    self._keys[:0] = ahead
                if self.shell.exited:
                    break
            status = self.shell.last_status
        finally:
            await self._finish(status)

    async def _run(self, source: str) -> int:
        b = self.budget
        b.commands = b.loop_iterations = b.output_bytes = 0
        b.network_requests = b.network_bytes = 0
        b.limit_hit = None
        fresh = Budget(self.vm.limits, self.timeout)
        b.timeout = self.timeout
        b.deadline = fresh.deadline if self.timeout is not None else None
        if b.pool is None:
            b.pool = self.vm.kernel.memory
        info = self.ctx.info
        self._set_size_vars()

        async def body() -> int:
            use_budget(b)
            if info is not None:
                enter_process(info)
            return int(await self.shell.run(source))

        task = asyncio.ensure_future(body())
        if info is not None:
            info.task = task
        code: int
        try:
            if self.timeout is not None:
                code = await asyncio.wait_for(task, self.timeout)
            else:
                code = await task
        except TimeoutError:
            await self._emit(onlcr(f"bash: timed out after {self.timeout:g}s\n".encode()))
            code = TIMEOUT_STATUS
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if (me is not None and me.cancelling()) or not task.cancelled():
                raise
            code = 128 + ((info.pending_signal if info is not None else None) or 9)
        except LimitExceeded as exc:
            await self._emit(onlcr(f"bash: {exc.message}\n".encode()))
            code = TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS
        finally:
            if not task.done():
                # the terminal itself is being closed: the command line goes with it
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            b.reset_memory()
            if info is not None:
                info.task = None
                info.pending_signal = None
        self.shell.last_status = code & 0xFF
        return code

    async def _finish(self, status: int) -> None:
        if self.exit_code is not None:
            return
        try:
            with contextlib.suppress(Exception):
                await self.shell.close()
        finally:
            info = self.ctx.info
            if info is not None and info.status == "running":
                self.vm.kernel.end_process(info, status)
            self.exit_code = status & 0xFF
            self._done.set()
            for c in list(self.clients):
                c._ready.set()


def open_terminal(vm: AsyncVM, **options: Any) -> Terminal:
    """Create and start a terminal on ``vm`` (the implementation of ``vm.open_shell``)."""
    return Terminal(vm, **options).start()
