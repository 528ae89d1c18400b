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

    def __init__(
        self,
        seq: int,
        time: float,
        vm: str,
        kind: str,
        capability: str = "",
        resource: str = "",
        decision: str = "",
        reason: str = "",
        pid: int | None = None,
        actor: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        # written out: one is built per process start and exit, and the generic record
        # __init__ cost four times as much
        self.seq = seq
        self.time = time
        self.vm = vm
        self.kind = kind
        self.capability = capability
        self.resource = resource
        self.decision = decision
        self.reason = reason
        self.pid = pid
        self.actor = actor
        self.detail = {} if detail is None else detail

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: how a kept entry that is not yet an :class:`AuditEvent` is laid out (its first item)
_FIELDS, _SPAWN, _EXIT = 0, 1, 2


class AuditLog:
    """The last ``maxlen`` events. An event nobody is listening to (no sink) is kept as a
    tuple and made an :class:`AuditEvent` when read: a VM records two per process and most
    are never read. A process's start and end keep only what differs from one to the next
    (no dict or list), which also leaves the garbage collector less to walk."""

    def __init__(self, vm: str, maxlen: int = 10_000) -> None:
        self.vm = vm
        self._kept: deque[AuditEvent | tuple[Any, ...]] = deque(maxlen=maxlen)
        self.seq = 0
        self.sinks: list[Callable[[AuditEvent], None]] = []

    @property
    def events(self) -> list[AuditEvent]:
        """The events kept, oldest first."""
        return self._made()

    def _made(self) -> list[AuditEvent]:
        """The kept events, each made an :class:`AuditEvent` once (a later read returns the
        same objects)."""
        kept = self._kept
        made = [ev if isinstance(ev, AuditEvent) else self._event(ev) for ev in kept]
        if any(type(ev) is tuple for ev in kept):
            self._kept = deque(made, maxlen=kept.maxlen)
        return made

    def _event(self, kept: tuple[Any, ...]) -> AuditEvent:
        how = kept[0]
        if how == _SPAWN:
            _, seq, t, pid, ppid, name, argv = kept
            return AuditEvent(
                seq,
                t,
                self.vm,
                "process",
                "child_process.spawn",
                name,
                "allow",
                "",
                pid,
                "",
                {"ppid": ppid, "argv": list(argv)},
            )
        if how == _EXIT:
            _, seq, t, pid, name, status, code = kept
            return AuditEvent(
                seq, t, self.vm, "process", "exit", name, status, "", pid, "", {"exit_code": code}
            )
        return AuditEvent(*kept[1:])

    def _keep(self, kept: tuple[Any, ...]) -> None:
        if not self.sinks:
            self._kept.append(kept)
            return
        ev = self._event(kept)
        self._kept.append(ev)
        for sink in self.sinks:
            try:
                sink(ev)
            except Exception:  # a broken sink never breaks the VM
                pass

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
    ) -> None:
        self.seq += 1
        self._keep(
            (
                _FIELDS,
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
        )

    def process_started(
        self, pid: int, ppid: int, name: str, argv: list[str], t: float | None = None
    ) -> None:
        """``record("process", capability="child_process.spawn", resource=name,
        decision="allow", pid=pid, ppid=ppid, argv=argv[:16])``, at time ``t`` (default:
        now; the kernel gives the process's start time)."""
        self.seq += 1
        kept = (
            _SPAWN,
            self.seq,
            time.time() if t is None else t,
            pid,
            ppid,
            name,
            tuple(argv[:16]),
        )
        if self.sinks:
            self._keep(kept)
        else:
            self._kept.append(kept)

    def process_ended(
        self, pid: int, name: str, status: str, code: int, t: float | None = None
    ) -> None:
        """``record("process", capability="exit", resource=name, decision=status, pid=pid,
        exit_code=code)``: ``status`` is ``killed`` when a signal's default action (128+N for
        signal N), a timeout (124) or a limit ended it, ``exited`` when it ended itself (one
        that caught the signal with a trap and then exited included), for a shell as for any
        command; ``code`` is the exit status; ``t`` is when (default: now)."""
        self.seq += 1
        kept = (_EXIT, self.seq, time.time() if t is None else t, pid, name, status, code)
        if self.sinks:
            self._keep(kept)
        else:
            self._kept.append(kept)

    def query(self, since: float | int | None = None, kind: str | None = None) -> list[AuditEvent]:
        out = []
        for ev in self._made():
            if kind is not None and ev.kind != kind:
                continue
            if since is not None and ev.time < since:
                continue
            out.append(ev)
        return out
