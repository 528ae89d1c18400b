"""The heavy sandbox: real host programs over the VM's live filesystem, policy and network.

``await sandbox_run(kernel, argv, ...)`` runs one program under bubblewrap with the VM's tree
served over FUSE (every file operation is a VM operation under the VM's policy and audit), no
network but the VM's gateway, and limits on time, memory and processes. Running anything
needs the ``sandbox.run`` permission for the program's name; see docs/sandbox.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pocketos.kernel.streams import InputStream
from pocketos.sandbox.runtime import (
    SandboxOptions,
    SandboxProcess,
    SandboxUnavailable,
    run_sandboxed,
    unavailable_reason,
)

__all__ = [
    "SandboxOptions",
    "SandboxProcess",
    "SandboxUnavailable",
    "check_sandbox",
    "run_sandboxed",
    "sandbox_run",
    "unavailable_reason",
]


def check_sandbox(kernel: Any, argv: list[str], pid: int | None = None) -> None:
    """Raise PermissionError naming ``sandbox.run`` unless the policy lets ``argv`` run in a
    sandbox (the rules name programs: ``git``, ``npm``, ``/usr/bin/python3``, ``*``)."""
    if not argv:
        raise ValueError("sandbox needs a program to run")
    kernel.check("sandbox", "run", argv[0], pid=pid, argv=list(argv[:16]))


async def sandbox_run(
    kernel: Any,
    argv: list[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdin: InputStream | bytes | None = None,
    stdout: Callable[[bytes], Awaitable[None]],
    stderr: Callable[[bytes], Awaitable[None]],
    options: SandboxOptions | None = None,
    pid: int | None = None,
) -> int:
    """Check the policy, record the run in the audit log and run ``argv`` sandboxed."""
    check_sandbox(kernel, argv, pid)
    opts = options or SandboxOptions()
    kernel.audit.record(
        "process",
        capability="sandbox.run",
        resource=argv[0],
        decision="allow",
        pid=pid,
        argv=list(argv[:16]),
    )
    code = await run_sandboxed(
        kernel,
        argv,
        cwd=cwd,
        env=kernel.filter_env(dict(env)),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        options=opts,
        pid=pid,
    )
    kernel.audit.record(
        "process", capability="sandbox.exit", resource=argv[0], decision="exited", exit_code=code
    )
    return code
