"""Configuration of the built-in agent: provider, endpoint, key, model and limits, from an
explicit mapping, the session's environment, then the host environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AgentConfig", "ConfigError", "ENV_VARS"]

#: every environment variable the built-in agent reads
ENV_VARS = (
    "POCKETOS_PROVIDER",
    "POCKETOS_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "POCKETOS_BASE_URL",
    "POCKETOS_MODEL",
    "POCKETOS_MAX_TURNS",
    "POCKETOS_MAX_TOKENS",
)

DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5"}
DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class ConfigError(ValueError):
    pass


@dataclass
class AgentConfig:
    provider: str = "openai"
    model: str = DEFAULT_MODELS["openai"]
    base_url: str = DEFAULT_URLS["openai"]
    api_key: str | None = None
    max_turns: int = 50
    max_tokens: int = 4096
    temperature: float | None = None
    retries: int = 4
    backoff: float = 0.5
    request_timeout: float = 60.0
    context_window: int = 200_000
    models: list[str] = field(default_factory=list)
    prices: dict[str, tuple[float, float]] | None = None
    system_prompt: str | None = None

    @classmethod
    def resolve(
        cls, config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> AgentConfig:
        """Explicit ``config`` keys win, then ``env``, then the host environment."""
        cfg = dict(config or {})
        senv = dict(env or {})

        def get(name: str) -> str | None:
            v = senv.get(name)
            if v is None:
                v = os.environ.get(name)
            return v or None

        provider = cfg.get("provider") or get("POCKETOS_PROVIDER")
        if provider is None:
            has_openai = get("OPENAI_API_KEY") is not None
            provider = "anthropic" if get("ANTHROPIC_API_KEY") and not has_openai else "openai"
        provider = str(provider).lower()
        if provider not in ("openai", "anthropic"):
            raise ConfigError(
                f"unknown provider {provider!r}: use 'openai' (any "
                f"OpenAI-compatible Chat Completions endpoint) or 'anthropic'"
            )
        key = (
            cfg.get("api_key")
            or get("POCKETOS_API_KEY")
            or get("ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY")
        )
        out = cls(
            provider=provider,
            model=str(cfg.get("model") or get("POCKETOS_MODEL") or DEFAULT_MODELS[provider]),
            base_url=str(cfg.get("base_url") or get("POCKETOS_BASE_URL") or DEFAULT_URLS[provider]),
            api_key=key,
        )
        for name, kind in (
            ("max_turns", int),
            ("max_tokens", int),
            ("retries", int),
            ("request_timeout", float),
        ):
            v = cfg.get(name)
            if v is None:
                v = get(f"POCKETOS_{name.upper()}")
            if v is not None:
                try:
                    setattr(out, name, kind(v))
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"{name} must be a number, got {v!r} (POCKETOS_{name.upper()})"
                    ) from None
        for name in (
            "temperature",
            "backoff",
            "context_window",
            "models",
            "prices",
            "system_prompt",
        ):
            if cfg.get(name) is not None:
                setattr(out, name, cfg[name])
        return out

    def require_key(self) -> str:
        if not self.api_key:
            which = "ANTHROPIC_API_KEY" if self.provider == "anthropic" else "OPENAI_API_KEY"
            raise ConfigError(
                f"no API key configured for the built-in agent ({self.provider} provider): "
                f"set POCKETOS_API_KEY (or {which}); optionally POCKETOS_BASE_URL, "
                f"POCKETOS_MODEL and POCKETOS_PROVIDER=openai|anthropic"
            )
        return self.api_key
