"""The VM state a session saw, kept with the session so that a resume finds it again.

A session that runs in a durable VM (``AsyncVM.open(name, store=…)``, docs/workspaces.md)
records which workspace holds the VM (``info.durable_vm`` in the session store), saves the VM
whenever the session's record is committed (the end of each tool call and of each prompt),
and ``resume_session(None, id)`` reopens that VM from the last save: its files, environment,
working directory and schedules, under the policy and limits it had.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from pocketos.kernel.limits import Limits

__all__ = ["durable_record", "save_durable", "reopen_vm"]


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _limits_changed(limits: Limits) -> dict[str, Any]:
    default = Limits()
    return {
        f.name: getattr(limits, f.name)
        for f in fields(Limits)
        if getattr(limits, f.name) != getattr(default, f.name)
    }


def durable_record(vm: Any, run: int | None = None) -> dict[str, Any] | None:
    """What the session store keeps about ``vm`` (None when it is not a durable VM): the
    workspace, the run that holds what the session last saw, the policy and the limits."""
    durable = getattr(vm, "_durable", None)
    if durable is None:
        return None
    rec: dict[str, Any] = {
        "name": durable.name,
        "store": durable.store.url,
        "run": durable.checkout.runs if run is None else run,
    }
    spec = getattr(vm.kernel.policy, "spec", None)
    if spec is not None and _jsonable(spec):
        rec["policy"] = spec
    limits = _limits_changed(vm.limits)
    if limits:
        rec["limits"] = limits
    return rec


def save_durable(vm: Any, message: str) -> dict[str, Any] | None:
    """Commit a durable VM's changes (nothing when none) and return its new record; None
    when ``vm`` is not durable. Errors propagate (the caller reports them)."""
    durable = getattr(vm, "_durable", None)
    if durable is None:
        return None
    run = durable.save(vm, message)
    return durable_record(vm, run.n if run is not None else None)


def reopen_vm(session_id: str, rec: dict[str, Any], **options: Any) -> Any:
    """Open the durable VM recorded with session ``session_id`` as it was last saved.
    ``options`` go to ``AsyncVM.open``; ``workspaces=`` overrides the workspace store, and
    ``policy=``/``limits=`` override the recorded ones. The VM does not save on close (the
    session saves it at its own points)."""
    from pocketos.sessions.errors import SessionError
    from pocketos.vm import AsyncVM

    info = (rec.get("info") or {}).get("durable_vm")
    if not isinstance(info, dict) or not info.get("name"):
        raise SessionError(
            f"session {session_id} did not run in a durable VM (AsyncVM.open): pass the VM "
            "to resume it in",
            "not_resumable",
        )
    store = options.pop("workspaces", None) or info.get("store")
    opts: dict[str, Any] = {"autosave": False}
    if info.get("policy") is not None:
        opts["policy"] = info["policy"]
    if info.get("limits"):
        opts["limits"] = info["limits"]
    opts.update(options)
    try:
        return AsyncVM.open(str(info["name"]), store=store, **opts)
    except Exception as exc:
        raise SessionError(
            f"cannot reopen the VM of session {session_id} (workspace {info['name']!r} in "
            f"{store}): {exc}",
            "not_resumable",
        ) from exc
