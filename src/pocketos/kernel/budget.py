"""Per-exec budgets: counters shared by every process of one exec/spawn.

The shell calls :meth:`Budget.command` for each simple command and :meth:`Budget.loop` for each
loop iteration; long-running commands call :meth:`Budget.check_time`. Each raises
:class:`~pocketos.errors.LimitExceeded` naming the limit.
"""

from __future__ import annotations

import time

from pocketos.errors import LimitExceeded
from pocketos.kernel.limits import Limits

__all__ = ["Budget"]


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
    )

    def __init__(self, limits: Limits, timeout: float | None = None) -> None:
        self.limits = limits
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
