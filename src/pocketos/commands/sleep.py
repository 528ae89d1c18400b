"""sleep and timeout."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context, signal_name, signal_number


def parse_duration(text: str) -> float:
    """``1.5``, ``2s``, ``3m``, ``1h``, ``1d``, ``inf`` -> seconds (ValueError if invalid)."""
    m = re.fullmatch(
        r"\s*([+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)([smhd]?)", text, re.IGNORECASE
    )
    if not m:
        raise ValueError(text)
    value = float(m.group(1))
    return value * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2).lower()]


@command("sleep")
async def sleep(ctx: Context) -> int:
    args = ctx.argv[1:]
    if args[:1] == ["--help"]:
        return await show_help(
            ctx,
            "Usage: sleep NUMBER[SUFFIX]...\n"
            "Pause for NUMBER seconds. SUFFIX may be 's' for seconds "
            "(the default),\n'm' for minutes, 'h' for hours or 'd' for "
            "days. NUMBER may be a fraction.\nGiven two or more "
            "arguments, pause for the sum of their values.\n",
        )
    if "--" in args:
        i = args.index("--")
        args = args[:i] + args[i + 1 :]
    if not args:
        return await report(ctx, UsageError(f"sleep: missing operand\n{_try('sleep')}"))
    total = 0.0
    bad = False
    for a in args:
        if a.startswith("-") and len(a) > 1 and not re.fullmatch(r"-[\d.]+", a):
            return await report(
                ctx,
                UsageError(
                    f"sleep: invalid option -- '{a[1]}'\n{_try('sleep')}"
                    if not a.startswith("--")
                    else f"sleep: unrecognized option '{a}'\n{_try('sleep')}"
                ),
            )
        try:
            total += parse_duration(a)
        except ValueError:
            await ctx.err(f"invalid time interval {q(a)}")
            bad = True
    if bad:
        await ctx.stderr.write((_try("sleep") + "\n").encode())
        return 1
    deadline = ctx.budget.deadline
    if deadline is not None and total > 0 and math.isfinite(total):
        left = deadline - time.monotonic()
        if total > left:
            # sleeping past the exec deadline: wake at the deadline and let the budget fire
            await asyncio.sleep(max(left, 0))
            ctx.budget.check_time()
            total -= max(left, 0)
    step = 0.5
    remaining = total
    while remaining > 0:
        chunk = min(step, remaining) if math.isfinite(remaining) else step
        await asyncio.sleep(chunk)
        await ctx.checkpoint()  # stopped: the rest of the sleep waits for CONT
        if math.isfinite(remaining):
            remaining -= chunk
    return 0


TIMEOUT_HELP = """Usage: timeout [OPTION] DURATION COMMAND [ARG]...
Start COMMAND, and kill it if still running after DURATION.

      --preserve-status  exit with the same status as COMMAND, even when the command times out
      --foreground       accepted for compatibility
  -k, --kill-after=DURATION  also send a KILL signal if COMMAND is still running this long
                           after the initial signal was sent
  -s, --signal=SIGNAL    specify the signal to be sent on timeout (default TERM)
  -v, --verbose          diagnose to stderr any signal sent upon timeout

DURATION is a number with an optional suffix s, m, h or d; 0 disables the timeout.
If the command times out, and --preserve-status is not set, then exit with status 124.
"""


@command("timeout")
async def timeout(ctx: Context) -> int:
    spec = [
        Opt("", "preserve-status"),
        Opt("", "foreground"),
        Opt("k", "kill-after", "required"),
        Opt("s", "signal", "required"),
        Opt("v", "verbose"),
        HELP,
    ]
    try:
        p = parse("timeout", ctx.argv[1:], spec, stop_at_operand=True, status=125)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, TIMEOUT_HELP)
    ops = p.operands
    if len(ops) < 2:
        msg = "missing operand" if not ops else f"missing operand after {q(ops[0])}"
        return await report(ctx, UsageError(f"timeout: {msg}\n{_try('timeout')}", 125))
    try:
        duration = parse_duration(ops[0])
    except ValueError:
        await ctx.err(f"invalid time interval {q(ops[0])}")
        await ctx.stderr.write((_try("timeout") + "\n").encode())
        return 125
    sig_text = p.str("s") or "TERM"
    try:
        signum = signal_number(sig_text)
    except ValueError:
        await ctx.err(f"{sig_text}: invalid signal")
        await ctx.stderr.write((_try("timeout") + "\n").encode())
        return 125
    if p.str("k") is not None:
        try:
            parse_duration(p.str("k") or "")
        except ValueError:
            await ctx.err(f"invalid time interval {q(p.str('k') or '')}")
            await ctx.stderr.write((_try("timeout") + "\n").encode())
            return 125
    argv = ops[1:]
    task = asyncio.ensure_future(ctx.run(argv))
    if duration <= 0 or not math.isfinite(duration):
        return await task
    done, _ = await asyncio.wait({task}, timeout=duration)
    if task in done:
        return task.result()
    if p.flag("v"):
        await ctx.err(f"sending signal {signal_name(signum)} to command {q(argv[0])}")
    # deliver the signal to the child processes, then stop the child's task
    kernel = ctx.kernel
    for info in list(kernel.procs.values()):
        if info.ppid == ctx.pid and info.status == "running":
            with contextlib.suppress(ProcessLookupError, ValueError):
                kernel.kill(info.pid, signum)
    await asyncio.sleep(0)
    if not task.done():
        task.cancel()
    code: int | None = None
    try:
        code = await task
    except asyncio.CancelledError:
        cur = asyncio.current_task()
        if cur is not None and cur.cancelling():
            raise
        code = None
    if p.flag("preserve_status") or signum == 9:
        # KILL also ends GNU timeout itself, so its status is 137 like the command's
        return code if code is not None and signum != 9 else 128 + signum
    return 124


__all__ = ["parse_duration"]
