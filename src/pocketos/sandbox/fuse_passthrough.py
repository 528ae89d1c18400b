"""FUSE passthrough for large read-only opens: the host kernel serves ``read(2)`` and ``mmap``
of such a file from a host copy of the VM file's bytes, without a request per MiB.

The VM's files live in the VM's memory, so there is no host file to pass through to; the
server makes one: an unnamed file (``O_TMPFILE``) in the sandbox's own 0700 directory on the
host, holding the file's bytes as they were at the open. It is a file of the host's disk file
system, not a memfd, because the host kernel reads those through large folios: measured here,
a cached ext4 file reads at 17–20 GB/s and a memfd at 1–2.4 GB/s (4 KiB pages). Where the temp
directory cannot hold unnamed files, or the kernel refuses one there (a file system stacked too
deep: ELOOP), memfds are used.

The checked act is the ``open``: the policy decides it and the audit log records it (a
passthrough read never reaches the server). So only files whose reads could never be refused
later are passed through: files the server may cache (no ``ask`` rule covers them, every
change to them is one the server hears of, one hard link), of at least ``MIN_SIZE`` bytes.

A copy is made at the first such open, kept for later opens while the file's version (inode,
size, mtime, ctime) is unchanged, and dropped when the VM changes the file; a new open then
gets a new copy. An open file keeps the copy it was opened with, like a reader on Linux that
holds a file which was then replaced by a rename (the bytes at its open, not later writes).

Nothing but the server writes a copy. The kernel opens the copy again for each passthrough
open, with that open's flags: a read-only open gets a read-only copy. The kernel ties one copy
to an inode while any passthrough open of it lasts, and refuses other opens of that inode
meanwhile unless they name the same copy; so while a reader holds a copy:

- a write-only open of the file names the copy *and* direct I/O: each of its writes goes to
  the server (checked, audited, under the VM's limits) and it cannot ``mmap`` (no read access);
- a read-write open is refused with ETXTBSY: its shared writable ``mmap`` would map the copy
  itself and change it behind the VM's back;
- a read-only open of a newer version names the copy with direct I/O: its ``read(2)`` calls
  reach the server and see the current bytes (an ``mmap`` of it maps the older copy).

A node that has other opens gets no passthrough (the kernel refuses it while cached opens
last). The copies count against a budget (``budget`` bytes per server): unused copies are
dropped oldest first to make room, and when the copies in use fill it, or the host's disk is
full, an open falls back to the ordinary path.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from dataclasses import dataclass

from pocketos.kernel.fs.spill import copy_fd

__all__ = ["Backing", "Passthrough", "FUSE_INIT_EXT", "FUSE_PASSTHROUGH", "FOPEN_PASSTHROUGH"]

FUSE_INIT_EXT = 1 << 30
#: in the INIT flags' upper half (``flags2``)
FUSE_PASSTHROUGH = 1 << 37
FOPEN_PASSTHROUGH = 1 << 7
#: ``_IOW(229, 1, struct fuse_backing_map)`` and ``_IOW(229, 2, uint32_t)`` (linux/fuse.h)
FUSE_DEV_IOC_BACKING_OPEN = 0x4010E501
FUSE_DEV_IOC_BACKING_CLOSE = 0x4004E502
#: files smaller than this are served by requests (a copy would cost more than it saves)
MIN_SIZE = 1 << 20
#: bytes of copies one server keeps at most
BUDGET = 512 << 20
#: how deep the file systems under a copy may stack: the kernel refuses a copy whose file
#: system is stacked as deep as the mount (ELOOP), and the host's temp directory is often on
#: overlayfs (a container's root); 2 is the kernel's maximum (FILESYSTEM_MAX_STACK_DEPTH)
STACK_DEPTH = 2
#: copies in memfds only (slower to read: shmem holds 4 KiB pages), as after an ELOOP
MEMFD_ONLY = False

Version = tuple[int, int, int, int]


@dataclass(eq=False)
class Backing:
    """A host copy of one version of a file, registered with the kernel as ``bid``."""

    version: Version
    fd: int
    bid: int
    size: int
    #: passthrough (or same-backing direct) opens the server has not yet seen released
    opens: int = 0
    #: no longer the node's current copy: freed at its last release
    retired: bool = False


class Passthrough:
    """The copies of one FUSE server (``devfd`` is its ``/dev/fuse`` descriptor)."""

    def __init__(self, devfd: int, directory: str, budget: int = BUDGET) -> None:
        self.devfd = devfd
        #: where the copies live (unnamed): a directory only the server can enter
        self.directory = directory
        self.budget = budget
        self.bytes = 0
        #: node -> its current copy (in use or kept for the next open), oldest first
        self._current: dict[int, Backing] = {}
        #: node -> the copy the kernel has bound to the node's inode (opens > 0)
        self._bound: dict[int, Backing] = {}
        #: copies made (for tests and benchmarks)
        self.made = 0
        #: why the kernel refused a copy, after which none is tried again
        self.refused: str | None = None
        #: the directory's file system cannot back a copy: memfds only
        self._memfd_only = MEMFD_ONLY

    def bound(self, node: int) -> Backing | None:
        """The copy the kernel holds for ``node`` while passthrough opens of it last."""
        return self._bound.get(node)

    def current(self, node: int, version: Version) -> Backing | None:
        """The kept copy of ``node`` at ``version``, if there is one."""
        b = self._current.get(node)
        if b is None or b.version != version:
            return None
        self._current[node] = self._current.pop(node)  # most recently used last
        return b

    def make(
        self, node: int, version: Version, data: memoryview | tuple[int, int]
    ) -> Backing | None:
        """A new copy of ``data`` (the file at ``version``: its bytes, or a host file's
        descriptor and size) for ``node``, or None when the budget has no room for it even
        after dropping unused copies, or the host's disk none."""
        size = data[1] if isinstance(data, tuple) else len(data)
        self.retire(node)
        if self.refused is not None or not self._room(size):
            return None
        try:
            fd, bid = self._copy(data)
        except OSError as exc:
            # the host disk is full, or the kernel refuses the copy (EPERM: no CAP_SYS_ADMIN
            # in the initial user namespace, as in many containers): the ordinary path, and
            # after a refusal no more copies are made
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                self.refused = f"{exc.strerror or exc}"
            return None
        b = Backing(version, fd, bid, size)
        self._current[node] = b
        self.bytes += size
        self.made += 1
        return b

    def _copy(self, data: memoryview | tuple[int, int]) -> tuple[int, int]:
        """A host file holding ``data``, registered with the kernel: (its fd, the backing id).
        An unnamed file in ``directory`` first; a memfd where that directory cannot hold one
        or the kernel refuses it there (a file system stacked too deep: ELOOP)."""
        for memfd in (self._memfd_only, True):
            if memfd:
                fd = os.memfd_create("pocketos-passthrough", os.MFD_CLOEXEC)
            else:
                try:
                    fd = os.open(self.directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                        raise
                    self._memfd_only = True
                    continue
            try:
                if isinstance(data, tuple):
                    copy_fd(data[0], fd, data[1])  # in the kernel, page cache to page cache
                else:
                    done = 0
                    while done < len(data):
                        done += os.write(fd, data[done:])
                # a mutable argument makes ioctl return the call's result: the backing id
                arg = bytearray(struct.pack("<iIQ", fd, 0, 0))
                return fd, fcntl.ioctl(self.devfd, FUSE_DEV_IOC_BACKING_OPEN, arg, True)
            except OSError as exc:
                os.close(fd)
                if memfd or exc.errno != errno.ELOOP:
                    raise
                self._memfd_only = True
            except BaseException:
                os.close(fd)
                raise
        raise AssertionError("unreachable: the memfd pass returns or raises")

    def opened(self, node: int, b: Backing) -> None:
        b.opens += 1
        self._bound[node] = b

    def released(self, node: int, b: Backing) -> None:
        b.opens -= 1
        if b.opens <= 0:
            if self._bound.get(node) is b:
                del self._bound[node]
            if b.retired:
                self._free(b)

    def retire(self, node: int) -> None:
        """``node``'s file changed or is gone: its kept copy is dropped (at once, or at the
        release of the last open still reading it)."""
        b = self._current.pop(node, None)
        if b is None:
            return
        b.retired = True
        if b.opens <= 0:
            self._free(b)

    def close(self) -> None:
        for b in {*self._current.values(), *self._bound.values()}:
            b.opens = 0
            b.retired = True
            self._free(b)
        self._current.clear()
        self._bound.clear()

    def _room(self, size: int) -> bool:
        if self.bytes + size <= self.budget:
            return True
        for node, b in list(self._current.items()):
            if b.opens <= 0:
                del self._current[node]
                b.retired = True
                self._free(b)
                if self.bytes + size <= self.budget:
                    return True
        return False

    def _free(self, b: Backing) -> None:
        if b.fd < 0:
            return
        try:
            fcntl.ioctl(
                self.devfd, FUSE_DEV_IOC_BACKING_CLOSE, bytearray(struct.pack("<I", b.bid)), True
            )
        except OSError:
            pass  # the connection is gone: the kernel dropped its ids with it
        os.close(b.fd)
        b.fd = -1
        self.bytes -= b.size
