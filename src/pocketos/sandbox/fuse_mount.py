"""Mounting a FUSE filesystem served by this process: whether the host allows it, the mount
itself over a fresh ``/dev/fuse`` descriptor, the readahead of the mount, and its removal."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

__all__ = ["fuse_available", "mount_fuse", "tune_readahead", "unmount"]

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2


def fuse_available() -> str | None:
    """None when this process can serve FUSE mounts, else the reason it cannot."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (load the fuse module or pass --device /dev/fuse)"
    if os.geteuid() != 0:
        return "serving the VM's files over FUSE needs root (CAP_SYS_ADMIN) in this version"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not readable and writable"
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def mount_fuse(mountpoint: str, max_read: int) -> int:
    """Mount a FUSE filesystem at ``mountpoint`` (nosuid, nodev, open to every user of the
    sandbox); returns the ``/dev/fuse`` descriptor its requests arrive on."""
    reason = fuse_available()
    if reason is not None:
        raise OSError(errno.ENODEV, f"FUSE is unavailable: {reason}")
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other,max_read={max_read}"
    rc = _libc().mount(
        b"pocketos",
        mountpoint.encode(),
        b"fuse.pocketos",
        ctypes.c_ulong(MS_NOSUID | MS_NODEV),
        opts.encode(),
    )
    if rc != 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"cannot mount FUSE at {mountpoint}: {os.strerror(err)}")
    return fd


def tune_readahead(mountpoint: str, size: int) -> None:
    """Let the host read ahead ``size`` bytes on the mount (the bdi's default is 128 KiB), so
    a large sequential read is several big requests in flight; best effort."""
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                f = line.split()
                if f[4] == mountpoint:
                    with open(f"/sys/class/bdi/{f[2]}/read_ahead_kb", "w") as out:
                        out.write(str(size // 1024))
                    break
    except OSError:
        pass


def unmount(mountpoint: str) -> None:
    """Detach the mount (lazily: programs still inside lose it as they leave)."""
    _libc().umount2(mountpoint.encode(), MNT_DETACH)
