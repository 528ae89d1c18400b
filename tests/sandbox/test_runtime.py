"""Real programs in the sandbox over the VM's tree: files, identity, env, exit status."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from tests.sandbox.conftest import make_vm, needs_sandbox

pytestmark = needs_sandbox


def test_writes_in_the_sandbox_are_the_vms_at_once() -> None:
    with make_vm() as vm:
        vm.write_file("/home/user/in.txt", "from the vm\n")
        r = vm.sandbox_run(
            ["/bin/sh", "-c", "cat in.txt; echo made > out.txt; mkdir -p d/e; mv out.txt d/e/f"]
        )
        assert (r.exit_code, r.stdout, r.stderr) == (0, "from the vm\n", "")
        assert vm.read_text("/home/user/d/e/f") == "made\n"
        assert not vm.exists("/home/user/out.txt")


def test_paths_and_identity_are_the_vms() -> None:
    with make_vm() as vm:
        vm.mkdir("/workspace/proj", parents=True)
        r = vm.sandbox_run(["/bin/sh", "-c", "pwd; id -un; id -u; hostname"], cwd="/workspace/proj")
        assert r.stdout == "/workspace/proj\nuser\n1000\npocketos\n"
        r = vm.sandbox_run(["/bin/sh", "-c", "stat -c '%U %a' /home/user"])
        assert r.stdout.split()[0] == "user"


def test_exit_status_stdin_and_stderr() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(["/bin/sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"], stdin="abc\n")
        assert (r.exit_code, r.stdout, r.stderr) == (3, "ABC\n", "oops\n")


def test_killed_by_signal_is_128_plus_n() -> None:
    with make_vm() as vm:
        r = vm.sandbox_run(["/bin/sh", "-c", "kill -TERM $$"])
        assert r.exit_code == 143


def test_host_secrets_invisible() -> None:
    os.environ["POCKETOS_HOST_SECRET"] = "s3cret"
    try:
        with make_vm() as vm:
            r = vm.sandbox_run(
                [
                    "/bin/sh",
                    "-c",
                    "cat /etc/shadow; ls /root; env; ls /home; test -e /work && echo WORK",
                ]
            )
    finally:
        del os.environ["POCKETOS_HOST_SECRET"]
    assert "/etc/shadow: No such file or directory" in r.stderr
    assert "s3cret" not in r.stdout
    assert "POCKETOS_HOST_SECRET" not in r.stdout
    assert r.stdout.count("\n") > 3
    home_listing = [ln for ln in r.stdout.splitlines() if ln == "user"]
    assert home_listing == ["user"]
    assert "WORK" not in r.stdout


def test_env_policy_filters_what_the_program_sees() -> None:
    pol = {"env": {"default": "allow", "rules": [{"mode": "deny", "patterns": ["API_*"]}]}}
    with make_vm(pol) as vm:
        r = vm.sandbox_run(
            ["/bin/sh", "-c", "echo A=${API_KEY-unset} B=$OK"], env={"API_KEY": "k", "OK": "y"}
        )
        assert r.stdout == "A=unset B=y\n"


def test_denied_write_is_eacces_inside_and_audited() -> None:
    pol = {
        "fs": {
            "default": "allow",
            "rules": [
                {"mode": "deny", "operations": ["write"], "paths": ["/home/user/locked/*.txt"]}
            ],
        }
    }
    with make_vm(pol) as vm:
        vm.mkdir("/home/user/locked")
        r = vm.sandbox_run(
            [
                "/usr/bin/python3",
                "-c",
                "import errno\ntry:\n open('locked/x.txt','w')\nexcept OSError as e:\n"
                " print(errno.errorcode[e.errno])",
            ]
        )
        assert r.stdout == "EACCES\n"
        assert not vm.exists("/home/user/locked/x.txt")
        denials = [
            e
            for e in vm.audit_log(kind="permission")
            if e.decision == "deny" and e.resource == "/home/user/locked/x.txt"
        ]
        assert denials and denials[0].capability == "fs.write"


def test_vm_and_sandbox_agree_on_contents_while_running() -> None:
    # the VM rewrites a file while the program runs: the program sees the new contents (no
    # stale cache), or it would loop until the timeout
    with make_vm() as vm:
        vm.write_file("/home/user/f", "one\n")

        def on_out(data: bytes) -> None:
            if b"ready" in data:
                vm.write_file("/home/user/f", "two!\n")

        r = vm.sandbox_run(
            ["/bin/sh", "-c", 'cat f; echo ready; while [ "$(cat f)" = one ]; do :; done; cat f'],
            on_stdout=on_out,
            timeout=60,
        )
        assert (r.exit_code, r.stdout) == (0, "one\nready\ntwo!\n")


BIG_PROGRAM = """
import hashlib, os
block = bytes(range(256)) * 4096
with open("big", "wb") as fh:
    for i in range(5):  # writes of odd sizes, across the server's 1 MiB requests
        fh.write(bytes([i + 1]) * 1000 + block)
