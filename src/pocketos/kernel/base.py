"""The shared, immutable base layer: a small Linux-like tree every VM sees under its own
writable layer. Built once per process and shared by reference, so an idle VM costs almost
nothing."""

from __future__ import annotations

import stat as S
from collections.abc import Iterable

from pocketos.kernel.fs.memory import DEV_FULL, DEV_NULL, DEV_URANDOM, DEV_ZERO, MemoryBackend

__all__ = ["base_layer", "STUB_PREFIX", "stub_for", "USER_UID", "USER_GID", "HOSTNAME"]

USER_UID = 1000
USER_GID = 1000
HOSTNAME = "pocketos"
STUB_PREFIX = b"#!/bin/sh\n# pocketos built-in command: "

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    f"user:x:{USER_UID}:{USER_GID}:user:/home/user:/bin/bash\n"
)
GROUP = f"root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\nuser:x:{USER_GID}:\n"
OS_RELEASE = 'PRETTY_NAME="pocketos"\nNAME=pocketos\nID=pocketos\nID_LIKE=debian\n'

_BASE: MemoryBackend | None = None
_BASE_COMMANDS: frozenset[str] = frozenset()


def stub_for(name: str) -> bytes:
    return STUB_PREFIX + name.encode() + b"\nexec " + name.encode() + b' "$@"\n'


def _file(fs: MemoryBackend, path: str, data: str | bytes, mode: int = 0o644) -> None:
    """A file owned by root (the backend's owner) with exactly ``mode``: ``create`` applies no
    umask, so no chmod or chown follows (each would walk the path again, for 130 files)."""
    fs.create(path, mode)
    fs.write(path, data.encode() if isinstance(data, str) else data, 0)


def build_base(commands: list[str]) -> MemoryBackend:
    fs = MemoryBackend()
    for d in (
        "/usr",
        "/usr/bin",
        "/usr/sbin",
        "/usr/local",
        "/usr/local/bin",
        "/usr/lib",
        "/usr/share",
        "/etc",
        "/home",
        "/root",
        "/tmp",
        "/var",
        "/var/tmp",
        "/var/log",
        "/dev",
        "/proc",
        "/proc/self",
        "/opt",
        "/mnt",
        "/srv",
        "/run",
    ):
        fs.mkdir(d, 0o755)
    fs.chmod("/tmp", 0o1777)
    fs.chmod("/var/tmp", 0o1777)
    fs.chmod("/root", 0o700)
    fs.mkdir("/home/user", 0o755)
    fs.chown("/home/user", USER_UID, USER_GID)
    fs.symlink("usr/bin", "/bin")
    fs.symlink("usr/sbin", "/sbin")
    fs.symlink("usr/lib", "/lib")
    for name in sorted(set(commands)):
        if "/" in name or not name or name in (".", ".."):
            continue
        _file(fs, "/usr/bin/" + name, stub_for(name), 0o755)
    _file(fs, "/etc/passwd", PASSWD)
    _file(fs, "/etc/group", GROUP)
    _file(fs, "/etc/hostname", HOSTNAME + "\n")
    _file(fs, "/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n")
    _file(fs, "/etc/os-release", OS_RELEASE)
    _file(fs, "/etc/shells", "/bin/sh\n/bin/bash\n")
    _file(fs, "/proc/version", "Linux version 6.1.0-pocketos (pocketos) #1 SMP\n")
    _file(fs, "/proc/self/cmdline", b"bash\0")
    for name, rdev in (
        ("null", DEV_NULL),
        ("zero", DEV_ZERO),
        ("urandom", DEV_URANDOM),
        ("random", DEV_URANDOM),
        ("full", DEV_FULL),
    ):
        fs.mknod("/dev/" + name, 0o666, rdev)
    fs.mkdir("/dev/fd", 0o755)
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        fs.symlink(f"/proc/self/fd/{i}", "/dev/" + name)
    return fs.freeze()


def base_layer(commands: Iterable[str] = ()) -> MemoryBackend:
    """The process-wide base layer, built on first use with a ``/bin`` stub for each of
    ``commands`` (the facade passes the names of its default command table)."""
    global _BASE, _BASE_COMMANDS
    if _BASE is None:
        names = sorted(set(commands))
        _BASE = build_base(names)
        _BASE_COMMANDS = frozenset(names)
    return _BASE


_ = S
