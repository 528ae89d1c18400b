"""Run a real host program in a bubblewrap sandbox over the VM's live filesystem.

One run: the VM's tree is served over FUSE at a private host directory (0700); ``bwrap``
builds new user, mount, pid, ipc, uts, cgroup and network namespaces whose root is an empty
tmpfs holding only the host's system directories (read-only), a few host files of ``/etc``
that programs need to run (never ``shadow``), the VM's ``/etc/passwd``, ``group`` and
``hostname``, and every other top-level directory of the VM at the same path, read-write
through FUSE. The program runs as the VM's user (uid 1000, no capabilities) with only the
environment the VM's policy lets through, plus the proxy variables. Before it starts,
listeners are opened inside its network namespace (see :mod:`.netproxy`) and its limits are
applied; ``bwrap`` holds the program back until then (``--block-fd``).

Ending: the namespace's init is killed with SIGKILL (the kernel then kills every process of
the namespace), the cgroup is removed, bwrap is reaped and the FUSE mount is detached.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pocketos.kernel.streams import InputStream
from pocketos.sandbox import hostexit
from pocketos.sandbox.cgroup import Cgroup
from pocketos.sandbox.fuse import FuseServer, fuse_available
from pocketos.sandbox.leftovers import Owner, process_state, prune, remove_workdir, write_owner
from pocketos.sandbox.netproxy import NetBridge, loopback_ports

__all__ = [
    "SYSTEM_DIRS",
    "SandboxOptions",
    "SandboxProcess",
    "SandboxUnavailable",
    "bwrap_path",
    "run_sandboxed",
]

#: host directories visible read-only (those that exist)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: host files and directories of /etc a program may need
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "localtime",
    "nsswitch.conf",
    "protocols",
    "services",
    "mime.types",
    "os-release",
)
#: VM top-level directories that are not bound into the sandbox (the host's are used)
VM_SKIPPED = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev"})
VM_SKIPPED_ALWAYS = frozenset({"proc", "sys", "run"})
SANDBOX_UID = 1000
KILLED_STATUS = 137
TIMEOUT_STATUS = 124
#: whether this process has swept the leftovers of dead host processes yet
_swept_in: int | None = None


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this host (bubblewrap or FUSE missing)."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def unavailable_reason() -> str | None:
    if bwrap_path() is None:
        return (
            "bubblewrap (bwrap) is not installed; install it with "
            "'apt-get install bubblewrap' (Debian/Ubuntu) or 'dnf install bubblewrap'"
        )
    return fuse_available()


@dataclass
class SandboxOptions:
    """What one sandboxed run may use."""

    #: wall-clock seconds (None: none)
    timeout: float | None = None
    #: bytes of memory for the whole sandbox (None: none)
    memory: int | None = 1024 * 1024 * 1024
    #: processes (and threads) in the sandbox
    max_processes: int = 256
    #: more host paths to show read-only (a runtime outside /usr, for example)
    expose: tuple[str, ...] = ()
    #: loopback ports forwarded to the host's (each connection is still checked by policy)
    ports: tuple[int, ...] = ()
    #: extra environment (on top of the VM's, after the env policy)
    env: Mapping[str, str] = field(default_factory=dict)


def _add_etc(args: list[str], vm_etc: str, vm_etc_names: Iterable[str]) -> None:
    # never touch the FUSE mount from here: this thread is the one that serves it
    args += ["--dir", "/etc"]
    for name in ETC_FILES:
        p = "/etc/" + name
        if os.path.lexists(p):
            args += ["--ro-bind-try", p, p]
    for name in vm_etc_names:
        args += ["--ro-bind", os.path.join(vm_etc, name), "/etc/" + name]


def build_argv(
    argv: list[str],
    *,
    root: str,
    vm_dirs: Iterable[str],
    vm_etc_names: Iterable[str],
    cwd: str,
    env: Mapping[str, str],
    hostname: str,
    expose: Iterable[str],
    info_fd: int,
    block_fd: int,
    hosts_file: str,
) -> list[str]:
    bwrap = bwrap_path()
    assert bwrap is not None
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        hostname,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    _add_etc(args, os.path.join(root, "etc"), vm_etc_names)
    args += ["--ro-bind", hosts_file, "/etc/hosts"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    bound: list[str] = []
    for name in vm_dirs:
        args += ["--bind", os.path.join(root, name), "/" + name]
        bound.append("/" + name)
    for p in expose:
        real = os.path.realpath(p)
        if any(real == b or real.startswith(b + "/") for b in bound):
            raise ValueError(
                f"cannot expose {p}: it lies under {real.split('/')[1]!r}, which is the VM's"
            )
        args += ["--ro-bind", real, real]
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += ["--chdir", cwd, "--info-fd", str(info_fd), "--block-fd", str(block_fd), "--"]
    return args + list(argv)


def _is_file(vfs: Any, path: str) -> bool:
    try:
        return (vfs.stat(path).st_mode & 0o170000) == 0o100000
    except (OSError, ValueError):
        return False


async def _read_info(fd: int) -> int:
    """The pid (in our namespace) of the sandbox's init, from bwrap's --info-fd."""
    loop = asyncio.get_running_loop()
    buf = b""
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            fut = loop.create_future()
            loop.add_reader(fd, ready)
            try:
                await fut
            finally:
                loop.remove_reader(fd)
            continue
        if not chunk:
            break
        buf += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(buf)["child-pid"])
    raise SandboxUnavailable("bubblewrap did not start the sandbox")


def _kill(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


Writer = Callable[[bytes], Awaitable[None]]


class SandboxProcess:
    """One live sandboxed program: ``proc`` is its bwrap process (stdin, stdout and stderr
    are pipes); :meth:`close` ends every process of the sandbox and removes what it used."""

    def __init__(
        self,
        kernel: Any,
        argv: list[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        options: SandboxOptions,
        pid: int | None = None,
        stdin: bool = True,
    ) -> None:
        self.kernel = kernel
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.options = options
        self.pid = pid
        self.want_stdin = stdin
        self.proc: asyncio.subprocess.Process | None = None
        self.init_pid: int | None = None
        #: seconds from the call to start() to the program being let go
        self.start_time = 0.0
        self._workdir: str | None = None
        self._server: FuseServer | None = None
        self._bridge: NetBridge | None = None
        self._cgroup: Cgroup | None = None
        self._closed = False

    async def start(self) -> SandboxProcess:
        reason = unavailable_reason()
        if reason is not None:
            raise SandboxUnavailable(f"sandbox unavailable: {reason}")
        if not self.argv:
            raise ValueError("sandbox needs a program to run")
        t0 = time.perf_counter()
        kernel, cwd, options = self.kernel, self.cwd, self.options
        vfs = kernel.vfs
        st = vfs.stat(cwd)  # the cwd must exist in the VM: it is the same path inside
        if (st.st_mode & 0o170000) != 0o040000:
            raise NotADirectoryError(errno.ENOTDIR, f"Not a directory: {cwd}", cwd)
        vm_dirs = sorted(
            n
            for n in vfs.listdir("/")
            if n not in VM_SKIPPED
            and n not in VM_SKIPPED_ALWAYS
            and (vfs.stat("/" + n).st_mode & 0o170000) == 0o040000
        )
        top = cwd.strip("/").split("/", 1)[0]
        if top and top not in vm_dirs:
            raise ValueError(f"the sandbox cannot start in {cwd}: /{top} is the host's there")
        hostname = kernel.env.get("HOSTNAME", "pocketos")
        ports = list(dict.fromkeys([*options.ports, *loopback_ports(kernel.policy)]))
        await _sweep_once()
        self._workdir = workdir = tempfile.mkdtemp(prefix="pocketos-sandbox-")
        os.chmod(workdir, 0o700)
        write_owner(workdir)
        hostexit.register(id(self), self._teardown_now)
        root = os.path.join(workdir, "root")
        os.mkdir(root, 0o700)
        hosts_file = os.path.join(workdir, "hosts")
        with open(hosts_file, "w") as fh:
            fh.write(f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost\n")
        self._server = FuseServer(
            vfs, root, uid=os.geteuid(), gid=os.getegid(), policy=kernel.policy
        )
        self._bridge = NetBridge(kernel, self.pid)
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        try:
            self._server.start()
            proxy_port = next(p for p in range(3128, 65536) if p not in ports)
            run_env = dict(self.env)
            run_env.update(proxy_env(f"http://127.0.0.1:{proxy_port}"))
            run_env.update(options.env)
            etc = [n for n in ("passwd", "group", "hostname") if _is_file(vfs, "/etc/" + n)]
            cmd = build_argv(
                self.argv,
                root=root,
                vm_dirs=vm_dirs,
                vm_etc_names=etc,
                cwd=cwd,
                env=run_env,
                hostname=hostname,
                expose=options.expose,
                info_fd=info_w,
                block_fd=block_r,
                hosts_file=hosts_file,
            )
            self.proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE if self.want_stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(info_w, block_r),
                start_new_session=True,
                limit=64 * 1024 * 1024,
            )
            os.close(info_w)
            info_w = -1
            self.init_pid = await _read_info(info_r)
            await self._bridge.start(self.init_pid, proxy_port, ports)
            self._cgroup = Cgroup.create(
                kernel.id, options.memory, options.max_processes, Owner.current().tag
            )
            if self._cgroup is not None:
                self._cgroup.add(self.init_pid)
            else:
                _rlimits(self.init_pid, options)
            os.write(block_w, b"go")  # bwrap lets the program start
            self.start_time = time.perf_counter() - t0
            await _setup_done(self.init_pid)
        except BaseException:
            await self.close()
            raise
        finally:
            for fd in (info_r, info_w, block_r, block_w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        return self

    def kill(self) -> None:
        """SIGKILL the sandbox's init: the kernel then ends every process of its namespace."""
        _kill(self.init_pid)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.kill()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            _kill(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
        if self._bridge is not None:
            await self._bridge.close()
        if self._cgroup is not None:
            await self._cgroup.remove()
        if self._server is not None:
            self._server.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        hostexit.unregister(id(self))

    def _teardown_now(self) -> None:
        """:meth:`close` without the event loop, for a host process about to die of a
        signal: everything is killed and removed synchronously."""
        self.kill()
        if self.proc is not None:
            _kill(self.proc.pid)
        if self._workdir is not None:
            remove_workdir(self._workdir)
        if self._cgroup is not None:
            # the host is dying anyway: give a loaded machine time to end the processes
            self._cgroup.remove_now(tries=1000)


async def _setup_done(init_pid: int) -> None:
    """Wait until the sandbox's init has started the program (or has ended). Until then,
    bwrap is still dropping privileges, which clears its parent-death signal before setting
    it again: a host killed in that window would leave the sandbox running."""
    children = f"/proc/{init_pid}/task/{init_pid}/children"
    while True:
        try:
            with open(children) as fh:
                if fh.read().strip():
                    return
        except OSError:
            return  # gone (or a kernel without the file: nothing to wait on)
        st = process_state(init_pid)
        if st is None or st in ("Z", "X"):
            return
        await asyncio.sleep(0.001)


async def _sweep_once() -> None:
    """Remove what sandboxes of dead host processes left behind, once per process."""
    global _swept_in
    if _swept_in == os.getpid():
        return
    _swept_in = os.getpid()
    with contextlib.suppress(OSError):
        await asyncio.to_thread(prune)


async def run_sandboxed(
    kernel: Any,
    argv: list[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdin: InputStream | bytes | None,
    stdout: Writer,
    stderr: Writer,
    options: SandboxOptions,
    pid: int | None = None,
    on_start: Callable[[float], None] | None = None,
) -> int:
    """Run ``argv`` in a sandbox over ``kernel``'s filesystem; return its exit status
    (124 when the wall time ran out, 128+N when killed by signal N)."""
    sp = SandboxProcess(
        kernel, argv, cwd=cwd, env=env, options=options, pid=pid, stdin=stdin is not None
    )
    try:
        await sp.start()
        if on_start is not None:
            on_start(sp.start_time)
        assert sp.proc is not None and sp.init_pid is not None
        return await _supervise(sp.proc, sp.init_pid, stdin, stdout, stderr, options)
    finally:
        await sp.close()


def proxy_env(proxy: str) -> dict[str, str]:
    """The variables that send HTTP clients through the sandbox's proxy."""
    local = "localhost,127.0.0.1,::1"
    return {
        "http_proxy": proxy,
        "https_proxy": proxy,
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "ALL_PROXY": proxy,
        "all_proxy": proxy,
        "NO_PROXY": local,
        "no_proxy": local,
    }


def _rlimits(pid: int, options: SandboxOptions) -> None:
    with contextlib.suppress(OSError, ValueError):
        if options.memory is not None:
            resource.prlimit(pid, resource.RLIMIT_AS, (options.memory, options.memory))
        n = options.max_processes
        resource.prlimit(pid, resource.RLIMIT_NPROC, (n, n))


async def _supervise(
    proc: asyncio.subprocess.Process,
    init_pid: int,
    stdin: InputStream | bytes | None,
    stdout: Writer,
    stderr: Writer,
    options: SandboxOptions,
) -> int:
    async def pump(stream: asyncio.StreamReader | None, sink: Writer) -> None:
        if stream is None:
            return
        while True:
            data = await stream.read(65536)
            if not data:
                return
            await sink(data)

    async def feed() -> None:
        w = proc.stdin
        if w is None:
            return
        try:
            if isinstance(stdin, (bytes, bytearray)):
                w.write(bytes(stdin))
                await w.drain()
            elif stdin is not None:
                while True:
                    chunk = await stdin.read(65536)
                    if not chunk:
                        break
                    w.write(chunk)
                    await w.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                w.close()

    async def body() -> int:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(pump(proc.stdout, stdout))
            tg.create_task(pump(proc.stderr, stderr))
            feeder = tg.create_task(feed())
            code = await proc.wait()
            _kill(init_pid)
            if not feeder.done():
                feeder.cancel()
        return code if code >= 0 else 128 - code

    try:
        try:
            if options.timeout is None:
                return await body()
            async with asyncio.timeout(options.timeout):
                return await body()
        except BaseExceptionGroup as group:  # a sink refused output (a limit): end the run
            _kill(init_pid)
            raise group.exceptions[0] from None
    except TimeoutError:
        _kill(init_pid)
        _kill(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        await stderr(f"sandbox: timed out after {options.timeout:g} seconds\n".encode())
        return TIMEOUT_STATUS
