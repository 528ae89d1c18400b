"""Interactive terminals on a VM (``vm.open_shell``) over a WebSocket.

- ``POST /v1/vms/{id}/terminals`` ``{cols, rows, env, cwd}`` opens one (201); ``GET`` lists
  them; ``GET|DELETE /terminals/{tid}`` shows or closes one; ``PATCH /terminals/{tid}``
  ``{writers, cols, rows}`` lets more clients type or resizes it.
- ``/terminals/{tid}/ws?role=writer|viewer&replay=1`` attaches. ``tid`` ``new`` opens a terminal
  and attaches to it as its writer (``?cols=&rows=``).

On the socket the terminal's output arrives as binary frames, and keys go the other way as
binary frames (or text ``{"type": "input", "data": "..."}``). Control messages are JSON text:
the client sends ``{"type": "resize", "cols": C, "rows": R}``; the server sends
``{"type": "hello", "terminal": {...}, "role": R}`` first, ``{"type": "error", "error": {...}}``
for a refused message (the socket stays open), and ``{"type": "exit", "exit_code": N}`` (or
``{"type": "detached", "reason": ...}``) last. On a process-isolated VM the shell runs in the
VM's worker process and its output is pushed to the server as it is produced. On an in-process
VM with its own thread (``ask`` rules) the shell runs on that thread's loop like the VM's execs,
and its commands wait for the API's answer to an ``ask``; closing the terminal denies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketos.server.asks import Origin, origin
from pocketos.server.errors import ApiError, as_api_error, error_body
from pocketos.server.openapi import api, ws
from pocketos.server.registry import Hosted
from pocketos.server.state import body_of, vm_of

__all__ = ["routes"]

#: terminals one VM may have open at once
MAX_TERMINALS = 32
_KEY = "terminals"


class OpenTerminal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cols: int = Field(default=80, ge=1, le=10_000)
    rows: int = Field(default=24, ge=1, le=10_000)
    env: dict[str, str] | None = None
    cwd: str | None = None


class ChangeTerminal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: clients that may type at once (null: any number)
    writers: int | None = Field(default=1, ge=1)
    cols: int | None = Field(default=None, ge=1, le=10_000)
    rows: int | None = Field(default=None, ge=1, le=10_000)


class _Terminals:
    """The terminals of one hosted VM (kept in ``Hosted.extras``; closed with the VM)."""

    def __init__(self, h: Hosted) -> None:
        self.h = h
        self.items: dict[str, Any] = {}
        self.created: dict[str, float] = {}
        #: whose commands each terminal runs (its ``ask`` questions carry it)
        self.origins: dict[str, Origin] = {}

    async def close(self, t: Any) -> int:
        """End ``t``'s shell; its questions still waiting are denied first."""
        who = self.origins.pop(t.id, None)
        if who is not None:
            self.h.permissions.deny_from(who)
        status: int = await self.h.run(t.close())
        self.items.pop(t.id, None)
        self.created.pop(t.id, None)
        return status

    async def aclose(self) -> None:
        for t in list(self.items.values()):
            with contextlib.suppress(Exception):
                await self.close(t)
        self.items.clear()


def _table(h: Hosted) -> _Terminals:
    tab = h.extras.get(_KEY)
    if tab is None:
        tab = h.extras[_KEY] = _Terminals(h)
    assert isinstance(tab, _Terminals)
    # forget terminals whose shell has ended
    for tid, t in list(tab.items.items()):
        if t.exit_code is not None and not t.clients:
            del tab.items[tid]
            tab.origins.pop(tid, None)
    return tab


def _info(t: Any, created: float | None = None) -> dict[str, Any]:
    return {
        "id": t.id,
        "cols": t.cols,
        "rows": t.rows,
        "tty": t.name,
        "running": t.running,
        "exit_code": t.exit_code,
        "writers": None if t.max_writers >= 1 << 30 else t.max_writers,
        "clients": [{"role": c.role} for c in t.clients],
        "created": created,
    }


async def _open(h: Hosted, body: OpenTerminal) -> Any:
    tab = _table(h)
    if len(tab.items) >= MAX_TERMINALS:
        raise ApiError(409, "too_many_terminals", f"VM {h.id} has {len(tab.items)} terminals open")

    def start() -> Any:
        # the shell's task starts here, on the VM's loop, and carries the terminal's origin
        with origin(Origin("terminal")) as who:
            t = h.vm.open_shell(body.cols, body.rows, env=body.env, cwd=body.cwd)
        who.id = t.id
        tab.origins[t.id] = who
        # the server's clients are the WebSockets: the Python-side owner client steps aside
        t.owner.detach()
        return t

    try:
        t = await h.sync(start)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc))
    tab.items[t.id] = t
    tab.created[t.id] = time.time()
    h.touch()
    return t


def _terminal(h: Hosted, tid: str) -> Any:
    t = _table(h).items.get(tid)
    if t is None:
        raise ApiError(404, "terminal_not_found", f"no such terminal in {h.id}: {tid}")
    return t


async def create(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, OpenTerminal)
    t = await _open(h, body)
    return JSONResponse(_info(t, _table(h).created.get(t.id)), status_code=201)


async def list_terminals(request: Request) -> Response:
    h = await vm_of(request)
    tab = _table(h)
    return JSONResponse({"terminals": [_info(t, tab.created.get(k)) for k, t in tab.items.items()]})


async def get_terminal(request: Request) -> Response:
    h = await vm_of(request)
    t = _terminal(h, request.path_params["tid"])
    return JSONResponse(_info(t, _table(h).created.get(t.id)))


