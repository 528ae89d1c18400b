"""Schemathesis against the served ``/openapi.json``: requests generated from the description of
every HTTP operation, sent to a real uvicorn on 127.0.0.1, never get a server error.

The number of examples per operation is bounded and the generation derandomized, so a run is
the same on every machine. Path parameters naming a VM point at a live VM (otherwise nearly
every request would stop at a 404); the VM is deleted last.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest

from tests.server import harness  # noqa: F401  (skips without the server extra)

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (it is in the dev extra)"
)

from hypothesis import HealthCheck, given, settings  # noqa: E402

EXAMPLES = 12


def _tar(data: Any) -> bytes:
    # generated bodies for application/x-tar: a real archive holding them as one file
    raw = data if isinstance(data, bytes) else repr(data).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("generated")
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


@schemathesis.serializer("application/x-tar")
def _tar_serializer(ctx: Any, value: Any) -> bytes:
    return _tar(value)


def test_generated_requests_never_get_a_server_error(serve) -> None:
    srv = serve(rate_limit=0)
    c = srv.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process"}).json()["id"]
    schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path.endswith("/ws"):
            continue  # WebSocket routes: tests/server/test_fuzz_routes.py and the ws tests
        ops.append(op)
    # deleting the VM last, so every other operation meets a live VM
    ops.sort(key=lambda op: (op.path == "/v1/vms/{vm_id}" and op.method == "delete", op.label))
    assert len(ops) > 30
    failures: list[str] = []
    for op in ops:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            if "vm_id" in (case.path_parameters or {}):
                case.path_parameters["vm_id"] = vid
            if case.query and "wait" in case.query:
                case.query["wait"] = "0"  # a long poll is allowed to wait: not what this tests
            resp = case.call(timeout=60)
            # 501 is a documented answer ("not supported"), never a crash
            if resp.status_code >= 500 and resp.status_code != 501:
                failures.append(f"{resp.status_code} {case.as_curl_command()}\n{resp.text[:300]}")

        check()
    assert failures == []
    assert c.get("/v1/health").json()["ok"] is True
