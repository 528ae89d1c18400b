"""Processes: the process table, command contexts, signals and exit statuses.

A process is an asyncio task running a registered command with a :class:`Context`. Commands
never touch the host: they get byte streams, an environment, a cwd and a permission-checked
:class:`~pocketos.kernel.fs.view.FsView`.
"""

from __future__ import annotations

import asyncio
import signal as _signal
import time
from collections.abc import Iterable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from pocketos.kernel.budget import Budget, Held
from pocketos.kernel.fs.view import FsView
from pocketos.kernel.limits import Limits
from pocketos.kernel.streams import InputStream, NullInput, NullOutput, OutputStream

if TYPE_CHECKING:
    from dataclasses import dataclass as record

    from pocketos.kernel.jobctl import ProcessGroup
    from pocketos.kernel.kernel import Kernel
else:
    from pocketos.kernel.record import record


__all__ = [
    "Context",
    "IGNORED_BY_DEFAULT",
    "ProcessInfo",
    "ProcessKilled",
    "SIGNALS",
    "signal_number",
]

SIGNALS: dict[str, int] = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "CHLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "WINCH": 28,
}

#: signals whose default action is to do nothing (CONT also continues a stopped process): they
#: never end a process
IGNORED_BY_DEFAULT = frozenset({17, 18, 23, 28})


def signal_number(spec: str | int) -> int:
    """``"TERM"``, ``"SIGTERM"``, ``"15"`` or ``15`` -> 15 (ValueError if unknown)."""
    if isinstance(spec, int):
        return spec
    s = spec.upper()
    if s.isdigit():
        return int(s)
    if s.startswith("SIG"):
        s = s[3:]
    if s not in SIGNALS:
        raise ValueError(f"invalid signal specification: {spec}")
    return SIGNALS[s]


def signal_name(num: int) -> str:
    for k, v in SIGNALS.items():
        if v == num:
            return k
    try:
        return _signal.Signals(num).name[3:]
    except ValueError:
        return str(num)


