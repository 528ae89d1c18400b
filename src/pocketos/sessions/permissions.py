"""Routing ``session/request_permission`` through the VM policy and the session's handler.

The agent's tool call is mapped to a capability by its kind (``read`` -> ``fs.read``,
``edit``/``delete``/``move`` -> ``fs.write``, ``execute`` -> ``child_process.spawn``,
``fetch`` -> ``network.fetch``, anything else -> ``tool.invoke``) and its first location (or
title) as the resource. The policy decides:

- ``deny``: answered "reject once" without asking anyone (source ``policy``);
- ``allow``, ``ask``, or a tool call the policy does not cover: the session's handler is
  asked, else the policy's handler (the agent asked on purpose, so a person or control plane
  that listens gets the question). The handler returns ``"allow_once"``, ``"allow_always"``,
  ``"reject_once"``, ``"reject_always"`` (or ``True``/``False``, or an option id). No answer
  within the timeout rejects (source ``timeout``), so does a handler that raises (source
  ``error``). With no handler at all, ``allow`` is answered "allow once" (source
  ``policy``) and everything else gets the session's ``permission_default`` (``"reject"``
  unless set, source ``default``).

"Allow always" and "reject always" are remembered for the rest of the session, keyed by
capability and resource.
"""

from __future__ import annotations

import asyncio
import inspect
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pocketos.kernel.permissions import PermissionRequest, network_resource

__all__ = ["PermissionRouter", "PermissionAnswer", "capability_for"]

_KIND_CAP = {
    "read": ("fs", "read"),
    "search": ("fs", "read"),
    "edit": ("fs", "write"),
    "delete": ("fs", "write"),
    "move": ("fs", "write"),
    "execute": ("child_process", "spawn"),
    "fetch": ("network", "fetch"),
}


def capability_for(tool_call: dict[str, Any]) -> tuple[str, str, str]:
    """(domain, operation, resource) for an ACP tool call."""
    kind = tool_call.get("kind") or "other"
    domain, op = _KIND_CAP.get(kind, ("tool", "invoke"))
    resource = ""
    locs = tool_call.get("locations") or []
    if locs and isinstance(locs[0], dict):
        resource = str(locs[0].get("path", ""))
    if not resource:
        raw = tool_call.get("rawInput")
        if isinstance(raw, dict):
            for key in ("path", "file_path", "command", "url"):
                if raw.get(key):
                    resource = str(raw[key])
                    break
    if not resource:
        resource = str(tool_call.get("title") or tool_call.get("toolCallId") or "")
    if domain == "child_process":
        # the policy speaks of command names
        resource = resource.split()[0].rsplit("/", 1)[-1] if resource.split() else resource
    return domain, op, resource


@dataclass
class PermissionAnswer:
    decision: str  # allow_once | allow_always | reject_once | reject_always | cancelled
    option_id: str | None
    source: str  # policy | handler | remembered | timeout | default | cancelled | error


def _pick(options: list[dict[str, Any]], *kinds: str) -> str | None:
    for kind in kinds:
        for opt in options:
            if opt.get("kind") == kind:
                return str(opt.get("optionId"))
    return None


def _normalize(answer: Any, options: list[dict[str, Any]]) -> tuple[str, str | None]:
    """Map a handler's answer to (decision, option id)."""
    value = getattr(answer, "value", answer)
    if isinstance(value, bool):
        value = "allow_once" if value else "reject_once"
    text = str(value).strip().lower() if value is not None else "reject_once"
    ids = {str(o.get("optionId")): str(o.get("kind")) for o in options}
    if str(value) in ids:
        return ids[str(value)], str(value)
    aliases = {
        "allow": "allow_once",
        "once": "allow_once",
        "yes": "allow_once",
        "always": "allow_always",
        "true": "allow_once",
        "reject": "reject_once",
        "deny": "reject_once",
        "no": "reject_once",
        "false": "reject_once",
        "never": "reject_always",
        "deny_always": "reject_always",
    }
    decision = aliases.get(text, text)
    if decision not in ("allow_once", "allow_always", "reject_once", "reject_always"):
        decision = "reject_once"
    if decision == "allow_always":
        oid = _pick(options, "allow_always", "allow_once")
    elif decision == "allow_once":
        oid = _pick(options, "allow_once", "allow_always")
    elif decision == "reject_always":
        oid = _pick(options, "reject_always", "reject_once")
    else:
        oid = _pick(options, "reject_once", "reject_always")
    return decision, oid


