"""A durable VM's saved mount declarations are data in the workspace store. Whoever can write
the store (a shared directory, a bucket) must not thereby hand a VM a folder of the host: a
host folder comes back only when the program opening the VM asks for it."""

from __future__ import annotations

from pathlib import Path

from pocketos import VM
from pocketos.workspaces import WorkspaceStore


def test_a_store_that_declares_a_host_folder_does_not_mount_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("do not leak\n")
    store = WorkspaceStore(tmp_path / "store")
    with VM.open("dev", store=store) as vm:
        vm.write_file("/home/user/f", "x")
    # someone with write access to the store adds a run whose record declares the folder
    head = store.head("dev")
    meta = dict(store.run_doc(head["runs"][-1])["meta"])
    meta["mounts"] = {
        "/loot": {"host": str(secret), "mode": "rw", "readonly": False},
        "/etc/ssl": {"host": str(secret), "mode": "ro", "readonly": True},
    }
    store.append_run("dev", {}, {}, expect_runs=len(head["runs"]), meta=meta)
    with VM.open("dev", store=WorkspaceStore(tmp_path / "store"), autosave=False) as vm:
        assert [m["path"] for m in vm.mounts()] == ["/"]
        r = vm.exec("cat /loot/key; ls /etc/ssl")
        assert "do not leak" not in r.stdout
        assert vm.exec("mkdir -p /loot && echo pwned > /loot/key").exit_code == 0  # the VM's
    assert (secret / "key").read_text() == "do not leak\n"
