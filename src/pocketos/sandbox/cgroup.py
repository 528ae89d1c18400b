"""Memory and process limits for a sandbox through a cgroup of its own.

cgroup v2 (the unified hierarchy with the ``memory`` and ``pids`` controllers) is used where
this process may create a child group; otherwise cgroup v1's ``memory`` and ``pids``
hierarchies; otherwise :func:`Cgroup.create` returns None and the caller falls back to
rlimits. A group is made below this process's own group, so the host's limits still apply.
Its name starts with ``pocketos-sandbox-`` and the owner's tag, so that a sweep can tell the
groups of dead host processes (:mod:`pocketos.sandbox.leftovers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time

__all__ = ["Cgroup", "hierarchies"]

ROOT = "/sys/fs/cgroup"
_ids = itertools.count(1)


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's group path."""
    out: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in ctrls.split(",") if ctrls else [""]:
                    out[c] = path
    except OSError:
        pass
    return out


def hierarchies() -> list[str]:
    """The cgroup hierarchies a sandbox's group may be made in (that exist here)."""
    if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        return [ROOT]
    return [p for p in (os.path.join(ROOT, c) for c in ("memory", "pids")) if os.path.isdir(p)]


def _write(path: str, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


class Cgroup:
    def __init__(self, dirs: list[str], version: int) -> None:
        self.dirs = dirs
        self.version = version

    @classmethod
    def create(cls, name: str, memory: int | None, max_processes: int, owner: str) -> Cgroup | None:
        """A new group for the sandbox ``name`` of the host process tagged ``owner``."""
        leaf = f"pocketos-sandbox-{owner}-{next(_ids)}-{name}"
        own = _own_paths()
        made: list[str] = []
        try:
            v2 = os.path.join(ROOT, "cgroup.controllers")
            if os.path.exists(v2):
                with open(v2) as fh:
                    ctrls = fh.read().split()
                if "pids" in ctrls and "memory" in ctrls:
                    d = os.path.join(ROOT + own.get("", "/"), leaf)
                    os.mkdir(d)
                    made.append(d)
                    if memory is not None:
                        _write(os.path.join(d, "memory.max"), str(memory))
                        with contextlib.suppress(OSError):
                            _write(os.path.join(d, "memory.swap.max"), "0")
                    _write(os.path.join(d, "pids.max"), str(max_processes))
                    return cls(made, 2)
            for ctrl in ("memory", "pids"):
                base = os.path.join(ROOT, ctrl)
                if not os.path.isdir(base):
                    raise OSError("no v1 hierarchy")
                d = os.path.join(base + own.get(ctrl, "/"), leaf)
                os.mkdir(d)
                made.append(d)
                if ctrl == "memory" and memory is not None:
                    _write(os.path.join(d, "memory.limit_in_bytes"), str(memory))
                    with contextlib.suppress(OSError):
                        _write(os.path.join(d, "memory.memsw.limit_in_bytes"), str(memory))
                if ctrl == "pids":
                    _write(os.path.join(d, "pids.max"), str(max_processes))
            return cls(made, 1)
        except OSError:
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            return None

    def add(self, pid: int) -> None:
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def pids(self) -> list[int]:
        out: list[int] = []
        for d in self.dirs:
            with contextlib.suppress(OSError), open(os.path.join(d, "cgroup.procs")) as fh:
                out += [int(x) for x in fh.read().split()]
        return out

    def kill_all(self) -> None:
        """SIGKILL every process in the group (``cgroup.kill`` where the kernel has it)."""
        for d in self.dirs:
            with contextlib.suppress(OSError):
                _write(os.path.join(d, "cgroup.kill"), "1")
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)

    def try_remove(self) -> bool:
        """Remove the group's directories that are empty; True when none is left."""
        gone = []
        for d in self.dirs:
            try:
                os.rmdir(d)
                gone.append(d)
            except FileNotFoundError:
                gone.append(d)
            except OSError:
                pass
        self.dirs = [d for d in self.dirs if d not in gone]
        return not self.dirs

    def remove_now(self, tries: int = 100) -> bool:
        """:meth:`remove` without an event loop (blocks up to ``tries`` * 10 ms)."""
        for _ in range(tries):
            self.kill_all()
            if self.try_remove():
                return True
            time.sleep(0.01)
        return False

    async def remove(self) -> None:
        """Kill what is left in the group and remove it (a dying namespace may take a few
        scheduler ticks to empty its group)."""
        for _ in range(200):
            self.kill_all()
            if self.try_remove():
                return
            await asyncio.sleep(0.01)
