"""What every endpoint reaches through ``request.app.state.pocketos``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from pydantic import BaseModel
from starlette.requests import HTTPConnection, Request

from pocketos.server.auth import Principal, principal_of
from pocketos.server.config import ServerConfig
from pocketos.server.errors import read_json
from pocketos.server.registry import Hosted, Registry

__all__ = ["ServerState", "state_of", "vm_of", "body_of"]


class ServerState:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.registry = Registry(config)
        #: work that outlives a request (background prompts); run under the lifespan's TaskGroup
        self.group: asyncio.TaskGroup | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        if self.group is None:
            coro.close()
            raise RuntimeError("the server is not running")
        task = self.group.create_task(_quiet(coro), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await self.registry.close()


async def _quiet(coro: Coroutine[Any, Any, Any]) -> Any:
    # a background job's failure is reported through its own channel (session events), never
    # by tearing down the task group every other job runs in
    with contextlib.suppress(Exception):
        return await coro


def state_of(conn: HTTPConnection) -> ServerState:
    st = conn.app.state.pocketos
    assert isinstance(st, ServerState)
    return st


async def vm_of(conn: HTTPConnection) -> Hosted:
    """The VM named by the path's ``vm_id``, if the caller may see it (else a 404)."""
    who: Principal = principal_of(conn)
    return await state_of(conn).registry.get(who, conn.path_params["vm_id"])


async def body_of(request: Request, model: type[Any]) -> Any:
    """The JSON body validated as ``model`` (422 with the first problem otherwise)."""
    data = await read_json(request)
    assert issubclass(model, BaseModel)
    return model.model_validate(data)
