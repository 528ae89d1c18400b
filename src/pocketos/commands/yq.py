"""yq (mikefarah yq v4 flavour on top of the jq engine)."""

from __future__ import annotations

import base64 as _b64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

from pocketos.commands import command
from pocketos.commands._args import Opt, Parsed, UsageError, parse

if TYPE_CHECKING:
    from pocketos.kernel.budget import Held
    from pocketos.kernel.process import Context

from pocketos.commands._data import _enc, _read_operand, format_json
from pocketos.commands._jq_engine import JqEngine, JqEngineError
from pocketos.commands.jq import JqError, JqOptions, JqProgram, _JsonSplitter, jq_results

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


def _expanded_size(doc: Any, cap: int) -> int:
    """Nodes of ``doc`` counting every alias as a copy (linear in the loaded graph: shared
    nodes are measured once). Stops counting past ``cap``."""
    memo: dict[int, int] = {}

    def size(v: Any, depth: int) -> int:
        if isinstance(v, dict):
            items: Any = list(v.keys()) + list(v.values())
        elif isinstance(v, list):
            items = v
        else:
            return 1
        key = id(v)
        got = memo.get(key)
        if got is not None:
            return got
        if depth > 10_000:
            return cap + 1
        memo[key] = cap + 1  # a cycle counts as endless
        n = 1
        for x in items:
            n += size(x, depth + 1)
            if n > cap:
                break
        memo[key] = n
        return n

    try:
        return size(doc, 0)
    except RecursionError:
        return cap + 1


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
                    loaded = list(yaml.safe_load_all(text))
                    cap = max(10_000, ctx.limits.max_memory // 64)
                    if any(_expanded_size(d, cap) > cap for d in loaded):
                        # a few aliases of aliases describe billions of nodes ("billion
                        # laughs"): refuse before anything walks or prints them
                        ctx.budget.limit_hit = ctx.budget.limit_hit or "max_memory"
                        raise ValueError("yaml: document contains excessive aliasing")
                    docs.extend(loaded)
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
    with ctx.budget.hold("yq: results") as held:
        async with JqEngine() as engine:
            try:
                prog = JqProgram(expr, opts, ctx.env)
                await prog.compile(engine)
                results = await _evaluate(ctx, engine, docs, held)
            except JqError as exc:
                first = exc.message.split("\n")[0].removeprefix("jq: error: ")
                await ctx.stderr.write(_enc("Error: " + first + "\n"))
                return 1
            except JqEngineError as exc:
                await ctx.stderr.write(_enc(f"Error: {exc}\n"))
                return 1
        if results is None:
            return 1
        return await _write_results(ctx, p, results, out_fmt, indent, files)


def _check(ctx: Context) -> Callable[[], None]:
    def check() -> None:
        ctx.check_killed()
        ctx.budget.check_time()

    return check


async def _evaluate(
    ctx: Context, engine: JqEngine, docs: list[Any], held: Held
) -> list[list[str]] | None:
    """The program's results for each document (None after an error, already reported)."""
    results: list[list[str]] = []
    for doc in docs:
        ctx.check_killed()
        try:
            text = json.dumps(doc, default=_yaml_default, ensure_ascii=False)
        except ValueError as exc:
            await ctx.stderr.write(_enc(f"Error: {exc}\n"))
            return None
        outs: list[str] = []
        async for events in jq_results(engine, [(text, "")], _check(ctx)):
            for ev, _ in events:
                if ev.kind != "out":
                    await ctx.stderr.write(_enc(f"Error: {ev.text}\n"))
                    return None
                held.add(len(ev.text) + 64)
                outs.append(ev.text)
        results.append(outs)
    return results


async def _write_results(
    ctx: Context,
    p: Parsed,
    results: list[list[str]],
    out_fmt: str,
    indent: int,
    files: list[str],
) -> int:
    unwrap = p.get("unwrap", True) not in ("false",)
    last: Any = _NOTHING
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
