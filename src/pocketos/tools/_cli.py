"""The command-line mapping of a tool: flags from its JSON schema, help text, JSON output.

Fields become ``--kebab-case`` flags. Booleans are ``--x``/``--no-x``; integers and numbers are
checked; arrays take the flag once per element; objects (and anything that is not a plain
scalar) take a JSON value. ``--json '{...}'`` gives the whole arguments object and
``--json-file PATH`` reads it from a file (``-`` is stdin); flags override what those give.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from pocketos.tools._model import Tool

__all__ = [
    "ArgumentError",
    "FlagSpec",
    "flag_specs",
    "parse_tool_argv",
    "tool_help",
    "format_validation_error",
    "dump_json",
    "RESERVED_FLAGS",
]

#: flags every tool command understands itself
RESERVED_FLAGS = frozenset({"help", "json", "json-file"})


class ArgumentError(Exception):
    """A bad command line for a tool. ``str(exc)`` is the message (without the program name)."""


@dataclass
class FlagSpec:
    key: str  # the property name in the arguments object
    flag: str  # the flag name without dashes
    kind: str  # boolean | integer | number | string | json
    array: bool = False
    required: bool = False
    description: str = ""
    default: Any = None
    has_default: bool = False
    choices: tuple[Any, ...] = ()
    nullable: bool = False

    @property
    def metavar(self) -> str:
        if self.choices:
            return "{" + ",".join(str(c) for c in self.choices) + "}"
        return {"integer": "INT", "number": "NUM", "string": "TEXT", "json": "JSON"}.get(
            self.kind, "VALUE"
        )


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        merged = dict(target)
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged
        seen += 1
    return schema


def _kind(schema: dict[str, Any], root: dict[str, Any]) -> tuple[str, bool, tuple[Any, ...], bool]:
    """(kind, array, choices, nullable) of a property schema."""
    s = _resolve(schema, root)
    nullable = False
    for key in ("anyOf", "oneOf"):
        if key in s:
            opts = [_resolve(o, root) for o in s[key]]
            non_null = [o for o in opts if o.get("type") != "null"]
            nullable = len(non_null) != len(opts)
            if len(non_null) == 1:
                k, arr, ch, _ = _kind(non_null[0], root)
                return k, arr, ch, nullable
            return "json", False, (), nullable
    t = s.get("type")
    if isinstance(t, list):
        non_null_t = [x for x in t if x != "null"]
        nullable = len(non_null_t) != len(t)
        t = non_null_t[0] if len(non_null_t) == 1 else None
    if "enum" in s and t in (None, "string", "integer", "number"):
        vals = tuple(s["enum"])
        if all(isinstance(v, str) for v in vals):
            return "string", False, vals, nullable
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "integer", False, vals, nullable
        return "json", False, vals, nullable
    if "const" in s and isinstance(s["const"], str):
        return "string", False, (s["const"],), nullable
    if t in ("boolean", "integer", "number", "string"):
        return t, False, (), nullable
    if t == "array":
        items = s.get("items")
        if isinstance(items, dict):
            k, arr, ch, _ = _kind(items, root)
            if not arr and k in ("integer", "number", "string", "boolean"):
                return k, True, ch, nullable
        return "json", True, (), nullable
    return "json", False, (), nullable


def flag_specs(tool: Tool) -> list[FlagSpec]:
    schema = tool.input_schema()
    required = set(schema.get("required", []))
    out = []
    for key, prop in schema.get("properties", {}).items():
        kind, array, choices, nullable = _kind(prop, schema)
        desc = prop.get("description") or _resolve(prop, schema).get("description", "")
        out.append(
            FlagSpec(
                key,
                key.replace("_", "-"),
                kind,
                array,
                key in required,
                " ".join(str(desc).split()),
                prop.get("default"),
                "default" in prop,
                choices,
                nullable,
            )
        )
    return out


def _convert(spec: FlagSpec, raw: str, shown: str) -> Any:
    kind = spec.kind
    if spec.nullable and raw == "null" and kind != "string":
        return None
    if kind == "integer":
        try:
            return int(raw, 10)
        except ValueError:
            raise ArgumentError(f"invalid value for {shown}: {raw!r} is not an integer")
    if kind == "number":
        try:
            val = float(raw)
        except ValueError:
            raise ArgumentError(f"invalid value for {shown}: {raw!r} is not a number")
        if not math.isfinite(val):
            raise ArgumentError(f"invalid value for {shown}: {raw!r} is not a finite number")
        return int(val) if raw.strip().lstrip("+-").isdigit() else val
    if kind == "boolean":
        low = raw.lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise ArgumentError(
            f"invalid value for {shown}: {raw!r} is not a boolean (use true or false)"
        )
    if kind == "string":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ArgumentError(
            f"invalid value for {shown}: not valid JSON ({exc.msg} at "
            f"line {exc.lineno} column {exc.colno})"
        )


def _parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        val = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentError(
            f"invalid JSON in {what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    if not isinstance(val, dict):
        raise ArgumentError(f"{what} must be a JSON object, not {_json_type(val)}")
    return val


def _json_type(val: Any) -> str:
    if val is None:
        return "null"
    if isinstance(val, bool):
        return "a boolean"
    if isinstance(val, (int, float)):
        return "a number"
    if isinstance(val, str):
        return "a string"
    if isinstance(val, list):
        return "an array"
    return "an object"


@dataclass
class ParsedArgs:
    args: dict[str, Any]
    help: bool = False
    help_json: bool = False
    #: "" | "-" | path: where --json-file reads
    json_file: str | None = None
    #: no flag and no --json/--json-file: stdin may carry the arguments
    bare: bool = True


def parse_tool_argv(tool: Tool, argv: list[str]) -> ParsedArgs:
    """Map ``argv`` (after the tool name) onto an arguments dict (not yet validated)."""
    specs = flag_specs(tool)
    by_flag: dict[str, FlagSpec] = {}
    for s in specs:
        by_flag[s.flag] = s
        by_flag.setdefault(s.key, s)
    res = ParsedArgs({})
    base: dict[str, Any] | None = None
    flags: dict[str, Any] = {}
    given: set[str] = set()
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "--":
            if i < n:
                raise ArgumentError(
                    f"unexpected argument {argv[i]!r} (tool arguments are given as --flags)"
                )
            break
        if not a.startswith("--") or a == "--":
            if a.startswith("-") and len(a) > 1:
                raise ArgumentError(f"unknown flag {a!r} (tool flags are long: --name VALUE)")
            raise ArgumentError(f"unexpected argument {a!r} (tool arguments are given as --flags)")
        name, eq, value = a[2:].partition("=")
        if name == "help":
            res.help = True
            continue
        if name == "json" and not eq and (i >= n or argv[i].startswith("--")):
            # ``--help --json`` asks for the schema
            res.help_json = True
            continue
        if name in ("json", "json-file"):
            if not eq:
                if i >= n:
                    raise ArgumentError(f"flag --{name} needs a value")
                value = argv[i]
                i += 1
            res.bare = False
            if name == "json":
                if base is not None:
                    raise ArgumentError("--json/--json-file given more than once")
                base = _parse_json_object(value, "--json")
            else:
                if base is not None or res.json_file is not None:
                    raise ArgumentError("--json/--json-file given more than once")
                res.json_file = value
            continue
        spec = by_flag.get(name)
        negated = False
        if spec is None and name.startswith("no-"):
            cand = by_flag.get(name[3:])
            if cand is not None and cand.kind == "boolean" and not cand.array:
                spec, negated = cand, True
        if spec is None:
            known = ", ".join("--" + s.flag for s in specs) or "none"
            raise ArgumentError(f"unknown flag '--{name}' (flags: {known})")
        shown = "--" + spec.flag
        res.bare = False
        if spec.kind == "boolean" and not spec.array:
            if negated:
                if eq:
                    raise ArgumentError(f"flag --no-{spec.flag} takes no value")
                val: Any = False
            elif eq:
                val = _convert(spec, value, shown)
            else:
                val = True
        else:
            if not eq:
                if i >= n:
                    raise ArgumentError(f"flag {shown} needs a value")
                value = argv[i]
                i += 1
            val = _convert(spec, value, shown)
        if spec.array and spec.kind != "json":
            flags.setdefault(spec.key, []).append(val)
        elif spec.array and isinstance(val, list):
            flags.setdefault(spec.key, []).extend(val)
        elif spec.array:
            flags.setdefault(spec.key, []).append(val)
        else:
            if spec.key in given and spec.kind != "boolean":
                raise ArgumentError(f"flag {shown} given more than once")
            flags[spec.key] = val
        given.add(spec.key)
    res.args = dict(base or {})
    res.args.update(flags)
    return res


def finish_args(tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
    """Check required flags before validation, so the message names the flag."""
    for s in flag_specs(tool):
        if s.required and s.key not in args:
            raise ArgumentError(f"missing required flag --{s.flag}")
    return args


def format_validation_error(tool: Tool, exc: ValidationError) -> str:
    specs = {s.key: s for s in flag_specs(tool)}
    parts = []
    for err in exc.errors(include_url=False):
        loc = list(err.get("loc", ()))
        msg = str(err.get("msg", "invalid value"))
        etype = err.get("type", "")
        if not loc:
            parts.append(msg)
            continue
        head = loc[0]
        spec = specs.get(str(head))
        if etype == "extra_forbidden" or (spec is None and len(loc) == 1):
            parts.append(f"unknown argument {str(head)!r}")
            continue
        if etype == "missing" and len(loc) == 1:
            parts.append(f"missing required flag --{spec.flag if spec else head}")
            continue
        where = "--" + (spec.flag if spec else str(head))
        if len(loc) > 1:
            where += " (at " + ".".join(str(x) for x in loc[1:]) + ")"
        inp = err.get("input")
        shown = ""
        if isinstance(inp, (str, int, float, bool)) and etype != "missing":
            shown = f" (got {json.dumps(inp)})"
        parts.append(f"invalid value for {where}: {msg}{shown}")
    return "; ".join(parts) or "invalid arguments"


def dump_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False, indent=indent)


def tool_help(tool: Tool, prog: str) -> str:
    specs = flag_specs(tool)
    lines = [
        f"Usage: {prog} [FLAGS]",
        f"       {prog} --json '{{...}}'",
        f"       {prog} --json-file FILE   (- reads stdin)",
        "",
        tool.description,
        "",
    ]
    if specs:
        lines.append("Flags:")
        rows = []
        for s in specs:
            if s.kind == "boolean" and not s.array:
                left = f"--{s.flag} / --no-{s.flag}"
            else:
                left = f"--{s.flag} {s.metavar}"
            notes = []
            if s.description:
                notes.append(s.description)
            if s.required:
                notes.append("(required)")
            elif s.has_default:
                notes.append(f"(default: {json.dumps(s.default)})")
            if s.array:
                notes.append(
                    "(repeat the flag for each value)" if s.kind != "json" else "(a JSON array)"
                )
            rows.append((left, " ".join(notes)))
        width = min(max(len(r[0]) for r in rows), 34)
        for left, right in rows:
            if len(left) > width:
                lines.append(f"  {left}")
                if right:
                    lines.append(f"  {'':{width}}  {right}")
            else:
                lines.append(f"  {left:{width}}  {right}".rstrip())
    else:
        lines.append("This tool takes no arguments.")
    lines += [
        "",
        'Output: {"ok": true, "result": ...} on stdout, exit status 0; errors go',
        "to stderr with exit status 1. '--help --json' prints the JSON schema.",
        "",
        "Examples:",
    ]
    examples = list(tool.examples) or [_example(prog, specs)]
    lines += [f"  {e}" for e in examples]
    return "\n".join(lines) + "\n"


def _example(prog: str, specs: list[FlagSpec]) -> str:
    sample = {"integer": "1", "number": "1.5", "string": "text", "json": "'{}'"}
    words = [prog]
    for s in specs:
        if not s.required:
            continue
        if s.kind == "boolean":
            words.append(f"--{s.flag}")
        elif s.choices:
            words.append(f"--{s.flag} {s.choices[0]}")
        elif s.kind == "json" and s.array:
            words.append(f"--{s.flag} '[]'")
        else:
            words.append(f"--{s.flag} {sample[s.kind]}")
    return " ".join(words)
