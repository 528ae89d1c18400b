"""ACP terminals backed by VM processes: ``terminal/create`` starts a command in the VM's
shell (so every command inside is checked against the policy), output is collected up to a
byte limit (the oldest bytes are dropped first and the ``truncated`` flag is set)."""

from __future__ import annotations

import asyncio
import itertools
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from pocketos.errors import LimitExceeded

__all__ = ["Terminal", "TerminalManager", "DEFAULT_OUTPUT_LIMIT"]

#: bytes of output kept per terminal when the agent gives no ``outputByteLimit``
DEFAULT_OUTPUT_LIMIT = 1024 * 1024

_SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 2: "SIGINT", 1: "SIGHUP", 13: "SIGPIPE"}

_ids = itertools.count(1)

#: exit statuses of a command a VM limit stopped (as ``pocketos.vm`` reports them)
TIMEOUT_STATUS = 124
LIMIT_STATUS = 125


def _trim_front(buf: bytearray, limit: int) -> bool:
    """Drop bytes from the front so ``len(buf) <= limit``, on a UTF-8 character boundary."""
    if len(buf) <= limit:
        return False
    cut = len(buf) - limit
    while cut < len(buf) and (buf[cut] & 0xC0) == 0x80:
        cut += 1
    del buf[:cut]
    return True


class Terminal:
    def __init__(
        self,
        terminal_id: str,
        argv: list[str],
        display: str,
        limit: int,
        on_output: Callable[[Terminal, bytes], None] | None = None,
    ) -> None:
        self.id = terminal_id
        self.argv = argv
        self.command = display
        self.limit = max(0, limit)
        self.output = bytearray()
        self.truncated = False
        self.exit_code: int | None = None
        self.signal: str | None = None
        self.killed_with: int | None = None
        self.proc: Any = None
        self.done = asyncio.Event()
        self._on_output = on_output
        #: called once when the command has ended (not for a terminal that failed to start)
        self.on_exit: Callable[[Terminal], None] | None = None
        self._task: asyncio.Task[None] | None = None

    def _append(self, data: bytes) -> None:
        self.output += data
        if _trim_front(self.output, self.limit):
            self.truncated = True
        if self._on_output is not None:
            self._on_output(self, data)

    async def _pump(self, stream: Any) -> None:
        while True:
            data = await stream.read(65536)
            if not data:
                return
            self._append(data)

    async def _run(self) -> None:
        proc = self.proc
        try:
            err = asyncio.ensure_future(self._pump(proc.stderr))
            try:
                await self._pump(proc.stdout)
                await err
            finally:
                if not err.done():
                    err.cancel()
            code = await proc.wait()
        except asyncio.CancelledError:
            code = 128 + (self.killed_with or 9)
        except LimitExceeded as exc:  # a VM limit stopped the command
            self._append(f"bash: {exc.message}\n".encode())
            code = TIMEOUT_STATUS if exc.limit == "timeout" else LIMIT_STATUS
        except Exception as exc:  # the process machinery failed: report, do not raise
            self._append(f"terminal error: {exc}\n".encode())
            code = 1
        if self.killed_with is not None:
            self.signal = _SIGNALS.get(self.killed_with, f"SIG{self.killed_with}")
            self.exit_code = None
        else:
            self.exit_code = code
        self.done.set()
        if self.on_exit is not None:
            try:
                self.on_exit(self)
            except Exception:  # a listener never breaks the terminal
                pass

    def start_failed(self, message: str, code: int) -> None:
        self._append(message.encode("utf-8", "surrogateescape"))
        self.exit_code = code
        self.done.set()

    def text(self) -> str:
        return bytes(self.output).decode("utf-8", "replace")

    def exit_status(self) -> dict[str, Any] | None:
        if not self.done.is_set():
            return None
        return {"exitCode": self.exit_code, "signal": self.signal}

    def exit_json(self) -> dict[str, Any]:
        """The ACP exit status (``exitCode``, ``signal``; unset ones left out)."""
        out: dict[str, Any] = {}
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.signal is not None:
            out["signal"] = self.signal
        return out

    async def wait(self) -> dict[str, Any]:
        await self.done.wait()
        status = self.exit_status()
        assert status is not None
        return status

    def kill(self, sig: int = 9) -> None:
        if self.done.is_set() or self.proc is None:
            return
        self.killed_with = sig
        try:
            self.proc.kill(sig)
        except ProcessLookupError:
            pass


class TerminalManager:
    """The terminals of one session."""

    def __init__(
        self,
        vm: Any,
        *,
        default_cwd: str,
        on_output: Callable[[Terminal, bytes], None] | None = None,
    ) -> None:
        self.vm = vm
        self.default_cwd = default_cwd
        self.terminals: dict[str, Terminal] = {}
        self._on_output = on_output

    async def create(
        self,
        command: str,
        args: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
    ) -> Terminal:
        if args:
            script = shlex.join([command, *args])
        else:
            script = command
        # one output stream, like a terminal: stderr joins stdout in the order written
        argv = ["bash", "-c", "exec 2>&1; " + script]
        tid = f"term-{next(_ids)}"
        limit = DEFAULT_OUTPUT_LIMIT if output_byte_limit is None else int(output_byte_limit)
        term = Terminal(tid, argv, script, limit, self._on_output)
        self.terminals[tid] = term
        try:
            # the shell itself is a command the policy may refuse (vm.spawn does not ask)
            self.vm.kernel.check("child_process", "spawn", "bash")
        except PermissionError as exc:
            term.start_failed(f"bash: {exc.strerror or exc}\n", 126)
            return term
        try:
            term.proc = await self.vm.spawn(
                argv, stdin=b"", env=dict(env or {}) or None, cwd=cwd or self.default_cwd
            )
        except FileNotFoundError as exc:
            term.start_failed(f"bash: {exc.strerror or exc}\n", 127)
            return term
        except Exception as exc:
            term.start_failed(f"bash: cannot start: {exc}\n", 126)
            return term
        term._task = asyncio.ensure_future(term._run())
        return term

    def get(self, terminal_id: str) -> Terminal:
        term = self.terminals.get(terminal_id)
        if term is None:
            raise KeyError(terminal_id)
        return term

    def release(self, terminal_id: str) -> None:
        term = self.terminals.pop(terminal_id, None)
        if term is not None:
            term.kill()

    async def close(self) -> None:
        terms = list(self.terminals.values())
        self.terminals.clear()
        for term in terms:
            term.kill()
        for term in terms:
            if term._task is not None:
                try:
                    await asyncio.wait_for(term._task, 2.0)
                except (TimeoutError, asyncio.CancelledError, Exception):
                    term._task.cancel()
