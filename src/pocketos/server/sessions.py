"""Agent sessions in a VM, and their events.

- ``POST /v1/vms/{id}/sessions`` starts one (``{agent, model, mode, cwd, instructions}``);
  ``GET`` lists them; ``GET|DELETE /sessions/{sid}`` shows or closes one.
- ``POST /sessions/{sid}/prompt`` sends a prompt: ``{"content": "...", "wait": false}`` returns
  at once (202; follow the events), ``wait: true`` returns the result.
- ``POST /sessions/{sid}/cancel`` stops the running turn; ``POST /sessions/{sid}/resume``
  reopens a stored session (after its VM or the server restarted).
- ``GET /sessions/{sid}/events`` (Server-Sent Events) and ``/sessions/{sid}/events/ws``
  (WebSocket): every event with its sequence number; ``?after=N`` (or ``Last-Event-ID``)
  replays the backlog after N, then follows live.

Only the agents of the server's config may be started (default: the built-in one), with the
config's provider settings: a caller picks the model, never the endpoint or the key.

On an in-process VM with its own thread (``ask`` rules) a session runs on that thread's loop,
like the VM's execs and terminals; its commands wait for the API's answer to an ``ask``, and
closing the session denies the questions it still has waiting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketos.server.asks import Origin, origin
from pocketos.server.errors import ApiError
from pocketos.server.openapi import api, ws
from pocketos.server.registry import Hosted
from pocketos.server.state import ServerState, body_of, state_of, vm_of

__all__ = ["routes"]


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = "pocketos"
    model: str | None = None
    mode: str | None = None
    cwd: str = "/home/user"
    instructions: str | None = None
    max_turns: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    permission_timeout: float = Field(default=300.0, gt=0, le=86400)


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str | list[dict[str, Any]]
    wait: bool = False


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permission_timeout: float = Field(default=300.0, gt=0, le=86400)


def _store(st: ServerState) -> Any:
    from pocketos.store import Store

    cached = getattr(st, "_session_store", None)
    if cached is None:
        reg = st.registry
        path = str(reg.store / "sessions.db") if reg.store is not None else ":memory:"
        cached = Store(path)
        st._session_store = cached  # type: ignore[attr-defined]
    return cached


def _agent_config(st: ServerState, body: Any) -> dict[str, Any]:
    cfg = dict(st.config.agent_config)
    for key in ("model", "max_turns", "max_tokens"):
        v = getattr(body, key, None)
        if v is not None:
            cfg[key] = v
    return cfg


def _session(h: Hosted, sid: str) -> Any:
    s = h.sessions.get(sid)
    if s is None:
        raise ApiError(404, "session_not_found", f"no such session in {h.id}: {sid}")
    return s


async def create(request: Request) -> Response:
    st = state_of(request)
    h = await vm_of(request)
    body = await body_of(request, CreateSession)
    if body.agent not in st.config.agents:
        raise ApiError(
            403,
            "agent_not_allowed",
            f"agent {body.agent!r} is not one of the server's agents "
            f"({', '.join(st.config.agents) or 'none'})",
        )
    session = await _start(
        h,
        lambda: h.vm.create_session(
            body.agent,
            cwd=body.cwd,
            instructions=body.instructions,
            store=_store(st),
            agent_config=_agent_config(st, body) if body.agent == "pocketos" else None,
            permission_timeout=body.permission_timeout,
        ),
    )
    if body.mode is not None:
        try:
            await h.run(session.set_mode(body.mode))
        except Exception:
            await _close(h, session)
            raise
    return JSONResponse(session.info(), status_code=201)


async def _start(h: Hosted, opener: Any) -> Any:
    """A session opened by ``opener()`` on the VM's loop, its tasks carrying its origin."""
    who = Origin("session")

    async def go() -> Any:
        with origin(who):
            return await opener()

    session = await h.run(go())
    who.id = session.id
    h.extras.setdefault(_ORIGINS, {})[session.id] = who
    h.sessions[session.id] = session
    return session


async def _close(h: Hosted, session: Any) -> None:
    """Close ``session``; its questions still waiting are denied first."""
    h.sessions.pop(session.id, None)
    who = h.extras.get(_ORIGINS, {}).pop(session.id, None)
    if who is not None:
        h.permissions.deny_from(who)
    await h.run(session.close())


#: ``Hosted.extras`` key: session id -> Origin
_ORIGINS = "session_origins"


async def list_sessions(request: Request) -> Response:
    h = await vm_of(request)
    return JSONResponse({"sessions": [s.info() for s in h.sessions.values()]})


async def get_session(request: Request) -> Response:
    h = await vm_of(request)
    return JSONResponse(_session(h, request.path_params["sid"]).info())


async def close_session(request: Request) -> Response:
    h = await vm_of(request)
    s = _session(h, request.path_params["sid"])
    await _close(h, s)
    return JSONResponse({"id": s.id, "closed": True})


def _result(res: Any) -> dict[str, Any]:
    return {
        "stop_reason": res.stop_reason,
        "text": res.text,
        "prompt": res.prompt,
        "usage": res.usage,
        "cost": res.cost,
        "events": [ev.seq for ev in res.events],
    }


