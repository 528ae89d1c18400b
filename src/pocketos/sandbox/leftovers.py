"""What a sandbox leaves on the host when its host process dies, and the sweep that removes it.

A sandbox's host process normally removes everything it made (:meth:`SandboxProcess.close`).
When that process is killed with SIGKILL (or dies any other way that runs no teardown), the
sandbox's processes die with it (bwrap's ``--die-with-parent`` and the pid namespace), but two
things stay behind: the FUSE mount directory ``$TMPDIR/pocketos-sandbox-*`` (its mount is dead:
every access fails with ``ENOTCONN``) and the sandbox's cgroup(s).

Each of them names its owner: the directory holds an ``owner`` file (JSON: the owner's pid,
the pid's start time in clock ticks since boot, its pid namespace and the boot id), and the
cgroup's name carries ``pid.start.pidns``. :func:`prune` looks at every such leftover and
removes the ones whose owner is dead (the pid is gone, is a zombie, or now belongs to a
process that started at another time; or the machine booted since): the mount is detached
lazily, the directory removed, the cgroup's processes killed (``cgroup.kill`` where the kernel
has it) and the cgroup removed. A leftover whose owner is alive, whose owner cannot be judged
from here (another pid namespace) or that has no readable owner record (a directory being
created, or made by an older version) is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass

from pocketos.sandbox.cgroup import Cgroup, hierarchies
from pocketos.sandbox.fuse_mount import unmount

__all__ = [
    "PREFIX",
    "Owner",
    "Pruned",
    "owner_of_dir",
    "process_state",
    "prune",
    "remove_workdir",
    "write_owner",
]

#: the name every sandbox directory and cgroup starts with
PREFIX = "pocketos-sandbox-"
OWNER_FILE = "owner"
_CGROUP_NAME = re.compile(PREFIX + r"(\d+)\.(\d+)\.(\d+)-")
#: how deep and how many directories of a cgroup hierarchy a sweep looks through
_MAX_DEPTH, _MAX_DIRS = 8, 20000


def _start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks since boot, state letter) of ``pid``, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]), fields[0].decode()


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` (``R``, ``S``, ``Z`` …), or None if it is gone."""
    st = _start_time(pid)
    return None if st is None else st[1]


def _pid_ns() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Owner:
    """The host process a sandbox belongs to."""

    pid: int
    #: the pid's start time (clock ticks since boot): tells a reused pid apart
    start: int
    #: inode of the owner's pid namespace: a pid means nothing in another one
    pidns: int
    boot: str = ""

    @classmethod
    def current(cls) -> Owner:
        """This process (computed once per process: a forked child is another owner)."""
        global _current
        pid = os.getpid()
        if _current is None or _current.pid != pid:
            st = _start_time(pid)
            _current = cls(pid, st[0] if st else 0, _pid_ns(), _boot_id())
        return _current

    @property
    def tag(self) -> str:
        """The owner as it is written into a cgroup's name."""
        return f"{self.pid}.{self.start}.{self.pidns}"

    def state(self) -> str:
        """``alive``, ``dead`` or ``unknown`` (cannot be judged from this process)."""
        if self.boot and self.boot != _boot_id():
            return "dead"  # the machine booted since: no process of it lives
        if self.pidns != _pid_ns():
            return "unknown"
        st = _start_time(self.pid)
        if st is None or st[1] in ("Z", "X") or st[0] != self.start:
            return "dead"
        return "alive"


_current: Owner | None = None


def write_owner(workdir: str) -> None:
    """Record this process as the owner of the sandbox directory ``workdir``."""
    o = Owner.current()
    data = {"pid": o.pid, "start": o.start, "pidns": o.pidns, "boot": o.boot}
    tmp = os.path.join(workdir, OWNER_FILE + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, os.path.join(workdir, OWNER_FILE))


def owner_of_dir(workdir: str) -> Owner | None:
    try:
        with open(os.path.join(workdir, OWNER_FILE)) as fh:
            d = json.load(fh)
        return Owner(int(d["pid"]), int(d["start"]), int(d["pidns"]), str(d.get("boot", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _owner_of_cgroup(name: str) -> Owner | None:
    m = _CGROUP_NAME.match(name)
    if m is None:
        return None
    return Owner(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _mounts_under(path: str) -> list[str]:
    """Mount points at or under ``path`` (read from the mount table: nothing is walked)."""
    out = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as fh:
        for line in fh:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


@dataclass
class Pruned:
    """What one sweep removed (paths) and what it had to leave (dead owner, still busy)."""

    dirs: list[str]
    cgroups: list[str]
    busy: list[str]


def remove_workdir(path: str) -> bool:
    """Detach every mount under a sandbox's directory and remove it; False if something is
    still mounted there (the directory is then never walked into) or could not be removed."""
    for mp in sorted(_mounts_under(path), key=len, reverse=True):
        unmount(mp)  # lazily: the FUSE server may be dead, or be this very thread
    if _mounts_under(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not os.path.lexists(path)


def _is_own_dir(path: str) -> bool:
    """A real directory (not a link someone planted in the shared temp directory) that this
    user made."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _cgroup_dirs() -> list[str]:
    """Every sandbox cgroup in the hierarchies a sandbox may use."""
    found: list[str] = []
    seen = 0
    for root in hierarchies():
        stack = [(root, 0)]
        while stack and seen < _MAX_DIRS:
            d, depth = stack.pop()
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                if not e.is_dir(follow_symlinks=False):
                    continue
                seen += 1
                if e.name.startswith(PREFIX):
                    found.append(e.path)
                elif depth < _MAX_DEPTH:
                    stack.append((e.path, depth + 1))
    return found


def prune(tmpdir: str | None = None, *, dry_run: bool = False) -> Pruned:
    """Remove the mount directories (under ``tmpdir``, the host's temp directory by default)
    and the cgroups of sandboxes whose host process is dead; see the module's docstring."""
    out = Pruned([], [], [])
    base = tmpdir or tempfile.gettempdir()
    try:
        names = sorted(n for n in os.listdir(base) if n.startswith(PREFIX))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(base, name)
        if not _is_own_dir(path):
            continue
        owner = owner_of_dir(path)
        if owner is None or owner.state() != "dead":
            continue
        if dry_run or remove_workdir(path):
            out.dirs.append(path)
        else:
            out.busy.append(path)
    for path in _cgroup_dirs():
        owner = _owner_of_cgroup(os.path.basename(path))
        if owner is None or owner.state() != "dead":
            continue
        if dry_run:
            out.cgroups.append(path)
            continue
        # a dying namespace may take a few scheduler ticks to empty its group
        removed = Cgroup([path], 0).remove_now(tries=200)
        (out.cgroups if removed else out.busy).append(path)
    return out
