"""Tests that measure the host's Python allocations with tracemalloc run in a pytest process of
their own, which starts tracemalloc before any thread exists and never stops it.

Why: on CPython before 3.12.9 / 3.13.2, ``tracemalloc.stop()`` frees the traceback buffer while
another thread may be inside tracemalloc's raw-allocator hook, waiting for the GIL; that thread
then writes through a NULL pointer (python/cpython#128679). wasmtime calls the guest's stdout
and stderr callbacks, and frees them, on its own tokio threads: each call enters Python through
``PyGILState_Ensure``, which allocates a thread state with the raw allocator, without the GIL.
So a test that stopped tracemalloc while a wasm guest wrote output, or while a closed
interpreter's streams were being dropped, killed the whole test run with SIGSEGV.

How: mark such a test ``@pytest.mark.own_process`` and measure with :func:`peak_while`. After
collection the parent runs the marked tests of each module in one child ``python -m pytest``
(``POCKETOS_OWN_PROCESS`` names the file the child writes its reports to), then reports the
child's results as its own, with the child's tracebacks. The child ends with ``os._exit``, so
Python's shutdown never stops tracemalloc either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

ENV = "POCKETOS_OWN_PROCESS"
MARK = "own_process"
#: a backstop for one module's child run; each test in it keeps its own pytest timeout
CHILD_TIMEOUT_S = 3600

T = TypeVar("T")

_reports: dict[str, list[Any]] = {}
_exit_status = 0


def in_own_process() -> bool:
    return bool(os.environ.get(ENV))


def peak_while(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the most the host's traced Python allocations grew while it ran."""
    if not in_own_process() or not tracemalloc.is_tracing():
        raise RuntimeError(
            "peak_while() needs @pytest.mark.own_process: stopping tracemalloc in a process "
            "that ran wasm can crash CPython (python/cpython#128679)"
        )
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = fn()
    return result, max(0, tracemalloc.get_traced_memory()[1] - before)


# --- the child ---------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARK}: run in a child pytest process that traces allocations (tests/_own_process.py)",
    )
    if in_own_process() and not tracemalloc.is_tracing():
        tracemalloc.start()  # before any thread of wasmtime's exists


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    config = _config
    assert config is not None
    data = config.hook.pytest_report_to_serializable(config=config, report=report)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(data) + "\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if in_own_process():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)  # Python's shutdown would stop tracemalloc


# --- the parent --------------------------------------------------------------------------------

_config: pytest.Config | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _config
    _config = session.config


def pytest_collection_finish(session: pytest.Session) -> None:
    if in_own_process() or session.config.option.collectonly:
        return
    groups: dict[Path, list[pytest.Item]] = {}
    for item in session.items:
        if item.get_closest_marker(MARK) is not None:
            groups.setdefault(item.path, []).append(item)
    for items in groups.values():
        _run_child(session.config, items)


def _run_child(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``items`` in child processes: one, and after a child that died, another for the
    tests it never reached (the one it died in fails with the child's output)."""
    pending = list(items)
    while pending:
        status, output = _child(config, [item.nodeid for item in pending])
        left = [i for i in pending if not any(r.when == "teardown" for r in _reports[i.nodeid])]
        if not left:
            return
        lost = left[0]
        _reports[lost.nodeid].append(_lost(lost, status, output))
        pending = left[1:]


def _child(config: pytest.Config, ids: list[str]) -> tuple[int | str, str]:
    """One child pytest process running ``ids``: its status and output; its reports are kept
    in ``_reports``."""
    fd, path = tempfile.mkstemp(prefix="pocketos-own-process-", suffix=".jsonl")
    os.close(fd)
    env = {**os.environ, ENV: path}
    args = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "-q", *ids]
    try:
        try:
            done = subprocess.run(
                args,
                cwd=str(config.rootpath),
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CHILD_TIMEOUT_S,
            )
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            status: int | str = done.returncode
        except subprocess.TimeoutExpired as e:
            output = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
            status = f"no end after {CHILD_TIMEOUT_S} s"
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    finally:
        os.unlink(path)
    for nodeid in ids:
        _reports[nodeid] = []
    for line in lines:
        report = config.hook.pytest_report_from_serializable(config=config, data=json.loads(line))
        if isinstance(report.longrepr, list):  # a skip's (path, line, reason), through JSON
            report.longrepr = tuple(report.longrepr)
        _reports.setdefault(report.nodeid, []).append(report)
    return status, output


def _lost(item: pytest.Item, status: int | str, output: str) -> pytest.TestReport:
    return pytest.TestReport(
        item.nodeid,
        item.location,
        {},
        "failed",
        f"the child pytest process ended (status {status}) in this test:\n" + output[-6000:],
        "call",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if in_own_process() or item.get_closest_marker(MARK) is None:
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _reports.pop(item.nodeid, []):
        item.ihook.pytest_runtest_logreport(report=report)
    # what earlier tests set up and the next one does not use is torn down here, as the
    # teardown of a test run in this process would
    call = pytest.CallInfo.from_call(
        lambda: item.session._setupstate.teardown_exact(nextitem), when="teardown"
    )
    if call.excinfo is not None:
        report = item.ihook.pytest_runtest_makereport(item=item, call=call)
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
