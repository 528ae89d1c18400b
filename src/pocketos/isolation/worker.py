"""The worker process: hosts one or more in-process VMs and serves the protocol.

Started by :mod:`pocketos.isolation.client` as ``python -I -c <boot> <config-json>`` with an
empty environment and only the two protocol pipes (stdin: requests, stdout: replies); it moves
those to private descriptors and points 0/1 at /dev/null so nothing printed by accident can
corrupt a frame. It hardens itself (:mod:`pocketos.isolation.sandbox`), says hello, then
answers requests one at a time until its input closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import sys
import threading
from typing import Any

from pocketos.isolation import protocol
from pocketos.isolation import state as vmstate

__all__ = ["main", "EXIT_MEMORY"]

#: exit status of an exec stopped by a limit (as in the in-process VM)
LIMIT_STATUS = 125

#: exit status of a worker that ran out of memory outside any guest's error handling
EXIT_MEMORY = 3

#: how an allocation refused by the worker's memory limit shows in an exec's stderr
_OUT_OF_MEMORY = (
    b": internal error: MemoryError",
    b"internal error: RuntimeError: can't start new thread",
)

#: VM methods a host may call (everything else is refused)
CALLS = frozenset(
    {
        "read_file",
        "write_file",
        "write_files",
        "read_files",
        "mkdir",
        "readdir",
        "readdir_recursive",
        "stat",
        "lstat",
        "exists",
        "move",
        "rename",
        "copy",
        "delete",
        "chmod",
        "symlink",
        "readlink",
        "disk_usage",
        "mount",
        "unmount",
        "mounts",
        "snapshot",
        "audit_log",
        "list_processes",
        "process_tree",
        "kill",
        "env",
        "policy_spec",
        "command_names",
        "check",
    }
)

#: audit events one reply carries at most (the rest are counted, not sent)
MAX_AUDIT_PER_REPLY = 10_000

#: seconds one ``proc_poll`` waits for output at most (the host polls again)
POLL_WAIT = 0.25


#: operations on a VM's background processes and interpreters (:mod:`.guest`)
GUEST_OPS = (
    "spawn",
    "proc_poll",
    "proc_write",
    "proc_close_stdin",
    "obj_open",
    "obj_run",
    "obj_close",
)

#: operations on a VM's terminals (:mod:`.terms`)
TERM_OPS = ("term_open", "term_write", "term_resize", "term_ack", "term_close")
#: the terminal operations after which the VM's filesystem is committed (keys run commands)
TERM_COMMITS = ("term_open", "term_write", "term_close")


def _wire(value: Any) -> Any:
    """Make a method's result JSON-able (dataclasses, snapshots, audit events)."""
    from pocketos.snapshot import Snapshot

    if isinstance(value, Snapshot):
        return {"$snapshot": value.to_bytes()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


class Worker:
    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.vms: dict[str, Any] = {}
        self.prints: dict[str, str] = {}
        self.landlocked = False
        self.tmpdir_set = False
        self.loop = asyncio.new_event_loop()
        self.guests: dict[str, Any] = {}
        self.audit_out: dict[str, list[dict[str, Any]]] = {}
        self.audit_dropped: dict[str, int] = {}
        # callbacks to the host: one in flight at a time, only while a request is served
        self.write_lock = threading.Lock()
        self.cb_lock = threading.Lock()
        self.cb_cond = threading.Condition()
        self.serving = False
        self.cb_inflight = 0
        self.cb_ids = itertools.count(1)
        from pocketos.isolation.terms import WorkerTerminals

        self.terms = WorkerTerminals(self.send)

    def send(self, msg: dict[str, Any]) -> None:
        frame = protocol.encode(msg)
        with self.write_lock:
            protocol.write_raw(self.out_fd, frame)

    def call_host(self, handle: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Ask the host something (a tool call, a permission) and wait for its answer.
        Blocking and thread-safe; callbacks go one at a time, and only while the host waits
        for a reply (it reads nothing else)."""
        with self.cb_cond:
            if not self.serving:
                return {
                    "ok": False,
                    "error": {"type": "PocketOSError", "message": "the host is not listening"},
                }
            self.cb_inflight += 1
        try:
            with self.cb_lock:
                cid = next(self.cb_ids)
                self.send({"callback": cid, "vm": handle, **payload})
                answer = protocol.read_frame(self.in_fd)
                if answer.get("op") != "answer" or answer.get("cb") != cid:
                    raise protocol.ProtocolError("the host sent something other than an answer")
                return answer
        finally:
            with self.cb_cond:
                self.cb_inflight -= 1
                self.cb_cond.notify_all()

    def _stop_serving(self) -> None:
        """No new callbacks; wait for the ones in flight (the host answers them)."""
        with self.cb_cond:
            self.serving = False
            while self.cb_inflight:
                self.cb_cond.wait()

    def warm(self) -> None:
        """Do once, before any VM is asked for, what the first VM would otherwise pay for:
        imports, the shared base layer, the first shell run and the first commit check."""
        # with a host tool and the network gateway, as agent runs have them: their modules
        # (pydantic, the tool CLI, the gateway) are imported now rather than by the first VM
        tools = [
            {
                "name": "warm",
                "description": "warm-up",
                "tools": [
                    {
                        "name": "up",
                        "description": "warm-up",
                        "timeout": None,
                        "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}},
                    }
                ],
            }
        ]
        self.open("warm", {"tools": tools, "network": {}}, None)
        self.loop.run_until_complete(self.vms["warm"].exec("pocketos-warm up --help >/dev/null"))
        self.changed_state("warm")
        self.loop.run_until_complete(self.vms.pop("warm").aclose())
        self.prints.pop("warm", None)
        self.guests.pop("warm", None)
        self.audit_out.pop("warm", None)

    # --- requests --------------------------------------------------------------------
    def apply_landlock(self, opts: dict[str, Any]) -> str:
        import tempfile

        from pocketos.isolation.landlock import restrict
        from pocketos.wasm.cache import cache_dir, js_cache, python_cache

        # made now (0700): once confined the worker could not create them
        python_cache()
        js_cache()

        reads: list[str] = []
        writes: list[str] = [str(cache_dir()), tempfile.gettempdir()]
        for spec in (opts.get("mounts") or {}).values():
            if isinstance(spec, dict) and isinstance(spec.get("host"), str):
                (writes if spec.get("mode") == "rw" else reads).append(spec["host"])
        self.landlocked = True
        return restrict(reads, writes, network=opts.get("network") is not None)

    def open(
        self, handle: str, options: dict[str, Any], state: Any, landlock: bool = False
    ) -> list[str]:
        from pocketos.kernel.fs.memory import MemoryBackend
        from pocketos.kernel.limits import Limits
        from pocketos.snapshot import Snapshot
        from pocketos.vm import AsyncVM

        if handle in self.vms:
            raise ValueError(f"VM {handle} is already open in this worker")
        opts = dict(options)
        notes: list[str] = []
        if landlock and not self.landlocked:
            notes.append(self.apply_landlock(opts))
        lim = Limits().merged(opts.pop("limits", None))
        snaps = [Snapshot.load(s) for s in opts.pop("snapshots", None) or []]
        fs_limits = {
            "max_bytes": lim.max_fs_bytes,
            "max_inodes": lim.max_fs_inodes,
            "max_file_size": lim.max_file_size,
        }
        upper: MemoryBackend | None = None
        if state is not None:
            upper = vmstate.restore(state, **fs_limits)
        from pocketos.isolation.guest import GuestObjects, proxy_handler, proxy_toolkits

        tools = opts.pop("tools", None)
        if tools:
            opts["toolkits"] = proxy_toolkits(tools, handle, self.call_host)
        if opts.pop("ask", False):
            opts["permission_handler"] = proxy_handler(handle, self.call_host)
        vm = AsyncVM(limits=lim, snapshots=snaps or None, _upper=upper, **opts)
        self.vms[handle] = vm
        self.guests[handle] = GuestObjects()

        def forward(ev: Any) -> None:
            out = self.audit_out.setdefault(handle, [])
            if len(out) < MAX_AUDIT_PER_REPLY:
                out.append(ev.to_dict())
            else:
                self.audit_dropped[handle] = self.audit_dropped.get(handle, 0) + 1

        vm.kernel.audit.sinks.append(forward)
        self.prints[handle] = vmstate.fingerprint(vm._root.upper)
        return notes

    def set_tmpdir(self, path: Any) -> None:
        """Use the host's private temporary directory for this worker (the first one given)."""
        import tempfile

        if isinstance(path, str) and path.startswith("/") and not self.tmpdir_set:
            os.environ["TMPDIR"] = tempfile.tempdir = path
            self.tmpdir_set = True

    def changed_state(self, handle: str, force: bool = False) -> Any:
        vm = self.vms.get(handle)
        if vm is None:
            return None
        fp = vmstate.fingerprint(vm._root.upper)
        if fp == self.prints.get(handle) and not force:
            return None
        self.prints[handle] = fp
        return vmstate.capture(vm._root.upper)

    def call(self, vm: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method not in CALLS:
            raise NotImplementedError(f"{method} is not available on a process-isolated VM")
        if method == "env":
            return dict(vm.env)
        if method == "policy_spec":
            return vm.policy.spec
        if method == "command_names":
            return sorted(vm.kernel.commands.names())
        if method == "check":
            domain, op, resource = (str(a) for a in args[:3])
            vm.kernel.check(domain, op, resource)
            return None
        if method == "audit_log":
            return [e.to_dict() for e in vm.audit_log(*args, **kwargs)]
        if method == "stat" or method == "lstat":
            return dataclasses.asdict(getattr(vm, method)(*args, **kwargs))
        return _wire(getattr(vm, method)(*args, **kwargs))

    def exec(self, rid: int, vm: Any, msg: dict[str, Any]) -> Any:
        kwargs = dict(msg.get("kwargs") or {})
        if msg.get("stream"):

            def emitter(kind: str) -> Any:
                def emit(data: bytes) -> None:
                    self.send({"id": rid, "event": kind, "data": data})

                return emit

            kwargs["on_stdout"] = emitter("stdout")
            kwargs["on_stderr"] = emitter("stderr")
        if "argv" in msg:
            coro = vm.run(list(msg["argv"]), **kwargs)
        else:
            coro = vm.exec(str(msg["script"]), **kwargs)
        result = self.loop.run_until_complete(coro)
        if (
            result.limit_hit is None
            and result.exit_code != 0
            and any(sign in result.stderr_bytes for sign in _OUT_OF_MEMORY)
        ):
            # the worker's memory limit (RLIMIT_DATA) surfaced as an allocation failure
            result.limit_hit = "memory"
            result.exit_code = LIMIT_STATUS
        return _wire(result)

    def handle(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        op = msg.get("op")
        handle = str(msg.get("vm", ""))
        reply: dict[str, Any] = {"id": rid, "ok": True, "value": None}
        with self.cb_cond:
            self.serving = True
        try:
            if op == "ping":
                reply["value"] = os.getpid()
            elif op == "open":
                self.set_tmpdir(msg.get("tmpdir"))
                reply["value"] = self.open(
                    handle, msg.get("options") or {}, msg.get("state"), bool(msg.get("landlock"))
                )
            elif op == "close":
                vm = self.vms.pop(handle, None)
                self.prints.pop(handle, None)
                guests = self.guests.pop(handle, None)
                self.loop.run_until_complete(self.terms.close_vm(handle))
                if guests is not None:
                    self.loop.run_until_complete(guests.close())
                if vm is not None:
                    self.loop.run_until_complete(vm.aclose())
                self.audit_out.pop(handle, None)
            else:
                vm = self.vms.get(handle)
                if vm is None:
                    raise ValueError(f"no VM {handle!r} in this worker")
                if op == "exec":
                    reply["value"] = self.exec(rid if isinstance(rid, int) else 0, vm, msg)
                elif op == "call":
                    method = str(msg.get("method"))
                    args = list(msg.get("args") or [])
                    kwargs = dict(msg.get("kwargs") or {})
                    if method == "kill":  # signals a task: needs the running loop

                        async def in_loop() -> Any:
                            return self.call(vm, method, args, kwargs)

                        reply["value"] = self.loop.run_until_complete(in_loop())
                    else:
                        reply["value"] = self.call(vm, method, args, kwargs)
                elif op == "commit":
                    reply["state"] = self.changed_state(handle, bool(msg.get("force")))
                elif op in TERM_OPS:
                    reply["value"] = self.loop.run_until_complete(self.term_op(op, vm, handle, msg))
                elif op in GUEST_OPS:
                    reply["value"] = self.loop.run_until_complete(
                        self.guest_op(op, vm, self.guests[handle], msg)
                    )
                else:
                    raise ValueError(f"unknown operation {op!r}")
        except MemoryError:
            raise
        except Exception as exc:
            reply = {"id": rid, "ok": False, "error": protocol.error_to_wire(exc)}
        self._stop_serving()
        # (a terminal's acknowledgements and resizes change no files: no commit check for them,
        # which walks the VM's filesystem)
        if op in ("exec", "call", "open", *GUEST_OPS, *TERM_COMMITS) and handle in self.vms:
            st = self.changed_state(handle)
            if st is not None:
                reply["state"] = st
        events = self.audit_out.pop(handle, None)
        if events:
            reply["audit"] = events
        dropped = self.audit_dropped.pop(handle, 0)
        if dropped:
            reply["audit_dropped"] = dropped
        self.send_reply(reply, handle)

    async def guest_op(self, op: str, vm: Any, guests: Any, msg: dict[str, Any]) -> Any:
        if op == "spawn":
            return await guests.spawn(
                vm, list(msg.get("argv") or []), dict(msg.get("kwargs") or {})
            )
        if op == "proc_poll":
            return await guests.poll(msg.get("pid"), POLL_WAIT)
        if op == "proc_write":
            data = msg.get("data")
            await guests.proc(msg.get("pid")).write(data if isinstance(data, bytes) else b"")
            return None
        if op == "proc_close_stdin":
            guests.proc(msg.get("pid")).close_stdin()
            return None
        if op == "obj_open":
            return await guests.open_object(vm, str(msg.get("kind")), dict(msg.get("kwargs") or {}))
        if op == "obj_run":
            return await guests.run_object(
                msg.get("oid"), str(msg.get("arg", "")), dict(msg.get("kwargs") or {})
            )
        if op == "obj_close":
            await guests.close_object(msg.get("oid"))
            return None
        raise ValueError(f"unknown operation {op!r}")

    async def term_op(self, op: str, vm: Any, handle: str, msg: dict[str, Any]) -> Any:
        tid = msg.get("tid")
        if op == "term_open":
            return await self.terms.open(vm, handle, dict(msg.get("kwargs") or {}))
        if op == "term_write":
            await self.terms.write(tid, handle, msg.get("data"))
        elif op == "term_resize":
            self.terms.resize(tid, handle, msg.get("cols"), msg.get("rows"))
        elif op == "term_ack":
            self.terms.ack(tid, handle, msg.get("n"))
        elif op == "term_close":
            return await self.terms.close(tid, handle)
        return None

    async def _readable(self) -> None:
        """Wait until the host sends something, running the VMs' terminals meanwhile."""
        fut: asyncio.Future[None] = self.loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self.loop.add_reader(self.in_fd, ready)
        try:
            await fut
        finally:
            self.loop.remove_reader(self.in_fd)

    def send_reply(self, reply: dict[str, Any], handle: str) -> None:
        """Send a reply; a commit too big for one frame is dropped (the host keeps the
        previous one and is told why) rather than losing the reply."""
        try:
            frame = protocol.encode(reply)
        except protocol.ProtocolError as exc:
            if reply.get("state") is None:
                raise
            reply.pop("state")
            self.prints.pop(handle, None)  # try again after the next change
            reply["commit_error"] = f"the VM's filesystem is too big to commit: {exc}"
            frame = protocol.encode(reply)
        with self.write_lock:
            protocol.write_raw(self.out_fd, frame)

    def serve(self) -> None:
        while True:
            if self.terms:
                # terminals are open: their shells run while the worker waits for a request
                self.loop.run_until_complete(self._readable())
            try:
                msg = protocol.read_frame(self.in_fd)
            except EOFError:
                return
            if msg.get("op") == "exit":
                return
            self.handle(msg)


def _private_pipes() -> tuple[int, int]:
    """Move the protocol pipes off 0 and 1 and close every other inherited descriptor."""
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    keep = {0, 1, 2, in_fd, out_fd}
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 256))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.set_inheritable(in_fd, False)
    os.set_inheritable(out_fd, False)
    return in_fd, out_fd


def _open_fds() -> dict[str, str]:
    """What this process holds open (reported to the host, which tests it)."""
    out: dict[str, str] = {}
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in names:
        try:
            out[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    config: dict[str, Any] = json.loads(args[0]) if args else {}
    inherited_env = sorted(os.environ)
    if config.get("tmpdir"):
        import tempfile

        os.environ["TMPDIR"] = tempfile.tempdir = str(config["tmpdir"])
    if config.get("cache"):
        os.environ["POCKETOS_CACHE"] = str(config["cache"])
    in_fd, out_fd = _private_pipes()
    from pocketos.isolation.sandbox import apply_base, apply_cpu

    notes = apply_base(config)
    worker = Worker(in_fd, out_fd)
    worker.warm()
    notes += apply_cpu(config)
    if config.get("seccomp", True):
        from pocketos.isolation.seccomp import install

        notes.append(install())
    worker.send(
        {
            "op": "hello",
            "pid": os.getpid(),
            "sandbox": notes,
            "environ": inherited_env,
            "fds": _open_fds(),
        }
    )
    try:
        worker.serve()
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except (BrokenPipeError, protocol.ProtocolError):
        os._exit(1)
    os._exit(0)