class ProcessKilled(Exception):
    """Raised inside a process's task when it is killed by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"killed by signal {signum}")
        self.signum = signum


@record
class ProcessInfo:
    """One row of the process table."""

    pid: int
    ppid: int
    pgid: int
    argv: list[str]
    cwd: str
    env: dict[str, str]
    status: str = "running"  # running | exited | killed
    exit_code: int | None = None
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None
    task: asyncio.Task[int] | None = field(default=None, repr=False)
    children: list[int] = field(default_factory=list)
    pending_signal: int | None = None
    #: signals the process catches or ignores (a shell's ``trap``): ``kill`` queues them in
    #: ``pending_traps`` instead of ending the process
    caught: frozenset[int] = frozenset()
    pending_traps: list[int] = field(default_factory=list)
    open_files: int = 0
    max_open_files: int = 1024
    budget: Any = field(default=None, repr=False)
    #: the process group (``pocketos.kernel.jobctl``) that STOP and CONT act on
    group: ProcessGroup | None = field(default=None, repr=False)

    @property
    def stopped(self) -> bool:
        return self.group is not None and self.group.stop_signal is not None

    def __init__(
        self,
        pid: int,
        ppid: int,
        pgid: int,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        status: str = "running",
        exit_code: int | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        task: asyncio.Task[int] | None = None,
        children: list[int] | None = None,
        pending_signal: int | None = None,
        caught: frozenset[int] = frozenset(),
        pending_traps: list[int] | None = None,
        open_files: int = 0,
        max_open_files: int = 1024,
        budget: Any = None,
        group: ProcessGroup | None = None,
    ) -> None:
        self.pid = pid
        self.ppid = ppid
        self.pgid = pgid
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.status = status
        self.exit_code = exit_code
        self.start_time = time.time() if start_time is None else start_time
        self.end_time = end_time
        self.task = task
        self.children = [] if children is None else children
        self.pending_signal = pending_signal
        self.caught = caught
        self.pending_traps = [] if pending_traps is None else pending_traps
        self.open_files = open_files
        self.max_open_files = max_open_files
        self.budget = budget
        self.group = group

    @classmethod
    def started(
        cls, pid: int, ppid: int, argv: list[str], cwd: str, env: dict[str, str]
    ) -> ProcessInfo:
        """A process running from now, in a group of its own (``pgid`` is ``pid``) until the
        kernel puts it in one: the kernel's constructor, one per command a VM runs. Every
        field is the row's own (a field read from the class instead would make each read of
        it slower, and a shell reads some for every command it runs)."""
        self = object.__new__(cls)
        self.pid = pid
        self.ppid = ppid
        self.pgid = pid
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.status = "running"
        self.exit_code = None
        self.start_time = time.time()
        self.end_time = None
        self.task = None
        self.children = []
        self.pending_signal = None
        self.caught = frozenset()
        self.pending_traps = []
        self.open_files = 0
        self.max_open_files = 1024
        self.budget = None
        self.group = None
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "pgid": self.pgid,
            "argv": list(self.argv),
            "cwd": self.cwd,
            "status": self.status,
            "stopped": self.stopped,
            "exit_code": self.exit_code,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


class Context:
    """What a running command receives.

    Attributes: ``argv`` (argv[0] is the name it was called by), ``env`` (its own copy),
    ``cwd``, ``stdin``/``stdout``/``stderr`` byte streams, ``fs`` (relative paths resolve
    against ``cwd``), ``pid``, ``limits`` and ``kernel``.
    """

    __slots__ = (
        "argv",
        "env",
        "cwd",
        "stdin",
        "stdout",
        "stderr",
        "_fs",
        "pid",
        "ppid",
        "kernel",
        "limits",
        "info",
        "shell_state",
        "budget",
        "held",
    )

    def __init__(
        self,
        kernel: Kernel,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str,
        stdin: InputStream | None = None,
        stdout: OutputStream | None = None,
        stderr: OutputStream | None = None,
        pid: int = 0,
        ppid: int = 0,
        limits: Limits | None = None,
        info: ProcessInfo | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.kernel = kernel
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.stdin: InputStream = stdin if stdin is not None else NullInput()
        self.stdout: OutputStream = stdout if stdout is not None else NullOutput()
        self.stderr: OutputStream = stderr if stderr is not None else NullOutput()
        self.pid = pid
        self.ppid = ppid
        self.limits = limits if limits is not None else kernel.limits
        self.info = info
        #: counters shared by every process of this exec (commands, loops, deadline, output)
        self.budget = budget if budget is not None else Budget(self.limits)
        if info is not None:
            info.max_open_files = self.limits.max_open_files
            info.budget = self.budget
        self._fs: FsView | None = None
        #: free slot for the shell (the interpreter keeps its state here for subprocesses)
        self.shell_state: Any = None
        #: memory this process holds (released by the kernel when the process ends)
        self.held: Held | None = None

    @classmethod
    def of_process(
        cls,
        kernel: Kernel,
        info: ProcessInfo,
        stdin: InputStream,
        stdout: OutputStream,
        stderr: OutputStream,
        limits: Limits,
        budget: Budget,
    ) -> Context:
        """What the kernel gives the command of the process ``info`` (the same as
        ``Context(...)`` with its argv, env, cwd, pid and ppid): its own copies of argv and
        env, the streams, the exec's limits and budget."""
        self = object.__new__(cls)
        self.kernel = kernel
        self.argv = list(info.argv)
        self.env = dict(info.env)
        self.cwd = info.cwd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.pid = info.pid
        self.ppid = info.ppid
        self.limits = limits
        self.info = info
        self.budget = budget
        info.max_open_files = limits.max_open_files
        info.budget = budget
        self._fs = None
        self.shell_state = None
        self.held = None
        return self

    @property
    def fs(self) -> FsView:
        """The process's view of the filesystem (relative paths resolve against ``cwd``), made
        when first used: most commands never open a file by name."""
        fs = self._fs
        if fs is None:
            fs = self._fs = FsView(self.kernel.vfs, self.cwd, self.info)
        return fs

    @fs.setter
    def fs(self, view: FsView) -> None:
        self._fs = view

    def charge(self, n: int, what: str | None = None) -> None:
        """Charge ``n`` bytes this process keeps (input it holds, lines it sorts ...) to the
        exec's memory budget until the process ends; raises ``LimitExceeded`` past
        ``max_memory``."""
        if self.held is None:
            self.held = self.budget.hold(what or self.name)
        if what is not None and what != self.held.what:
            self.held.what = what
        self.held.add(n)

    def release_memory(self) -> None:
        if self.held is not None:
            self.held.close()

    @property
    def name(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else "?"

    async def out(self, data: bytes | str) -> None:
        """Write to stdout (str is UTF-8 encoded with surrogateescape)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        await self.stdout.write(data)

    async def err(self, message: str) -> None:
        """Write ``"<name>: <message>\\n"`` to stderr."""
        await self.stderr.write(f"{self.name}: {message}\n".encode("utf-8", "surrogateescape"))

    async def os_error(self, exc: OSError, path: str | None = None) -> None:
        """``"<name>: <path>: No such file or directory"`` for an OSError."""
        shown = path if path is not None else (exc.filename if exc.filename else None)
        text = exc.strerror or str(exc)
        if shown is not None:
            await self.err(f"{shown}: {text}")
        else:
            await self.err(text)

    def check_killed(self) -> None:
        """Raise :class:`ProcessKilled` if a signal is pending (long loops call this)."""
        if self.info is not None and self.info.pending_signal is not None:
            raise ProcessKilled(self.info.pending_signal)

    async def checkpoint(self) -> None:
        """A safe point: pause while this process is stopped, then raise
        :class:`ProcessKilled` if a signal is pending."""
        info = self.info
        if info is not None:
            group = info.group
            if group is not None and group.stop_signal is not None:
                await group.wait_continued(info)
            if info.pending_signal is not None:
                raise ProcessKilled(info.pending_signal)

    async def run(
        self,
        argv: list[str],
        *,
        stdin: InputStream | None = None,
        stdout: OutputStream | None = None,
        stderr: OutputStream | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        """Run another command as a child process and return its exit status
        (127 and a message when it does not exist, 126 when denied)."""
        return await self.kernel.run_command(
            argv,
            stdin=self.stdin if stdin is None else stdin,
            stdout=self.stdout if stdout is None else stdout,
            stderr=self.stderr if stderr is None else stderr,
            env=self.env if env is None else env,
            cwd=self.cwd if cwd is None else cwd,
            ppid=self.pid,
            limits=self.limits,
            budget=self.budget,
        )

    def command_exists(self, name: str) -> bool:
        return self.kernel.lookup_command(name, self.env) is not None


def iter_env(env: dict[str, str]) -> Iterable[str]:
    return (f"{k}={v}" for k, v in env.items())
