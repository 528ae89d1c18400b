"""How a process-isolated VM's options cross the pipe to its worker: the policy as plain data
(its permission handler stays in the host) and mounts as host paths or memory mounts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pocketos.kernel.permissions import Policy

__all__ = ["mount_spec", "policy_spec"]


def policy_spec(value: Any) -> tuple[Any, Any]:
    """The policy as it crosses the pipe, and the permission handler it carries (which stays
    in the host)."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, Policy):
        return dict(value.spec), value.handler
    if isinstance(value, Mapping):
        Policy.coerce(value, None)  # refuse a bad policy here, with the in-process message
        return dict(value), None
    raise TypeError(f"policy must be a dict or Policy, not {type(value).__name__}")


def mount_spec(path: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"host": os.path.abspath(spec)}
    if isinstance(spec, Mapping):
        out = dict(spec)
        if "backend" in out or "fsspec" in out:
            raise NotImplementedError(
                f"mount {path}: only host= and memory= mounts cross into a worker process"
            )
        if isinstance(out.get("host"), str):
            out["host"] = os.path.abspath(out["host"])
        return out
    raise NotImplementedError(
        f"mount {path}: only host= and memory= mounts cross into a worker process"
    )