class PermissionRouter:
    def __init__(
        self,
        vm: Any,
        *,
        handler: Callable[[PermissionRequest], Any] | None,
        timeout: float = 60.0,
        default: str = "reject",
        session_id: str = "",
    ) -> None:
        self.vm = vm
        self.session_id = session_id  # the pocketos session (``ses-…``) asking
        self.handler = handler
        self.timeout = timeout
        if default not in ("reject", "allow_once", "allow_always"):
            raise ValueError("permission_default must be reject, allow_once or allow_always")
        self.default = default
        self.remembered: dict[tuple[str, str, str], str] = {}

    def _policy_decision(self, domain: str, op: str, resource: str) -> str:
        policy = self.vm.policy
        if domain == "tool" and resource and ":" not in resource:
            # an agent-side tool the VM policy knows nothing about
            return "ask"
        try:
            if domain == "network":
                # decided on the URL as the gateway would send it, like the gateway does
                host, extra = network_resource(resource)
                return str(policy.decide(domain, op, host, extra))
            if domain == "fs" and resource.startswith("/"):
                resource = posixpath.normpath(resource).replace("//", "/")
            return str(policy.decide(domain, op, resource))
        except Exception:
            return "ask"

    def _request(
        self, session_id: str, tool_call: dict[str, Any], options: list[dict[str, Any]]
    ) -> PermissionRequest:
        domain, op, resource = capability_for(tool_call)
        return PermissionRequest(
            domain,
            op,
            resource,
            getattr(self.vm, "id", ""),
            None,
            {
                "session_id": self.session_id or session_id,
                "agent_session_id": session_id,
                "tool_call": tool_call,
                "options": options,
                "title": tool_call.get("title"),
            },
        )

    def _settled(
        self, req: PermissionRequest, options: list[dict[str, Any]]
    ) -> tuple[PermissionAnswer | None, Callable[[PermissionRequest], Any] | None]:
        """The answer when no handler needs asking, else (None, the handler)."""
        key = (req.domain, req.operation, req.resource)
        if key in self.remembered:
            d = self.remembered[key]
            kind = "allow_once" if d.startswith("allow") else "reject_once"
            return PermissionAnswer(d, _pick(options, kind, d), "remembered"), None
        decision = self._policy_decision(req.domain, req.operation, req.resource)
        if decision == "deny":
            return PermissionAnswer(
                "reject_once", _pick(options, "reject_once", "reject_always"), "policy"
            ), None
        handler = self.handler or getattr(self.vm.policy, "handler", None)
        if handler is None and decision == "allow":
            return PermissionAnswer(
                "allow_once", _pick(options, "allow_once", "allow_always"), "policy"
            ), None
        if handler is None:
            d, oid = _normalize(self.default, options)
            return PermissionAnswer(d, oid, "default"), None
        return None, handler

    def decide_now(
        self, session_id: str, tool_call: dict[str, Any], options: list[dict[str, Any]]
    ) -> tuple[PermissionAnswer, PermissionRequest] | None:
        """The answer when it needs nobody (remembered, policy, default); ``None`` when the
        handler must be asked (then use :meth:`decide`)."""
        req = self._request(session_id, tool_call, options)
        answer, _ = self._settled(req, options)
        return None if answer is None else (answer, req)

    async def decide(
        self, session_id: str, tool_call: dict[str, Any], options: list[dict[str, Any]]
    ) -> tuple[PermissionAnswer, PermissionRequest]:
        req = self._request(session_id, tool_call, options)
        key = (req.domain, req.operation, req.resource)
        answer, handler = self._settled(req, options)
        if answer is not None or handler is None:
            assert answer is not None
            return answer, req
        try:
            res = handler(req)
            if inspect.isawaitable(res):
                res = await asyncio.wait_for(res, self.timeout)
        except TimeoutError:
            return PermissionAnswer(
                "reject_once", _pick(options, "reject_once", "reject_always"), "timeout"
            ), req
        except Exception:
            return PermissionAnswer(
                "reject_once", _pick(options, "reject_once", "reject_always"), "error"
            ), req
        d, oid = _normalize(res, options)
        if d in ("allow_always", "reject_always"):
            self.remembered[key] = d
        return PermissionAnswer(d, oid, "handler"), req
