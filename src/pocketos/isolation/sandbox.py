"""Hardening a worker process from the inside, before it runs any guest work.

Applied by the worker to itself (the host passes the settings in its command line):

* ``no_new_privs`` (``prctl``) — nothing the worker could exec gains privileges;
* a parent-death signal (SIGKILL) — a worker never outlives its host;
* not dumpable — other processes of the same user cannot ptrace it or read its memory;
* resource limits — ``RLIMIT_DATA`` (memory: heap and anonymous mappings; ``RLIMIT_AS`` is
  not usable because wasmtime reserves gigabytes of address space it never touches),
  ``RLIMIT_CPU`` (CPU seconds over the worker's life after its start-up), ``RLIMIT_NOFILE``, ``RLIMIT_FSIZE``,
  ``RLIMIT_CORE`` = 0;
* seccomp (see :mod:`pocketos.isolation.seccomp`) and Landlock (see
  :mod:`pocketos.isolation.landlock`) where the kernel has them.

Every step that cannot be applied is reported as a note (the host exposes them as
``vm.sandbox``) rather than silently skipped.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import signal
from typing import Any

__all__ = ["apply_base", "apply_cpu"]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38


def _prctl(libc: Any, option: int, arg: int) -> bool:
    return bool(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0)


def _rlimit(notes: list[str], name: str, which: int, value: int | None) -> None:
    if value is None:
        return
    try:
        resource.setrlimit(which, (value, value))
        notes.append(f"{name}={value}")
    except (ValueError, OSError) as exc:
        notes.append(f"{name} not applied: {exc}")


def apply_base(config: dict[str, Any]) -> list[str]:
    """no_new_privs, parent-death signal, not dumpable and the rlimits. Returns notes."""
    notes: list[str] = []
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:  # pragma: no cover - every Linux has libc
        return [f"prctl unavailable: {exc}"]
    if _prctl(libc, PR_SET_NO_NEW_PRIVS, 1):
        notes.append("no_new_privs")
    else:
        notes.append(f"no_new_privs not applied: errno {ctypes.get_errno()}")
    if _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL):
        notes.append("pdeathsig=SIGKILL")
    if config.get("host_pid") and os.getppid() != config["host_pid"]:
        # the host died before the death signal was armed
        os._exit(1)
    if _prctl(libc, PR_SET_DUMPABLE, 0):
        notes.append("not dumpable")
    _rlimit(notes, "RLIMIT_CORE", resource.RLIMIT_CORE, 0)
    _rlimit(notes, "RLIMIT_DATA", resource.RLIMIT_DATA, config.get("memory"))
    _rlimit(notes, "RLIMIT_NOFILE", resource.RLIMIT_NOFILE, config.get("open_files"))
    _rlimit(notes, "RLIMIT_FSIZE", resource.RLIMIT_FSIZE, config.get("file_size"))
    return notes


def apply_cpu(config: dict[str, Any]) -> list[str]:
    """``RLIMIT_CPU``: ``cpu_seconds`` more than the worker has used so far (its start-up is
    not charged to the guests). Must run before seccomp, which forbids raising limits."""
    cpu = config.get("cpu_seconds")
    if cpu is None:
        return []
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime) + int(cpu)
    try:
        # the soft limit sends SIGXCPU (which kills); the hard one a second later SIGKILL
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
    except (ValueError, OSError) as exc:
        return [f"RLIMIT_CPU not applied: {exc}"]
    return [f"RLIMIT_CPU=+{int(cpu)}s"]
