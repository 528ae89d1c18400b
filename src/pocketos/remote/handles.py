"""What a remote VM's client holds on the server by handle: a persistent shell
(``vm.shell()``), a Python interpreter (``vm.python()``) and a background process
(``vm.spawn()``), each with the surface of its local twin.

A shell or interpreter is one request per ``run``; a process is one WebSocket for its life
(output frames in, stdin and signals out). The server closes all of them with the VM.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from pocketos._loop import run_sync
from pocketos.remote.errors import frame_status, raise_for
from pocketos.shell.session import ShellElsewhere
from pocketos.vm_api import ExecResult, to_bytes
from pocketos.vm_processes import PumpedProcess

__all__ = ["AsyncRemoteShell", "AsyncRemotePython", "HandlesMixin", "RemoteProcess"]


def _stdin_field(stdin: str | bytes | None) -> dict[str, Any]:
    if stdin is None:
        return {}
    return {"stdin_base64": base64.b64encode(to_bytes(stdin)).decode()}


def exec_result(d: dict[str, Any]) -> ExecResult:
    """An exec result as the server sends it (``encoding: base64``)."""
    return ExecResult(
        int(d["exit_code"]),
        base64.b64decode(d.get("stdout_base64", "")),
        base64.b64decode(d.get("stderr_base64", "")),
        float(d.get("duration") or 0.0),
        d.get("limit_hit"),
    )


class AsyncRemoteShell(ShellElsewhere):
    """A shell kept on the server: variables, functions, cwd and traps persist across runs."""

    def __init__(self, vm: Any, env: Mapping[str, str] | None, cwd: str | None) -> None:
        self.vm = vm
        body = {k: v for k, v in (("env", dict(env or {}) or None), ("cwd", cwd)) if v}
        d = vm.conn.request("POST", f"{vm._base}/shells", json=body, vm_path=cwd).json()
        super().__init__(str(d.get("cwd") or cwd or ""))
        self.id: str = d["id"]

    async def run(
        self,
        script: str,
        *,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
    ) -> ExecResult:
        self._check_open()
        if not isinstance(script, str):
            raise TypeError(f"script must be str, not {type(script).__name__}")
        body: dict[str, Any] = {"script": script, "encoding": "base64", **_stdin_field(stdin)}
        if timeout is not None:
            body["timeout"] = timeout
        r = await self.vm.conn.arequest(
            "POST", f"{self.vm._base}/shells/{quote(self.id)}/run", json=body
        )
        d = r.json()
        res = exec_result(d)
        # the output comes whole at the end (a shell run is one request)
        self._ran(d, res.stdout_bytes, res.stderr_bytes, on_stdout, on_stderr)
        return res

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.vm.closed:
            with contextlib.suppress(Exception):
                self.vm.conn.request("DELETE", f"{self.vm._base}/shells/{quote(self.id)}")


class AsyncRemotePython:
    """A Python interpreter kept on the server: ``await py.run(code)`` like a notebook cell."""

    def __init__(self, vm: Any, env: Mapping[str, str] | None, cwd: str | None) -> None:
        self.vm = vm
        body = {k: v for k, v in (("env", dict(env or {}) or None), ("cwd", cwd)) if v}
        self.id: str = vm.conn.request("POST", f"{vm._base}/pythons", json=body).json()["id"]
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def run(self, code: str) -> Any:
        from pocketos.wasm.session import PyResult, SessionClosed

        if self._closed:
            raise SessionClosed("the interpreter is closed")
        r = await self.vm.conn.arequest(
            "POST", f"{self.vm._base}/pythons/{quote(self.id)}/run", json={"code": code}
        )
        d = r.json()
        out, err = str(d.get("stdout", "")), str(d.get("stderr", ""))
        return PyResult(out, err, d.get("value"), d.get("error"), out.encode(), err.encode())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.vm.closed:
            with contextlib.suppress(Exception):
                await self.vm.conn.arequest("DELETE", f"{self.vm._base}/pythons/{quote(self.id)}")

    async def __aenter__(self) -> AsyncRemotePython:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RemoteProcess(PumpedProcess):
    """A process started with ``spawn`` on the server, with the surface of
    :class:`pocketos.vm.Process`: ``stdout``/``stderr`` readers, ``write``, ``close_stdin``,
    ``wait``, ``kill``, ``exit_code``."""

    def __init__(self, vm: Any, ws: Any, pid: int, writable: bool) -> None:
        self.vm = vm
        self._ws = ws
        self._sends: set[asyncio.Task[None]] = set()
        super().__init__(pid, writable)

    @classmethod
    async def start(
        cls,
        vm: Any,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> RemoteProcess:
        from websockets.asyncio.client import connect

        body: dict[str, Any] = {"argv": [str(a) for a in argv], **_stdin_field(stdin)}
        if env is not None:
            body["env"] = dict(env)
        if cwd is not None:
            body["cwd"] = cwd
        if limits is not None:
            body["limits"] = dict(limits)
        url = f"{vm.conn.ws_url}{vm._base}/processes/ws"
        ws = await connect(url, additional_headers=vm.conn.headers, max_size=None)
        try:
            await ws.send(json.dumps(body))
            first = json.loads(await ws.recv())
            if first.get("type") != "started":
                raise_for(frame_status(first), first)
                raise ConnectionError(f"unexpected frame from the server: {first!r}")
        except BaseException:
            await ws.close()
            raise
        return cls(vm, ws, int(first["pid"]), stdin is None)

    async def _pull(self) -> int:
        async for raw in self._ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind in ("stdout", "stderr"):
                data = base64.b64decode(frame.get("data", ""))
                await (self.stdout if kind == "stdout" else self.stderr).write(data)
            elif kind == "exit":
                return int(frame["exit_code"])
        return 1

    async def _lost(self, exc: Exception) -> int:
        # the connection broke: the server kills the process
        await self.stderr.write(f"pocketos: lost the server: {exc}\n".encode())
        return 137

    async def _ended(self) -> None:
        for t in list(self._sends):
            t.cancel()
        with contextlib.suppress(Exception):
            await self._ws.close()

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.task.done():
            return
        with contextlib.suppress(Exception):
            await self._ws.send(json.dumps(frame))

    async def _input(self, data: bytes) -> None:
        await self._send({"type": "stdin", "data": base64.b64encode(data).decode()})

    def close_stdin(self) -> None:
        if not self._writable:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # from sync code (``RemoteVM.spawn``): the loop it runs on
            run_sync(self._send({"type": "close_stdin"}))
            return
        # sent after every write already awaited; the pump's end waits for it
        t = asyncio.ensure_future(self._send({"type": "close_stdin"}))
        self._sends.add(t)
        t.add_done_callback(self._sends.discard)

    def kill(self, sig: int | str = "KILL") -> None:
        self.vm.kill(self.pid, sig)


class HandlesMixin:
    """``spawn``/``wait``/``kill``, ``python()`` and ``shell()`` of a remote VM."""

    conn: Any
    _base: str
    closed: bool

    def _alive(self) -> None:
        raise NotImplementedError

    @property
    def _spawned(self) -> dict[int, RemoteProcess]:
        d: dict[int, RemoteProcess] | None = self.__dict__.get("_spawned_by_pid")
        if d is None:
            d = self.__dict__["_spawned_by_pid"] = {}
        return d

    async def spawn(
        self,
        argv: list[str],
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> RemoteProcess:
        """Start a command in the background, like ``AsyncVM.spawn`` (``stdin=None`` gives a
        writable pipe)."""
        self._alive()
        if not argv:
            raise ValueError("argv must not be empty")
        p = await RemoteProcess.start(
            self, list(argv), stdin=stdin, env=env, cwd=cwd, limits=limits
        )
        done = [pid for pid, q in self._spawned.items() if q.task.done()]
        for pid in done:
            del self._spawned[pid]
        self._spawned[p.pid] = p
        return p

    def kill(self, pid: int, sig: int | str = "TERM") -> None:
        """Signal process ``pid`` of the VM (ProcessLookupError when there is none)."""
        self._alive()
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise TypeError(f"pid must be int, not {type(pid).__name__}")
        self.conn.request("POST", f"{self._base}/processes/{pid}/kill", json={"signal": sig})

    async def wait(self, pid: int, timeout: float | None = None) -> int:
        """The exit status of process ``pid`` once it ends (TimeoutError after ``timeout``)."""
        from pocketos.remote.errors import RemoteError

        self._alive()
        mine = self._spawned.get(pid)
        if mine is not None:
            return await mine.wait(timeout)
        body = {} if timeout is None else {"timeout": timeout}
        try:
            r = await self.conn.arequest("POST", f"{self._base}/processes/{pid}/wait", json=body)
        except RemoteError as exc:
            if exc.status == 408:
                raise TimeoutError(exc.message) from None
            raise
        return int(r.json()["exit_code"])

    def list_processes(self) -> list[dict[str, Any]]:
        self._alive()
        return list(self.conn.request("GET", f"{self._base}/processes").json()["processes"])

    def python(
        self, *, cwd: str | None = None, env: Mapping[str, str] | None = None
    ) -> AsyncRemotePython:
        """A persistent Python interpreter on the server (``await py.run(code)``)."""
        self._alive()
        return AsyncRemotePython(self, env, cwd)

    def shell(
        self, *, env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> AsyncRemoteShell:
        """A persistent shell on the server: state persists across ``run()``."""
        self._alive()
        return AsyncRemoteShell(self, env, cwd)
