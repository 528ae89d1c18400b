"""The kernel of one VM: filesystem namespace, policy, audit, limits and the process table."""

from __future__ import annotations

import asyncio
import errno
import itertools
import stat as S
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from pocketos.errors import LimitExceeded, fs_error, permission_denied
from pocketos.kernel.audit import AuditLog
from pocketos.kernel.base import STUB_PREFIX
from pocketos.kernel.budget import Budget, MemoryPool, current_budget, reset_budget, use_budget
from pocketos.kernel.commands import CommandFunc, CommandTable
from pocketos.kernel.fs.vfs import VFS
from pocketos.kernel.fsguard import FsGuard
from pocketos.kernel.jobctl import (
    CONT,
    KILL,
    STOP_SIGNALS,
    ProcessGroup,
    current_group,
    reset_group,
    reset_process,
    use_group,
    use_process,
)
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import PermissionRequest, Policy
from pocketos.kernel.process import (
    IGNORED_BY_DEFAULT,
    Context,
    ProcessInfo,
    ProcessKilled,
    signal_number,
)
from pocketos.kernel.services import NetworkService, ToolService
from pocketos.kernel.streams import InputStream, OutputStream

__all__ = ["Kernel"]

_vm_ids = itertools.count(1)

#: shebang interpreters we map onto registered commands
_INTERPRETERS = {
    "sh",
    "bash",
    "dash",
    "python",
    "python3",
    "node",
    "js",
    "awk",
    "gawk",
    "env",
    "sed",
    "jq",
}

MAX_EXITED_KEPT = 256


