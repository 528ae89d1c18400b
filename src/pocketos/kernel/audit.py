"""The audit log: structured events for denials, asks, mounts, tool calls, network requests,
process spawns and exits. Bounded in memory; a store can persist it."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from pocketos.kernel.record import record

__all__ = ["AuditEvent", "AuditLog"]


@record(slots=True)
class AuditEvent:
    """One entry of the audit log."""

    seq: int
    time: float
    vm: str
    kind: str  # permission | mount | tool | network | process
    capability: str = ""
    resource: str = ""
    decision: str = ""
    reason: str = ""
    pid: int | None = None
    actor: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditLog:
    def __init__(self, vm: str, maxlen: int = 10_000) -> None:
        self.vm = vm
        self.events: deque[AuditEvent] = deque(maxlen=maxlen)
        self.seq = 0
        self.sinks: list[Callable[[AuditEvent], None]] = []

    def record(
        self,
        kind: str,
        *,
        capability: str = "",
        resource: str = "",
        decision: str = "",
        reason: str = "",
        pid: int | None = None,
        actor: str = "",
        **detail: Any,
    ) -> AuditEvent:
        self.seq += 1
        ev = AuditEvent(
            self.seq,
            time.time(),
            self.vm,
            kind,
            capability,
            resource,
            decision,
            reason,
            pid,
            actor,
            detail,
        )
        self.events.append(ev)
        for sink in self.sinks:
            try:
                sink(ev)
            except Exception:  # a broken sink never breaks the VM
                pass
        return ev

    def query(self, since: float | int | None = None, kind: str | None = None) -> list[AuditEvent]:
        out = []
        for ev in self.events:
            if kind is not None and ev.kind != kind:
                continue
            if since is not None and ev.time < since:
                continue
            out.append(ev)
        return out
