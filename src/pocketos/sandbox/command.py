"""``sandbox [OPTIONS] -- PROGRAM [ARGS...]``: run a real host program over the VM's tree.

The program's output streams to the command's stdout and stderr, its stdin is the command's,
and its exit status is the command's (124 on ``--timeout``, 128+N when killed by signal N).
Running needs the ``sandbox.run`` permission for the program's name; without it the command
fails with status 126 and a message naming the capability.
"""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse
from pocketos.kernel.process import Context

__all__ = ["sandbox"]

HELP = """\
Usage: sandbox [OPTION]... [--] PROGRAM [ARG]...
Run a real host PROGRAM in a bubblewrap sandbox over this VM's files, policy and network.

  -t, --timeout=SECONDS   stop the program after SECONDS (exit status 124)
  -m, --memory=BYTES      memory for the whole sandbox (suffixes K, M, G)
  -p, --max-processes=N   processes and threads in the sandbox
      --expose=PATH       also show host PATH read-only (repeatable)
      --port=PORT         forward 127.0.0.1:PORT to the host's (still checked by policy)
      --help              display this help and exit

Needs the sandbox.run permission for PROGRAM.
"""

OPTS = [
    Opt("t", "timeout", "required"),
    Opt("m", "memory", "required"),
    Opt("p", "max-processes", "required", dest="max_processes"),
    Opt("", "expose", "required", multiple=True),
    Opt("", "port", "required", multiple=True),
]

_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _bytes(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _SUFFIX and t[-1:] else ""
    num = t[: len(t) - len(unit)]
    if not num.isdigit():
        raise UsageError(f"sandbox: invalid memory size '{text}'", 2)
    return int(num) * _SUFFIX[unit]


@command("sandbox")
async def sandbox(ctx: Context) -> int:
    from pocketos.sandbox import SandboxOptions, SandboxUnavailable, sandbox_run

    if ctx.argv[1:2] == ["--help"]:
        await ctx.out(HELP)
        return 0
    try:
        parsed = parse("sandbox", ctx.argv[1:], OPTS, stop_at_operand=True, status=2)
        args = parsed.operands
        if not args:
            raise UsageError(
                "sandbox: missing program to run\nTry 'sandbox --help' for more information.", 2
            )
        options = SandboxOptions()
        timeout = parsed.str("timeout")
        if timeout is not None:
            try:
                options.timeout = float(timeout)
            except ValueError:
                raise UsageError(f"sandbox: invalid time interval '{timeout}'", 2) from None
        memory = parsed.str("memory")
        if memory is not None:
            options.memory = _bytes(memory)
        nproc = parsed.str("max_processes")
        if nproc is not None:
            if not nproc.isdigit() or int(nproc) < 1:
                raise UsageError(f"sandbox: invalid process count '{nproc}'", 2)
            options.max_processes = int(nproc)
        options.expose = tuple(parsed.list("expose"))
        ports = []
        for p in parsed.list("port"):
            if not p.isdigit() or not 0 < int(p) < 65536:
                raise UsageError(f"sandbox: invalid port '{p}'", 2)
            ports.append(int(p))
        options.ports = tuple(ports)
    except UsageError as exc:
        await ctx.stderr.write(f"{exc.message}\n".encode())
        return 2
    try:
        return await sandbox_run(
            ctx.kernel,
            list(args),
            cwd=ctx.cwd,
            env=ctx.env,
            stdin=ctx.stdin,
            stdout=ctx.stdout.write,
            stderr=ctx.stderr.write,
            options=options,
            pid=ctx.pid,
        )
    except PermissionError as exc:
        await ctx.err(f"{args[0]}: {exc.strerror}")
        return 126
    except SandboxUnavailable as exc:
        await ctx.err(str(exc))
        return 126
    except OSError as exc:
        await ctx.err(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        return 126
    except ValueError as exc:
        await ctx.err(str(exc))
        return 126
