"""The audit log: one spawn and one exit record per process, whichever way the shell runs the
command (plain, from a substitution, as a pipeline stage), whether events are read at once, later
or through a sink."""

from __future__ import annotations

from typing import Any

from pocketos import VM
from pocketos.kernel.audit import AuditEvent, AuditLog

SCRIPT = (
    "wc -l < /etc/passwd > /dev/null; x=$(printf 1 | tr 1 2); y=$(wc -l < /etc/passwd); "
    "z=$(echo a | cat); echo b | cat > /dev/null"
)


def _rows(events: list[AuditEvent]) -> list[tuple[Any, ...]]:
    return [(e.seq, e.kind, e.capability, e.resource, e.decision, e.pid, e.detail) for e in events]


def _spawn(seq: int, pid: int, argv: list[str]) -> tuple[Any, ...]:
    return (
        seq,
        "process",
        "child_process.spawn",
        argv[0],
        "allow",
        pid,
        {"ppid": 1, "argv": argv},
    )


def _exit(seq: int, pid: int, name: str) -> tuple[Any, ...]:
    return (seq, "process", "exit", name, "exited", pid, {"exit_code": 0})


EXPECTED = [
    _spawn(1, 2, ["wc", "-l"]),
    _exit(2, 2, "wc"),
    _spawn(3, 3, ["tr", "1", "2"]),
    _exit(4, 3, "tr"),
    _spawn(5, 4, ["wc", "-l"]),
    _exit(6, 4, "wc"),
    _spawn(7, 5, ["cat"]),
    _exit(8, 5, "cat"),
    _spawn(9, 6, ["cat"]),
    _exit(10, 6, "cat"),
    _exit(11, 1, "bash"),
]


def test_each_process_has_its_spawn_and_exit_record() -> None:
    with VM() as vm:
        r = vm.exec(SCRIPT)
        assert r.exit_code == 0
        events = vm.audit_log()
    assert _rows(events) == EXPECTED
    times = [e.time for e in events]
    assert times == sorted(times)


def test_a_sink_sees_the_same_events_as_the_log_when_they_are_recorded() -> None:
    seen: list[AuditEvent] = []
    with VM() as vm:
        vm.kernel.audit.sinks.append(seen.append)
        vm.exec(SCRIPT)
        assert _rows(seen) == EXPECTED
        assert vm.audit_log() == seen
        assert all(a is b for a, b in zip(vm.audit_log(), seen, strict=True))


def test_events_read_twice_are_the_same_objects_and_filters_apply() -> None:
    with VM() as vm:
        vm.exec("true; ls / > /dev/null")
        first = vm.audit_log()
        again = vm.audit_log()
        assert len(first) == len(again) > 0
        assert all(a is b for a, b in zip(first, again, strict=True))
        # a record made after a read joins the ones already made
        vm.exec("ls / > /dev/null")
        later = vm.audit_log()
        assert all(a is b for a, b in zip(first, later, strict=False))
        assert len(later) == len(first) + 3  # ls's spawn and exit, the shell's exit
        assert vm.audit_log(kind="mount") == []
        assert vm.audit_log(since=later[-1].time) == [e for e in later if e.time >= later[-1].time]


def test_the_log_keeps_the_last_maxlen_events() -> None:
    log = AuditLog("vm-x", maxlen=3)
    for i in range(5):
        log.record("process", capability="exit", resource=f"p{i}", pid=i, exit_code=0)
    assert [(e.seq, e.resource) for e in log.query()] == [(3, "p2"), (4, "p3"), (5, "p4")]
    assert log.events == log.query()
    log.record("tool", resource="t")
    assert [e.seq for e in log.events] == [4, 5, 6]
    assert log.events[-1].detail == {}
    assert log.events[0].to_dict() == {
        "seq": 4,
        "time": log.events[0].time,
        "vm": "vm-x",
        "kind": "process",
        "capability": "exit",
        "resource": "p3",
        "decision": "",
        "reason": "",
        "pid": 3,
        "actor": "",
        "detail": {"exit_code": 0},
    }


def _shell_exits(vm: VM) -> list[tuple[Any, ...]]:
    return [
        (e.decision, e.detail["exit_code"])
        for e in vm.audit_log(kind="process")
        if e.capability == "exit" and e.resource == "bash"
    ]


def test_the_shells_exit_record_has_its_real_exit_status() -> None:
    with VM() as vm:
        vm.audit_log()  # the log starts when first used
        for script, kw in [
            ("false", {}),
            ("exit 3", {}),
            ("sleep infinity", {"timeout": 0.5}),
            ("kill -TERM $$; echo unreached", {}),
            ("kill -KILL $$", {}),
            # a shell that handles TERM itself ends as its trap says
            ("trap 'exit 4' TERM; kill -TERM $$; echo unreached", {}),
            ("trap 'echo caught' TERM; kill -TERM $$; exit 143", {}),
            ("true", {}),
        ]:
            vm.exec(script, **kw)  # type: ignore[arg-type]
        assert _shell_exits(vm) == [
            ("exited", 1),
            ("exited", 3),
            ("killed", 124),
            ("killed", 143),
            ("killed", 137),
            ("exited", 4),
            ("exited", 143),
            ("exited", 0),
        ]
        assert [r.exit_code for r in map(vm.exec, ["false", "exit 7"])] == [1, 7]
        assert _shell_exits(vm)[-2:] == [("exited", 1), ("exited", 7)]


def test_a_shell_sessions_exit_record_has_its_exit_status() -> None:
    with VM() as vm:
        vm.audit_log()
        with vm.shell() as sh:
            assert sh.run("false").exit_code == 1
        with vm.shell() as sh:
            sh.run("trap 'exit 5' EXIT")
        assert _shell_exits(vm) == [("exited", 1), ("exited", 5)]


def test_a_process_ended_by_a_signal_is_killed_with_its_number() -> None:
    """``killed`` and 128+N for a process that signal N ended (its default action); ``exited``
    and its own status for one that caught the signal and then ended itself."""
    with VM() as vm:
        vm.audit_log()
        p = vm.spawn(["bash", "-c", "cat | cat"])
        p.write(b"x\n")
        assert p.read_stdout(2) == b"x\n"  # both stages are running
        vm.kill(p.pid, "TERM")
        assert p.wait(timeout=60) == 143
        p = vm.spawn(["bash", "-c", "trap 'echo caught; exit 3' TERM; read x; echo $x; read y"])
        p.write(b"x\n")
        assert p.read_stdout(2) == b"x\n"
        vm.kill(p.pid, "TERM")
        p.close_stdin()
        assert p.wait(timeout=60) == 3
        exits = [
            (e.resource, e.decision, e.detail["exit_code"])
            for e in vm.audit_log(kind="process")
            if e.capability == "exit"
        ]
    assert exits == [
        ("cat", "killed", 143),
        ("cat", "killed", 143),
        ("bash", "killed", 143),
        ("bash", "exited", 3),
    ]
