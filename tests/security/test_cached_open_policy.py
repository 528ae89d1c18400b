"""A ``<`` file opened again and again (``$(wc -l < f)`` in a loop) is opened from the VFS's
cached resolution and the inode found then. The policy must still decide every open, on the
path the name resolves to now: an answer that changes, a link pointed elsewhere, a protected
file renamed over an allowed name."""

from __future__ import annotations

from typing import Any

from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY

LOOP = "for i in 1 2 3; do wc -l < /d/f.txt; done"


def _policy(*rules: dict[str, Any]) -> dict[str, Any]:
    pol: dict[str, Any] = dict(DEFAULT_POLICY)
    pol["fs"] = {"default": "allow", "rules": list(rules)}
    return pol


def _cached_open_is_taken(vm: VM, path: str) -> None:
    """The open below goes the cached way (so the asserts after it are about that way)."""
    vfs = vm.kernel.vfs
    vfs.stat(path)
    with vfs.open(path, "rb") as fh:
        assert fh._node is not None


def test_every_open_of_a_cached_path_asks_the_policy() -> None:
    asked: list[str] = []
    answer = [True]

    def handler(req: Any) -> bool:
        asked.append(f"{req.operation} {req.resource}")
        return answer[0]

    pol = _policy({"mode": "ask", "operations": ["read"], "paths": ["/d/f.txt"]})
    with VM(policy=pol, permission_handler=handler) as vm:
        vm.exec("mkdir -p /d && printf 'a\\nb\\n' > /d/f.txt")
        _cached_open_is_taken(vm, "/d/f.txt")
        asked.clear()
        r = vm.exec(LOOP)
        assert (r.stdout, r.stderr) == ("2\n2\n2\n", "")
        assert asked == ["read /d/f.txt"] * 3
        answer[0] = False  # the same path, the same cached resolution: now refused
        r = vm.exec(LOOP)
        assert r.stdout == ""
        assert r.stderr.count("/d/f.txt: Permission denied") == 3
        assert len(asked) == 6


def test_a_link_pointed_at_a_protected_file_is_refused_at_once() -> None:
    pol = _policy({"mode": "deny", "operations": ["read"], "paths": ["/d/secret"]})
    with VM(policy=pol) as vm:
        vm.exec("mkdir -p /d && echo ok > /d/ok && printf 's\\ns\\ns\\n' > /d/secret")
        vm.exec("ln -s ok /d/link")
        _cached_open_is_taken(vm, "/d/link")
        r = vm.exec("wc -l < /d/link; wc -l < /d/link; ln -sfn secret /d/link; wc -l < /d/link")
        assert r.stdout == "1\n1\n"
        assert "/d/link: Permission denied" in r.stderr


def test_a_protected_file_renamed_over_an_allowed_name_stays_protected() -> None:
    # the policy follows the name: a file moved to an allowed name is read there, but a
    # cached answer for the old file at that name must not let it through the other way
    pol = _policy({"mode": "deny", "operations": ["read"], "paths": ["/d/f.txt"]})
    with VM(policy=pol) as vm:
        vm.exec("mkdir -p /d && echo one > /d/g && printf '1\\n2\\n' > /d/f.txt")
        _cached_open_is_taken(vm, "/d/g")
        r = vm.exec("wc -l < /d/g; mv /d/g /d/f.txt; wc -l < /d/f.txt; wc -l < /d/g")
        assert r.stdout == "1\n"
        assert "/d/f.txt: Permission denied" in r.stderr
        assert "/d/g: No such file or directory" in r.stderr


def test_a_link_changed_by_another_vm_on_a_shared_mount_is_refused_at_once() -> None:
    # the change is made through another VM's VFS: this VM's resolution cache hears of it
    # only through the shared change counter, with no lookup of its own in between
    from pocketos.kernel.fs.memory import MemoryBackend

    shared = MemoryBackend()
    pol = _policy({"mode": "deny", "operations": ["read"], "paths": ["/s/secret"]})
    with VM(policy=pol) as vm, VM() as other:
        vm.mount("/s", shared)
        other.mount("/s", shared)
        other.exec("echo ok > /s/ok && printf 's\\ns\\ns\\n' > /s/secret && ln -s ok /s/link")
        _cached_open_is_taken(vm, "/s/link")
        assert vm.exec("wc -l < /s/link").stdout == "1\n"
        assert other.exec("ln -sfn secret /s/link").exit_code == 0
        r = vm.exec("wc -l < /s/link")
        assert (r.stdout, r.exit_code) == ("", 1)
        assert "/s/link: Permission denied" in r.stderr
