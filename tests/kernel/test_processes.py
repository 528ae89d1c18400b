"""Processes: table, pipes with backpressure, EPIPE/SIGPIPE, signals, spawn, limits."""

from __future__ import annotations

import asyncio

import pytest

from pocketos import VM, AsyncVM
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, BytesSource, Pipe


def _add(vm: VM | AsyncVM, name: str, fn) -> None:  # type: ignore[no-untyped-def]
    vm.kernel.extra_commands[name] = fn


async def produce_forever(ctx: Context) -> int:
    while True:
        await ctx.stdout.write(b"y\n" * 1000)


async def take_one_line(ctx: Context) -> int:
    line = await ctx.stdin.readline()
    await ctx.stdout.write(line)
    ctx.stdin.close()
    return 0


async def echo_args(ctx: Context) -> int:
    await ctx.stdout.write((" ".join(ctx.argv[1:]) + "\n").encode())
    await ctx.stderr.write(f"cwd={ctx.cwd} pid={ctx.pid}\n".encode())
    return 7


async def sleeper(ctx: Context) -> int:
    await asyncio.sleep(3600)
    return 0


async def crasher(ctx: Context) -> int:
    raise ZeroDivisionError("boom")


def test_pipe_backpressure_and_epipe() -> None:
    async def main() -> tuple[int, int, bytes]:
        async with AsyncVM() as vm:
            _add(vm, "forever", produce_forever)
            _add(vm, "one", take_one_line)
            pipe = Pipe(capacity=4096)
            out = BytesSink()
            k = vm.kernel
            prod = k.run_command(
                ["forever"],
                stdin=BytesSource(),
                stdout=pipe.writer,
                stderr=BytesSink(),
                env={},
                cwd="/",
            )
            cons = k.run_command(
                ["one"], stdin=pipe.reader, stdout=out, stderr=BytesSink(), env={}, cwd="/"
            )

            async def closing(coro):  # type: ignore[no-untyped-def]
                try:
                    return await coro
                finally:
                    pipe.writer.close()

            a, b = await asyncio.wait_for(asyncio.gather(closing(prod), cons), 60)
            # the pipe never held more than its capacity
            assert len(pipe.buf) <= 4096
            return a, b, out.getvalue()

    prod_status, cons_status, data = asyncio.run(main())
    assert prod_status == 141  # SIGPIPE
    assert cons_status == 0
    assert data == b"y\n"


def test_run_passes_argv_cwd_env_and_status() -> None:
    with VM() as vm:
        _add(vm, "echoargs", echo_args)
        r = vm.run(["echoargs", "a", "b c"], cwd="/tmp")
        assert r.exit_code == 7
        assert r.stdout == "a b c\n"
        assert r.stderr.startswith("cwd=/tmp pid=")


def test_command_not_found_is_127() -> None:
    with VM() as vm:
        r = vm.run(["definitely-not-a-command"])
        assert r.exit_code == 127
        assert r.stderr == "definitely-not-a-command: command not found\n"


def test_crash_in_command_is_status_2_not_exception() -> None:
    with VM() as vm:
        _add(vm, "crash", crasher)
        r = vm.run(["crash"])
        assert r.exit_code == 2
        assert "internal error: ZeroDivisionError: boom" in r.stderr


def test_spawn_wait_kill_and_process_table() -> None:
    async def main() -> None:
        async with AsyncVM() as vm:
            _add(vm, "sleeper", sleeper)
            _add(vm, "echoargs", echo_args)
            p = await vm.spawn(["sleeper"])
            q = await vm.spawn(["echoargs", "hi"])
            assert await q.wait() == 7
            assert await q.stdout.read() == b"hi\n"
            rows = {r["pid"]: r for r in vm.list_processes()}
            assert rows[p.pid]["status"] == "running"
            assert rows[q.pid]["status"] == "exited"
            assert rows[q.pid]["exit_code"] == 7
            p.kill("TERM")
            assert await p.wait() == 128 + 15
            assert {r["pid"]: r for r in vm.list_processes()}[p.pid]["status"] == "killed"
            vm.kill(p.pid)  # exited but still listed: nothing to signal, no error
            with pytest.raises(ProcessLookupError):
                vm.kill(10**6)

    asyncio.run(main())


def test_spawn_streaming_stdin() -> None:
    async def main() -> bytes:
        async with AsyncVM() as vm:
            _add(vm, "one", take_one_line)
            p = await vm.spawn(["one"])
            await p.write(b"first\nsecond\n")
            p.close_stdin()
            assert await p.wait() == 0
            return await p.stdout.read()

    assert asyncio.run(main()) == b"first\n"


