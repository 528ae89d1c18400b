"""The bash-compatible shell: parser, expansion, interpreter and builtins."""

from __future__ import annotations

from pocketos.shell import command as _command  # noqa: F401  (registers bash and sh)
from pocketos.shell.interp import Shell, run_script
from pocketos.shell.parser import ShellSyntaxError, parse

__all__ = ["Shell", "ShellSyntaxError", "parse", "run_script"]
