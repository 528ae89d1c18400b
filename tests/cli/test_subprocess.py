"""``python -m pocketos`` as a real program: every subcommand once, started together (each start
imports pocketos afresh, so they run side by side to keep the suite quick)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketos import __version__
from tests.cli.conftest import spawn


@dataclass
class Done:
    status: int
    out: bytes
    err: bytes


def _cases(tmp: Path) -> dict[str, tuple[list[str], bytes]]:
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "data.txt").write_text("a\nb\n")
    script = tmp / "job.sh"
    script.write_text('echo "job $1"; wc -l < /proj/data.txt; echo oops >&2; exit 6\n')
    policy = tmp / "policy.toml"
    policy.write_text('fs = "allow"\nchild_process = "deny"\n')
    return {
        "version": (["version"], b""),
        "exec": (
            [
                "exec",
                "--env",
                "A=1",
                "--cwd",
                "/w",
                'echo "$A $1 $(pwd)"; cat; echo e >&2; exit 3',
                "arg1",
            ],
            b"in\n",
        ),
        "run": (["run", "--mount", f"{proj}:/proj", str(script), "X"], b""),
        "bad-mount": (["exec", "--mount", "x", "true"], b""),
        "export": (
            ["snapshot", "export", str(tmp / "s.snap"), "--exec", "echo kept > /tmp/k"],
            b"",
        ),
        "shell": (["shell", "--persist", str(tmp / "sh.snap")], b"cd /tmp\nx=4\necho $x $PWD\n"),
        "agent": (["agent", "--help"], b""),
        "bench": (["bench", "--help"], b""),
        "unknown": (["nope"], b""),
    }


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    tmp = tmp_path_factory.mktemp("cli")
    home = tmp / "home"
    home.mkdir()
    cases = _cases(tmp)
    procs = {name: (spawn(argv, home), stdin) for name, (argv, stdin) in cases.items()}
    results: dict[str, Done] = {}
    for name, (p, stdin) in procs.items():
        try:
            out, err = p.communicate(stdin, timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results[name] = Done(p.returncode, out, err)
    # the second wave needs the snapshots the first one wrote
    second = {
        "from-snapshot": (["exec", "--from-snapshot", str(tmp / "s.snap"), "cat /tmp/k"], b""),
        "inspect": (["snapshot", "inspect", "--json", str(tmp / "s.snap")], b""),
    }
    procs = {name: (spawn(argv, home), stdin) for name, (argv, stdin) in second.items()}
    for name, (p, stdin) in procs.items():
        out, err = p.communicate(stdin, timeout=120)
        results[name] = Done(p.returncode, out, err)
    return results


def test_version(done: dict[str, Done]) -> None:
    d = done["version"]
    assert (d.status, d.out, d.err) == (0, f"pocketos {__version__}\n".encode(), b"")


def test_exec(done: dict[str, Done]) -> None:
    d = done["exec"]
    assert (d.status, d.out, d.err) == (3, b"1 arg1 /w\nin\n", b"e\n")


def test_run_with_mount(done: dict[str, Done]) -> None:
    d = done["run"]
    assert (d.status, d.out, d.err) == (6, b"job X\n2\n", b"oops\n")


@pytest.mark.parametrize(
    "name, status, err",
    [
        (
            "bad-mount",
            2,
            b"pocketos: error: bad mount spec 'x': expected HOST:GUEST[:ro|rw|overlay]\n",
        ),
    ],
)
def test_errors_are_one_line(done: dict[str, Done], name: str, status: int, err: bytes) -> None:
    d = done[name]
    assert (d.status, d.out, d.err) == (status, b"", err)


def test_an_unknown_command_is_one_line_naming_the_choices(done: dict[str, Done]) -> None:
    d = done["unknown"]
    assert (d.status, d.out) == (2, b"")
    assert d.err.startswith(
        b"pocketos: error: argument COMMAND: invalid choice: 'nope' (choose from "
    )
    assert d.err.endswith(b"(see 'pocketos --help')\n")
    assert d.err.count(b"\n") == 1
    for name in (b"'shell'", b"'exec'", b"'run'", b"'snapshot'", b"'agent'", b"'version'"):
        assert name in d.err


def test_snapshot_roundtrip(done: dict[str, Done]) -> None:
    assert done["export"].status == 0, done["export"].err
    assert (done["from-snapshot"].status, done["from-snapshot"].out) == (0, b"kept\n")
    info = json.loads(done["inspect"].out)
    assert (info["format"], info["version"], info["root"]) == ("pocketos-snapshot", 1, "/")


def test_shell_persist(done: dict[str, Done]) -> None:
    d = done["shell"]
    assert (d.status, d.out, d.err) == (0, b"4 /tmp\n", b"")


def test_bench_help(done: dict[str, Done]) -> None:
    d = done["bench"]
    assert d.status == 0 and d.out.startswith(b"usage: pocketos bench")


def test_agent(done: dict[str, Done]) -> None:
    d = done["agent"]
    assert b"Traceback" not in d.err
    if importlib.util.find_spec("pocketos.agent.cli") is None:
        assert (d.status, d.err) == (
            1,
            b"pocketos: error: the pocketos agent is not available "
            b"in this installation (pocketos.agent.cli is missing)\n",
        )
    else:  # delegated: the agent's own help
        assert d.status == 0 and d.out
