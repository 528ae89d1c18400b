"""find and grep -r take each entry's metadata from its directory's listing instead of a lookup
per entry. The policy must still judge every entry as a lookup of it would: a denied subtree or
file is denied, reported and audited exactly as before, and an ``ask`` rule asks once per entry.

The oracle for find is find itself with an action that may change the tree (``-fprint``): it
then looks every entry up when it visits it, the way every walk did before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pocketos import VM
from tests.security._util import SECRET_MARKER

DENY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "deny", "paths": ["/w/secret/**", "/w/z/deny.txt"]}],
    },
    "child_process": "allow",
    "env": "allow",
}

ASK = {
    "fs": {
        "default": "allow",
        "rules": [
            {"mode": "ask", "operations": ["stat"], "paths": ["/w/secret/**", "/w/z/deny.txt"]}
        ],
    },
    "child_process": "allow",
    "env": "allow",
}


def _tree(setup: VM) -> None:
    setup.write_file("/w/a.txt", f"visible {SECRET_MARKER[:3]}\n", parents=True)
    setup.write_file("/w/secret/x", f"{SECRET_MARKER}\n", parents=True)
    setup.write_file("/w/secret/sub/y", f"{SECRET_MARKER}\n", parents=True)
    setup.write_file("/w/z/ok.txt", b"ok\n", parents=True)
    setup.write_file("/w/z/deny.txt", f"{SECRET_MARKER}\n", parents=True)
    setup.exec("ln -s /w/secret /w/l; ln -s z /w/zl")


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as setup:
        _tree(setup)
        with setup.fork(policy=DENY) as v:
            yield v


def _denials(vm: VM, before: int) -> list[tuple[str, str]]:
    events = vm.audit_log(kind="permission")[before:]
    return [(e.capability, e.resource) for e in events if e.decision == "deny"]


def _run(vm: VM, cmd: str) -> tuple[Any, list[tuple[str, str]]]:
    before = len(vm.audit_log(kind="permission"))
    r = vm.exec(cmd)
    return r, _denials(vm, before)


FINDS = [
    "find /w",
    "find /w -type f",
    "find /w -name '*.txt'",
    "find -L /w",
    "find /w -mindepth 1 -maxdepth 1",
    "find /w/z /w/secret -type f",
    "find -H /w/l /w/zl",
]


@pytest.mark.parametrize("cmd", FINDS)
def test_find_denies_and_audits_each_entry_as_a_lookup_does(vm: VM, cmd: str) -> None:
    fast, fast_denied = _run(vm, cmd)
    slow, slow_denied = _run(vm, f"{cmd} -fprint /tmp/listed; s=$?; cat /tmp/listed; exit $s")
    assert SECRET_MARKER not in fast.stdout + fast.stderr
    assert fast.stdout == slow.stdout
    assert fast.stderr == slow.stderr
    assert fast.exit_code == slow.exit_code
    assert fast_denied == slow_denied
    if "/w/secret" in cmd or cmd.startswith(("find /w", "find -L /w")):
        assert fast_denied, "the walk met no denied entry"


def test_find_reports_a_denied_directory_and_file() -> None:
    with VM() as setup:
        _tree(setup)
        with setup.fork(policy=DENY) as vm:
            r, denied = _run(vm, "find /w -type f")
    assert r.exit_code == 1
    assert r.stdout == "/w/a.txt\n/w/z/ok.txt\n"
    assert r.stderr == (
        "find: '/w/secret': Permission denied: fs.stat on /w/secret\n"
        "find: '/w/z/deny.txt': Permission denied: fs.stat on /w/z/deny.txt\n"
    )
    # the entry is judged when it is listed and again when the error is reported, as before
    assert denied == [("fs.stat", "/w/secret")] * 2 + [("fs.stat", "/w/z/deny.txt")] * 2


@pytest.mark.parametrize(
    ("cmd", "shown", "judged"),
    [
        ("grep -r visible /w", ["/w/secret", "/w/z/deny.txt"], ["/w/secret", "/w/z/deny.txt"]),
        ("grep -rl ok /w/z", ["/w/z/deny.txt"], ["/w/z/deny.txt"]),
        # -R follows the links to the denied directory and file: what is judged is the
        # resolved path
        (
            "grep -R visible /w",
            ["/w/l", "/w/secret", "/w/z/deny.txt", "/w/zl/deny.txt"],
            ["/w/secret", "/w/secret", "/w/z/deny.txt", "/w/z/deny.txt"],
        ),
    ],
)
def test_grep_r_denies_and_audits_each_entry_once(
    vm: VM, cmd: str, shown: list[str], judged: list[str]
) -> None:
    r, records = _run(vm, cmd)
    assert SECRET_MARKER not in r.stdout
    assert r.exit_code == 2
    assert records == [("fs.stat", p) for p in judged]
    assert r.stderr == "".join(
        f"grep: {p}: Permission denied: fs.stat on {j}\n"
        for p, j in zip(shown, judged, strict=True)
    )


def test_an_ask_rule_asks_once_per_entry_as_a_lookup_does() -> None:
    asked: list[str] = []

    def handler(req: Any) -> str:
        asked.append(f"{req.capability} {req.resource}")
        return "deny"

    with VM() as setup:
        _tree(setup)
        with setup.fork(policy=ASK, permission_handler=handler) as vm:
            fast = vm.exec("find /w")
            fast_asked = list(asked)
            asked.clear()
            slow = vm.exec("find /w -fprint /tmp/listed; s=$?; cat /tmp/listed; exit $s")
            slow_asked = list(asked)
            asked.clear()
            g = vm.exec("grep -r visible /w")
            grep_asked = list(asked)
    assert (fast.stdout, fast.stderr, fast.exit_code) == (slow.stdout, slow.stderr, 1)
    assert fast_asked == slow_asked
    assert "fs.stat /w/secret" in fast_asked and "fs.stat /w/z/deny.txt" in fast_asked
    assert grep_asked == ["fs.stat /w/secret", "fs.stat /w/z/deny.txt"]
    assert g.stdout.startswith("/w/a.txt:visible")