async def change_terminal(request: Request) -> Response:
    h = await vm_of(request)
    t = _terminal(h, request.path_params["tid"])
    body = await body_of(request, ChangeTerminal)
    fields = body.model_fields_set
    if "writers" in fields:
        await h.sync(t.allow_writers, body.writers)
    if body.cols is not None or body.rows is not None:
        await h.sync(t._resize, body.cols or t.cols, body.rows or t.rows)
    return JSONResponse(_info(t, _table(h).created.get(t.id)))


async def close_terminal(request: Request) -> Response:
    h = await vm_of(request)
    t = _terminal(h, request.path_params["tid"])
    status = await _table(h).close(t)
    return JSONResponse({"id": t.id, "closed": True, "exit_code": status})


def _query_int(conn: HTTPConnection, name: str, default: int) -> int:
    raw = conn.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name} must be an integer, not {raw!r}")


async def terminal_ws(websocket: WebSocket) -> None:
    h = await vm_of(websocket)
    tid = websocket.path_params["tid"]
    role = websocket.query_params.get("role", "writer")
    replay = websocket.query_params.get("replay", "1") not in ("0", "false", "no")
    if tid == "new":
        body = OpenTerminal(
            cols=_query_int(websocket, "cols", 80), rows=_query_int(websocket, "rows", 24)
        )
        t = await _open(h, body)
        role = "writer"
    else:
        t = _terminal(h, tid)
    await websocket.accept()
    try:
        client = await h.sync(t.attach, role, replay=replay)
    except (PermissionError, ValueError, ConnectionError) as exc:
        err = as_api_error(exc)
        code = {
            PermissionError: "writer_taken",
            ValueError: "invalid_request",
        }.get(type(exc), "terminal_ended")
        await websocket.send_json({"type": "error", **error_body(code, str(exc))})
        await websocket.close(1008 if err.status != 500 else 1011)
        return
    h.busy += 1
    try:
        await websocket.send_json({"type": "hello", "terminal": _info(t), "role": client.role})
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(_pump(websocket, h, client))
            keys = tg.create_task(_keys(websocket, h, client))
            # the output side ends the socket (exit, detach); the key side ends with it
            pump.add_done_callback(lambda _: keys.cancel())
    except* (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        if h.thread is None:
            client.detach()
        else:
            with contextlib.suppress(Exception):  # the VM may be closing meanwhile
                await h.sync(client.detach)
        h.busy -= 1
        h.touch()


async def _pump(websocket: WebSocket, h: Hosted, client: Any) -> None:
    """Terminal output to the socket, then the reason it ended."""
    while True:
        data = await h.run(client.read())
        if not data:
            break
        await websocket.send_bytes(data)
    t = client.terminal
    if t.exit_code is not None:
        await websocket.send_json({"type": "exit", "exit_code": t.exit_code})
    else:
        await websocket.send_json({"type": "detached", "reason": client.reason})
    await websocket.close(1000)


async def _keys(websocket: WebSocket, h: Hosted, client: Any) -> None:
    """Keys and control messages from the socket, until it closes."""
    while True:
        msg = await websocket.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        data = msg.get("bytes")
        text = msg.get("text")
        try:
            if data is not None:
                await h.run(client.write(data))
                continue
            if text is None:
                continue
            try:
                ctl = json.loads(text)
            except ValueError:
                raise ApiError(422, "invalid_json", "a text frame must be a JSON message")
            if not isinstance(ctl, dict):
                raise ApiError(422, "invalid_request", "a message must be a JSON object")
            kind = ctl.get("type")
            if kind == "input":
                keys = ctl.get("data")
                if not isinstance(keys, str):
                    raise ApiError(422, "invalid_request", "input needs a string 'data'")
                await h.run(client.write(keys.encode("utf-8", "surrogateescape")))
            elif kind == "resize":
                cols, rows = ctl.get("cols"), ctl.get("rows")
                await h.sync(client.resize, cols, rows)
            elif kind == "ping":
                await websocket.send_json({"type": "pong"})
            else:
                raise ApiError(422, "invalid_request", f"unknown message type {kind!r}")
        except PermissionError as exc:
            await websocket.send_json({"type": "error", **error_body("read_only", str(exc))})
        except (ApiError, ValueError, BlockingIOError) as exc:
            err = as_api_error(exc) if not isinstance(exc, ApiError) else exc
            code = "input_full" if isinstance(exc, BlockingIOError) else err.code
            if isinstance(exc, ValueError) and not isinstance(exc, ApiError):
                code = "invalid_request"
            await websocket.send_json({"type": "error", **error_body(code, str(exc))})
        except ConnectionError:
            return  # the terminal ended or dropped this client: the pump says why


routes = [
    api(
        "/v1/vms/{vm_id}/terminals",
        create,
        ["POST"],
        "Open a terminal (a shell with a prompt)",
        body=OpenTerminal,
        status=201,
    ),
    api("/v1/vms/{vm_id}/terminals", list_terminals, ["GET"], "The VM's terminals"),
    api("/v1/vms/{vm_id}/terminals/{tid}", get_terminal, ["GET"], "One terminal"),
    api(
        "/v1/vms/{vm_id}/terminals/{tid}",
        change_terminal,
        ["PATCH"],
        "Allow more writers or resize",
        body=ChangeTerminal,
    ),
    api("/v1/vms/{vm_id}/terminals/{tid}", close_terminal, ["DELETE"], "Close a terminal"),
    ws(
        "/v1/vms/{vm_id}/terminals/{tid}/ws",
        terminal_ws,
        "Attach to a terminal (?role=writer|viewer&replay=1); tid 'new' opens one",
    ),
]
