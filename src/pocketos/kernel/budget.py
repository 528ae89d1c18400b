"""Per-exec budgets: counters shared by every process of one exec/spawn.

The shell calls :meth:`Budget.command` for each simple command and :meth:`Budget.loop` for each
loop iteration; long-running commands call :meth:`Budget.check_time` (or ``await``
:meth:`Budget.pace`, which also lets other tasks run). Each raises
:class:`~pocketos.errors.LimitExceeded` naming the limit.

Memory: every buffer that grows with guest input or output is charged to the exec's budget
(:meth:`Budget.charge` / :meth:`Budget.release`, or a :class:`Held` account released when the
command ends) and, through it, to the VM's :class:`MemoryPool`. A transient buffer that is not
kept asks :meth:`Budget.check_alloc` before it grows. Past ``max_memory`` (per exec) or
``max_vm_memory`` (per VM) the work ends with ``LimitExceeded`` instead of growing the host.

The budget of the running process is found with :func:`current_budget` (a context variable set
for each process), so that kernel streams and devices can check the deadline without being
handed the budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar, Token

from pocketos.errors import LimitExceeded
from pocketos.kernel.jobctl import checkpoint, must_pause
from pocketos.kernel.limits import Limits

__all__ = [
    "Budget",
    "Held",
    "MemoryPool",
    "check_alloc",
    "check_time",
    "current_budget",
    "pace",
    "reset_budget",
    "use_budget",
]

#: seconds a busy process may hold the event loop before :meth:`Budget.pace` yields
YIELD_INTERVAL = 0.005


def _size(n: int) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} bytes"


class MemoryPool:
    """Memory held by all execs of one VM (``max_vm_memory``)."""

    __slots__ = ("cap", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0


class Budget:
    __slots__ = (
        "limits",
        "commands",
        "loop_iterations",
        "deadline",
        "output_bytes",
        "timeout",
        "network_requests",
        "network_bytes",
        "limit_hit",
        "memory",
        "pool",
        "_next_yield",
    )

    def __init__(
        self, limits: Limits, timeout: float | None = None, pool: MemoryPool | None = None
    ) -> None:
        self.limits = limits
        #: bytes currently charged by the processes of this exec
        self.memory = 0
        #: the VM's pool (attached by the kernel when the first process starts)
        self.pool = pool
        self._next_yield = 0.0
        self.commands = 0
        self.loop_iterations = 0
        self.output_bytes = 0
        self.network_requests = 0
        self.network_bytes = 0
        t = limits.timeout if timeout is None else timeout
        self.timeout = t
        self.deadline = (time.monotonic() + t) if t is not None else None
        #: name of the first limit hit, if any
        self.limit_hit: str | None = None

    def _hit(self, name: str, message: str) -> LimitExceeded:
        if self.limit_hit is None:
            self.limit_hit = name
        return LimitExceeded(name, message)

    def command(self) -> None:
        self.commands += 1
        if self.commands > self.limits.max_commands:
            raise self._hit(
                "max_commands",
                f"too many commands executed (max_commands={self.limits.max_commands})",
            )

    def loop(self) -> None:
        self.loop_iterations += 1
        if self.loop_iterations > self.limits.max_loop_iterations:
            raise self._hit(
                "max_loop_iterations",
                f"too many loop iterations (max_loop_iterations={self.limits.max_loop_iterations})",
            )
        if self.loop_iterations & 0x3FF == 0:
            self.check_time()

    def call_depth(self, depth: int) -> None:
        if depth > self.limits.max_call_depth:
            raise self._hit(
                "max_call_depth",
                f"maximum call depth exceeded (max_call_depth={self.limits.max_call_depth})",
            )

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self._hit(
                "timeout",
                f"timed out after {self.timeout:g}s" if self.timeout is not None else "timed out",
            )

    def output(self, n: int) -> None:
        self.output_bytes += n
        if self.output_bytes > self.limits.max_output_bytes:
            raise self._hit(
                "max_output_bytes",
                f"output limit exceeded (max_output_bytes={self.limits.max_output_bytes})",
            )

    async def pace(self) -> None:
        """Check the deadline and, every few milliseconds, let other tasks run. Loops whose
        I/O never waits (``/dev/null``, ``/dev/zero``, in-memory files) call this."""
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            self.check_time()
        if now >= self._next_yield:
            self._next_yield = now + YIELD_INTERVAL
            if must_pause():
                await checkpoint()  # a stopped process pauses here
            await asyncio.sleep(0)

    def reset_memory(self) -> None:
        """Give back everything this budget holds (the exec is over)."""
        if self.pool is not None:
            self.pool.used -= self.memory
        self.memory = 0

    def _mem_error(self, what: str, exec_level: bool) -> LimitExceeded:
        if exec_level:
            cap = self.limits.max_memory
            return self._hit(
                "max_memory", f"{what}: memory limit exceeded (max_memory={_size(cap)})"
            )
        cap = self.pool.cap if self.pool is not None else 0
        return self._hit(
            "max_vm_memory", f"{what}: VM memory limit exceeded (max_vm_memory={_size(cap)})"
        )

    def memory_error(self, what: str, exec_level: bool = True) -> LimitExceeded:
        """The error for ``what`` having run out of the exec's (or the VM's) memory elsewhere,
        such as in a helper process capped at what was left."""
        return self._mem_error(what, exec_level)

    def check_alloc(self, n: int, what: str) -> None:
        """Refuse (``LimitExceeded``) a buffer of ``n`` more bytes that would not fit in what is
        left of the exec's and the VM's memory; nothing is charged."""
        if self.memory + n > self.limits.max_memory:
            raise self._mem_error(what, True)
        pool = self.pool
        if pool is not None and pool.used + n > pool.cap:
            raise self._mem_error(what, False)

    def charge(self, n: int, what: str) -> None:
        """Hold ``n`` bytes for ``what`` until :meth:`release`; raises ``LimitExceeded`` (and
        charges nothing) past ``max_memory`` or ``max_vm_memory``."""
        self.check_alloc(n, what)
        self.memory += n
        if self.pool is not None:
            self.pool.used += n

    def release(self, n: int) -> None:
        n = min(n, self.memory)  # after reset_memory(), late releases give back nothing
        self.memory -= n
        if self.pool is not None:
            self.pool.used -= n

    def hold(self, what: str) -> Held:
        """A running account for one command's data structure, released by ``close()`` or at
        the end of a ``with`` block."""
        return Held(self, what)


class Held:
    """Bytes one command holds, charged as they grow and released together."""

    __slots__ = ("budget", "what", "n")

    def __init__(self, budget: Budget, what: str) -> None:
        self.budget = budget
        self.what = what
        self.n = 0

    def add(self, n: int) -> None:
        self.budget.charge(n, self.what)
        self.n += n

    def sub(self, n: int) -> None:
        n = min(n, self.n)
        self.budget.release(n)
        self.n -= n

    def set(self, n: int) -> None:
        """Make the account hold exactly ``n`` bytes."""
        if n > self.n:
            self.add(n - self.n)
        elif n < self.n:
            self.sub(self.n - n)

    def close(self) -> None:
        if self.n:
            self.budget.release(self.n)
            self.n = 0

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_current: ContextVar[Budget | None] = ContextVar("pocketos_budget", default=None)


# the context variable's own methods (no Python frame on every command's entry and exit)
#: the budget of the process running in this task (``None`` outside any exec)
current_budget: Callable[[], Budget | None] = _current.get
#: make a budget current in this task; returns a token for :func:`reset_budget`
use_budget: Callable[[Budget], Token[Budget | None]] = _current.set
reset_budget: Callable[[Token[Budget | None]], None] = _current.reset


async def pace() -> None:
    """:meth:`Budget.pace` of the current budget (nothing outside an exec)."""
    b = _current.get()
    if b is not None:
        await b.pace()


def check_time() -> None:
    """:meth:`Budget.check_time` of the current budget (nothing outside an exec)."""
    b = _current.get()
    if b is not None and b.deadline is not None and time.monotonic() > b.deadline:
        b.check_time()


def check_alloc(n: int, what: str) -> None:
    """:meth:`Budget.check_alloc` of the current budget (nothing outside an exec)."""
    b = _current.get()
    if b is not None:
        b.check_alloc(n, what)
