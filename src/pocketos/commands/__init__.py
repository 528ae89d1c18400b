"""The userland: commands registered by name.

A command is ``async def cmd(ctx: Context) -> int``; it reads ``ctx.stdin``, writes ``ctx.stdout``
and ``ctx.stderr`` (bytes), reaches files only through ``ctx.fs`` and returns its exit status.
Families live in one module each and register themselves with :func:`command`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

CommandFunc = Callable[["Context"], Awaitable[int]]

__all__ = ["REGISTRY", "CommandFunc", "command", "get_command", "load_all"]

#: name -> command function; filled by the family modules on import
REGISTRY: dict[str, CommandFunc] = {}

#: modules that define commands; each registers its commands when imported
FAMILIES = [
    "pocketos.commands.ls",
    "pocketos.commands.cp",
    "pocketos.commands.rm",
    "pocketos.commands.touch",
    "pocketos.commands.ln",
    "pocketos.commands.chmod",
    "pocketos.commands.stat_cmd",
    "pocketos.commands.paths",
    "pocketos.commands.du",
    "pocketos.commands.tree",
    "pocketos.commands.file_cmd",
    "pocketos.commands.mktemp",
    "pocketos.commands.truncate",
    "pocketos.commands.split",
    "pocketos.commands.dd",
    "pocketos.commands.text",
    "pocketos.commands.grep",
    "pocketos.commands.sed",
    "pocketos.commands.awk",
    "pocketos.commands.jq",
    "pocketos.commands.yq",
    "pocketos.commands.b64",
    "pocketos.commands.checksums",
    "pocketos.commands.sqlite",
    "pocketos.commands.compress",
    "pocketos.commands.tar",
    "pocketos.commands.zip_cmd",
    "pocketos.commands.env",
    "pocketos.commands.which",
    "pocketos.commands.date",
    "pocketos.commands.sleep",
    "pocketos.commands.seq",
    "pocketos.commands.expr",
    "pocketos.commands.factor",
    "pocketos.commands.numfmt",
    "pocketos.commands.sysinfo",
    "pocketos.commands.testcmd",
    "pocketos.commands.tput",
    "pocketos.commands.echo",
    "pocketos.commands.find",
    "pocketos.commands.xargs",
    "pocketos.commands.later",
    "pocketos.shell.command",
    # real implementations that replace the "not available yet" placeholders of `later`
    "pocketos.wasm.commands",
    "pocketos.net.commands",
    "pocketos.tools.commands",
    "pocketos.sandbox.command",
    "pocketos.git.command",
]

_loaded = False

#: family module -> error text, for families that failed to import (a test asserts it is empty)
LOAD_ERRORS: dict[str, str] = {}


def command(*names: str) -> Callable[[CommandFunc], CommandFunc]:
    """Register a command under one or more names."""

    def deco(fn: CommandFunc) -> CommandFunc:
        for name in names:
            REGISTRY[name] = fn
        return fn

    return deco


def load_all() -> dict[str, CommandFunc]:
    """Import every family module (missing ones are skipped) and return the registry."""
    global _loaded
    if not _loaded:
        for mod in FAMILIES:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:
                if exc.name != mod:
                    LOAD_ERRORS[mod] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # one broken family must not take the others down
                LOAD_ERRORS[mod] = f"{type(exc).__name__}: {exc}"
        _loaded = True
    return REGISTRY


def get_command(name: str) -> CommandFunc | None:
    if not _loaded:
        load_all()
    return REGISTRY.get(name)
