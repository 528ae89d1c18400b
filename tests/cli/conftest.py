"""Helpers for the command-line tests: run ``pocketos.cli.main`` in-process with given stdin, and
run ``python -m pocketos`` in a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketos import cli

SRC = str(Path(__file__).resolve().parents[2] / "src")


@dataclass
class Ran:
    status: int
    out: bytes
    err: bytes

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")


class _Std(io.TextIOWrapper):
    """A text stream over bytes that never claims to be a terminal."""

    def isatty(self) -> bool:
        return False


def call(argv: list[str], stdin: bytes = b"") -> Ran:
    """Run the CLI in this process with ``stdin`` and capture its output as bytes."""
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    streams = (
        _Std(io.BytesIO(stdin), encoding="utf-8"),
        _Std(out, encoding="utf-8", write_through=True),
        _Std(err, encoding="utf-8", write_through=True),
    )
    sys.stdin, sys.stdout, sys.stderr = streams
    try:
        status = cli.main(argv)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for s in streams:
            s.flush()
            s.detach()
    return Ran(status, out.getvalue(), err.getvalue())


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POCKETOS_", "XDG_"))}
    env.update({"HOME": str(home), "PYTHONPATH": SRC, "TERM": "dumb"})
    if "POCKETOS_CACHE" in os.environ:
        env["POCKETOS_CACHE"] = os.environ["POCKETOS_CACHE"]
    env.update(extra)
    return env


def spawn(
    args: list[str], home: Path, stdin: bytes | None = b"", cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python -m pocketos ARGS``; read it with ``finish``."""
    return subprocess.Popen(
        [sys.executable, "-m", "pocketos", *args],
        cwd=cwd or home,
        env=child_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (and XDG_DATA_HOME) so that named VMs and history stay in the test."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    return h
