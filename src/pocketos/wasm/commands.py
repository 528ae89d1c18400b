"""The wasm commands: ``python``/``python3``, ``node``/``js`` and ``pip``/``pip3``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.wasm.js import run_js
from pocketos.wasm.python import pip_message, run_python

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["python_cmd", "node_cmd", "pip_cmd"]

PIP_HELP = """\
Usage: {name} <command> [options]

Package installation is not available in this VM (there is no network).
numpy, pandas, scipy, scikit-learn, matplotlib and many more are built in;
'{name} list' shows them. Pure-Python packages copied into the VM can be
imported by adding their directory to PYTHONPATH.
"""


@command("python", "python3")
async def python_cmd(ctx: Context) -> int:
    return await run_python(ctx)


@command("node", "js")
async def node_cmd(ctx: Context) -> int:
    return await run_js(ctx)


@command("pip", "pip3")
async def pip_cmd(ctx: Context) -> int:
    args = ctx.argv[1:]
    name = ctx.name
    if not args or args[0] in ("-h", "--help", "help"):
        await ctx.out(PIP_HELP.format(name=name))
        return 0
    if args[0] in ("-V", "--version"):
        await ctx.out(f"{name} (pocketos: no installer; packages are built into the runtime)\n")
        return 0
    if args[0] in ("list", "freeze"):
        code = (
            "import importlib.metadata as m\n"
            "rows=sorted({(d.metadata['Name'] or '?'): d.version "
            "for d in m.distributions()}.items(), key=lambda r: r[0].lower())\n"
            + (
                "for n,v in rows: print(f'{n}=={v}')\n"
                if args[0] == "freeze"
                else "print('Package'.ljust(28)+'Version')\nprint('-'*27+' '+'-'*10)\n"
                "for n,v in rows: print(n.ljust(28)+v)\n"
            )
        )
        return await ctx.run(["python3", "-c", code])
    await ctx.stderr.write(pip_message(f"{name} {args[0]}").encode())
    return 1
