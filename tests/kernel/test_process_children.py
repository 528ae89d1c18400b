"""A process's list of children does not grow with every command it ever ran."""

from __future__ import annotations

from pocketos import VM
from pocketos.kernel.kernel import MAX_EXITED_KEPT


def test_a_long_running_shell_does_not_keep_every_child_it_ever_had() -> None:
    with VM() as vm:
        r = vm.exec(
            "for i in $(seq 3000); do x=$(wc -l < /etc/hostname); done; echo ok",
            timeout=120,
        )
        assert r.exit_code == 0 and r.stdout.endswith("ok\n"), r
        longest = max(len(p.children) for p in vm.kernel.procs.values())
        # the rows a process table keeps of exited processes bound what a parent lists
        assert longest <= 2 * MAX_EXITED_KEPT + 2, longest
        # the children still listed are real rows: a running child is never dropped
        for p in vm.kernel.procs.values():
            assert all(c in vm.kernel.procs for c in p.children)


def test_a_signal_still_reaches_a_running_child_after_many_ended_ones() -> None:
    with VM() as vm:
        r = vm.exec(
            "for i in $(seq 1200); do x=$(wc -l < /etc/hostname); done; "
            "sleep infinity & pid=$!; kill $pid; wait $pid; echo status=$?",
            timeout=120,
        )
        assert r.exit_code == 0 and "status=143" in r.stdout, r