class Kernel:
    """Everything below the public facade for one VM."""

    def __init__(
        self,
        vfs_factory: Callable[[Kernel], VFS],
        *,
        policy: Policy,
        limits: Limits,
        env: dict[str, str],
        name: str | None = None,
        audit_maxlen: int = 10_000,
        commands: CommandTable | None = None,
    ) -> None:
        self.id = name or f"vm-{next(_vm_ids)}"
        self.policy = policy
        self.limits = limits
        self.env = env
        self._audit: AuditLog | None = None
        self._audit_maxlen = audit_maxlen
        self.procs: dict[int, ProcessInfo] = {}
        #: the pids of the ended processes whose rows the table still has, oldest first
        self._ended: deque[int] = deque()
        self._next_pid = 1
        self._live = 0
        self.vfs = vfs_factory(self)
        #: memory held by the buffers of all running execs (``max_vm_memory``)
        self.memory = MemoryPool(limits.max_vm_memory)
        #: what each command name runs (built by the facade from its providers)
        self.commands = commands if commands is not None else CommandTable()
        #: host tools of this VM (set by ``pocketos.tools.install``)
        self.tools: ToolService | None = None
        #: network gateway of this VM (set by ``pocketos.net.install``)
        self.network: NetworkService | None = None

    # --- audit ---------------------------------------------------------------------------
    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(self.id, self._audit_maxlen)
        return self._audit

    # --- permissions ---------------------------------------------------------------------
    def fs_checker(self) -> Callable[[str, str], None] | None:
        """The VFS hook, or None when the fs domain is a plain allow (fast path)."""
        dp = self.policy.domains.get("fs")
        if dp is not None and dp.default == "allow" and not dp.rules:
            return None
        return self._check_fs

    def fs_guard(self) -> FsGuard | None:
        """The rename/link judge, or None when the fs domain is a plain allow."""
        checker = self.fs_checker()
        return None if checker is None else FsGuard(self.policy, checker)

    def _check_fs(self, op: str, path: str) -> None:
        self.check("fs", op, path)

    def check(
        self, domain: str, op: str, resource: str, *, pid: int | None = None, **extra: Any
    ) -> None:
        """Raise PermissionError unless the policy allows ``domain.op`` on ``resource``
        (``ask`` consults the handler synchronously)."""
        decision = self.policy.decide(domain, op, resource, extra)
        if decision == "allow":
            return
        cap = f"{domain}.{op}"
        if decision == "ask":
            req = PermissionRequest(domain, op, resource, self.id, pid, dict(extra))
            self.audit.record(
                "permission", capability=cap, resource=resource, decision="ask", pid=pid
            )
            if self.policy.ask(req):
                self.audit.record(
                    "permission",
                    capability=cap,
                    resource=resource,
                    decision="allow",
                    reason="granted by handler",
                    pid=pid,
                )
                return
            self.audit.record(
                "permission",
                capability=cap,
                resource=resource,
                decision="deny",
                reason="refused by handler or no answer",
                pid=pid,
            )
            raise permission_denied(cap, resource, "not granted")
        self.audit.record(
            "permission",
            capability=cap,
            resource=resource,
            decision="deny",
            reason="policy",
            pid=pid,
        )
        raise permission_denied(cap, resource)

    def allowed(self, domain: str, op: str, resource: str, **extra: Any) -> bool:
        try:
            self.check(domain, op, resource, **extra)
            return True
        except PermissionError:
            return False

    def environ(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a new process, interpreter or service of this VM sees: the VM's
        variables, then ``overrides``, minus what ``env.read`` denies. Everything that hands
        an environment to guest code goes through here."""
        e = dict(self.env)
        if overrides:
            e.update(overrides)
        return self.filter_env(e)

    def filter_env(self, env: dict[str, str]) -> dict[str, str]:
        dp = self.policy.domains.get("env")
        if dp is not None and dp.default == "allow" and not dp.rules:
            return dict(env)
        return {k: v for k, v in env.items() if self.policy.decide("env", "read", k) == "allow"}

    # --- commands ------------------------------------------------------------------------
    @property
    def extra_commands(self) -> dict[str, CommandFunc]:
        """The commands of this VM alone (``commands.extra``)."""
        return self.commands.extra

    def lookup_command(self, name: str, env: dict[str, str] | None = None) -> CommandFunc | None:
        return self.commands.resolve(name)

    def find_command(
        self, name: str, env: dict[str, str] | None = None, cwd: str = "/"
    ) -> CommandFunc | None:
        """The command ``name`` runs: registry first, then PATH in the VM filesystem.
        A name with ``/`` is a path; its problems raise OSError (ENOENT, EACCES, EISDIR)."""
        if "/" in name:
            path = name if name.startswith("/") else cwd.rstrip("/") + "/" + name
            return self._command_from_file(path, name)
        fn = self.commands.resolve(name)
        if fn is not None:
            return fn
        path_var = (env or {}).get("PATH", "/usr/local/bin:/usr/bin:/bin")
        for d in path_var.split(":"):
            if not d:
                continue
            p = d.rstrip("/") + "/" + name
            try:
                st = self.vfs.stat(p)
            except (OSError, ValueError):
                continue
            if S.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                try:
                    return self._command_from_file(p, p)  # found in PATH: $0 is the full path
                except OSError:
                    continue
        return None

    def _command_from_file(self, path: str, shown: str) -> CommandFunc:
        st = self.vfs.stat(path, shown=shown)
        if S.S_ISDIR(st.st_mode):
            raise fs_error(errno.EISDIR, shown)
        if not st.st_mode & 0o111:
            raise fs_error(errno.EACCES, shown)
        with self.vfs.open(path, "rb", shown=shown) as fh:
            head = fh.read(256)
        if head.startswith(STUB_PREFIX):
            cmd = head[len(STUB_PREFIX) :].split(b"\n", 1)[0].decode()
            fn = self.lookup_command(cmd)
            if fn is None:
                raise fs_error(errno.ENOENT, shown)
            return fn
        interp = ["bash"]
        if head.startswith(b"#!"):
            line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
            words = line.split()
            if words:
                prog = words[0].rsplit("/", 1)[-1]
                rest = words[1:]
                if prog == "env" and rest:
                    rest = [w for w in rest if not w.startswith("-")]
                    prog, rest = rest[0], rest[1:]
                interp = [prog, *rest]
        if self.lookup_command(interp[0]) is None:
            raise fs_error(
                errno.ENOENT, shown, f"bad interpreter: {interp[0]}: No such file or directory"
            )
        interp_fn = self.lookup_command(interp[0])
        assert interp_fn is not None

        async def run_script(ctx: Context) -> int:
            # $0 is the name as typed (./s.sh), like the kernel's execve in bash
            ctx.argv = [*interp, shown, *ctx.argv[1:]]
            return await interp_fn(ctx)

        return run_script

    # --- processes -----------------------------------------------------------------------
    def _alloc_pid(self) -> int:
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def live_processes(self) -> int:
        return self._live

    def new_process(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str,
        ppid: int,
        max_processes: int | None = None,
    ) -> ProcessInfo:
        """A new row in the process table; ``max_processes`` (an exec's own limit) can only
        lower the VM's."""
        return self._add_process(argv, env, cwd, ppid, max_processes, current_group())

    def _add_process(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        ppid: int,
        max_processes: int | None,
        group: ProcessGroup | None,
    ) -> ProcessInfo:
        """:meth:`new_process`, in ``group`` (the current one)."""
        cap = self.limits.max_processes
        if max_processes is not None and max_processes < cap:
            cap = max_processes
        if self._live >= cap:
            raise LimitExceeded("max_processes", f"too many processes (max_processes={cap})")
        pid = self._next_pid
        self._next_pid = pid + 1
        info = ProcessInfo.started(pid, ppid, list(argv), cwd, env)
        # a process joins the group of the code that starts it, or leads a new one
        if group is None:
            group = ProcessGroup()
        elif group.members:
            info.pgid = next(iter(group.members))
        group.members[pid] = info
        info.group = group
        self.procs[pid] = info
        self._live += 1
        parent = self.procs.get(ppid)
        if parent is not None:
            parent.children.append(pid)
        return info

    def end_process(self, info: ProcessInfo, code: int, status: str = "exited") -> None:
        sig = info.pending_signal
        if status == "exited" and sig is not None and code == 128 + sig:
            # it ended with the status of a signal it did not catch (a shell that stops on
            # ``kill -TERM $$`` returns 143 itself): the signal killed it. A process that caught
            # the signal (a trap) and then exited has no signal pending: it exited.
            status = "killed"
        if info.group is not None:
            info.group.members.pop(info.pid, None)
        now = time.time()
        if info.status == "running":
            self._live -= 1
            if self._audit is not None:
                self._audit.process_ended(
                    info.pid, info.argv[0] if info.argv else "", status, code, now
                )
            ended = self._ended
            ended.append(info.pid)
            if len(ended) > MAX_EXITED_KEPT * 2:
                self._forget(ended)
        info.status = status
        info.exit_code = code
        info.end_time = now

    def _forget(self, ended: deque[int]) -> None:
        """Drop the rows of the processes that ended first, keeping the last
        ``MAX_EXITED_KEPT``, and their pids from their parents' lists of children (a shell
        running commands for hours would otherwise keep one entry per command it ever ran).
        Pids are never reused."""
        n = len(ended) - MAX_EXITED_KEPT
        gone = set(itertools.islice(ended, n))
        self._ended = deque(itertools.islice(ended, n, None))
        procs = self.procs
        rows = [procs.pop(pid, None) for pid in gone]
        for ppid in {row.ppid for row in rows if row is not None}:
            parent = procs.get(ppid)
            if parent is not None:
                parent.children[:] = itertools.filterfalse(gone.__contains__, parent.children)

    async def run_command(
        self,
        argv: list[str],
        *,
        stdin: InputStream,
        stdout: OutputStream,
        stderr: OutputStream,
        env: dict[str, str],
        cwd: str,
        ppid: int = 0,
        limits: Limits | None = None,
        budget: Budget | None = None,
        func: CommandFunc | None = None,
    ) -> int:
        """Run one command as a process and return its exit status."""
        name = argv[0] if argv else ""
        lim = limits or self.limits
        bud = budget if budget is not None else Budget(lim)
        if bud.pool is None:
            bud.pool = self.memory
        if func is None:
            try:
                func = self.find_command(name, env, cwd)
            except OSError as exc:
                await stderr.write(f"{name}: {exc.strerror}\n".encode("utf-8", "surrogateescape"))
                return 126 if exc.errno in (errno.EACCES, errno.EISDIR) else 127
            if func is None:
                await stderr.write(
                    f"{name}: command not found\n".encode("utf-8", "surrogateescape")
                )
                return 127
        dp = self.policy.domains.get("child_process")
        if not (dp is not None and dp.default == "allow" and not dp.rules):
            try:
                self.check("child_process", "spawn", name.rsplit("/", 1)[-1], pid=ppid)
            except PermissionError as exc:
                await stderr.write(f"{name}: {exc.strerror}\n".encode())
                return 126
        current = current_group()
        try:
            info = self._add_process(argv, env, cwd, ppid, lim.max_processes, current)
        except LimitExceeded as exc:
            if bud.limit_hit is None:
                bud.limit_hit = exc.limit
            await stderr.write(f"{name}: cannot start process: {exc.message}\n".encode())
            return 126
        (self._audit or self.audit).process_started(info.pid, ppid, name, argv, info.start_time)
        ctx = Context.of_process(self, info, stdin, stdout, stderr, lim, bud)
        code = 0
        status = "exited"
        token = use_budget(bud) if current_budget() is not bud else None
        ptoken = use_process(info)
        group = info.group
        gtoken = use_group(group) if group is not None and group is not current else None
        try:
            code = await func(ctx)
            if not isinstance(code, int):
                code = 0 if code is None else 1
            code &= 0xFF
        except BrokenPipeError:
            code, status = 141, "killed"
        except ProcessKilled as exc:
            code, status = 128 + exc.signum, "killed"
        except (LimitExceeded, asyncio.CancelledError):
            # a signal's number when one ended it; a limit or the exec's timeout kills (137)
            self.end_process(info, 128 + (info.pending_signal or 9), "killed")
            raise
        except OSError as exc:
            try:
                await ctx.os_error(exc)
            except Exception:
                pass
            code = 1
        except RecursionError:
            try:
                await ctx.err("maximum recursion depth exceeded")
            except Exception:
                pass
            code = 2
        except Exception as exc:  # a bug in a command never escapes the VM
            try:
                await ctx.err(f"internal error: {type(exc).__name__}: {exc}")
            except Exception:
                pass
            code = 2
        finally:
            if ctx.held is not None:
                ctx.held.close()  # ctx.release_memory()
            if gtoken is not None:
                reset_group(gtoken)
            reset_process(ptoken)
            if token is not None:
                reset_budget(token)
        self.end_process(info, code, status)
        return code

    def kill(self, pid: int, sig: int | str = "TERM") -> None:
        """Send signal ``sig`` to process ``pid``. STOP, TSTP, TTIN and TTOU stop its process
        group, CONT continues it; a deadly signal to a stopped process waits for CONT, except
        KILL, which ends it at once."""
        info = self.procs.get(pid)
        if info is None or info.status != "running":
            raise ProcessLookupError(errno.ESRCH, f"No such process: {pid}")
        num = signal_number(sig)
        if num == 0:
            return
        group = info.group
        if num == CONT and group is not None:
            self.continue_group(group)
        if num in info.caught and num not in (KILL, 19):
            info.pending_traps.append(num)
            return
        if num in STOP_SIGNALS:
            if group is not None:
                group.stop(num)
            return
        if num in IGNORED_BY_DEFAULT:
            return
        info.pending_signal = num
        for child in list(info.children):
            c = self.procs.get(child)
            if c is not None and c.group is not group:
                continue  # a job of its own (a shell's ``&`` or stopped job) is not signalled
            try:
                self.kill(child, num)
            except ProcessLookupError:
                pass
        if group is not None and group.stop_signal is not None:
            if num != KILL:
                return  # delivered when the group is continued
            group.poke()
        self._cancel(info)

    def _cancel(self, info: ProcessInfo) -> None:
        task = info.task
        try:
            me = asyncio.current_task()
        except RuntimeError:  # plain sync code (``VM.spawn(...).kill()``): no loop is running
            me = None
        if task is not None and not task.done() and task is not me:
            # a process signalling itself (or its own ancestor running in the same task) sees
            # ``pending_signal`` at its next check instead of a cancellation it would swallow
            task.cancel()

    def continue_group(self, group: ProcessGroup) -> None:
        """CONT to a group: it runs again, and the deadly signals that came while it was
        stopped take effect."""
        if group.stop_signal is None:
            return
        group.cont()
        for member in list(group.members.values()):
            if member.pending_signal is not None and member.status == "running":
                self._cancel(member)

    def signal_group(self, group: ProcessGroup, sig: int | str) -> None:
        """Send ``sig`` to every live process of ``group`` (a terminal's Ctrl-Z, ``kill``
        of a job); a stop signal stops the group even when it has no process right now."""
        num = signal_number(sig)
        members = [m for m in group.members.values() if m.status == "running"]
        if num in STOP_SIGNALS and not members:
            group.stop(num)
        for m in members:
            try:
                self.kill(m.pid, num)
            except ProcessLookupError:
                pass
        if num == CONT:
            self.continue_group(group)

    def process_tree(self) -> list[dict[str, Any]]:
        def node(pid: int) -> dict[str, Any]:
            info = self.procs[pid]
            d = info.to_dict()
            d["children"] = [node(c) for c in info.children if c in self.procs]
            return d

        return [node(p) for p, i in self.procs.items() if i.ppid not in self.procs]
