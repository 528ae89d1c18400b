"""The FUSE wire format the sandbox's file server speaks (``linux/fuse.h``, protocol 7.31):
opcodes, the request and reply structures, the negotiated flags and the sizes of requests."""

from __future__ import annotations

import errno
import struct

# opcodes (linux/fuse.h)
LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK = 1, 2, 3, 4, 5, 6
MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ, WRITE = 8, 9, 10, 11, 12, 13, 14, 15, 16
STATFS, RELEASE, FSYNC, FLUSH, INIT, OPENDIR, READDIR = 17, 18, 20, 25, 26, 27, 28
RELEASEDIR, FSYNCDIR, ACCESS, CREATE, INTERRUPT, DESTROY = 29, 30, 34, 35, 36, 38
BATCH_FORGET, READDIRPLUS, RENAME2 = 42, 44, 45

IN_HEADER = struct.Struct("<IIQQIIIHH")
OUT_HEADER = struct.Struct("<IiQ")
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
ENTRY_OUT = struct.Struct("<QQQQII")
ATTR_OUT = struct.Struct("<QII")
OPEN_OUT = struct.Struct("<QII")
READ_IN = struct.Struct("<QQII")
WRITE_IN = struct.Struct("<QQIIQII")
SETATTR_IN = struct.Struct("<IIQQQQQQIIIIIIII")
#: ... max_pages, map_alignment, flags2, max_stack_depth (7.40)
INIT_OUT = struct.Struct("<IIIIHHIIHHII24x")
DIRENT = struct.Struct("<QQII")
KSTATFS = struct.Struct("<QQQQQIIII24x")

FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
FATTR_ATIME, FATTR_MTIME, FATTR_ATIME_NOW, FATTR_MTIME_NOW = 16, 32, 128, 256
FUSE_ASYNC_READ = 1
FUSE_BIG_WRITES = 1 << 5
FUSE_AUTO_INVAL_DATA = 1 << 12
FUSE_DO_READDIRPLUS = 1 << 13
FUSE_READDIRPLUS_AUTO = 1 << 14
FUSE_GETATTR_FH = 1
FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE = 1, 2
NOTIFY_INVAL_INODE = 2
NOTIFY_INVAL_INODE_OUT = struct.Struct("<Qqq")
FUSE_MAX_PAGES = 1 << 22
MAX_WRITE = 1 << 20
BUFSIZE = MAX_WRITE + 4096
#: how far the host kernel reads ahead: several requests of MAX_WRITE in flight at once
READAHEAD = 8 * MAX_WRITE
RENAME_NOREPLACE = 1
IFMT = 0o170000
#: a READDIRPLUS entry without attributes (node 0: the kernel looks the name up itself)
NO_ENTRY = ENTRY_OUT.pack(0, 0, 0, 0, 0, 0) + bytes(ATTR.size)


def type_bits(mode: int) -> int:
    """The file type of ``mode`` as a directory entry's type field."""
    return (mode & IFMT) >> 12


def errno_of(exc: BaseException) -> int:
    """The errno a failed request answers with."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    if isinstance(exc, ValueError):
        return errno.EINVAL
    return errno.EIO
