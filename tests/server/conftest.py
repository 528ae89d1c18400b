"""The server fixtures (see harness.py). Without the server extra each test module skips with
one line saying what is missing."""

import importlib.util

if all(importlib.util.find_spec(m) for m in ("starlette", "uvicorn", "websockets")):
    from tests.server.harness import (  # noqa: F401
        ALICE,
        BOB,
        ROOT,
        TOKENS,
        Running,
        authed,
        llm_server,
        serve,
        server,
    )
