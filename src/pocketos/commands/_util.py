"""Helpers shared by the shell utilities."""

from __future__ import annotations

from pocketos.commands._args import Opt, Parsed
from pocketos.commands._args import parse as _raw_parse
from pocketos.commands._fs import (
    short_keys,
)

HELP = Opt("", "help")


def parse(name: str, args: list[str], spec: list[Opt], **kw: object) -> Parsed:
    return _raw_parse(name, args, short_keys(spec), **kw)  # type: ignore[arg-type]


def _try(name: str) -> str:
    return f"Try '{name} --help' for more information."
