"""Changing a Landlocked worker's host mounts after its VM started.

A Landlock domain is fixed when the worker opens its VM: the worker can neither reach a host
directory mounted later nor forget one unmounted. Such a change therefore moves the VM to a new
worker opened with the new mount set, from the VM's commit — like a worker restart, so it is
refused beforehand when it would lose guest state a restart loses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketos.errors import PocketOSError

__all__ = ["is_landlocked", "check_movable"]


def is_landlocked(sandbox: list[str]) -> bool:
    """Whether a worker reporting ``sandbox`` applied Landlock."""
    return any(n.startswith("landlock (") for n in sandbox)


def check_movable(
    what: str, procs: Mapping[int, Any], mounts: Mapping[str, Any], commit_error: str | None
) -> None:
    """Refuse, before anything changes, a move that would end running background processes
    (``procs``: pid -> handle with a ``task``), empty memory mounts or drop the changes a
    too-big commit left out (``commit_error``)."""
    lose: list[str] = []
    if commit_error is not None:
        lose.append(f"drop the changes its last commit could not keep ({commit_error})")
    running = sorted(pid for pid, p in procs.items() if not p.task.done())
    if running:
        lose.append(f"end its background processes {running} (wait for them)")
    memory = sorted(p for p, m in mounts.items() if m.get("memory"))
    if memory:
        lose.append(f"empty its memory mounts {memory}")
    if lose:
        raise PocketOSError(
            f"{what}: the VM's Landlocked worker must be replaced to change its host mounts, "
            f"which would {' and '.join(lose)}; give host mounts when the VM is created"
        )
