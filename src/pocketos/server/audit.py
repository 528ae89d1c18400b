"""``GET /v1/vms/{id}/audit``: the VM's audit log, filtered.

Filters (all optional, combined): ``kind`` (permission, mount, tool, network, process ...),
``capability`` (``fs.read``; ``fs.*`` for a domain), ``decision`` (allow, deny, ask),
``since`` (a Unix time), ``after`` (a sequence number) and ``limit`` (the newest N).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketos.server.errors import ApiError
from pocketos.server.openapi import api
from pocketos.server.state import vm_of

__all__ = ["routes"]


def _number(request: Request, name: str, kind: type) -> float | int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        v = kind(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"?{name}= must be a number, not {raw!r}")
    if v < 0:
        raise ApiError(422, "invalid_request", f"?{name}= must be >= 0")
    return v  # type: ignore[no-any-return]


async def audit(request: Request) -> Response:
    h = await vm_of(request)
    q = request.query_params
    since = _number(request, "since", float)
    after = _number(request, "after", int)
    limit = _number(request, "limit", int)
    kind = q.get("kind") or None
    cap = q.get("capability") or None
    decision = q.get("decision") or None
    events = await h.call("audit_log", since, kind)
    out = []
    for ev in events:
        if after is not None and ev.seq <= after:
            continue
        if decision is not None and ev.decision != decision:
            continue
        if cap is not None:
            if cap.endswith(".*"):
                if not ev.capability.startswith(cap[:-1]):
                    continue
            elif ev.capability != cap:
                continue
        out.append(ev.to_dict())
    if limit is not None:
        out = out[-int(limit) :] if limit else []
    return JSONResponse({"events": out})


routes = [
    api(
        "/v1/vms/{vm_id}/audit",
        audit,
        ["GET"],
        "The VM's audit log",
        query={
            "kind": "event kind",
            "capability": "fs.read, or fs.* for a domain",
            "decision": "allow | deny | ask",
            "since": "Unix time",
            "after": "sequence number",
            "limit": "the newest N",
        },
    )
]
