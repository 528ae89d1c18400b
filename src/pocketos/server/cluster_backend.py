"""``pocketos serve --cluster ADDRESS``: the server's VMs live on a Ray cluster of VM hosts
(docs/scale-out.md) instead of in the server process, behind the same HTTP API.

:class:`ClusterVM` gives a cluster handle the shape the registry and the routes use for a
VM: awaitable ``exec``/``run``, plain file calls (the registry runs them in a thread), ``save``,
``aclose``. Output is sent when an exec ends, not streamed. Agent sessions and terminals need
the VM in the server process and answer 501 here.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

from pocketos._loop import run_sync
from pocketos.kernel.limits import Limits
from pocketos.server.errors import ApiError

__all__ = ["ClusterVM", "open_cluster"]


def open_cluster(address: str, store: str | None) -> Any:
    """Join (or start, for ``"local"``) the cluster the server's VMs run on."""
    try:
        from pocketos.cluster import Cluster
        from pocketos.errors import PocketOSError

        return Cluster(None if address == "local" else address, store=store)
    except PocketOSError as exc:
        raise ApiError(503, "no_cluster", str(exc)) from None


class ClusterVM:
    """A VM on a cluster host, as the server sees VMs."""

    def __init__(self, handle: Any, limits: Any) -> None:
        self.handle = handle
        self.limits = Limits().merged(limits) if not isinstance(limits, Limits) else limits
        self._durable = SimpleNamespace(autosave=True) if handle.durable else None
        self.closed = False

    @property
    def id(self) -> str:
        return self.handle.id

    async def _exec(self, method: str, what: Any, on_stdout: Any, on_stderr: Any, **kw: Any) -> Any:
        res = await self.handle.call(method, what, **kw)
        for sink, data in ((on_stdout, res.stdout_bytes), (on_stderr, res.stderr_bytes)):
            if sink is not None and data:
                out = sink(data)
                if inspect.isawaitable(out):
                    await out
        return res

    async def exec(
        self, script: str, *, on_stdout: Any = None, on_stderr: Any = None, **kw: Any
    ) -> Any:
        return await self._exec("exec", script, on_stdout, on_stderr, **kw)

    async def run(
        self, argv: list[str], *, on_stdout: Any = None, on_stderr: Any = None, **kw: Any
    ) -> Any:
        return await self._exec("run", argv, on_stdout, on_stderr, **kw)

    def save(self, message: str = "") -> Any:
        return self.handle.call_sync("save", message)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            save = self._durable is None or self._durable.autosave
            await self.handle.close(save=save)

    def close(self) -> None:
        run_sync(self.aclose())

    def __getattr__(self, name: str) -> Any:
        from pocketos.cluster.host import READS, WRITES

        if name.startswith("_"):
            raise AttributeError(name)
        if name in READS or name in WRITES:
            handle = self.handle

            def call(*args: Any, **kwargs: Any) -> Any:
                return handle.call_sync(name, *args, **kwargs)

            return call
        raise ApiError(
            501, "not_supported", f"{name} is not available for a VM on a cluster (serve --cluster)"
        )
