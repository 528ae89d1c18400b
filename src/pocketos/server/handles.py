"""What a client holds by handle in a hosted VM: persistent shells, Python interpreters and
background processes (``vm.shell()``, ``vm.python()``, ``vm.spawn()`` of ``pocketos.remote``).

- ``POST /shells`` ``{env, cwd}`` → ``{id, cwd}``; ``POST /shells/{hid}/run`` ``{script, stdin,
  timeout}`` → an exec result plus ``{cwd, exited}``; ``DELETE /shells/{hid}``.
- ``POST /pythons`` ``{env, cwd}`` → ``{id}``; ``POST /pythons/{hid}/run`` ``{code}`` →
  ``{stdout, stderr, value, error}``; ``DELETE /pythons/{hid}``.
- ``/processes/ws``: send ``{argv, env, cwd, stdin_base64, limits}``; get ``{type: started,
  pid}``, then ``stdout``/``stderr`` frames (base64) and ``{type: exit, exit_code}``; send
  ``{type: stdin, data}``, ``{type: close_stdin}`` or ``{type: kill, signal}`` meanwhile.
  Closing the socket kills the process. ``GET /processes`` lists the VM's processes;
  ``POST /processes/{pid}/kill`` ``{signal}`` and ``POST /processes/{pid}/wait`` ``{timeout}``
  reach any of them.

Every handle belongs to its VM and is closed with it. Everything runs through
:meth:`Hosted.run`, so a VM with ``ask`` rules keeps its objects on its own thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketos.server.errors import ApiError, as_api_error, error_body
from pocketos.server.exec import result_dict
from pocketos.server.openapi import api, ws
from pocketos.server.registry import Hosted
from pocketos.server.state import body_of, vm_of

__all__ = ["routes"]

#: shells plus interpreters one VM may hold open at once
MAX_HANDLES = 32
READ_CHUNK = 64 * 1024


class _Handles:
    """The shells and interpreters of one hosted VM (in ``Hosted.extras``)."""

    def __init__(self, h: Hosted) -> None:
        self.h = h
        self.items: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def add(self, kind: str, obj: Any) -> str:
        hid = f"{kind}-{next(self._ids)}"
        self.items[hid] = obj
        return hid

    def get(self, kind: str, hid: str) -> Any:
        obj = self.items.get(hid) if hid.startswith(f"{kind}-") else None
        if obj is None:
            raise ApiError(404, "not_found", f"no {kind} {hid} in VM {self.h.id}")
        return obj

    async def drop(self, hid: str) -> None:
        obj = self.items.pop(hid, None)
        if obj is not None:
            await _close(self.h, obj)

    async def aclose(self) -> None:
        for hid in list(self.items):
            with contextlib.suppress(Exception):
                await self.drop(hid)


async def _close(h: Hosted, obj: Any) -> None:
    closer = getattr(obj, "aclose", None) or obj.close
    res = closer()
    if asyncio.iscoroutine(res):
        await h.run(res)


def _table(h: Hosted) -> _Handles:
    tab = h.extras.get("handles")
    if tab is None:
        tab = h.extras["handles"] = _Handles(h)
    assert isinstance(tab, _Handles)
    return tab


def _room(tab: _Handles) -> None:
    if len(tab.items) >= MAX_HANDLES:
        raise ApiError(409, "too_many_handles", f"VM {tab.h.id} has {MAX_HANDLES} open already")


class OpenHandle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    env: dict[str, str] | None = None
    cwd: str | None = None


class ShellRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script: str
    stdin: str | None = None
    stdin_base64: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    encoding: str = "utf-8"


class PythonRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str


class Signal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal: int | str = "TERM"


class Wait(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout: float | None = Field(default=None, ge=0, le=300)


class Spawn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] | None = None
    cwd: str | None = None
    stdin_base64: str | None = None
    limits: dict[str, Any] | None = None


def _b64(text: str | None, what: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{what} is not valid base64")


# --- shells -----------------------------------------------------------------------------------
async def _open(request: Request, kind: str) -> tuple[str, Any]:
    """A new shell or interpreter of the VM (``kind`` names the VM method)."""
    h = await vm_of(request)
    body = await body_of(request, OpenHandle)
    tab = _table(h)
    _room(tab)
    obj = await h.sync(getattr(h.vm, kind), env=body.env, cwd=body.cwd)
    return tab.add(kind, obj), obj


async def open_shell(request: Request) -> Response:
    hid, sh = await _open(request, "shell")
    return JSONResponse({"id": hid, "cwd": sh.cwd}, status_code=201)


async def run_shell(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, ShellRun)
    sh = _table(h).get("shell", request.path_params["hid"])
    if body.stdin is not None and body.stdin_base64 is not None:
        raise ApiError(422, "invalid_request", "give stdin or stdin_base64, not both")
    stdin = _b64(body.stdin_base64, "stdin_base64") if body.stdin is None else body.stdin
    h.busy += 1
    try:
        res = await h.run(sh.run(body.script, stdin=stdin, timeout=body.timeout))
    except RuntimeError as exc:  # the shell was closed meanwhile
        raise ApiError(409, "closed", str(exc))
    finally:
        h.busy -= 1
        h.touch()
    out = result_dict(res, "base64" if body.encoding == "base64" else "utf-8")
    return JSONResponse({**out, "cwd": sh.cwd, "exited": sh.exited})


# --- Python interpreters ------------------------------------------------------------------------
async def open_python(request: Request) -> Response:
    hid, _ = await _open(request, "python")
    return JSONResponse({"id": hid}, status_code=201)


async def run_python(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, PythonRun)
    py = _table(h).get("python", request.path_params["hid"])
    h.busy += 1
    try:
        r = await h.run(py.run(body.code))
    except RuntimeError as exc:  # SessionClosed
        raise ApiError(409, "closed", str(exc) or "the interpreter is closed")
    finally:
        h.busy -= 1
        h.touch()
    return JSONResponse(
        {"stdout": r.stdout, "stderr": r.stderr, "value": r.value, "error": r.error}
    )


async def close_handle(request: Request) -> Response:
    h = await vm_of(request)
    hid = request.path_params["hid"]
    tab = _table(h)
    kind = "shell" if request.url.path.split("/")[-2] == "shells" else "python"
    tab.get(kind, hid)
    await tab.drop(hid)
    return JSONResponse({"id": hid, "closed": True})


# --- processes ----------------------------------------------------------------------------------
async def list_processes(request: Request) -> Response:
    h = await vm_of(request)
    return JSONResponse(
        {"processes": json.loads(json.dumps(await h.call("list_processes"), default=str))}
    )


def _pid(request: Request) -> int:
    raw = request.path_params["pid"]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(422, "invalid_request", f"bad pid {raw!r}")
    return int(raw)


async def kill_process(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, Signal)
    pid = _pid(request)
    await h.call("kill", pid, body.signal)
    return JSONResponse({"pid": pid, "signal": body.signal})


async def wait_process(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, Wait)
    pid = _pid(request)
    try:
        code = await h.run(h.vm.wait(pid, body.timeout))
    except TimeoutError:
        raise ApiError(408, "timeout", f"process {pid} is still running")
    return JSONResponse({"pid": pid, "exit_code": code})


async def process_ws(websocket: WebSocket) -> None:
    h = await vm_of(websocket)
    await websocket.accept()
    try:
        try:
            req = Spawn.model_validate(json.loads(await websocket.receive_text()))
            stdin = _b64(req.stdin_base64, "stdin_base64")
            proc = await h.run(
                h.vm.spawn(list(req.argv), stdin=stdin, env=req.env, cwd=req.cwd, limits=req.limits)
            )
        except (ValueError, ValidationError, ApiError, OSError) as exc:
            err = as_api_error(exc)
            await websocket.send_json({"type": "error", **error_body(err.code, err.message)})
            await websocket.close()
            return
        await websocket.send_json({"type": "started", "pid": proc.pid})
        await _pump(websocket, h, proc)
    except WebSocketDisconnect:
        return


async def _pump(websocket: WebSocket, h: Hosted, proc: Any) -> None:
    """Output out, input and signals in, until the process ends; a client that goes away
    kills it."""

    async def out(kind: str, stream: Any) -> None:
        while data := await h.run(stream.read(READ_CHUNK)):
            try:
                await websocket.send_json({"type": kind, "data": base64.b64encode(data).decode()})
            except Exception:  # the client is gone: nobody reads this process any more
                with contextlib.suppress(Exception):
                    await h.sync(proc.kill, "KILL")
                return

    async def control() -> None:
        while True:
            try:
                msg = json.loads(await websocket.receive_text())
            except WebSocketDisconnect:
                with contextlib.suppress(Exception):
                    await h.sync(proc.kill, "KILL")
                return
            except ValueError:
                continue
            kind = msg.get("type") if isinstance(msg, dict) else None
            with contextlib.suppress(Exception):
                if kind == "stdin":
                    await h.run(proc.write(base64.b64decode(str(msg.get("data", "")))))
                elif kind == "close_stdin":
                    await h.sync(proc.close_stdin)
                elif kind == "kill":
                    await h.sync(proc.kill, msg.get("signal") or "KILL")

    async with asyncio.TaskGroup() as tg:
        ctl = tg.create_task(control())
        readers = [
            tg.create_task(out("stdout", proc.stdout)),
            tg.create_task(out("stderr", proc.stderr)),
        ]
        code = await h.run(proc.wait())
        await asyncio.gather(*readers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "exit", "exit_code": code})
        ctl.cancel()
    with contextlib.suppress(Exception):
        await websocket.close()


_B = "/v1/vms/{vm_id}"
routes = [
    api(
        f"{_B}/shells", open_shell, ["POST"], "Open a persistent shell", body=OpenHandle, status=201
    ),
    api(f"{_B}/shells/{{hid}}/run", run_shell, ["POST"], "Run a script in a shell", body=ShellRun),
    api(f"{_B}/shells/{{hid}}", close_handle, ["DELETE"], "Close a shell"),
    api(
        f"{_B}/pythons",
        open_python,
        ["POST"],
        "Open a persistent Python interpreter",
        body=OpenHandle,
        status=201,
    ),
    api(
        f"{_B}/pythons/{{hid}}/run",
        run_python,
        ["POST"],
        "Run code in an interpreter",
        body=PythonRun,
    ),
    api(f"{_B}/pythons/{{hid}}", close_handle, ["DELETE"], "Close an interpreter"),
    api(f"{_B}/processes", list_processes, ["GET"], "The VM's processes"),
    api(f"{_B}/processes/{{pid}}/kill", kill_process, ["POST"], "Signal a process", body=Signal),
    api(f"{_B}/processes/{{pid}}/wait", wait_process, ["POST"], "Wait for a process", body=Wait),
    ws(f"{_B}/processes/ws", process_ws, "Spawn a process; its output and input as frames"),
]
