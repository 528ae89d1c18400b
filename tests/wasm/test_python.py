"""python/python3 in the VM: CPython in wasm over the VM filesystem."""

from __future__ import annotations

import pytest

from tests.wasm.conftest import need_python

need_python()


def run(vm, argv, stdin=b"", cwd="/work", **kw):
    return vm.run(argv, stdin=stdin, cwd=cwd, **kw)


def test_print(vm):
    r = run(vm, ["python3", "-c", "print(1 + 1)"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "2\n", "")


def test_python_alias(vm):
    r = run(vm, ["python", "-c", "import sys; print(sys.version_info[0])"])
    assert (r.exit_code, r.stdout) == (0, "3\n")


def test_argv_and_exit_code(vm):
    vm.write_file("/work/args.py", b"import sys\nprint(sys.argv)\nsys.exit(3)\n")
    r = run(vm, ["python3", "args.py", "a", "b c"])
    assert (r.exit_code, r.stdout) == (3, "['args.py', 'a', 'b c']\n")


def test_c_argv(vm):
    r = run(vm, ["python3", "-c", "import sys; print(sys.argv)", "x", "y"])
    assert r.stdout == "['-c', 'x', 'y']\n"


def test_traceback(vm):
    r = run(vm, ["python3", "-c", "1/0"])
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.splitlines()[0] == "Traceback (most recent call last):"
    assert r.stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_stdin(vm):
    r = run(
        vm,
        ["python3", "-c", "import sys; print(sys.stdin.read().upper(), end='')"],
        stdin=b"abc\ndef\n",
    )
    assert r.stdout == "ABC\nDEF\n"


def test_program_from_stdin(vm):
    r = run(vm, ["python3", "-"], stdin=b"print('from stdin')\n")
    assert (r.exit_code, r.stdout) == (0, "from stdin\n")
    r = run(vm, ["python3"], stdin=b"print(6 * 7)\n")
    assert (r.exit_code, r.stdout) == (0, "42\n")


def test_module_json_tool(vm):
    r = run(vm, ["python3", "-m", "json.tool"], stdin=b'{"b": 1, "a": [1, 2]}')
    assert r.stdout == '{\n    "b": 1,\n    "a": [\n        1,\n        2\n    ]\n}\n'


def test_unbuffered_flag(vm):
    r = run(vm, ["python3", "-u", "-c", "import sys; print('x'); print('y', file=sys.stderr)"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "x\n", "y\n")


def test_cwd_and_env(vm):
    vm.mkdir("/work/sub", parents=True, exist_ok=True)
    r = run(
        vm,
        ["python3", "-c", "import os; print(os.getcwd()); print(os.environ['FOO'])"],
        cwd="/work/sub",
        env={"FOO": "bar", "HOME": "/home/user"},
    )
    assert r.stdout == "/work/sub\nbar\n"


def test_host_env_invisible(vm, monkeypatch):
    monkeypatch.setenv("POCKETOS_HOST_ONLY", "leak")
    r = run(vm, ["python3", "-c", "import os; print(os.environ.get('POCKETOS_HOST_ONLY'))"])
    assert r.stdout == "None\n"


def test_file_round_trip_api(vm):
    vm.write_file("/work/in.txt", b"hello\n")
    r = run(vm, ["python3", "-c", "open('out.txt', 'w').write(open('in.txt').read() * 2)"])
    assert r.exit_code == 0
    assert vm.read_file("/work/out.txt") == b"hello\nhello\n"


def test_binary_bytes_pass_through(vm):
    data = bytes(range(256))
    vm.write_file("/work/bin.dat", data)
    r = run(
        vm,
        [
            "python3",
            "-c",
            "import sys; d = open('bin.dat', 'rb').read(); sys.stdout.buffer.write(d[::-1])",
        ],
    )
    assert r.stdout_bytes == data[::-1]


def test_listdir_root_is_the_vm(vm):
    r = run(vm, ["python3", "-c", "import os; print(sorted(os.listdir('/')))"])
    expected = sorted(vm.readdir("/"))
    assert r.stdout == f"{expected}\n"


def test_etc_passwd_is_the_vms(vm):
    vm.write_file("/etc/passwd", b"only:x:0:0:vm:/:/bin/sh\n")
    r = run(vm, ["python3", "-c", "print(open('/etc/passwd').read(), end='')"])
    assert r.stdout == "only:x:0:0:vm:/:/bin/sh\n"


def test_dotdot_cannot_leave(vm):
    # inside the VM ".." works; above "/" the runtime refuses (EPERM), it never reaches the host
    code = (
        "import os\n"
        "print(open('/work/../etc/hostname').read() == open('/etc/hostname').read())\n"
        "try:\n"
        "    os.listdir('/work/../../..')\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    r = run(vm, ["python3", "-c", code])
    assert r.stdout == "True\nrefused\n"


def test_symlink_stays_in_vm(vm):
    vm.write_file("/work/inside.txt", b"vm file\n")
    vm.symlink("/work/inside.txt", "/work/link")
    vm.symlink("/etc/hostname", "/work/host_link")
    r = run(
        vm,
        [
            "python3",
            "-c",
            "print(open('link').read(), end=''); "
            "print(open('host_link').read() == open('/etc/hostname').read())",
        ],
    )
    assert r.stdout == "vm file\nTrue\n"
    r = run(vm, ["python3", "-c", "print(open('/etc/hostname').read(), end='')"])
    assert r.stdout_bytes == vm.read_file("/etc/hostname")


def test_pythonpath_package(vm):
    vm.write_file("/work/lib/mypkg/__init__.py", b"VALUE = 'from the vm'\n", parents=True)
    r = run(
        vm,
        ["python3", "-c", "import mypkg; print(mypkg.VALUE)"],
        env={"PYTHONPATH": "/work/lib", "HOME": "/home/user"},
    )
    assert (r.exit_code, r.stdout) == (0, "from the vm\n")


def test_numpy_builtin(vm):
    r = run(
        vm, ["python3", "-c", "import numpy as np; print(np.arange(6).reshape(2, 3).sum(axis=0))"]
    )
    assert (r.exit_code, r.stdout) == (0, "[3 5 7]\n")


def test_pip_message(vm):
    for argv in (
        ["pip", "install", "requests"],
        ["pip3", "install", "x"],
        ["python3", "-m", "pip", "install", "x"],
    ):
        r = run(vm, argv)
        assert r.exit_code == 1
        assert "not available in this VM" in r.stderr
    r = run(vm, ["pip", "--help"])
    assert r.exit_code == 0 and r.stdout.startswith("Usage: pip")


def test_denied_path_is_permission_error(secret_vm):
    code = (
        "import os\n"
        "for f in (lambda: open('/secret/key.txt').read(), lambda: os.listdir('/secret'),\n"
        "          lambda: open('/secret/new.txt', 'w').write('x')):\n"
        "    try:\n"
        "        f(); print('allowed')\n"
        "    except PermissionError:\n"
        "        print('PermissionError')\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    r = secret_vm.run(["python3", "-c", code], stdin=b"", cwd="/work")
    assert r.stdout == "PermissionError\nPermissionError\nPermissionError\n"


def test_memory_bomb_contained(vm):
    r = run(
        vm,
        ["python3", "-c", "a = []\nwhile True: a.append(bytearray(10**7))"],
        limits={"wasm_memory": 64 * 1024 * 1024},
    )
    assert r.exit_code == 137
    assert r.stderr.splitlines()[-1] == "python3: memory limit exceeded (wasm_memory=67108864)"
    assert run(vm, ["python3", "-c", "print('still fine')"]).stdout == "still fine\n"


def test_infinite_loop_contained(vm):
    r = run(vm, ["python3", "-c", "while True: pass"], limits={"wasm_deadline": 0.5})
    assert r.exit_code == 137
    assert r.stderr == "python3: time limit exceeded (wasm_deadline=0.5s)\n"


def test_unknown_option(vm):
    r = run(vm, ["python3", "-Z"])
    assert r.exit_code == 2
    assert r.stderr == (
        "Unknown option: -Z\n"
        "usage: python3 [option] ... [-c cmd | -m mod | file | -] [arg] ...\n"
        "Try `python -h' for more information.\n"
    )


def test_help(vm):
    r = run(vm, ["python3", "--help"])
    assert r.exit_code == 0
    assert r.stdout.startswith("usage: ")


def test_missing_script(vm):
    r = run(vm, ["python3", "nope.py"])
    assert r.exit_code == 2
    assert r.stderr == (
        "python3: can't open file '/work/nope.py': [Errno 2] No such file or directory\n"
    )


@pytest.mark.parametrize("limit", [None])
def test_shebang_script(vm, limit):
    vm.write_file(
        "/work/tool.py", b"#!/usr/bin/env python3\nimport sys\nprint('tool', sys.argv[1:])\n"
    )
    vm.chmod("/work/tool.py", 0o755)
    r = vm.exec("./tool.py a b", cwd="/work")
    assert (r.exit_code, r.stdout) == (0, "tool ['a', 'b']\n")
