"""The agent-style benchmark script (bench/agent_script.sh) prints exactly what real bash prints:
the benchmark times a script whose output is right, not one that fails early."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat import Case, assert_same, have

SCRIPT = Path(__file__).parents[2] / "bench" / "agent_script.sh"


@pytest.mark.skipif(
    not all(have(t) for t in ("bash", "jq", "tar", "awk", "sed")),
    reason="needs bash, jq, tar, awk and sed on the host",
)
def test_agent_script_prints_what_bash_prints() -> None:
    assert_same(Case(["bash", "-c", SCRIPT.read_text()], id="agent_script.sh"))
