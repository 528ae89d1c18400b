"""Builtins for signals and jobs: ``trap``, ``wait``, ``jobs``, ``kill`` (and ``fg``/``bg``,
``caller``, ``ulimit``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import JobsShell

from pocketos.shell.builtins import JOBS_MISC, _err, _q, builtin

# --- traps, jobs ------------------------------------------------------------------------------
_SIGNAMES = {
    "0": "EXIT",
    "1": "HUP",
    "2": "INT",
    "3": "QUIT",
    "9": "KILL",
    "13": "PIPE",
    "14": "ALRM",
    "15": "TERM",
    "10": "USR1",
    "12": "USR2",
}


def _sig_name(s: str) -> str | None:
    u = s.upper()
    if u.startswith("SIG"):
        u = u[3:]
    if u in _SIGNAMES:
        return _SIGNAMES[u]
    if (
        u in ("EXIT", "ERR", "DEBUG", "RETURN")
        or u in _SIGNAMES.values()
        or u in ("CHLD", "CONT", "STOP", "TSTP", "WINCH", "SEGV", "TTIN", "TTOU", "URG")
    ):
        return u
    return None


@builtin("trap")
async def b_trap(sh: JobsShell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    listed = sh.traps if sh.shown_traps is None else sh.shown_traps
    if not args or args == ["-p"]:
        for sig in sorted(listed):
            await sh.write_out(f"trap -- {_q(listed[sig])} {_signame_shown(sig)}\n")
        return 0
    if args[0] == "-l":
        await sh.write_out(" 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 9) SIGKILL\t15) SIGTERM\n")
        return 0
    if args[0] == "-p":
        for s in args[1:]:
            n = _sig_name(s)
            if n and n in listed:
                await sh.write_out(f"trap -- {_q(listed[n])} {_signame_shown(n)}\n")
        return 0
    if len(args) == 1:
        action = "-"
        sigs = args
    else:
        action, sigs = args[0], args[1:]
    status = 0
    sh.shown_traps = None
    for s in sigs:
        n = _sig_name(s)
        if n is None:
            await _err(sh, f"trap: {s}: invalid signal specification")
            status = 1
            continue
        if action == "-":
            sh.traps.pop(n, None)
        else:
            sh.traps[n] = action
            if n == "RETURN":
                sh.return_trap_sets += 1
    sh.sync_caught_signals()
    return status


def _signame_shown(n: str) -> str:
    return n if n in ("EXIT", "ERR", "DEBUG", "RETURN") else "SIG" + n


def _find_job(sh: JobsShell, spec: str) -> Any:
    if spec.startswith("%"):
        s = spec[1:]
        if s in ("", "%", "+"):
            return sh.jobs[-1] if sh.jobs else None
        if s == "-":
            return sh.jobs[-2] if len(sh.jobs) > 1 else None
        if s.isdigit():
            for j in sh.jobs:
                if j.id == int(s):
                    return j
        return None
    if spec.isdigit():
        for j in sh.jobs:
            if j.pid == int(spec):
                return j
    return None


async def _job_status(j: Any) -> int:
    try:
        return await j.task
    except asyncio.CancelledError:
        return 143
    except BaseException:
        return 1


@builtin("wait")
async def b_wait(sh: JobsShell, argv: list[str]) -> int:
    args = [a for a in argv[1:] if a not in ("-f",)]
    if args and args[0] == "-n":
        pending = [j for j in sh.jobs if not j.task.done()] or sh.jobs
        if not pending:
            return 127
        done, _ = await asyncio.wait([j.task for j in pending], return_when=asyncio.FIRST_COMPLETED)
        for j in pending:
            if j.task in done:
                sh.jobs.remove(j)
                return await _job_status(j)
        return 0
    if not args:
        for j in list(sh.jobs):
            await _job_status(j)
        sh.jobs.clear()
        return 0
    status = 0
    for a in args:
        j = _find_job(sh, a)
        if j is None:
            if a.startswith("%"):
                await _err(sh, f"wait: {a}: no such job")
            else:
                await _err(sh, f"wait: pid {a} is not a child of this shell")
            status = 127
            continue
        status = await _job_status(j)
        if j in sh.jobs:
            sh.jobs.remove(j)
    return status


@builtin("jobs")
async def b_jobs(sh: JobsShell, argv: list[str]) -> int:
    pids_only = "-p" in argv[1:]
    n = len(sh.jobs)
    for k, j in enumerate(sh.jobs):
        if pids_only:
            await sh.write_out(f"{j.pid}\n")
            continue
        mark = "+" if k == n - 1 else ("-" if k == n - 2 else " ")
        state = "Running" if not j.task.done() else "Done"
        await sh.write_out(f"[{j.id}]{mark}  {state:<24}{j.text} &\n")
    sh.jobs = [j for j in sh.jobs if not j.task.done()] if not pids_only else sh.jobs
    return 0


@builtin("kill")
async def b_kill(sh: JobsShell, argv: list[str]) -> int:
    from pocketos.kernel.process import IGNORED_BY_DEFAULT, SIGNALS, signal_name, signal_number

    args = argv[1:]
    sig = 15
    if args and args[0] == "-l":
        if len(args) > 1:
            for a in args[1:]:
                try:
                    n = int(a)
                    await sh.write_out(signal_name(n - 128 if n > 128 else n) + "\n")
                except ValueError:
                    await sh.write_out(f"{signal_number(a)}\n")
            return 0
        await sh.write_out(" ".join(SIGNALS) + "\n")
        return 0
    if args and args[0] == "-s" and len(args) > 1:
        try:
            sig = signal_number(args[1])
        except ValueError:
            await _err(sh, f"kill: {args[1]}: invalid signal specification")
            return 1
        args = args[2:]
    elif args and args[0].startswith("-") and len(args[0]) > 1 and args[0] != "--":
        try:
            sig = signal_number(args[0][1:])
        except ValueError:
            await _err(sh, f"kill: {args[0][1:]}: invalid signal specification")
            return 1
        args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        await sh.write_err(
            "kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec"
            " ... or kill -l [sigspec]\n"
        )
        return 2
    status = 0
    for a in args:
        if a == str(sh.ctx.pid) or a == str(sh.bashpid):
            name = signal_name(sig)
            if sig == 0:
                continue
            if name in sh.traps:
                if sh.traps[name]:
                    await sh.run_trap(name)
                continue
            if sig in IGNORED_BY_DEFAULT:
                continue
            from pocketos.shell.state import ExitShell as _Exit

            raise _Exit(128 + sig)
        j = _find_job(sh, a)
        if j is not None:
            if not j.task.done() and sig != 0 and sig not in IGNORED_BY_DEFAULT:
                j.task.cancel()
            continue
        try:
            pid = int(a)
        except ValueError:
            await _err(sh, f"kill: {a}: arguments must be process or job IDs")
            status = 1
            continue
        try:
            sh.ctx.kernel.kill(pid, sig)
        except (ProcessLookupError, ValueError):
            await _err(sh, f"kill: ({a}) - No such process")
            status = 1
    return status


@builtin(*JOBS_MISC)
async def b_misc(sh: JobsShell, argv: list[str]) -> int:
    if argv[0] == "ulimit":
        await sh.write_out("unlimited\n")
    elif argv[0] == "caller":
        if not sh.funcnames:
            return 1
        await sh.write_out(f"{sh.lineno} main\n")
    elif argv[0] in ("fg", "bg"):
        if not sh.jobs:
            await _err(sh, f"{argv[0]}: current: no such job")
            return 1
        if argv[0] == "fg":
            return await _job_status(sh.jobs.pop())
    return 0
