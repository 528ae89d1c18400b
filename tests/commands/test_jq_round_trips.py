"""A jq call that runs in a helper sends its program with its first input: one write and one
wakeup of the helper, not a compile round trip and then a run. A program that does not compile
is still reported first and alone, with jq's message and status 3, whatever the inputs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.commands import _jq_engine

#: rejected by the in-process screen (``def``), so it always runs in a helper
HELPER_PROGRAM = "def f: .a; [f, f]"
BAD = "def f: .a; f("


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        v.write_file("/tmp/a.json", b'{"a": 1}\n{"a": 2}\n')
        yield v


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[list[bytes]]:
    sent: list[list[bytes]] = []
    real = _jq_engine._Helper.send

    def send(self: _jq_engine._Helper, op: bytes, payload: bytes = b"", *more: bytes) -> None:
        sent.append([op, *more[::2]])
        real(self, op, payload, *more)

    monkeypatch.setattr(_jq_engine._Helper, "send", send)
    return sent


@pytest.mark.parametrize(
    ("script", "op"),
    [("jq -c '%s' /tmp/a.json", b"T"), ("jq -c '%s' < /tmp/a.json", b"R")],
    ids=["file", "stdin"],
)
def test_a_helper_call_is_one_write(
    vm: VM, writes: list[list[bytes]], script: str, op: bytes
) -> None:
    for _ in range(2):
        writes.clear()
        r = vm.exec(script % HELPER_PROGRAM)
        assert (r.exit_code, r.stdout, r.stderr) == (0, "[1,1]\n[2,2]\n", ""), r
        assert writes == [[b"P", op]]


def _compile_error(vm: VM) -> str:
    r = vm.exec(f"jq -n '{BAD}'")  # -n: compiled before any input, in its own round trip
    assert r.exit_code == 3 and r.stdout == ""
    assert "compile error" in r.stderr
    return r.stderr


@pytest.mark.parametrize(
    "script",
    [
        "jq '%s' /tmp/a.json",
        "jq '%s' < /tmp/a.json",
        "jq '%s' /tmp/missing.json /tmp/a.json",
        "jq '%s' /tmp/a.json /tmp/missing.json",
        "jq '%s' < /dev/null",
        "echo '{' | jq '%s'",
        "jq '%s' /dev/null",
    ],
)
def test_a_compile_error_is_reported_first_and_alone(vm: VM, script: str) -> None:
    expected = _compile_error(vm)
    r = vm.exec(script % BAD)
    assert (r.exit_code, r.stdout, r.stderr) == (3, "", expected)
    # the helper that dropped the run sent with the bad program serves the next call
    r = vm.exec(f"jq -c '{HELPER_PROGRAM}' /tmp/a.json")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "[1,1]\n[2,2]\n", ""), r


def test_input_errors_after_a_good_program_still_read_the_other_files(vm: VM) -> None:
    r = vm.exec(f"jq -c '{HELPER_PROGRAM}' /tmp/missing.json /tmp/a.json")
    assert r.exit_code == 2
    assert r.stdout == "[1,1]\n[2,2]\n"
    assert r.stderr == "jq: error: Could not open /tmp/missing.json: No such file or directory\n"
