"""``python -m pocketos.paperclip check``: the Python half of the adapter's
``testEnvironment``. Reports, as Paperclip checks (``code``, ``level``, ``message``, ``hint``),
whether the configuration parses and whether the model endpoint answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketos.paperclip.config import ConfigError, parse_config

__all__ = ["check"]


def _probe_models(base_url: str, api_key: str | None, provider: str) -> tuple[bool, str]:
    import httpx

    url = base_url.rstrip("/") + ("/v1/models" if provider == "anthropic" else "/models")
    headers = {}
    if api_key:
        if provider == "anthropic":
            headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
        else:
            headers = {"Authorization": f"Bearer {api_key}"}
    try:
        resp = httpx.get(url, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        return False, f"GET {url} failed: {type(exc).__name__}: {exc}"
    if resp.status_code >= 400:
        return False, f"GET {url} answered {resp.status_code}"
    return True, f"GET {url} answered {resp.status_code}"


def check(config: Mapping[str, Any], *, probe: bool = True) -> dict[str, Any]:
    import pocketos

    checks: list[dict[str, Any]] = [
        {
            "code": "pocketos_import",
            "level": "info",
            "message": f"pocketos {pocketos.__version__} imports",
        }
    ]
    try:
        cfg = parse_config(config)
    except ConfigError as exc:
        checks.append(
            {
                "code": "pocketos_config_invalid",
                "level": "error",
                "message": str(exc),
                "hint": "Fix the key named in the message; the policy may be an object or JSON "
                "text.",
            }
        )
        return {"checks": checks}
    checks.append(
        {
            "code": "pocketos_policy_ok",
            "level": "info",
            "message": "the policy parses; domains: "
            + ", ".join(
                f"{d}={v if isinstance(v, str) else 'rules'}" for d, v in cfg.policy.items()
            ),
        }
    )
    if cfg.agent != "pocketos":
        checks.append(
            {
                "code": "pocketos_acp_agent",
                "level": "info",
                "message": f"ACP agent command: {' '.join(cfg.acp_command)}",
            }
        )
        return {"checks": checks}
    from pocketos.agent import AgentConfig
    from pocketos.agent import ConfigError as AgentConfigError

    try:
        ac = AgentConfig.resolve({"model": cfg.model} if cfg.model else {}, cfg.env)
    except AgentConfigError as exc:
        checks.append({"code": "pocketos_agent_config", "level": "error", "message": str(exc)})
        return {"checks": checks}
    if not ac.api_key:
        checks.append(
            {
                "code": "pocketos_api_key_missing",
                "level": "warn",
                "message": "no API key for the model: set env.POCKETOS_API_KEY",
                "hint": "Bind POCKETOS_API_KEY to a Paperclip secret in the agent's env.",
            }
        )
    if probe:
        ok, msg = _probe_models(ac.base_url, ac.api_key, ac.provider)
        checks.append(
            {
                "code": "pocketos_model_endpoint" if ok else "pocketos_model_endpoint_unreachable",
                "level": "info" if ok else "warn",
                "message": msg,
                **(
                    {}
                    if ok
                    else {"hint": "Check env.POCKETOS_BASE_URL and that the host can reach it."}
                ),
            }
        )
    return {"checks": checks, "model": ac.model, "provider": ac.provider}
