"""What every ``pocketos`` subcommand module shares: the program name, :class:`CLIError` (one
``pocketos: error: ...`` line with a status) and the argparse parser that raises it."""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["PROG", "CLIError"]

PROG = "pocketos"


class CLIError(Exception):
    """A failure reported as one ``pocketos: error: ...`` line with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) raised as :class:`CLIError`."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')", 2)
