"""vm.open_shell(): the prompt, the line discipline, signals, window size, history and
completion, driven key by key the way a person types (every wait is on output, never a sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pocketos import VM, AsyncVM
from pocketos.terminal import Terminal

WAIT = 30.0  # generous: a wait ends as soon as the output is there
PROMPT = "user@pocketos:~$ "
ISOLATION = {"isolation": "in-process"}


@pytest.fixture(autouse=True, params=["in-process", "process"])
def isolation(request: pytest.FixtureRequest) -> str:
    """Every test runs on an in-process VM and on one in a worker process."""
    ISOLATION["isolation"] = request.param
    return str(request.param)


def scenario(body: Callable[[AsyncVM, Terminal], Awaitable[Any]], **opts: Any) -> Any:
    async def go() -> Any:
        async with AsyncVM(**ISOLATION) as vm:
            term = vm.open_shell(**opts)
            try:
                await term.read_until(PROMPT, WAIT)
                return await body(vm, term)
            finally:
                await term.close()

    return asyncio.run(go())


async def type_keys(term: Terminal, keys: str | bytes) -> None:
    data = keys.encode() if isinstance(keys, str) else keys
    for b in data:
        await term.write(bytes([b]))


async def command(term: Terminal, line: str) -> str:
    """Type ``line`` and Enter; return everything shown up to the next prompt."""
    await type_keys(term, line + "\r")
    return (await term.read_until("\n" + PROMPT, WAIT)).decode()


def test_echo_typed_key_by_key() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        return await command(t, "echo hi")

    assert scenario(body) == "echo hi\r\nhi\r\n" + PROMPT


def test_commands_see_a_terminal_and_exec_does_not() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> tuple[str, str, str]:
        a = await command(t, "[ -t 0 ] && [ -t 1 ] && [[ -t 2 ]] && echo all-tty")
        b = await command(t, "tty; tty -s; echo $?; echo x | tty")
        r = await vm.exec("tty; [ -t 1 ] || echo not-tty")
        return a, b, r.stdout

    a, b, plain = scenario(body)
    assert a.endswith("all-tty\r\n" + PROMPT)
    lines = b.split("\r\n")
    assert lines[1].startswith("/dev/pts/") and lines[2:4] == ["0", "not a tty"]
    assert plain == "not a tty\nnot-tty\n"


def test_size_variables_and_stty_follow_resize() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        first = await command(t, 'echo "$COLUMNS $LINES"; stty size')
        t.resize(132, 43)
        second = await command(t, 'echo "$COLUMNS $LINES"; stty size')
        third = await command(t, "stty rows 50 cols 100; stty size; echo $COLUMNS")
        return [first, second, third, f"{t.cols}x{t.rows}"]

    first, second, third, size = scenario(body, cols=90, rows=30)
    assert first.split("\r\n")[1:3] == ["90 30", "30 90"]
    assert second.split("\r\n")[1:3] == ["132 43", "43 132"]
    assert third.split("\r\n")[1] == "50 100"
    assert size == "100x50"
    with pytest.raises(ValueError, match="cols must be"):
        scenario(lambda vm, t: asyncio.sleep(0), cols=0)


def test_canonical_editing_backspace_kill_and_werase() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> bytes:
        await type_keys(t, "cat\r")
        await t.read_until("cat\r\n", WAIT)
        # "abc" then backspace, "d"; a line killed with Ctrl-U; a word erased with Ctrl-W
        await type_keys(t, b"abc\x7fd\r")
        await t.read_until("\r\nabd\r\n", WAIT)
        await type_keys(t, b"gone\x15kept one two\x17three\r")
        await type_keys(t, b"\x04")
        return await t.read_until(PROMPT, WAIT)

    out = scenario(body)
    assert out == (
        b"gone\b \b\b \b\b \b\b \bkept one two\b \b\b \b\b \bthree\r\nkept one three\r\n"
        + PROMPT.encode()
    )


def test_ctrl_d_mid_line_sends_the_line_without_newline_then_eof() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        await type_keys(t, 'read -r v; echo "[$v] $?"\r')
        await t.read_until("\r\n", WAIT)
        await type_keys(t, b"part\x04\x04")
        return (await t.read_until(PROMPT, WAIT)).decode()

    assert scenario(body) == "part[part] 1\r\n" + PROMPT


def test_ctrl_c_interrupts_the_foreground_job_and_the_line() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        await type_keys(t, "cat; echo not-reached\r")
        await t.read_until("reached\r\n", WAIT)
        await t.write(b"\x03")
        a = (await t.read_until(PROMPT, WAIT)).decode()
        b = await command(t, "echo $?")
        # a loop that never ends by itself
        await type_keys(t, "while :; do read -r x; done\r")
        await t.read_until("done\r\n", WAIT)
        await t.write(b"\x03")
        c = (await t.read_until(PROMPT, WAIT)).decode()
        # Ctrl-C at the prompt drops the line
        await type_keys(t, b"echo half\x03")
        d = (await t.read_until(PROMPT, WAIT)).decode()
        e = await command(t, "echo $?")
        return [a, b, c, d, e]

    a, b, c, d, e = scenario(body)
    assert a == "^C\r\n" + PROMPT
    assert b == "echo $?\r\n130\r\n" + PROMPT
    assert c == "^C\r\n" + PROMPT
    assert d == "echo half^C\r\n" + PROMPT
    assert e == "echo $?\r\n130\r\n" + PROMPT


def test_ctrl_c_reaches_a_trap_and_the_exit_trap_waits_for_the_end() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> tuple[str, str, int]:
        await command(t, "trap 'echo bye' EXIT")
        await type_keys(t, "cat\r")
        await t.read_until("cat\r\n", WAIT)
        await t.write(b"\x03")
        a = (await t.read_until(PROMPT, WAIT)).decode()
        await t.write(b"\x04")
        rest = b""
        while chunk := await t.read():
            rest += chunk
        return a, rest.decode(), await t.wait(WAIT)

    a, rest, status = scenario(body)
    assert a == "^C\r\n" + PROMPT
    assert rest == "exit\r\nbye\r\n"
    assert status == 130


def test_exit_status_from_exit_and_from_ctrl_d() -> None:
    async def exit3(vm: AsyncVM, t: Terminal) -> int:
        await type_keys(t, "exit 3\r")
        return await t.wait(WAIT)

    async def eof(vm: AsyncVM, t: Terminal) -> tuple[int, bytes]:
        await command(t, "false")
        await t.write(b"\x04")
        status = await t.wait(WAIT)
        return status, await t.read()

    assert scenario(exit3) == 3
    assert scenario(eof) == (1, b"exit\r\n")


def test_history_with_arrows_and_cursor_editing() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        await command(t, "echo one")
        await command(t, "echo two")
        # up twice: "echo one"; down once: "echo two"; Enter
        a = await command(t, "\x1b[A\x1b[A\x1b[B")
        # up to "echo two", Home, move right 5, insert "X", Enter
        b = await command(t, "\x1b[A\x01" + "\x1b[C" * 5 + "X")
        # Ctrl-A then Ctrl-K kills the line; Ctrl-W erases a word
        c = await command(t, "echo gone\x01\x0becho kept word\x17")
        return [a, b, c]

    a, b, c = scenario(body)
    assert a.endswith("\r\ntwo\r\n" + PROMPT)
    assert b.endswith("\r\nXtwo\r\n" + PROMPT)
    assert c.endswith("\r\nkept\r\n" + PROMPT)


def test_tab_completes_commands_and_paths() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> list[str]:
        vm.mkdir("/home/user/project/src", parents=True)
        vm.write_file("/home/user/project/src/main.py", "print(1)\n")
        vm.write_file("/home/user/project/notes one.txt", "n\n")
        vm.write_file("/home/user/project/notes two.txt", "n\n")
        a = await command(t, "ech\thi")
        b = await command(t, "cat proj\tsr\tma\t")
        await type_keys(t, "ls project/no\t\tt\t\r")
        c = (await t.read_until("project/notes two.txt\r\n" + PROMPT, WAIT)).decode()
        return [a, b, c]

    a, b, c = scenario(body)
    assert a == "echo hi\r\nhi\r\n" + PROMPT
    assert b == "cat project/src/main.py \r\nprint(1)\r\n" + PROMPT
    # the common prefix, then (second Tab) both names listed and the line drawn again
    assert c == (
        "ls project/notes\\ \r\nnotes one.txt  notes two.txt\r\n"
        + PROMPT
        + "ls project/notes\\ two.txt \r\nproject/notes two.txt\r\n"
        + PROMPT
    )


def test_ps1_and_ps2() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        await type_keys(t, "PS1='[\\u \\W]\\$ '; PS2='more> '\r")
        await t.read_until("[user ~]$ ", WAIT)
        await type_keys(t, "cd /tmp\r")
        await t.read_until("[user tmp]$ ", WAIT)
        await type_keys(t, "for i in 1 2\r")
        await t.read_until("more> ", WAIT)
        await type_keys(t, "do echo $i; done\r")
        return (await t.read_until("[user tmp]$ ", WAIT)).decode()

    assert scenario(body) == "do echo $i; done\r\n1\r\n2\r\n[user tmp]$ "


def test_typeahead_during_a_command_reaches_the_next_prompt() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> str:
        await type_keys(t, "read -r first\r")
        await t.read_until("first\r\n", WAIT)
        # two lines at once: the first is read by `read`, the second waits for the prompt
        await t.write(b"a\recho $first\r")
        return (await t.read_until(PROMPT + "echo $first\r\na\r\n" + PROMPT, WAIT)).decode()

    assert scenario(body).startswith("a\r\necho $first\r\n")


def test_sync_vm_terminal() -> None:
    with VM(**ISOLATION) as vm, vm.open_shell(cols=70, rows=20) as t:
        t.read_until(PROMPT, WAIT)
        t.write("echo $COLUMNS\r")
        out = t.read_until(PROMPT, WAIT)
        assert out == b"echo $COLUMNS\r\n70\r\n" + PROMPT.encode()
        t.write("exit 4\r")
        assert t.wait(WAIT) == 4


def test_closing_the_terminal_ends_the_running_command() -> None:
    async def go() -> tuple[int, list[str]]:
        async with AsyncVM(**ISOLATION) as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            await command(t, "trap 'echo bye > /tmp/bye' EXIT")
            await type_keys(t, "cat\r")
            await t.read_until("cat\r\n", WAIT)
            status = await t.close()
            left = [p["argv"][0] for p in vm.list_processes() if p["status"] == "running"]
            assert vm.read_text("/tmp/bye") == "bye\n"
            return status, left

    status, left = asyncio.run(go())
    assert left == []
    assert status == 0


def test_closing_the_vm_closes_its_terminals() -> None:
    async def go() -> int | None:
        vm = AsyncVM(**ISOLATION)
        t = vm.open_shell()
        await t.read_until(PROMPT, WAIT)
        await t.write("cat\r")
        await t.read_until("cat\r\n", WAIT)
        await vm.aclose()
        return t.exit_code

    assert asyncio.run(go()) is not None


def test_tput_and_clear_speak_xterm_on_a_terminal_only() -> None:
    async def body(vm: AsyncVM, t: Terminal) -> tuple[str, str, str]:
        t.resize(101, 33)
        a = await command(t, "tput cols; tput lines; n=$(tput cols); echo n=$n")
        await type_keys(t, "tput bold; echo B; tput sgr0; tput setaf 1; tput cup 2 3; clear\r")
        b = (await t.read_until("\x1b[3J" + PROMPT, WAIT)).decode()
        r = await vm.exec("tput cols; tput bold; clear; echo end")
        return a, b, r.stdout

    a, b, plain = scenario(body)
    assert a.split("\r\n")[1:4] == ["101", "33", "n=101"]
    assert "\x1b[1mB\r\n\x1b(B\x1b[m\x1b[31m\x1b[3;4H\x1b[H\x1b[2J\x1b[3J" in b
    assert plain == "80\nend\n"
