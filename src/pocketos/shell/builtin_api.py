"""What each family of builtins may use of the shell: one small interface per family, made of
the state (:class:`~pocketos.shell.shellstate.ShellState`'s parts), output and named callbacks.

A builtin is called with the shell, but it is typed against its family's interface, so the type
checker refuses a builtin that reaches anything else of the interpreter. The interfaces are
structural (``typing.Protocol``): ``Shell`` satisfies each of them without knowing them, and
calling a builtin costs nothing more than before. ``docs/shell.md`` lists how many of the
shell's attributes each family sees."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from pocketos.kernel.fs.view import FsView
    from pocketos.kernel.process import Context
    from pocketos.shell.ast import FuncDef, Script, Simple
    from pocketos.shell.interp import Shell
    from pocketos.shell.jobs import _Job
    from pocketos.shell.options import SetOptions, Shopts
    from pocketos.shell.parser import ShellSyntaxError
    from pocketos.shell.state import Var
    from pocketos.shell.vartable import VarTable

__all__ = [
    "DirsShell",
    "FlowShell",
    "JobsShell",
    "MiscShell",
    "ReadShell",
    "ShellIO",
    "StateShell",
]

_T = TypeVar("_T")


class ShellIO(Protocol):
    """Output, and errors in bash's form (``bash: line N: ...``)."""

    argv0: str

    async def write_out(self, data: str | bytes) -> None: ...

    async def write_err(self, s: str) -> None: ...

    async def error(self, msg: str) -> None: ...


class _Variables(ShellIO, Protocol):
    """The variable table and the callbacks that change variables with their side effects
    (attributes, exports, arrays, integer evaluation)."""

    vars: VarTable

    def get_str(self, name: str) -> str | None: ...

    def assign_var(
        self, name: str, value: str, *, index: str | None = None, append: bool = False
    ) -> None: ...

    def unset_var(self, name: str, index: str | None = None) -> None: ...

    async def subscript_key(self, name: str, index: str) -> str: ...

    def env_changed(self) -> None: ...


class StateShell(_Variables, Protocol):
    """``declare``/``local``/``export``/``readonly``, ``unset``, ``let``, ``shift``, ``set``,
    ``shopt``: the shell's state (variables, options, positional parameters, functions)."""

    opts: SetOptions
    shopt: Shopts
    positional: list[str]
    functions: dict[str, FuncDef]
    #: names assigned in front of the running builtin, with the values restored when it returns
    temp_env: dict[str, Var | None]
    #: a terminal's shell (``set -n`` is stored, not obeyed)
    interactive: bool

    def own_opts(self) -> SetOptions: ...

    def own_shopt(self) -> Shopts: ...

    def declare_local(self, name: str) -> None: ...

    async def assign_array(
        self, name: str, elems: list[Any], append: bool, index: str | None = None
    ) -> None: ...


class DirsShell(_Variables, Protocol):
    """``pwd``, ``cd``, ``pushd``, ``popd``, ``dirs``: the working directory and its stack."""

    cwd: str
    fs: FsView
    dirstack: list[str]


class ReadShell(_Variables, Protocol):
    """``read``, ``mapfile``: the fd table and the variables they fill."""

    fds: dict[int, Any]

    def ifs(self) -> str: ...

    def set_var_obj(self, name: str, var: Var) -> None: ...


class JobsShell(ShellIO, Protocol):
    """``trap``, ``wait``, ``jobs``, ``kill``, ``caller``, ``ulimit``: jobs and traps."""

    ctx: Context
    jobs: list[_Job]
    parent_jobs: list[_Job]
    interactive: bool
    traps: dict[str, str]
    shown_traps: dict[str, str] | None
    funcnames: list[str]
    lineno: int
    bashpid: int
    return_trap_sets: int

    @property
    def job_control(self) -> bool: ...

    async def wait_foreground(self, job: _Job) -> int: ...

    async def run_trap(self, name: str) -> None: ...

    def sync_caught_signals(self) -> None: ...


class MiscShell(_Variables, Protocol):
    """The small builtins (``echo``, ``printf``, ``test``, ``getopts``, ``umask``, ``times``,
    ``help``...)."""

    cwd: str
    fs: FsView
    opts: SetOptions
    shopt: Shopts
    positional: list[str]
    getopts_state: tuple[int, int]
    umask_value: int

    def fd_isatty(self, fd: int) -> bool: ...

    def var_isset(self, arg: str) -> bool: ...


class FlowShell(ShellIO, Protocol):
    """``exit``, ``return``, ``break``/``continue``, ``eval``, ``source``, ``exec``,
    ``builtin``, ``command``, ``type``, ``hash``, ``alias``: the builtins that run code, so
    they see the evaluator through named callbacks."""

    ctx: Context
    cwd: str
    fs: FsView
    opts: SetOptions
    shopt: Shopts
    positional: list[str]
    functions: dict[str, FuncDef]
    aliases: dict[str, str]
    disabled_builtins: frozenset[str]
    hash_table: dict[str, str]
    traps: dict[str, str]
    funcnames: list[str]
    lineno: int
    last_status: int
    call_depth: int
    loop_depth: int
    sourcing: int
    in_trap: bool
    keep_fds: bool
    interactive: bool
    is_subshell: bool
    jobs: list[_Job]
    exit_warned: int
    runs: int

    def get_str(self, name: str) -> str | None: ...

    def exported_env(self) -> dict[str, str]: ...

    async def exec_script(self, script: Script) -> int: ...

    async def exec_read(self, script: Script) -> int: ...

    async def nested(self, coro: Coroutine[Any, Any, _T]) -> _T: ...

    async def run_trap(self, name: str) -> None: ...

    async def run_incremental(
        self, source: str, err: ShellSyntaxError, where: str | None = None, fatal: bool = True
    ) -> int: ...

    async def run_external(self, cmd: Simple, argv: list[str]) -> int: ...

    def abs_path(self, path: str) -> str: ...


def _shell_fits(sh: Shell) -> None:
    """Never called: the type checker proves here that ``Shell`` offers every interface."""
    io: ShellIO = sh
    state: StateShell = sh
    dirs: DirsShell = sh
    read: ReadShell = sh
    jobs: JobsShell = sh
    misc: MiscShell = sh
    flow: FlowShell = sh
    del io, state, dirs, read, jobs, misc, flow
