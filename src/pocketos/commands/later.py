"""Commands whose real implementations come later (network, language runtimes).

Each exists so that scripts get a clear message instead of "command not found": it prints
``NAME: not available yet in this VM (REASON)`` on stderr and exits with status 1.
"""

from __future__ import annotations

from pocketos.commands import command
from pocketos.kernel.process import Context

__all__ = ["PENDING"]

#: command name -> why it is not available yet
PENDING: dict[str, str] = {
    "curl": "network gateway not installed",
    "wget": "network gateway not installed",
    "python": "Python runtime not installed",
    "python3": "Python runtime not installed",
    "pip": "Python runtime not installed",
    "pip3": "Python runtime not installed",
    "node": "JavaScript runtime not installed",
    "js": "JavaScript runtime not installed",
}


async def _pending(ctx: Context) -> int:
    name = ctx.name
    reason = PENDING.get(name, "not installed")
    if ctx.argv[1:] == ["--help"]:
        await ctx.out(f"Usage: {name} ...\n{name} is not available yet in this VM ({reason}).\n")
        return 0
    await ctx.err(f"not available yet in this VM ({reason})")
    return 1


for _name in PENDING:
    command(_name)(_pending)
