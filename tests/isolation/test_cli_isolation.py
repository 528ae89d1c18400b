"""``pocketos exec/run --isolation process``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import call


def test_exec_in_a_worker_process() -> None:
    r = call(["exec", "--isolation", "process", "echo out; cat; echo err >&2; exit 3"], b"in\n")
    assert (r.status, r.stdout, r.stderr) == (3, "out\nin\n", "err\n")


def test_exec_json_reports_the_limit_that_killed_the_worker() -> None:
    r = call(
        ["exec", "--isolation", "process", "--json", "--timeout", "0.5", "jq -n 'def f: f; f'"]
    )
    d = json.loads(r.stdout)
    assert (r.status, d["exit_code"], d["limit_hit"]) == (124, 124, "timeout")


def test_run_with_a_host_mount(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("host data\n")
    script = tmp_path / "s.sh"
    script.write_text('cat /data/data.txt; echo "$1" > /out/arg\n')
    out = tmp_path / "out"
    out.mkdir()
    r = call(
        [
            "run",
            "--isolation",
            "process",
            "--mount",
            f"{tmp_path}:/data",
            "--mount",
            f"{out}:/out:rw",
            str(script),
            "x",
        ]
    )
    assert (r.status, r.stdout, r.stderr) == (0, "host data\n", "")
    assert (out / "arg").read_text() == "x\n"


def test_unknown_isolation_is_a_usage_error() -> None:
    r = call(["exec", "--isolation", "vm", "true"])
    assert r.status == 2 and "--isolation" in r.stderr
