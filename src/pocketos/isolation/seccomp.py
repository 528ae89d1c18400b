"""A seccomp filter for worker processes (x86-64 only; elsewhere it reports that it is off).

Nothing in a worker needs to start programs, debug other processes or reconfigure the kernel,
so the filter makes these fail with EPERM for every thread of the worker (``TSYNC``):

* process creation other than threads — ``fork``, ``vfork``, ``clone`` without
  ``CLONE_THREAD``; ``clone3`` fails with ENOSYS so libc falls back to ``clone``;
* running programs — ``execve``, ``execveat``;
* touching other processes — ``ptrace``, ``process_vm_readv/writev``, ``pidfd_getfd``;
* raising resource limits — ``setrlimit`` and ``prlimit64`` with a new value (reading limits
  still works);
* namespaces, mounts, modules, keyrings, BPF, perf, kexec, reboot, swap, ``userfaultfd``,
  ``open_by_handle_at``, ``iopl``/``ioperm``.

The filter is a classic BPF program built here byte by byte; no library is needed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

__all__ = ["install", "DENIED"]

AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SYS_SECCOMP = 317
CLONE_THREAD = 0x00010000

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000

# BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06

#: x86-64 syscall numbers refused outright
DENIED: dict[str, int] = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "ptrace": 101,
    "setrlimit": 160,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "pivot_root": 155,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "pidfd_getfd": 438,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
}
NR_CLONE = 56
NR_CLONE3 = 435
NR_PRLIMIT64 = 302


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program() -> bytes:
    """The filter as raw ``sock_filter`` records."""
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    out = [
        _ins(LD_W_ABS, 0, 0, 4),  # arch
        _ins(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _ins(RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _ins(LD_W_ABS, 0, 0, 0),  # syscall number
        # x32 syscalls (bit 30) are never used by the worker
        _ins(JSET_K, 0, 1, 0x40000000),
        _ins(RET_K, 0, 0, eperm),
    ]
    for nr in sorted(DENIED.values()):
        out.append(_ins(JEQ_K, 0, 1, nr))
        out.append(_ins(RET_K, 0, 0, eperm))
    out += [
        _ins(JEQ_K, 0, 1, NR_CLONE3),
        _ins(RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
        # clone: allowed only for threads (flags are args[0], low word at offset 16)
        _ins(JEQ_K, 0, 4, NR_CLONE),
        _ins(LD_W_ABS, 0, 0, 16),
        _ins(JSET_K, 1, 0, CLONE_THREAD),
        _ins(RET_K, 0, 0, eperm),
        _ins(RET_K, 0, 0, SECCOMP_RET_ALLOW),
        # prlimit64: allowed only to read (new_limit, args[2] at offset 32, is NULL)
        _ins(JEQ_K, 0, 5, NR_PRLIMIT64),
        _ins(LD_W_ABS, 0, 0, 32),
        _ins(JEQ_K, 0, 2, 0),
        _ins(LD_W_ABS, 0, 0, 36),
        _ins(JEQ_K, 1, 0, 0),
        _ins(RET_K, 0, 0, eperm),
        _ins(RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return b"".join(out)


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> str:
    """Install the filter on every thread of this process; returns a note saying what
    happened. Requires ``no_new_privs`` (set by the sandbox first)."""
    if platform.machine() != "x86_64":
        return f"seccomp off: no filter for {platform.machine()}"
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.syscall(
        SYS_SECCOMP,
        SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_TSYNC,
        ctypes.byref(prog),
    )
    if rc != 0:
        err = ctypes.get_errno()
        return f"seccomp off: the kernel refused the filter ({errno.errorcode.get(err, err)})"
    return "seccomp"
