"""find holds its output in a buffer (one write to a pipe instead of one per name): an error
still comes after the names found before it, a command run by -exec still writes between the
names around it, and nothing is lost at the buffer's edge."""

from __future__ import annotations

from pocketos import VM
from pocketos.commands._find.state import OUT_BUFFER

POLICY = {
    "fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/t/b"]}]},
    "child_process": "allow",
    "env": "allow",
}


def test_an_error_comes_after_the_names_before_it() -> None:
    with VM() as setup:
        setup.exec("mkdir -p /t; touch /t/a /t/b /t/c")
        with setup.fork(policy=POLICY) as vm:
            r = vm.exec("find /t 2>&1; echo status $?")
    assert r.stdout == (
        "/t\n/t/a\nfind: '/t/b': Permission denied: fs.stat on /t/b\n/t/c\nstatus 1\n"
    )


def test_exec_output_stays_between_the_names_around_it() -> None:
    with VM() as vm:
        vm.exec("mkdir -p /t/d; touch /t/a /t/d/e")
        r = vm.exec("find /t -print -exec echo 'ran on' {} \\;")
        assert r.stdout == (
            "/t\nran on /t\n/t/a\nran on /t/a\n/t/d\nran on /t/d\n/t/d/e\nran on /t/d/e\n"
        )
        r = vm.exec("find /t -name e -print -fprint /tmp/list; cat /tmp/list")
        assert r.stdout == "/t/d/e\n/t/d/e\n"


def test_nothing_is_lost_at_the_buffers_edge() -> None:
    name = "n" * 60
    count = 3 * OUT_BUFFER // (len(name) + 12) + 7
    with VM() as vm:
        vm.exec(f"mkdir -p /big; cd /big; for ((i=0; i<{count}; i++)); do : > {name}$i; done")
        r = vm.exec("find /big -type f | wc -l; find /big -type f -print0 | tr -cd '\\0' | wc -c")
        assert r.stdout == f"{count}\n{count}\n"
        r = vm.exec("find /big -type f | sort | tail -1; find /big | head -2")
        last = max(f"{name}{i}" for i in range(count))
        assert r.stdout == f"/big/{last}\n/big\n/big/{name}0\n"
        assert r.exit_code == 0
