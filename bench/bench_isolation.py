"""Process-isolated VMs: create from a warm pool, exec round trip, a host tool call and an
agent session turn (the built-in agent against a fake OpenAI server on 127.0.0.1, one bash
tool call per turn), vs in-process and bash -c."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.common import Result, timeit

PROCESS = "pocketos process"


def _wait_warm(pool: Any, want: int = 1) -> None:
    """Block (outside the timed region) until the pool has a started, ready worker."""
    while pool.warm < want:
        time.sleep(0.01)
    with pool._lock:
        idle = list(pool._idle)
    for w in idle:
        w.wait_ready()


def _timed(make: Callable[[], Any], before: Callable[[], None], n: int) -> list[float]:
    out: list[float] = []
    pc = time.perf_counter
    for _ in range(n):
        before()
        t = pc()
        vm = make()
        out.append(pc() - t)
        closer = threading.Thread(target=vm.close)
        closer.start()
        closer.join()
    return out


def _tool_and_session_rows(quick: bool) -> list[Result]:
    """A host tool call from the VM's shell, and one session turn (model request, a bash tool
    call in a terminal, model request), in-process and through a worker."""
    import asyncio

    from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

    from pocketos import AsyncVM
    from pocketos.isolation import WorkerPool
    from pocketos.sessions import create_session
    from pocketos.store import Store
    from pocketos.tools import Toolkit

    kit = Toolkit("kit", "bench tools")

    @kit.tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    n_tool = 50 if quick else 300
    n_turn = 20 if quick else 100
    policy = {"fs": "allow", "child_process": "allow", "tool": "allow", "env": "allow"}
    out: list[Result] = []

    async def measure(vm: Any, system: str) -> None:
        pc = time.perf_counter
        r = await vm.exec("pocketos-kit ping")
        assert r.stdout == '{"ok": true, "result": "pong"}\n', r.stdout + r.stderr
        samples = []
        for _ in range(n_tool):
            t = pc()
            await vm.exec("pocketos-kit ping")
            samples.append(pc() - t)
        out.append(Result("isolation", "host tool call (exec)", system, "s", samples))
        replies = []
        for i in range(n_turn + 1):
            replies += [openai_tool("bash", {"command": "echo hi"}, f"c{i}"), openai_text("ok")]
        async with FakeServer(replies) as srv:
            cfg = {"base_url": srv.url + "/v1", "api_key": "k", "model": "gpt-4.1-mini"}
            s = await create_session(vm, "pocketos", store=Store(":memory:"), agent_config=cfg)
            assert (await s.prompt("go")).text == "ok"
            samples = []
            for _ in range(n_turn):
                t = pc()
                await s.prompt("go")
                samples.append(pc() - t)
            await s.close()
        out.append(
            Result(
                "isolation",
                "session turn (2 model requests, 1 bash tool call)",
                system,
                "s",
                samples,
            )
        )

    async def main() -> None:
        vm = AsyncVM(policy=policy, toolkits=[kit])
        await measure(vm, "pocketos")
        await vm.aclose()
        with WorkerPool(1) as pool:
            pvm = AsyncVM(isolation="process", pool=pool, policy=policy, toolkits=[kit])
            await measure(pvm, PROCESS)
            await pvm.aclose()

    asyncio.run(main())
    return out


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM
    from pocketos.isolation import WorkerPool

    out: list[Result] = []
    n_pool = 10 if quick else 40
    n_exec = 300 if quick else 3000
    n_sub = 100 if quick else 500

    VM().close()
    out.append(Result("isolation", "create VM", "pocketos", "s", timeit(lambda: VM(), n_exec * 3)))
    with WorkerPool(1) as pool:
        samples = _timed(
            lambda: VM(isolation="process", pool=pool), lambda: _wait_warm(pool), n_pool
        )
        out.append(
            Result(
                "isolation",
                "create VM",
                PROCESS,
                "s",
                samples,
                note="one worker per VM, from a warm pool",
            )
        )
    with WorkerPool(1, vms_per_worker=10_000) as pool:
        VM(isolation="process", pool=pool)  # the shared worker, kept open
        shared = [VM(isolation="process", pool=pool) for _ in range(10)]
        t = timeit(lambda: shared.append(VM(isolation="process", pool=pool)), n_exec // 3)
        out.append(Result("isolation", "create VM", PROCESS + " (shared worker)", "s", t))
    with WorkerPool(0) as pool:
        cold = _timed(lambda: VM(isolation="process", pool=pool), lambda: None, 3 if quick else 5)
        out.append(
            Result("isolation", "create VM", PROCESS + " (no pool)", "s", cold, note="cold start")
        )
    out.append(
        Result(
            "isolation",
            "create VM",
            "bash -c (subprocess)",
            "s",
            timeit(lambda: subprocess.run(["/bin/bash", "-c", "true"], check=True), n_sub),
            note="process start only",
        )
    )

    script = "echo hello"
    with VM() as vm:
        out.append(
            Result(
                "isolation",
                "exec round trip",
                "pocketos",
                "s",
                timeit(lambda: vm.exec(script), n_exec),
            )
        )
    with WorkerPool(1) as pool, VM(isolation="process", pool=pool) as pvm:
        assert pvm.exec(script).stdout == "hello\n"
        out.append(
            Result(
                "isolation",
                "exec round trip",
                PROCESS,
                "s",
                timeit(lambda: pvm.exec(script), n_exec),
            )
        )
        pvm.write_file("/data.txt", b"x" * 1024)
        out.append(
            Result(
                "isolation",
                "read_file 1 KB",
                PROCESS,
                "s",
                timeit(lambda: pvm.read_file("/data.txt"), n_exec),
            )
        )
    with VM() as vm:
        vm.write_file("/data.txt", b"x" * 1024)
        out.append(
            Result(
                "isolation",
                "read_file 1 KB",
                "pocketos",
                "s",
                timeit(lambda: vm.read_file("/data.txt"), n_exec),
            )
        )
    out.append(
        Result(
            "isolation",
            "exec round trip",
            "bash -c (subprocess)",
            "s",
            timeit(
                lambda: subprocess.run(
                    ["/bin/bash", "-c", script], check=True, capture_output=True
                ),
                n_sub,
            ),
        )
    )
    out.extend(_tool_and_session_rows(quick))
    return out
