"""The settings of one grep or rg run, and what its option parsers share."""

from __future__ import annotations

from dataclasses import dataclass, field

from pocketos.commands._args import UsageError

ENC = "utf-8"
ERRS = "surrogateescape"
CHUNK = 256 * 1024


class Stop(Exception):
    """Stop searching everything (``-q`` found a match)."""


@dataclass
class Config:
    name: str = "grep"
    invert: bool = False
    count: bool = False
    files_with: bool = False
    files_without: bool = False
    quiet: bool = False
    only: bool = False
    line_number: bool = False
    byte_offset: bool = False
    with_filename: bool = False
    max_count: int | None = None
    before: int = 0
    after: int = 0
    context_opt: bool = False  # -A/-B/-C given (even 0): groups get separators
    group_sep: str | None = "--"
    skip_dirs: bool = False
    null_name: bool = False
    initial_tab: bool = False
    eol: str = "\n"
    binary: str = "binary"  # binary | text | without-match
    no_messages: bool = False
    label: str = "(standard input)"
    recursive: bool = False
    deref: bool = False
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    exclude_dirs: list[str] = field(default_factory=list)
    # rg-specific
    rg: bool = False
    hidden: bool = False
    globs: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    types_not: list[str] = field(default_factory=list)
    # state shared across files
    printed_group: bool = False
    error: bool = False


def count_arg(name: str, value: str, what: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise UsageError(f"{name}: {value}: invalid {what} argument", 2)
    if v < 0:
        raise UsageError(f"{name}: {value}: invalid {what} argument", 2)
    return v
