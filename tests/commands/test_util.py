"""Unit tests for the shell utilities: streaming, VM identity, time handling, later commands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, timedelta, timezone

import pytest

from pocketos import VM
from pocketos.commands.date import parse_date, strftime_gnu
from pocketos.commands.sleep import parse_duration
from pocketos.kernel.streams import BytesSink, NullInput, Pipe


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.write_file("/work/a.txt", b"hello\n", parents=True)
        yield v


def run(
    vm: VM, *argv: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    r = vm.run(list(argv), cwd="/work", stdin=stdin, env=env)
    return r.exit_code, r.stdout, r.stderr


# --- streaming --------------------------------------------------------------------------------


def test_yes_stops_on_closed_pipe(vm: VM) -> None:
    """``yes`` writing into a pipe whose reader is gone ends with BrokenPipeError (SIGPIPE)."""
    from pocketos.commands.seq import yes
    from pocketos.kernel.process import Context

    async def main() -> bytes:
        pipe = Pipe(capacity=64)
        ctx = Context(
            vm.kernel,
            ["yes"],
            env={},
            cwd="/",
            stdin=NullInput(),
            stdout=pipe.writer,
            stderr=BytesSink(),
        )
        task = asyncio.ensure_future(yes(ctx))
        first = await pipe.reader.read(10)
        pipe.reader.close()
        with pytest.raises(BrokenPipeError):
            await task
        return first

    assert asyncio.run(main()) == b"y\ny\ny\ny\ny\n"


@pytest.mark.timeout(120)
def test_streaming_pipelines_end_at_once(vm: VM) -> None:
    r = vm.exec(
        "yes | head -n 3; seq 1 1000000000 | head -n 1; seq 1 1e9 | head -n 2; "
        "yes abc | head -c 8; find / | head -n 2"
    )
    assert r.stdout == "y\ny\ny\n1\n1\n2\nabc\nabc\n/\n/bin\n"


def test_xargs_streams_input(vm: VM) -> None:
    r = vm.exec("yes | xargs -n 2 echo | head -n 2")
    assert r.stdout == "y y\ny y\n"


# --- env / which / identity -------------------------------------------------------------------


def test_env_runs_command_with_changes(vm: VM) -> None:
    env = {"PATH": "/usr/bin:/bin", "A": "1", "B": "2"}
    assert run(vm, "env", "-u", "A", "C=3", "printenv", "A", "B", "C", env=env) == (1, "2\n3\n", "")
    assert run(vm, "env", "-i", "PATH=/bin", "A=1", "B=2") == (0, "PATH=/bin\nA=1\nB=2\n", "")
    assert run(vm, "env", "-C", "/tmp", "sh", "-c", "pwd", env=env) == (0, "/tmp\n", "")
    assert run(vm, "env", "-S", "printf %s-%s\\n x y", env=env) == (0, "x-y\n", "")


def test_which(vm: VM) -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    assert run(vm, "which", "ls", "cat", env=env) == (0, "/usr/bin/ls\n/usr/bin/cat\n", "")
    assert run(vm, "which", "-a", "ls", env=env) == (0, "/usr/bin/ls\n/bin/ls\n", "")
    assert run(vm, "which", "nope", env=env) == (1, "", "")
    vm.write_file("/work/tool", b"#!/bin/sh\necho hi\n")
    vm.chmod("/work/tool", 0o755)
    assert run(vm, "which", "tool", env={"PATH": "/work"}) == (0, "/work/tool\n", "")


def test_identity_commands(vm: VM) -> None:
    env = {"USER": "user"}
    assert run(vm, "uname", "-a") == (
        0,
        "Linux pocketos 6.1.0-pocketos #1 SMP PREEMPT_DYNAMIC pocketos x86_64 GNU/Linux\n",
        "",
    )
    assert run(vm, "uname", "-snrm") == (0, "Linux pocketos 6.1.0-pocketos x86_64\n", "")
    assert run(vm, "hostname") == (0, "pocketos\n", "")
    vm.write_file("/etc/hostname", b"box.example.com\n")
    assert run(vm, "hostname", "-s") == (0, "box\n", "")
    assert run(vm, "uname", "-n") == (0, "box.example.com\n", "")
    assert run(vm, "whoami", env=env) == (0, "user\n", "")
    assert run(vm, "whoami", env={}) == (0, "user\n", "")
    assert run(vm, "whoami", env={"USER": "root"}) == (0, "root\n", "")
    assert run(vm, "id", env=env) == (0, "uid=1000(user) gid=1000(user) groups=1000(user)\n", "")
    assert run(vm, "id", "-u", env=env) == (0, "1000\n", "")
    assert run(vm, "id", "-un", env=env) == (0, "user\n", "")
    assert run(vm, "id", "-gn", "root") == (0, "root\n", "")
    assert run(vm, "id", "nobody-x") == (1, "", "id: 'nobody-x': no such user\n")
    assert run(vm, "nproc") == (0, "2\n", "")
    assert run(vm, "nproc", "--ignore=5") == (0, "1\n", "")


def test_tput_and_clear(vm: VM) -> None:
    assert run(vm, "tput", "cols") == (0, "80\n", "")
    assert run(vm, "tput", "lines") == (0, "24\n", "")
    assert run(vm, "tput", "colors") == (0, "8\n", "")
    assert run(vm, "tput", "sgr0") == (0, "", "")
    assert run(vm, "tput", "setaf", "1") == (0, "", "")
    assert run(vm, "tput", "bogus") == (4, "", "tput: unknown terminal capability 'bogus'\n")
    assert run(vm, "clear") == (0, "", "")


def test_later_commands(vm: VM) -> None:
    """The placeholders (called directly: real implementations may replace them in the
    registry) print a clear message and fail with status 1."""
    from pocketos.commands.later import PENDING, _pending
    from pocketos.kernel.process import Context

    async def call(argv: list[str]) -> tuple[int, bytes, bytes]:
        out, err = BytesSink(), BytesSink()
        ctx = Context(vm.kernel, argv, env={}, cwd="/", stdin=NullInput(), stdout=out, stderr=err)
        code = await _pending(ctx)
        return code, out.getvalue(), err.getvalue()

    assert set(PENDING) == {"curl", "wget", "python", "python3", "pip", "pip3", "node", "js"}
    for name, reason in (
        ("curl", "network gateway not installed"),
        ("python3", "Python runtime not installed"),
        ("node", "JavaScript runtime not installed"),
    ):
        assert asyncio.run(call([name, "x"])) == (
            1,
            b"",
            f"{name}: not available yet in this VM ({reason})\n".encode(),
        )
        assert asyncio.run(call([name, "--help"]))[0] == 0


# --- date / sleep / timeout -------------------------------------------------------------------


def test_date_timezones(vm: VM) -> None:
    assert run(vm, "date", "-d", "@0", env={"TZ": "EST5"}) == (
        0,
        "Wed Dec 31 19:00:00 EST 1969\n",
        "",
    )
    assert run(vm, "date", "-d", "@0", "+%H:%M %Z %z", env={"TZ": "<+0530>-5:30"}) == (
        0,
        "05:30 +0530 +0530\n",
        "",
    )
    assert run(vm, "date", "-u", "-d", "@0", "+%H %Z", env={"TZ": "EST5"}) == (0, "00 UTC\n", "")
    assert run(vm, "date", "-d", "2024-01-01 12:00", "+%s", env={"TZ": "EST5"}) == (
        0,
        "1704128400\n",
        "",
    )


def test_date_reference_and_set(vm: VM) -> None:
    run(vm, "touch", "-d", "2021-05-06 07:08:09", "a.txt")
    assert run(vm, "date", "-r", "a.txt", "+%F %T") == (0, "2021-05-06 07:08:09\n", "")
    assert run(vm, "date", "-s", "2020-01-01") == (
        1,
        "",
        "date: cannot set date: Operation not permitted\n",
    )


def test_parse_date_relative_forms() -> None:
    utc = UTC
    now = 1_700_000_000.0  # Tue 2023-11-14 22:13:20 UTC
    assert parse_date("now", utc, now) == now
    assert parse_date("yesterday", utc, now) == now - 86400
    assert parse_date("3 days ago", utc, now) == now - 3 * 86400
    assert parse_date("+2 hours", utc, now) == now + 7200
    assert parse_date("next friday", utc, now) == 1_700_179_200.0  # Fri 2023-11-17 00:00
    assert parse_date("last monday", utc, now) == 1_699_833_600.0  # Mon 2023-11-13 00:00
    assert parse_date("10:30", utc, now) == 1_699_957_800.0
    assert parse_date("2023-11-14T10:00:00+02:00", utc, now) == 1_699_948_800.0
    with pytest.raises(ValueError):
        parse_date("the day after", utc, now)


def test_strftime_gnu_flags() -> None:
    from datetime import datetime

    dt = datetime(2024, 3, 5, 7, 8, 9, tzinfo=timezone(timedelta(hours=-3), "XYZ"))
    assert strftime_gnu("%-m/%-d %_H %3N %:z %::z %Z %^b %10s|", dt, 123456789) == (
        "3/5  7 123 -03:00 -03:00:00 XYZ MAR " + str(int(dt.timestamp())).rjust(10) + "|"
    )


def test_parse_duration() -> None:
    assert parse_duration("1.5") == 1.5
    assert parse_duration("2m") == 120
    assert parse_duration("1h") == 3600
    assert parse_duration("0.5d") == 43200
    with pytest.raises(ValueError):
        parse_duration("1x")


@pytest.mark.timeout(120)
def test_sleep_is_interruptible(vm: VM) -> None:
    assert run(vm, "timeout", "0.1", "sleep", "infinity") == (124, "", "")
    assert run(vm, "timeout", "-s", "KILL", "0.1", "sleep", "infinity") == (137, "", "")
    assert run(vm, "timeout", "-v", "0.1", "sleep", "infinity") == (
        124,
        "",
        "timeout: sending signal TERM to command 'sleep'\n",
    )


def test_timeout_passes_status_and_output(vm: VM) -> None:
    assert run(vm, "timeout", "5", "sh", "-c", "echo hi; exit 3") == (3, "hi\n", "")


# --- seq / expr / factor / numfmt -------------------------------------------------------------


def test_seq_large_and_float_formats(vm: VM) -> None:
    assert run(vm, "seq", "-s", " ", "99999999999999999998", "100000000000000000000") == (
        0,
        "99999999999999999998 99999999999999999999 100000000000000000000\n",
        "",
    )
    assert run(vm, "seq", "-f", "%e", "1", "2") == (0, "1.000000e+00\n2.000000e+00\n", "")
    code, out, _ = run(vm, "seq", "100000")
    assert code == 0 and out.count("\n") == 100000 and out.endswith("99999\n100000\n")


def test_expr_regex_and_status(vm: VM) -> None:
    assert run(vm, "expr", "hello.txt", ":", ".*\\.\\(txt\\)") == (0, "txt\n", "")
    assert run(vm, "expr", "abc", ":", "\\(x\\)") == (1, "\n", "")
    assert run(vm, "expr", "a", ":", "\\(") == (2, "", "expr: Unmatched ( or \\(\n")
    assert run(vm, "expr", "3", "%", "0") == (2, "", "expr: division by zero\n")


def test_factor_big_and_stdin(vm: VM) -> None:
    assert run(vm, "factor", "1000000016000000063") == (
        0,
        "1000000016000000063: 1000000007 1000000009\n",
        "",
    )
    assert run(vm, "factor", stdin=b"10\n  21 \n") == (0, "10: 2 5\n21: 3 7\n", "")


def test_numfmt_invalid_modes(vm: VM) -> None:
    assert run(vm, "numfmt", "--invalid=ignore", "x", "2000", "--to=si") == (0, "x\n2.0K\n", "")
    assert run(vm, "numfmt", "--invalid=warn", "x") == (0, "x\n", "numfmt: invalid number: 'x'\n")


# --- test / printf / echo ---------------------------------------------------------------------


def test_test_and_bracket(vm: VM) -> None:
    vm.write_file("/work/ex", b"#!/bin/sh\n")
    vm.chmod("/work/ex", 0o755)
    assert run(vm, "test", "-x", "ex")[0] == 0
    assert run(vm, "test", "-x", "a.txt")[0] == 1
    assert run(vm, "[", "-f", "a.txt", "]")[0] == 0
    code, _, err = run(vm, "[", "-f", "a.txt")
    assert code == 2 and err == "[: missing ']'\n"


def test_echo_binary_safe(vm: VM) -> None:
    r = vm.run(["echo", "-ne", "\\xff\\x00\\0101"], cwd="/work")
    assert r.stdout_bytes == b"\xff\x00A"
    r = vm.run(["printf", "%s", "caf\udce9"], cwd="/work")
    assert r.stdout_bytes == b"caf\xe9"


def test_every_command_has_help(vm: VM) -> None:
    names = [
        "env",
        "printenv",
        "which",
        "date",
        "sleep",
        "timeout",
        "seq",
        "yes",
        "expr",
        "factor",
        "numfmt",
        "uname",
        "hostname",
        "whoami",
        "id",
        "nproc",
        "true",
        "[",
        "tput",
        "clear",
        "printf",
        "echo",
        "find",
        "xargs",
    ]
    for name in names:
        code, out, _ = run(vm, name, "--help")
        assert code == 0 and out.lower().startswith("usage"), name
