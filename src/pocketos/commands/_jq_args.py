"""jq's command line: its options (:class:`JqOptions`), how ``argv`` is read into them, and the
errors that reading reports with jq's own wording and exit statuses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_JQ_TRY = (
    "Use jq --help for help with command-line options,\n"
    "or see the jq manpage, or online docs  at https://jqlang.org"
)


class JqError(Exception):
    """A jq-level failure with its exit status (message already formatted)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class JqOptions:
    raw: bool = False
    join: bool = False
    nul: bool = False
    ascii: bool = False
    compact: bool = False
    slurp: bool = False
    null_input: bool = False
    raw_input: bool = False
    exit_status: bool = False
    sort_keys: bool = False
    seq: bool = False
    stream: bool = False
    indent: str | None = "  "
    named: dict[str, Any] = field(default_factory=dict)
    positional: list[Any] = field(default_factory=list)


# options that only turn settings on: long name -> the JqOptions fields they set
_JQ_SWITCHES: dict[str, tuple[str, ...]] = {
    "raw-output": ("raw",),
    "raw-output0": ("raw", "nul"),
    "join-output": ("raw", "join"),
    "ascii-output": ("ascii",),
    "compact-output": ("compact",),
    "slurp": ("slurp",),
    "null-input": ("null_input",),
    "raw-input": ("raw_input",),
    "exit-status": ("exit_status",),
    "sort-keys": ("sort_keys",),
    "color-output": (),
    "monochrome-output": (),
    "unbuffered": (),
}
_JQ_SHORT_SWITCHES = {
    "r": "raw-output",
    "j": "join-output",
    "a": "ascii-output",
    "c": "compact-output",
    "s": "slurp",
    "n": "null-input",
    "R": "raw-input",
    "e": "exit-status",
    "S": "sort-keys",
    "C": "color-output",
    "M": "monochrome-output",
}


def _jq_switch(o: JqOptions, name: str) -> None:
    for attr in _JQ_SWITCHES[name]:
        setattr(o, attr, True)


def _parse_jq_argv(argv: list[str]) -> tuple[JqOptions, str | None, list[str], bool, str | None]:
    """Returns (options, filter, files, help, from_file). Raises JqError for usage errors."""
    o = JqOptions()
    program: str | None = None
    files: list[str] = []
    from_file: str | None = None
    positional_mode: str | None = None
    want_help = False
    i = 0
    n = len(argv)
    no_more_opts = False

    def need(k: int, what: str) -> list[str]:
        if i + k >= n:
            raise JqError(
                f"jq: error: {what} takes {'two parameters' if k == 2 else 'a parameter'}"
                f" (e.g. {what} {'varname value' if k == 2 else 'value'})\n{_JQ_TRY}",
                2,
            )
        return argv[i + 1 : i + 1 + k]

    def add_positional(a: str) -> None:
        if positional_mode == "json":
            try:
                o.positional.append(json.loads(a))
            except ValueError:
                raise JqError(f"jq: Invalid JSON text passed to --jsonargs\n{_JQ_TRY}", 2)
        else:
            o.positional.append(a)

    while i < n:
        a = argv[i]
        if no_more_opts or not a.startswith("-") or a == "-":
            if program is None and from_file is None:
                program = a
            elif positional_mode is not None:
                add_positional(a)
            else:
                files.append(a)
            i += 1
            continue
        if a == "--":
            no_more_opts = True
            i += 1
            continue
        if a.startswith("--"):
            name = a[2:]
            if name in _JQ_SWITCHES:
                _jq_switch(o, name)
            elif name == "tab":
                o.indent = "\t"
            elif name == "indent":
                (v,) = need(1, "--indent")
                try:
                    k = int(v)
                except ValueError:
                    raise JqError(f"jq: --indent takes a number\n{_JQ_TRY}", 2)
                if k < -1 or k > 7:
                    raise JqError(f"jq: Cannot indent more than 7 characters\n{_JQ_TRY}", 2)
                o.indent = None if k <= 0 else " " * k
                i += 1
            elif name == "seq":
                o.seq = True
            elif name == "stream":
                o.stream = True
            elif name == "arg":
                name_, v = need(2, "--arg")
                o.named[name_] = v
                i += 2
            elif name == "argjson":
                name_, v = need(2, "--argjson")
                try:
                    o.named[name_] = json.loads(v)
                except ValueError:
                    raise JqError(f"jq: Invalid JSON text passed to --argjson\n{_JQ_TRY}", 2)
                i += 2
            elif name in ("slurpfile", "rawfile"):
                name_, v = need(2, "--" + name)
                o.named[name_] = ("\0file", name, v)
                i += 2
            elif name == "args":
                positional_mode = "str"
            elif name == "jsonargs":
                positional_mode = "json"
            elif name == "from-file":
                (v,) = need(1, "-f")
                from_file = v
                i += 1
            elif name == "help":
                want_help = True
            elif name == "version":
                raise JqError("\0version", 0)
            else:
                raise JqError(f"jq: Unknown option: {a}\n{_JQ_TRY}", 2)
            i += 1
            continue
        # short options, possibly clustered
        for c in a[1:]:
            if c in _JQ_SHORT_SWITCHES:
                _jq_switch(o, _JQ_SHORT_SWITCHES[c])
            elif c == "h":
                want_help = True
            elif c == "V":
                raise JqError("\0version", 0)
            elif c == "f":
                (v,) = need(1, "-f")
                from_file = v
                i += 1
                break
            elif c == "L":
                raise JqError(
                    f"jq: error: modules are not available in this environment\n{_JQ_TRY}", 2
                )
            else:
                raise JqError(f"jq: Unknown option: {a}\n{_JQ_TRY}", 2)
        i += 1
    if from_file is not None and program is not None:
        # with -f the first operand is a file, not the program
        files.insert(0, program)
        program = None
    return o, program, files, want_help, from_file
