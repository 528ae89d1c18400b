"""``python -m pocketos.agent [--store PATH]``: the built-in agent as an ACP agent on stdio."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pocketos.agent",
        description="Run the pocketos agent as an ACP agent on stdio.",
    )
    ap.add_argument(
        "--store", help="SQLite file keeping conversations (enables session/load after a restart)"
    )
    args = ap.parse_args(argv)

    async def run() -> None:
        import acp

        from pocketos.agent.acp_agent import PocketAgent
        from pocketos.store import Store

        store = Store(args.store) if args.store else None
        agent: Any = PocketAgent(store=store)
        await acp.run_agent(agent)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
