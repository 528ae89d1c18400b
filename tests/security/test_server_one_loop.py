"""An in-process server VM whose policy has ``ask`` rules: a terminal command and an exec that
change the same tree at the same time must not corrupt it.

The VM's file system has no lock of its own; it is safe only while every command of a VM runs
on one event loop. Here both sides create directories in one parent: each ``mkdir`` adds an
entry and bumps the parent's link count, so if the two ran on two threads at once an update
could be lost (a link count that no longer matches the entries, or a missing entry)."""

from __future__ import annotations

import json
import sys
import threading

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

from websockets.sync.client import connect  # noqa: E402

from tests.server.harness import servers  # noqa: E402

PROMPT = b"$ "
N = 5000
#: an ``ask`` rule nothing in this test meets: it only gives the VM a thread of its own
POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/home/user/asked/*"]}],
    },
    "child_process": "allow",
}


def _until(ws, marker: bytes) -> bytes:
    got = bytearray()
    while marker not in got:
        msg = ws.recv(timeout=120)
        if isinstance(msg, bytes):
            got += msg
    return bytes(got)


def test_a_terminal_and_an_exec_share_one_tree_safely() -> None:
    old = sys.getswitchinterval()
    # switch threads often, so that two threads working on the tree at once would interleave
    # inside its updates; with one loop per VM there is nothing to interleave
    sys.setswitchinterval(1e-5)
    try:
        with servers() as start:
            srv = start()
            c = srv.client()
            vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": POLICY}).json()["id"]
            c.post(f"/v1/vms/{vid}/mkdir/home/user/t")
            with connect(f"{srv.ws_url}/v1/vms/{vid}/terminals/new/ws") as ws:
                json.loads(ws.recv(timeout=120))
                _until(ws, PROMPT)
                box: dict[str, object] = {}

                def other() -> None:
                    script = f"for i in $(seq {N}); do mkdir /home/user/t/e$i; done; echo ok"
                    box["r"] = c.post(f"/v1/vms/{vid}/exec", json={"script": script})

                ws.send(
                    f'for i in $(seq {N}); do mkdir /home/user/t/s$i; done; echo EN""D\r'.encode()
                )
                t = threading.Thread(target=other)
                t.start()
                shown = _until(ws, b"END\r\n")
                t.join(300)
            assert b"error" not in shown, shown[-500:]
            r = box["r"].json()  # type: ignore[attr-defined]
            assert (r["stdout"], r["stderr"]) == ("ok\n", ""), r
            check = c.post(
                f"/v1/vms/{vid}/exec",
                json={"script": "ls /home/user/t | wc -l; stat -c %h /home/user/t"},
            ).json()
            assert check["stdout"].split() == [str(2 * N), str(2 * N + 2)], check
    finally:
        sys.setswitchinterval(old)
