"""Signals whose default action is to do nothing (CONT, CHLD, URG, WINCH) leave a job or a
process running, as in bash; checked against host bash."""

from __future__ import annotations

import pytest

from pocketos import VM
from tests.shell.test_interp_bash import HAVE_BASH, host_bash, vm_bash

pytestmark = pytest.mark.skipif(not HAVE_BASH, reason="host bash not installed")

SCRIPTS = [
    # a job: by job spec and by $!
    "sleep infinity & p=$!\n"
    "kill -CONT %1; kill -s CHLD $p; kill -URG $p; kill -WINCH %1; kill -SIGCONT $p\n"
    "jobs; kill -0 $p && echo alive\n"
    "kill %1; wait $p; echo $?",
    # a trap on one of them still runs; the default is still to carry on
    "trap 'echo got WINCH' WINCH; kill -WINCH $$; kill -CONT $$; echo still here",
    "kill -l WINCH; kill -l 28; kill -l URG; kill -l TTIN; kill -l TTOU",
    # the others end the job as before
    "sleep infinity & kill -TERM %1; wait %1; echo $?",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_signals_that_do_nothing_by_default(script: str) -> None:
    want = host_bash(script)
    with VM() as vm:
        got = vm_bash(vm, script)
    assert (got[0], got[1]) == (want[0], want[1])
    assert bool(got[2]) == bool(want[2]), got[2]


def test_a_spawned_process_survives_cont_and_winch() -> None:
    with VM() as vm:
        p = vm.spawn(["sleep", "infinity"])
        assert vm.exec("echo ok").stdout == "ok\n"
        for sig in ("CONT", "WINCH", "CHLD", "URG", 18):
            vm.kill(p.pid, sig)
        assert vm.exec("echo still").stdout == "still\n"
        assert [x["status"] for x in vm.list_processes() if x["pid"] == p.pid] == ["running"]
        vm.kill(p.pid, "KILL")
        assert p.wait() == 137
