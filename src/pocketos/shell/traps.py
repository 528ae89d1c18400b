# mypy: disable-error-code="misc"
"""Traps: signals caught by ``trap`` delivered between commands, and the EXIT trap, as a mixin of
the interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.kernel.process import SIGNALS, ProcessKilled
from pocketos.shell.state import (
    ExitShell,
    ShellAttrs,
    ShellError,
    Var,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Traps"]

#: trap names of the signals a trap can catch
_SIGNUMS = {k: v for k, v in SIGNALS.items() if k not in ("KILL", "STOP")}


class Traps(ShellAttrs):
    """Mixin for :class:`Shell`: traps and the signals that run them."""

    def sync_caught_signals(self: Shell) -> None:
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

    async def deliver_traps(self: Shell) -> None:
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

    async def debug_trap(self: Shell, text: str) -> None:
        """bash's ``DEBUG`` trap: run before a simple command, ``(( ))`` and each ``for``
        iteration with ``BASH_COMMAND`` set to the command's text; inside functions only
        under ``set -T`` (functrace), never inside a trap."""
        if self.in_trap or (self.funcnames and not self.opts["functrace"]):
            return
        if not self.traps.get("DEBUG"):
            return
        self.vars["BASH_COMMAND"] = Var(text)
        await self.run_trap("DEBUG")

    async def run_trap(self: Shell, name: str) -> None:
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

    async def run_exit_trap(self: Shell, status: int) -> int:
        action = self.traps.pop("EXIT", None)
        if action:
            self.last_status = status
            try:
                await self._run_source(action, top=False)
            except ExitShell as e:
                return e.status
        return status

    async def _exit_trap_after_signal(self: Shell) -> None:
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