async def prompt(request: Request) -> Response:
    st = state_of(request)
    h = await vm_of(request)
    s = _session(h, request.path_params["sid"])
    body = await body_of(request, Prompt)
    if body.wait:
        h.busy += 1
        try:
            return JSONResponse(_result(await h.run(s.prompt(body.content))))
        finally:
            h.busy -= 1
            h.touch()

    async def run() -> None:
        h.busy += 1
        try:
            await h.run(s.prompt(body.content))
        finally:
            h.busy -= 1
            h.touch()

    st.spawn(run(), name=f"prompt-{s.id}")
    return JSONResponse({"id": s.id, "started": True, "last_seq": s.events.seq}, status_code=202)


async def cancel(request: Request) -> Response:
    h = await vm_of(request)
    s = _session(h, request.path_params["sid"])
    await h.run(s.cancel())
    return JSONResponse({"id": s.id, "cancelled": True})


async def resume(request: Request) -> Response:
    st = state_of(request)
    h = await vm_of(request)
    sid = request.path_params["sid"]
    body = await body_of(request, Resume)
    if sid in h.sessions:
        return JSONResponse(h.sessions[sid].info())
    rec = _store(st).get_session(sid)
    if rec is None:
        raise ApiError(404, "session_not_found", f"no such session: {sid}")
    session = await _start(
        h,
        lambda: h.vm.resume_session(
            sid,
            store=_store(st),
            agent_config=_agent_config(st, body) if rec.get("agent") == "pocketos" else None,
            permission_timeout=body.permission_timeout,
        ),
    )
    return JSONResponse(session.info())


def _after(conn: HTTPConnection) -> int:
    raw = conn.query_params.get("after") or conn.headers.get("last-event-id") or "0"
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"?after= must be a sequence number, not {raw!r}")
    if n < 0:
        raise ApiError(422, "invalid_request", "?after= must be >= 0")
    return n


async def _events(h: Hosted, s: Any, after: int) -> AsyncIterator[dict[str, Any]]:
    # the stored backlog first (a resumed session keeps only new events in memory), then live
    seen = after
    log = s.events
    first_kept = log.events[0].seq if log.events else log.seq + 1
    if after + 1 < first_kept:
        for rec in await asyncio.to_thread(_stored_events, s, after, first_kept - 1):
            seen = rec["seq"]
            yield rec
    async for ev in h.iterate(log.subscribe(since=seen)):
        yield ev.to_dict()


def _stored_events(s: Any, after: int, until: int) -> list[dict[str, Any]]:
    try:
        s.store.flush()
        rows = s.store.events(s.id, since=after)
    except Exception:
        return []
    return [{"session_id": s.id, **r} for r in rows if after < int(r["seq"]) <= until]


async def events_sse(request: Request) -> Response:
    h = await vm_of(request)
    s = _session(h, request.path_params["sid"])
    after = _after(request)

    async def stream() -> AsyncIterator[bytes]:
        async for ev in _events(h, s, after):
            data = json.dumps(ev, default=str)
            yield f"id: {ev['seq']}\nevent: {ev.get('kind', 'event')}\ndata: {data}\n\n".encode()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def events_ws(websocket: WebSocket) -> None:
    h = await vm_of(websocket)
    s = _session(h, websocket.path_params["sid"])
    after = _after(websocket)
    await websocket.accept()

    async def drain() -> None:
        # the client only listens; reading notices when it goes away
        while True:
            await websocket.receive_text()

    try:
        async with asyncio.TaskGroup() as tg:
            reader = tg.create_task(drain())
            async for ev in _events(h, s, after):
                await websocket.send_text(json.dumps(ev, default=str))
            reader.cancel()
            await websocket.close(1000)
    except* WebSocketDisconnect:
        pass


routes = [
    api(
        "/v1/vms/{vm_id}/sessions",
        create,
        ["POST"],
        "Start an agent session",
        body=CreateSession,
        status=201,
    ),
    api("/v1/vms/{vm_id}/sessions", list_sessions, ["GET"], "The VM's live sessions"),
    api("/v1/vms/{vm_id}/sessions/{sid}", get_session, ["GET"], "One session"),
    api("/v1/vms/{vm_id}/sessions/{sid}", close_session, ["DELETE"], "Close a session"),
    api(
        "/v1/vms/{vm_id}/sessions/{sid}/prompt",
        prompt,
        ["POST"],
        "Send a prompt (202 at once, or the result with wait: true)",
        body=Prompt,
    ),
    api("/v1/vms/{vm_id}/sessions/{sid}/cancel", cancel, ["POST"], "Stop the running turn"),
    api(
        "/v1/vms/{vm_id}/sessions/{sid}/resume",
        resume,
        ["POST"],
        "Reopen a stored session",
        body=Resume,
    ),
    api(
        "/v1/vms/{vm_id}/sessions/{sid}/events",
        events_sse,
        ["GET"],
        "The session's events as Server-Sent Events",
        query={"after": "replay the events after this sequence number"},
        produces="text/event-stream",
    ),
    ws(
        "/v1/vms/{vm_id}/sessions/{sid}/events/ws",
        events_ws,
        "The session's events over a WebSocket (?after=N)",
    ),
]
