"""Builtins for signals and jobs: ``trap``, ``wait``, ``jobs``, ``kill`` (and ``fg``/``bg``,
``caller``, ``ulimit``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import JobsShell

from pocketos.shell.builtins import JOBS_MISC, _err, _q, builtin
from pocketos.shell.jobs import end_or_stop, job_line, job_marks, job_status

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


#: what ``_find_job`` returns for ``%name`` when several jobs match
AMBIGUOUS = object()


def _find_job(sh: JobsShell, spec: str) -> Any:
    """The job ``%n``, ``%+``/``%%``/``%``, ``%-``, ``%name`` (its command starts so),
    ``%?text`` (its command contains it), or a job's pid; None when there is none."""
    if spec.startswith("%"):
        s = spec[1:]
        if s in ("", "%", "+", "-"):
            marks = job_marks(sh.jobs or sh.parent_jobs)
            want = "-" if s == "-" else "+"
            for j in sh.jobs:
                if marks.get(j.id) == want:
                    return j
            return None
        if s.isdigit():
            for j in sh.jobs:
                if j.id == int(s):
                    return j
            return None
        if s.startswith("?"):
            found = [j for j in sh.jobs if s[1:] in j.text]
        else:
            found = [j for j in sh.jobs if j.text.startswith(s)]
        if len(found) > 1:
            return AMBIGUOUS
        return found[0] if found else None
    if spec.isdigit():
        for j in sh.jobs:
            if j.pid == int(spec):
                return j
    return None


async def _lookup(sh: JobsShell, name: str, spec: str) -> Any:
    """The job ``spec`` names, or None after bash's message."""
    j = _find_job(sh, spec)
    if j is AMBIGUOUS:
        await _err(sh, f"{name}: {spec[1:]}: ambiguous job spec")
        j = None
    if j is None:
        if spec.startswith("%"):
            await _err(sh, f"{name}: {spec}: no such job")
        elif name == "wait":
            await _err(sh, f"wait: pid {spec} is not a child of this shell")
    return j


async def _job_status(j: Any) -> int:
    try:
        await asyncio.wait({j.task})
    except asyncio.CancelledError:
        raise
    return job_status(j)


async def _wait_change(sh: JobsShell, j: Any) -> int | None:
    """Wait until job ``j`` ends, or (job control) stops: its status, or None if it
    stopped (it stays in the table)."""
    if not sh.job_control:
        return await _job_status(j)
    await end_or_stop(j)
    if j.task.done():
        return job_status(j)
    return None


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
                return job_status(j)
        return 0
    if not args:
        for j in list(sh.jobs):
            if j.stopped:
                await sh.write_err(f"{sh.argv0}: wait: warning: job {j.id}[{j.pid}] stopped\n")
                continue
            if await _wait_change(sh, j) is None:
                continue
            if j in sh.jobs:
                sh.jobs.remove(j)
        return 0
    status = 0
    for a in args:
        j = await _lookup(sh, "wait", a)
        if j is None:
            status = 127
            continue
        if j.stopped:
            await sh.write_err(f"{sh.argv0}: warning: wait_for_job: job {j.id} is stopped\n")
        got = await _wait_change(sh, j)
        if got is None:
            # stopped while waited for: reported as bash does, and it stays a job
            await sh.write_err(f"\n{job_line(j, job_marks(sh.jobs))}\n")
            status = 128 + (j.group.stop_signal or 19)
            continue
        status = got
        if j in sh.jobs:
            sh.jobs.remove(j)
    return status


@builtin("jobs")
async def b_jobs(sh: JobsShell, argv: list[str]) -> int:
    opts = ""
    specs: list[str] = []
    for a in argv[1:]:
        if a.startswith("-") and len(a) > 1 and not specs and a != "--":
            for c in a[1:]:
                if c not in "lprsn":
                    await _err(sh, f"jobs: -{c}: invalid option")
                    await sh.write_err(
                        "jobs: usage: jobs [-lnprs] [jobspec ...] or jobs -x command [args]\n"
                    )
                    return 2
            opts += a[1:]
        elif a != "--" or specs:
            specs.append(a)
    chosen = []
    status = 0
    for spec in specs:
        j = await _lookup(sh, "jobs", spec)
        if j is None:
            status = 1
        else:
            chosen.append(j)
    if not specs:
        chosen = list(sh.jobs or sh.parent_jobs)
    if "s" in opts:
        chosen = [j for j in chosen if j.stopped]
    if "r" in opts:
        chosen = [j for j in chosen if not j.task.done() and not j.stopped]
    marks = job_marks(sh.jobs or sh.parent_jobs)
    for j in chosen:
        if "p" in opts:
            await sh.write_out(f"{j.pid}\n")
        else:
            await sh.write_out(job_line(j, marks, "l" in opts) + "\n")
    if "p" not in opts:
        # a finished job is reported once
        sh.jobs = [j for j in sh.jobs if not (j.task.done() and j in chosen)]
    return status


