"""A host process for the durable-VM crash test: opens durable VM ``box`` in workspace store
WS, starts a built-in agent session on the session store STORE in "ask" mode and sends one
prompt. The first tool call is allowed; the second one prints ``IN TOOL`` and waits for ever,
so the test can SIGKILL the process after the first tool call changed the VM.

Run: python tests/agent/crash_child_durable.py STORE WS BASE_URL
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pocketos import AsyncVM
from pocketos.kernel.permissions import DEFAULT_POLICY
from pocketos.sessions import create_session


async def main() -> None:
    store, ws, base_url = sys.argv[1:4]
    policy = {
        **DEFAULT_POLICY,
        "fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/secret/**"]}]},
    }
    vm = AsyncVM.open("box", store=ws, autosave=False, policy=policy)
    asked = 0

    async def ask(req: Any) -> str:
        nonlocal asked
        asked += 1
        if asked == 1:
            return "allow_once"
        print("IN TOOL", flush=True)
        await asyncio.Event().wait()  # never answers: the test kills this process here
        return "allow_once"

    s = await create_session(
        vm,
        "pocketos",
        store=store,
        agent_config={
            "provider": "openai",
            "base_url": base_url,
            "api_key": "k",
            "model": "gpt-4.1-mini",
            "backoff": 0,
        },
        permission_handler=ask,
        permission_timeout=3600,
    )
    print("SESSION", s.id, flush=True)
    await s.set_mode("ask")
    await s.prompt("write hello.txt, then clean up")


asyncio.run(main())
