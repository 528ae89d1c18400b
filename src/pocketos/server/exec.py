"""``/v1/vms/{id}/exec``: run a script and get its result, or stream its output.

- ``POST /exec`` → ``{exit_code, stdout, stderr, duration, limit_hit}``.
- ``POST /exec/stream`` → Server-Sent Events ``stdout``/``stderr``/``exit``.
- ``/exec/ws`` → a WebSocket: send an exec request as JSON; receive frames
  ``{type: stdout|stderr, seq, data}`` then ``{type: exit, seq, exit_code, ...}``; send another
  request on the same socket to run again, or ``{type: cancel}`` to stop the running one.

Output is UTF-8 text (invalid bytes replaced) unless the request says ``"encoding": "base64"``.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketos.server.errors import ApiError, as_api_error, error_body
from pocketos.server.openapi import api, ws
from pocketos.server.registry import Hosted
from pocketos.server.state import body_of, vm_of

__all__ = ["routes", "ExecRequest"]

CANCELLED_STATUS = 130


class ExecRequest(BaseModel):
    """A script for ``bash -c`` (or ``argv`` for one command without a shell)."""

    model_config = ConfigDict(extra="forbid")
    script: str | None = None
    argv: list[str] | None = Field(default=None, min_length=1)
    stdin: str | None = None
    stdin_base64: str | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    limits: dict[str, Any] | None = None
    encoding: Literal["utf-8", "base64"] = "utf-8"
    #: ``$1 ...`` and ``$0`` of the script, as in ``bash -c script argv0 args...``
    args: list[str] | None = None
    argv0: str | None = None
    type: Literal["exec"] | None = None

    def stdin_bytes(self) -> bytes | None:
        if self.stdin_base64 is not None:
            if self.stdin is not None:
                raise ApiError(422, "invalid_request", "give stdin or stdin_base64, not both")
            try:
                return base64.b64decode(self.stdin_base64, validate=True)
            except ValueError:
                raise ApiError(422, "invalid_request", "stdin_base64 is not valid base64")
        return None if self.stdin is None else self.stdin.encode("utf-8", "surrogateescape")


def _check(req: ExecRequest) -> None:
    if (req.script is None) == (req.argv is None):
        raise ApiError(422, "invalid_request", "give exactly one of script or argv")


async def run_exec(
    h: Hosted,
    req: ExecRequest,
    on_stdout: Callable[[bytes], Any] | None = None,
    on_stderr: Callable[[bytes], Any] | None = None,
) -> Any:
    """Run ``req`` in ``h``'s VM and return its ExecResult."""
    _check(req)
    kw: dict[str, Any] = {
        "env": req.env,
        "cwd": req.cwd,
        "stdin": req.stdin_bytes(),
        "timeout": req.timeout,
        "limits": req.limits,
    }
    h.busy += 1
    try:
        if req.argv is not None:
            if on_stdout is not None or on_stderr is not None:
                # one command without a shell, streamed: exec it with its words quoted
                import shlex

                script = " ".join(shlex.quote(a) for a in req.argv)
                return await h.run(
                    h.vm.exec(script, on_stdout=on_stdout, on_stderr=on_stderr, **kw)
                )
            return await h.run(h.vm.run(list(req.argv), **kw))
        assert req.script is not None
        if req.args is not None:
            kw["args"] = list(req.args)
        if req.argv0 is not None:
            kw["argv0"] = req.argv0
        return await h.run(h.vm.exec(req.script, on_stdout=on_stdout, on_stderr=on_stderr, **kw))
    finally:
        h.busy -= 1
        h.touch()


def result_dict(res: Any, encoding: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exit_code": res.exit_code,
        "duration": res.duration,
        "limit_hit": res.limit_hit,
    }
    if encoding == "base64":
        out["stdout_base64"] = base64.b64encode(res.stdout_bytes).decode()
        out["stderr_base64"] = base64.b64encode(res.stderr_bytes).decode()
    else:
        out["stdout"] = res.stdout
        out["stderr"] = res.stderr
    return out


async def exec_once(request: Request) -> Response:
    h = await vm_of(request)
    req = await body_of(request, ExecRequest)
    res = await run_exec(h, req)
    return JSONResponse(result_dict(res, req.encoding))


