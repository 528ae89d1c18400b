"""The Node side of the adapter: its own unit tests (`node --test`, no dependencies)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "integrations" / "paperclip"


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the adapter's Node tests cannot run")
    p = subprocess.run(
        [node, "--test", "test/"], cwd=PKG, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "# fail 0" in p.stdout
