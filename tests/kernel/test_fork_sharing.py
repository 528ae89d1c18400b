"""A fork shares its parent's layers and host mounts without breaking either VM: hard links
stay links on both sides (and in a VM started from a snapshot), and closing one VM does not
close the host directories the other still uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketos import VM


def _linked(vm: VM) -> None:
    vm.exec("mkdir -p /w/sub && echo a > /w/a && ln /w/a /w/sub/b && ln /w/a /w/c")


def _check_links(vm: VM, line: str) -> None:
    r = vm.exec(f"echo {line} >> /w/sub/b; cat /w/a; cat /w/c; stat -c %h /w/a")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "3"
    half = (len(lines) - 1) // 2
    assert lines[:half] == lines[half:-1]
    assert lines[half - 1] == line


def test_hard_links_survive_fork_in_both_vms() -> None:
    with VM() as parent:
        _linked(parent)
        with parent.fork() as child:
            _check_links(child, "child")
            _check_links(parent, "parent")
            assert child.read_text("/w/a") == "a\nchild\n"
            assert parent.read_text("/w/a") == "a\nparent\n"
            # a second generation, and a fork of a VM whose link is already copied up
            with child.fork() as grandchild:
                _check_links(grandchild, "gc")
                assert child.read_text("/w/c") == "a\nchild\n"


def test_hard_links_survive_a_snapshot() -> None:
    with VM() as src:
        _linked(src)
        snap = src.snapshot("/")
    with VM(snapshots=[snap]) as vm:
        _check_links(vm, "snap")
        vm.exec("rm /w/a")
        assert vm.read_text("/w/c") == "a\nsnap\n"
        assert vm.exec("stat -c %h /w/c").stdout == "2\n"


def test_renamed_and_whited_out_aliases_are_left_alone() -> None:
    with VM() as parent:
        _linked(parent)
        with parent.fork() as child:
            child.exec("rm /w/c")
            r = child.exec("echo z >> /w/sub/b; cat /w/a; ls /w")
            assert r.stdout == "a\nz\n" + "a\nsub\n"
            assert not child.exists("/w/c")
            assert parent.read_text("/w/c") == "a\n"


@pytest.mark.parametrize("mode", ["ro", "rw", "overlay"])
def test_closing_a_fork_keeps_the_parents_host_mounts(tmp_path: Path, mode: str) -> None:
    (tmp_path / "f").write_text("host\n")
    with VM() as parent:
        parent.mount("/h", host=str(tmp_path), mode=mode)
        child = parent.fork()
        assert child.read_text("/h/f") == "host\n"
        child.close()
        assert parent.read_text("/h/f") == "host\n"
        assert parent.exec("cat /h/f").stdout == "host\n"
        with parent.fork() as other:
            parent.unmount("/h")
            assert other.read_text("/h/f") == "host\n"


def test_fork_of_a_vm_with_a_memory_mount() -> None:
    with VM() as parent:
        parent.mount("/m", memory=True)
        parent.mount("/n", memory=True)
        parent.write_file("/m/f", b"1")
        with parent.fork() as child:
            assert [m["path"] for m in child.mounts()] == ["/", "/m", "/n"]
            child.write_file("/m/f", b"child")
            assert parent.read_file("/m/f") == b"1"
            with child.fork() as grandchild:
                assert grandchild.read_file("/m/f") == b"child"
