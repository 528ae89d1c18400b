"""An ACP agent for the security tests, run as a host process: each prompt is a JSON list of
``[method, params]`` client calls; the agent sends them exactly as given (raw JSON-RPC, so
malformed params reach the client too) and replies with one JSON line per call:
``{"result": ...}`` or ``{"error": {"code", "message", "data"}}``.

Run: python tests/sessions/probe_agent.py
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import acp
from acp import InitializeResponse, NewSessionResponse, PromptResponse, update_agent_message_text
from acp.schema import AgentCapabilities, Implementation


class ProbeAgent:
    def __init__(self) -> None:
        self.conn: Any = None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: Any = None,
        client_info: Any = None,
        **kw: Any,
    ) -> InitializeResponse:
        return InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(),
            agent_info=Implementation(name="probe", version="1"),
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> NewSessionResponse:
        return NewSessionResponse(session_id="p-" + uuid.uuid4().hex[:8])

    async def cancel(self, session_id: str, **kw: Any) -> None:
        return None

    async def prompt(self, prompt: list[Any], session_id: str, **kw: Any) -> PromptResponse:
        texts = [b.text for b in prompt if getattr(b, "type", None) == "text"]
        calls = json.loads(texts[-1])
        out: list[dict[str, Any]] = []
        for method, params in calls:
            params = {"sessionId": session_id, **params}
            if method == "session/update":  # a notification: no answer
                await self.conn._conn.send_notification(method, params)
                out.append({"result": None})
                continue
            try:
                out.append({"result": await self.conn._conn.send_request(method, params)})
            except acp.RequestError as exc:
                out.append({"error": {"code": exc.code, "message": str(exc), "data": exc.data}})
        await self.conn.session_update(
            session_id=session_id,
            update=update_agent_message_text("\n".join(json.dumps(o, sort_keys=True) for o in out)),
        )
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    asyncio.run(acp.run_agent(ProbeAgent()))  # type: ignore[arg-type]