with open("big", "rb") as fh:
    print(hashlib.sha256(fh.read()).hexdigest(), flush=True)
print("ready", flush=True)
while not os.path.exists("go"):
    pass
with open("big", "rb") as fh:
    print(hashlib.sha256(fh.read()).hexdigest(), flush=True)
"""


def test_large_files_survive_both_ways_and_stay_writable_after_a_read() -> None:
    # large writes are taken from the server's request buffer and large reads answered with
    # views of the VM's own bytes: contents must match both ways, and a file the program has
    # just read must stay writable by the VM (no view of it left behind)
    block = bytes(range(256)) * 4096
    expected = b"".join(bytes([i + 1]) * 1000 + block for i in range(5))
    with make_vm() as vm:
        seen: list[bytes] = []

        def on_out(data: bytes) -> None:
            if b"ready" in data and not vm.exists("/home/user/go"):
                seen.append(vm.read_file("/home/user/big"))
                with vm.kernel.vfs.open("/home/user/big", "ab") as fh:
                    fh.write(b"tail from the vm")
                vm.write_file("/home/user/go", "")

        r = vm.sandbox_run(["/usr/bin/python3", "-c", BIG_PROGRAM], on_stdout=on_out, timeout=120)
        assert r.exit_code == 0, r.stderr
        assert seen == [expected]
        after = expected + b"tail from the vm"
        assert r.stdout.split() == [
            hashlib.sha256(expected).hexdigest(),
            "ready",
            hashlib.sha256(after).hexdigest(),
        ]
        assert vm.read_file("/home/user/big") == after


def test_git_init_and_commit_over_the_vm_tree() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    with make_vm() as vm:
        vm.mkdir("/home/user/repo")
        vm.write_file("/home/user/repo/README", "hi\n")
        r = vm.sandbox_run(
            [
                "/bin/sh",
                "-c",
                "git init -q -b main && git add README && "
                "git -c user.name=U -c user.email=u@x commit -qm first && git log --format=%s",
            ],
            cwd="/home/user/repo",
        )
        assert (r.exit_code, r.stdout, r.stderr) == (0, "first\n", "")
        assert vm.read_text("/home/user/repo/.git/HEAD") == "ref: refs/heads/main\n"
        # the VM's own view of the repository is a real git repository
        assert vm.exists("/home/user/repo/.git/refs/heads/main")


def test_python_test_suite_with_the_hosts_python() -> None:
    with make_vm() as vm:
        vm.mkdir("/home/user/proj/tests", parents=True)
        vm.write_file("/home/user/proj/calc.py", "def add(a, b):\n    return a + b\n")
        vm.write_file("/home/user/proj/tests/__init__.py", "")
        vm.write_file(
            "/home/user/proj/tests/test_calc.py",
            "import unittest\nfrom calc import add\n\n"
            "class T(unittest.TestCase):\n"
            "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n"
            "    def test_neg(self):\n        self.assertEqual(add(-1, 1), 0)\n",
        )
        r = vm.sandbox_run(["/usr/bin/python3", "-m", "unittest", "-q"], cwd="/home/user/proj")
        assert r.exit_code == 0, r.stderr
        assert "Ran 2 tests" in r.stderr and r.stderr.rstrip().endswith("OK")
        # bytecode caches the run wrote are in the VM
        assert any(n.startswith("calc.") for n in vm.readdir("/home/user/proj/__pycache__"))


def test_npm_version() -> None:
    if shutil.which("npm") is None or not shutil.which("npm", path="/usr/bin:/bin"):
        pytest.skip("npm is not installed under /usr")
    with make_vm() as vm:
        r = vm.sandbox_run(["npm", "--version"])
        assert r.exit_code == 0, r.stderr
        assert r.stdout.strip().split(".")[0].isdigit()


def test_cwd_must_exist_in_the_vm() -> None:
    with make_vm() as vm, pytest.raises(FileNotFoundError):
        vm.sandbox_run(["/bin/true"], cwd="/home/user/nope")
