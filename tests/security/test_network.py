"""Without a policy grant no guest program reaches the network: each network-capable command
fails with a clear message, and the host process opens no socket and resolves no name (checked
with an audit hook on ``socket.*`` events)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from pocketos import VM
from tests.security._util import assert_no_crash

_events: list[tuple[str, tuple[object, ...]]] = []
_watch = threading.Event()


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _watch.is_set() and event.startswith("socket."):
        _events.append((event, args))


sys.addaudithook(_hook)

URL = "http://example.com/"


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        v.exec("true")
        yield v


@pytest.fixture
def no_sockets() -> Iterator[None]:
    _events.clear()
    _watch.set()
    try:
        yield
    finally:
        _watch.clear()
    assert _events == []


@pytest.mark.parametrize(
    ("script", "status", "stderr"),
    [
        (
            f"curl {URL}",
            7,
            "curl: (7) Failed to connect: blocked by policy (network.fetch on example.com)\n",
        ),
        (
            "curl -sS -o /tmp/x https://10.0.0.1:8443/admin",
            7,
            "curl: (7) Failed to connect: blocked by policy (network.fetch on 10.0.0.1)\n",
        ),
        (
            "curl -sS http://169.254.169.254/latest/meta-data/",
            7,
            "curl: (7) Failed to connect: blocked by policy (network.fetch on 169.254.169.254)\n",
        ),
        (
            "curl -sS http://localhost:22/",
            7,
            "curl: (7) Failed to connect: blocked by policy (network.fetch on localhost)\n",
        ),
        (f"wget -nv -O - {URL}", 4, "wget: blocked by policy (network.fetch on example.com)\n"),
    ],
    ids=["curl", "curl-private", "curl-metadata", "curl-localhost", "wget"],
)
def test_http_clients_are_blocked(
    vm: VM, no_sockets: None, script: str, status: int, stderr: str
) -> None:
    r = vm.exec(script)
    assert (r.exit_code, r.stdout, r.stderr) == (status, "", stderr)


def test_curl_file_and_other_schemes_do_not_reach_the_host(vm: VM, no_sockets: None) -> None:
    r = vm.exec(
        "curl -sS file:///etc/shadow; curl -sS gopher://example.com/; curl -sS ftp://example.com/"
    )
    assert (r.exit_code, r.stdout, r.stderr) == (
        1,
        "",
        "".join(f'curl: (1) Protocol "{p}" not supported\n' for p in ("file", "gopher", "ftp")),
    )


def test_python_urllib_has_no_network(vm: VM, no_sockets: None) -> None:
    r = vm.exec(
        "python3 -c 'import urllib.request as u; u.urlopen(\"http://example.com/\")' "
        "2>&1 | tail -n 1",
        timeout=120,
    )
    assert r.stdout == (
        "urllib.error.URLError: <urlopen error blocked by policy (network.fetch on example.com)>\n"
    )


def test_python_raw_socket_has_no_network(vm: VM, no_sockets: None) -> None:
    r = vm.exec(
        "python3 -c 'import socket; s = socket.socket(); "
        's.connect(("93.184.216.34", 80))\' 2>&1 | tail -n 1',
        timeout=120,
    )
    assert r.stdout.startswith("OSError: ")
    assert r.exit_code == 0


def test_node_fetch_is_blocked(vm: VM, no_sockets: None) -> None:
    r = vm.exec(
        "node -e 'fetch(\"http://example.com/\").catch(e => console.log(String(e)))'", timeout=60
    )
    assert_no_crash(r)
    assert r.stdout == (
        "TypeError: fetch failed: blocked by policy (network.fetch on example.com)\n"
    )


def test_bash_dev_tcp_is_not_a_socket(vm: VM, no_sockets: None) -> None:
    r = vm.exec("exec 3<>/dev/tcp/example.com/80; echo $?")
    assert (r.exit_code, r.stdout, r.stderr) == (
        0,
        "1\n",
        "bash: line 1: /dev/tcp/example.com/80: No such file or directory\n",
    )


def test_policy_denials_are_audited(no_sockets: None) -> None:
    with VM() as v:
        v.exec(f"curl -s {URL}")
        denials = [e for e in v.audit_log() if e.decision == "deny"]
    assert [(e.capability, e.resource) for e in denials] == [("network.fetch", URL)]


def test_the_audit_hook_sees_host_sockets() -> None:
    # control: the hook does record what the tests above assert is absent
    import socket

    _events.clear()
    _watch.set()
    try:
        socket.getaddrinfo("127.0.0.1", 9)
    finally:
        _watch.clear()
    assert [e for e, _ in _events] == ["socket.getaddrinfo"]
