"""Durable VMs: ``VM.open(name, store=…)`` keeps files, env and cwd across host processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM, AsyncVM
from pocketos.errors import PocketOSError
from pocketos.workspaces import WorkspaceStore

ROOT = Path(__file__).resolve().parents[2]


def test_files_survive_a_host_restart(tmp_path: Path) -> None:
    store = tmp_path / "store"
    script = textwrap.dedent(
        """
        import sys
        from pocketos import VM
        with VM.open("dev", store=sys.argv[1]) as vm:
            r = vm.exec("mkdir -p /home/user/proj && echo 'int main;' > /home/user/proj/m.c"
                        " && rm /etc/hostname && cd /home/user/proj")
            assert r.exit_code == 0, r.stderr
            vm.env["BUILD"] = "release"
            vm.async_vm.cwd = "/home/user/proj"
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run([sys.executable, "-c", script, str(store)], check=True, env=env)
    with VM.open("dev", store=store) as vm:
        r = vm.exec("pwd; echo $BUILD; cat m.c; test -e /etc/hostname; echo $?; ls /usr/bin/ls")
        assert r.stdout == "/home/user/proj\nrelease\nint main;\n1\n/usr/bin/ls\n"
    log = WorkspaceStore(store).log("dev")
    assert [(r.n, r.author, r.message) for r in log] == [(1, "vm:dev", "autosave on close")]


def test_save_and_autosave(tmp_path: Path) -> None:
    store = WorkspaceStore(tmp_path)
    vm = VM.open("box", store=store, autosave=False)
    vm.write_file("/tmp/a", "a\n")
    run = vm.save("first")
    assert run is not None and run.n == 1 and run.message == "first"
    assert vm.save() is None  # nothing changed since
    vm.write_file("/tmp/b", "b\n")
    vm.close()  # autosave is off: /tmp/b is dropped
    with VM.open("box", store=store) as vm2:
        assert vm2.exec("ls /tmp").stdout == "a\n"
        vm2.exec("rm /tmp/a")
    with VM.open("box", store=store) as vm3:
        assert vm3.exec("ls /tmp").stdout == ""
    assert [r.message for r in store.log("box")] == ["first", "autosave on close"]


@pytest.mark.parametrize("forks", [1, 12])
def test_a_directory_removed_and_made_again_across_forks_stays_new(
    tmp_path: Path, forks: int
) -> None:
    """``rm -r /etc``, a fork (the removal is sealed in a layer), ``mkdir /etc``: the saved
    /etc holds only what was made after (the base's files stayed hidden, not restored)."""
    store = WorkspaceStore(tmp_path)
    with VM.open("box", store=store) as vm:
        vm.exec("rm -r /etc")
        for _ in range(forks):
            vm.fork().close()
            vm.exec("touch /tmp/x$RANDOM")
        vm.exec("mkdir /etc && echo mine > /etc/mine")
        assert vm.readdir("/etc") == ["mine"]
    with VM.open("box", store=store) as vm2:
        assert vm2.readdir("/etc") == ["mine"]


def test_options_override_what_was_saved(tmp_path: Path) -> None:
    with VM.open("o", store=tmp_path, env={"A": "1"}, cwd="/tmp") as vm:
        vm.exec("true")
    with VM.open("o", store=tmp_path, cwd="/") as vm:
        assert vm.exec("pwd; echo $A").stdout == "/\n1\n"


def test_save_needs_a_durable_vm(tmp_path: Path) -> None:
    with VM() as vm, pytest.raises(PocketOSError, match="not a durable VM"):
        vm.save()
    store = WorkspaceStore(tmp_path)
    store.create("tree-ws")
    with pytest.raises(ValueError, match="tree workspace"):
        VM.open("tree-ws", store=store)
    with VM() as vm, pytest.raises(ValueError, match="whole VM root"):
        store.create("root-ws", kind="root")
        store.open("root-ws", vm, "/w")


def test_async_vm_open(tmp_path: Path) -> None:
    async def main() -> str:
        vm = AsyncVM.open("a", store=tmp_path)
        r = await vm.exec("echo hi > /root/x")
        assert r.exit_code == 0
        await vm.aclose()
        vm2 = AsyncVM.open("a", store=tmp_path)
        out = (await vm2.exec("cat /root/x")).stdout
        await vm2.aclose()
        return out

    assert asyncio.run(main()) == "hi\n"


def test_resumed_session_finds_the_vm_it_left(tmp_path: Path) -> None:
    from pocketos.sessions import create_session, resume_session
    from pocketos.store import Store
    from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

    db = str(tmp_path / "sessions.db")
    ws = tmp_path / "ws"

    def cfg(srv: FakeServer) -> dict[str, Any]:
        return {"base_url": srv.url + "/v1", "api_key": "k", "model": "gpt-4.1-mini", "backoff": 0}

    async def first() -> str:
        replies = [
            openai_tool("write", {"path": "/home/user/notes.txt", "content": "remember\n"}),
            openai_text("Noted."),
        ]
        async with FakeServer(replies) as srv:
            vm = AsyncVM.open("agentbox", store=ws, autosave=False)
            store = Store(db)
            s = await create_session(vm, "pocketos", store=store, agent_config=cfg(srv))
            r = await s.prompt("Write a note.")
            assert r.text == "Noted."
            await s.close()
            store.close()
            vm.close()  # autosave is off: the prompt's end already saved the VM
            return str(s.id)

    async def second(sid: str) -> str:
        async with FakeServer([openai_text("It says remember.")]) as srv:
            store = Store(db)
            assert store.get_session(sid)["info"]["durable_vm"]["run"] == 1  # type: ignore[index]
            vm = AsyncVM.open_for_session(sid, store=store)
            s = await resume_session(vm, sid, store=store, agent_config=cfg(srv))
            r = await s.prompt("What does the note say?")
            note = vm.read_text("/home/user/notes.txt")
            await s.close()
            store.close()
            await vm.aclose()
            return note + r.text

    sid = asyncio.run(first())
    assert asyncio.run(second(sid)) == "remember\nIt says remember."
    with pytest.raises(PocketOSError, match="did not run in a durable VM"):
        store = Store(db)
        vm = AsyncVM()

        async def plain() -> str:
            async with FakeServer([openai_text("x")]) as srv:
                s = await create_session(vm, "pocketos", store=store, agent_config=cfg(srv))
                await s.close()
                return str(s.id)

        AsyncVM.open_for_session(asyncio.run(plain()), store=store)


def test_lookups_through_the_workspace_layer_are_cached(tmp_path: Path) -> None:
    """A durable VM's root has the workspace tree as a lower layer: it never changes, so the
    overlay's lookup cache stays on (it used to turn off, making lookups several times
    slower than in a fresh VM) and drops what a commit replaced."""
    store = WorkspaceStore(tmp_path, fsync=False)
    with VM.open("box", store=store) as vm:
        vm.write_file("/home/user/a", "1\n")
        vm.save()
        layer = vm.async_vm._durable.checkout.layer
        calls = 0
        real = layer.lstat

        def counting(path: str) -> Any:
            nonlocal calls
            calls += 1
            return real(path)

        layer.lstat = counting  # type: ignore[method-assign]
        n = int(vm.exec("ls /usr/bin | wc -l").stdout)
        assert n > 50
        # cached: /usr is known to come from the base image alone, so the workspace layer is
        # not asked about each of its entries
        assert 0 < calls < 10
        assert vm.exec("cat /home/user/a").stdout == "1\n"
        vm.write_file("/home/user/a", "2\n")
        vm.save()
        assert vm.read_text("/home/user/a") == "2\n"
