"""The built-in agent's tools. Each one acts only through the ACP client methods the VM
serves (``fs/read_text_file``, ``fs/write_text_file``, ``terminal/*``), so every effect
passes the VM's policy and lands in the session's transcript."""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolSpec", "ToolError", "BUILTIN_TOOLS", "ToolRunner", "tool_specs"]

OUTPUT_LIMIT = 64 * 1024

#: the client's persistent-interpreter extension method (sent as ``_pocketos/python``)
PYTHON_EXTENSION = "pocketos/python"


class ToolError(Exception):
    """A tool failed in a way the model should see (bad arguments, missing file ...)."""


@dataclass
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    kind: str  # ACP tool kind
    mutates: bool
    host_command: list[str] | None = None

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}

BUILTIN_TOOLS: list[ToolSpec] = [
    ToolSpec(
        "bash",
        "Run a bash command in the VM (cwd = the session's working directory). "
        "Returns combined stdout/stderr and the exit status.",
        _obj(
            {"command": _S, "timeout": {"type": "number", "description": "seconds (default 120)"}},
            ["command"],
        ),
        "execute",
        True,
    ),
    ToolSpec(
        "read",
        "Read a text file. `offset` is the first line (1-based), `limit` the number of lines.",
        _obj({"path": _S, "offset": _I, "limit": _I}, ["path"]),
        "read",
        False,
    ),
    ToolSpec(
        "write",
        "Create or overwrite a file with `content` (parent directories are created).",
        _obj({"path": _S, "content": _S}, ["path", "content"]),
        "edit",
        True,
    ),
    ToolSpec(
        "edit",
        "Replace `old_string` with `new_string` in a file. `old_string` must "
        "occur exactly once unless `replace_all` is true.",
        _obj(
            {"path": _S, "old_string": _S, "new_string": _S, "replace_all": _B},
            ["path", "old_string", "new_string"],
        ),
        "edit",
        True,
    ),
    ToolSpec(
        "ls",
        "List a directory (long format, hidden files included).",
        _obj({"path": _S}, []),
        "read",
        False,
    ),
    ToolSpec(
        "glob",
        "Find files whose path (relative to `path`) matches a glob pattern; "
        "`**` crosses directories, e.g. `**/*.py`.",
        _obj({"pattern": _S, "path": _S}, ["pattern"]),
        "search",
        False,
    ),
    ToolSpec(
        "grep",
        "Search file contents with an extended regular expression; prints file:line:text.",
        _obj({"pattern": _S, "path": _S, "glob": _S, "ignore_case": _B}, ["pattern"]),
        "search",
        False,
    ),
    ToolSpec(
        "python",
        "Run Python 3 code in a persistent interpreter in the VM, like a "
        "notebook cell: variables, imports and functions stay defined for later calls. "
        "Returns what it printed and the repr of a final expression. `reset: true` starts "
        "a fresh interpreter first.",
        _obj({"code": _S, "reset": _B}, ["code"]),
        "execute",
        True,
    ),
]

_NAME_OK = re.compile(r"[^a-zA-Z0-9_-]")


def tool_specs(host_tools: list[dict[str, Any]] | None) -> list[ToolSpec]:
    """The built-in tools plus one per host tool (``<kit>_<tool>``)."""
    specs = list(BUILTIN_TOOLS)
    taken = {s.name for s in specs}
    for t in host_tools or []:
        name = _NAME_OK.sub("_", f"{t['kit']}_{t['name']}")[:64]
        if name in taken:
            continue
        taken.add(name)
        schema = dict(t.get("input_schema") or {"type": "object", "properties": {}})
        schema.pop("title", None)
        schema.setdefault("type", "object")
        specs.append(
            ToolSpec(
                name,
                f"Host tool {t['kit']}:{t['name']}: {t.get('description', '')}",
                schema,
                "other",
                True,
                list(t.get("command") or [f"pocketos-{t['kit']}", t["name"]]),
            )
        )
    return specs


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


