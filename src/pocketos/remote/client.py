"""``AsyncRemoteVM``: a VM on a ``pocketos serve`` server, with the API of :class:`AsyncVM`.

Change ``AsyncVM(...)`` to ``AsyncRemoteVM(url, token=..., ...)`` and the code keeps working:
``exec``/``run`` (streamed over a WebSocket when ``on_stdout``/``on_stderr`` are given), files,
snapshots, the audit log and agent sessions. As with a process VM, the file methods are plain
calls (each one a request) and ``exec``, ``run`` and sessions are awaited.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import posixpath
import stat as S
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from pocketos.kernel.audit import AuditEvent
from pocketos.kernel.fs.api import StatResult
from pocketos.remote.errors import RemoteError, RemoteNotSupported, raise_for
from pocketos.remote.handles import HandlesMixin, exec_result
from pocketos.vm_api import ExecResult, FileFront, to_bytes

__all__ = ["AsyncRemoteVM", "Connection"]

DEFAULT_TIMEOUT = 330.0  # a little over the VM's default exec timeout


class Connection:
    """The HTTP side: base URL, token, a sync client and an async client per event loop."""

    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the server URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.sync = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)
        self._async: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]

    def aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = httpx.AsyncClient(
                base_url=self.url, headers=self.headers, timeout=self.timeout
            )
            self._async_loop = loop
        return self._async

    def request(self, method: str, path: str, *, vm_path: str | None = None, **kw: Any) -> Any:
        r = self.sync.request(method, path, **kw)
        return _check(r, vm_path)

    async def arequest(
        self, method: str, path: str, *, vm_path: str | None = None, **kw: Any
    ) -> Any:
        r = await self.aclient().request(method, path, **kw)
        return _check(r, vm_path)

    def close(self) -> None:
        self.sync.close()
        client, self._async = self._async, None
        if client is not None and self._async_loop is not None:
            loop = self._async_loop
            if not loop.is_closed():
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    loop.create_task(client.aclose())
                elif not loop.is_running():
                    loop.run_until_complete(client.aclose())


def _check(r: httpx.Response, vm_path: str | None) -> Any:
    if r.status_code >= 400:
        try:
            body = r.json()
        except ValueError:
            body = None
        raise_for(r.status_code, body, vm_path)
    return r


def _q(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"path must be absolute: {path!r}")
    return quote(path.lstrip("/"), safe="/")


def _stat(d: dict[str, Any]) -> StatResult:
    return StatResult(
        st_mode=int(d["st_mode"]),
        st_ino=int(d.get("st_ino", 0)),
        st_dev=int(d.get("st_dev", 0)),
        st_nlink=int(d.get("nlink", 1)),
        st_uid=int(d.get("uid", 0)),
        st_gid=int(d.get("gid", 0)),
        st_size=int(d.get("size", 0)),
        st_atime_ns=int(d.get("st_atime_ns", 0)),
        st_mtime_ns=int(d.get("st_mtime_ns", 0)),
        st_ctime_ns=int(d.get("st_ctime_ns", 0)),
        st_birthtime_ns=int(d.get("st_ctime_ns", 0)),
    )


def _exec_body(script: str | None, argv: list[str] | None, kw: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"encoding": "base64"}
    if script is not None:
        body["script"] = script
    if argv is not None:
        body["argv"] = [str(a) for a in argv]
    stdin = kw.get("stdin")
    if stdin is not None:
        raw = stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else bytes(stdin)
        body["stdin_base64"] = base64.b64encode(raw).decode()
    for key in ("env", "cwd", "timeout", "args", "argv0"):
        if kw.get(key) is not None:
            body[key] = dict(kw[key]) if key == "env" else kw[key]
    limits = kw.get("limits")
    if limits is not None:
        import dataclasses

        from pocketos.kernel.limits import Limits

        body["limits"] = dataclasses.asdict(limits) if isinstance(limits, Limits) else dict(limits)
    unknown = set(kw) - {"stdin", "env", "cwd", "timeout", "args", "argv0", "limits"}
    if unknown:
        raise TypeError(f"exec() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    return body


class AsyncRemoteVM(FileFront, HandlesMixin):
    """A VM hosted by a pocketos server.

    ``AsyncRemoteVM(url, token=..., policy=..., limits=..., isolation=...)`` creates a VM there
    (closing it deletes it); ``AsyncRemoteVM(url, token=..., vm_id=ID)`` attaches to an existing
    one (closing it leaves it running). Other options are those of ``POST /v1/vms``.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        vm_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        self.conn = Connection(url, token, timeout)
        self.closed = False
        toolkits = options.pop("toolkits", None)
        self._tools: Any = None
        try:
            if vm_id is not None:
                if options:
                    raise TypeError("give create options or vm_id, not both")
                info = self.conn.request("GET", f"/v1/vms/{quote(vm_id)}").json()
                self.owned = False
            else:
                body = {k: v for k, v in options.items() if v is not None}
                info = self.conn.request("POST", "/v1/vms", json=body).json()
                self.owned = True
        except BaseException:
            self.conn.close()
            raise
        self.info: dict[str, Any] = info
        self._ws: Any = None
        self._ws_lock = threading.Lock()
        self._aws: Any = None
        self._aws_loop: asyncio.AbstractEventLoop | None = None
        self._aws_lock: asyncio.Lock | None = None
        self._id: str = info["id"]
        self._base = f"/v1/vms/{quote(self._id)}"
        if toolkits is not None:
            try:
                self.add_toolkits(toolkits)
            except BaseException:
                self.close()
                raise

    def add_toolkits(self, toolkits: Any) -> None:
        """Serve these host toolkits (``pocketos.tools.Toolkit``) to the VM: its commands and
        agents call them, the server's policy deciding each call, the functions running
        here. Calling again replaces the set served (same names keep their place)."""
        from pocketos.remote.tools import ToolServer

        self._alive()
        kits = list(toolkits)
        old, self._tools = self._tools, None
        if old is not None:
            kept = {k.name for k in kits}
            kits += [k for k in old.kits if k.name not in kept]
            old.close()
        self._tools = ToolServer(self, kits)

    @classmethod
    async def create(cls, url: str, **options: Any) -> AsyncRemoteVM:
        return await asyncio.to_thread(lambda: cls(url, **options))

    # --- identity and lifetime --------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def url(self) -> str:
        return self.conn.url

    @property
    def isolation(self) -> str:
        return str(self.info.get("isolation", ""))

    def _alive(self) -> None:
        if self.closed:
            raise RemoteError(0, "closed", "VM is closed")

    def close(self) -> None:
        """Delete the VM if this object created it; close the connection."""
        if self.closed:
            return
        self.closed = True
        self._close_sockets()
        tools, self._tools = self._tools, None
        if tools is not None:
            tools.close()
        try:
            if self.owned:
                try:
                    self.conn.request("DELETE", self._base)
                except RemoteError as exc:
                    if exc.status != 404:
                        raise
        finally:
            self.conn.close()

    async def aclose(self) -> None:
        if self.closed:
            return
        aws, self._aws = self._aws, None
        if aws is not None:
            await _quiet_close(aws.close())
        if self.owned:
            try:
                await self.conn.arequest("DELETE", self._base)
            except RemoteError as exc:
                if exc.status != 404:
                    raise
            self.owned = False
        self.close()

    async def __aenter__(self) -> AsyncRemoteVM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def describe(self) -> dict[str, Any]:
        """What the server says about this VM (mounts, limits, sessions ...)."""
        self._alive()
        info: dict[str, Any] = self.conn.request("GET", self._base).json()
        self.info = info
        return info

    def fork(self, **options: Any) -> AsyncRemoteVM:
        """A new VM on the server from this one's files (``policy``, ``limits``, ``env``,
        ``cwd`` may differ); closing it deletes it."""
        self._alive()
        d = self.conn.request("POST", f"{self._base}/fork", json=options).json()
        child = AsyncRemoteVM(self.conn.url, token=self.conn.token, vm_id=d["id"])
        child.owned = True
        return child

    def mount(
        self, path: str, name: str | None = None, *, mode: str | None = None, **spec: Any
    ) -> None:
        """Mount the server's host folder ``name`` (one its config names) at ``path``; a
        request may narrow the folder's mode, never widen it."""
        self._alive()
        if name is None or spec:
            raise RemoteNotSupported(
                501,
                "not_supported",
                "a remote VM mounts only the server's named host folders: mount(path, name)",
            )
        body = {"path": path, "name": name, **({"mode": mode} if mode else {})}
        self.conn.request("POST", f"{self._base}/mounts", json=body, vm_path=path)

    def mounts(self) -> list[dict[str, Any]]:
        return list(self.describe().get("mounts") or [])

    def save(self, message: str = "") -> Any:
        """Commit a durable VM's changes (the run, or None when nothing changed)."""
        self._alive()
        return self.conn.request("POST", f"{self._base}/save").json().get("run")

    # --- processes --------------------------------------------------------------------------
    async def exec(
        self,
        script: str,
        *,
        on_stdout: Callable[[bytes], Any] | None = None,
        on_stderr: Callable[[bytes], Any] | None = None,
        **kw: Any,
    ) -> Any:
        """Run ``script`` like ``AsyncVM.exec``; with ``on_stdout``/``on_stderr`` the output
        streams over a WebSocket as it is written."""
        self._alive()
        if not isinstance(script, str):
            raise TypeError(f"script must be str, not {type(script).__name__}")
        body = _exec_body(script, None, kw)
        return await self._exec_ws(body, on_stdout, on_stderr)

    async def run(self, argv: list[str], **kw: Any) -> Any:
        """Run one command without a shell, like ``AsyncVM.run``."""
        self._alive()
        if not argv:
            raise ValueError("argv must not be empty")
        body = _exec_body(None, list(argv), kw)
        r = await self.conn.arequest("POST", f"{self._base}/exec", json=body, vm_path=kw.get("cwd"))
        return exec_result(r.json())

    def exec_sync(self, script: str | None, argv: list[str] | None, **kw: Any) -> Any:
        """``exec``/``run`` without an event loop (what :class:`RemoteVM` uses)."""
        self._alive()
        on_out, on_err = kw.pop("on_stdout", None), kw.pop("on_stderr", None)
        body = _exec_body(script, argv, kw)
        if script is not None:
            return self._exec_ws_sync(body, on_out, on_err)
        r = self.conn.request("POST", f"{self._base}/exec", json=body, vm_path=kw.get("cwd"))
        return exec_result(r.json())

    # A script runs over one WebSocket kept open for the VM's lifetime (an exec is then one
    # frame each way, cheaper than an HTTP request); a socket that breaks mid-exec is dropped
    # and the error raised, since the script may have run.
    async def _exec_ws(
        self,
        body: dict[str, Any],
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> Any:
        from websockets.asyncio.client import connect

        loop = asyncio.get_running_loop()
        if self._aws_loop is not loop:
            self._aws, self._aws_loop, self._aws_lock = None, loop, asyncio.Lock()
        assert self._aws_lock is not None
        async with self._aws_lock:
            ex = _Exchange(body, on_stdout, on_stderr)
            if self._aws is None:
                url = f"{self.conn.ws_url}{self._base}/exec/ws"
                self._aws = await connect(url, additional_headers=self.conn.headers, max_size=None)
            ws = self._aws
            try:
                await ws.send(ex.request)
                while (res := ex.feed(await ws.recv())) is None:
                    pass
                return res
            except _RefusedFrame as exc:
                raise exc.error from None
            except BaseException:
                self._aws = None
                await _quiet_close(ws.close())
                raise

    def _exec_ws_sync(
        self,
        body: dict[str, Any],
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> Any:
        from websockets.sync.client import connect

        with self._ws_lock:
            ex = _Exchange(body, on_stdout, on_stderr)
            if self._ws is None:
                url = f"{self.conn.ws_url}{self._base}/exec/ws"
                # entered as a context manager (websockets wants that) and left by close()
                self._ws = contextlib.ExitStack().enter_context(
                    connect(url, additional_headers=self.conn.headers, max_size=None)
                )
            ws = self._ws
            try:
                ws.send(ex.request)
                while (res := ex.feed(ws.recv())) is None:
                    pass
                return res
            except _RefusedFrame as exc:
                raise exc.error from None
            except BaseException:
                self._ws = None
                with contextlib.suppress(Exception):
                    ws.close()
                raise

    def _close_sockets(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        aws, self._aws = self._aws, None
        if aws is not None:
            loop = self._aws_loop
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not None and running is loop:
                running.create_task(_quiet_close(aws.close()))
            elif loop is not None and not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(_quiet_close(aws.close()))

    # --- files ------------------------------------------------------------------------------
    def read_file(self, path: str) -> bytes:
        self._alive()
        return bytes(
            self.conn.request("GET", f"{self._base}/files/{_q(path)}", vm_path=path).content
        )

    def _put_file(
        self, path: str, data: str | bytes, *, parents: bool, mode: int | None, append: bool
    ) -> None:
        self._alive()
        data = to_bytes(data)
        params: dict[str, str] = {}
        if parents:
            params["parents"] = "1"
        if append:
            params["append"] = "1"
        if mode is not None:
            params["mode"] = format(mode, "o")
        self.conn.request(
            "PUT",
            f"{self._base}/files/{_q(path)}",
            content=data,
            params=params,
            vm_path=path,
        )

    def mkdir(
        self, path: str, *, parents: bool = False, exist_ok: bool = False, mode: int = 0o755
    ) -> None:
        self._alive()
        params = {"parents": "1" if parents else "0", "exist_ok": "1" if exist_ok else "0"}
        self.conn.request("POST", f"{self._base}/mkdir/{_q(path)}", params=params, vm_path=path)

    def readdir(self, path: str) -> list[str]:
        return [e["name"] for e in self.listdir(path)]

    def listdir(self, path: str) -> list[dict[str, Any]]:
        """The entries of a directory with their type, size, mode and mtime."""
        self._alive()
        r = self.conn.request("GET", f"{self._base}/list/{_q(path)}", vm_path=path)
        return list(r.json()["entries"])

    def lstat(self, path: str) -> StatResult:
        self._alive()
        r = self.conn.request("GET", f"{self._base}/stat/{_q(path)}", vm_path=path)
        return _stat(r.json())

    def stat(self, path: str) -> StatResult:
        st = self.lstat(path)
        if S.S_ISLNK(st.st_mode):
            # the server's stat does not follow links: resolve one level at a time
            for _ in range(40):
                target = self._readlink(path)
                path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
                st = self.lstat(path)
                if not S.S_ISLNK(st.st_mode):
                    break
        return st

    def _readlink(self, path: str) -> str:
        res = self.exec_sync(None, ["readlink", path])
        if res.exit_code != 0:
            raise OSError(res.stderr.strip())
        return str(res.stdout.rstrip("\n"))

    def readlink(self, path: str) -> str:
        return self._readlink(path)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except FileNotFoundError:
            return False
        return True

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self._alive()
        params = {"recursive": "1"} if recursive else {}
        self.conn.request("DELETE", f"{self._base}/files/{_q(path)}", params=params, vm_path=path)

    def download_tar(self, path: str) -> bytes:
        """A directory of the VM as a tar archive."""
        self._alive()
        return bytes(self.conn.request("GET", f"{self._base}/tar/{_q(path)}", vm_path=path).content)

    def upload_tar(self, path: str, data: bytes) -> None:
        """Unpack a tar archive into a directory of the VM (made if missing)."""
        self._alive()
        self.conn.request("PUT", f"{self._base}/tar/{_q(path)}", content=data, vm_path=path)

    # --- snapshots, audit, permissions --------------------------------------------------------
    def snapshot(self, path: str = "/") -> Any:
        """A snapshot of the VM's tree at ``path`` (kept on the server too: ``.digest``)."""
        from pocketos.snapshot import Snapshot

        self._alive()
        d = self.conn.request("POST", f"{self._base}/snapshots", json={"path": path}).json()
        data = self.conn.request("GET", f"/v1/snapshots/{d['digest']}").content
        return Snapshot.load(data)

    def audit_log(self, since: float | None = None, kind: str | None = None) -> list[AuditEvent]:
        self._alive()
        params: dict[str, str] = {}
        if since is not None:
            params["since"] = repr(float(since))
        if kind is not None:
            params["kind"] = kind
        events = self.conn.request("GET", f"{self._base}/audit", params=params).json()["events"]
        return [AuditEvent(**e) for e in events]

    def pending_permissions(self, wait: float | None = None) -> list[dict[str, Any]]:
        """The ``ask`` requests waiting for an answer (``wait``: seconds to wait for one)."""
        self._alive()
        params = {"wait": repr(float(wait))} if wait else {}
        r = self.conn.request("GET", f"{self._base}/permissions", params=params)
        return list(r.json()["permissions"])

    def answer_permission(self, perm_id: str, decision: str) -> None:
        """Answer an ``ask`` request: ``allow``, ``allow_always`` or ``deny``."""
        self._alive()
        self.conn.request(
            "POST", f"{self._base}/permissions/{quote(perm_id)}", json={"decision": decision}
        )

    # --- agent sessions -----------------------------------------------------------------------
    async def create_session(self, agent: str = "pocketos", **options: Any) -> Any:
        """Start an agent session on the server (``model``, ``mode``, ``cwd``, ``instructions``
        ...; the provider settings are the server's)."""
        from pocketos.remote.session import AsyncRemoteSession

        self._alive()
        r = await self.conn.arequest(
            "POST", f"{self._base}/sessions", json={"agent": agent, **options}
        )
        return AsyncRemoteSession(self, r.json())

    async def resume_session(self, session_id: str, **options: Any) -> Any:
        from pocketos.remote.session import AsyncRemoteSession

        self._alive()
        r = await self.conn.arequest(
            "POST", f"{self._base}/sessions/{quote(session_id)}/resume", json=options
        )
        return AsyncRemoteSession(self, r.json())

    def list_sessions(self) -> list[dict[str, Any]]:
        self._alive()
        return list(self.conn.request("GET", f"{self._base}/sessions").json()["sessions"])

    def __repr__(self) -> str:
        return f"<AsyncRemoteVM {self._id} on {self.conn.url}>"


class _Exchange:
    """One exec over the exec WebSocket, whatever drives the socket (sync or async code):
    ``request`` is the message to send, then ``feed(message)`` each frame that comes back
    until it returns the result. An error frame raises :class:`_RefusedFrame`."""

    def __init__(
        self,
        body: dict[str, Any],
        on_stdout: Callable[[bytes], Any] | None,
        on_stderr: Callable[[bytes], Any] | None,
    ) -> None:
        self.request = json.dumps(body)
        self.start = time.perf_counter()
        self.out, self.err = bytearray(), bytearray()
        self.on_stdout, self.on_stderr = on_stdout, on_stderr

    def feed(self, message: str | bytes) -> ExecResult | None:
        frame = json.loads(message)
        kind = frame.get("type")
        if kind in ("stdout", "stderr"):
            data = base64.b64decode(frame.get("data", ""))
            (self.out if kind == "stdout" else self.err).extend(data)
            cb = self.on_stdout if kind == "stdout" else self.on_stderr
            if cb is not None:
                cb(data)
            return None
        if kind == "error":
            # the server refused this request and the socket stays usable
            try:
                raise_for(422, frame)
            except Exception as exc:
                raise _RefusedFrame(exc) from None
            raise _RefusedFrame(RemoteError(422, "error", "the server refused the request"))
        if kind == "exit":
            return ExecResult(
                int(frame["exit_code"]),
                bytes(self.out),
                bytes(self.err),
                float(frame.get("duration") or (time.perf_counter() - self.start)),
                frame.get("limit_hit"),
            )
        return None


class _RefusedFrame(Exception):
    """An error frame: the request was refused, the socket is fine."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _quiet_close(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro
