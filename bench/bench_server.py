"""``pocketos serve``: an exec round trip over HTTP and over a WebSocket vs the same exec on an
in-process VM and ``bash -c``; small execs per second from 64 concurrent clients; server memory
per idle exec WebSocket (1,000 open). The server runs in its own process (uvicorn, in-process
VMs, no rate limit), the clients in this one, on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.common import Result, timeit

SCRIPT = "echo hi"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = tempfile.TemporaryDirectory()
        cfg = os.path.join(self.dir.name, "server.toml")
        with open(cfg, "w") as fh:
            fh.write('isolation = "in-process"\nrate_limit = 0\nmax_vms_per_token = 0\n')
        env = {k: v for k, v in os.environ.items() if k != "POCKETOS_SERVER_TOKENS"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pocketos", "serve", "--port", str(self.port), "--config", cfg],
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stderr is not None
        for _ in range(5):  # the notes, then "listening" once the socket accepts
            line = self.proc.stderr.readline().decode()
            if "listening on" in line:
                break
            if not line:
                raise RuntimeError("the server did not start")
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.dir.cleanup()


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def _read_response(recv: Any, buf: bytearray) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length from a keep-alive connection."""
    while b"\r\n\r\n" not in buf:
        chunk = recv()
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    head, _, _ = bytes(buf).partition(b"\r\n\r\n")
    start = len(head) + 4
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(buf) < start + length:
        chunk = recv()
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    status = int(head.split(b" ", 2)[1])
    body = bytes(buf[start : start + length])
    del buf[: start + length]
    return status, body


def _round_trips(srv: _Server, n: int) -> list[Result]:
    import httpx
    from websockets.sync.client import connect

    from pocketos import VM

    out: list[Result] = []
    with VM() as vm:
        assert vm.exec(SCRIPT).stdout == "hi\n"
        out.append(
            Result(
                "server",
                "exec round trip (echo hi)",
                "pocketos",
                "s",
                timeit(lambda: vm.exec(SCRIPT), n),
                note="in-process VM, no server",
            )
        )
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        vid = c.post("/v1/vms", json={}).json()["id"]
        body = {"script": SCRIPT}

        def http_exec() -> None:
            r = c.post(f"/v1/vms/{vid}/exec", json=body)
            assert r.status_code == 200

        out.append(
            Result(
                "server",
                "exec round trip (echo hi)",
                "pocketos serve, HTTP (httpx client)",
                "s",
                timeit(http_exec, n),
                note="httpx.Client keep-alive, POST /exec",
            )
        )
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = _request("POST", f"/v1/vms/{vid}/exec", json.dumps(body).encode())
        buf = bytearray()

        def raw_exec() -> None:
            sock.sendall(req)
            status, _ = _read_response(lambda: sock.recv(65536), buf)
            assert status == 200

        out.append(
            Result(
                "server",
                "exec round trip (echo hi)",
                "pocketos serve, HTTP",
                "s",
                timeit(raw_exec, n),
                note="a plain keep-alive HTTP/1.1 socket, POST /exec",
            )
        )
        sock.close()
        with connect(f"{srv.ws}/v1/vms/{vid}/exec/ws") as ws:
            msg = json.dumps(body)

            def ws_exec() -> None:
                ws.send(msg)
                while json.loads(ws.recv())["type"] != "exit":
                    pass

            out.append(
                Result(
                    "server",
                    "exec round trip (echo hi)",
                    "pocketos serve, WebSocket",
                    "s",
                    timeit(ws_exec, n),
                    note="one socket, request frame -> stdout and exit frames",
                )
            )
    out.append(
        Result(
            "server",
            "exec round trip (echo hi)",
            "bash -c (subprocess)",
            "s",
            timeit(lambda: subprocess.run(["bash", "-c", SCRIPT], capture_output=True), n // 4, 5),
        )
    )
    return out


def _throughput(srv: _Server, clients: int, per_client: int) -> Result:
    import asyncio

    import httpx

    async def go() -> float:
        async with httpx.AsyncClient(base_url=srv.url, timeout=120) as c:
            vms = [(await c.post("/v1/vms", json={})).json()["id"] for _ in range(clients)]
        body = json.dumps({"script": SCRIPT}).encode()

        async def client(vid: str, count: int) -> None:
            # a plain keep-alive HTTP/1.1 connection per client, requests one after another
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            req = _request("POST", f"/v1/vms/{vid}/exec", body)
            buf = bytearray()
            try:
                for _ in range(count):
                    writer.write(req)
                    while True:
                        try:
                            status, _ = _read_response(_no_data, buf)
                            break
                        except _NeedData:
                            buf += await reader.read(65536)
                    assert status == 200
            finally:
                writer.close()

        await asyncio.gather(*(client(v, 2) for v in vms))  # warm up
        t = time.perf_counter()
        await asyncio.gather(*(client(v, per_client) for v in vms))
        elapsed = time.perf_counter() - t
        async with httpx.AsyncClient(base_url=srv.url, timeout=120) as c:
            for v in vms:
                await c.delete(f"/v1/vms/{v}")
        return clients * per_client / elapsed

    rate = asyncio.run(go())
    return Result(
        "server",
        f"small execs per second, {clients} concurrent clients (one VM and connection each)",
        "pocketos serve, HTTP",
        "req/s",
        value=rate,
        note=f"{clients * per_client} POST /exec of `echo hi`",
    )


class _NeedData(Exception):
    pass


def _no_data() -> bytes:
    raise _NeedData


def _idle_sockets(srv: _Server, count: int) -> Result:
    import asyncio

    import httpx
    from websockets.asyncio.client import connect

    async def go() -> float:
        async with httpx.AsyncClient(base_url=srv.url, timeout=120) as c:
            vid = (await c.post("/v1/vms", json={})).json()["id"]
        url = f"{srv.ws}/v1/vms/{vid}/exec/ws"
        warm = await connect(url)
        await warm.send(json.dumps({"script": SCRIPT}))
        while json.loads(await warm.recv())["type"] != "exit":
            pass
        await asyncio.sleep(0.5)
        before = _rss_of(srv.proc.pid)
        # connect() returns after the server's handshake answer: each socket is accepted and
        # its handler waits for a request
        socks = [await connect(url) for _ in range(count)]
        await asyncio.sleep(1.0)  # let the server settle before reading its RSS
        per = (_rss_of(srv.proc.pid) - before) / count
        for ws in socks + [warm]:
            await ws.close()
        return per

    per = asyncio.run(go())
    return Result(
        "server",
        f"memory per idle exec WebSocket ({count} open on 1 server)",
        "pocketos serve",
        "bytes",
        value=per,
        note="server RSS growth / sockets",
    )


def run(quick: bool = False) -> list[Result]:
    try:
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        print("# server: skipped (the server extra is not installed)", file=sys.stderr)
        return []
    srv = _Server()
    try:
        results = _round_trips(srv, 200 if quick else 2000)
        results.append(_throughput(srv, 64, 10 if quick else 50))
        results.append(_idle_sockets(srv, 200 if quick else 1000))
    finally:
        srv.close()
    return results
