"""The shell's state as builtins see it: the variable table (scopes, namerefs), the typed
``set -o`` and ``shopt`` options next to it, the positional parameters, functions and aliases,
and the exported environment worked out from the variables.

:class:`ShellState` owns these and forks them for a subshell; :class:`~pocketos.shell.interp.
Shell` is built on it. A fork costs little: the variable table is copy-on-write
(:meth:`~pocketos.shell.vartable.VarTable.fork`), and the options are shared with the parent
until either side changes them (:meth:`ShellState.own_opts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pocketos.shell.options import SetOptions, Shopts
from pocketos.shell.state import ATTR_EXPORT, Var
from pocketos.shell.vartable import VarTable

if TYPE_CHECKING:
    from pocketos.shell.ast import FuncDef

__all__ = ["ShellState"]


class ShellState:
    """Variables, options, positional parameters, functions and aliases.

    ``opts`` and ``shopt`` are read directly (``opts.errexit`` on every command); a change
    goes through :meth:`own_opts` / :meth:`own_shopt`. ``vars`` is read with dict access and
    changed through the table's own API."""

    vars: VarTable
    opts: SetOptions
    shopt: Shopts
    positional: list[str]
    functions: dict[str, FuncDef]
    aliases: dict[str, str]
    _env_cache: dict[str, str] | None

    def _init_state(self, env: Mapping[str, str], args: list[str]) -> None:
        self.vars = VarTable((k, Var(v, ATTR_EXPORT)) for k, v in env.items())
        self.opts = SetOptions()
        self.shopt = Shopts()
        self.positional = list(args)
        self.functions = {}
        self.aliases = {}
        self._env_cache = None

    def _fork_state(self, child: ShellState) -> None:
        """Give ``child`` (a subshell, already a shallow copy of this shell) state of its own."""
        if self._env_cache is None:
            # worked out once here, not once per subshell that runs a command
            self.exported_env()
        child._env_cache = self._env_cache
        child.vars = self.vars.fork()
        child.functions = dict(self.functions)
        child.aliases = dict(self.aliases)
        child.positional = list(self.positional)
        # the options are shared until either side changes them (see ``own_opts``)
        child.opts = self.opts.share()
        child.shopt = self.shopt.share()

    # --- options ------------------------------------------------------------------------------
    def own_opts(self) -> SetOptions:
        """The ``set -o`` options, ready to be changed: a fork shares them with its parent
        until one side changes them (a shared set refuses changes), so every change goes
        through here."""
        opts = self.opts
        if opts.shared:
            opts = self.opts = opts.copy()
        return opts

    def own_shopt(self) -> Shopts:
        """The ``shopt`` options, ready to be changed (see :meth:`own_opts`)."""
        shopt = self.shopt
        if shopt.shared:
            shopt = self.shopt = shopt.copy()
        return shopt

    # --- the environment of commands ----------------------------------------------------------
    def exported_env(self) -> dict[str, str]:
        """The exported variables with a scalar value: the environment of external commands."""
        env = self._env_cache
        if env is None:
            env = {
                k: v.value
                for k, v in self.vars.items()
                if v.attrs & ATTR_EXPORT and isinstance(v.value, str)
            }
            self._env_cache = env
        return env

    def env_changed(self) -> None:
        """An exported variable was set, unset or (un)exported: work the environment out
        again when it is next needed."""
        self._env_cache = None