class _Frames:
    """Output of one exec as numbered frames, put on a queue from any thread."""

    def __init__(self, encoding: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.encoding = encoding
        self.seq = 0
        self.decoders = {
            k: codecs.getincrementaldecoder("utf-8")("replace") for k in ("stdout", "stderr")
        }

    def _put(self, kind: str, data: bytes) -> None:
        if self.encoding == "base64":
            text = base64.b64encode(data).decode()
        else:
            text = self.decoders[kind].decode(data)
            if not text:
                return
        self.seq += 1
        self.queue.put_nowait({"type": kind, "seq": self.seq, "data": text})

    def writer(self, kind: str) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            if data:
                self.loop.call_soon_threadsafe(self._put, kind, bytes(data))

        return write

    def finish(self, frame: dict[str, Any]) -> None:
        def done() -> None:
            for kind, dec in self.decoders.items():
                rest = dec.decode(b"", final=True) if self.encoding != "base64" else ""
                if rest:
                    self.seq += 1
                    self.queue.put_nowait({"type": kind, "seq": self.seq, "data": rest})
            self.seq += 1
            self.queue.put_nowait({**frame, "seq": self.seq})
            self.queue.put_nowait(None)

        # after every output frame the exec's threads have scheduled
        self.loop.call_soon_threadsafe(done)


async def _run_streamed(h: Hosted, req: ExecRequest, frames: _Frames) -> None:
    try:
        res = await run_exec(h, req, frames.writer("stdout"), frames.writer("stderr"))
    except asyncio.CancelledError:
        frames.finish({"type": "exit", "exit_code": CANCELLED_STATUS, "limit_hit": "cancelled"})
        raise
    except Exception as exc:
        err = as_api_error(exc)
        frames.finish({"type": "error", **error_body(err.code, err.message)})
        return
    frames.finish(
        {
            "type": "exit",
            "exit_code": res.exit_code,
            "duration": res.duration,
            "limit_hit": res.limit_hit,
        }
    )


async def exec_sse(request: Request) -> Response:
    h = await vm_of(request)
    req = await body_of(request, ExecRequest)
    _check(req)

    async def events() -> AsyncIterator[bytes]:
        frames = _Frames(req.encoding)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(_run_streamed(h, req, frames))
            try:
                while (frame := await frames.queue.get()) is not None:
                    yield f"event: {frame['type']}\ndata: {json.dumps(frame)}\n\n".encode()
            finally:
                task.cancel()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def exec_ws(websocket: WebSocket) -> None:
    h = await vm_of(websocket)
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive_text()
            try:
                data = json.loads(msg)
                if isinstance(data, dict) and data.get("type") == "cancel":
                    continue  # nothing is running
                req = ExecRequest.model_validate(data)
                _check(req)
            except (ValueError, ValidationError, ApiError) as exc:
                err = as_api_error(exc)
                await websocket.send_json({"type": "error", **error_body(err.code, err.message)})
                continue
            await _ws_one(websocket, h, req)
    except WebSocketDisconnect:
        return


async def _ws_one(websocket: WebSocket, h: Hosted, req: ExecRequest) -> None:
    frames = _Frames(req.encoding)
    gone = False

    async def control() -> None:
        # while the exec runs the client may cancel it (or go away, which cancels it too)
        nonlocal gone
        while True:
            try:
                msg = await websocket.receive_text()
            except WebSocketDisconnect:
                gone = True
                task.cancel()
                return
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(msg).get("type") == "cancel":
                    task.cancel()

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(_run_streamed(h, req, frames))
        ctl = tg.create_task(control())
        try:
            while (frame := await frames.queue.get()) is not None:
                if not gone:
                    await websocket.send_json(frame)
        finally:
            ctl.cancel()
            task.cancel()
    if gone:
        raise WebSocketDisconnect(1001)


routes = [
    api("/v1/vms/{vm_id}/exec", exec_once, ["POST"], "Run a script; its result", body=ExecRequest),
    api(
        "/v1/vms/{vm_id}/exec/stream",
        exec_sse,
        ["POST"],
        "Run a script; output as Server-Sent Events",
        body=ExecRequest,
        produces="text/event-stream",
    ),
    ws("/v1/vms/{vm_id}/exec/ws", exec_ws, "Run scripts; output as WebSocket frames"),
]
