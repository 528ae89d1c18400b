"""Host toolkits of a remote client: ``/v1/vms/{id}/tools/ws``.

A ``pocketos.remote`` client registers its Python toolkits over this WebSocket (names,
descriptions and JSON schemas, as a process VM's host sends them to its worker). The server
installs *proxy* toolkits in the VM, so ``pocketos-<kit> <tool> --flag v`` and agents see them as
local tools: the VM's own policy decides ``tool.invoke`` and audits each call, here on the
server. A call the policy allows becomes a ``{type: call, id, kit, tool, args}`` frame to the
client, which validates the arguments with the tool's real model, runs the function and
answers ``{type: result, id, ok, value | error}``.

The socket must stay open while the VM may call the tools; when it closes, calls fail with a
clear message until a client registers the toolkits again (the names stay taken). One client
serves a VM's remote toolkits at a time: the last one to register. Process VMs take their toolkits when their worker
starts, so registering here needs an in-process VM (501 otherwise).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketos.server.errors import ApiError, as_api_error, error_body
from pocketos.server.openapi import ws
from pocketos.server.registry import Hosted
from pocketos.server.state import vm_of

__all__ = ["routes", "ToolChannel"]

#: tools one VM may take from its client, in all its toolkits
MAX_TOOLS = 256
#: seconds a call waits for the client beyond the tool's own timeout
GRACE = 5.0
_KEY = "remote_tools"


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message}}


class ToolChannel:
    """The client connection serving one VM's remote toolkits, and the calls waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ws: WebSocket | None = None
        #: kit name -> tool name -> timeout (seconds, None for none)
        self.kits: dict[str, dict[str, float | None]] = {}
        self.pending: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def call_host(self, handle: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The proxy tools' way out (blocking; called from a worker thread, never the loop)."""
        kit, tool = str(payload.get("kit")), str(payload.get("tool"))
        sock = self.ws
        if sock is None:
            return _error(
                "ToolFailed", f"the client that registered toolkit {kit!r} is not connected"
            )
        cid = next(self._ids)
        fut: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self.pending[cid] = fut
        frame = {"type": "call", "id": cid, "kit": kit, "tool": tool, "args": payload.get("args")}

        async def send() -> None:
            try:
                await sock.send_json(frame)
            except Exception:
                self._settle(cid, _error("ToolFailed", "the client went away"))

        timeout = self.kits.get(kit, {}).get(tool)
        try:
            asyncio.run_coroutine_threadsafe(send(), self.loop)
            return fut.result(timeout=None if timeout is None else timeout + GRACE)
        except concurrent.futures.TimeoutError:
            return _error("ToolTimeout", f"the client did not answer within {timeout:g}s")
        except RuntimeError:  # the server's loop is closed
            return _error("ToolFailed", "the server is stopping")
        finally:
            self.pending.pop(cid, None)

    def _settle(self, cid: int, answer: dict[str, Any]) -> None:
        fut = self.pending.get(cid)
        if fut is not None and not fut.done():
            fut.set_result(answer)

    def answer(self, frame: dict[str, Any]) -> None:
        cid = frame.get("id")
        if not isinstance(cid, int):
            return
        if frame.get("ok"):
            value = frame.get("value")
            self._settle(cid, {"ok": True, "value": value if isinstance(value, str) else "null"})
        else:
            err = frame.get("error") if isinstance(frame.get("error"), dict) else {}
            assert isinstance(err, dict)
            kind, msg = str(err.get("type") or "ToolFailed"), str(err.get("message") or "")
            if kind not in ("ToolArgumentsInvalid", "ToolTimeout", "ToolFailed"):
                kind = "ToolFailed"  # the client cannot claim a denial or an interrupt
            self._settle(cid, _error(kind, msg or "the tool failed"))

    def gone(self, sock: WebSocket) -> None:
        if self.ws is sock:
            self.ws = None
            for cid in list(self.pending):
                self._settle(cid, _error("ToolFailed", "the client serving the tool went away"))

    async def aclose(self) -> None:
        self.ws = None
        for cid in list(self.pending):
            self._settle(cid, _error("ToolFailed", "the VM was closed"))


def _specs(frame: Any) -> list[dict[str, Any]]:
    if not isinstance(frame, dict) or frame.get("type") != "register":
        raise ApiError(422, "invalid_request", 'the first frame must be {"type": "register", ...}')
    specs = frame.get("toolkits")
    if not isinstance(specs, list) or not specs:
        raise ApiError(422, "invalid_request", "toolkits must be a non-empty list")
    n = 0
    for k in specs:
        if (
            not isinstance(k, dict)
            or not isinstance(k.get("name"), str)
            or not isinstance(k.get("tools"), list)
        ):
            raise ApiError(422, "invalid_request", "each toolkit needs a name and a list of tools")
        for t in k["tools"]:
            if (
                not isinstance(t, dict)
                or not isinstance(t.get("name"), str)
                or not isinstance(t.get("input_schema", {}), dict)
            ):
                raise ApiError(422, "invalid_request", "each tool needs a name and a schema")
        n += len(k["tools"])
    names = [k.get("name") for k in specs]
    if len(set(map(str, names))) != len(names):
        raise ApiError(422, "invalid_request", "toolkit names must differ")
    if n > MAX_TOOLS:
        raise ApiError(413, "limit_exceeded", f"{n} tools, more than {MAX_TOOLS}")
    return specs


async def _register(h: Hosted, specs: list[dict[str, Any]], sock: WebSocket) -> list[str]:
    from pocketos.isolation.guest import proxy_toolkits
    from pocketos.tools._runtime import get_host, install

    if not h.in_process:
        raise ApiError(
            501,
            "not_supported",
            "a remote client's toolkits need an in-process VM (isolation 'in-process'); a "
            "process VM takes its toolkits when its worker starts",
        )
    chan = h.extras.get(_KEY)
    if chan is None:
        chan = h.extras[_KEY] = ToolChannel(asyncio.get_running_loop())
    assert isinstance(chan, ToolChannel)
    try:
        kits = proxy_toolkits(specs, "remote", chan.call_host)
    except (ValueError, TypeError, KeyError) as exc:
        raise ApiError(422, "invalid_request", f"bad toolkit: {exc}")
    host = get_host(h.vm.kernel)
    taken = sorted(k.name for k in kits if host is not None and k.name in host.kits)
    clash = [n for n in taken if n not in chan.kits]
    if clash:
        raise ApiError(409, "conflict", f"VM {h.id} has toolkit(s) {', '.join(clash)} already")

    async def put() -> None:
        fresh = [k for k in kits if k.name not in chan.kits]
        if fresh:
            install(h.vm.kernel, fresh)
        mine = get_host(h.vm.kernel)
        assert mine is not None
        for k in kits:  # a client registering again may bring new schemas
            mine.kits[k.name] = k

    await h.run(put())
    for k in kits:
        chan.kits[k.name] = {t.name: t.timeout for t in k.tools.values()}
    old = chan.ws
    if old is not None:  # the last client to register serves; the one before is let go
        chan.gone(old)
        with contextlib.suppress(Exception):
            await old.close(1000, "another client registered the toolkits")
    chan.ws = sock
    return [k.name for k in kits]


async def tools_ws(websocket: WebSocket) -> None:
    h = await vm_of(websocket)
    await websocket.accept()
    try:
        try:
            names = await _register(
                h, _specs(json.loads(await websocket.receive_text())), websocket
            )
        except (ValueError, ApiError) as exc:
            err = as_api_error(exc)
            await websocket.send_json({"type": "error", **error_body(err.code, err.message)})
            await websocket.close()
            return
        chan = h.extras[_KEY]
        try:
            await websocket.send_json({"type": "registered", "toolkits": names})
            while True:
                with contextlib.suppress(ValueError, AttributeError):
                    msg = json.loads(await websocket.receive_text())
                    if isinstance(msg, dict) and msg.get("type") == "result":
                        chan.answer(msg)
        finally:
            chan.gone(websocket)
    except WebSocketDisconnect:
        return


routes = [
    ws("/v1/vms/{vm_id}/tools/ws", tools_ws, "Serve a client's host toolkits to the VM"),
]
