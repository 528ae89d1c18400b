"""An interactive shell tells when a background job ends, as ``bash -i`` does: before the next
prompt (``[1]+  Done                    true``, ``Exit 3``, ``Terminated``), once a foreground
job ends, and at once under ``set -b``; each job once, and never in a script. Every wait is on
output or on the job table, never a sleep of the test."""

from __future__ import annotations

import re

from pocketos import AsyncVM
from pocketos.terminal import Terminal

from .test_terminal import PROMPT, WAIT, command, isolation, scenario

__all__ = ["isolation"]  # every test runs on an in-process VM and in a worker process

#: wait in the foreground until no job runs (a poll of the job table, not of the clock)
SETTLE = 'until [ -z "$(jobs -r)" ]; do :; done'


def _started(shown: str) -> str:
    """``shown`` with the ``[N] PID`` lines of started jobs reduced to ``[N] PID``."""
    return re.sub(r"^\[(\d+)\] \d+\r$", r"[\1] PID\r", shown, flags=re.M)


def test_an_ended_job_is_shown_before_the_next_prompt() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        return [
            _started(await command(t, f"true & {SETTLE}")),
            await command(t, "echo next"),
        ]

    assert scenario(body) == [
        f"true & {SETTLE}\r\n[1] PID\r\n[1]+  Done                    true\r\n" + PROMPT,
        "echo next\r\nnext\r\n" + PROMPT,
    ]


def test_exit_status_and_signal_with_job_marks() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        return _started(await command(t, f"sh -c 'exit 3' & sleep infinity & kill %2; {SETTLE}"))

    assert scenario(body) == (
        f"sh -c 'exit 3' & sleep infinity & kill %2; {SETTLE}\r\n[1] PID\r\n[2] PID\r\n"
        "[1]-  Exit 3                  sh -c 'exit 3'\r\n"
        "[2]+  Terminated              sleep infinity\r\n" + PROMPT
    )


def test_shown_when_a_foreground_job_ends() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        return _started(await command(t, f"false & {SETTLE}; sh -c 'echo fg'; echo after"))

    assert scenario(body) == (
        f"false & {SETTLE}; sh -c 'echo fg'; echo after\r\n[1] PID\r\n"
        "fg\r\n[1]+  Exit 1                  false\r\nafter\r\n" + PROMPT
    )


def test_a_job_reported_by_jobs_or_waited_for_is_not_shown_again() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        return [
            _started(await command(t, f"true & {SETTLE}; jobs")),
            _started(await command(t, "false & wait")),
            await command(t, "echo x"),
        ]

    assert scenario(body) == [
        f"true & {SETTLE}; jobs\r\n[1] PID\r\n[1]+  Done                    true\r\n" + PROMPT,
        "false & wait\r\n[1] PID\r\n" + PROMPT,
        "echo x\r\nx\r\n" + PROMPT,
    ]


def test_set_b_shows_the_notice_at_once_at_the_prompt() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        shown = [await command(t, "set -b")]
        line = "sh -c 'until [ -e /tmp/go ]; do sleep 0.05; done' &"
        shown.append(_started(await command(t, line)))
        # nothing is typed: the job ends while the terminal waits at the prompt
        await vm.exec("touch /tmp/go")
        shown.append((await t.read_until("\n" + PROMPT, WAIT)).decode())
        shown.append(await command(t, "echo x"))
        return shown

    assert scenario(body) == [
        "set -b\r\n" + PROMPT,
        "sh -c 'until [ -e /tmp/go ]; do sleep 0.05; done' &\r\n[1] PID\r\n" + PROMPT,
        "\r\n[1]+  Done                    sh -c 'until [ -e /tmp/go ]; do sleep 0.05; done'\r\n"
        + PROMPT,
        "echo x\r\nx\r\n" + PROMPT,
    ]


def test_a_script_run_from_the_terminal_shows_no_notices() -> None:
    script = f"true & {SETTLE}; sh -c 'echo fg'; echo after"

    async def body(vm: AsyncVM, t: Terminal) -> tuple[str, str, str]:
        vm.write_file("/tmp/s.sh", script.encode())
        shown = await command(t, "bash /tmp/s.sh")
        r = await vm.exec(script)
        return shown.split("\r\n", 1)[1], r.stdout, r.stderr

    assert scenario(body) == ("fg\r\nafter\r\n" + PROMPT, "fg\nafter\n", "")


def test_set_n_is_ignored_by_an_interactive_shell() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        return await command(t, "set -n; echo still; echo $-")

    shown = scenario(body)
    assert shown.startswith("set -n; echo still; echo $-\r\nstill\r\n")
    assert "n" in shown.split("\r\n")[2]
