"""Landlock for a worker process: the kernel limits which host paths it may touch.

Applied by the worker when it opens its VM (one VM per worker), because only then are the VM's
host mounts known. Allowed afterwards:

* read (and map executable) — the Python installation and the directories on ``sys.path``,
  ``/usr``, ``/lib``, ``/lib64``, the TLS and resolver files under ``/etc`` the network gateway
  needs, ``/proc`` and the few device nodes a process uses;
* read and write — the compiled-module cache, and each host directory mounted ``rw``;
* read — each host directory mounted ``ro`` or ``overlay``.

Everything else on the host (``/home``, ``/root``, ``/etc/shadow``, ``/tmp`` …) is refused by the
kernel even if pocketos had a bug. Without a network option the worker also may not open or
accept TCP connections (Landlock ABI 4+). The domain covers the calling thread and every thread
it starts later; the worker applies it before any guest runs. Kernels without Landlock get a note
saying so.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Iterable

__all__ = ["restrict", "abi"]

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REFER = 1 << 13
TRUNCATE = 1 << 14
IOCTL_DEV = 1 << 15
FILE_BITS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = EXECUTE | READ_FILE | READ_DIR

NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    v = _libc.syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    return int(v) if v > 0 else 0


def _handled(version: int) -> int:
    bits = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if version >= 2:
        bits |= REFER
    if version >= 3:
        bits |= TRUNCATE
    if version >= 5:
        bits |= IOCTL_DEV
    return bits


def _system_reads() -> list[str]:
    paths = ["/usr", "/lib", "/lib64", "/bin", "/proc", "/etc/ssl", "/etc/ca-certificates"]
    paths += ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf"]
    paths += ["/etc/localtime", "/etc/ld.so.cache", "/dev/urandom", "/dev/random"]
    paths += [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)]
    paths += [p for p in sys.path if p]
    return paths


def restrict(reads: Iterable[str], writes: Iterable[str], *, network: bool) -> str:
    """Restrict this thread (and threads it starts) to the listed paths plus what a worker
    needs; returns a note for the host."""
    version = abi()
    if version < 1:
        return "landlock off: the kernel does not offer it"
    handled = _handled(version)
    attr = _RulesetAttr(handled, 0 if network or version < 4 else NET_BIND_TCP | NET_CONNECT_TCP)
    size = ctypes.sizeof(attr) if version >= 4 else 8
    fd = _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if fd < 0:
        return f"landlock off: {errno.errorcode.get(ctypes.get_errno(), '?')}"
    try:
        rules: list[tuple[str, int]] = [(p, READ) for p in _system_reads()]
        rules += [(p, READ) for p in reads]
        rules += [("/dev/null", READ | WRITE_FILE | TRUNCATE), ("/dev/zero", READ)]
        rules += [(p, handled) for p in writes]
        for path, access in rules:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path that does not exist needs no rule
            try:
                if not os.path.isdir(path):
                    access &= FILE_BITS
                rule = _PathBeneath(access & handled, pfd)
                if _libc.syscall(SYS_ADD_RULE, fd, RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                    err = ctypes.get_errno()
                    return f"landlock off: rule for {path} refused ({errno.errorcode.get(err)})"
            finally:
                os.close(pfd)
        if _libc.syscall(SYS_RESTRICT_SELF, fd, 0):
            err = ctypes.get_errno()
            return f"landlock off: restrict_self refused ({errno.errorcode.get(err)})"
    finally:
        os.close(fd)
    return f"landlock (ABI {version}{', no TCP' if not network and version >= 4 else ''})"
