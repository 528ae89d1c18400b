"""The composition root: per-VM command tables from providers, loaded on first use, and a
kernel that imports no userland."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pocketos.commands as commands_pkg
from pocketos import VM
from pocketos.assembly import DEFAULT_PROVIDERS, PROVIDERS, command_table, default_names
from pocketos.commands import BY_MODULE, LOAD_ERRORS, Provider, load_module
from pocketos.kernel.commands import CommandFunc, CommandTable, StaticSource
from pocketos.kernel.process import Context

SRC = str(Path(__file__).resolve().parents[1] / "src")

#: packages above the kernel
UPPER = (
    "pocketos.commands",
    "pocketos.shell",
    "pocketos.wasm",
    "pocketos.net",
    "pocketos.tools",
    "pocketos.sessions",
    "pocketos.agent",
    "pocketos.assembly",
    "pocketos.vm",
)


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter on this tree; its stdout."""
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def _modules_after(code: str) -> list[str]:
    out = _fresh(code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n")
    return list(json.loads(out.splitlines()[-1]))


# --- layering ----------------------------------------------------------------------------


def test_kernel_imports_no_userland() -> None:
    mods = _modules_after(
        "import pocketos.kernel.kernel, pocketos.kernel.process, pocketos.kernel.base\n"
        "import pocketos.kernel.fs.vfs, pocketos.kernel.fs.overlay, pocketos.kernel.commands\n"
        "import pocketos.kernel.services"
    )
    assert [m for m in mods if m.startswith(UPPER)] == []


def test_kernel_sources_name_no_upper_layer() -> None:
    """No kernel module imports a layer above it, even lazily inside a function."""
    kernel_dir = Path(SRC) / "pocketos" / "kernel"
    offenders = []
    for path in sorted(kernel_dir.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if words[:1] in (["import"], ["from"]) and words[1:2] and words[1].startswith(UPPER):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []


# --- providers ---------------------------------------------------------------------------


def test_every_provider_lists_exactly_what_its_modules_define() -> None:
    for provider in PROVIDERS.values():
        for mod in provider.modules:
            defined = set(load_module(mod))
            listed = {n for n in provider.names() if provider.module_of(n) == mod}
            assert defined == listed, (provider.name, mod)
    assert LOAD_ERRORS == {}


def test_every_command_module_belongs_to_a_provider() -> None:
    listed = {m for p in PROVIDERS.values() for m in p.modules}
    for info in pkgutil.walk_packages(commands_pkg.__path__, "pocketos.commands."):
        importlib.import_module(info.name)
    defining = {m for m, cmds in BY_MODULE.items() if cmds and m.startswith("pocketos.commands.")}
    assert defining - listed == set()


def test_later_providers_replace_placeholders() -> None:
    table = command_table()
    for name in ("python3", "node", "curl", "wget"):
        fn = table.resolve(name)
        assert fn is not None
        assert fn.__module__ != "pocketos.commands.later", name
    git = table.resolve("git")
    assert git is not None and git.__module__ == "pocketos.git.command"
    placeholder = command_table(["placeholders"]).resolve("python3")
    assert placeholder is not None and placeholder.__module__ == "pocketos.commands.later"


def test_default_names_cover_every_provider() -> None:
    names = default_names()
    for p in DEFAULT_PROVIDERS:
        assert PROVIDERS[p].names() <= names
    assert {"ls", "bash", "sh", "python3", "curl", "pocketos", "jq", "[", "git"} <= names


# --- lazy loading ------------------------------------------------------------------------


def test_a_vm_imports_only_the_commands_it_runs() -> None:
    mods = _modules_after(
        "from pocketos import VM\n"
        "vm = VM()\n"
        "r = vm.run(['ls', '/'])\n"
        "assert r.exit_code == 0, r.stderr\n"
    )
    loaded = {m for m in mods if m.startswith("pocketos.commands.") and "._" not in m}
    assert loaded == {"pocketos.commands.ls"}
    for heavy in ("pocketos.wasm.commands", "pocketos.net.commands", "pocketos.tools.commands"):
        assert heavy not in mods


def test_a_broken_source_falls_back_to_an_earlier_one() -> None:
    async def first(ctx: Context) -> int:
        await ctx.out("first\n")
        return 0

    class Broken:
        name = "broken"

        def names(self) -> frozenset[str]:
            return frozenset({"hello"})

        def get(self, name: str) -> CommandFunc | None:
            return None

    table = CommandTable([StaticSource("a", {"hello": first}), Broken()])
    assert table.resolve("hello") is first
    assert table.resolve("nope") is None


def test_a_module_that_fails_to_import_is_reported_not_raised() -> None:
    p = Provider("ghost", {"pocketos.commands._no_such_module_": ("ghost",)})
    assert p.get("ghost") is None  # a missing module is skipped
    bad = Provider("bad", {"json.no_such_submodule_x": ("x",)})
    assert bad.get("x") is None
    LOAD_ERRORS.pop("json.no_such_submodule_x", None)


# --- VMs with exactly the commands they need ---------------------------------------------


async def hello(ctx: Context) -> int:
    await ctx.out("hello " + " ".join(ctx.argv[1:]) + "\n")
    return 0


async def shout(ctx: Context) -> int:
    data = await ctx.stdin.read()
    await ctx.stdout.write(data.upper())
    return 0


def test_vm_with_only_coreutils_has_no_shell() -> None:
    with VM(commands=["coreutils"]) as vm:
        r = vm.run(["echo", "hi"])
        assert (r.exit_code, r.stdout) == (0, "hi\n")
        r = vm.run(["bash", "-c", "true"])
        assert (r.exit_code, r.stderr) == (127, "bash: command not found\n")
        assert "python3" not in vm.kernel.commands
        assert "ls" in vm.kernel.commands


def test_vm_with_own_commands_and_a_shell() -> None:
    with VM(commands=["shell", {"hello": hello, "shout": shout}]) as vm:
        r = vm.exec("hello world | shout")
        assert (r.exit_code, r.stdout) == (0, "HELLO WORLD\n")
        r = vm.exec("ls /")
        assert r.exit_code == 127
        assert sorted(vm.kernel.commands) == ["bash", "hello", "sh", "shout"]


def test_later_entries_win_and_fork_keeps_the_table() -> None:
    with VM(commands=["coreutils", {"cat": hello}]) as vm:
        assert vm.run(["cat", "x"]).stdout == "hello x\n"
        with vm.fork() as child:
            assert child.run(["cat", "x"]).stdout == "hello x\n"
            assert "bash" not in child.kernel.commands


def test_commands_option_errors() -> None:
    with pytest.raises(ValueError, match="unknown command provider 'coreutil'"):
        VM(commands=["coreutil"])
    with pytest.raises(TypeError, match="not int"):
        VM(commands=[3])  # type: ignore[list-item]


def test_vms_do_not_share_per_vm_commands() -> None:
    with VM() as a, VM() as b:
        a.kernel.commands.add("hello", hello)
        assert a.run(["hello", "a"]).stdout == "hello a\n"
        assert b.run(["hello", "b"]).exit_code == 127
