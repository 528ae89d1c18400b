"""Persistent shells: state survives across run() calls; exec() starts fresh each time."""

from __future__ import annotations

import asyncio

from pocketos import VM, AsyncVM


def test_state_persists_across_runs() -> None:
    with VM() as vm:
        sh = vm.shell()
        r = sh.run("cd /tmp && X=5 && f() { echo \"f:$1\"; } && alias ll='echo alias'")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
        r = sh.run("echo $X $PWD; f 2; shopt -s expand_aliases")
        assert r.stdout == "5 /tmp\nf:2\n"
        assert sh.cwd == "/tmp"
        sh.close()


def test_exec_does_not_carry_state_but_files_do() -> None:
    with VM() as vm:
        assert vm.exec("X=1; cd /tmp; echo hi > f").exit_code == 0
        r = vm.exec('echo "[$X]" $PWD; cat /tmp/f')
        assert r.stdout == "[] /home/user\nhi\n"


def test_each_run_has_its_own_output_and_status() -> None:
    with VM() as vm:
        sh = vm.shell()
        a = sh.run("echo one; false")
        b = sh.run("echo $?; echo two >&2")
        assert (a.exit_code, a.stdout) == (1, "one\n")
        assert (b.exit_code, b.stdout, b.stderr) == (0, "1\n", "two\n")
        sh.close()


def test_stdin_per_run_and_limits_reset() -> None:
    with VM(limits={"max_loop_iterations": 100}) as vm:
        sh = vm.shell()
        assert sh.run('read line; echo "got $line"', stdin="hello\n").stdout == "got hello\n"
        r = sh.run("while :; do :; done")
        assert r.limit_hit == "max_loop_iterations"
        r = sh.run("for i in 1 2 3; do echo $i; done")
        assert (r.stdout, r.limit_hit) == ("1\n2\n3\n", None)
        sh.close()


def test_timeout_in_a_shell_keeps_the_shell() -> None:
    with VM() as vm:
        sh = vm.shell()
        sh.run("Y=kept")
        r = sh.run("sleep 10", timeout=0.2)
        assert (r.exit_code, r.limit_hit) == (124, "timeout")
        assert sh.run("echo $Y").stdout == "kept\n"
        sh.close()


def test_async_shell() -> None:
    async def main() -> str:
        async with AsyncVM() as vm:
            sh = vm.shell()
            await sh.run("N=7")
            r = await sh.run("echo $((N*6))")
            await sh.aclose()
            return r.stdout

    assert asyncio.run(main()) == "42\n"
