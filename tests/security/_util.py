"""Shared pieces of the security suite: markers, host-tree digests and output checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tests._own_process import peak_while

#: text that must never appear in anything a VM prints
HOST_MARKER = "HOSTMARK-7c1e9a52"
SECRET_MARKER = "POLICYSECRET-3b8f04d1"

#: words that betray an escaped Python exception
CRASH_WORDS = ("Traceback (most recent call last)", "internal error")


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root`` (without following links) -> a digest of what it is."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = f"dir:{st.st_mode:o}"
            else:
                with open(p, "rb") as fh:
                    out[rel] = f"file:{st.st_mode:o}:" + hashlib.sha256(fh.read()).hexdigest()
    return out


def text_of(r: Any) -> str:
    return r.stdout_bytes.decode("utf-8", "replace") + r.stderr_bytes.decode("utf-8", "replace")


def assert_no_crash(r: Any) -> None:
    """The run ended with an int status and no Python exception text."""
    assert isinstance(r.exit_code, int)
    err = r.stderr_bytes.decode("utf-8", "replace")
    for word in CRASH_WORDS:
        assert word not in err, err[-2000:]


def exec_traced(vm: Any, script: str, max_memory: int) -> tuple[Any, int]:
    """``vm.exec(script)`` under ``max_memory``, with how far the host's traced Python
    allocations grew while it ran, to check that a guest never grew the host past its limit.
    The test must be marked ``own_process`` (tests/_own_process.py)."""
    # the timeout only backs up a failure: tracemalloc makes the host many times slower
    return peak_while(lambda: vm.exec(script, timeout=600, limits={"max_memory": max_memory}))


def reset_peak_rss() -> bool:
    """Reset this process's peak resident size (``VmHWM``); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """This process's peak resident size in bytes since it started or was last reset."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
