"""Job control (``set -m``): a foreground job that stops goes to the job table, ``jobs``,
``fg``, ``bg``, job specs, ``kill`` and ``wait`` on stopped jobs. Scripts whose outcome does
not depend on when bash reaps its children are compared with host bash; the others are
checked against what bash prints once it has seen the change."""

from __future__ import annotations

import pytest

from pocketos import VM
from tests.shell.test_interp_bash import HAVE_BASH, host_bash, vm_bash

STOP_SELF = "sh -c 'kill -STOP $$; echo one'"
TSTP_SELF = "sh -c 'kill -TSTP $$; echo two'"

ORACLE = [
    # a job stops itself in the foreground: 128+TSTP, the Stopped line on stderr, fg resumes
    f"set -m; {TSTP_SELF}; echo s=$?; jobs; fg; echo fg=$?; jobs",
    # STOP: 128+STOP, ``jobs -l`` names the signal
    f"set -m; {STOP_SELF}; echo s=$?; jobs -l | sed 's/ *[0-9][0-9]* S/ PID S/'; jobs -s; "
    "jobs -r; jobs -p | wc -l",
    # two stopped jobs: + and -, every kind of job spec, fg of each in turn
    f"set -m; {STOP_SELF}; {TSTP_SELF}; jobs; jobs %1; jobs %-; jobs %+; jobs %%; "
    "jobs %sh; jobs %?TSTP; jobs %3; fg %1; echo $?; fg; echo $?; jobs",
    # a stopped job in an and-or list is a failure
    f"set -m; {TSTP_SELF} && echo no || echo stopped=$?; fg",
    # without job control there is nothing to bring back
    "fg; bg; echo $?; jobs",
    "set -m; fg; bg %1; echo $?",
]


@pytest.mark.skipif(not HAVE_BASH, reason="host bash not installed")
@pytest.mark.parametrize("script", ORACLE)
def test_job_control_like_bash(script: str) -> None:
    want = host_bash(script)
    with VM() as vm:
        got = vm_bash(vm, script)
    assert got == want


def run(script: str, timeout: float = 60) -> tuple[int, str, str]:
    with VM() as vm:
        r = vm.exec(script, timeout=timeout)
        return r.exit_code, r.stdout, r.stderr


def test_background_job_stopped_and_continued_by_kill() -> None:
    code, out, err = run(
        "set -m; sleep infinity & kill -STOP %1; jobs; jobs -s; kill -CONT %1; jobs -r; "
        "kill -TSTP $!; jobs; bg; jobs; kill -KILL %1; wait %1; echo $?"
    )
    assert out == (
        "[1]+  Stopped                 sleep infinity\n"
        "[1]+  Stopped                 sleep infinity\n"
        "[1]+  Running                 sleep infinity &\n"
        "[1]+  Stopped                 sleep infinity\n"
        "[1]+ sleep infinity &\n"
        "[1]+  Running                 sleep infinity &\n"
        "137\n"
    )
    assert (code, err) == (0, "")


def test_term_to_a_stopped_job_waits_for_cont_and_kill_does_not() -> None:
    code, out, err = run(
        "set -m; sleep infinity & kill -STOP %1; kill %1; jobs; kill -CONT %1; wait %1; "
        "echo term=$?; sleep infinity & kill -STOP %1; kill -9 %1; wait %1; echo kill=$?"
    )
    assert out == "[1]+  Stopped                 sleep infinity\nterm=143\nkill=137\n"
    assert (code, err) == (0, "")


def test_wait_reports_stopped_jobs_and_does_not_wait_for_them() -> None:
    code, out, err = run("set -m; sleep infinity & kill -STOP %1; wait; echo w=$?; jobs -p | wc -l")
    assert out == "w=0\n1\n"
    assert err.startswith("bash: wait: warning: job 1[") and err.endswith("] stopped\n")


def test_wait_returns_when_a_job_stops_under_job_control() -> None:
    code, out, err = run(
        f"set -m; {TSTP_SELF} & wait %1; echo w=$?; jobs; kill -CONT %1; wait %1; echo $?"
    )
    assert out == f"w=148\n[1]+  Stopped                 {TSTP_SELF}\ntwo\n0\n"
    assert err == f"\n[1]+  Stopped                 {TSTP_SELF}\n"


def test_a_non_interactive_shell_exits_with_stopped_jobs_without_a_warning() -> None:
    assert run(f"set -m; {STOP_SELF}; exit 3") == (
        3,
        "",
        f"\n[1]+  Stopped                 {STOP_SELF}\n",
    )


def test_the_pipeline_stops_as_one_job_and_fg_finishes_it() -> None:
    code, out, err = run(
        "set -m; { sh -c 'kill -TSTP $$'; echo a; echo b; } | sort -r; echo s=$?; fg; echo fg=$?"
    )
    text = "{ \n    sh -c 'kill -TSTP $$';\n    echo a;\n    echo b\n} | sort -r"
    assert out == f"s=148\n{text}\nb\na\nfg=0\n"
    assert err == f"\n[1]+  Stopped                 {text}\n"


def test_a_job_that_traps_the_signal_ends_as_its_trap_says() -> None:
    """``kill -TERM $!`` to a job whose process traps TERM runs the trap: ``wait`` reports the
    status the trap exits with (3 here, as in bash), not 128+15; a job without a trap for it is
    still killed (143)."""
    with VM() as vm:
        p = vm.spawn(
            [
                "bash",
                "-c",
                'bash -c \'trap "echo got; exit 3" TERM; echo ready; '
                "while :; do read -t 1 x; done' & read r; kill -TERM $!; wait $!; echo st=$?; "
                "jobs",
            ]
        )
        assert p.read_stdout(6) == b"ready\n"  # the job's trap is set
        p.write(b"go\n")
        assert p.wait(timeout=60) == 0
        assert p.read_stdout() == b"got\nst=3\n"
        r = vm.exec("sleep infinity & kill -TERM $!; wait $!; echo st=$?")
        assert r.stdout == "st=143\n"
