"""API input and edge behaviour users rely on: bad timeouts and limits are refused, data must
be bytes or str, denied paths do not "exist", signalling an exited process is harmless, a
missing cwd fails clearly, readdir_recursive counts depth like agentOS, /proc is read-only."""

from __future__ import annotations

import errno
import math

import pytest

from pocketos import VM


@pytest.fixture
def vm() -> VM:
    with VM() as v:
        yield v


@pytest.mark.parametrize("bad", [math.nan, -1, "10", True])
def test_bad_timeouts_are_refused(vm: VM, bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="timeout"):
        vm.exec("while :; do :; done", timeout=bad)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="timeout"):
        vm.run(["true"], timeout=bad)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="timeout"):
        VM(limits={"timeout": bad})


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_commands": -1}, "max_commands must not be negative"),
        ({"max_file_size": "big"}, "max_file_size must be an int, not str"),
        ({"max_processes": 2.5}, "max_processes must be an int, not float"),
        ({"wasm_deadline": math.nan}, "wasm_deadline must be a number of seconds, not NaN"),
    ],
)
def test_bad_limits_are_refused(limits: dict[str, object], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        VM(limits=limits)
    with VM() as vm, pytest.raises((TypeError, ValueError), match=message):
        vm.exec("true", limits=limits)


@pytest.mark.parametrize("data", [123, None, 1.5, ["a"]])
def test_write_file_needs_bytes_or_str(vm: VM, data: object) -> None:
    with pytest.raises(TypeError, match="data must be str or bytes"):
        vm.write_file("/tmp/x", data)  # type: ignore[arg-type]
    assert not vm.exists("/tmp/x")
    res = vm.write_files({"/tmp/y": data})  # type: ignore[dict-item]
    assert res[0]["ok"] is False and "data must be str or bytes" in res[0]["error"]


def test_exists_on_a_denied_path_is_false() -> None:
    pol = {"fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/s/**"]}]}}
    with VM() as setup:
        setup.write_file("/s/x", b"1", parents=True)
        with setup.fork(policy=pol) as vm:
            assert vm.exists("/s/x") is False
            assert vm.exists("/s") is False
            assert vm.exists("/tmp") is True
            with pytest.raises(PermissionError):
                vm.stat("/s/x")


def test_kill_of_an_exited_listed_process_is_a_no_op(vm: VM) -> None:
    p = vm.spawn(["true"])
    assert p.wait() == 0
    assert p.pid in [x["pid"] for x in vm.list_processes()]
    vm.kill(p.pid)
    vm.kill(p.pid, "KILL")
    p.kill()
    with pytest.raises(ValueError):
        vm.kill(p.pid, "NOSUCHSIG")
    with pytest.raises(ProcessLookupError):
        vm.kill(999_999)
    # the shell keeps bash's answer for a pid that is no longer running
    r = vm.exec(f"kill {p.pid}")
    assert r.exit_code == 1 and "No such process" in r.stderr


def test_exec_in_a_missing_cwd_fails_clearly(vm: VM) -> None:
    with pytest.raises(FileNotFoundError) as exc:
        vm.exec("pwd", cwd="/nope")
    assert exc.value.errno == errno.ENOENT and exc.value.filename == "/nope"
    vm.write_file("/tmp/f", b"")
    with pytest.raises(NotADirectoryError):
        vm.run(["pwd"], cwd="/tmp/f")
    with pytest.raises(FileNotFoundError):
        vm.spawn(["pwd"], cwd="/nope")
    with pytest.raises(ValueError, match="absolute"):
        vm.exec("pwd", cwd="tmp")
    assert vm.exec("pwd", cwd="/tmp").stdout == "/tmp\n"


def test_proc_is_read_only(vm: VM) -> None:
    r = vm.exec(
        "echo x > /proc/new; echo x >> /proc/version; mkdir /proc/d; rm /proc/version; "
        "touch /proc/t; ln /proc/version /tmp/v; mv /tmp /proc/tmp2; ls /proc"
    )
    assert r.stdout == "self\nversion\n"
    assert r.stderr.count("Read-only file system") == 7, r.stderr
    for call in (
        lambda: vm.write_file("/proc/evil", b"x"),
        lambda: vm.mkdir("/proc/d"),
        lambda: vm.chmod("/proc/version", 0o777),
        lambda: vm.delete("/proc/version"),
    ):
        with pytest.raises(OSError) as exc:
            call()
        assert exc.value.errno == errno.EROFS
    assert vm.read_text("/proc/version").startswith("Linux version")
