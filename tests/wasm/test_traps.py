"""wasmtime's trap handlers survive a library that puts its own over them after the first run
(faulthandler, a crash reporter, Ray's start and stop): the next guest run puts them back instead
of being refused (a guest that traps with them replaced would end the host)."""

from __future__ import annotations

import signal

from pocketos import VM
from tests.wasm.conftest import need_python


def _clobber() -> None:
    for name in ("SIGSEGV", "SIGILL", "SIGFPE", "SIGBUS"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def test_python_runs_after_the_trap_handlers_were_replaced() -> None:
    need_python()
    with VM() as vm:
        assert vm.exec("python3 -c 'print(1)'").stdout == "1\n"
        _clobber()
        r = vm.exec("python3 -c 'print(2)'")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "2\n", "")
        _clobber()
        r = vm.exec("python3 -c 'import sys; print(sys.argv[1])' x")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "x\n", "")
