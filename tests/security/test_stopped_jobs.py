"""Attacks with stopped processes: a stopped job must never hold an exec past its timeout,
stop/continue storms must not leak tasks or listeners, and a guest that stops its own shell
only stops its own exec."""

from __future__ import annotations

import asyncio

from pocketos import VM, AsyncVM

WAIT = 30.0
PROMPT = "user@pocketos:~$ "


def test_a_stopped_foreground_command_ends_at_the_exec_timeout() -> None:
    # without job control the shell waits for its stopped command, as bash does; the
    # wall clock keeps running while it is stopped
    with VM() as vm:
        r = vm.exec("sh -c 'kill -STOP $$'; echo after", timeout=1)
        assert (r.exit_code, r.stdout, r.limit_hit) == (124, "", "timeout")
        assert vm.exec("echo next").stdout == "next\n"
        assert [p for p in vm.list_processes() if p["status"] == "running"] == []


def test_a_shell_that_stops_itself_ends_at_the_exec_timeout() -> None:
    with VM() as vm:
        for sig in ("STOP", "TSTP", "TTIN", "TTOU"):
            r = vm.exec(f"kill -{sig} $$; echo after", timeout=1)
            assert (r.exit_code, r.stdout, r.limit_hit) == (124, "", "timeout"), sig


def test_a_stopped_spawned_process_ends_at_its_timeout() -> None:
    async def go() -> int:
        async with AsyncVM() as vm:
            p = await vm.spawn(["cat"], limits={"timeout": 1})
            vm.kill(p.pid, "STOP")
            await p.write(b"never read\n")
            return await p.wait(WAIT)

    assert asyncio.run(go()) == 124


def test_stopped_jobs_end_with_the_exec() -> None:
    with VM() as vm:
        r = vm.exec(
            "set -m; sleep infinity & kill -STOP %1; sh -c 'kill -TSTP $$'; "
            "(echo x; sh -c 'kill -STOP $$') | cat; jobs | wc -l"
        )
        assert (r.exit_code, r.stdout.split("\n")[-2]) == (0, "3")
        assert [p for p in vm.list_processes() if p["status"] == "running"] == []


def test_stop_cont_storms_leak_no_tasks_or_listeners() -> None:
    async def go() -> tuple[str, str, int, int]:
        async with AsyncVM() as vm:
            await vm.exec("true")
            before = len(asyncio.all_tasks())
            r = await vm.exec(
                "set -m; sleep infinity & "
                "for i in $(seq 300); do kill -STOP %1; kill -CONT $!; kill -TSTP %1; bg >/dev/null; done; "
                "kill -STOP %1; for i in $(seq 300); do kill -USR1 %1; done; jobs; "
                "kill -CONT %1; wait %1; echo $?"
            )
            p = await vm.spawn(["cat"])
            for _ in range(2000):
                vm.kill(p.pid, "STOP")
                vm.kill(p.pid, "CONT")
            await p.write(b"still here\n")
            p.close_stdin()
            await p.wait(WAIT)
            out = await p.stdout.read()
            await asyncio.sleep(0)
            return r.stdout, out.decode(), before, len(asyncio.all_tasks())

    out, cat_out, before, after = asyncio.run(go())
    assert out == "[1]+  Stopped                 sleep infinity\n138\n"
    assert cat_out == "still here\n"
    assert after <= before


def test_a_terminal_closed_with_stopped_jobs_leaves_nothing_running() -> None:
    async def go() -> tuple[str, list[str]]:
        async with AsyncVM() as vm:
            t = vm.open_shell()
            await t.read_until(PROMPT, WAIT)
            await t.write(b"sh -c 'echo go; exec cat'\r")
            await t.read_until("go\r\n", WAIT)
            await t.write(b"\x1a")
            await t.read_until("\n" + PROMPT, WAIT)
            # the interactive shell ignores TSTP sent to itself
            await t.write(b"kill -TSTP $$; echo still\r")
            shown = (await t.read_until("\n" + PROMPT, WAIT)).decode()
            await t.close()
            running = [p["argv"][0] for p in vm.list_processes() if p["status"] == "running"]
            return shown, running

    shown, running = asyncio.run(go())
    assert shown == "kill -TSTP $$; echo still\r\nstill\r\n" + PROMPT
    assert running == []
