"""A FUSE file server for a VM's filesystem, spoken directly over ``/dev/fuse``.

The kernel's FUSE protocol is read and answered on the VM's own event loop (``add_reader``
on the device), so every request is a plain call into the VM's VFS made from the same thread
as every other VM operation: the policy check, the audit record and the limits of the VFS
apply to each lookup, read and write exactly as they do inside the VM, and no second thread
ever touches the VFS.

Nodes are paths: the kernel's node ids map to the VM path they were looked up at, and a
rename moves the ids of everything under it. A file is opened afresh (through the policy) for
each read and write request, so a file removed while still open reads as gone (ESTALE).

Names and attributes. The host kernel keeps each name and its attributes for CACHE_TTL (one
second), so a path walk or a ``stat`` of a name it has seen costs no request; this holds
because the server hears of every change the VM makes itself (``VFS.watchers``) and tells
the kernel before the VM goes on:

- the attributes of the changed path and of its directory are dropped at once (a
  ``FUSE_NOTIFY_INVAL_INODE`` for attributes only, which takes no lock a sandboxed process
  could hold while it waits for this thread);
- when the path is gone, or names another kind of object, the node ids at and under it are
  retired: a name the kernel still holds for them answers ESTALE, on which the kernel walks
  the path again with a fresh LOOKUP (a negative answer is never cached);
- nothing is cached where a change could go unheard: a backend that changes by itself (a
  host directory), a file with several hard links, and every path an ``ask`` rule of the fs
  policy may cover (the handler's answer can turn to deny with no event). A static ``deny``
  needs no care: it applies at each open, which always reaches the server.

A mount or unmount in the VM retires every node under its mount point at once; a change that
bypasses the VFS (a layer swapped in by hand) is seen within CACHE_TTL.

File contents use the host's page cache, so a large read is a few big requests and a second
read of an unchanged file costs no request at all, under three rules that keep the VM and the
sandbox in agreement:

- an open keeps the cached contents only when the file's inode, size, mtime and ctime are
  those seen at the previous open of the node; otherwise the kernel drops them;
- when the VM itself changes a file, its attributes are dropped as above, so the next read
  of an already open file asks for them and drops the cached contents when the size or
  mtime moved (``FUSE_AUTO_INVAL_DATA``);
- a read of an open file whose attributes are not cached asks for them first, and for a file
  opened for reading that request re-checks the VM's policy: under an ``ask`` rule (never
  cached), once the answer is deny, a later read fails with EACCES even when the contents
  are cached.

Not covered: a file held open while the VM rewrites it keeping both its size and its mtime
(a rewrite followed by a utime back) may still be read from the cache through that open file;
a fresh open sees the new contents.

Writes are write-through (no writeback cache): each ``write(2)`` is a VM write under the VM's
policy and audit before it returns, as without a cache.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat as S
import struct
import time
from typing import Any

from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.fs.vfs import VFS
from pocketos.kernel.permissions import Policy, glob_to_regex
from pocketos.sandbox import fuse_passthrough as fp
from pocketos.sandbox import fuse_wire as fw
from pocketos.sandbox.fuse_mount import fuse_available, mount_fuse, tune_readahead, unmount

__all__ = ["FuseServer", "fuse_available"]

#: seconds the host kernel may keep a name or attributes without asking again; the VM's own
#: changes are told to it at once (``_vm_changed``), so this only bounds what nobody tells it
CACHE_TTL = 1


def _fs_ask_patterns(policy: Policy | None) -> list[Any]:
    """Regexes of the paths an ``ask`` rule of the fs domain may cover: the handler's answer
    for them can change with no event the server hears of, so they are never cached. A
    policy whose fs default is ``ask`` covers every path."""
    dp = policy.domains.get("fs") if policy is not None else None
    if dp is None:
        return []
    if dp.default == "ask":
        return [glob_to_regex("**")]
    pats: list[Any] = []
    for rule in dp.rules:
        if rule.mode == "ask":
            if rule.patterns is None:
                return [glob_to_regex("**")]
            pats.extend(glob_to_regex(p) for p in rule.patterns)
    return pats


class FuseServer:
    """Serves ``vfs`` at ``mountpoint`` (a host directory) until :meth:`close`."""

    def __init__(
        self,
        vfs: VFS,
        mountpoint: str,
        *,
        uid: int = 1000,
        gid: int = 1000,
        policy: Policy | None = None,
        passthrough: int | None = None,
    ) -> None:
        self.vfs = vfs
        self.policy = policy
        self.mountpoint = mountpoint
        self.uid = uid
        self.gid = gid
        self.fd = -1
        self.mounted = False
        self._paths: dict[int, str] = {1: "/"}
        self._ids: dict[str, int] = {"/": 1}
        self._next_id = 2
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buf = bytearray(fw.BUFSIZE)
        #: open files: fh -> (node, opened for reading, the passthrough copy it holds)
        self._fhs: dict[int, tuple[int, bool, fp.Backing | None]] = {}
        #: bytes of passthrough copies at most (None: the default, 0: no passthrough)
        self.passthrough_budget = fp.BUDGET if passthrough is None else passthrough
        #: the passthrough copies, once the kernel agreed to passthrough at INIT
        self.passthrough: fp.Passthrough | None = None
        self._next_fh = 1
        #: node -> (inode, size, mtime, ctime) at its last open: unchanged keeps the page cache
        self._versions: dict[int, tuple[int, int, int, int]] = {}
        #: node -> the file type (S_IFMT bits) last reported for it
        self._types: dict[int, int] = {}
        #: path -> whether the host kernel may cache its name and attributes
        self._cacheable: dict[str, bool] = {}
        self._asks = _fs_ask_patterns(policy)
        #: the VFS's mount table as last seen (a change retires the nodes under the mount)
        self._mounts = tuple(map(id, vfs.mounts))
        fs = policy.domains.get("fs") if policy is not None else None
        #: every stat is allowed (a plain-allow fs policy): listings show all metadata
        self._stat_all = (
            vfs.checker is None if fs is None else fs.default == "allow" and not fs.rules
        )
        #: open directories: fh -> the listing being read
        self._dirs: dict[int, list[tuple[str, StatResult | None]]] = {}
        self._serving = False
        #: requests served (for tests and benchmarks)
        self.requests = 0
        self.errors: list[str] = []

    # --- lifetime ------------------------------------------------------------------------
    def start(self) -> None:
        self.fd = mount_fuse(self.mountpoint, fw.MAX_WRITE)
        self.mounted = True
        tune_readahead(self.mountpoint, fw.READAHEAD)
        os.set_blocking(self.fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._on_readable)
        self.vfs.watchers.append(self._vm_changed)

    def close(self) -> None:
        if self._vm_changed in self.vfs.watchers:
            self.vfs.watchers.remove(self._vm_changed)
        if self._loop is not None and self.fd >= 0:
            try:
                self._loop.remove_reader(self.fd)
            except (ValueError, RuntimeError):
                pass
        if self.mounted:
            unmount(self.mountpoint)
            self.mounted = False
        if self.passthrough is not None:
            self.passthrough.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # --- the request loop ----------------------------------------------------------------
    def _on_readable(self) -> None:
        # answer every request that is waiting, then yield back to the loop
        for _ in range(64):
            try:
                n = os.readv(self.fd, [self._buf])
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOENT:  # the request was interrupted: read the next
                    continue
                # ENODEV: unmounted
                if self._loop is not None:
                    self._loop.remove_reader(self.fd)
                return
            self._handle(memoryview(self._buf)[:n])

    def _reply(self, unique: int, body: bytes | memoryview = b"", error: int = 0) -> None:
        try:
            if error:
                os.write(self.fd, fw.OUT_HEADER.pack(fw.OUT_HEADER.size, -error, unique))
            elif len(body) > 4096:  # no copy of a large body: one writev of header and body
                os.writev(
                    self.fd, [fw.OUT_HEADER.pack(fw.OUT_HEADER.size + len(body), 0, unique), body]
                )
            else:
                os.write(
                    self.fd,
                    fw.OUT_HEADER.pack(fw.OUT_HEADER.size + len(body), 0, unique) + bytes(body),
                )
        except OSError:
            pass  # the request was interrupted or the fs unmounted: nobody waits for it
        finally:
            if isinstance(body, memoryview):
                body.release()  # a view of a VM file: the file may grow again

    def _handle(self, req: memoryview) -> None:
        _ln, op, unique, node, _uid, _gid, _pid, _e, _p = fw.IN_HEADER.unpack_from(req)
        arg = req[fw.IN_HEADER.size :]
        self.requests += 1
        if op in (fw.FORGET, fw.BATCH_FORGET, fw.INTERRUPT):
            return  # no reply expected; node ids stay valid while their path does
        handler = _HANDLERS.get(op)
        if handler is None:
            self._reply(unique, error=errno.ENOSYS)
            return
        self._serving = True
        try:
            body = handler(self, node, arg)
        except Exception as exc:
            code = fw.errno_of(exc)
            if code == errno.EIO:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._reply(unique, error=code)
            return
        finally:
            self._serving = False
        self._reply(unique, body)

    # --- changes made by the VM itself ---------------------------------------------------
    def _vm_changed(self, path: str) -> None:
        """``path`` changed outside the sandbox (its contents, attributes or name): before the
        VM goes on, tell the host kernel that the attributes it holds for the path and its
        directory are stale. When the path is gone or names another kind of object, the node
        ids at and under it are retired: the kernel's cached names for them then answer ESTALE,
        and the kernel walks the path again with a fresh LOOKUP."""
        if self._serving or self.fd < 0:
            return  # the sandbox's own change: the kernel made it and knows
        nid = self._ids.get(path)
        parent = self._ids.get(path.rsplit("/", 1)[0] or "/")
        if parent is not None:
            self._inval_attrs(parent)
        mounts = tuple(map(id, self.vfs.mounts))
        remounted = mounts != self._mounts
        if remounted:  # a mount or unmount at path: what is under it is another tree
            self._mounts = mounts
            self._cacheable.clear()
        if nid is None:
            return
        self._retire(nid)  # new opens get a new copy of the contents
        try:
            kind = self.vfs.stat(path, follow_symlinks=False, check=False).st_mode & fw.IFMT
        except Exception:  # gone, or the VM's own limits: treat it as gone
            kind = -1
        self._inval_attrs(nid)
        if kind == self._types.get(nid) and not remounted:
            return
        prefix = path + "/"
        for p in [path, *(p for p in self._ids if p.startswith(prefix))]:
            old = self._ids.pop(p)
            self._paths.pop(old, None)
            self._types.pop(old, None)
            self._versions.pop(old, None)
            self._retire(old)
            if old != nid:
                self._inval_attrs(old)

    def _inval_attrs(self, nid: int) -> None:
        # attributes only (a negative offset): this takes no lock a sandboxed process may
        # hold while it waits for this very thread, unlike dropping pages or a name
        msg = fw.NOTIFY_INVAL_INODE_OUT.pack(nid, -1, 0)
        try:
            os.write(
                self.fd,
                fw.OUT_HEADER.pack(fw.OUT_HEADER.size + len(msg), fw.NOTIFY_INVAL_INODE, 0) + msg,
            )
        except OSError:
            pass  # the kernel no longer holds the inode, or the fs is gone

    def _ttl(self, path: str, st: StatResult) -> int:
        """How long the kernel may keep this name and its attributes: CACHE_TTL when every
        change to it is one the server hears of, else 0 (ask every time)."""
        if st.st_nlink > 1 and not S.S_ISDIR(st.st_mode):
            return 0  # a write through another name changes this one's attributes unheard
        ok = self._cacheable.get(path)
        if ok is None:
            ok = self.vfs.changes_seen(path) and not any(r.match(path) for r in self._asks)
            if len(self._cacheable) > 65536:
                self._cacheable.clear()
            self._cacheable[path] = ok
        return CACHE_TTL if ok else 0

    # --- nodes ---------------------------------------------------------------------------
    def _path(self, node: int) -> str:
        try:
            return self._paths[node]
        except KeyError:
            raise OSError(errno.ESTALE, "stale node") from None

    def _child(self, node: int, name: bytes | memoryview) -> str:
        text = bytes(name).decode("utf-8", "surrogateescape")
        if not text or "/" in text or text in (".", ".."):
            raise OSError(errno.EINVAL, "bad name")
        base = self._path(node)
        return (base.rstrip("/") + "/" + text) if base != "/" else "/" + text

    def _node_for(self, path: str) -> int:
        nid = self._ids.get(path)
        if nid is None:
            nid = self._next_id
            self._next_id += 1
            self._ids[path] = nid
            self._paths[nid] = path
        return nid

    def _moved(self, old: str, new: str) -> None:
        prefix = old + "/"
        for path in [p for p in self._ids if p == old or p.startswith(prefix)]:
            nid = self._ids.pop(path)
            dest = new + path[len(old) :]
            gone = self._ids.pop(dest, None)
            if gone is not None:
                self._paths.pop(gone, None)
                self._retire(gone)
            self._ids[dest] = nid
            self._paths[nid] = dest

    def _dropped(self, path: str) -> None:
        nid = self._ids.pop(path, None)
        if nid is not None:
            self._paths.pop(nid, None)
            self._types.pop(nid, None)
            self._retire(nid)

    def _attr(self, st: StatResult, nid: int) -> bytes:
        mode = st.st_mode
        if S.S_ISCHR(mode):  # the VM's own devices are not devices on the host
            mode = S.S_IFREG | (mode & 0o777)
        self._types[nid] = mode & fw.IFMT
        size = st.st_size
        return fw.ATTR.pack(
            st.st_ino or nid,
            size,
            (size + 511) // 512,
            st.st_atime_ns // 1_000_000_000,
            st.st_mtime_ns // 1_000_000_000,
            st.st_ctime_ns // 1_000_000_000,
            st.st_atime_ns % 1_000_000_000,
            st.st_mtime_ns % 1_000_000_000,
            st.st_ctime_ns % 1_000_000_000,
            mode,
            max(st.st_nlink, 1),
            self.uid,
            self.gid,
            0,
            4096,
            0,
        )

    def _entry(self, path: str) -> bytes:
        st = self.vfs.stat(path, follow_symlinks=False)
        nid = self._node_for(path)
        ttl = self._ttl(path, st)
        return fw.ENTRY_OUT.pack(nid, 0, ttl, ttl, 0, 0) + self._attr(st, nid)

    def _open_reply(self, node: int, path: str, flags: int) -> bytes:
        st = self.vfs.stat(path)
        version = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        keep = self._versions.get(node) == version
        self._versions[node] = version
        readable = flags & os.O_ACCMODE != os.O_WRONLY
        fh = self._next_fh
        self._next_fh += 1
        # a write-only open bypasses the page cache: the kernel hands the program's pages to
        # the WRITE request without first copying them into cache pages of its own (it still
        # drops what other open files cached, as for any write)
        oflags = fw.FOPEN_KEEP_CACHE if keep else 0
        if not readable:
            oflags |= fw.FOPEN_DIRECT_IO
        backing = None
        if self.passthrough is not None:
            backing = self._passthrough_for(node, path, st, version, flags & os.O_ACCMODE)
            if backing is not None:
                current = backing is self.passthrough.current(node, version)
                oflags = fp.FOPEN_PASSTHROUGH
                if not (current and flags & os.O_ACCMODE == os.O_RDONLY):
                    oflags |= fw.FOPEN_DIRECT_IO  # every read and write reaches the server
                self.passthrough.opened(node, backing)
        self._fhs[fh] = (node, readable, backing)
        return fw.OPEN_OUT.pack(fh, oflags, backing.bid if backing is not None else 0)

    def _passthrough_for(
        self, node: int, path: str, st: StatResult, version: fp.Version, acc: int
    ) -> fp.Backing | None:
        """The copy to name in this open's reply, or None for an ordinary open
        (``fuse_passthrough`` says when and why)."""
        pt = self.passthrough
        assert pt is not None
        bound = pt.bound(node)
        if bound is not None:  # the kernel accepts no other open of the inode meanwhile
            if acc == os.O_RDWR:
                # its shared writable mmap would map the copy and change it behind the VM
                raise OSError(errno.ETXTBSY, "a reader holds a passthrough copy")
            return bound
        if (
            acc != os.O_RDONLY
            or not S.S_ISREG(st.st_mode)
            or st.st_size < fp.MIN_SIZE
            or any(n == node for n, _r, _b in self._fhs.values())
            or not self._ttl(path, st)
        ):
            return None
        backing = pt.current(node, version)
        if backing is None:
            with self.vfs.open(path, "rb") as fh:
                host = fh.host_file()
                if host is not None:  # a VM file kept in a host file: the kernel copies it
                    return pt.make(node, version, host) if host[1] == st.st_size else None
                view = fh.read_view(st.st_size)
                try:
                    data = view if isinstance(view, memoryview) else memoryview(view)
                    if len(data) != st.st_size:
                        return None  # changed under us: the ordinary path
                    backing = pt.make(node, version, data)
                finally:
                    if isinstance(view, memoryview):
                        view.release()
        return backing

    def _retire(self, node: int | None) -> None:
        if self.passthrough is not None and node is not None:
            self.passthrough.retire(node)

    def _attr_out(self, node: int) -> bytes:
        path = self._path(node)
        st = self.vfs.stat(path, follow_symlinks=False)
        return fw.ATTR_OUT.pack(self._ttl(path, st), 0, 0) + self._attr(st, node)

    # --- operations ----------------------------------------------------------------------
    def op_init(self, node: int, arg: memoryview) -> bytes:
        major, minor, readahead, flags = struct.unpack_from("<IIII", arg)
        if major != 7:
            raise OSError(errno.EPROTO, "unsupported FUSE protocol")
        offered = flags
        if flags & fp.FUSE_INIT_EXT and len(arg) >= 20:
            offered |= struct.unpack_from("<I", arg, 16)[0] << 32
        flags2 = stack_depth = 0
        if offered & fp.FUSE_PASSTHROUGH and self.passthrough_budget > 0:
            # read-only opens of large files served by the kernel from a copy (fuse_passthrough)
            where = os.path.dirname(self.mountpoint.rstrip("/")) or "/"
            self.passthrough = fp.Passthrough(self.fd, where, self.passthrough_budget)
            flags2, stack_depth = fp.FUSE_PASSTHROUGH >> 32, fp.STACK_DEPTH
        want = (
            fw.FUSE_ASYNC_READ
            | fw.FUSE_BIG_WRITES
            | fw.FUSE_AUTO_INVAL_DATA
            | fw.FUSE_DO_READDIRPLUS
            | fw.FUSE_READDIRPLUS_AUTO
            | (fw.FUSE_MAX_PAGES if minor >= 28 else 0)
        )
        # requests of up to MAX_WRITE (256 pages), READAHEAD of them in flight for a big read
        if flags2:
            want |= fp.FUSE_INIT_EXT
        return fw.INIT_OUT.pack(
            7,
            min(minor, 31),
            fw.READAHEAD,
            flags & want,
            16,
            12,
            fw.MAX_WRITE,
            1,
            256,
            0,
            flags2,
            stack_depth,
        )

    def op_destroy(self, node: int, arg: memoryview) -> bytes:
        return b""

    def op_lookup(self, node: int, arg: memoryview) -> bytes:
        name = bytes(arg).split(b"\0", 1)[0]
        return self._entry(self._child(node, name))

    def op_getattr(self, node: int, arg: memoryview) -> bytes:
        flags, _dummy, fh = struct.unpack_from("<IIQ", arg)
        if flags & fw.FUSE_GETATTR_FH:
            # asked on an open file (every read(2) asks first): a file opened for reading
            # must still be readable under the policy, cached contents or not
            opened = self._fhs.get(fh)
            if opened is not None and opened[1]:
                with self.vfs.open(self._path(node), "rb"):
                    pass
        return self._attr_out(node)

    def op_setattr(self, node: int, arg: memoryview) -> bytes:
        f = fw.SETATTR_IN.unpack_from(arg)
        valid, size, atime, mtime, atimens, mtimens, mode = (
            f[0],
            f[3],
            f[5],
            f[6],
            f[8],
            f[9],
            f[11],
        )
        path = self._path(node)
        vfs = self.vfs
        self._retire(node)
        if valid & fw.FATTR_MODE:
            vfs.chmod(path, mode & 0o7777, follow_symlinks=False)
        if valid & fw.FATTR_SIZE:
            vfs.truncate(path, size)
        if valid & (fw.FATTR_ATIME | fw.FATTR_MTIME):
            now = time.time_ns()
            st = vfs.stat(path)
            a = st.st_atime_ns
            m = st.st_mtime_ns
            if valid & fw.FATTR_ATIME:
                a = now if valid & fw.FATTR_ATIME_NOW else atime * 1_000_000_000 + atimens
            if valid & fw.FATTR_MTIME:
                m = now if valid & fw.FATTR_MTIME_NOW else mtime * 1_000_000_000 + mtimens
            vfs.utime(path, (a, m))
        # uid and gid: the VM has one user; a chown is accepted and changes nothing
        return self._attr_out(node)

    def op_readlink(self, node: int, arg: memoryview) -> bytes:
        return self.vfs.readlink(self._path(node)).encode("utf-8", "surrogateescape")

    def op_symlink(self, node: int, arg: memoryview) -> bytes:
        name, target = bytes(arg).split(b"\0")[:2]
        path = self._child(node, name)
        self.vfs.symlink(target.decode("utf-8", "surrogateescape"), path)
        return self._entry(path)

    def op_mknod(self, node: int, arg: memoryview) -> bytes:
        mode, _rdev, _umask, _pad = struct.unpack_from("<IIII", arg)
        name = bytes(arg[16:]).split(b"\0", 1)[0]
        if not S.S_ISREG(mode):
            raise OSError(errno.EPERM, "only regular files can be made in the VM")
        path = self._child(node, name)
        with self.vfs.open(path, "xb"):
            pass
        self.vfs.chmod(path, mode & 0o7777)
        return self._entry(path)

    def op_mkdir(self, node: int, arg: memoryview) -> bytes:
        mode, umask = struct.unpack_from("<II", arg)
        name = bytes(arg[8:]).split(b"\0", 1)[0]
        path = self._child(node, name)
        self.vfs.mkdir(path, mode & 0o7777 & ~umask)
        return self._entry(path)

    def op_unlink(self, node: int, arg: memoryview) -> bytes:
        path = self._child(node, bytes(arg).split(b"\0", 1)[0])
        self.vfs.unlink(path)
        self._dropped(path)
        return b""

    def op_rmdir(self, node: int, arg: memoryview) -> bytes:
        path = self._child(node, bytes(arg).split(b"\0", 1)[0])
        self.vfs.rmdir(path)
        self._dropped(path)
        return b""

    def _rename(self, node: int, newdir: int, names: bytes, flags: int) -> bytes:
        old, new = names.split(b"\0")[:2]
        src = self._child(node, old)
        dst = self._child(newdir, new)
        if flags & ~fw.RENAME_NOREPLACE:
            raise OSError(errno.EINVAL, "unsupported rename flags")
        if flags & fw.RENAME_NOREPLACE and self._exists(dst):
            raise OSError(errno.EEXIST, "exists")
        self.vfs.rename(src, dst)
        self._moved(src, dst)
        return b""

    def _exists(self, path: str) -> bool:
        try:
            self.vfs.stat(path, follow_symlinks=False)
            return True
        except FileNotFoundError:
            return False

    def op_rename(self, node: int, arg: memoryview) -> bytes:
        (newdir,) = struct.unpack_from("<Q", arg)
        return self._rename(node, newdir, bytes(arg[8:]), 0)

    def op_rename2(self, node: int, arg: memoryview) -> bytes:
        newdir, flags = struct.unpack_from("<QI", arg)
        return self._rename(node, newdir, bytes(arg[16:]), flags)

    def op_link(self, node: int, arg: memoryview) -> bytes:
        (old,) = struct.unpack_from("<Q", arg)
        path = self._child(node, bytes(arg[8:]).split(b"\0", 1)[0])
        self.vfs.link(self._path(old), path)
        return self._entry(path)

    def _check_open(self, path: str, flags: int) -> None:
        acc = flags & os.O_ACCMODE
        st = self.vfs.stat(path)
        if S.S_ISDIR(st.st_mode):
            raise OSError(errno.EISDIR, "is a directory")
        mode = "rb" if acc == os.O_RDONLY else "r+b"
        with self.vfs.open(path, mode):  # the policy decides here, as for open() in the VM
            pass
        if flags & os.O_TRUNC and acc != os.O_RDONLY:
            self.vfs.truncate(path, 0)
            self._retire(self._ids.get(path))

    def op_open(self, node: int, arg: memoryview) -> bytes:
        (flags,) = struct.unpack_from("<I", arg)
        path = self._path(node)
        self._check_open(path, flags)
        return self._open_reply(node, path, flags)

    def op_release(self, node: int, arg: memoryview) -> bytes:
        (fh,) = struct.unpack_from("<Q", arg)
        opened = self._fhs.pop(fh, None)
        if opened is not None and opened[2] is not None and self.passthrough is not None:
            self.passthrough.released(opened[0], opened[2])
        return b""

    def op_create(self, node: int, arg: memoryview) -> bytes:
        flags, mode, umask, _ = struct.unpack_from("<IIII", arg)
        path = self._child(node, bytes(arg[16:]).split(b"\0", 1)[0])
        excl = bool(flags & os.O_EXCL)
        if not excl and self._exists(path):
            self._check_open(path, flags)
        else:
            with self.vfs.open(path, "xb"):
                pass
            self.vfs.chmod(path, mode & 0o7777 & ~umask)
        entry = self._entry(path)
        return entry + self._open_reply(self._ids[path], path, flags)

    def op_read(self, node: int, arg: memoryview) -> bytes | memoryview:
        _fh, offset, size, _f = fw.READ_IN.unpack_from(arg)
        with self.vfs.open(self._path(node), "rb") as fh:
            fh.seek(offset)
            # a view of the VM's bytes, written to the device and released by _reply
            return fh.read_view(size)

    def op_write(self, node: int, arg: memoryview) -> bytes:
        _fh, offset, size, _wf, _lo, flags, _pad = fw.WRITE_IN.unpack_from(arg)
        data = arg[fw.WRITE_IN.size : fw.WRITE_IN.size + size]
        with self.vfs.open(self._path(node), "r+b") as fh:
            # an append goes to the end of the VM's file: the kernel's idea of the size can
            # be older than a write the VM made meanwhile
            if flags & os.O_APPEND:
                fh.seek(0, 2)
            else:
                fh.seek(offset)
            n = fh.write(data)  # the VFS copies from the request buffer
        self._retire(node)
        return struct.pack("<II", n, 0)

    def op_statfs(self, node: int, arg: memoryview) -> bytes:
        used, inodes = self.vfs.usage()
        total = max(used * 2, 1 << 30)
        blocks = total // 4096
        free = max(blocks - used // 4096, 0)
        return fw.KSTATFS.pack(
            blocks, free, free, inodes + 1_000_000, 1_000_000, 4096, 255, 4096, 0
        )

    def op_ok(self, node: int, arg: memoryview) -> bytes:
        return b""

    def op_opendir(self, node: int, arg: memoryview) -> bytes:
        st = self.vfs.stat(self._path(node))
        if not S.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a directory")
        fh = self._next_fh
        self._next_fh += 1
        self._dirs[fh] = []
        return fw.OPEN_OUT.pack(fh, 0, 0)

    def op_releasedir(self, node: int, arg: memoryview) -> bytes:
        (fh,) = struct.unpack_from("<Q", arg)
        self._dirs.pop(fh, None)
        return b""

    def _listing(self, node: int, fh: int, offset: int) -> list[tuple[str, StatResult | None]]:
        """The entries of an open directory, listed (through the policy) at its first read
        and again at a rewind; later reads page through the same listing."""
        listing = self._dirs.get(fh)
        if not listing or offset == 0:
            entries = sorted(self.vfs.scandir(self._path(node)))
            listing = [(".", None), ("..", None), *entries]
            if fh in self._dirs:
                self._dirs[fh] = listing
        return listing

    def _shown(self, path: str, st: StatResult | None) -> bool:
        """Whether an entry's metadata may be shown with the listing: only what a stat of it
        would show without asking anyone (never an ask, never an audit record)."""
        if st is None:
            return False
        if self._stat_all or self.policy is None:
            return self._stat_all
        return self.policy.decide("fs", "stat", path) == "allow"

    def op_readdir(self, node: int, arg: memoryview) -> bytes:
        return self._readdir(node, arg, plus=False)

    def op_readdirplus(self, node: int, arg: memoryview) -> bytes:
        """READDIR with each entry's name and attributes, as a LOOKUP would answer them: a
        listing followed by a stat of each entry (``ls -l``, ``find``) costs one request. An
        entry whose metadata is not shown or not cached gets no attributes (node 0): the
        kernel then looks it up, through the policy."""
        return self._readdir(node, arg, plus=True)

    def _readdir(self, node: int, arg: memoryview, plus: bool) -> bytes:
        fh, offset, size, _f = fw.READ_IN.unpack_from(arg)
        listing = self._listing(node, fh, offset)
        base = self._path(node).rstrip("/") + "/"
        out = bytearray()
        for i in range(offset, len(listing)):
            name, st = listing[i]
            raw = name.encode("utf-8", "surrogateescape")
            entry, dtype, ino = fw.NO_ENTRY if plus else b"", 4 if i < 2 else 0, 0xFFFFFFFF
            child = base + name
            if st is not None and self._shown(child, st):
                dtype = fw.type_bits(st.st_mode)
                if dtype == 2:  # a VM device reads as a regular file
                    dtype = 8
                ttl = self._ttl(child, st) if plus else 0
                if ttl:
                    nid = self._node_for(child)
                    entry = fw.ENTRY_OUT.pack(nid, 0, ttl, ttl, 0, 0) + self._attr(st, nid)
                    ino = st.st_ino or nid
            rec = entry + fw.DIRENT.pack(ino, i + 1, len(raw), dtype) + raw
            rec += b"\0" * (-len(rec) % 8)
            if len(out) + len(rec) > size:
                break
            out += rec
        return bytes(out)

    def op_access(self, node: int, arg: memoryview) -> bytes:
        (mask,) = struct.unpack_from("<I", arg)
        path = self._path(node)
        st = self.vfs.stat(path)
        if mask & os.X_OK and not S.S_ISDIR(st.st_mode) and not st.st_mode & 0o111:
            raise OSError(errno.EACCES, "not executable")
        return b""


_HANDLERS: dict[int, Any] = {
    fw.INIT: FuseServer.op_init,
    fw.DESTROY: FuseServer.op_destroy,
    fw.LOOKUP: FuseServer.op_lookup,
    fw.GETATTR: FuseServer.op_getattr,
    fw.SETATTR: FuseServer.op_setattr,
    fw.READLINK: FuseServer.op_readlink,
    fw.SYMLINK: FuseServer.op_symlink,
    fw.MKNOD: FuseServer.op_mknod,
    fw.MKDIR: FuseServer.op_mkdir,
    fw.UNLINK: FuseServer.op_unlink,
    fw.RMDIR: FuseServer.op_rmdir,
    fw.RENAME: FuseServer.op_rename,
    fw.RENAME2: FuseServer.op_rename2,
    fw.LINK: FuseServer.op_link,
    fw.OPEN: FuseServer.op_open,
    fw.CREATE: FuseServer.op_create,
    fw.READ: FuseServer.op_read,
    fw.WRITE: FuseServer.op_write,
    fw.STATFS: FuseServer.op_statfs,
    fw.RELEASE: FuseServer.op_release,
    fw.FLUSH: FuseServer.op_ok,
    fw.FSYNC: FuseServer.op_ok,
    fw.OPENDIR: FuseServer.op_opendir,
    fw.READDIR: FuseServer.op_readdir,
    fw.READDIRPLUS: FuseServer.op_readdirplus,
    fw.RELEASEDIR: FuseServer.op_releasedir,
    fw.FSYNCDIR: FuseServer.op_ok,
    fw.ACCESS: FuseServer.op_access,
}
