"""A host process for the crash tests: starts a built-in agent session on a store file, puts
it in "ask" mode and sends one prompt. It prints ``SESSION <id>``, then ``IN TOOL`` when the
agent asks permission for a tool call (and waits there for ever), so the test can SIGKILL it
in the middle of a tool call.

Run: python tests/agent/crash_child.py STORE BASE_URL PROVIDER
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pocketos import AsyncVM
from pocketos.sessions import create_session


async def main() -> None:
    store, base_url, provider = sys.argv[1:4]
    vm = AsyncVM()

    async def ask(req: Any) -> str:
        print("IN TOOL", flush=True)
        await asyncio.Event().wait()  # never answers: the test kills this process here
        return "allow_once"

    s = await create_session(
        vm,
        "pocketos",
        store=store,
        agent_config={
            "provider": provider,
            "base_url": base_url,
            "api_key": "k",
            "model": "gpt-4.1-mini" if provider == "openai" else "claude-sonnet-4-5",
            "backoff": 0,
        },
        permission_handler=ask,
        permission_timeout=3600,
    )
    print("SESSION", s.id, flush=True)
    await s.set_mode("ask")
    await s.prompt("write hello.txt")


asyncio.run(main())