async def signal_job(sh: JobsShell, j: Any, sig: int) -> None:
    """``kill -SIG %n``: stop, continue or end every process of the job."""
    from pocketos.kernel.jobctl import CONT, STOP_SIGNALS
    from pocketos.kernel.process import IGNORED_BY_DEFAULT

    if j.task.done() or sig == 0:
        return
    kernel = sh.ctx.kernel
    if sig in STOP_SIGNALS:
        kernel.signal_group(j.group, sig)
        return
    if sig == CONT:
        kernel.signal_group(j.group, CONT)
        return
    if sig in IGNORED_BY_DEFAULT:
        return
    if j.group.stop_signal is not None and sig != 9 and not (sh.interactive and sig in (1, 15)):
        # a stopped job gets it when it is continued, as on Linux
        kernel.signal_group(j.group, sig)

        def on_change(g: Any) -> None:
            if g.stop_signal is None:
                remove()
                if not j.task.done():
                    j.killed_by = sig
                    j.task.cancel()

        remove = j.group.listen(on_change)
        return
    live = [m for m in j.group.members.values() if m.status == "running"]
    if live and sig != 9 and all(sig in m.caught for m in live):
        # every process of the job handles it (a trap): the job ends as its handlers decide
        kernel.signal_group(j.group, sig)
        return
    # an interactive bash continues a stopped job it sends TERM or HUP to, so that it ends
    j.killed_by = sig
    kernel.signal_group(j.group, sig)
    j.task.cancel()
    kernel.continue_group(j.group)


async def _job_arg(sh: JobsShell, name: str, argv: list[str]) -> Any:
    if not sh.job_control:
        await _err(sh, f"{name}: no job control")
        return None
    if len(argv) > 1:
        return await _lookup(sh, name, argv[1])
    j = _find_job(sh, "%+")
    if j is None:
        await _err(sh, f"{name}: current: no such job")
    return j


@builtin("fg")
async def b_fg(sh: JobsShell, argv: list[str]) -> int:
    j = await _job_arg(sh, "fg", argv)
    if j is None:
        return 1
    await sh.write_out(j.text + "\n")
    if j.task.done():
        sh.jobs.remove(j)
        return job_status(j)
    sh.ctx.kernel.continue_group(j.group)
    return await sh.wait_foreground(j)


@builtin("bg")
async def b_bg(sh: JobsShell, argv: list[str]) -> int:
    j = await _job_arg(sh, "bg", argv)
    if j is None:
        return 1
    if not j.stopped:
        await _err(sh, f"bg: job {j.id} already in background")
        return 0
    marks = job_marks(sh.jobs or sh.parent_jobs)
    sh.ctx.kernel.continue_group(j.group)
    await sh.write_out(f"[{j.id}]{marks.get(j.id, ' ')} {j.text} &\n")
    return 0


@builtin("kill")
async def b_kill(sh: JobsShell, argv: list[str]) -> int:
    from pocketos.kernel.jobctl import STOP_SIGNALS, checkpoint, current_group
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
            if sig in STOP_SIGNALS:
                # the shell stops itself (an interactive one ignores all but STOP); it goes on
                # when something continues it, or ends at its deadline
                group = current_group()
                if group is not None and not (sh.interactive and sig != 19):
                    group.stop(sig)
                    await checkpoint()  # stopped now, not at its next command
                continue
            if sig in IGNORED_BY_DEFAULT:
                continue
            from pocketos.shell.state import ExitShell as _Exit

            raise _Exit(128 + sig, sig)
        if a.startswith("%"):
            j = await _lookup(sh, "kill", a)
            if j is None:
                status = 1
            else:
                await signal_job(sh, j, sig)
            continue
        j = _find_job(sh, a)
        if j is not None:
            await signal_job(sh, j, sig)
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
    return 0
