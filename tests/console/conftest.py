"""Headless Chromium (Debian's ``chromium``) driven by Playwright against a real ``pocketos
serve`` on 127.0.0.1. The suite skips with one line when either is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("POCKETOS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

for _mod in ("starlette", "uvicorn", "websockets"):
    pytest.importorskip(_mod, reason=f"the server extra is not installed ({_mod} is missing)")
pytest.importorskip("playwright", reason="playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.server.conftest import Running  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # module scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and later tests call asyncio.run()
    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as exc:  # pragma: no cover - a browser that cannot start here
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {str(exc).splitlines()[0]}")
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def serve_console() -> Iterator[Callable[..., Running]]:
    from pocketos.server import ServerConfig

    started: list[Running] = []

    def start(**options: Any) -> Running:
        options.setdefault("isolation", "in-process")
        r = Running(ServerConfig(**options))
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


class Shots:
    """Screenshots kept as test artefacts (in the test's tmp dir, and in
    ``$POCKETOS_CONSOLE_SHOTS`` when set, which is how docs/console/ is refreshed)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.extra = os.environ.get("POCKETOS_CONSOLE_SHOTS")

    def __call__(self, page: Page, name: str) -> Path:
        path = self.tmp / f"{name}.png"
        page.screenshot(path=str(path))
        if self.extra:
            Path(self.extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.extra) / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    return Shots(tmp_path)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    p = ctx.new_page()
    p.set_default_timeout(60_000)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield p
    finally:
        ctx.close()
    assert not errors, f"the page raised: {errors}"
