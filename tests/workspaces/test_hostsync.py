"""A host folder mounted as an overlay: review the VM's changes, apply them back, never
overwrite what changed on the host meanwhile, never write through a symlink."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM
from pocketos.workspaces import HostConflictError, HostFolder


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    (r / "src").mkdir(parents=True)
    (r / "src" / "a.py").write_text("a\n")
    (r / "old").mkdir()
    (r / "old" / "x").write_text("x\n")
    (r / "keep").write_text("k\n")
    return r


def test_changes_then_apply(repo: Path) -> None:
    with VM() as vm:
        folder = HostFolder.mount(vm, repo, "/work")
        r = vm.exec(
            "cd /work && echo b >> src/a.py && rm -r old && echo new > new.txt"
            " && mkdir -p n/m && echo z > n/m/z && chmod 755 keep"
        )
        assert r.exit_code == 0, r.stderr
        assert listing(repo) == ["keep", "old", "old/x", "src", "src/a.py"]  # untouched
        changes = folder.changes()
        assert [(c.status, c.path) for c in changes] == [
            ("modified", "keep"),
            ("added", "n/m/z"),
            ("added", "new.txt"),
            ("deleted", "old/x"),
            ("modified", "src/a.py"),
        ]
        by = {c.path: c for c in changes}
        assert by["src/a.py"].patch == "--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1,2 @@\n a\n+b\n"
        assert by["keep"].patch == "mode change 644 => 755 keep\n"
        assert folder.apply() == changes
        assert listing(repo) == ["keep", "n", "n/m", "n/m/z", "new.txt", "src", "src/a.py"]
        assert (repo / "src" / "a.py").read_text() == "a\nb\n"
        assert os.stat(repo / "keep").st_mode & 0o777 == 0o755
        assert folder.changes() == []
        # more work after an apply applies cleanly again
        vm.exec("echo c >> /work/src/a.py")
        folder.apply()
        assert (repo / "src" / "a.py").read_text() == "a\nb\nc\n"


def test_host_changed_meanwhile_is_never_overwritten(repo: Path) -> None:
    with VM() as vm:
        folder = HostFolder.mount(vm, repo, "/work")
        vm.exec("cd /work && echo vm > src/a.py && echo added > new.txt && rm keep")
        (repo / "src" / "a.py").write_text("edited on the host\n")
        (repo / "keep").write_text("also edited\n")
        assert folder.conflicts() == ["keep", "src/a.py"]
        with pytest.raises(HostConflictError, match="2 path.*keep, src/a.py; nothing was applied"):
            folder.apply()
        assert (repo / "src" / "a.py").read_text() == "edited on the host\n"
        assert not (repo / "new.txt").exists()  # all or nothing
        assert (repo / "keep").read_text() == "also edited\n"
        folder.apply(force=True)
        assert (repo / "src" / "a.py").read_text() == "vm\n"
        assert not (repo / "keep").exists()


def test_a_file_created_on_the_host_meanwhile_is_a_conflict(repo: Path) -> None:
    with VM() as vm:
        folder = HostFolder.mount(vm, repo, "/work")
        vm.exec("echo from-vm > /work/new")
        (repo / "new").write_text("from the host\n")
        with pytest.raises(HostConflictError) as ei:
            folder.apply()
        assert ei.value.conflicts == ["new"]


def test_apply_never_writes_through_a_symlink(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s\n")
    os.symlink(outside, repo / "link")
    with VM() as vm:
        folder = HostFolder.mount(vm, repo, "/work")
        # the VM sees a symlink it cannot follow out; it replaces it with a directory
        r = vm.exec("cd /work && rm link && mkdir link && echo mine > link/secret")
        assert r.exit_code == 0, r.stderr
        assert [(c.status, c.path) for c in folder.changes()] == [
            ("deleted", "link"),
            ("added", "link/secret"),
        ]
        folder.apply()
    assert (outside / "secret").read_text() == "s\n"
    assert not (repo / "link").is_symlink()
    assert (repo / "link" / "secret").read_text() == "mine\n"


def test_agent_cli_mount_diff_and_apply(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pocketos.agent.cli import main
    from tests.agent.fake_llm import FakeServer, openai_text, openai_tool

    result: dict[str, Any] = {}
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        async def go() -> None:
            async with FakeServer(
                [
                    openai_tool("write", {"path": "/work/src/a.py", "content": "fixed\n"}),
                    openai_text("Fixed.", (50, 5)),
                ]
            ) as srv:
                result["url"] = srv.url
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        asyncio.run(go())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(120)  # a bound only a failure reaches
    monkeypatch.setenv("POCKETOS_API_KEY", "k")
    out, err = io.StringIO(), io.StringIO()
    argv = ["--base-url", result["url"] + "/v1", "--model", "gpt-4.1-mini", "--yes"]
    code = main(
        [*argv, "--mount", f"{repo}:/work", "--diff", "--apply", "fix", "it"],
        stdout=out,
        stderr=err,
    )
    stop.set()
    t.join(5)
    assert code == 0, err.getvalue()
    assert out.getvalue() == ("Fixed.\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-a\n+fixed\n")
    assert f"[changes] {repo}: 1 path(s)\n  M src/a.py\n[changes] applied to {repo}\n" in (
        err.getvalue()
    )
    assert (repo / "src" / "a.py").read_text() == "fixed\n"