class ToolRunner:
    """Runs tools for one agent session through its ACP connection."""

    def __init__(self, conn: Any, session_id: str, cwd: str, specs: list[ToolSpec]) -> None:
        self.conn = conn
        self.sid = session_id
        self.cwd = cwd
        self.specs = {s.name: s for s in specs}
        #: use the client's persistent interpreter (until it says it has none)
        self.persistent_python = True

    def path(self, p: Any) -> str:
        if not isinstance(p, str) or not p:
            raise ToolError("path must be a non-empty string")
        return posixpath.normpath(p if p.startswith("/") else posixpath.join(self.cwd, p))

    async def terminal(
        self, command: str, args: list[str] | None = None, timeout: float = 120.0
    ) -> tuple[str, int | None, bool]:
        c = self.conn
        t = await c.create_terminal(
            session_id=self.sid,
            command=command,
            args=args,
            cwd=self.cwd,
            output_byte_limit=OUTPUT_LIMIT,
        )
        tid = t.terminal_id
        timed_out = False
        try:
            try:
                w = await asyncio.wait_for(
                    c.wait_for_terminal_exit(session_id=self.sid, terminal_id=tid), timeout
                )
                code = w.exit_code
            except TimeoutError:
                timed_out = True
                await c.kill_terminal(session_id=self.sid, terminal_id=tid)
                code = None
            o = await c.terminal_output(session_id=self.sid, terminal_id=tid)
            out = o.output
            if o.truncated:
                out = "[output truncated to the last bytes]\n" + out
            if timed_out:
                out += f"\n[timed out after {timeout:g}s and killed]"
            return out, code, o.truncated
        finally:
            try:
                await c.release_terminal(session_id=self.sid, terminal_id=tid)
            except Exception:
                pass

    async def run(self, name: str, args: dict[str, Any]) -> str:
        spec = self.specs.get(name)
        if spec is None:
            raise ToolError(f"unknown tool {name!r}; tools: {', '.join(self.specs)}")
        if spec.host_command is not None:
            out, code, _ = await self.terminal(
                spec.host_command[0], [*spec.host_command[1:], "--json", json.dumps(args)]
            )
            return out if code == 0 else f"{out}\n[exit status {code}]"
        fn: Callable[[dict[str, Any]], Awaitable[str]] = getattr(self, "_" + name)
        return await fn(args)

    def _req(self, args: dict[str, Any], key: str) -> Any:
        if key not in args:
            raise ToolError(f"missing argument {key!r}")
        return args[key]

    async def _bash(self, args: dict[str, Any]) -> str:
        cmd = self._req(args, "command")
        out, code, _ = await self.terminal(str(cmd), None, float(args.get("timeout") or 120))
        return (
            f"{out}[exit status {code}]"
            if out.endswith("\n") or not out
            else f"{out}\n[exit status {code}]"
        )

    async def _read(self, args: dict[str, Any]) -> str:
        p = self.path(self._req(args, "path"))
        r = await self.conn.read_text_file(
            session_id=self.sid, path=p, line=args.get("offset"), limit=args.get("limit")
        )
        return str(r.content)

    async def _write(self, args: dict[str, Any]) -> str:
        p = self.path(self._req(args, "path"))
        content = str(self._req(args, "content"))
        await self.conn.write_text_file(session_id=self.sid, path=p, content=content)
        return f"wrote {len(content.encode())} bytes to {p}"

    async def _edit(self, args: dict[str, Any]) -> str:
        p = self.path(self._req(args, "path"))
        old = str(self._req(args, "old_string"))
        new = str(self._req(args, "new_string"))
        if not old:
            raise ToolError("old_string must not be empty")
        r = await self.conn.read_text_file(session_id=self.sid, path=p)
        text = str(r.content)
        n = text.count(old)
        if n == 0:
            raise ToolError(f"old_string not found in {p}")
        if n > 1 and not args.get("replace_all"):
            raise ToolError(
                f"old_string occurs {n} times in {p}; add surrounding context to "
                f"make it unique, or set replace_all"
            )
        text = text.replace(old, new) if args.get("replace_all") else text.replace(old, new, 1)
        await self.conn.write_text_file(session_id=self.sid, path=p, content=text)
        return f"replaced {n if args.get('replace_all') else 1} occurrence(s) in {p}"

    async def _ls(self, args: dict[str, Any]) -> str:
        p = self.path(args.get("path") or ".")
        out, code, _ = await self.terminal("ls", ["-la", "--", p])
        return out if code == 0 else f"{out}[exit status {code}]"

    async def _glob(self, args: dict[str, Any]) -> str:
        pattern = str(self._req(args, "pattern"))
        base = self.path(args.get("path") or ".")
        out, code, _ = await self.terminal("find", [base, "-type", "f"])
        if code != 0:
            return f"{out}[exit status {code}]"
        rx = _glob_regex(
            pattern.lstrip("/")
            if not pattern.startswith(base)
            else pattern[len(base) :].lstrip("/")
        )
        hits = []
        for line in out.splitlines():
            rel = posixpath.relpath(line, base)
            if rx.match(rel):
                hits.append(line)
        return "\n".join(sorted(hits)) + "\n" if hits else "no files match\n"

    async def _grep(self, args: dict[str, Any]) -> str:
        pattern = str(self._req(args, "pattern"))
        p = self.path(args.get("path") or ".")
        argv = ["-rnE"]
        if args.get("ignore_case"):
            argv.append("-i")
        if args.get("glob"):
            argv.append(f"--include={args['glob']}")
        argv += ["--", pattern, p]
        out, code, _ = await self.terminal("grep", argv)
        if code == 1:
            return "no matches\n"
        return out if code == 0 else f"{out}[exit status {code}]"

    async def _python(self, args: dict[str, Any]) -> str:
        code_text = str(self._req(args, "code"))
        if self.persistent_python:
            from acp import RequestError

            try:
                r = await self.conn.ext_method(
                    PYTHON_EXTENSION,
                    {"sessionId": self.sid, "code": code_text, "reset": bool(args.get("reset"))},
                )
            except RequestError as exc:
                if exc.code != -32601:
                    data = exc.data if isinstance(exc.data, dict) else {}
                    raise ToolError(str(data.get("error") or exc))
                # a client without the extension: one python3 process per call
                self.persistent_python = False
            else:
                return _python_result(r if isinstance(r, dict) else {})
        out, code, _ = await self.terminal("python3", ["-c", code_text], 300.0)
        return (
            f"{out}[exit status {code}]"
            if out.endswith("\n") or not out
            else f"{out}\n[exit status {code}]"
        )


