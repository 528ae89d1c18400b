"""The adapter configuration of a Paperclip agent, as the runner sees it: Paperclip's
``adapterConfig`` (resolved for the run) turned into a checked :class:`RunConfig`.

The policy arrives as an object (API) or as JSON text (the Paperclip UI's textarea); the simple
form fields ``writablePaths`` and ``allowedHosts`` expand into policy rules. Anything that does
not parse is a :class:`ConfigError` naming the key, never a silently open VM."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pocketos.kernel.permissions import DEFAULT_POLICY, Policy

__all__ = [
    "ConfigError",
    "RunConfig",
    "DEFAULT_WORKSPACE",
    "DEFAULT_ISOLATION",
    "ISOLATIONS",
    "build_policy",
    "parse_config",
]

#: the VM path of the execution workspace when the config names none
DEFAULT_WORKSPACE = "/workspace"
#: how the runner isolates the VM by default: in a worker process with hard limits (the agent
#: session and the Paperclip tools stay in the runner; see docs/isolation.md). "in-process"
#: stays selectable.
DEFAULT_ISOLATION = "process"
ISOLATIONS = ("in-process", "process")
#: the toolkit the runner installs; its tools are allowed unless the policy says otherwise
TOOLKIT = "paperclip"


class ConfigError(ValueError):
    """The adapter configuration cannot be used; the message names the key."""


@dataclass
class RunConfig:
    policy: dict[str, Any]
    workspace_path: str = DEFAULT_WORKSPACE
    model: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    agent: str = "pocketos"
    acp_command: list[str] = field(default_factory=list)
    state_dir: str | None = None
    isolation: str = DEFAULT_ISOLATION
    max_turns: int | None = None
    instructions: str = ""
    timeout_sec: float = 0.0


def _paths(value: Any, key: str) -> list[str]:
    """A list of strings from a list or from text separated by newlines or commas."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = [p.strip() for line in value.splitlines() for p in line.split(",")]
    elif isinstance(value, list):
        items = [p.strip() if isinstance(p, str) else p for p in value]
    else:
        raise ConfigError(f"{key}: expected a list of strings or text, not {type(value).__name__}")
    out = []
    for p in items:
        if not isinstance(p, str):
            raise ConfigError(f"{key}: entries must be strings")
        if p:
            out.append(p)
    return out


