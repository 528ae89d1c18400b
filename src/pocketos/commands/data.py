"""Data commands: jq, yq, sqlite3, base64 and the checksum family.

``jq`` runs the real jq language through libjq (PyPI ``jq``). Every result is serialized by jq
itself (``tojson``) and re-indented here token by token, so numbers, key order and string
escapes are exactly what jq prints. ``yq`` reads YAML, runs the same engine and writes YAML.
``sqlite3`` works on a database file held in the VM filesystem: the bytes are loaded into an
in-memory connection and written back only when the database changed.
"""

from __future__ import annotations

import base64 as _b64
import binascii
import csv
import hashlib
import io
import json
import re
import sqlite3 as _sqlite
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jq as _jq
import yaml

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["JqOptions", "format_json"]

CHUNK = 64 * 1024


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


async def _read_operand(ctx: Context, name: str) -> bytes:
    """Whole contents of a file operand (``-`` is stdin). Raises OSError."""
    if name == "-":
        return await ctx.stdin.read()
    st = ctx.fs.stat(name)
    if st.is_dir():
        raise IsADirectoryError(21, "Is a directory", name)
    return ctx.fs.read_bytes(name)


async def _iter_operand(ctx: Context, name: str) -> AsyncIterator[bytes]:
    """Chunks of a file operand (``-`` is stdin). Raises OSError."""
    if name == "-":
        async for chunk in ctx.stdin.chunks(CHUNK):
            yield chunk
        return
    st = ctx.fs.stat(name)
    if st.is_dir():
        raise IsADirectoryError(21, "Is a directory", name)
    with ctx.fs.open(name, "rb") as fh:
        while True:
            data = fh.read(CHUNK)
            if not data:
                return
            yield data
            ctx.check_killed()


# =============================================================================================
# JSON output formatting (shared by jq and yq)
# =============================================================================================

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^{}\[\]:,"]+')
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _ascii_escape(m: re.Match[str]) -> str:
    cp = ord(m.group(0))
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def format_json(compact: str, indent: str | None, ascii_only: bool = False) -> str:
    """Re-indent jq's compact JSON text like jq does (``indent`` None: compact)."""
    if ascii_only:
        compact = _NON_ASCII.sub(_ascii_escape, compact)
    if indent is None or len(compact) < 2 or compact[0] not in "[{":
        return compact
    toks = _TOKEN.findall(compact)
    out: list[str] = []
    depth = 0
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if t == "{" or t == "[":
            if i + 1 < n and toks[i + 1] == ("}" if t == "{" else "]"):
                out.append(t + toks[i + 1])
                i += 2
                continue
            depth += 1
            out.append(t + "\n" + indent * depth)
        elif t == "}" or t == "]":
            depth -= 1
            out.append("\n" + indent * depth + t)
        elif t == ",":
            out.append(",\n" + indent * depth)
        elif t == ":":
            out.append(": ")
        else:
            out.append(t)
        i += 1
    return "".join(out)


# =============================================================================================
# jq
# =============================================================================================

_JQ_VERSION = "jq-1.8.2"
_JQ_USAGE = """Usage:\tjq [OPTIONS] FILTER [FILES...]
\tjq [OPTIONS] --args FILTER [ARGUMENTS...]
\tjq [OPTIONS] --jsonargs FILTER [JSON_VALUES...]

jq is a tool for processing JSON inputs, applying the given filter to
its JSON text inputs and producing the filter's results as JSON on
standard output.

Example:

\t$ echo '{"foo": 0}' | jq .
\t{
\t  "foo": 0
\t}

Command options:
  -n, --null-input          use `null` as the single input value;
  -R, --raw-input           read each line as string instead of JSON;
  -s, --slurp               read all inputs into an array and use it as
                            the single input value;
  -c, --compact-output      compact instead of pretty-printed output;
  -r, --raw-output          output strings without escapes and quotes;
      --raw-output0         implies -r and output NUL after each output;
  -j, --join-output         implies -r and output without newline after
                            each output;
  -a, --ascii-output        output strings by only ASCII characters
                            using escape sequences;
  -S, --sort-keys           sort keys of each object on output;
  -C, --color-output        accepted; output is never colored;
  -M, --monochrome-output   disable colored output;
      --tab                 use tabs for indentation;
      --indent n            use n spaces for indentation (max 7 spaces);
      --seq                 output with RS (0x1E) before each value;
      --stream              parse the input in streaming fashion;
  -f, --from-file file      load filter from the file;
      --arg name value      set $name to the string value;
      --argjson name value  set $name to the JSON value;
      --slurpfile name file set $name to an array of JSON values read
                            from the file;
      --rawfile name file   set $name to string contents of file;
      --args                consume remaining arguments as positional
                            string values;
      --jsonargs            consume remaining arguments as positional
                            JSON values;
  -e, --exit-status         set exit status code based on the output;
  -V, --version             show the version;
  -h, --help                show the help;
  --                        terminates argument processing;
"""

_JQ_TRY = (
    "Use jq --help for help with command-line options,\n"
    "or see the jq manpage, or online docs  at https://jqlang.org"
)

# Definitions placed in front of every program: the VM's environment instead of the host's,
# $ARGS, input/inputs over the collected inputs, and halt/halt_error reported back to us.
_JQ_PRELUDE = (
    "$__pocketos_env as $ENV | $__pocketos_args as $ARGS | "
    "def env: $ENV; "
    "def halt: error({__pocketos_halt: 0, value: null, raw: false}); "
    "def halt_error($c): error({__pocketos_halt: $c, value: ., raw: true}); "
    "def halt_error: halt_error(5); "
    "def input_filename: $__pocketos_filename; "
    "def get_search_list: []; "
    "def leaf_paths: paths(scalars); "
    "def input_line_number: 0; "
    "def recurse_down: recurse; "
    "def input: if ($__pocketos_inputs | length) > 0 then $__pocketos_inputs[0] "
    'else error("No more inputs") end; '
    "def inputs: $__pocketos_inputs[]; "
    'def _pocketos_sort: if type == "object" then to_entries | sort_by(.key) '
    "| map(.value |= _pocketos_sort) | from_entries "
    'elif type == "array" then map(_pocketos_sort) else . end; '
)
_INPUTS_RE = re.compile(r"(?<![.$\w])inputs?\b")
_MODULE_RE = re.compile(r"(?<![.$\w])(import|include|modulemeta)\b")
_STRIP_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|#[^\n]*')


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


class JqProgram:
    """A compiled jq program bound to the VM environment."""

    def __init__(self, source: str, opts: JqOptions, env: dict[str, str]) -> None:
        self.source = source
        self.opts = opts
        code = _STRIP_STRINGS.sub('""', source)
        if _MODULE_RE.search(code):
            raise JqError(
                "jq: error: modules are not available in this environment\njq: 1 compile error", 3
            )
        self.uses_inputs = bool(_INPUTS_RE.search(code))
        self.args: dict[str, Any] = dict(opts.named)
        self.args["__pocketos_env"] = dict(env)
        self.args["__pocketos_args"] = {
            "positional": list(opts.positional),
            "named": dict(opts.named),
        }
        self.args["__pocketos_inputs"] = []
        self.args["__pocketos_filename"] = None
        tail = " | _pocketos_sort" if opts.sort_keys else ""
        wrapped = _JQ_PRELUDE + "(" + source + "\n)" + tail + " | tojson"
        try:
            self.prog = _compile_cached(wrapped, self.args)
        except ValueError:
            # compile the bare program to report the error at the user's line and column
            try:
                _jq.compile(source, args=self.args)
            except ValueError as exc:
                raise JqError(str(exc), 3) from None
            except Exception as exc:  # pragma: no cover - defensive
                raise JqError(f"jq: error: {exc}\njq: 1 compile error", 3) from None
            raise JqError("jq: error: cannot compile program\njq: 1 compile error", 3) from None

    def with_inputs(self, inputs: list[Any], filename: str | None) -> Any:
        if not inputs and filename is None:
            return self.prog
        args = dict(self.args)
        args["__pocketos_inputs"] = inputs
        args["__pocketos_filename"] = filename
        return _jq.compile(
            _JQ_PRELUDE
            + "("
            + self.source
            + "\n)"
            + (" | _pocketos_sort" if self.opts.sort_keys else "")
            + " | tojson",
            args=args,
        )


_COMPILED: dict[str, Any] = {}
_COMPILED_MAX = 64


