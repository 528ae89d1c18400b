"""``/v1/vms``: create, list, get, delete, save; and the VM's pending ``ask`` permissions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketos import __version__
from pocketos.server.auth import principal_of
from pocketos.server.errors import ApiError
from pocketos.server.openapi import api
from pocketos.server.state import body_of, state_of, vm_of

__all__ = ["routes", "CreateVM"]


class MountRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    mode: Literal["ro", "rw", "overlay"] | None = None


class CreateVM(BaseModel):
    """A new VM. ``mounts`` name host folders of the server's config only."""

    model_config = ConfigDict(extra="forbid")
    isolation: Literal["process", "in-process"] | None = None
    policy: dict[str, Any] | Literal["allow", "deny"] | None = None
    limits: dict[str, Any] | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    mounts: dict[str, str | MountRef] | None = None
    snapshot: str | None = None
    workspace: str | None = None
    durable: bool | None = None
    name: str | None = None


class ForkVM(BaseModel):
    """Options of the new VM that differ from the parent's."""

    model_config = ConfigDict(extra="forbid")
    policy: dict[str, Any] | Literal["allow", "deny"] | None = None
    limits: dict[str, Any] | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None


class AddMount(BaseModel):
    """One of the server's named host folders, mounted at ``path``."""

    model_config = ConfigDict(extra="forbid")
    path: str
    name: str
    mode: Literal["ro", "rw", "overlay"] | None = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["allow", "allow_always", "deny"]


async def health(request: Request) -> Response:
    st = state_of(request)
    return JSONResponse(
        {"ok": True, "version": __version__, "auth": st.config.auth, "vms": len(st.registry.vms)}
    )


async def create_vm(request: Request) -> Response:
    body = await body_of(request, CreateVM)
    data = body.model_dump(exclude_none=True)
    if "mounts" in data:
        data["mounts"] = {
            p: (m if isinstance(m, str) else {k: v for k, v in m.items() if v is not None})
            for p, m in data["mounts"].items()
        }
    h = await state_of(request).registry.create(principal_of(request), data)
    return JSONResponse(await describe(h), status_code=201)


async def describe(h: Any) -> dict[str, Any]:
    out = h.to_dict()
    if h.vm is not None:
        out["mounts"] = await h.call("mounts")
        out["limits"] = {
            k: getattr(h.vm.limits, k) for k in ("timeout", "max_memory", "max_output_bytes")
        }
    return out


async def list_vms(request: Request) -> Response:
    hs = state_of(request).registry.visible(principal_of(request))
    return JSONResponse({"vms": [h.to_dict() for h in sorted(hs, key=lambda h: h.created)]})


async def get_vm(request: Request) -> Response:
    return JSONResponse(await describe(await vm_of(request)))


async def delete_vm(request: Request) -> Response:
    vm_id = request.path_params["vm_id"]
    await state_of(request).registry.delete(principal_of(request), vm_id)
    return JSONResponse({"id": vm_id, "deleted": True})


async def save_vm(request: Request) -> Response:
    h = await vm_of(request)
    info = await state_of(request).registry.save(h)
    run = info.to_dict() if info is not None else None
    return JSONResponse({"id": h.id, "workspace": h.durable, "saved": info is not None, "run": run})


async def fork_vm(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, ForkVM)
    reg = state_of(request).registry
    child = await reg.fork(principal_of(request), h, body.model_dump(exclude_none=True))
    return JSONResponse(await describe(child), status_code=201)


async def add_mount(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, AddMount)
    ref = {"name": body.name, "mode": body.mode} if body.mode else body.name
    await state_of(request).registry.mount(h, body.path, ref)
    return JSONResponse({"mounts": await h.call("mounts")})


async def list_permissions(request: Request) -> Response:
    h = await vm_of(request)
    raw = request.query_params.get("wait")
    if raw:
        try:
            wait = float(raw)
        except ValueError:
            raise ApiError(422, "invalid_request", f"?wait= must be seconds, not {raw!r}")
        if not 0 <= wait <= 300:
            raise ApiError(422, "invalid_request", "?wait= must be between 0 and 300 seconds")
        await _long_poll(request, h.permissions.changed, wait)
    return JSONResponse({"permissions": h.permissions.list()})


async def _long_poll(request: Request, event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set, ``seconds`` pass or the client goes away: a poll whose
    client left (a closed browser tab) would otherwise hold the server until its time is up,
    and a server that is stopping waits for every request it is serving."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds), asyncio.TaskGroup() as tg:
            waits = [tg.create_task(event.wait()), tg.create_task(disconnected())]
            for w in waits:  # the first to end ends the other
                w.add_done_callback(lambda _: [x.cancel() for x in waits])


async def answer_permission(request: Request) -> Response:
    h = await vm_of(request)
    body = await body_of(request, Decision)
    item = h.permissions.answer(request.path_params["perm_id"], body.decision)
    return JSONResponse({**item.to_dict(), "decision": body.decision})


routes = [
    api("/v1/health", health, ["GET"], "Liveness and version (no token needed)"),
    api("/v1/vms", create_vm, ["POST"], "Create a VM", body=CreateVM, status=201),
    api("/v1/vms", list_vms, ["GET"], "List the caller's VMs (an admin sees all)"),
    api("/v1/vms/{vm_id}", get_vm, ["GET"], "One VM"),
    api("/v1/vms/{vm_id}", delete_vm, ["DELETE"], "Close and forget a VM"),
    api("/v1/vms/{vm_id}/save", save_vm, ["POST"], "Commit a durable VM to its workspace"),
    api(
        "/v1/vms/{vm_id}/fork",
        fork_vm,
        ["POST"],
        "A new VM from this one's files",
        body=ForkVM,
        status=201,
    ),
    api(
        "/v1/vms/{vm_id}/mounts",
        add_mount,
        ["POST"],
        "Mount one of the server's named host folders",
        body=AddMount,
    ),
    api(
        "/v1/vms/{vm_id}/permissions",
        list_permissions,
        ["GET"],
        "Pending `ask` requests",
        query={"wait": "seconds to wait for one to be pending (long poll)"},
    ),
    api(
        "/v1/vms/{vm_id}/permissions/{perm_id}",
        answer_permission,
        ["POST"],
        "Answer a pending `ask` request",
        body=Decision,
    ),
]
