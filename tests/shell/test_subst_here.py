"""``$( )`` bodies the shell runs without a subshell copy: what each stage is asked once, and
that the answers stay bash's (the outputs below are real bash's)."""

from __future__ import annotations

from typing import Any

import pytest

from pocketos import VM
from pocketos.shell.interp import Shell


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """The (command name, writer) of every ``here_builtin`` question the shell asks."""
    calls: list[tuple[str, bool]] = []
    real = Shell.here_builtin

    def spy(self: Shell, cmd: Any, writer: bool) -> Any:
        calls.append((cmd.words[0].simple, writer))
        return real(self, cmd, writer)

    monkeypatch.setattr(Shell, "here_builtin", spy)
    return calls


def test_a_writer_pipeline_asks_about_each_stage_once(asked: list[tuple[str, bool]]) -> None:
    with VM() as vm:
        r = vm.exec("x=$(printf '%s' 1203 | tr 0-9 a-j); echo $x ${PIPESTATUS[@]}")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "bcad 0\n", "")
    assert sorted(asked) == [("printf", True), ("tr", False)]


def test_one_command_is_asked_about_once(asked: list[tuple[str, bool]]) -> None:
    with VM() as vm:
        vm.write_file("/d/f", b"a\nb\n", parents=True)
        r = vm.exec('x=$(wc -l < /d/f); y="$(echo $x)"; echo "$x/$y"')
    assert (r.exit_code, r.stdout) == (0, "2/2\n")
    assert asked == [("wc", True), ("echo", True)]


@pytest.mark.parametrize(
    ("script", "out"),
    [
        # a function or an alias named like the reader stage runs instead of the program
        ("tr() { echo fn; }; x=$(printf 1 | tr 1 2); echo $x", "fn\n"),
        (
            "shopt -s expand_aliases; alias tr='echo al'\nx=$(printf 1 | tr 1 2); echo $x",
            "al 1 2\n",
        ),
        # a builtin reader stage runs in a subshell: its variables stay there
        ("x=$(printf 1 | read v; echo ${v-unset}); echo $x", "unset\n"),
        # the quoted and unquoted forms give the same value; $? is the substitution's
        ('x="$(printf "a  b" | tr a c)"; echo "$x" $?', "c  b 0\n"),
        ("x=$(printf 1 | false); echo $?", "1\n"),
        ("set -o pipefail; x=$(false | tr a b); echo $?", "1\n"),
    ],
)
def test_reader_stages_keep_bashs_answers(script: str, out: str) -> None:
    with VM() as vm:
        r = vm.exec(script)
    assert (r.stdout, r.stderr) == (out, "")


def test_a_command_under_job_control_runs_as_a_job_and_ends() -> None:
    with VM() as vm:
        vm.write_file("/d/f", b"a\n", parents=True)
        r = vm.exec("set -m; wc -l < /d/f; x=$(wc -l < /d/f); echo $x; cat /d/f | wc -l")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "1\n1\n1\n", "")
