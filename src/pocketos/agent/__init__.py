"""The built-in pocketos agent: a coding agent that acts only through its VM, speaking ACP.

In a VM: ``await create_session(vm, "pocketos")``. As a standalone ACP agent over stdio:
``python -m pocketos.agent [--store PATH]``. From a terminal: ``pocketos agent "prompt"``
(:func:`pocketos.agent.cli.main`).
"""

from __future__ import annotations

from pocketos.agent.acp_agent import BASE_PROMPT, MODES, PocketAgent
from pocketos.agent.config import ENV_VARS, AgentConfig, ConfigError
from pocketos.agent.pricing import PRICES, estimate_cost
from pocketos.agent.providers import (
    AnthropicProvider,
    Completion,
    OpenAIProvider,
    Provider,
    ProviderError,
    make_provider,
)
from pocketos.agent.tools import BUILTIN_TOOLS, ToolSpec

__all__ = [
    "BASE_PROMPT",
    "BUILTIN_TOOLS",
    "ENV_VARS",
    "MODES",
    "PRICES",
    "AgentConfig",
    "AnthropicProvider",
    "Completion",
    "ConfigError",
    "OpenAIProvider",
    "PocketAgent",
    "Provider",
    "ProviderError",
    "ToolSpec",
    "estimate_cost",
    "make_provider",
]
