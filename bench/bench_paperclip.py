"""The Paperclip adapter: time from the adapter's ``execute()`` (in Node) to the first model
request and to the end of a no-op run (the model answers at once, no tools), with the warm
runner (a forked Python that has pocketos loaded) and with a fresh ``python -m
pocketos.paperclip`` per run; the Python start-up share (interpreter, imports); and the disk
a run adds (workspace blobs and manifest, session store).

Runs against a fake OpenAI-compatible model and a stand-in Paperclip API on 127.0.0.1
(``tests/paperclip``), with the real Node adapter and the real runner. Needs ``node``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests/paperclip/drive_execute.mjs"
SRC = str(ROOT / "src")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _drive(node: str, spec: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    f = tmp / "spec.json"
    f.write_text(json.dumps(spec))
    p = subprocess.run([node, str(DRIVER), str(f)], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return [json.loads(x) for x in p.stdout.splitlines()]


def _startup(n: int) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PYTHONPATH": SRC}
    bare, loaded = [], []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from pocketos.paperclip.server import _preload; _preload()"],
            check=True,
            env=env,
        )
        loaded.append(time.perf_counter() - t)
    return bare, loaded


def run(quick: bool = False) -> list[Result]:
    sys.path.insert(0, str(ROOT))
    from tests.paperclip.fake_api import FakeAPI
    from tests.paperclip.fake_model import FakeModel, Rule

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    n = 5 if quick else 20
    out: list[Result] = []
    arrivals: list[float] = []

    class Timed(FakeModel):
        def reply_for(self, body: dict[str, Any]) -> Any:
            arrivals.append(time.time() * 1000)
            return super().reply_for(body)

    with (
        tempfile.TemporaryDirectory() as tmpname,
        Timed([Rule("noop", [], done="Nothing to do.")]) as fm,
        FakeAPI(issues={"i1": {"id": "i1"}}) as api,
    ):
        tmp = Path(tmpname)
        os.environ["PAPERCLIP_API_URL"] = api.url
        try:
            for warm in (True, False):
                state = tmp / ("warm" if warm else "cold")
                ctx = {
                    "runId": "bench",
                    "agent": {"id": "a1", "companyId": "c1", "name": "bench"},
                    "config": {
                        "command": sys.executable,
                        "warmRunner": warm,
                        "model": "gpt-4.1-mini",
                        "env": {
                            "POCKETOS_BASE_URL": fm.url,
                            "POCKETOS_API_KEY": "bench",
                            "PYTHONPATH": SRC,
                        },
                        "stateDir": str(state),
                    },
                    "context": {
                        "issueId": "i1",
                        "taskKey": "i1",
                        "wakeReason": "issue_commented",
                        "paperclipIssue": {"id": "i1", "title": "noop"},
                    },
                    "runtime": {},
                    "authToken": api.token,
                }
                # warm runs are timed twice: 1.5 s apart, as heartbeats come (the runner's
                # spare child has started the next run's worker), and back to back (the
                # spare's worker starts while the previous run is still going)
                for gap in (1500, 0) if warm else (0,):
                    first_arrival = len(arrivals)
                    recs = _drive(node, {"ctx": ctx, "runs": n + 1, "gapMs": gap}, tmp)
                    times = arrivals[first_arrival:]
                    assert len(times) == len(recs), (len(times), len(recs))
                    # the first run starts the warm runner (and warms the OS caches); drop it
                    recs, times = recs[1:], times[1:]
                    first = [(t - r["startedAt"]) / 1000 for r, t in zip(recs, times, strict=True)]
                    end = [(r["endedAt"] - r["startedAt"]) / 1000 for r in recs]
                    sys_name = "pocketos" if warm else "fresh python per run"
                    note = ("runs 1.5 s apart" if gap else "back to back") if warm else ""
                    out.append(
                        Result(
                            "paperclip",
                            "execute() -> first model request",
                            sys_name,
                            "s",
                            first,
                            note=note,
                        )
                    )
                    out.append(
                        Result(
                            "paperclip",
                            "execute() -> end of a no-op run",
                            sys_name,
                            "s",
                            end,
                            note=note,
                        )
                    )
                for r in recs:
                    assert r["result"]["exitCode"] == 0, r["result"]
                ws = recs[-1]["result"]["resultJson"]["workspace"]
                if warm:
                    out.append(
                        Result(
                            "paperclip",
                            "disk per no-op run: workspace",
                            "pocketos",
                            "bytes",
                            value=float(ws["newBytes"] + ws["manifestBytes"]),
                            note="manifest rewritten, no new blobs",
                        )
                    )
                    before = _dir_bytes(state)
                    _drive(node, {"ctx": ctx, "runs": n}, tmp)
                    out.append(
                        Result(
                            "paperclip",
                            "disk per no-op run: all state",
                            "pocketos",
                            "bytes",
                            value=(_dir_bytes(state) - before) / n,
                            note="session events in SQLite + workspace",
                        )
                    )
        finally:
            del os.environ["PAPERCLIP_API_URL"]
    bare, loaded = _startup(3 if quick else 10)
    out.append(Result("paperclip", "python start-up", "python -c pass", "s", bare))
    out.append(Result("paperclip", "python start-up", "pocketos runner imports", "s", loaded))
    return out


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