def _python_result(r: dict[str, Any]) -> str:
    """The model's view of one interpreter cell: output, the final value, the error."""
    parts: list[str] = []
    if r.get("restarted"):
        parts.append(
            "[the interpreter had stopped and was restarted: earlier variables are gone]\n"
        )
    for key in ("stdout", "stderr"):
        text = str(r.get(key) or "")
        if text:
            parts.append(text if text.endswith("\n") else text + "\n")
    if r.get("value") is not None:
        parts.append(f"{r['value']}\n")
    text = "".join(parts)
    error = r.get("error")
    if error:
        if str(error) not in text:
            text += f"{error}\n"
        if r.get("ended"):
            text += "[the interpreter stopped; the next call starts a fresh one]\n"
        raise ToolError(text.rstrip("\n"))
    return text or "[no output]\n"


def describe_call(spec: ToolSpec | None, name: str, args: dict[str, Any]) -> str:
    """A short title for the ACP tool call."""
    if name == "bash":
        return f"bash: {str(args.get('command', ''))[:80]}"
    if name in ("read", "write", "edit", "ls"):
        return f"{name} {args.get('path', '.')}"
    if name == "glob":
        return f"glob {args.get('pattern', '')}"
    if name == "grep":
        return f"grep {args.get('pattern', '')}"
    if name == "python":
        return "python"
    if spec is not None and spec.host_command:
        return shlex.join(spec.host_command)
    return name
