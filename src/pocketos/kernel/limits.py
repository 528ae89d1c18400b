"""Resource limits: one object per VM, overridable per exec/spawn.

Every limit has a default; hitting one ends the offending work with a clear message and the
limit's name in ``ExecResult.limit_hit``, and the VM stays usable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from pocketos.kernel.record import record

__all__ = ["Limits", "check_seconds"]

MiB = 1024 * 1024


#: the limits counted in seconds (a float; every other limit is a count of something)
_SECONDS = ("timeout", "wasm_deadline", "max_regex_time")


def check_seconds(value: Any, name: str = "timeout") -> float | None:
    """``value`` as a number of seconds, or a clear error: NaN would silently disable a
    ``wait_for`` and a negative time makes no sense."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number of seconds, not NaN")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return float(value)


@record(frozen=True, slots=True)
class Limits:
    """The limits of a VM, or of one exec/spawn (see docs/limits.md)."""

    #: wall-clock seconds for one exec/spawn (``None``: no limit)
    timeout: float | None = 300.0
    #: simple commands (builtins and programs) one exec may run
    max_commands: int = 1_000_000
    #: iterations of all loops in one exec
    max_loop_iterations: int = 10_000_000
    #: function/source/eval nesting depth
    max_call_depth: int = 1000
    #: bytes of script source accepted by the shell
    max_source_bytes: int = 4 * MiB
    #: bytes of stdout+stderr kept by exec() (the process is stopped past it)
    max_output_bytes: int = 64 * MiB
    #: bytes of memory the buffers of one exec may hold (sorted lines, captures, awk/jq/sqlite
    #: data, ...)
    max_memory: int = 256 * MiB
    #: bytes of memory all running execs of one VM may hold together
    max_vm_memory: int = 512 * MiB
    #: seconds one regular-expression match may hold the event loop when it cannot move to a
    #: worker thread (see pocketos.lib.safe_regex)
    max_regex_time: float = 1.0
    #: capacity of one pipe buffer
    pipe_buffer: int = 64 * 1024
    #: live processes in one VM
    max_processes: int = 512
    #: open files per process (shell fds and files held by commands)
    max_open_files: int = 1024
    #: bytes stored in the VM's writable layers
    max_fs_bytes: int = 1024 * MiB
    #: inodes in the VM's writable layers
    max_fs_inodes: int = 1_000_000
    #: size of one file
    max_file_size: int = 256 * MiB
    #: entries one readdir may return
    max_readdir_entries: int = 100_000
    #: bytes of memory a wasm guest may use
    wasm_memory: int = 512 * MiB
    #: seconds a wasm guest may run (``None``: the exec timeout only)
    wasm_deadline: float | None = None
    #: wasm fuel (``None``: unmetered)
    wasm_fuel: int | None = None
    #: network requests per exec
    max_network_requests: int = 1000
    #: response bytes per exec
    max_network_bytes: int = 256 * MiB

    def __init__(
        self,
        timeout: float | None = 300.0,
        max_commands: int = 1_000_000,
        max_loop_iterations: int = 10_000_000,
        max_call_depth: int = 1000,
        max_source_bytes: int = 4 * MiB,
        max_output_bytes: int = 64 * MiB,
        max_memory: int = 256 * MiB,
        max_vm_memory: int = 512 * MiB,
        max_regex_time: float = 1.0,
        pipe_buffer: int = 65_536,
        max_processes: int = 512,
        max_open_files: int = 1024,
        max_fs_bytes: int = 1024 * MiB,
        max_fs_inodes: int = 1_000_000,
        max_file_size: int = 256 * MiB,
        max_readdir_entries: int = 100_000,
        wasm_memory: int = 512 * MiB,
        wasm_deadline: float | None = None,
        wasm_fuel: int | None = None,
        max_network_requests: int = 1000,
        max_network_bytes: int = 256 * MiB,
    ) -> None:
        _set = object.__setattr__  # frozen
        _set(self, "timeout", timeout)
        _set(self, "max_commands", max_commands)
        _set(self, "max_loop_iterations", max_loop_iterations)
        _set(self, "max_call_depth", max_call_depth)
        _set(self, "max_source_bytes", max_source_bytes)
        _set(self, "max_output_bytes", max_output_bytes)
        _set(self, "max_memory", max_memory)
        _set(self, "max_vm_memory", max_vm_memory)
        _set(self, "max_regex_time", max_regex_time)
        _set(self, "pipe_buffer", pipe_buffer)
        _set(self, "max_processes", max_processes)
        _set(self, "max_open_files", max_open_files)
        _set(self, "max_fs_bytes", max_fs_bytes)
        _set(self, "max_fs_inodes", max_fs_inodes)
        _set(self, "max_file_size", max_file_size)
        _set(self, "max_readdir_entries", max_readdir_entries)
        _set(self, "wasm_memory", wasm_memory)
        _set(self, "wasm_deadline", wasm_deadline)
        _set(self, "wasm_fuel", wasm_fuel)
        _set(self, "max_network_requests", max_network_requests)
        _set(self, "max_network_bytes", max_network_bytes)
        self.__post_init__()

    def __post_init__(self) -> None:
        for f in fields(Limits):
            value = getattr(self, f.name)
            if value is None and "None" in str(f.type):
                continue
            if f.name in _SECONDS:
                check_seconds(value, f.name)
            elif isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"limit {f.name} must be an int, not {type(value).__name__}")
            elif value < 0:
                raise ValueError(f"limit {f.name} must not be negative, got {value}")

    def merged(self, overrides: Limits | Mapping[str, Any] | None) -> Limits:
        """A copy with ``overrides`` applied (a ``Limits`` replaces fields that differ from the
        defaults; a dict names fields)."""
        if overrides is None:
            return self
        if isinstance(overrides, Limits):
            default = Limits()
            changes = {
                f.name: getattr(overrides, f.name)
                for f in fields(Limits)
                if getattr(overrides, f.name) != getattr(default, f.name)
            }
        else:
            names = {f.name for f in fields(Limits)}
            unknown = set(overrides) - names
            if unknown:
                raise ValueError(
                    f"unknown limit(s): {', '.join(sorted(unknown))}; "
                    f"known: {', '.join(sorted(names))}"
                )
            changes = dict(overrides)
        return replace(self, **changes)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
