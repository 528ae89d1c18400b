"""The tool commands inside a VM: ``pocketos-<kit> <tool> --flag v`` per toolkit and the master
``pocketos`` command (``pocketos list-tools``, ``pocketos <kit> <tool> ...``).

Per-kit commands are registered per VM by :func:`pocketos.tools.install`; ``pocketos`` is also
registered globally so that a VM without toolkits answers ``pocketos list-tools`` with an empty
list instead of "command not found".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pocketos.commands import CommandFunc, command
from pocketos.kernel.process import Context

if TYPE_CHECKING:
    from pocketos.kernel.kernel import Kernel
    from pocketos.tools._model import Tool, Toolkit
    from pocketos.tools._runtime import ToolHost


def get_host(kernel: Kernel) -> ToolHost | None:
    # pydantic and the tool machinery load only when a VM has toolkits
    if kernel.tools is None:
        return None
    from pocketos.tools._runtime import get_host as real

    return real(kernel)


__all__ = ["kit_command", "master_command", "run_tool"]


async def _fail(ctx: Context, prog: str, message: str, *, hint: bool = False) -> int:
    text = f"{prog}: {message}\n"
    if hint:
        text += f"Try '{prog} --help' for more information.\n"
    await ctx.stderr.write(text.encode("utf-8", "surrogateescape"))
    return 1


#: the most JSON a tool command reads from stdin
MAX_STDIN_JSON = 16 * 1024 * 1024


async def _read_stdin(ctx: Context) -> bytes:
    from pocketos.tools._cli import ArgumentError

    parts = []
    total = 0
    async for chunk in ctx.stdin.chunks():
        parts.append(chunk)
        total += len(chunk)
        if total > MAX_STDIN_JSON:
            raise ArgumentError(f"stdin holds more than {MAX_STDIN_JSON} bytes of JSON")
        ctx.check_killed()
    return b"".join(parts)


def _object_from(data: bytes, what: str) -> dict[str, Any]:
    from pocketos.tools._cli import ArgumentError

    text = data.decode("utf-8", "surrogateescape")
    try:
        val = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentError(
            f"invalid JSON in {what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    if not isinstance(val, dict):
        raise ArgumentError(f"{what} must hold a JSON object")
    return val


async def run_tool(ctx: Context, host: ToolHost, tool: Tool, argv: list[str], prog: str) -> int:
    """Parse ``argv`` for ``tool``, call it through the host and print the JSON result."""
    from pydantic import ValidationError

    from pocketos.tools._cli import (
        ArgumentError,
        dump_json,
        finish_args,
        flag_specs,
        format_validation_error,
        parse_tool_argv,
        tool_help,
    )
    from pocketos.tools._runtime import ToolCallError, ToolDenied

    try:
        parsed = parse_tool_argv(tool, argv)
    except ArgumentError as exc:
        return await _fail(ctx, prog, str(exc), hint=True)
    if parsed.help:
        if parsed.help_json:
            await ctx.out(json.dumps(tool.describe(), indent=2) + "\n")
        else:
            await ctx.out(tool_help(tool, prog))
        return 0
    if parsed.help_json:
        return await _fail(ctx, prog, "flag --json needs a value", hint=True)
    try:
        await host.authorize(tool, pid=ctx.pid)
    except ToolDenied as exc:
        return await _fail(ctx, prog, str(exc))
    args = parsed.args
    try:
        if parsed.json_file is not None:
            if parsed.json_file == "-":
                data = await _read_stdin(ctx)
                what = "stdin"
            else:
                try:
                    data = ctx.fs.read_bytes(parsed.json_file)
                except OSError as exc:
                    return await _fail(ctx, prog, f"{parsed.json_file}: {exc.strerror}")
                what = parsed.json_file
            base = _object_from(data, what)
            base.update(args)
            args = base
        elif parsed.bare and flag_specs(tool):
            data = await _read_stdin(ctx)
            if data.strip():
                args = _object_from(data, "stdin")
        finish_args(tool, args)
    except ArgumentError as exc:
        return await _fail(ctx, prog, str(exc), hint=True)
    try:
        validated = tool.validate(args)
    except ValidationError as exc:
        return await _fail(ctx, prog, format_validation_error(tool, exc), hint=True)
    try:
        result = await host.call_validated(tool, validated, pid=ctx.pid)
    except ToolCallError as exc:
        return await _fail(ctx, prog, str(exc))
    try:
        text = dump_json({"ok": True, "result": result})
    except (TypeError, ValueError) as exc:
        return await _fail(ctx, prog, f"result is not JSON-serializable: {exc}")
    await ctx.out(text + "\n")
    return 0


def _kit_help(kit: Toolkit, prog: str) -> str:
    lines = [f"Usage: {prog} TOOL [FLAGS]", "", kit.description, "", "Tools:"]
    width = max((len(n) for n in kit.tools), default=0)
    for t in kit.tools.values():
        lines.append(f"  {t.name:{width}}  {t.description}")
    if not kit.tools:
        lines.append("  (none)")
    lines += [
        "",
        f"Run '{prog} TOOL --help' for the flags of one tool, "
        f"'{prog} --help --json' for every schema.",
    ]
    return "\n".join(lines) + "\n"


async def _run_kit(ctx: Context, host: ToolHost, kit: Toolkit, argv: list[str], prog: str) -> int:
    if not argv:
        return await _fail(ctx, prog, "missing tool name", hint=True)
    first = argv[0]
    if first in ("--help", "-h", "help"):
        if "--json" in argv[1:]:
            await ctx.out(json.dumps([t.describe() for t in kit.tools.values()], indent=2) + "\n")
        else:
            await ctx.out(_kit_help(kit, prog))
        return 0
    if first.startswith("-"):
        return await _fail(ctx, prog, f"unknown flag {first!r} (expected a tool name)", hint=True)
    tool = kit.tools.get(first)
    if tool is None:
        names = ", ".join(kit.tools) or "none"
        return await _fail(ctx, prog, f"unknown tool {first!r} (tools: {names})", hint=True)
    return await run_tool(ctx, host, tool, argv[1:], f"{prog} {first}")


def kit_command(kit_name: str) -> CommandFunc:
    """The ``pocketos-<kit>`` command for one toolkit."""
    prog = f"pocketos-{kit_name}"

    async def cmd(ctx: Context) -> int:
        host = get_host(ctx.kernel)
        kit = host.kits.get(kit_name) if host is not None else None
        if host is None or kit is None:
            return await _fail(ctx, prog, f"toolkit {kit_name!r} is not installed in this VM")
        return await _run_kit(ctx, host, kit, ctx.argv[1:], prog)

    cmd.__name__ = f"pocketos_{kit_name.replace('-', '_')}"
    return cmd


MASTER_HELP = """\
Usage: pocketos list-tools [--json]
       pocketos KIT --help
       pocketos KIT TOOL [FLAGS]

