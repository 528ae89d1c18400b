"""The server's configuration: where it listens, who may call it, what VMs may do.

A config file is TOML or JSON::

    host = "127.0.0.1"
    port = 8731
    store = "/var/lib/pocketos"
    isolation = "process"          # the default for new VMs; "in-process" is allowed
    cluster = "auto"               # VMs on a Ray cluster (docs/scale-out.md); "local" starts one
    idle_timeout = 900             # seconds an unused VM lives; 0 keeps VMs forever
    max_request_bytes = 16777216
    rate_limit = 50                # requests per second per token (burst = 2 x rate)
    ask_timeout = 30               # seconds an `ask` waits for its answer over the API
    agents = ["pocketos"]          # the agents a session may start
    [agent_config]                 # the built-in agent's provider settings
    base_url = "https://api.openai.com/v1"
    [[tokens]]
    name = "alice"
    token = "s3cret"
    admin = false
    [mounts]                       # the only host paths a VM may mount, by name
    datasets = { host = "/srv/datasets", mode = "ro" }

``$POCKETOS_SERVER_TOKENS`` adds tokens as ``name:token`` entries separated by commas
(``admin@name:token`` marks an admin token).
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ServerConfig", "Token", "ConfigError", "is_loopback"]

ISOLATIONS = ("process", "in-process")
MOUNT_MODES = ("ro", "rw", "overlay")


class ConfigError(ValueError):
    """A configuration that cannot be used (the message says which key and why)."""


@dataclass(frozen=True)
class Token:
    name: str
    token: str
    admin: bool = False


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8731
    store: str | None = None
    isolation: str = "process"
    #: a Ray address ("auto", "ray://head:10001", or "local" to start one): VMs then live on
    #: the cluster's VM hosts instead of in the server process
    cluster: str | None = None
    idle_timeout: float = 900.0
    max_request_bytes: int = 16 << 20
    rate_limit: float = 50.0
    max_vms_per_token: int = 64
    #: seconds an ``ask`` question waits for its answer over the API before it is denied
    ask_timeout: float = 30.0
    tokens: list[Token] = field(default_factory=list)
    #: name -> {"host": path, "mode": ro|rw|overlay}: the mounts a create request may name
    mounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the agents a session may start (the built-in one, or names of docs/sessions.md)
    agents: list[str] = field(default_factory=lambda: ["pocketos"])
    #: the built-in agent's settings (provider, base_url, api_key, model ...); a request may
    #: choose only ``model``, ``max_turns`` and ``max_tokens``
    agent_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise ConfigError(f"isolation must be one of {', '.join(ISOLATIONS)}")
        for key in ("idle_timeout", "rate_limit", "ask_timeout"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{key} must be a number >= 0, not {v!r}")
        for key in ("port", "max_request_bytes", "max_vms_per_token"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{key} must be an integer >= 0, not {v!r}")
        seen: set[str] = set()
        for t in self.tokens:
            if not t.token or len(t.token) < 8:
                raise ConfigError(f"token {t.name!r} is too short (8 characters at least)")
            if t.name in seen:
                raise ConfigError(f"token name {t.name!r} is given twice")
            seen.add(t.name)
        if not isinstance(self.agents, list) or not all(isinstance(a, str) for a in self.agents):
            raise ConfigError("agents must be a list of agent names")
        if not isinstance(self.agent_config, dict):
            raise ConfigError("agent_config must be a table")
        for name, spec in self.mounts.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("host"), str):
                raise ConfigError(f'mounts.{name} needs host = "/path"')
            mode = spec.setdefault("mode", "ro")
            if mode not in MOUNT_MODES:
                raise ConfigError(f"mounts.{name}.mode must be one of {', '.join(MOUNT_MODES)}")
            spec["host"] = os.path.abspath(spec["host"])

    @property
    def auth(self) -> bool:
        """True when callers must present a token."""
        return bool(self.tokens)

    def find_token(self, value: str) -> Token | None:
        import hmac

        found = None
        for t in self.tokens:
            # compare every token, in constant time, so timing tells nothing
            if hmac.compare_digest(t.token.encode(), value.encode()):
                found = t
        return found

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> ServerConfig:
        """The config from ``path`` (TOML or JSON), ``$POCKETOS_SERVER_TOKENS`` and
        ``overrides`` (None values are ignored), in that order."""
        data: dict[str, Any] = {}
        if path is not None:
            p = Path(path)
            try:
                raw = p.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
            try:
                if p.suffix == ".json":
                    data = json.loads(raw)
                else:
                    data = tomllib.loads(raw.decode())
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(f"config {p}: {exc}") from None
            if not isinstance(data, dict):
                raise ConfigError(f"config {p}: expected a table of settings")
        tokens = [_token(t, i) for i, t in enumerate(data.pop("tokens", []) or [])]
        environ = os.environ if env is None else env
        tokens += _env_tokens(environ.get("POCKETOS_SERVER_TOKENS", ""))
        known = set(cls.__dataclass_fields__) - {"tokens"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(tokens=tokens, **data)


def _token(value: Any, i: int) -> Token:
    if not isinstance(value, dict) or not isinstance(value.get("token"), str):
        raise ConfigError(f'tokens[{i}] needs token = "..."')
    extra = set(value) - {"name", "token", "admin"}
    if extra:
        raise ConfigError(f"tokens[{i}]: unknown key(s) {', '.join(sorted(extra))}")
    return Token(str(value.get("name") or f"token{i}"), value["token"], bool(value.get("admin")))


def _env_tokens(text: str) -> list[Token]:
    out = []
    for i, item in enumerate(x.strip() for x in text.split(",")):
        if not item:
            continue
        admin = item.startswith("admin@")
        if admin:
            item = item[len("admin@") :]
        name, sep, tok = item.partition(":")
        if not sep:
            name, tok = f"env{i}", item
        out.append(Token(name, tok, admin))
    return out


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
