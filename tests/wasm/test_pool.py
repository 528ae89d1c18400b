"""Pre-started interpreters: each python3 invocation binds a fresh one to itself."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest

from tests.wasm.conftest import need_python

need_python()


@pytest.fixture()
def two_vms() -> Iterator[tuple[Any, Any]]:
    from pocketos import VM

    with VM() as a, VM() as b:
        for vm, tag in ((a, b"A"), (b, b"B")):
            vm.mkdir("/work/sub", parents=True, exist_ok=True)
            vm.write_file("/work/sub/who.txt", tag + b"\n")
        yield a, b


def test_each_invocation_binds_its_own_vm(two_vms: tuple[Any, Any]) -> None:
    """Alternating VMs, cwds, envs and argvs: each run sees only its own."""
    a, b = two_vms
    code = (
        "import os, sys; print(open('who.txt').read().strip(), os.getcwd(), "
        "os.environ.get('TAG'), sys.argv[1:])"
    )
    for i in range(3):
        for vm, tag in ((a, "A"), (b, "B")):
            r = vm.run(
                ["python3", "-c", code, str(i)],
                stdin=b"",
                cwd="/work/sub",
                env={"TAG": tag + str(i)},
            )
            assert (r.exit_code, r.stdout, r.stderr) == (
                0,
                f"{tag} /work/sub {tag}{i} ['{i}']\n",
                "",
            )


def test_never_reused(vm: Any) -> None:
    code = (
        "import builtins, sys; print(hasattr(builtins, 'mark'), 'fractions' in sys.modules); "
        "builtins.mark = 1; import fractions"
    )
    outs = [vm.run(["python3", "-c", code], stdin=b"").stdout for _ in range(4)]
    assert outs == ["False False\n"] * 4


def test_random_differs(vm: Any) -> None:
    code = "import random; print(random.random())"
    outs = {vm.run(["python3", "-c", code], stdin=b"").stdout for _ in range(3)}
    assert len(outs) == 3


def test_pool_disabled(vm: Any) -> None:
    from pocketos.wasm import pool

    old = pool.set_pool_size(0)
    try:
        assert pool.idle_count() == 0
        r = vm.run(["python3", "-c", "print('no pool')"], stdin=b"")
        assert (r.exit_code, r.stdout) == (0, "no pool\n")
        assert pool.idle_count() == 0
    finally:
        pool.set_pool_size(old)


def test_stdin_streams(vm: Any) -> None:
    r = vm.exec("yes | python3 -c 'print(input())'")
    assert (r.exit_code, r.stdout) == (0, "y\n")
    r = vm.exec("seq 1 5 | python3 -c 'import sys\nfor l in sys.stdin: print(int(l) * 2)'")
    assert (r.exit_code, r.stdout) == (0, "2\n4\n6\n8\n10\n")


def test_unclosed_file_and_atexit(vm: Any) -> None:
    code = (
        "import atexit; atexit.register(lambda: print('bye'))\n"
        "f = open('/work/unclosed.txt', 'w'); f.write('kept')\n"
    )
    r = vm.run(["python3", "-c", code], stdin=b"")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "bye\n", "")
    assert vm.read_file("/work/unclosed.txt") == b"kept"


def test_door_is_not_a_file(vm: Any) -> None:
    """The guest cannot reach the host through the door beyond stdin and HTTP."""
    code = (
        "import _host\n"
        "try:\n    _host.call(b'x')\nexcept OSError as e:\n    print(type(e).__name__)\n"
    )
    r = vm.run(["python3", "-c", code], stdin=b"")
    assert (r.exit_code, r.stdout) == (0, "OSError\n")


def test_first_use_cache_is_private(vm: Any) -> None:
    from pocketos.wasm import firstuse

    vm.run(["python3", "-c", "pass"], stdin=b"")
    d = firstuse.stdlib_dir()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for entry in d.iterdir():
        assert not os.stat(entry).st_mode & 0o077


def test_stdin_through_fd0(vm: Any) -> None:
    code = "import os; print(os.read(0, 3), open(0, 'rb').read(), open(0).read() == '')"
    r = vm.run(["python3", "-c", code], stdin=b"abcdef\n")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "b'abc' b'def\\n' True\n", "")


def test_sys_path0_like_cpython(vm: Any) -> None:
    vm.mkdir("/work/app", parents=True, exist_ok=True)
    vm.write_file("/work/app/helper.py", b"X = 5\n")
    vm.write_file("/work/app/main.py", b"import helper, sys; print(helper.X, sys.path[0])\n")
    r = vm.run(["python3", "app/main.py"], stdin=b"", cwd="/work")
    assert (r.exit_code, r.stdout) == (0, "5 /work/app\n")
    r = vm.run(
        ["python3", "-c", "import helper, sys; print(helper.X, repr(sys.path[0]))"],
        stdin=b"",
        cwd="/work/app",
    )
    assert (r.exit_code, r.stdout) == (0, "5 ''\n")
    r = vm.run(["python3", "-m", "helper"], stdin=b"", cwd="/work/app")
    assert (r.exit_code, r.stderr) == (0, "")
    r = vm.run(["python3", "-I", "-c", "import helper"], stdin=b"", cwd="/work/app")
    assert r.exit_code == 1
