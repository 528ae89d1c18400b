"""Stopped processes: process groups that STOP/TSTP/TTIN/TTOU pause and CONT resumes.

A process is an asyncio task, and a task cannot be frozen from outside. So a stop is
cooperative: :class:`ProcessGroup` records that its processes are stopped, and the work of
those processes pauses at the next *safe point* — :func:`checkpoint`, which the kernel's waits
already pass through (pipe reads and writes, terminal reads and writes, ``Budget.pace`` in busy
loops, ``sleep``, each command the shell runs). CONT lets them go on.

A stop applies to a whole group: every process started inside a group's context (the group
is a context variable, inherited by the tasks a process starts) belongs to it. The shell gives
each job its own group, so stopping a job never stops the shell that waits for it.

While stopped, a process still ends:
- at its exec's deadline (the wall clock keeps running while stopped, so a stopped job can
  never hold an exec open past its timeout);
- at once on KILL;
- on any other deadly signal (TERM, INT, HUP ...) when it is continued, as on Linux, where the
  signal stays pending until CONT.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketos.kernel.process import ProcessInfo

__all__ = [
    "CONT",
    "KILL",
    "STOP_SIGNALS",
    "ProcessGroup",
    "checkpoint",
    "current_group",
    "current_process",
    "enter_process",
    "must_pause",
    "reset_group",
    "reset_process",
    "use_group",
    "use_process",
]

KILL = 9
CONT = 18
#: STOP, TSTP, TTIN, TTOU: the signals whose default action stops a process
STOP_SIGNALS = frozenset({19, 20, 21, 22})

_group_ids = itertools.count(1)


class ProcessGroup:
    """The stop state shared by the processes of one job."""

    __slots__ = ("id", "stop_signal", "members", "_change", "_listeners")

    def __init__(self) -> None:
        self.id = next(_group_ids)
        #: the signal that stopped the group, None while it runs
        self.stop_signal: int | None = None
        #: the live processes of the group (the kernel adds and removes them)
        self.members: dict[int, ProcessInfo] = {}
        #: resolved (and replaced) at each change a stopped process must look at
        self._change: asyncio.Future[None] | None = None
        self._listeners: list[Callable[[ProcessGroup], None]] = []

    @property
    def stopped(self) -> bool:
        return self.stop_signal is not None

    def stop(self, signum: int) -> None:
        """Stop the group (a second stop while stopped only changes the reported signal)."""
        was = self.stop_signal
        self.stop_signal = signum
        if was is None:
            self._notify()

    def cont(self) -> None:
        """Continue the group; the signals that came while it was stopped are delivered."""
        if self.stop_signal is None:
            return
        self.stop_signal = None
        self.poke()
        self._notify()

    def poke(self) -> None:
        """Wake the stopped processes so that they look at their pending signals."""
        fut, self._change = self._change, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def listen(self, fn: Callable[[ProcessGroup], None]) -> Callable[[], None]:
        """Call ``fn(group)`` on every stop and continue; returns the function that stops
        listening."""
        self._listeners.append(fn)

        def remove() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)

        return remove

    def _notify(self) -> None:
        for fn in list(self._listeners):
            fn(self)

    async def wait_continued(self, proc: ProcessInfo | None = None) -> None:
        """Pause while the group is stopped. Raises ``ProcessKilled`` for a signal that
        ``proc`` received (KILL at once, others once continued) and ``LimitExceeded`` at the
        exec's deadline."""
        from pocketos.kernel.budget import current_budget
        from pocketos.kernel.process import ProcessKilled

        budget = proc.budget if proc is not None and proc.budget is not None else None
        if budget is None:
            budget = current_budget()
        while self.stop_signal is not None:
            if proc is not None and proc.pending_signal == KILL:
                raise ProcessKilled(KILL)
            left: float | None = None
            if budget is not None and budget.deadline is not None:
                left = budget.deadline - time.monotonic()
                if left <= 0:
                    budget.check_time()
            if self._change is None or self._change.done():
                self._change = asyncio.get_running_loop().create_future()
            fut = self._change
            try:
                async with asyncio.timeout(left):
                    await asyncio.shield(fut)
            except TimeoutError:
                continue
        if proc is not None and proc.pending_signal is not None:
            raise ProcessKilled(proc.pending_signal)


_group: ContextVar[ProcessGroup | None] = ContextVar("pocketos_group", default=None)
_process: ContextVar[ProcessInfo | None] = ContextVar("pocketos_process", default=None)


# The accessors are the context variables' own methods (no Python frame on the hot path of
# every command a VM runs).

#: the process group of the code running in this task
current_group: Callable[[], ProcessGroup | None] = _group.get
use_group: Callable[[ProcessGroup], Token[ProcessGroup | None]] = _group.set
reset_group: Callable[[Token[ProcessGroup | None]], None] = _group.reset
#: the process whose command runs in this task (None outside a command)
current_process: Callable[[], ProcessInfo | None] = _process.get
use_process: Callable[[ProcessInfo], Token[ProcessInfo | None]] = _process.set
reset_process: Callable[[Token[ProcessInfo | None]], None] = _process.reset


def must_pause() -> bool:
    """True when this task's process group is stopped (the cheap test before
    :func:`checkpoint` on hot paths)."""
    g = _group.get()
    return g is not None and g.stop_signal is not None


def enter_process(info: ProcessInfo) -> None:
    """Make ``info`` (and its group) this task's own: for a task that runs one process's
    code from its start (its context is its own, so nothing needs resetting)."""
    _process.set(info)
    if info.group is not None:
        _group.set(info.group)


async def checkpoint() -> None:
    """A safe point: pause here while this task's process group is stopped."""
    g = _group.get()
    if g is not None and g.stop_signal is not None:
        await g.wait_continued(_process.get())
