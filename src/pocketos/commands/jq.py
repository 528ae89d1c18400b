"""jq on the jq library, with the GNU-style command line of jq 1.7.

Programs are evaluated in a helper process (:mod:`pocketos.commands._jq_engine`) that the exec's
deadline can kill and whose memory is capped at what is left of the exec's budget."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketos.commands import command
from pocketos.commands._jq_args import JqError, JqOptions, _parse_jq_argv
from pocketos.commands._jq_engine import JqCompileError, JqEngine, JqEngineError
from pocketos.commands._jq_fast import compile_fast
from pocketos.commands._jq_input import _JsonSplitter, decode_cost
from pocketos.commands._jq_screen import screen_program

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._data import _NON_ASCII, CHUNK, _ascii_escape, _dec, _enc, iter_json
from pocketos.kernel.budget import check_alloc

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
#: a program that may read the environment (any mention, in a string too: ``"\\(env.X)"``)
_READS_ENV = re.compile(r"env", re.IGNORECASE)
_STRIP_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|#[^\n]*')


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
        # the environment only when the program can read it (``env``/``$ENV``): otherwise a
        # changed variable (``PWD``) would make every call a new program for the compile caches
        self.args["__pocketos_env"] = dict(env) if _READS_ENV.search(source) else {}
        self.args["__pocketos_args"] = {
            "positional": list(opts.positional),
            "named": dict(opts.named),
        }
        self.args["__pocketos_inputs"] = []
        self.args["__pocketos_filename"] = None
        tail = " | _pocketos_sort" if opts.sort_keys else ""
        self.text = _JQ_PRELUDE + "(" + source + "\n)" + tail + " | tojson"
        #: the cost bound when the program may run in this process (None: in a helper)
        self.screen = screen_program(source, [opts.named, opts.positional], opts.sort_keys)

    async def compile(
        self, engine: JqEngine, inputs: list[str] | None = None, defer: bool = False
    ) -> None:
        """Compile in ``engine``'s helper, with ``inputs`` (JSON texts) for ``input`` and
        ``inputs``; raises JqError with jq's message and status 3 when it does not compile.
        ``defer``: see :meth:`JqEngine.compile`."""
        raw = {"__pocketos_inputs": "[" + ",".join(inputs) + "]"} if inputs else None
        screen = None if raw else self.screen  # input/inputs never pass the screen anyway
        msg = await engine.compile(
            self.text, self.args, self.source, raw, screen=screen, defer=defer
        )
        if msg is not None:
            raise JqError(msg, 3)


@dataclass
class _Event:
    kind: str  # "out" | "err" | "halt" | "parse"
    text: str = ""
    code: int = 0


async def jq_results(
    engine: JqEngine, items: list[tuple[str, str]], limit_check: Any
) -> AsyncIterator[list[tuple[_Event, str]]]:
    """Run the compiled program over ``items`` (JSON text, location): batches of events, each
    with its input's location. ``limit_check`` runs before each batch is awaited."""
    await engine.start([t for t, _ in items])
    async for events in _engine_events(engine, lambda i: items[i][1], limit_check):
        yield events


async def jq_text_results(
    engine: JqEngine, text: _WholeText, limit_check: Any
) -> AsyncIterator[list[tuple[_Event, str]]]:
    """The same over every value of one input text, which libjq parses in the helper."""
    await engine.start_text(text.data)
    async for events in _engine_events(engine, text.where, limit_check):
        yield events


async def _engine_events(
    engine: JqEngine, where: Callable[[int], str], limit_check: Any
) -> AsyncIterator[list[tuple[_Event, str]]]:
    done = False
    while not done:
        limit_check()
        batch, done = await engine.next()
        events: list[tuple[_Event, str]] = []
        for kind, i, text in batch:
            if kind == "out":
                events.append((_Event("out", text), ""))
            elif kind == "err":
                events.append((_error_event(text), where(i)))
            else:
                events.append((_Event("parse" if kind == "parse" else "err", text), where(i)))
        yield events