Host tools available in this VM. Each toolkit is also a command of its own:
'pocketos KIT TOOL ...' is the same as 'pocketos-KIT TOOL ...'.
"""


@command("pocketos")
async def master_command(ctx: Context) -> int:
    argv = ctx.argv[1:]
    host = get_host(ctx.kernel)
    if not argv:
        return await _fail(
            ctx, "pocketos", "missing command (list-tools or a toolkit name)", hint=True
        )
    first = argv[0]
    if first in ("--help", "-h", "help"):
        await ctx.out(MASTER_HELP)
        return 0
    if first == "list-tools":
        rest = argv[1:]
        bad = [a for a in rest if a != "--json"]
        if bad:
            return await _fail(
                ctx, "pocketos list-tools", f"unexpected argument {bad[0]!r}", hint=False
            )
        tools = host.all_tools() if host is not None else []
        if "--json" in rest:
            await ctx.out(json.dumps([t.describe() for t in tools], indent=2) + "\n")
        else:
            await ctx.out("".join(f"{t.kit} {t.name}\t{t.description}\n" for t in tools))
        return 0
    if first.startswith("-"):
        return await _fail(ctx, "pocketos", f"unknown flag {first!r}", hint=True)
    kit = host.kits.get(first) if host is not None else None
    if host is None or kit is None:
        names = ", ".join(host.kits) if host is not None and host.kits else "none installed"
        return await _fail(
            ctx, "pocketos", f"unknown toolkit {first!r} (toolkits: {names})", hint=True
        )
    return await _run_kit(ctx, host, kit, argv[1:], f"pocketos {first}")