def _compile_cached(text: str, args: dict[str, Any]) -> Any:
    """Compile once per (program, arguments): compiling pulls in jq's whole builtin library."""
    try:
        key = text + "\0" + json.dumps(args, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return _jq.compile(text, args=args)
    prog = _COMPILED.get(key)
    if prog is None:
        prog = _jq.compile(text, args=args)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = prog
    return prog


async def _jq_slice(fn: Callable[..., Any], *args: Any) -> Any:
    """Run one bounded slice of jq work.

    libjq keeps the GIL while it evaluates, so a worker thread would not let the event loop
    run any sooner; the work is done inline in slices (a batch of inputs, a few thousand
    results) with the deadline and pending signals checked between slices.
    """
    return fn(*args)


@dataclass
class _Event:
    kind: str  # "out" | "err" | "halt"
    text: str = ""
    code: int = 0


def _eval(
    prog: Any, items: list[tuple[str, str]], limit: int, state: dict[str, Any]
) -> tuple[list[tuple[_Event, str]], bool]:
    """Run ``prog`` over ``items`` (JSON text, location), resuming from ``state``.

    Returns up to about ``limit`` events (each with its input's location) and whether all
    items are done, so that the caller can write output and check limits in between.
    """
    events: list[tuple[_Event, str]] = []
    i = state.get("i", 0)
    it = state.get("it")
    n = len(items)
    while i < n and len(events) < limit:
        text, where = items[i]
        if it is None:
            it = iter(prog.input_text(text))
        while len(events) < limit:
            try:
                value = next(it)
            except StopIteration:
                it = None
                i += 1
                break
            except ValueError as exc:
                events.append((_error_event(str(exc)), where))
                it = None
                i += 1
                break
            except Exception as exc:  # defensive: the engine must not crash the command
                events.append((_Event("err", f"{type(exc).__name__}: {exc}"), where))
                it = None
                i += 1
                break
            events.append((_Event("out", value), where))
    state["i"] = i
    state["it"] = it
    return events, i >= n


def _error_event(msg: str) -> _Event:
    if msg.startswith("{") and "__pocketos_halt" in msg:
        try:
            obj = json.loads(msg)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "__pocketos_halt" in obj:
            code = obj.get("__pocketos_halt")
            value = obj.get("value")
            text = ""
            if obj.get("raw"):
                if isinstance(value, str):
                    text = value
                else:
                    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
            return _Event("halt", text, int(code) if isinstance(code, (int, float)) else 5)
    if msg[:1] in ("{", "["):
        # a non-string error value: jq prints it compactly with a note
        try:
            value = json.loads(msg)
        except ValueError:
            return _Event("err", msg)
        return _Event("err", json.dumps(value, separators=(",", ":"), ensure_ascii=False), code=-1)
    return _Event("err", msg)


_WS = re.compile(r"[ \t\r\n]*")


class _JsonSplitter:
    """Splits a byte stream into JSON texts, one per top-level value."""

    def __init__(self) -> None:
        self.buf = ""
        self.pending = b""
        self.lines = 0
        self.need = 0
        self.decoder = json.JSONDecoder()

    def feed(self, data: bytes, eof: bool) -> tuple[list[tuple[str, int]], str | None]:
        """Returns (values as (text, line)), and a parse error message (only at EOF)."""
        data = self.pending + data
        if not eof:
            # keep an incomplete UTF-8 sequence for the next chunk
            cut = len(data)
            for back in range(1, 4):
                if cut - back < 0:
                    break
                b = data[cut - back]
                if b & 0xC0 == 0xC0:
                    width = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
                    if back < width:
                        cut -= back
                    break
                if b & 0x80 == 0:
                    break
            self.pending = data[cut:]
            data = data[:cut]
        else:
            self.pending = b""
        self.buf += data.decode("utf-8", "replace")
        if not eof and len(self.buf) < self.need:
            return [], None
        out: list[tuple[str, int]] = []
        buf = self.buf
        pos = 0
        n = len(buf)
        err: str | None = None
        # newlines are counted incrementally: (position, lines before it)
        seen_pos, seen_lines = 0, self.lines
        ws = _WS.match
        decode = self.decoder.raw_decode
        while True:
            pos = ws(buf, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            try:
                _, end = decode(buf, pos)
            except ValueError:
                if not eof:
                    self.need = (n - pos) * 2
                    break
                line0 = seen_lines + buf.count("\n", seen_pos, pos)
                vals, err = self._fallback(buf[pos:], line0)
                out.extend(vals)
                pos = n
                break
            # a number at the very end of a chunk may continue in the next one
            if end >= n and not eof and buf[end - 1] not in '}]"el':
                break
            self.need = 0
            seen_lines += buf.count("\n", seen_pos, end)
            seen_pos = end
            line = seen_lines + (1 if end < n and buf[end] == "\n" else 0)
            out.append((buf[pos:end], line))
            pos = end
        self.lines = seen_lines + buf.count("\n", seen_pos, pos)
        self.buf = buf[pos:]
        if eof:
            self.buf = ""
        return out, err

    @staticmethod
    def _fallback(text: str, line0: int) -> tuple[list[tuple[str, int]], str | None]:
        """Let jq's own parser read what Python's refused (``nan``, odd numbers, errors)."""
        vals: list[tuple[str, int]] = []
        try:
            for v in _jq.compile("tojson").input_text(text):
                vals.append((v, line0))
        except ValueError as exc:
            msg = str(exc)

            def shift(m: re.Match[str]) -> str:
                return f"at line {int(m.group(1)) + line0}, column"

            return vals, re.sub(r"at line (\d+), column", shift, msg, count=1)
        return vals, None


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


async def _load_named_files(ctx: Context, opts: JqOptions) -> None:
    for k, v in list(opts.named.items()):
        if isinstance(v, tuple) and len(v) == 3 and v[0] == "\0file":
            kind, path = v[1], v[2]
            try:
                data = ctx.fs.read_bytes(path)
            except OSError as exc:
                raise JqError(f"jq: error: Could not open {path}: {exc.strerror}", 2)
            if kind == "rawfile":
                opts.named[k] = data.decode("utf-8", "replace")
            else:
                sp = _JsonSplitter()
                vals, err = sp.feed(data, True)
                if err:
                    raise JqError(f"jq: Bad JSON in --slurpfile {k} {path}: {err}", 2)
                opts.named[k] = [json.loads(t) for t, _ in vals]


class _JqRunner:
    """Feeds inputs to a program and writes results; tracks the exit status."""

    def __init__(self, ctx: Context, prog: JqProgram, opts: JqOptions) -> None:
        self.ctx = ctx
        self.prog = prog
        self.opts = opts
        self.status = 0
        self.last: str | None = None
        self.halted = False
        self.indent = None if opts.compact else opts.indent

    def render(self, text: str) -> bytes:
        o = self.opts
        if o.raw and text.startswith('"'):
            try:
                s = json.loads(text)
            except ValueError:
                s = text
            if o.ascii:
                s = _NON_ASCII.sub(_ascii_escape, s)
            body = s.encode("utf-8", "replace")
        else:
            body = format_json(text, self.indent, o.ascii).encode("utf-8", "replace")
        if o.seq:
            body = b"\x1e" + body
        if o.nul:
            return body + b"\0"
        if o.join:
            return body
        return body + b"\n"

    async def run_one(self, text: str, where: str, program: Any | None = None) -> None:
        await self.run_many([(text, where)], program)

    async def run_many(self, items: list[tuple[str, str]], program: Any | None = None) -> None:
        """Run the program on each input (JSON text, location) and write the results."""
        if not items or self.halted:
            return
        prog = program if program is not None else self.prog.prog
        state: dict[str, Any] = {}
        done = False
        limit = 256
        while not done:
            self.ctx.check_killed()
            self.ctx.budget.check_time()
            events, done = await _jq_slice(_eval, prog, items, limit, state)
            limit = 8192
            out: list[bytes] = []
            for ev, where in events:
                if ev.kind == "out":
                    self.last = ev.text
                    out.append(self.render(ev.text))
                    continue
                if out:
                    await self.ctx.stdout.write(b"".join(out))
                    out = []
                if ev.kind == "err":
                    note = " (not a string)" if ev.code == -1 else ""
                    await self.ctx.stderr.write(_enc(f"jq: error (at {where}){note}: {ev.text}\n"))
                    self.status = 5
                else:
                    if ev.text:
                        await self.ctx.stderr.write(_enc(ev.text))
                    self.status = ev.code
                    self.halted = True
                    return
            if out:
                await self.ctx.stdout.write(b"".join(out))

    def exit_code(self) -> int:
        if self.halted:
            return self.status
        if self.status:
            return self.status
        if self.opts.exit_status:
            if self.last is None:
                return 4
            if self.last in ("null", "false"):
                return 1
        return 0


async def _jq_sources(
    ctx: Context, files: list[str]
) -> AsyncIterator[tuple[str, bytes | None, bool, str | None]]:
    """Yields (label, chunk, eof, error). error is a message for a file that failed."""
    if not files:
        async for chunk in ctx.stdin.chunks(CHUNK):
            yield "<stdin>", chunk, False, None
        yield "<stdin>", b"", True, None
        return
    for f in files:
        if f == "-":
            async for chunk in ctx.stdin.chunks(CHUNK):
                yield "<stdin>", chunk, False, None
            yield "<stdin>", b"", True, None
            continue
        try:
            if ctx.fs.isdir(f):
                raise IsADirectoryError(21, "Is a directory", f)
            data = ctx.fs.read_bytes(f)
        except OSError as exc:
            yield f, None, True, f"jq: error: Could not open {f}: {exc.strerror}"
            continue
        yield f, data, True, None


async def _jq_raw_chunks(
    ctx: Context, files: list[str], runner: _JqRunner
) -> AsyncIterator[tuple[bytes, str]]:
    """Raw input bytes chunk by chunk (for -R); reports files that cannot be read."""
    async for label, chunk, _eof, error in _jq_sources(ctx, files):
        if error:
            await ctx.stderr.write(_enc(error + "\n"))
            runner.status = 2
            continue
        if chunk:
            yield chunk, label


async def _jq_value_batches(
    ctx: Context, files: list[str], runner: _JqRunner
) -> AsyncIterator[list[tuple[str, str]]]:
    """Batches of (json_text, location) as input arrives; reports read and parse errors
    (a parse error ends the input, as in jq)."""
    splitter: _JsonSplitter | None = None
    current: str | None = None
    async for label, chunk, eof, error in _jq_sources(ctx, files):
        if error:
            await ctx.stderr.write(_enc(error + "\n"))
            runner.status = 2
            continue
        if label != current or splitter is None:
            splitter = _JsonSplitter()
            current = label
        vals, err = splitter.feed(chunk or b"", eof)
        if vals:
            yield [(text, f"{label}:{line}") for text, line in vals]
        if err:
            await ctx.stderr.write(_enc(err + "\n"))
            runner.status = 2
            raise _StopInput()


class _StopInput(Exception):
    pass


async def _raw_lines(
    ctx: Context, files: list[str], runner: _JqRunner
) -> AsyncIterator[list[tuple[str, str]]]:
    """-R: batches of lines, each as a JSON string text."""
    pending = b""
    count = 0
    label = "<stdin>"
    async for chunk, lab in _jq_raw_chunks(ctx, files, runner):
        label = lab
        pending += chunk
        *lines, pending = pending.split(b"\n")
        batch = []
        for ln in lines:
            count += 1
            batch.append((json.dumps(ln.decode("utf-8", "replace")), f"{label}:{count}"))
        if batch:
            yield batch
    if pending:
        count += 1
        yield [(json.dumps(pending.decode("utf-8", "replace")), f"{label}:{count}")]


async def _raw_all(ctx: Context, files: list[str], runner: _JqRunner) -> str:
    parts: list[bytes] = []
    async for chunk, _ in _jq_raw_chunks(ctx, files, runner):
        parts.append(chunk)
    return json.dumps(b"".join(parts).decode("utf-8", "replace"))


def _stream_events(text: str) -> list[str]:
    return list(_jq.compile("tostream | tojson").input_text(text))


@command("jq")
async def jq_cmd(ctx: Context) -> int:
    try:
        opts, program, files, want_help, from_file = _parse_jq_argv(ctx.argv[1:])
    except JqError as exc:
        if exc.message == "\0version":
            await ctx.out(_JQ_VERSION + "\n")
            return 0
        await ctx.stderr.write(_enc(exc.message + "\n"))
        return exc.status
    if want_help:
        await ctx.out(_JQ_USAGE)
        return 0
    try:
        if from_file is not None:
            try:
                program = _dec(ctx.fs.read_bytes(from_file))
            except OSError as exc:
                raise JqError(f"jq: error: Could not open {from_file}: {exc.strerror}", 2)
        if program is None:
            program = "."
        await _load_named_files(ctx, opts)
        prog = JqProgram(program, opts, ctx.env)
    except JqError as exc:
        await ctx.stderr.write(_enc(exc.message + "\n"))
        return exc.status
    runner = _JqRunner(ctx, prog, opts)
    return await run_jq(ctx, runner, files)


async def run_jq(ctx: Context, runner: _JqRunner, files: list[str]) -> int:
    opts = runner.opts
    prog = runner.prog

    async def batches() -> AsyncIterator[list[tuple[str, str]]]:
        if opts.raw_input:
            if opts.slurp:
                yield [(await _raw_all(ctx, files, runner), "<stdin>:0")]
            else:
                async for b in _raw_lines(ctx, files, runner):
                    yield b
            return
        async for batch in _jq_value_batches(ctx, files, runner):
            if opts.stream:
                yield [(ev, where) for text, where in batch for ev in _stream_events(text)]
            else:
                yield batch

    try:
        if opts.null_input or prog.uses_inputs or (opts.slurp and not opts.raw_input):
            collected: list[tuple[str, str]] = []
            if not opts.null_input or prog.uses_inputs:
                try:
                    async for batch in batches():
                        collected.extend(batch)
                except _StopInput:
                    pass
            if opts.slurp and not opts.raw_input:
                collected = [("[" + ",".join(t for t, _ in collected) + "]", "<stdin>:0")]
            if opts.null_input:
                first_text, where = "null", "<unknown>"
                rest = collected
            elif collected:
                (first_text, where), rest = collected[0], collected[1:]
            else:
                return runner.exit_code() if runner.status else _empty_status(runner)
            program: Any = None
            if prog.uses_inputs:
                parsed = [json.loads(t) for t, _ in rest]
                program = await _jq_slice(prog.with_inputs, parsed, None)
            await runner.run_many([(first_text, where)], program)
            return runner.exit_code()
        try:
            async for batch in batches():
                await runner.run_many(batch)
                if runner.halted:
                    break
        except _StopInput:
            pass
        return runner.exit_code()
    except ValueError as exc:
        await ctx.stderr.write(_enc(f"jq: error: {exc}\n"))
        return 2


def _empty_status(runner: _JqRunner) -> int:
    return 4 if runner.opts.exit_status else 0


# =============================================================================================
# yq (mikefarah yq v4 flavour on top of the jq engine)
# =============================================================================================

_YQ_USAGE = """Usage: yq [flags] [EXPRESSION] [FILE...]

Process YAML (or JSON) with jq expressions; output is YAML unless asked otherwise.

Flags:
  -o, --output-format FMT   yaml (default), json
  -p, --input-format FMT    yaml (default), json
  -j                        same as -o json
  -I, --indent N            indentation (default 2)
  -r, --unwrapScalar        print string scalars without quotes (default on)
  -c                        compact JSON output (with -o json)
  -n, --null-input          don't read input, start with null
  -e, --exit-status         exit 1 when the last result is false or null
  -i, --inplace             update the first file in place
  -s, --slurp               read all documents into one array
  --arg NAME VALUE          set $NAME
  -h, --help                show this help
"""


class _YqDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _yaml_str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_YqDumper.add_representer(str, _yaml_str_presenter)


def _yaml_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return ""


def _to_yaml(value: Any, indent: int, unwrap: bool) -> str:
    if isinstance(value, str) and unwrap:
        return value + "\n"
    if value is None or isinstance(value, (bool, int, float)):
        return _yaml_scalar(value) + "\n"
    if isinstance(value, (dict, list)) and not value:
        return ("{}" if isinstance(value, dict) else "[]") + "\n"
    text = yaml.dump(
        value,
        Dumper=_YqDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        indent=indent,
        width=10**9,
    )
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text


def _yaml_default(o: Any) -> Any:
    import datetime

    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    if isinstance(o, bytes):
        return _b64.b64encode(o).decode()
    return str(o)


@command("yq")
async def yq_cmd(ctx: Context) -> int:
    spec = [
        Opt("o", "output-format", "required"),
        Opt("p", "input-format", "required"),
        Opt("j", "", dest="json"),
        Opt("I", "indent", "required"),
        Opt("r", "unwrapScalar", "optional", dest="unwrap"),
        Opt("c", "", dest="compact"),
        Opt("n", "null-input"),
        Opt("e", "exit-status"),
        Opt("i", "inplace"),
        Opt("s", "slurp"),
        Opt("", "arg", "required", multiple=True),
        Opt("P", "prettyPrint"),
        Opt("M", "no-colors"),
        Opt("C", "colors"),
        Opt("h", "help"),
        Opt("V", "version"),
    ]
    args = list(ctx.argv[1:])
    named: dict[str, Any] = {}
    # --arg takes two values: pull them out before the generic parser sees them
    rest: list[str] = []
    k = 0
    while k < len(args):
        if args[k] == "--arg" and k + 2 < len(args):
            named[args[k + 1]] = args[k + 2]
            k += 3
            continue
        rest.append(args[k])
        k += 1
    try:
        p = parse("yq", rest, spec)
    except UsageError as e:
        msg = e.message.splitlines()[0].replace("yq: ", "Error: ")
        await ctx.stderr.write(_enc(msg + "\n"))
        return 1
    if p.flag("help"):
        await ctx.out(_YQ_USAGE)
        return 0
    if p.flag("version"):
        await ctx.out("yq (pocketos) version v4-compatible\n")
        return 0
    out_fmt = (p.str("output_format") or ("json" if p.flag("json") else "yaml")).lower()
    in_fmt = (p.str("input_format") or "yaml").lower()
    out_fmt, in_fmt = out_fmt.removeprefix("="), in_fmt.removeprefix("=")
    if out_fmt in ("y",):
        out_fmt = "yaml"
    if out_fmt in ("j",):
        out_fmt = "json"
    if in_fmt in ("y", "yml"):
        in_fmt = "yaml"
    if in_fmt in ("j",):
        in_fmt = "json"
    if out_fmt not in ("yaml", "json") or in_fmt not in ("yaml", "json"):
        await ctx.stderr.write(b"Error: unknown format (supported: yaml, json)\n")
        return 1
    try:
        indent = int(p.str("indent") or "2")
    except ValueError:
        await ctx.stderr.write(b"Error: invalid indent\n")
        return 1
    ops = p.operands
    expr = "."
    files: list[str] = []
    if ops:
        first = ops[0]
        if (
            len(ops) == 1
            and not p.flag("null_input")
            and ctx.fs.isfile(first)
            and not first.startswith(".")
        ):
            files = [first]
        else:
            expr, files = first, ops[1:]
    docs: list[Any] = []
    if not p.flag("null_input"):
        for f in files or ["-"]:
            try:
                data = await _read_operand(ctx, f)
            except OSError as exc:
                await ctx.stderr.write(_enc(f"Error: open {f}: {(exc.strerror or '').lower()}\n"))
                return 1
            text = data.decode("utf-8", "replace")
            try:
                if in_fmt == "json":
                    sp = _JsonSplitter()
                    vals, err = sp.feed(data, True)
                    if err:
                        raise ValueError(err)
                    docs.extend(json.loads(t) for t, _ in vals)
                else:
                    docs.extend(d for d in yaml.safe_load_all(text))
            except (yaml.YAMLError, ValueError) as exc:
                await ctx.stderr.write(_enc(f"Error: bad file '{f}': {exc}\n"))
                return 1
        if not docs:
            docs = [None]
    if p.flag("slurp"):
        docs = [docs]
    if p.flag("null_input"):
        docs = [None]
    opts = JqOptions(named=named)
    try:
        prog = JqProgram(expr, opts, ctx.env)
    except JqError as exc:
        await ctx.stderr.write(
            _enc("Error: " + exc.message.split("\n")[0].removeprefix("jq: error: ") + "\n")
        )
        return 1
    unwrap = p.get("unwrap", True) not in ("false",)
    results: list[list[Any]] = []
    last: Any = _NOTHING
    for doc in docs:
        ctx.check_killed()
        try:
            text = json.dumps(doc, default=_yaml_default, ensure_ascii=False)
        except ValueError as exc:
            await ctx.stderr.write(_enc(f"Error: {exc}\n"))
            return 1
        state: dict[str, Any] = {}
        outs: list[Any] = []
        done = False
        while not done:
            ctx.budget.check_time()
            events, done = await _jq_slice(_eval, prog.prog, [(text, "")], 4096, state)
            for ev, _ in events:
                if ev.kind == "out":
                    outs.append(ev.text)
                else:
                    await ctx.stderr.write(_enc(f"Error: {ev.text}\n"))
                    return 1
        results.append(outs)
    chunks: list[str] = []
    for n_doc, outs in enumerate(results):
        for t in outs:
            last = t
            if out_fmt == "json":
                if unwrap and p.get("unwrap") is not None and t.startswith('"'):
                    chunks.append(json.loads(t) + "\n")
                else:
                    ind = None if p.flag("compact") else " " * indent
                    chunks.append(format_json(t, ind) + "\n")
            else:
                try:
                    value = json.loads(t)
                except ValueError:
                    await ctx.err("Error: a number has more than 4300 digits")
                    return 1
                chunks.append(_to_yaml(value, indent, unwrap))
        if out_fmt == "yaml" and n_doc < len(results) - 1 and outs and any(results[n_doc + 1 :]):
            chunks.append("---\n")
    output = "".join(chunks)
    if p.flag("inplace") and files:
        try:
            ctx.fs.write_bytes(files[0], _enc(output))
        except OSError as exc:
            await ctx.os_error(exc)
            return 1
    else:
        await ctx.out(output)
    if p.flag("exit_status") and (last is _NOTHING or last in ("null", "false")):
        return 1
    return 0


_NOTHING: Any = object()


# =============================================================================================
# base64
# =============================================================================================

_B64_USAGE = """Usage: base64 [OPTION]... [FILE]
Base64 encode or decode FILE, or standard input, to standard output.

With no FILE, or when FILE is -, read standard input.

  -d, --decode          decode data
  -i, --ignore-garbage  when decoding, ignore non-alphabet characters
  -w, --wrap=COLS       wrap encoded lines after COLS character (default 76).
                          Use 0 to disable line wrapping
      --help        display this help and exit
"""

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_B64_GARBAGE = bytes(c for c in range(256) if c not in _B64_ALPHABET)


def _b64_group(group: bytes) -> bytes | None:
    """Decode one group of up to 4 characters the way GNU does (None: invalid)."""
    body = group.rstrip(b"=")
    pad = len(group) - len(body)
    if b"=" in body or len(body) < 2 or (len(group) == 4 and pad > 2):
        return None
    if len(group) < 4 and pad:
        return None
    try:
        return binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=True)
    except binascii.Error:
        return None


@command("base64")
async def base64_cmd(ctx: Context) -> int:
    spec = [
        Opt("d", "decode"),
        Opt("i", "ignore-garbage"),
        Opt("w", "wrap", "required"),
        Opt("", "help"),
    ]
    try:
        p = parse("base64", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_B64_USAGE)
        return 0
    wrap = 76
    if p.get("wrap") is not None:
        w = p.str("wrap") or ""
        if not w.isdigit():
            await ctx.err(f"invalid wrap size: '{w}'")
            return 1
        wrap = int(w)
    if len(p.operands) > 1:
        await ctx.err(f"extra operand '{p.operands[1]}'\nTry 'base64 --help' for more information.")
        return 1
    name = p.operands[0] if p.operands else "-"
    try:
        if p.flag("decode"):
            return await _b64_decode(ctx, name, p.flag("ignore_garbage"))
        await _b64_encode(ctx, name, wrap)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        await ctx.os_error(exc, name)
        return 1
    return 0


async def _b64_encode(ctx: Context, name: str, wrap: int) -> None:
    carry = b""
    col = 0
    async for chunk in _iter_operand(ctx, name):
        data = carry + chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        enc = _b64.b64encode(data[:cut])
        out, col = _wrap(enc, wrap, col)
        if out:
            await ctx.stdout.write(out)
    enc = _b64.b64encode(carry)
    out, col = _wrap(enc, wrap, col)
    if wrap > 0 and col:
        out += b"\n"
    if out:
        await ctx.stdout.write(out)


def _wrap(enc: bytes, wrap: int, col: int) -> tuple[bytes, int]:
    if wrap <= 0 or not enc:
        return enc, col + len(enc)
    parts: list[bytes] = []
    i = 0
    while i < len(enc):
        take = min(wrap - col, len(enc) - i)
        parts.append(enc[i : i + take])
        i += take
        col += take
        if col == wrap:
            parts.append(b"\n")
            col = 0
    return b"".join(parts), col


async def _b64_decode(ctx: Context, name: str, ignore: bool) -> int:
    pending = b""
    async for chunk in _iter_operand(ctx, name):
        if ignore:
            chunk = chunk.translate(None, _B64_GARBAGE)
        else:
            chunk = chunk.replace(b"\n", b"")
        data = pending + chunk
        cut = len(data) - len(data) % 4
        pending = data[cut:]
        out, ok = _b64_decode_groups(data[:cut])
        if out:
            await ctx.stdout.write(out)
        if not ok:
            await ctx.err("invalid input")
            return 1
    if pending:
        out, ok = _b64_decode_groups(pending)
        if out:
            await ctx.stdout.write(out)
        if not ok or len(pending) % 4:
            await ctx.err("invalid input")
            return 1
    return 0


def _b64_decode_groups(data: bytes) -> tuple[bytes, bool]:
    # fast path: a run without padding inside
    if data and b"=" not in data[:-4]:
        try:
            return binascii.a2b_base64(data, strict_mode=True), True
        except binascii.Error:
            pass
    out: list[bytes] = []
    for i in range(0, len(data), 4):
        group = data[i : i + 4]
        dec = _b64_group(group)
        if dec is None:
            # GNU decodes as much of a short or broken group as it can
            body = group.split(b"=")[0]
            keep = b""
            for k in range(len(body), 1, -1):
                d = _b64_group(body[:k])
                if d is not None and all(c in _B64_ALPHABET for c in body[:k]):
                    keep = d
                    break
            out.append(keep)
            return b"".join(out), False
        out.append(dec)
    return b"".join(out), True


# =============================================================================================
# checksums: md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum
# =============================================================================================

_DIGESTS: dict[str, tuple[str, str]] = {
    # command -> (hashlib name, BSD tag)
    "md5sum": ("md5", "MD5"),
    "sha1sum": ("sha1", "SHA1"),
    "sha224sum": ("sha224", "SHA224"),
    "sha256sum": ("sha256", "SHA256"),
    "sha384sum": ("sha384", "SHA384"),
    "sha512sum": ("sha512", "SHA512"),
    "b2sum": ("blake2b", "BLAKE2b"),
}
_CKSUM_ALGOS = {
    "md5": ("md5", "MD5"),
    "sha1": ("sha1", "SHA1"),
    "sha224": ("sha224", "SHA224"),
    "sha256": ("sha256", "SHA256"),
    "sha384": ("sha384", "SHA384"),
    "sha512": ("sha512", "SHA512"),
    "blake2b": ("blake2b", "BLAKE2b"),
}


def _new_hash(algo: str, bits: int = 0) -> Any:
    if algo == "blake2b":
        return hashlib.blake2b(digest_size=(bits // 8) if bits else 64)
    return hashlib.new(algo)


def _escape_name(name: str) -> tuple[str, bool]:
    if "\\" in name or "\n" in name:
        return name.replace("\\", "\\\\").replace("\n", "\\n"), True
    return name, False


def _unescape_name(name: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c == "\\" and i + 1 < len(name):
            nxt = name[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


async def _digest_of(ctx: Context, name: str, algo: str, bits: int) -> str:
    h = _new_hash(algo, bits)
    async for chunk in _iter_operand(ctx, name):
        h.update(chunk)
    return str(h.hexdigest())


@dataclass
class _SumOpts:
    binary: bool = False
    tag: bool = False
    zero: bool = False
    check: bool = False
    quiet: bool = False
    status: bool = False
    strict: bool = False
    warn: bool = False
    ignore_missing: bool = False
    bits: int = 0


def _sum_usage(name: str) -> str:
    algo = _DIGESTS.get(name, ("", "CRC"))[1]
    return (
        f"Usage: {name} [OPTION]... [FILE]...\n"
        f"Print or check {algo} checksums.\n\n"
        "With no FILE, or when FILE is -, read standard input.\n"
        "  -b, --binary          read in binary mode\n"
        "  -c, --check           read checksums from the FILEs and check them\n"
        "      --tag             create a BSD-style checksum\n"
        "  -t, --text            read in text mode (default)\n"
        "  -z, --zero            end each output line with NUL, not newline\n"
        "      --ignore-missing  don't fail or report status for missing files\n"
        "      --quiet           don't print OK for each successfully verified file\n"
        "      --status          don't output anything, status code shows success\n"
        "      --strict          exit non-zero for improperly formatted checksum lines\n"
        "  -w, --warn            warn about improperly formatted checksum lines\n"
        "      --help            display this help and exit\n"
    )


_SUM_SPEC = [
    Opt("b", "binary"),
    Opt("t", "text"),
    Opt("c", "check"),
    Opt("", "tag"),
    Opt("z", "zero"),
    Opt("", "quiet"),
    Opt("", "status"),
    Opt("", "strict"),
    Opt("w", "warn"),
    Opt("", "ignore-missing"),
    Opt("", "help"),
    Opt("", "version"),
]


@command(*_DIGESTS)
async def digest_cmd(ctx: Context) -> int:
    name = ctx.name if ctx.name in _DIGESTS else "sha256sum"
    spec = list(_SUM_SPEC)
    if name == "b2sum":
        spec.append(Opt("l", "length", "required"))
    try:
        p = parse(name, ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_sum_usage(name))
        return 0
    if p.flag("version"):
        await ctx.out(f"{name} (pocketos coreutils) 9.1\n")
        return 0
    algo, tag = _DIGESTS[name]
    so = _SumOpts(
        binary=p.flag("binary") and not _last_is(p, "text"),
        tag=p.flag("tag"),
        zero=p.flag("zero"),
        check=p.flag("check"),
        quiet=p.flag("quiet"),
        status=p.flag("status"),
        strict=p.flag("strict"),
        warn=p.flag("warn"),
        ignore_missing=p.flag("ignore_missing"),
    )
    if name == "b2sum" and p.get("length") is not None:
        ln = p.str("length") or ""
        if not ln.isdigit() or int(ln) % 8 or int(ln) > 512 or int(ln) == 0:
            await ctx.err(f"invalid length: '{ln}'")
            if ln.isdigit() and int(ln) % 8:
                await ctx.err("length is not a multiple of 8")
            return 1
        so.bits = int(ln)
        if so.bits != 512:
            tag = f"BLAKE2b-{so.bits}"
    if not so.check:
        bad = _check_only_opts(p)
        if bad:
            await ctx.err(
                f"the {bad} option is meaningful only when verifying checksums\n"
                f"Try '{name} --help' for more information."
            )
            return 1
    files = p.operands or ["-"]
    if so.check:
        return await _verify(ctx, name, files, algo, so, {})
    return await _print_sums(ctx, files, algo, tag, so)


def _last_is(p: Any, key: str) -> bool:
    keys = [k for k, _ in p.order if k in ("binary", "text")]
    return bool(keys) and keys[-1] == key


def _check_only_opts(p: Any) -> str | None:
    for key, opt in (
        ("ignore_missing", "--ignore-missing"),
        ("status", "--status"),
        ("quiet", "--quiet"),
        ("strict", "--strict"),
        ("warn", "--warn"),
    ):
        if p.flag(key):
            return opt
    return None


async def _print_sums(
    ctx: Context, files: list[str], algo: str, tag: str, so: _SumOpts, untagged_ok: bool = True
) -> int:
    status = 0
    end = "\0" if so.zero else "\n"
    for f in files:
        try:
            digest = await _digest_of(ctx, f, algo, so.bits)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        shown, esc = (f, False) if so.zero else _escape_name(f)
        prefix = "\\" if esc else ""
        if so.tag:
            line = f"{prefix}{tag} ({shown}) = {digest}{end}"
        else:
            line = f"{prefix}{digest} {'*' if so.binary else ' '}{shown}{end}"
        await ctx.out(line)
    return status


_TAG_LINE = re.compile(r"^(\\?)([A-Za-z0-9-]+) ?\((.*)\) ?= ([0-9a-fA-F]+)$")
_PLAIN_LINE = re.compile(r"^(\\?)([0-9a-fA-F]+) ([ *]?)(.*)$", re.S)


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


async def _verify(
    ctx: Context,
    name: str,
    files: list[str],
    algo: str,
    so: _SumOpts,
    algos_by_tag: dict[str, tuple[str, int]],
) -> int:
    status = 0
    hexlen = _new_hash(algo, so.bits).digest_size * 2
    for f in files:
        try:
            data = await _read_operand(ctx, f)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        shown_file = "standard input" if f == "-" else f
        bad_lines = mismatched = unreadable = ok_count = 0
        lines = data.split(b"\0" if so.zero else b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for lineno, raw_line in enumerate(lines, 1):
            ctx.check_killed()
            line = _dec(raw_line)
            if line.endswith("\r"):
                line = line[:-1]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            want_algo, bits = algo, so.bits
            m = _TAG_LINE.match(line)
            target: str | None = None
            expected = ""
            escaped = False
            if m is not None:
                tagname = m.group(2)
                if algos_by_tag:
                    if tagname not in algos_by_tag:
                        m = None
                    else:
                        want_algo, bits = algos_by_tag[tagname]
                if m is not None:
                    escaped = bool(m.group(1))
                    target, expected = m.group(3), m.group(4)
            if target is None:
                m2 = _PLAIN_LINE.match(line)
                if m2 is not None and m2.group(4) and (m2.group(3) or True):
                    escaped = bool(m2.group(1))
                    expected, target = m2.group(2), m2.group(4)
                    if not m2.group(3) and target.startswith((" ", "*")):
                        target = None
            exp_len = _new_hash(want_algo, bits).digest_size * 2 if algos_by_tag else hexlen
            if target is None or len(expected) != exp_len:
                bad_lines += 1
                if so.warn:
                    await ctx.err(
                        f"{shown_file}: {lineno}: improperly formatted "
                        f"{_DIGESTS.get(name, ('', 'checksum'))[1]} checksum line"
                    )
                continue
            if escaped:
                target = _unescape_name(target)
            try:
                actual = await _digest_of(ctx, target, want_algo, bits)
            except BrokenPipeError:
                raise
            except OSError as exc:
                if so.ignore_missing and isinstance(exc, FileNotFoundError):
                    continue
                unreadable += 1
                if not so.status:
                    await ctx.os_error(exc, target)
                    await ctx.out(f"{target}: FAILED open or read\n")
                continue
            ok_count += 1
            if actual.lower() == expected.lower():
                if not so.status and not so.quiet:
                    await ctx.out(f"{target}: OK\n")
            else:
                mismatched += 1
                if not so.status:
                    await ctx.out(f"{target}: FAILED\n")
        if ok_count == 0 and unreadable == 0 and mismatched == 0:
            if so.ignore_missing and bad_lines == 0 and lines:
                await ctx.err(f"{shown_file}: no file was verified")
            else:
                await ctx.err(f"{shown_file}: no properly formatted checksum lines found")
            status = 1
            continue
        if not so.status:
            if bad_lines:
                await ctx.err(
                    "WARNING: "
                    + str(bad_lines)
                    + " "
                    + _plural(
                        bad_lines, "line is improperly formatted", "lines are improperly formatted"
                    )
                )
            if unreadable:
                await ctx.err(
                    "WARNING: "
                    + str(unreadable)
                    + " "
                    + _plural(
                        unreadable,
                        "listed file could not be read",
                        "listed files could not be read",
                    )
                )
            if mismatched:
                await ctx.err(
                    "WARNING: "
                    + str(mismatched)
                    + " "
                    + _plural(
                        mismatched,
                        "computed checksum did NOT match",
                        "computed checksums did NOT match",
                    )
                )
        if mismatched or unreadable or (so.strict and bad_lines):
            status = 1
    return status


# --- cksum ------------------------------------------------------------------------------------

_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _rev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


class _PosixCrc:
    """The POSIX ``cksum`` CRC (polynomial 0x04C11DB7, MSB first), computed with zlib's
    reflected CRC-32 over bit-reversed bytes."""

    def __init__(self) -> None:
        self.reg = 0  # reflected register
        self.length = 0

    def update(self, data: bytes) -> None:
        self.length += len(data)
        self.reg = zlib.crc32(data.translate(_BITREV), self.reg ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def value(self) -> int:
        n = self.length
        tail = bytearray()
        while n:
            tail.append(n & 0xFF)
            n >>= 8
        reg = zlib.crc32(bytes(tail).translate(_BITREV), self.reg ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        return (~_rev32(reg)) & 0xFFFFFFFF


@command("cksum")
async def cksum_cmd(ctx: Context) -> int:
    spec = list(_SUM_SPEC) + [
        Opt("a", "algorithm", "required"),
        Opt("", "untagged"),
        Opt("l", "length", "required"),
        Opt("", "debug"),
    ]
    try:
        p = parse("cksum", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(_sum_usage("cksum"))
        return 0
    algo = (p.str("algorithm") or "crc").lower()
    names = ["sysv", "bsd", "crc", *_CKSUM_ALGOS]
    if algo not in names:
        await ctx.err(
            f"invalid argument '{algo}' for '--algorithm'\nValid arguments are:\n"
            + "".join(f"  - '{n}'\n" for n in names)
            + "Try 'cksum --help' for more information."
        )
        return 1
    files = p.operands or ["-"]
    so = _SumOpts(
        binary=False,
        tag=not p.flag("untagged"),
        zero=p.flag("zero"),
        check=p.flag("check"),
        quiet=p.flag("quiet"),
        status=p.flag("status"),
        strict=p.flag("strict"),
        warn=p.flag("warn"),
        ignore_missing=p.flag("ignore_missing"),
    )
    if p.get("length") is not None:
        ln = p.str("length") or ""
        if algo != "blake2b" or not ln.isdigit() or int(ln) % 8 or not 0 < int(ln) <= 512:
            await ctx.err(f"invalid length: '{ln}'")
            return 1
        so.bits = int(ln) if int(ln) != 512 else 0
    if so.check:
        if algo in ("sysv", "bsd", "crc") and p.get("algorithm") is not None:
            await ctx.err("--check is not supported with --algorithm={bsd,sysv,crc}")
            return 1
        tags = {tag: (h, 0) for h, tag in _CKSUM_ALGOS.values()}
        for bits in range(8, 513, 8):
            tags[f"BLAKE2b-{bits}"] = ("blake2b", bits)
        return await _verify(ctx, "cksum", files, "md5", so, tags)
    if algo in _CKSUM_ALGOS:
        h, tag = _CKSUM_ALGOS[algo]
        if h == "blake2b" and so.bits:
            tag = f"BLAKE2b-{so.bits}"
        return await _print_sums(ctx, files, h, tag, so)
    status = 0
    for f in files:
        try:
            total = 0
            crc = _PosixCrc()
            s = 0
            bsd = 0
            async for chunk in _iter_operand(ctx, f):
                total += len(chunk)
                if algo == "crc":
                    crc.update(chunk)
                elif algo == "sysv":
                    s += sum(chunk)
                else:
                    for b in chunk:
                        bsd = ((bsd >> 1) + ((bsd & 1) << 15) + b) & 0xFFFF
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.os_error(exc, f)
            status = 1
            continue
        suffix = "" if f == "-" and not p.operands else f" {f}"
        if algo == "crc":
            await ctx.out(f"{crc.value()} {total}{suffix}\n")
        elif algo == "sysv":
            r = (s & 0xFFFF) + ((s & 0xFFFFFFFF) >> 16)
            r = (r & 0xFFFF) + (r >> 16)
            await ctx.out(f"{r} {(total + 511) // 512}{suffix}\n")
        else:
            sfx = "" if f == "-" and not p.operands else f" {f}"
            await ctx.out(f"{bsd:05d} {(total + 1023) // 1024:5d}{sfx}\n")
    return status


# =============================================================================================
# sqlite3
# =============================================================================================

_SQLITE_MODES = (
    "ascii",
    "box",
    "column",
    "csv",
    "html",
    "insert",
    "json",
    "line",
    "list",
    "markdown",
    "qbox",
    "quote",
    "table",
    "tabs",
    "tcl",
)
_SQLITE_SUPPORTED = (
    "box",
    "column",
    "csv",
    "json",
    "line",
    "list",
    "markdown",
    "quote",
    "table",
    "tabs",
    "insert",
)
_SQLITE_USAGE = """Usage: sqlite3 [OPTIONS] FILENAME [SQL...]
FILENAME is the name of an SQLite database. A new database is created
if the file does not previously exist. Defaults to :memory:.
OPTIONS include:
   -box                 set output mode to 'box'
   -bail                stop after hitting an error
   -cmd COMMAND         run "COMMAND" before reading stdin
   -column              set output mode to 'column'
   -csv                 set output mode to 'csv'
   -header              turn headers on
   -help                show this message
   -json                set output mode to 'json'
   -line                set output mode to 'line'
   -list                set output mode to 'list'
   -markdown            set output mode to 'markdown'
   -newline SEP         set output row separator. Default: '\\n'
   -noheader            turn headers off
   -nullvalue TEXT      set text string for NULL values. Default ''
   -readonly            open the database read-only
   -separator SEP       set output column separator. Default: '|'
   -table               set output mode to 'table'
   -tabs                set output mode to 'tabs'
   -version             show SQLite version
"""
_SQLITE_DOT_HELP = """.dump ?TABLE?             Render database content as SQL
.exit ?CODE?             Exit this program with return-code CODE
.headers on|off          Turn display of headers on or off
.import FILE TABLE       Import data from FILE into TABLE (CSV)
.indexes ?TABLE?         Show names of indexes
.mode MODE               Set output mode (box column csv json line list markdown
                         quote table tabs insert)
.nullvalue STRING        Use STRING in place of NULL values
.print STRING...         Print literal STRING
.quit                    Exit this program
.read FILE               Read input from FILE
.schema ?PATTERN?        Show the CREATE statements matching PATTERN
.separator COL ?ROW?     Change the column and row separators
.tables ?TABLE?          List names of tables matching LIKE pattern TABLE
"""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _sql_real(x: float, digits: int = 15) -> str:
    if x != x:
        return ""
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0.0"
    s = f"%.{digits}g" % x
    if "e" in s:
        mant, exp = s.split("e")
        if "." not in mant:
            mant += ".0"
        return mant + "e" + exp
    if "." not in s and "inf" not in s:
        s += ".0"
    return s


def _json_str(b: bytes) -> bytes:
    out = bytearray(b'"')
    for c in b:
        if c == 0x22:
            out += b'\\"'
        elif c == 0x5C:
            out += b"\\\\"
        elif c < 0x20:
            esc = {8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r"}.get(c)
            out += esc if esc else b"\\u%04x" % c
        else:
            out.append(c)
    out += b'"'
    return bytes(out)


def _sql_quote_text(b: bytes) -> bytes:
    return b"'" + b.replace(b"'", b"''") + b"'"


class _SqlText(bytes):
    """TEXT values (BLOBs arrive as plain ``bytes``)."""


class _SqlExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _SqliteShell:
    def __init__(self, ctx: Context, conn: _sqlite.Connection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.mode = "list"
        self.headers = False
        self.colsep = b"|"
        self.rowsep = b"\n"
        self.nullvalue = b""
        self.bail = False
        self.echo = False
        self.insert_table = "table"
        self.out: list[bytes] = []

    # --- output ---------------------------------------------------------------------------
    async def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out = []
            await self.ctx.stdout.write(data)

    def text(self, v: Any) -> bytes:
        if v is None:
            return self.nullvalue
        if isinstance(v, bool):
            return b"1" if v else b"0"
        if isinstance(v, int):
            return str(v).encode()
        if isinstance(v, float):
            return _sql_real(v).encode()
        b = _enc(v) if isinstance(v, str) else bytes(v)
        # the shell prints values as C strings: a NUL ends them
        nul = b.find(b"\0")
        return b if nul < 0 else b[:nul]

    def full_text(self, v: Any) -> bytes:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        return self.text(v)

    def csv_field(self, v: Any) -> bytes:
        if v is None:
            return self.nullvalue
        if isinstance(v, (int, float)):
            return self.text(v)
        b = self.text(v)
        sep = self.colsep
        if (
            b == b""
            or any(c <= 0x20 or c >= 0x7F or c in (0x22, 0x27, 0x2C) for c in b)
            or (sep and sep in b)
        ):
            return b'"' + b.replace(b'"', b'""') + b'"'
        return b

    def quote_value(self, v: Any) -> bytes:
        if v is None:
            return b"NULL"
        if isinstance(v, int):
            return str(v).encode()
        if isinstance(v, float):
            return _sql_real(v, 20).encode()
        if isinstance(v, (bytes, bytearray, memoryview)) and not isinstance(v, _SqlText):
            return b"X'" + bytes(v).hex().encode() + b"'"
        return _sql_quote_text(self.full_text(v))

    def render(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        mode = self.mode
        bnames = [_enc(n) for n in names]
        out = self.out
        if mode in ("list", "tabs", "csv"):
            sep = b"\t" if mode == "tabs" else self.colsep
            fmt: Callable[[Any], bytes] = self.csv_field if mode == "csv" else self.text
            if self.headers and names:
                hdr = [self.csv_field(n) if mode == "csv" else _enc(n) for n in names]
                out.append(sep.join(hdr) + self.rowsep)
            for r in rows:
                out.append(sep.join(fmt(v) for v in r) + self.rowsep)
        elif mode == "json":
            if not rows:
                return
            objs = []
            for r in rows:
                parts = []
                for n, v in zip(bnames, r, strict=False):
                    if v is None:
                        val = b"null"
                    elif isinstance(v, float):
                        val = _sql_real(v, 20).encode()
                    elif isinstance(v, int):
                        val = self.text(v)
                    else:
                        val = _json_str(self.full_text(v))
                    parts.append(_json_str(n) + b":" + val)
                objs.append(b"{" + b",".join(parts) + b"}")
            out.append(b"[" + b",\n".join(objs) + b"]\n")
        elif mode == "line":
            w = max([5] + [len(n) for n in names])
            for i, r in enumerate(rows):
                if i:
                    out.append(self.rowsep)
                for col, v in zip(names, r, strict=False):
                    out.append(_enc(col.rjust(w)) + b" = " + self.text(v) + self.rowsep)
        elif mode in ("quote", "insert"):
            sep = b","
            if self.headers and mode == "quote" and names:
                out.append(b",".join(_sql_quote_text(n) for n in bnames) + self.rowsep)
            for r in rows:
                vals = sep.join(self.quote_value(v) for v in r)
                if mode == "insert":
                    t = self.insert_table
                    qt = _quote_ident(t) if t != "table" else '"table"'
                    out.append(
                        b"INSERT INTO " + _enc(qt) + b" VALUES(" + vals + b");" + self.rowsep
                    )
                else:
                    out.append(vals + self.rowsep)
        else:
            self.render_columns(names, rows)

    def render_columns(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows and self.mode != "column":
            return
        if not rows:
            return
        cells = [[self.text(v).decode("utf-8", "replace") for v in r] for r in rows]
        ncol = len(names)
        widths = [len(n) for n in names]
        for r in cells:
            for i, c in enumerate(r):
                widths[i] = max(widths[i], _disp_len(c))
        lines: list[str] = []

        def pad(s: str, w: int) -> str:
            return s + " " * (w - _disp_len(s))

        def center(s: str, w: int) -> str:
            total = w - _disp_len(s)
            left = total // 2
            return " " * left + s + " " * (total - left)

        mode = self.mode
        if mode == "column":
            if self.headers:
                lines.append("  ".join(pad(n, widths[i]) for i, n in enumerate(names)))
                lines.append("  ".join("-" * widths[i] for i in range(ncol)))
            for r in cells:
                lines.append("  ".join(pad(c, widths[i]) for i, c in enumerate(r)))
        elif mode == "markdown":
            lines.append(
                "| " + " | ".join(center(n, widths[i]) for i, n in enumerate(names)) + " |"
            )
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
            for r in cells:
                lines.append("| " + " | ".join(pad(c, widths[i]) for i, c in enumerate(r)) + " |")
        else:
            if mode == "box":
                h, v = "─", "│"
                top, mid, bot = ("┌", "┬", "┐"), ("├", "┼", "┤"), ("└", "┴", "┘")
            else:
                h, v = "-", "|"
                top = mid = bot = ("+", "+", "+")

            def rule(p: tuple[str, str, str]) -> str:
                return p[0] + p[1].join(h * (w + 2) for w in widths) + p[2]

            lines.append(rule(top))
            lines.append(
                v + " " + f" {v} ".join(center(n, widths[i]) for i, n in enumerate(names)) + " " + v
            )
            lines.append(rule(mid))
            for r in cells:
                lines.append(
                    v + " " + f" {v} ".join(pad(c, widths[i]) for i, c in enumerate(r)) + " " + v
                )
            lines.append(rule(bot))
        self.out.append(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))

    # --- execution ------------------------------------------------------------------------
    def run_sql(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(_sql_str(sql))
            if cur.description is None:
                cur.fetchall()
                return
            names = [d[0] for d in cur.description]
            rows: list[tuple[Any, ...]] = []
            while True:
                batch = cur.fetchmany(1000)
                if not batch:
                    break
                rows.extend(batch)
            self.render(names, rows)
        finally:
            cur.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql, params)
        try:
            return cur.fetchall()
        finally:
            cur.close()


def _sql_str(text: str) -> str:
    """SQL text sqlite can take: bytes that are not UTF-8 (kept as lone surrogates after
    decoding) become U+FFFD, so they reach the parser as an unknown token, not a crash; a NUL
    ends the text, as it does for sqlite's C interface."""
    if "\0" in text:
        text = text[: text.index("\0")]
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _disp_len(s: str) -> int:
    import unicodedata

    n = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def _quote_ident(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _split_sql(text: str) -> Iterator[tuple[str, int]]:
    """Split SQL text into complete statements (with the line each one starts on)."""
    i = 0
    n = len(text)
    start = 0
    line = 1
    start_line = 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = text.find(close, i + 1)
            while j != -1 and close != "]" and j + 1 < n and text[j + 1] == close:
                j = text.find(close, j + 2)
            j = n - 1 if j == -1 else j
            line += text.count("\n", i + 1, j + 1)
            i = j + 1
            continue
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            line += text.count("\n", i, j)
            i = j
            continue
        if c == ";":
            piece = text[start : i + 1]
            if _sqlite.complete_statement(_sql_str(piece)):
                if piece.strip(" \t\r\n;"):
                    yield piece, start_line
                start = i + 1
                start_line = line
        i += 1
    rest = text[start:]
    if rest.strip():
        yield rest, start_line


def _dot_args(line: str) -> list[str]:
    args: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        if line[i] in "'\"":
            q = line[i]
            j = i + 1
            buf: list[str] = []
            while j < n and line[j] != q:
                if q == '"' and line[j] == "\\" and j + 1 < n:
                    nxt = line[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(nxt, nxt))
                    j += 2
                    continue
                buf.append(line[j])
                j += 1
            args.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and line[j] not in " \t":
                j += 1
            args.append(line[i:j])
            i = j
    return args


def _sep_arg(s: str) -> bytes:
    return _enc(s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r"))


class _SqliteRunner:
    def __init__(self, ctx: Context, shell: _SqliteShell) -> None:
        self.ctx = ctx
        self.shell = shell
        self.status = 0

    def error_text(self, exc: _sqlite.Error, line: int | None, sql: str) -> tuple[str, int]:
        msg = str(exc)
        code = getattr(exc, "sqlite_errorcode", 1) or 1
        if line is not None:
            return f"Parse error near line {line}: {msg}\n", 1
        if (code & 0xFF) in (1, 23):  # SQLITE_ERROR, SQLITE_AUTH: raised while preparing
            return f"Error: in prepare, {msg}\n", 1
        return f"Error: stepping, {msg} ({code & 0xFF})\n", code & 0xFF

    async def sql(self, text: str, line_base: int | None) -> bool:
        """Run SQL text; returns False when an error should stop the input."""
        for stmt, line in _split_sql(text):
            self.ctx.check_killed()
            try:
                self.shell.run_sql(stmt)
            except (_sqlite.Error, OverflowError, ValueError) as exc:
                await self.shell.flush()
                if isinstance(exc, _sqlite.Error):
                    msg, code = self.error_text(
                        exc, None if line_base is None else line_base + line - 1, stmt
                    )
                else:
                    msg, code = f"Error: {exc}\n", 1
                await self.ctx.stderr.write(_enc(msg))
                self.status = code if line_base is None else 1
                return False
            await self.shell.flush()
        return True

    async def script(self, text: str) -> bool:
        """Run a script (stdin or .read): dot commands on their own lines, SQL otherwise."""
        buf: list[str] = []
        buf_line = 1
        ok = True
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for lineno, ln in enumerate(lines, 1):
            if not buf and ln.lstrip().startswith("."):
                if not await self.dot(ln.strip()):
                    ok = False
                    if self.shell.bail:
                        return False
                continue
            if not buf:
                if not ln.strip():
                    continue
                buf_line = lineno
            buf.append(ln)
            joined = "\n".join(buf)
            if _sqlite.complete_statement(_sql_str(joined)):
                buf = []
                if not await self.sql(joined, buf_line):
                    ok = False
                    if self.shell.bail:
                        return False
        if buf and "\n".join(buf).strip() and not await self.sql("\n".join(buf), buf_line):
            ok = False
        return ok

    async def dot(self, line: str) -> bool:
        sh = self.shell
        args = _dot_args(line[1:])
        if not args:
            return True
        cmd = args[0]
        rest = args[1:]
        try:
            if cmd in ("quit", "q"):
                raise _SqlExit(self.status)
            if cmd == "exit":
                raise _SqlExit(int(rest[0]) if rest and rest[0].lstrip("-").isdigit() else 0)
            if cmd in ("headers", "header", "h"):
                if not rest:
                    return await self.bad(line)
                sh.headers = rest[0].lower() in ("on", "yes", "1", "true")
                return True
            if cmd == "mode":
                if not rest:
                    await self.ctx.out(f"current output mode: {sh.mode}\n")
                    return True
                m = rest[0].lower()
                if m == "tab":
                    m = "tabs"
                if m not in _SQLITE_MODES:
                    await self.ctx.stderr.write(
                        b"Error: mode should be one of: " + " ".join(_SQLITE_MODES).encode() + b"\n"
                    )
                    self.status = 1
                    return False
                if m not in _SQLITE_SUPPORTED:
                    await self.ctx.stderr.write(_enc(f"Error: mode '{m}' is not supported\n"))
                    self.status = 1
                    return False
                sh.mode = m
                if m == "column":
                    sh.headers = True
                if m == "csv":
                    sh.colsep, sh.rowsep = b",", b"\r\n"
                elif m == "tabs":
                    sh.colsep, sh.rowsep = b"\t", b"\n"
                elif m == "list":
                    sh.colsep, sh.rowsep = b"|", b"\n"
                elif m == "line":
                    sh.rowsep = b"\n"
                if m == "insert":
                    sh.insert_table = rest[1] if len(rest) > 1 else "table"
                return True
            if cmd == "separator":
                if not rest:
                    return await self.bad(line)
                sh.colsep = _sep_arg(rest[0])
                if len(rest) > 1:
                    sh.rowsep = _sep_arg(rest[1])
                return True
            if cmd == "nullvalue":
                sh.nullvalue = _enc(rest[0]) if rest else b""
                return True
            if cmd == "bail":
                sh.bail = bool(rest) and rest[0].lower() in ("on", "yes", "1")
                return True
            if cmd in (
                "timer",
                "echo",
                "changes",
                "width",
                "eqp",
                "stats",
                "prompt",
                "output",
                "once",
            ):
                if cmd in ("output", "once") and rest:
                    await self.ctx.stderr.write(b"Error: .output/.once are not supported\n")
                    self.status = 1
                    return False
                return True
            if cmd == "print":
                await self.ctx.out(" ".join(rest) + "\n")
                return True
            if cmd == "help":
                await self.ctx.out(_SQLITE_DOT_HELP)
                return True
            if cmd in ("tables", "table"):
                await self.tables(rest[0] if rest else "%")
                return True
            if cmd == "schema":
                await self.schema(rest[0] if rest else None)
                return True
            if cmd in ("indexes", "indices"):
                await self.indexes(rest[0] if rest else None)
                return True
            if cmd == "dump":
                await self.dump(rest[0] if rest else None)
                return True
            if cmd == "read":
                if not rest:
                    return await self.bad(line)
                try:
                    text = _dec(ctx_read(self.ctx, rest[0]))
                except OSError:
                    await self.ctx.stderr.write(_enc(f'Error: cannot open "{rest[0]}"\n'))
                    self.status = 1
                    return False
                return await self.script(text)
            if cmd == "import":
                return await self.do_import(rest)
            return await self.bad(line)
        except _sqlite.Error as exc:
            await sh.flush()
            await self.ctx.stderr.write(_enc(f"Error: {exc}\n"))
            self.status = 1
            return False

    async def bad(self, line: str) -> bool:
        word = line[1:].split()[0] if line[1:].split() else ""
        await self.ctx.stderr.write(
            _enc(
                f'Error: unknown command or invalid arguments:  "{word}". Enter ".help" for help\n'
            )
        )
        self.status = 1
        return False

    async def tables(self, pattern: str) -> None:
        rows = self.shell.query(
            "SELECT name FROM sqlite_schema WHERE type IN ('table','view') "
            "AND name NOT LIKE 'sqlite_%' AND name LIKE ?1 ORDER BY 1",
            (pattern,),
        )
        names = [_dec(r[0]) if isinstance(r[0], bytes) else str(r[0]) for r in rows]
        if not names:
            return
        maxlen = max(len(n) for n in names)
        ncol = max(1, 80 // (maxlen + 2))
        nrow = (len(names) + ncol - 1) // ncol
        lines = []
        for i in range(nrow):
            parts: list[str] = []
            for j in range(i, len(names), nrow):
                parts.append(("  " if parts else "") + names[j].ljust(maxlen))
            lines.append("".join(parts))
        await self.ctx.out("\n".join(lines) + "\n")

    async def schema(self, pattern: str | None) -> None:
        sql = (
            "SELECT sql, type, name FROM sqlite_schema WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%'"
        )
        params: tuple[Any, ...] = ()
        if pattern is not None:
            sql += " AND (tbl_name LIKE ?1 OR name LIKE ?1)"
            params = (pattern,)
        sql += " ORDER BY tbl_name, type DESC, name" if False else " ORDER BY rowid"
        out = []
        for text, typ, name in self.shell.query(sql, params):
            s = _if_not_exists(_dec(text) if isinstance(text, bytes) else str(text))
            if (_dec(typ) if isinstance(typ, bytes) else typ) == "view":
                vname = _dec(name) if isinstance(name, bytes) else str(name)
                cols = self.shell.query(f"PRAGMA table_info({_quote_ident(vname)})")
                colnames = ",".join(
                    _view_col(_dec(c[1]) if isinstance(c[1], bytes) else str(c[1])) for c in cols
                )
                s += f"\n/* {_quote_ident(vname)}({colnames}) */"
            out.append(s + ";\n")
        await self.ctx.out("".join(out))

    async def indexes(self, table: str | None) -> None:
        sql = "SELECT name FROM sqlite_schema WHERE type='index' AND name NOT LIKE 'sqlite_%'"
        params: tuple[Any, ...] = ()
        if table is not None:
            sql += " AND tbl_name LIKE ?1"
            params = (table,)
        rows = self.shell.query(sql + " ORDER BY 1", params)
        for r in rows:
            await self.ctx.out(_dec(r[0]) if isinstance(r[0], bytes) else str(r[0]))
            await self.ctx.out("\n")

    async def dump(self, table: str | None) -> None:
        sh = self.shell
        out: list[bytes] = [b"PRAGMA foreign_keys=OFF;\n", b"BEGIN TRANSACTION;\n"]
        params: tuple[Any, ...] = ()
        cond = ""
        if table is not None:
            cond = " AND tbl_name LIKE ?1"
            params = (table,)
        tables = sh.query(
            "SELECT name, sql FROM sqlite_schema WHERE type='table' "
            "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%'" + cond + " ORDER BY rowid",
            params,
        )
        for name_b, sql_b in tables:
            self.ctx.check_killed()
            name = _dec(name_b) if isinstance(name_b, bytes) else str(name_b)
            sql = _dec(sql_b) if isinstance(sql_b, bytes) else str(sql_b)
            if sql.upper().startswith("CREATE VIRTUAL TABLE"):
                out.append(_enc(sql) + b";\n")
                continue
            out.append(_enc(_if_not_exists(sql)) + b";\n")
            cols = sh.query(f"PRAGMA table_info({_quote_ident(name)})")
            colnames = [_dec(c[1]) if isinstance(c[1], bytes) else str(c[1]) for c in cols]
            sel = ", ".join(f"typeof({_quote_ident(c)}), {_quote_ident(c)}" for c in colnames)
            qname = _quote_ident(name).encode()
            cur = sh.conn.execute(f"SELECT {sel} FROM {_quote_ident(name)}")
            for row in cur:
                vals = []
                for k in range(0, len(row), 2):
                    typ = row[k]
                    typ = _dec(typ) if isinstance(typ, bytes) else typ
                    v = row[k + 1]
                    if v is None:
                        vals.append(b"NULL")
                    elif typ == "integer":
                        vals.append(str(v).encode())
                    elif typ == "real":
                        vals.append(_sql_real(float(v), 20).encode())
                    elif typ == "blob":
                        vals.append(b"X'" + bytes(v).hex().encode() + b"'")
                    else:
                        vals.append(_dump_text(bytes(v) if isinstance(v, bytes) else _enc(v)))
                out.append(b"INSERT INTO " + qname + b" VALUES(" + b",".join(vals) + b");\n")
            cur.close()
        others_sql = (
            "SELECT sql FROM sqlite_schema WHERE type IN ('index','trigger','view') "
            "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
        # with a table pattern the shell dumps only the tables themselves
        others = [] if table is not None else sh.query(others_sql)
        for (sql_b,) in others:
            out.append((bytes(sql_b) if isinstance(sql_b, bytes) else _enc(sql_b)) + b";\n")
        out.append(b"COMMIT;\n")
        await self.ctx.stdout.write(b"".join(out))

    async def do_import(self, args: list[str]) -> bool:
        skip = 0
        opts_done: list[str] = []
        i = 0
        while i < len(args) and args[i].startswith("-") and len(args[i]) > 1:
            a = args[i].lstrip("-")
            if a == "skip" and i + 1 < len(args):
                skip = int(args[i + 1]) if args[i + 1].isdigit() else 0
                i += 2
                continue
            if a in ("csv", "ascii", "v"):
                opts_done.append(a)
                i += 1
                continue
            if a == "schema" and i + 1 < len(args):
                i += 2
                continue
            await self.ctx.stderr.write(_enc(f"Error: unknown option: {args[i]}\n"))
            self.status = 1
            return False
        rest = args[i:]
        if len(rest) != 2:
            await self.ctx.stderr.write(b"Error: Usage: .import [OPTIONS] FILE TABLE\n")
            self.status = 1
            return False
        fname, table = rest
        try:
            data = ctx_read(self.ctx, fname)
        except OSError:
            await self.ctx.stderr.write(_enc(f'Error: cannot open "{fname}"\n'))
            self.status = 1
            return False
        sh = self.shell
        use_csv = "csv" in opts_done or sh.mode == "csv"
        text = _dec(data)
        if use_csv:
            sep = _dec(sh.colsep) if sh.mode == "csv" or sh.colsep == b"," else ","
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep or ",")
            records = [r for r in reader]
        else:
            sep = _dec(sh.colsep) or "|"
            records = [ln.rstrip("\r").split(sep) for ln in text.split("\n")]
            if records and records[-1] == [""]:
                records.pop()
        records = records[skip:]
        if not records:
            return True
        exists = sh.query(
            "SELECT 1 FROM sqlite_schema WHERE type IN ('table','view') AND name = ?1", (table,)
        )
        qt = _quote_ident(table)
        if not exists:
            header = records[0]
            records = records[1:]
            cols = ", ".join('"' + h.replace('"', '""') + '" TEXT' for h in header)
            sh.conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}"(\n{cols})'
                if not _IDENT.match(table) or True
                else ""
            )
        ncols = len(sh.query(f"PRAGMA table_info({qt})"))
        ph = ",".join("?" * ncols)
        sh.conn.execute("BEGIN")
        try:
            for lineno, rec in enumerate(records, 2 + skip):
                if len(rec) < ncols:
                    await self.ctx.stderr.write(
                        _enc(
                            f"{fname}:{lineno}: expected {ncols} columns but found {len(rec)}"
                            " - filling the rest with NULL\n"
                        )
                    )
                    rec = rec + [None] * (ncols - len(rec))  # type: ignore[list-item]
                elif len(rec) > ncols:
                    await self.ctx.stderr.write(
                        _enc(
                            f"{fname}:{lineno}: expected {ncols} columns but found {len(rec)}"
                            " - extras ignored\n"
                        )
                    )
                    rec = rec[:ncols]
                sh.conn.execute(f"INSERT INTO {qt} VALUES({ph})", rec)
        finally:
            sh.conn.execute("COMMIT")
        return True


def _if_not_exists(sql: str) -> str:
    """The shell shows tables with quoted names as ``CREATE TABLE IF NOT EXISTS``."""
    if sql.startswith("CREATE TABLE ") and sql[13:14] in ("'", '"'):
        return "CREATE TABLE IF NOT EXISTS " + sql[13:]
    return sql


def _view_col(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _dump_text(b: bytes) -> bytes:
    q = _sql_quote_text(b)
    if b"\n" in b or b"\r" in b:
        inner = q
        wrap_n = b"\n" in b
        wrap_r = b"\r" in b
        if wrap_n:
            inner = inner.replace(b"\n", b"\\n")
        if wrap_r:
            inner = inner.replace(b"\r", b"\\r")
        if wrap_r:
            inner = b"replace(" + inner + b",'\\r',char(13))"
        if wrap_n:
            inner = b"replace(" + inner + b",'\\n',char(10))"
        return inner
    return q


def ctx_read(ctx: Context, path: str) -> bytes:
    return ctx.fs.read_bytes(path)


def _sqlite_progress(ctx: Context) -> Callable[[], int]:
    import time as _time

    deadline = ctx.budget.deadline

    def check() -> int:
        if ctx.info is not None and ctx.info.pending_signal is not None:
            return 1
        if deadline is not None and _time.monotonic() > deadline:
            return 1
        return 0

    return check


def _deny_attach(action: int, *args: Any) -> int:
    if action == _sqlite.SQLITE_ATTACH:
        return _sqlite.SQLITE_DENY
    return _sqlite.SQLITE_OK


@command("sqlite3")
async def sqlite3_cmd(ctx: Context) -> int:
    argv = ctx.argv[1:]
    db: str | None = None
    sql_args: list[str] = []
    cmds: list[str] = []
    mode = "list"
    headers: bool | None = None
    colsep: bytes | None = None
    rowsep: bytes | None = None
    nullvalue = b""
    bail = False
    readonly = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1 and (db is None or not sql_args):
            o = a.lstrip("-")
            if o in (
                "box",
                "column",
                "csv",
                "json",
                "line",
                "list",
                "markdown",
                "table",
                "tabs",
                "quote",
            ):
                mode = o
            elif o == "header" or o == "headers":
                headers = True
            elif o == "noheader":
                headers = False
            elif o in ("separator", "newline", "nullvalue", "cmd") and i + 1 < len(argv):
                v = argv[i + 1]
                i += 1
                if o == "separator":
                    colsep = _sep_arg(v)
                elif o == "newline":
                    rowsep = _sep_arg(v)
                elif o == "nullvalue":
                    nullvalue = _enc(v)
                else:
                    cmds.append(v)
            elif o == "bail":
                bail = True
            elif o == "readonly":
                readonly = True
            elif o in ("batch", "interactive", "echo", "safe", "nofollow", "memtrace", "stats"):
                pass
            elif o == "version":
                await ctx.out(_sqlite.sqlite_version + "\n")
                return 0
            elif o == "help":
                await ctx.out(_SQLITE_USAGE)
                return 0
            elif o in ("separator", "newline", "nullvalue", "cmd"):
                await ctx.stderr.write(_enc(f"sqlite3: Error: missing argument to {a}\n"))
                return 1
            else:
                await ctx.stderr.write(
                    _enc(f"sqlite3: Error: unknown option: {a}\nUse -help for a list of options.\n")
                )
                return 1
            i += 1
            continue
        if db is None:
            db = a
        else:
            sql_args.append(a)
        i += 1
    name = db if db is not None else ":memory:"
    persistent = name not in (":memory:", "")
    original = b""
    existed = False
    if persistent:
        try:
            st = ctx.fs.stat(name)
            if st.is_dir():
                await ctx.stderr.write(
                    _enc(f'Error: unable to open database "{name}": unable to open database file\n')
                )
                return 1
            original = ctx.fs.read_bytes(name)
            existed = True
        except FileNotFoundError:
            existed = False
        except OSError as exc:
            await ctx.stderr.write(
                _enc(f'Error: unable to open database "{name}": {exc.strerror}\n')
            )
            return 1
    conn = _sqlite.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.text_factory = _SqlText
        if original:
            try:
                conn.deserialize(original)
            except _sqlite.Error as exc:
                await ctx.stderr.write(_enc(f"Error: {exc}\n"))
                return 1
        conn.setlimit(_sqlite.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_deny_attach)
        conn.set_progress_handler(_sqlite_progress(ctx), 10000)
        conn.execute("PRAGMA temp_store=MEMORY")
        shell = _SqliteShell(ctx, conn)
        shell.mode = mode
        shell.bail = bail
        if mode == "csv":
            shell.colsep = b","
        elif mode == "tabs":
            shell.colsep = b"\t"
        if headers is not None:
            shell.headers = headers
        if colsep is not None:
            shell.colsep = colsep
        if rowsep is not None:
            shell.rowsep = rowsep
        shell.nullvalue = nullvalue
        runner = _SqliteRunner(ctx, shell)
        status = 0
        try:
            for c in cmds:
                if c.startswith("."):
                    ok = await runner.dot(c)
                else:
                    ok = await runner.sql(c, None)
                if not ok and bail:
                    raise _SqlExit(runner.status or 1)
            if sql_args:
                for s in sql_args:
                    if s.startswith("."):
                        ok = await runner.dot(s)
                    else:
                        ok = await runner.sql(s, None)
                    if not ok:
                        raise _SqlExit(runner.status or 1)
            else:
                text = _dec(await ctx.stdin.read())
                ok = await runner.script(text)
            status = runner.status
        except _SqlExit as e:
            status = e.code
        await shell.flush()
        if persistent and not readonly:
            try:
                new = conn.serialize() if _schema_nonempty(conn) else b""
            except _sqlite.Error:
                new = b""
            if not existed or new != original:
                try:
                    ctx.fs.write_bytes(name, new)
                except OSError as exc:
                    await ctx.stderr.write(
                        _enc(f'Error: unable to write database "{name}": {exc.strerror}\n')
                    )
                    return 1
        return status
    finally:
        conn.close()


def _schema_nonempty(conn: _sqlite.Connection) -> bool:
    try:
        return bool(conn.execute("PRAGMA page_count").fetchone()[0])
    except _sqlite.Error:
        return True
