"""The userland's commands, and the providers that hand them to a VM.

A command is ``async def cmd(ctx: Context) -> int``; it reads ``ctx.stdin``, writes ``ctx.stdout``
and ``ctx.stderr`` (bytes), reaches files only through ``ctx.fs`` and returns its exit status.
Each module defines its commands with :func:`command`. A :class:`Provider` knows which module
defines which names and imports a module the first time one of its commands is resolved, so a
VM pays only for the commands it runs. The facade's composition root (:mod:`pocketos.assembly`)
builds each VM's command table from providers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping

from pocketos.kernel.commands import CommandFunc

__all__ = ["BY_MODULE", "LOAD_ERRORS", "CommandFunc", "Provider", "command"]

#: module name -> command name -> function, filled by :func:`command` as modules are imported
BY_MODULE: dict[str, dict[str, CommandFunc]] = {}

#: module -> error text, for command modules that failed to import (a test asserts it is empty)
LOAD_ERRORS: dict[str, str] = {}


def command(*names: str) -> Callable[[CommandFunc], CommandFunc]:
    """Define a command under one or more names (in the module the function is defined in)."""

    def deco(fn: CommandFunc) -> CommandFunc:
        table = BY_MODULE.setdefault(fn.__module__, {})
        for name in names:
            table[name] = fn
        return fn

    return deco


def load_module(module: str) -> dict[str, CommandFunc]:
    """Import ``module`` once and return the commands it defines (none if it cannot be
    imported: a missing optional module is skipped, any other failure is kept in
    :data:`LOAD_ERRORS`)."""
    table = BY_MODULE.get(module)
    if table is not None:
        return table
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            LOAD_ERRORS[module] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one broken module must not take the others down
        LOAD_ERRORS[module] = f"{type(exc).__name__}: {exc}"
    return BY_MODULE.setdefault(module, {})


class Provider:
    """Commands defined by modules, each module imported on first use.

    ``modules`` maps a module name to the command names it defines; the names are known
    without importing anything (a test checks them against what the modules define).
    """

    def __init__(self, name: str, modules: Mapping[str, Iterable[str]]) -> None:
        self._name = name
        self._where = {cmd: mod for mod, cmds in modules.items() for cmd in cmds}
        self._names = frozenset(self._where)
        self.modules = tuple(modules)

    @property
    def name(self) -> str:
        return self._name

    def names(self) -> frozenset[str]:
        return self._names

    def module_of(self, name: str) -> str | None:
        return self._where.get(name)

    def get(self, name: str) -> CommandFunc | None:
        mod = self._where.get(name)
        if mod is None:
            return None
        table = BY_MODULE.get(mod)
        if table is None:
            table = load_module(mod)
        return table.get(name)

    def load(self) -> dict[str, CommandFunc]:
        """Import every module now; name -> command for those that loaded."""
        out: dict[str, CommandFunc] = {}
        for name in sorted(self._names):
            fn = self.get(name)
            if fn is not None:
                out[name] = fn
        return out

    def __repr__(self) -> str:
        return f"Provider({self._name!r}, {len(self._names)} commands)"
