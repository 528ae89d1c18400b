"""Agent sessions over the Agent Client Protocol.

    session = await create_session(vm, "pocketos", cwd="/work")
    async for event in session.subscribe(): ...
    result = await session.prompt("write hello.txt")
    await session.close()

The VM is the ACP client: it serves ``fs/*`` and ``terminal/*`` from the VM (so everything
the agent does passes the VM's policy), routes ``session/request_permission`` through the
policy and the session's handler, numbers every event and keeps it in a store.
"""

from __future__ import annotations

from pocketos.sessions.agents import KNOWN_AGENTS, AgentSpec, UnknownAgent, resolve_agent
from pocketos.sessions.events import EVENT_KINDS, Event, EventLog
from pocketos.sessions.instructions import host_tools, os_instructions
from pocketos.sessions.permissions import PermissionAnswer, PermissionRouter, capability_for
from pocketos.sessions.session import (
    AgentCrashed,
    PromptResult,
    Session,
    SessionError,
    SyncSession,
    create_session,
    default_store,
    list_sessions,
    live_sessions,
    resume_session,
)

__all__ = [
    "EVENT_KINDS",
    "KNOWN_AGENTS",
    "AgentCrashed",
    "AgentSpec",
    "Event",
    "EventLog",
    "PermissionAnswer",
    "PermissionRouter",
    "PromptResult",
    "Session",
    "SessionError",
    "SyncSession",
    "UnknownAgent",
    "capability_for",
    "create_session",
    "default_store",
    "host_tools",
    "list_sessions",
    "live_sessions",
    "os_instructions",
    "resolve_agent",
    "resume_session",
]