def test_max_processes_limit() -> None:
    async def main() -> None:
        async with AsyncVM(limits={"max_processes": 3}) as vm:
            _add(vm, "sleeper", sleeper)
            _add(vm, "echoargs", echo_args)
            procs = [await vm.spawn(["sleeper"]) for _ in range(3)]
            with pytest.raises(Exception, match="max_processes"):
                await vm.spawn(["sleeper"])
            r = await vm.run(["echoargs"])
            assert r.exit_code == 126
            assert "max_processes" in r.stderr
            for p in procs:
                p.kill()
                await p.wait()
            r = await vm.run(["echoargs", "ok"])  # later work still runs
            assert r.exit_code == 7

    asyncio.run(main())


def test_timeout_kills_and_returns_124() -> None:
    with VM() as vm:
        _add(vm, "sleeper", sleeper)
        r = vm.run(["sleeper"], timeout=0.2)
        assert r.exit_code == 124
        assert r.limit_hit == "timeout"
        assert vm.run(
            ["true"] if vm.kernel.lookup_command("true") else ["sleeper"], timeout=0.1
        ).exit_code in (0, 124)


def test_output_limit() -> None:
    with VM(limits={"max_output_bytes": 10_000}) as vm:
        _add(vm, "forever", produce_forever)
        r = vm.run(["forever"])
        assert r.limit_hit == "max_output_bytes"
        assert r.exit_code == 125
        assert len(r.stdout_bytes) <= 12_000


def test_process_tree() -> None:
    async def parent(ctx: Context) -> int:
        return await ctx.run(["child"])

    async def child(ctx: Context) -> int:
        tree = ctx.kernel.process_tree()
        await ctx.stdout.write(
            repr([(n["argv"][0], [c["argv"][0] for c in n["children"]]) for n in tree]).encode()
        )
        return 0

    with VM() as vm:
        _add(vm, "parent", parent)
        _add(vm, "child", child)
        r = vm.run(["parent"])
        assert r.stdout == "[('parent', ['child'])]"


def test_scripts_with_shebang_and_exec_bit() -> None:
    with VM() as vm:
        _add(vm, "echoargs", echo_args)
        vm.write_file("/usr/local/bin/tool", b"#!/usr/bin/echoargs -x\n", mode=0o755)
        r = vm.run(["tool", "arg"])
        assert r.stdout == "-x /usr/local/bin/tool arg\n"
        vm.write_file("/home/user/noexec", b"#!/usr/bin/env echoargs\n")
        r = vm.run(["./noexec"], cwd="/home/user")
        assert r.exit_code == 126
        assert r.stderr == "./noexec: Permission denied\n"
        r = vm.run(["./missing"], cwd="/home/user")
        assert r.exit_code == 127


async def block_forever(ctx: Context) -> int:
    await asyncio.Event().wait()  # nothing ever sets it
    return 0


def test_sync_spawn_kill_then_wait_returns_the_killed_status() -> None:
    # like subprocess.Popen.kill(): callable from plain sync code, no running event loop
    with VM() as vm:
        _add(vm, "forever", block_forever)
        p = vm.spawn(["forever"])
        p.kill()
        assert p.wait() == 128 + 9
        assert p.exit_code == 128 + 9
        row = {r["pid"]: r for r in vm.list_processes()}[p.pid]
        assert (row["status"], row["exit_code"]) == ("killed", 137)
        q = vm.spawn(["forever"])
        vm.kill(q.pid, "TERM")
        assert vm.wait(q.pid) == 128 + 15


def test_kill_before_the_process_task_starts_gives_the_killed_status() -> None:
    async def main() -> None:
        async with AsyncVM() as vm:
            _add(vm, "forever", block_forever)
            p = await vm.spawn(["forever"])
            p.kill()  # no await in between: the task has not taken its first step
            assert await p.wait() == 128 + 9
            assert p.exit_code == p.returncode == 128 + 9
            assert await p.stdout.read() == b""  # output streams are closed, not left open
            row = {r["pid"]: r for r in vm.list_processes()}[p.pid]
            assert (row["status"], row["exit_code"]) == ("killed", 137)
            q = await vm.spawn(["forever"])
            vm.kill(q.pid, "TERM")
            assert await vm.wait(q.pid) == 128 + 15
            assert await q.wait() == 128 + 15

    asyncio.run(main())


def test_cancelling_a_waiter_cancels_the_waiter_not_the_process() -> None:
    async def main() -> None:
        async with AsyncVM() as vm:
            _add(vm, "forever", block_forever)
            p = await vm.spawn(["forever"])
            for waiter in (vm.wait(p.pid), p.wait()):
                w = asyncio.ensure_future(waiter)
                await asyncio.sleep(0)  # one step: the waiter is now blocked on the process
                assert not w.done()
                w.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await w
            assert p.info.status == "running" and p.exit_code is None
            p.kill()
            assert await p.wait() == 128 + 9

    asyncio.run(main())