def _policy_object(value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"policy: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"policy: expected a JSON object, not {type(value).__name__}")
    return dict(value)


def build_policy(
    policy: Any = None,
    *,
    writable_paths: Any = None,
    allowed_hosts: Any = None,
) -> dict[str, Any]:
    """The VM policy of a run: the configured policy (object or JSON text), the form fields
    expanded into rules, and pocketos's defaults for the domains it leaves out (the VM's own
    world open, the network closed, host tools limited to the ``paperclip`` toolkit).
    Raises :class:`ConfigError` when anything does not parse."""
    spec = _policy_object(policy)
    for domain, default in DEFAULT_POLICY.items():
        if domain not in spec:
            spec[domain] = default
    if "tool" not in _policy_object(policy):
        spec["tool"] = {
            "default": "deny",
            "rules": [{"mode": "allow", "operations": ["invoke"], "patterns": [f"{TOOLKIT}:*"]}],
        }
    writable = _paths(writable_paths, "writablePaths")
    for p in writable:
        if not p.startswith("/"):
            raise ConfigError(f"writablePaths: {p!r} is not an absolute VM path")
    if writable:
        pats: list[str] = []
        for p in writable:
            norm = posixpath.normpath(p)
            pats += [norm] if norm.endswith("**") else [norm, norm.rstrip("/") + "/**"]
        spec["fs"] = _append_rules(
            spec["fs"],
            [
                {"mode": "deny", "operations": ["write"], "paths": ["/**"]},
                {"mode": "allow", "operations": ["write"], "paths": pats},
            ],
        )
    hosts = _paths(allowed_hosts, "allowedHosts")
    if hosts:
        spec["network"] = _append_rules(spec["network"], [{"mode": "allow", "hosts": hosts}])
    try:
        Policy(spec)
    except ValueError as exc:
        raise ConfigError(f"policy: {exc}") from None
    return spec


def _append_rules(domain: Any, rules: list[dict[str, Any]]) -> dict[str, Any]:
    if isinstance(domain, str):
        return {"default": domain, "rules": rules}
    if isinstance(domain, Mapping):
        out = dict(domain)
        out["rules"] = list(out.get("rules") or []) + rules
        return out
    raise ConfigError(f"policy: expected 'allow', 'deny' or {{default, rules}}, not {domain!r}")


def _int(value: Any, key: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a whole number, not {value!r}") from None
    if n < 0:
        raise ConfigError(f"{key}: must not be negative")
    return n


def parse_config(raw: Mapping[str, Any]) -> RunConfig:
    """Check Paperclip's ``adapterConfig`` for this run. Unknown keys are ignored (Paperclip
    adds its own, e.g. ``paperclipRuntimeSkills``)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("adapterConfig: expected an object")
    env_raw = raw.get("env")
    if env_raw is None or env_raw == "":
        env_raw = {}
    if not isinstance(env_raw, Mapping):
        raise ConfigError("env: expected an object of NAME: value")
    env: dict[str, str] = {}
    for k, v in env_raw.items():
        if isinstance(v, Mapping) and "value" in v:  # an unresolved plain binding
            v = v["value"]
        if not isinstance(v, (str, int, float, bool)):
            raise ConfigError(f"env.{k}: expected a string")
        env[str(k)] = str(v)
    ws = raw.get("workspacePath") or DEFAULT_WORKSPACE
    if not isinstance(ws, str) or not ws.startswith("/"):
        raise ConfigError(f"workspacePath: {ws!r} is not an absolute VM path")
    ws = posixpath.normpath(ws)
    if ws == "/":
        raise ConfigError("workspacePath: the VM root cannot be the workspace")
    agent = str(raw.get("agent") or "pocketos")
    acp: list[str] = []
    if agent not in ("pocketos", "acp"):
        raise ConfigError(f"agent: expected 'pocketos' or 'acp', not {agent!r}")
    if agent == "acp":
        cmd = raw.get("acpCommand")
        if isinstance(cmd, str):
            import shlex

            try:
                acp = shlex.split(cmd)
            except ValueError as exc:
                raise ConfigError(f"acpCommand: {exc}") from None
        elif isinstance(cmd, list) and all(isinstance(c, str) for c in cmd):
            acp = list(cmd)
        if not acp:
            raise ConfigError("acpCommand: agent 'acp' needs the command of an ACP agent")
    isolation = str(raw.get("isolation") or DEFAULT_ISOLATION)
    if isolation not in ISOLATIONS:
        raise ConfigError(f"isolation: expected one of {', '.join(ISOLATIONS)}, not {isolation!r}")
    state = raw.get("stateDir") or None
    if state is not None and (not isinstance(state, str) or not state.startswith("/")):
        raise ConfigError(f"stateDir: {state!r} is not an absolute host path")
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError("model: expected a string")
    timeout = raw.get("timeoutSec") or 0
    try:
        timeout_f = float(timeout)
    except (TypeError, ValueError):
        raise ConfigError(f"timeoutSec: expected a number, not {timeout!r}") from None
    instructions = raw.get("instructions") or ""
    if not isinstance(instructions, str):
        raise ConfigError("instructions: expected text")
    return RunConfig(
        policy=build_policy(
            raw.get("policy"),
            writable_paths=raw.get("writablePaths"),
            allowed_hosts=raw.get("allowedHosts"),
        ),
        workspace_path=ws,
        model=model or None,
        env=env,
        agent=agent,
        acp_command=acp,
        state_dir=state,
        isolation=isolation,
        max_turns=_int(raw.get("maxTurns"), "maxTurns"),
        instructions=instructions,
        timeout_sec=timeout_f,
    )
