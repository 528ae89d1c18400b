"""Terminals: memory per idle terminal (in-process, and 1,000 concurrent idle WebSocket terminals
on a ``pocketos serve``), keystroke echo round trip with them all attached, vs ``bash -i`` on a
host pty.

Run: ``python -m bench.run --only console`` (or ``python -m bench.bench_console``).
"""

from __future__ import annotations

import os
import pty
import signal
import socket
import subprocess
import sys
import time

from bench.common import Result

IN_PROCESS = """
import asyncio, gc
from pocketos import AsyncVM

def rss():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024

async def main():
    vms = [AsyncVM() for _ in range(({count} + {per_vm} - 1) // {per_vm})]
    warm = vms[0].open_shell()
    await warm.read_until("$ ", 60)
    gc.collect()
    before = rss()
    terms = [vms[i // {per_vm}].open_shell() for i in range({count})]
    for t in terms:
        await t.read_until("$ ", 60)
    gc.collect()
    print((rss() - before) / {count})
    for t in [*terms, warm]:
        await t.close()
    for vm in vms:
        await vm.aclose()

asyncio.run(main())
"""

SERVER = """
import sys, uvicorn
from pocketos.server import ServerConfig, create_app
app = create_app(ServerConfig(isolation="in-process", rate_limit=0, max_vms_per_token=1000,
                              idle_timeout=0))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            ws_ping_interval=None)
"""


def _rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _pss_of(pid: int) -> int:
    """Proportional set size: shared pages (bash's text, libc) divided among their users."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def in_process(count: int, per_vm: int) -> float:
    code = IN_PROCESS.replace("{count}", str(count)).replace("{per_vm}", str(per_vm))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return float(p.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def websocket_terminals(count: int, per_vm: int, echoes: int) -> tuple[float, float, list[float]]:
    """(server RSS growth per terminal, seconds to open all, echo round trips with all open)."""
    import asyncio

    import httpx
    from websockets.asyncio.client import connect

    port = _free_port()
    srv = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or srv.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

        async def go() -> tuple[float, float, list[float]]:
            async with httpx.AsyncClient(base_url=base, timeout=120) as c:
                vms = [
                    (await c.post("/v1/vms", json={})).json()["id"]
                    for _ in range((count + per_vm - 1) // per_vm)
                ]
                # one terminal and a socket first, so the baseline has the code paths warm
                warm = await connect(f"ws://127.0.0.1:{port}/v1/vms/{vms[0]}/terminals/new/ws")
                await _until(warm, b"$ ")
                before = _rss_of(srv.pid)
                t0 = time.perf_counter()
                socks = []
                for i in range(count):
                    vid = vms[i // per_vm]
                    ws = await connect(
                        f"ws://127.0.0.1:{port}/v1/vms/{vid}/terminals/new/ws", max_size=None
                    )
                    socks.append(ws)
                for ws in socks:
                    await _until(ws, b"$ ")
                opened = time.perf_counter() - t0
                await asyncio.sleep(1.0)  # let the server settle before reading its RSS
                per = (_rss_of(srv.pid) - before) / count
                # a key typed on one terminal comes back while all the others stay attached
                rtts = []
                probe = socks[len(socks) // 2]
                for _ in range(echoes):
                    t = time.perf_counter()
                    await probe.send(b"x")
                    await _until(probe, b"x")
                    rtts.append(time.perf_counter() - t)
                for ws in [*socks, warm]:
                    await ws.close()
                return per, opened, rtts

        return asyncio.run(go())
    finally:
        srv.send_signal(signal.SIGINT)
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


async def _until(ws: object, marker: bytes) -> None:
    got = b""
    while marker not in got:
        msg = await ws.recv()  # type: ignore[attr-defined]
        if isinstance(msg, bytes):
            got += msg


def host_bash(count: int) -> float:
    """PSS per ``bash -i`` started on its own pty (what a terminal per agent costs on a host)."""
    procs = []
    try:
        for _ in range(count):
            pid, fd = pty.fork()
            if pid == 0:  # pragma: no cover - the child
                os.environ["PS1"] = "$ "
                os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
            procs.append((pid, fd))
        for _pid, fd in procs:
            got = b""
            while b"$ " not in got:
                got += os.read(fd, 4096)
        return sum(_pss_of(pid) for pid, _ in procs) / count
    finally:
        for pid, fd in procs:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)


def run(quick: bool = False) -> list[Result]:
    count = 200 if quick else 1000
    out: list[Result] = []
    per = in_process(count, 25)
    out.append(
        Result(
            "console",
            "memory per idle terminal",
            "pocketos",
            "bytes",
            value=per,
            note=f"{count} terminals, 25 per VM, in-process",
        )
    )
    bash = host_bash(50 if quick else 200)
    out.append(
        Result(
            "console",
            "memory per idle terminal",
            "bash -i on a pty",
            "bytes",
            value=bash,
            note="PSS of each bash",
        )
    )
    ws_per, opened, rtts = websocket_terminals(count, 25, 50 if quick else 200)
    out.append(
        Result(
            "console",
            "memory per idle WebSocket terminal",
            "pocketos",
            "bytes",
            value=ws_per,
            note=f"{count} sockets on 1 server, 25 terminals per VM",
        )
    )
    out.append(
        Result(
            "console",
            "open a WebSocket terminal",
            "pocketos",
            "s",
            value=opened / count,
            note=f"mean of {count}, to the first prompt",
        )
    )
    out.append(
        Result(
            "console",
            "key echo over WebSocket",
            "pocketos",
            "s",
            samples=rtts,
            note=f"{count} idle terminals attached",
        )
    )
    return out


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
