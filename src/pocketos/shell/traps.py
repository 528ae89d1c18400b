# mypy: disable-error-code="misc"
"""Traps: signals caught by ``trap`` delivered between commands, and the EXIT trap, as a mixin of
the interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.kernel.process import SIGNALS, ProcessKilled
from pocketos.shell.ast import ArithCmd, Case, CondCmd, For, Simple
from pocketos.shell.printer import format_cond
from pocketos.shell.state import (
    ExitShell,
    ShellAttrs,
    ShellError,
    Var,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Traps", "arith_for_text", "command_text", "simple_text"]

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
        """bash's ``DEBUG`` trap: run before a simple command (a pipeline's stages too),
        ``(( ))``, ``[[ ]]``, ``case``, each ``for`` iteration, ``select`` and the parts of
        ``for (( ))``, with ``BASH_COMMAND`` set to the command's text and ``LINENO`` to its
        line; never inside a trap. A function called without ``set -T`` (functrace) runs
        without the trap of its caller (see ``_call_function``), but with one it sets."""
        if self.in_trap:
            return
        if not self.traps.get("DEBUG"):
            return
        self.vars["BASH_COMMAND"] = Var(text)
        line = self.lineno
        try:
            await self.run_trap("DEBUG")
        finally:
            self.lineno = line

    async def run_trap(self: Shell, name: str) -> None:
        action = self.traps.get(name)
        if not action:
            return
        saved = self.last_status
        self.in_trap = True
        # bash numbers an ERR or DEBUG trap's lines from its command's line; others from 1
        first = max(self.lineno, 1) if name in ("ERR", "DEBUG") else 1
        try:
            await self.nested(self._run_source(action, top=False, first_line=first))
        finally:
            self.in_trap = False
            self.last_status = saved

    async def run_exit_trap(self: Shell, status: int) -> int:
        action = self.traps.pop("EXIT", None)
        if action and not (self.opts.noexec and not self.interactive):
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


# --- $BASH_COMMAND as a DEBUG trap sees it -------------------------------------------------------
def simple_text(cmd: Simple) -> str:
    """A simple command as ``$BASH_COMMAND`` shows it (words as written, redirections
    spaced like bash prints them)."""
    parts = [a.text for a in cmd.assigns] + [w.text for w in cmd.words]
    for r in cmd.redirs:
        target = r.target.text if r.target is not None else ""
        if r.heredoc is not None:
            continue
        if r.op in (">&", "<&"):
            fd = str(r.fd if r.fd is not None else int(r.op == ">&"))
            parts.append(f"{fd}{r.op}{target}")
        else:
            parts.append(f"{'' if r.fd is None else r.fd}{r.op} {target}")
    return " ".join(parts)


def command_text(cmd: ArithCmd | CondCmd | Case | For) -> str:
    """``$BASH_COMMAND`` for the DEBUG trap that runs before a compound command's head, the way
    bash prints it: ``((expr))`` as written, ``[[ -n $x ]]``, ``case $x in `` (with its space),
    ``for v in a b`` / ``select v in a b``."""
    if isinstance(cmd, ArithCmd):
        return f"(({cmd.expr}))"
    if isinstance(cmd, CondCmd):
        return f"[[ {format_cond(cmd.expr)} ]]"
    if isinstance(cmd, Case):
        return f"case {cmd.word.text} in "
    words = " ".join(w.text for w in cmd.words) if cmd.words is not None else '"$@"'
    return f"{'select' if cmd.select else 'for'} {cmd.var} in {words}"


def arith_for_text(expr: str) -> str:
    """``$BASH_COMMAND`` before a part of ``for ((init; cond; step))``: ``((i<3))``, and
    ``((1))`` for an empty part."""
    return f"(({expr.lstrip() or '1'}))"