class _WholeText:
    """One input read whole (a file): its bytes go to libjq as they are, and the locations
    of values that fail are found only when one does."""

    def __init__(self, label: str, data: bytes, cost: int) -> None:
        self.label, self.data, self.cost = label, data, cost
        self._lines: list[int] | None = None

    def where(self, index: int) -> str:
        if self._lines is None:
            vals, _ = _JsonSplitter().feed(self.data, True)
            self._lines = [line for _, line in vals]
        lines = self._lines
        line = lines[index] if index < len(lines) else lines[-1] if lines else 0
        return f"{self.label}:{line}"


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

    def __init__(self, ctx: Context, prog: JqProgram, opts: JqOptions, engine: JqEngine) -> None:
        self.ctx = ctx
        self.prog = prog
        self.engine = engine
        self.opts = opts
        self.status = 0
        self.last: str | None = None
        self.halted = False
        self.parse_failed = False
        self.indent = None if opts.compact else opts.indent
        self.fast = compile_fast(prog.source, opts)

    def render(self, text: str) -> Iterator[bytes]:
        """The output of one result, in pieces of bounded size (a deep value's layout is
        many times its compact text)."""
        o = self.opts
        if o.seq:
            yield b"\x1e"
        if o.raw and text.startswith('"'):
            try:
                s = json.loads(text)
            except ValueError:
                s = text
            if o.ascii:
                s = _NON_ASCII.sub(_ascii_escape, s)
            yield s.encode("utf-8", "replace")
        else:
            for piece in iter_json(text, self.indent, o.ascii):
                yield piece.encode("utf-8", "replace")
        if o.nul:
            yield b"\0"
        elif not o.join:
            yield b"\n"

    def _check(self) -> None:
        self.ctx.check_killed()
        self.ctx.budget.check_time()

    async def run_many(self, items: list[tuple[str, str]]) -> None:
        """Run the compiled program on each input (JSON text, location) and write the
        results."""
        if not items or self.halted:
            return
        async for events in jq_results(self.engine, items, self._check):
            if not await self._write(events):
                return

    async def run_text(self, text: _WholeText) -> None:
        """Run the compiled program on every value of a whole input and write the results;
        a parse error is reported and ends the input (:class:`_StopInput`)."""
        if self.halted:
            return
        done = self.fast and self.fast.run(text.data, text.cost, self._check)
        if done:  # the program's output (None: libjq's turn)
            for chunk in done[0]:
                await self.ctx.stdout.write(chunk)
            self.last = done[1]
            return
        async for events in jq_text_results(self.engine, text, self._check):
            if not await self._write(events):
                break
        if self.parse_failed:
            raise _StopInput()

    async def _write(self, events: list[tuple[_Event, str]]) -> bool:
        """Write a batch's results and errors; False once the program halted or the input
        failed to parse."""
        out: list[bytes] = []
        size = 0
        for ev, where in events:
            if ev.kind == "out":
                self.last = ev.text
                for piece in self.render(ev.text):
                    out.append(piece)
                    size += len(piece)
                    if size >= CHUNK:
                        # written as it is laid out: never a whole batch's output at once
                        await self.ctx.stdout.write(b"".join(out))
                        out = []
                        size = 0
                continue
            if out:
                await self.ctx.stdout.write(b"".join(out))
                out = []
                size = 0
            if ev.kind == "err":
                note = " (not a string)" if ev.code == -1 else ""
                await self.ctx.stderr.write(_enc(f"jq: error (at {where}){note}: {ev.text}\n"))
                self.status = 5
            elif ev.kind == "parse":
                await self.ctx.stderr.write(_enc(ev.text + "\n"))
                self.status = 2
                self.parse_failed = True
                return False
            else:
                if ev.text:
                    await self.ctx.stderr.write(_enc(ev.text))
                self.status = ev.code
                self.halted = True
                return False
        if out:
            await self.ctx.stdout.write(b"".join(out))
        return True

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
            try:
                size = ctx.fs.stat(f).st_size
            except PermissionError:
                size = 0  # the read below reports the denial, as for any command reading it
            check_alloc(size, "jq: input")
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
    async for batch in _jq_inputs(ctx, files, runner, False):
        assert isinstance(batch, list)
        yield batch


