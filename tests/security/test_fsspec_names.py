"""fsspec mounts pass names to fsspec calls that never glob-expand: renaming or deleting a
file whose name holds glob characters touches exactly that object."""

from __future__ import annotations

import fsspec
import pytest

from pocketos import VM


@pytest.mark.parametrize("name", ["*", "?", "[ab]", "a*", "**"])
def test_glob_characters_in_names_touch_one_object(name: str) -> None:
    fs = fsspec.filesystem("memory")
    root = f"/globtest-{abs(hash(name))}"
    fs.mkdir(root)
    with VM() as vm:
        vm.mount("/m", fsspec=fs, root=root)
        vm.write_file("/m/a", b"A")
        vm.write_file("/m/b", b"B")
        vm.write_file(f"/m/{name}", b"STAR")
        vm.mkdir("/m/d")
        vm.write_file("/m/d/inner", b"I")
        r = vm.exec(f"cd /m && mv -- '{name}' renamed && ls")
        assert r.exit_code == 0, r.stderr
        assert sorted(vm.readdir("/m")) == ["a", "b", "d", "renamed"]
        assert vm.read_file("/m/renamed") == b"STAR"
        assert vm.read_file("/m/a") == b"A" and vm.read_file("/m/b") == b"B"
        vm.write_file(f"/m/d/{name}", b"S2")
        vm.rename("/m/d", "/m/e")
        assert sorted(vm.readdir("/m/e")) == sorted(["inner", name])
        vm.delete(f"/m/e/{name}")
        assert vm.readdir("/m/e") == ["inner"]
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)) == [
        "a",
        "b",
        "e",
        "renamed",
    ]
