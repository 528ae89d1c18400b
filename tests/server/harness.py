"""A real uvicorn serving ``create_app`` on 127.0.0.1 (a free port), for httpx and websockets
clients. The suite skips with one line when the server extra is not installed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

for _mod in ("starlette", "uvicorn", "websockets"):
    pytest.importorskip(_mod, reason=f"the server extra is not installed ({_mod} is missing)")

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from pocketos.server import ServerConfig, Token, create_app  # noqa: E402

ALICE = "alice-token-123"
BOB = "bob-token-4567"
ROOT = "root-token-890"
TOKENS = [Token("alice", ALICE), Token("bob", BOB), Token("root", ROOT, admin=True)]


class Running:
    """One server in a thread: ``url``, ``ws_url``, ``client(token)``, ``stop()``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.app = create_app(config)
        # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto
        # says TCP, and an accepted socket inherits the listener's 0; without it every
        # response's body waited for the client's delayed ACK (40 ms a request)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="on", ws_max_size=1 << 24)
        )
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the server did not start: {self.error!r}")
            self.thread.join(0.01)
        self.clients: list[httpx.Client] = []

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.sock])

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - shown by the start loop
            self.error = exc

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    @property
    def state(self) -> Any:
        return self.app.state.pocketos

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)
        self.clients.append(c)
        return c

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()


@contextlib.contextmanager
def servers() -> Iterator[Callable[..., Running]]:
    """``start(**config)`` starts a server; all are stopped when the block ends."""
    started: list[Running] = []

    def start(**options: Any) -> Running:
        options.setdefault("isolation", "in-process")
        # no rate limit unless a test asks for one: how many requests a test gets through in a
        # second depends on the machine, and a 429 would fail it (or hide the route it tried)
        options.setdefault("rate_limit", 0)
        r = Running(ServerConfig(**options))
        started.append(r)
        return r

    try:
        yield start
    finally:
        for r in started:
            r.stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """``serve(**config)`` starts a server; all are stopped after the test."""
    with servers() as start:
        yield start


@pytest.fixture
def server(serve: Callable[..., Running]) -> Running:
    """A server without tokens (every caller is the local admin), in-process VMs by default."""
    return serve()


@pytest.fixture
def authed(serve: Callable[..., Running]) -> Running:
    """A server with tokens for alice, bob and an admin (root)."""
    return serve(tokens=list(TOKENS), rate_limit=0)


@pytest.fixture
def llm_server(serve: Callable[..., Running]) -> Callable[..., Any]:
    """``llm_server(replies, **config)`` -> (uvicorn server, scripted fake LLM on 127.0.0.1),
    the built-in agent pointed at it through the server's config, as in production."""
    from tests.agent.fake_llm import FakeServer

    def start(replies: list[Any], **options: Any) -> tuple[Running, Any]:
        return with_llm(serve(**options), FakeServer(replies))

    return start


def with_llm(srv: Running, llm: Any) -> tuple[Running, Any]:
    """Start the fake LLM ``llm`` on ``srv``'s loop and point the server's agent config at it."""
    srv.call(llm.__aenter__())
    srv.config.agent_config.update(
        {
            "provider": "openai",
            "base_url": llm.url + "/v1",
            "api_key": "k",
            "backoff": 0,
            "model": "gpt-4.1-mini",
        }
    )
    return srv, llm