async def _jq_inputs(
    ctx: Context, files: list[str], runner: _JqRunner, whole: bool
) -> AsyncIterator[list[tuple[str, str]] | _WholeText]:
    """:func:`_jq_value_batches`, but with ``whole`` an input read in one piece (a file)
    comes as a :class:`_WholeText`, for libjq to parse."""
    splitter: _JsonSplitter | None = None
    current: str | None = None
    starting = True
    async for label, chunk, eof, error in _jq_sources(ctx, files):
        if error:
            await runner.engine.flush()  # a compile error comes first
            await ctx.stderr.write(_enc(error + "\n"))
            runner.status = 2
            starting = True
            continue
        if whole and starting and eof:
            data = chunk or b""
            # what Python's objects for it would take: the bound libjq's are checked against
            check_alloc(cost := decode_cost(data), "jq: input")
            yield _WholeText(label, data, cost)
            continue
        starting = eof
        if label != current or splitter is None:
            splitter = _JsonSplitter()
            current = label
        vals, err = splitter.feed(chunk or b"", eof)
        if vals:
            yield [(text, f"{label}:{line}") for text, line in vals]
        if err:
            await runner.engine.flush()
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
        check_alloc(len(pending), "jq: input")
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
        ctx.charge(len(chunk), "jq: input")
        parts.append(chunk)
    return json.dumps(b"".join(parts).decode("utf-8", "replace"))


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
    async with JqEngine() as engine:
        try:
            # one value at a time from each input: the compile request can wait for the
            # first run (one round trip to the helper instead of two)
            await prog.compile(engine, defer=_one_by_one(opts, prog))
            runner = _JqRunner(ctx, prog, opts, engine)
            status = await run_jq(ctx, runner, files)
            await engine.flush()
            return status
        except JqError as exc:
            await ctx.stderr.write(_enc(exc.message + "\n"))
            return exc.status
        except JqCompileError as exc:
            await ctx.stderr.write(_enc(str(exc) + "\n"))
            return 3
        except JqEngineError as exc:
            await ctx.stderr.write(_enc(str(exc) + "\n"))
            return 5


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
        if not opts.stream:
            async for batch in _jq_value_batches(ctx, files, runner):
                yield batch
            return
        # --stream: each value becomes its [path, leaf] events, computed by a helper too
        # (a deep document has events quadratic in its size)
        async with JqEngine() as streamer:
            msg = await streamer.compile("tostream | tojson", {}, "tostream")
            if msg is not None:  # pragma: no cover - a fixed program
                raise JqError(msg, 3)
            async for batch in _jq_value_batches(ctx, files, runner):
                async for events in jq_results(streamer, batch, runner._check):
                    yield [(ev.text, where) for ev, where in events if ev.kind == "out"]

    try:
        if opts.null_input or prog.uses_inputs or (opts.slurp and not opts.raw_input):
            collected: list[tuple[str, str]] = []
            if not opts.null_input or prog.uses_inputs:
                try:
                    async for batch in batches():
                        # each value is kept as a text and a location (~200 bytes of objects)
                        ctx.charge(sum(len(t) + 200 for t, _ in batch), "jq: input")
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
            if prog.uses_inputs:
                await prog.compile(runner.engine, [t for t, _ in rest])
            await runner.run_many([(first_text, where)])
            return runner.exit_code()
        try:
            if opts.raw_input or opts.stream:
                async for batch in batches():
                    await runner.run_many(batch)
                    if runner.halted:
                        break
            else:
                async for item in _jq_inputs(ctx, files, runner, True):
                    if isinstance(item, _WholeText):
                        await runner.run_text(item)
                    else:
                        await runner.run_many(item)
                    if runner.halted:
                        break
        except _StopInput:
            pass
        return runner.exit_code()
    except ValueError as exc:
        await ctx.stderr.write(_enc(f"jq: error: {exc}\n"))
        return 2


def _one_by_one(opts: JqOptions, prog: JqProgram) -> bool:
    """Does the program run on each JSON value of the inputs in turn (no -n, -s, -R,
    --stream, input or inputs)?"""
    return not (opts.null_input or prog.uses_inputs or opts.slurp or opts.raw_input or opts.stream)


def _empty_status(runner: _JqRunner) -> int:
    return 4 if runner.opts.exit_status else 0


__all__ = ["JqOptions"]
