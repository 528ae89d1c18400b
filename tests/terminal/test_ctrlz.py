"""Ctrl-Z on a terminal: the foreground job stops, the prompt comes back, ``fg`` resumes it
and it reads the terminal again (every wait is on output, never a sleep)."""

from __future__ import annotations

from pocketos import AsyncVM
from pocketos.terminal import Terminal

from .test_terminal import PROMPT, WAIT, command, isolation, scenario, type_keys

__all__ = ["isolation"]  # every test runs on an in-process VM and in a worker process


async def _start_and_suspend(t: Terminal, line: str) -> str:
    """Run ``line`` (a job that prints "go" once it runs: a Ctrl-Z before that would reach
    the shell, not the job), then press Ctrl-Z; what is shown up to the prompt."""
    await type_keys(t, line + "\r")
    await t.read_until("go\r\n", WAIT)
    await t.write(b"\x1a")
    return (await t.read_until("\n" + PROMPT, WAIT)).decode()


def test_ctrl_z_stops_a_reader_and_fg_gives_it_the_terminal_back() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        shown = [await _start_and_suspend(t, "sh -c 'echo go; cat'")]
        shown.append(await command(t, "echo $?"))
        shown.append(await command(t, "jobs"))
        # what is typed at the prompt while cat is stopped is the shell's, not cat's
        shown.append(await command(t, "echo typed"))
        await type_keys(t, "fg\r")
        shown.append((await t.read_until("'echo go; cat'\r\n", WAIT)).decode())
        await type_keys(t, "again\r")
        shown.append((await t.read_until("again\r\nagain\r\n", WAIT)).decode())
        await t.write(b"\x04")
        shown.append((await t.read_until(PROMPT, WAIT)).decode())
        shown.append(await command(t, "echo $?; jobs"))
        return shown

    assert scenario(body) == [
        "^Z\r\n[1]+  Stopped                 sh -c 'echo go; cat'\r\n" + PROMPT,
        "echo $?\r\n148\r\n" + PROMPT,
        "jobs\r\n[1]+  Stopped                 sh -c 'echo go; cat'\r\n" + PROMPT,
        "echo typed\r\ntyped\r\n" + PROMPT,
        "fg\r\nsh -c 'echo go; cat'\r\n",
        "again\r\nagain\r\n",
        PROMPT,
        "echo $?; jobs\r\n0\r\n" + PROMPT,
    ]


def test_ctrl_z_on_a_pipeline_then_bg_and_kill() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        shown = [await _start_and_suspend(t, "(echo go; sleep infinity) | cat")]
        shown.append(await command(t, "bg"))
        shown.append(await command(t, "jobs -r"))
        shown.append(await command(t, "kill -STOP %1; jobs -s"))
        shown.append(await command(t, "kill %1; wait %1; echo $?"))
        shown.append(await command(t, "jobs"))
        return shown

    assert scenario(body) == [
        "^Z\r\n[1]+  Stopped                 ( echo go; sleep infinity ) | cat\r\n" + PROMPT,
        "bg\r\n[1]+ ( echo go; sleep infinity ) | cat &\r\n" + PROMPT,
        "jobs -r\r\n[1]+  Running                 ( echo go; sleep infinity ) | cat &\r\n" + PROMPT,
        "kill -STOP %1; jobs -s\r\n[1]+  Stopped                 ( echo go; sleep infinity ) | cat\r\n"
        + PROMPT,
        "kill %1; wait %1; echo $?\r\n143\r\n" + PROMPT,
        "jobs\r\n" + PROMPT,
    ]


def test_exit_with_stopped_jobs_warns_once() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> tuple[str, str, int]:
        await _start_and_suspend(t, "sh -c 'echo go; exec sleep infinity'")
        first = await command(t, "exit")
        await type_keys(t, "exit\r")
        code = await t.wait()
        return first, "", code

    first, _, code = scenario(body)
    assert first == "exit\r\nThere are stopped jobs.\r\n" + PROMPT
    assert code == 1


def test_a_background_job_that_reads_the_terminal_stops_with_ttin() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        shown = [await command(t, "cat & wait %1; echo $?; jobs")]
        await type_keys(t, "fg\r")
        await t.read_until("fg\r\ncat\r\n", WAIT)
        await type_keys(t, "hi\r")
        shown.append((await t.read_until("hi\r\nhi\r\n", WAIT)).decode())
        await t.write(b"\x04")
        await t.read_until(PROMPT, WAIT)
        shown.append(await command(t, "echo $?"))
        return shown

    shown = scenario(body)
    first = shown[0].split("\r\n")
    assert first[0] == "cat & wait %1; echo $?; jobs"
    assert first[1].startswith("[1] ") and first[1][4:].isdigit()
    assert first[2:] == [
        "",
        "[1]+  Stopped                 cat",
        "149",
        "[1]+  Stopped                 cat",
        PROMPT,
    ]
    assert shown[1:] == ["hi\r\nhi\r\n", "echo $?\r\n0\r\n" + PROMPT]
