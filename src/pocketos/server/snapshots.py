"""Snapshots and workspaces.

- ``POST /v1/vms/{id}/snapshots`` takes a snapshot of a VM's tree (``{"path": "/"}``) and keeps
  it for the caller; ``GET /v1/snapshots`` lists the caller's, ``GET /v1/snapshots/{digest}``
  downloads one, ``PUT /v1/snapshots`` uploads one. ``POST /v1/vms`` with ``snapshot: DIGEST``
  starts a VM from it.
- ``GET /v1/workspaces`` lists the caller's workspaces (durable VMs live in them),
  ``GET /v1/workspaces/{name}/log`` their runs and ``GET /v1/workspaces/{name}/diff`` the
  changes between two runs (``?a=N&b=M``; default: the last run).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketos.server.auth import principal_of
from pocketos.server.errors import ApiError
from pocketos.server.openapi import api
from pocketos.server.state import body_of, state_of, vm_of

__all__ = ["routes"]


class TakeSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = "/"


async def take(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, TakeSnapshot)
    snap = await h.call("snapshot", body.path)
    data = await asyncio.to_thread(snap.to_bytes)
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    state_of(request).registry.put_snapshot(h.owner, digest, data)
    return JSONResponse(
        {"digest": digest, "size": len(data), "entries": len(snap.entries)}, status_code=201
    )


async def upload(request: Request) -> Response:
    from pocketos.snapshot import Snapshot

    data = await request.body()
    try:
        snap = await asyncio.to_thread(Snapshot.load, data)
    except Exception as exc:
        raise ApiError(422, "invalid_snapshot", f"not a pocketos snapshot: {exc}") from None
    canonical = await asyncio.to_thread(snap.to_bytes)
    import hashlib

    digest = hashlib.sha256(canonical).hexdigest()
    state_of(request).registry.put_snapshot(principal_of(request).name, digest, canonical)
    return JSONResponse(
        {"digest": digest, "size": len(canonical), "entries": len(snap.entries)}, status_code=201
    )


async def list_snapshots(request: Request) -> Response:
    reg = state_of(request).registry
    return JSONResponse({"snapshots": reg.list_snapshots(principal_of(request).name)})


async def download(request: Request) -> Response:
    reg = state_of(request).registry
    data = reg.snapshot_bytes(principal_of(request).name, request.path_params["digest"])
    return Response(data, media_type="application/x-tar")


def _store(request: Request) -> Any:
    from pocketos.workspaces.store import WorkspaceStore

    d = state_of(request).registry.workspaces_dir
    d.mkdir(parents=True, exist_ok=True)
    return WorkspaceStore(str(d))


async def list_workspaces(request: Request) -> Response:
    who = principal_of(request)
    prefix = f"{who.name}."
    items = await asyncio.to_thread(lambda: _store(request).list())
    out = []
    for w in items:
        if w["name"].startswith(prefix):
            out.append({**w, "name": w["name"][len(prefix) :]})
    return JSONResponse({"workspaces": out})


def _ws_name(request: Request) -> str:
    reg = state_of(request).registry
    return reg.workspace_name(principal_of(request).name, request.path_params["name"])


async def ws_log(request: Request) -> Response:
    name = _ws_name(request)
    store = _store(request)
    if not await asyncio.to_thread(store.exists, name):
        raise ApiError(
            404, "workspace_not_found", f"no such workspace: {request.path_params['name']}"
        )
    runs = await asyncio.to_thread(store.log, name)
    return JSONResponse({"runs": [r.to_dict() for r in runs]})


def _int_q(request: Request, key: str) -> int | None:
    v = request.query_params.get(key)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ApiError(422, "invalid_request", f"?{key}= must be a run number, not {v!r}")


async def ws_diff(request: Request) -> Response:
    name = _ws_name(request)
    store = _store(request)
    if not await asyncio.to_thread(store.exists, name):
        raise ApiError(
            404, "workspace_not_found", f"no such workspace: {request.path_params['name']}"
        )
    a, b = _int_q(request, "a"), _int_q(request, "b")
    changes = await asyncio.to_thread(store.diff, name, a, b)
    return JSONResponse({"changes": [{**c.to_dict(), "patch": c.patch} for c in changes]})


routes = [
    api(
        "/v1/vms/{vm_id}/snapshots",
        take,
        ["POST"],
        "Snapshot the VM's tree",
        body=TakeSnapshot,
        status=201,
    ),
    api("/v1/snapshots", list_snapshots, ["GET"], "The caller's snapshots"),
    api(
        "/v1/snapshots",
        upload,
        ["PUT"],
        "Upload a snapshot file",
        raw_body="application/x-tar",
        status=201,
    ),
    api(
        "/v1/snapshots/{digest}",
        download,
        ["GET"],
        "Download a snapshot",
        produces="application/x-tar",
    ),
    api("/v1/workspaces", list_workspaces, ["GET"], "The caller's workspaces"),
    api("/v1/workspaces/{name}/log", ws_log, ["GET"], "A workspace's runs"),
    api(
        "/v1/workspaces/{name}/diff",
        ws_diff,
        ["GET"],
        "Changes between two runs",
        query={"a": "run number (default: the one before b)", "b": "run number (default: last)"},
    ),
]
