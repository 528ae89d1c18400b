"""The host process's environment never reaches a VM: every way a guest can list variables
(``env``, ``printenv``, ``set``, ``declare -p``, ``export -p``, ``/proc/self/environ``, Python's
``os.environ``, JavaScript's ``std.getenviron``) shows only the VM's own environment."""

from __future__ import annotations

import pytest

from pocketos import VM
from pocketos.vm import DEFAULT_ENV
from tests.security._util import assert_no_crash, text_of

HOST_ENV_MARKER = "HOSTENV-5d02c7e1"

SCRIPT = r"""
env; printenv; set; declare -p; export -p; declare -x
cat /proc/self/environ; cat /proc/*/environ; ls -R /proc
grep -r HOSTENV / 2>/dev/null
printenv SECRET_TOKEN; echo "${SECRET_TOKEN-unset}" "${!SEC*}" "${!HOST*}"
env -i env; sh -c 'env'; bash -c 'set'; xargs -0 < /dev/null env
awk 'BEGIN { for (k in ENVIRON) print k "=" ENVIRON[k] }'
find / -maxdepth 1 -newer /etc/passwd -exec env \; 2>/dev/null | head -n 3
"""


@pytest.fixture
def vm(monkeypatch: pytest.MonkeyPatch) -> VM:
    monkeypatch.setenv("SECRET_TOKEN", HOST_ENV_MARKER)
    monkeypatch.setenv("HOSTENV_" + HOST_ENV_MARKER.replace("-", "_"), HOST_ENV_MARKER)
    return VM()


def test_a_broad_script_shows_no_host_variable(vm: VM) -> None:
    with vm:
        r = vm.exec(SCRIPT, timeout=20)
    assert_no_crash(r)
    assert HOST_ENV_MARKER not in text_of(r)
    assert "SECRET_TOKEN" not in text_of(r)
    assert "unset HOSTNAME HOSTTYPE\n" in r.stdout


def test_env_lists_exactly_the_vm_environment(vm: VM) -> None:
    with vm:
        r = vm.run(["env"])
    assert r.exit_code == 0
    assert sorted(r.stdout.splitlines()) == sorted(f"{k}={v}" for k, v in DEFAULT_ENV.items())


def test_exec_env_adds_only_what_the_host_passes(vm: VM) -> None:
    with vm:
        r = vm.exec("printenv EXTRA SECRET_TOKEN; echo $?", env={"EXTRA": "given"})
    assert (r.exit_code, r.stdout, r.stderr) == (0, "given\n1\n", "")


def test_proc_self_environ_holds_no_host_data(vm: VM) -> None:
    with vm:
        r = vm.exec("cat /proc/self/environ 2>&1 | tr '\\0' '\\n'")
    assert HOST_ENV_MARKER not in text_of(r)
    assert r.stdout == "cat: /proc/self/environ: No such file or directory\n"


def test_python_and_javascript_see_only_the_vm_environment(vm: VM) -> None:
    with vm:
        r = vm.exec(
            "python3 -c 'import os; print(sorted(os.environ))'; "
            "node -e 'console.log(typeof process)' 2>&1",
            timeout=120,
        )
    assert HOST_ENV_MARKER not in text_of(r)
    assert "SECRET_TOKEN" not in text_of(r)
    assert_no_crash(r)
