"""Which agent a session runs: the built-in ``pocketos`` agent or an external ACP command."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KNOWN_AGENTS", "AgentSpec", "resolve_agent", "UnknownAgent"]

#: ready entries: name -> argv of an ACP agent speaking over stdio
KNOWN_AGENTS: dict[str, list[str]] = {
    "claude-code": ["claude-code-acp"],
    "claude-code-acp": ["claude-code-acp"],
    "codex": ["codex-acp"],
    "codex-acp": ["codex-acp"],
    "gemini": ["gemini", "--acp"],
    "pi": ["pi-acp"],
    "pi-acp": ["pi-acp"],
    "opencode": ["opencode", "acp"],
    "goose": ["goose", "acp"],
}

BUILTIN = "pocketos"


class UnknownAgent(ValueError):
    pass


@dataclass
class AgentSpec:
    """``name`` is what the store records; ``argv`` is None for the in-process agent."""

    name: str
    argv: list[str] | None
    config: dict[str, Any] | None = None

    @property
    def builtin(self) -> bool:
        return self.argv is None


def resolve_agent(
    agent: str | Sequence[str] | AgentSpec, config: dict[str, Any] | None = None
) -> AgentSpec:
    """``"pocketos"`` (in-process built-in agent), a name from :data:`KNOWN_AGENTS`, or an
    argv list (any ACP agent command)."""
    if isinstance(agent, AgentSpec):
        return agent
    if isinstance(agent, str):
        if agent == BUILTIN:
            return AgentSpec(BUILTIN, None, config)
        if agent in KNOWN_AGENTS:
            return AgentSpec(agent, list(KNOWN_AGENTS[agent]), config)
        known = ", ".join([BUILTIN, *sorted(KNOWN_AGENTS)])
        raise UnknownAgent(
            f"unknown agent {agent!r}; known agents: {known} "
            f"(or pass an argv list to run any ACP agent command)"
        )
    argv = [str(a) for a in agent]
    if not argv:
        raise UnknownAgent("agent argv is empty")
    return AgentSpec(argv[0].rsplit("/", 1)[-1], argv, config)


def find_executable(argv: list[str]) -> str:
    """The absolute path of ``argv[0]`` on the host, or a clear FileNotFoundError."""
    exe = argv[0]
    if "/" in exe:
        return exe
    found = shutil.which(exe)
    if found is None:
        raise FileNotFoundError(
            f"agent command {exe!r} is not installed on the host (not found on PATH)"
        )
    return found
