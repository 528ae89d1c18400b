"""Persistent shells: one interpreter whose variables, functions, cwd, traps and jobs survive
across ``run()`` calls — what an agent's terminal is."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pocketos._loop import run_sync
from pocketos.kernel.budget import Budget
from pocketos.kernel.streams import BytesSink, BytesSource, InputStream, OutputStream

if TYPE_CHECKING:
    from pocketos.vm import AsyncVM, ExecResult

__all__ = ["ShellElsewhere", "ShellSession", "SyncShellSession"]


class _SwitchOut(OutputStream):
    """An output whose target changes per run (the shell keeps one stream object)."""

    def __init__(self) -> None:
        self.target: OutputStream = BytesSink()

    async def write(self, data: bytes) -> None:
        await self.target.write(data)


class _SwitchIn(InputStream):
    def __init__(self) -> None:
        self.source: InputStream = BytesSource(b"")

    async def read(self, n: int = -1) -> bytes:
        return await self.source.read(n)

    async def readuntil(self, sep: bytes) -> bytes:
        return await self.source.readuntil(sep)


class ShellElsewhere:
    """The host's side of a persistent shell that runs elsewhere (a VM's worker, a server),
    with the surface of :class:`ShellSession`: its cwd and whether it exited, as of the last
    run, whose output arrives whole when the run ends."""

    def __init__(self, cwd: str) -> None:
        self._cwd = cwd
        self._exited = False
        self.closed = False

    @property
    def cwd(self) -> str:
        return self._cwd

    @property
    def exited(self) -> bool:
        return self._exited

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("shell is closed")

    def _ran(
        self,
        reply: Mapping[str, Any],
        out: bytes,
        err: bytes,
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> None:
        """After a run: hand its output to the callbacks and keep the shell's new state."""
        if on_stdout is not None and out:
            on_stdout(out)
        if on_stderr is not None and err:
            on_stderr(err)
        if isinstance(reply.get("cwd"), str):
            self._cwd = reply["cwd"]
        self._exited = bool(reply.get("exited"))


class ShellSession:
    def __init__(
        self, vm: AsyncVM, *, env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        from pocketos.shell.interp import Shell

        self.vm = vm
        self._out = _SwitchOut()
        self._err = _SwitchOut()
        self._in = _SwitchIn()
        self.budget = Budget(vm.limits)
        self.ctx = vm._root_ctx(
            env=env,
            cwd=cwd,
            stdin=self._in,
            stdout=self._out,
            stderr=self._err,
            budget=self.budget,
            argv=["bash"],
        )
        self.shell = Shell(self.ctx, argv0="bash")
        self.shell.keep_alive = True  # the EXIT trap and job cleanup wait for close()
        self.closed = False

    @property
    def cwd(self) -> str:
        return str(getattr(self.shell, "cwd", self.ctx.cwd))

    @property
    def exited(self) -> bool:
        """True once the script ran ``exit`` (the shell is over)."""
        return bool(getattr(self.shell, "exited", False))

    async def run(
        self,
        script: str,
        *,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
    ) -> ExecResult:
        from pocketos.vm import ExecResult
        from pocketos.vm_api import to_bytes as _b

        if self.closed:
            raise RuntimeError("shell is closed")
        lim = self.vm.limits
        t = timeout if timeout is not None else lim.timeout
        fresh = Budget(lim, t)
        # the context keeps its budget object; reset its counters for this run
        b = self.ctx.budget
        b.commands = b.loop_iterations = b.output_bytes = 0
        b.network_requests = b.network_bytes = 0
        b.deadline = fresh.deadline
        b.timeout = fresh.timeout
        b.limit_hit = None
        out, err = self.vm._sinks(b, on_stdout, on_stderr)
        self._out.target, self._err.target = out, err
        self._in.source = BytesSource(_b(stdin) if stdin is not None else b"")
        start = time.perf_counter()
        code, hit = await self.vm._run_with_limits(self.shell.run(script), b, t, err, None)
        return ExecResult(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, hit)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        status = self.shell.last_status
        try:
            status = await self.shell.close()
        finally:
            info = self.ctx.info
            if info is not None and info.status == "running":
                self.vm.kernel.end_process(info, status)

    def close(self) -> None:
        run_sync(self.aclose())


class SyncShellSession:
    def __init__(self, inner: ShellSession) -> None:
        self.inner = inner

    @property
    def cwd(self) -> str:
        return self.inner.cwd

    def run(self, script: str, **kw: Any) -> ExecResult:
        return run_sync(self.inner.run(script, **kw))

    def close(self) -> None:
        run_sync(self.inner.aclose())

    def __enter__(self) -> SyncShellSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
