"""Pools of pre-started worker processes, so a process-isolated VM is cheap to create.

A pool keeps ``size`` workers started and warm (imports done, base layer built). ``acquire``
hands one out and starts a replacement in the background; with ``vms_per_worker`` above 1,
several VMs share one worker (cheaper, but a runaway exec then takes its neighbours' worker
down with it — they restart from their own last commits). A worker that has hosted a VM is
never given to another VM after that VM closes unless the pool shares workers.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from pocketos.isolation.process import WorkerLimits, WorkerProcess

__all__ = ["WorkerPool", "default_pool"]


class WorkerPool:
    """``WorkerPool(size=2, limits=WorkerLimits(...), vms_per_worker=1)``; ``close()`` ends
    every worker it started. Thread-safe."""

    def __init__(
        self,
        size: int = 2,
        *,
        limits: WorkerLimits | dict[str, Any] | None = None,
        vms_per_worker: int = 1,
    ) -> None:
        if type(size) is not int or size < 0:
            raise ValueError(f"pool size must be an int >= 0, not {size!r}")
        if type(vms_per_worker) is not int or vms_per_worker < 1:
            raise ValueError(f"vms_per_worker must be an int >= 1, not {vms_per_worker!r}")
        self.size = size
        self.limits = WorkerLimits.coerce(limits)
        self.vms_per_worker = vms_per_worker
        self._idle: list[WorkerProcess] = []
        self._shared: list[WorkerProcess] = []
        self._all: set[WorkerProcess] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._waiting = 0
        self._error: Exception | None = None
        self._filler = threading.Thread(target=self._fill, name="pocketos-pool", daemon=True)
        self._filler.start()

    def _start(self) -> WorkerProcess:
        w = WorkerProcess(self.limits)
        with self._lock:
            self._all.add(w)
        return w

    def _fill(self) -> None:
        # every worker is started by this one long-lived thread: a worker's parent-death
        # signal fires when the *thread* that started it exits, so starting one from a
        # caller's short-lived thread would kill it when that thread ends
        while True:
            with self._lock:
                while not self._closed and len(self._idle) >= self.size + self._waiting:
                    self._wake.wait()
                if self._closed:
                    return
            try:
                w = self._start()
            except Exception as exc:  # handed to the waiting acquire(), never lost
                with self._lock:
                    self._error = exc
                    self._wake.notify_all()
                    # wait for a new request rather than failing in a loop
                    while not self._closed and self._error is not None:
                        self._wake.wait()
                continue
            with self._lock:
                if self._closed:
                    self._all.discard(w)
                    stray = w
                else:
                    self._idle.append(w)
                    self._wake.notify_all()
                    stray = None
            if stray is not None:
                stray.close()

    def acquire(self) -> WorkerProcess:
        """A ready worker with room for one more VM (started now if none is warm)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            if self.vms_per_worker > 1:
                self._shared = [w for w in self._shared if w.alive]
                for w in self._shared:
                    if w.vms < self.vms_per_worker:
                        w.vms += 1
                        return w
            w_opt = None
            self._waiting += 1
            try:
                while w_opt is None:
                    if self._closed:
                        raise RuntimeError("the worker pool is closed")
                    while self._idle and w_opt is None:
                        cand = self._idle.pop(0)
                        if cand.alive:
                            w_opt = cand
                        else:
                            self._all.discard(cand)
                    if w_opt is not None:
                        break
                    if self._error is not None:
                        err, self._error = self._error, None
                        self._wake.notify_all()
                        raise err
                    self._wake.notify_all()
                    self._wake.wait()
            finally:
                self._waiting -= 1
        w = w_opt
        w.wait_ready()
        w.vms = 1
        if self.vms_per_worker > 1:
            with self._lock:
                self._shared.append(w)
        return w

    def prestart(self) -> None:
        """Start one worker now, from the calling thread, and keep it for the next
        ``acquire`` (with ``size=0``: one worker ready, none started after it). The calling
        thread must outlive the worker (its end sends the worker the parent-death signal)."""
        w = self._start()
        with self._lock:
            if self._closed:
                self._all.discard(w)
                stray: WorkerProcess | None = w
            else:
                self._idle.append(w)
                stray = None
        if stray is not None:
            stray.close()

    def replenish(self) -> None:
        """Start replacements for the workers handed out (called once a VM is open, so
        starting them does not slow that VM's creation down)."""
        with self._lock:
            self._wake.notify_all()

    def release(self, worker: WorkerProcess) -> None:
        """A VM is done with ``worker``: the worker ends when no VM uses it any more."""
        with self._lock:
            worker.vms -= 1
            last = worker.vms <= 0 or not worker.alive
            if last:
                self._all.discard(worker)
                if worker in self._shared:
                    self._shared.remove(worker)
        if last:
            worker.close()

    def discard(self, worker: WorkerProcess) -> None:
        """Forget a dead worker (its VMs restart elsewhere)."""
        with self._lock:
            self._all.discard(worker)
            if worker in self._shared:
                self._shared.remove(worker)

    @property
    def warm(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._shared.clear()
            self._wake.notify_all()
        for w in workers:
            w.close()
        if self._filler is not threading.current_thread():
            self._filler.join()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: dict[WorkerLimits, WorkerPool] = {}
_default_lock = threading.Lock()


def default_pool(limits: WorkerLimits | dict[str, Any] | None = None) -> WorkerPool:
    """The process-wide pool for VMs created without ``pool=`` (one per set of limits; one
    warm worker each)."""
    lim = WorkerLimits.coerce(limits)
    with _default_lock:
        pool = _default.get(lim)
        if pool is None:
            pool = _default[lim] = WorkerPool(1, limits=lim)
        return pool


@atexit.register
def _close_default_pools() -> None:
    with _default_lock:
        pools = list(_default.values())
        _default.clear()
    for p in pools:
        p.close()
