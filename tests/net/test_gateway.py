"""The gateway on its own: policy, private addresses, DNS pinning, redirects, limits, audit."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from pocketos.errors import LimitExceeded
from pocketos.kernel.audit import AuditLog
from pocketos.kernel.budget import Budget
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import Policy
from pocketos.net import Gateway, NetworkError, install, is_private_address
from tests.net.conftest import Server, allow, make_vm, policy


def gateway(*rules: dict[str, Any], default: str = "deny", **kw: Any) -> Gateway:
    return Gateway(Policy(policy(*rules, default=default)), AuditLog("t"), **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "::1",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "100.64.0.1",
        "::",
    ],
)
def test_private_addresses(ip: str) -> None:
    assert is_private_address(ip)


@pytest.mark.parametrize(
    "ip", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "172.32.0.1", "::ffff:8.8.8.8"]
)
def test_public_addresses(ip: str) -> None:
    assert not is_private_address(ip)


def test_denied_by_default(http_server: Server) -> None:
    gw = gateway()
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url("/hello")))
    assert ei.value.kind == "blocked"
    assert ei.value.curl_code == 7
    assert str(ei.value) == "blocked by policy (network.fetch on 127.0.0.1)"
    assert http_server.requests == []
    (ev,) = gw.audit.query(kind="network")
    assert (ev.decision, ev.reason, ev.resource) == ("deny", "policy", http_server.url("/hello"))


def test_allowed_by_explicit_ip_rule(http_server: Server) -> None:
    gw = gateway(allow(f"127.0.0.1:{http_server.port}"))
    r = run(gw.request("GET", http_server.url("/hello")))
    assert (r.status, r.body) == (200, b"hello\n")
    (ev,) = gw.audit.query(kind="network")
    assert ev.decision == "allow"
    assert ev.detail["status"] == 200 and ev.detail["bytes"] == 6


def test_wildcard_policy_does_not_open_loopback(http_server: Server) -> None:
    for gw in (gateway(default="allow"), gateway(allow("*")), gateway(allow("127.0.0.*"))):
        with pytest.raises(NetworkError) as ei:
            run(gw.request("GET", http_server.url("/hello")))
        assert ei.value.kind == "blocked"
        assert "address 127.0.0.1 is private" in str(ei.value)
    assert http_server.requests == []


def test_explicitly_named_host_reaches_its_private_address(http_server: Server) -> None:
    # "localhost" named literally: its loopback address is reachable, Host keeps the name
    gw = gateway(allow(f"localhost:{http_server.port}"))
    r = run(gw.request("GET", f"http://localhost:{http_server.port}/hello"))
    assert r.body == b"hello\n"
    assert http_server.requests[-1]["headers"]["Host"] == f"localhost:{http_server.port}"
    # a wildcard naming no host does not
    gw = gateway(allow("*.localhost", "local*"))
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", f"http://localhost:{http_server.port}/hello"))
    assert "address 127.0.0.1 is private" in str(ei.value)


def test_later_deny_rule_wins(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"), {"mode": "deny", "hosts": [f"127.0.0.1:{http_server.port}"]})
    with pytest.raises(NetworkError):
        run(gw.request("GET", http_server.url("/hello")))


def test_dns_rebinding_is_refused(http_server: Server) -> None:
    answers: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["127.0.0.1"]

    gw = gateway(allow("*.example.com"), resolver=resolver)
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", f"http://api.example.com:{http_server.port}/hello"))
    assert answers == ["api.example.com"]
    assert str(ei.value) == (
        "blocked by policy (network.fetch on api.example.com: address "
        "127.0.0.1 is private; allow it by naming the host or the "
        "address in a rule)"
    )
    assert http_server.requests == []


def test_every_address_is_checked(http_server: Server) -> None:
    gw = gateway(allow("*.example.com"), resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", "http://api.example.com/"))
    assert "10.0.0.7 is private" in str(ei.value)


def test_connects_to_the_checked_address(http_server: Server) -> None:
    # the resolver answers once; the connection goes to that answer, with the name as Host
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    gw = gateway(allow("svc.internal"), resolver=resolver)
    r = run(gw.request("GET", f"http://svc.internal:{http_server.port}/hello"))
    assert r.body == b"hello\n"
    assert calls == ["svc.internal"]
    assert r.remote_ip == "127.0.0.1"
    assert http_server.requests[-1]["headers"]["Host"] == f"svc.internal:{http_server.port}"


def test_unresolvable_host() -> None:
    gw = gateway(allow("nope.invalid"), resolver=lambda h, p: [])
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", "http://nope.invalid/"))
    assert (ei.value.kind, ei.value.curl_code) == ("resolve", 6)
    assert str(ei.value) == "Could not resolve host: nope.invalid"


def test_redirect_to_denied_host_is_refused(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    target = "http://10.9.9.9/secret"
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url(f"/redirect?to={target}"), follow_redirects=True))
    assert ei.value.kind == "blocked"
    events = [(e.decision, e.resource) for e in gw.audit.query(kind="network")]
    assert events == [("allow", http_server.url(f"/redirect?to={target}")), ("deny", target)]


def test_redirect_not_followed_unless_asked(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    r = run(gw.request("GET", http_server.url("/redirect?to=/hello")))
    assert r.status == 302 and r.header("location") == "/hello"
    r = run(gw.request("GET", http_server.url("/redirect?to=/hello"), follow_redirects=True))
    assert (r.status, r.body, len(r.history)) == (200, b"hello\n", 1)
    assert r.url == http_server.url("/hello")


def test_too_many_redirects(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url("/chain/5"), follow_redirects=True, max_redirects=3))
    assert (ei.value.kind, ei.value.curl_code, str(ei.value)) == (
        "redirects",
        47,
        "Maximum (3) redirects followed",
    )


def test_post_becomes_get_on_303(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    r = run(
        gw.request(
            "POST",
            http_server.url("/redirect?code=303&to=/echo"),
            [("Content-Type", "text/plain")],
            b"data",
            follow_redirects=True,
        )
    )
    assert r.body == b"GET \n"
    r = run(
        gw.request(
            "POST",
            http_server.url("/redirect?code=307&to=/echo"),
            [("Content-Type", "text/plain")],
            b"data",
            follow_redirects=True,
        )
    )
    assert r.body == b"POST data\n"


def test_size_limit_per_request(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    assert len(run(gw.request("GET", http_server.url("/big/1000"), max_bytes=1000)).body) == 1000
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url("/big/1001"), max_bytes=1000))
    assert (ei.value.kind, ei.value.curl_code) == ("too_large", 63)


def test_budget_limits(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    budget = Budget(Limits(max_network_requests=2))
    run(gw.request("GET", http_server.url("/hello"), budget=budget))
    run(gw.request("GET", http_server.url("/hello"), budget=budget))
    with pytest.raises(LimitExceeded) as ei:
        run(gw.request("GET", http_server.url("/hello"), budget=budget))
    assert ei.value.limit == "max_network_requests"
    assert budget.limit_hit == "max_network_requests"
    assert len(http_server.requests) == 2
    budget = Budget(Limits(max_network_bytes=1500))
    run(gw.request("GET", http_server.url("/big/1000"), budget=budget))
    with pytest.raises(LimitExceeded) as ei:
        run(gw.request("GET", http_server.url("/big/1000"), budget=budget))
    assert ei.value.limit == "max_network_bytes"


def test_timeout(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url("/hang"), timeout=0.3))
    assert (ei.value.kind, ei.value.curl_code) == ("timeout", 28)
    assert str(ei.value) == "Operation timed out after 0.3 seconds"


def test_connection_refused() -> None:
    gw = gateway(allow("127.0.0.1:1"))
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", "http://127.0.0.1:1/"))
    assert (ei.value.kind, ei.value.curl_code) == ("connect", 7)
    assert str(ei.value) == "Failed to connect to 127.0.0.1 port 1: Connection refused"


def test_unsupported_scheme_and_bad_url() -> None:
    gw = gateway(allow("*"))
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", "ftp://example.com/x"))
    assert (ei.value.curl_code, str(ei.value)) == (1, 'Protocol "ftp" not supported')
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", "http://example.com:99999/"))
    assert ei.value.curl_code == 3


def test_transform_injects_header_only_for_matching_host(http_server: Server) -> None:
    gw = gateway(
        allow("127.0.0.1", "localhost"),
        transforms=[{"match": "127.0.0.1", "headers": {"Authorization": "Bearer s3cret"}}],
    )
    gw.resolver = lambda h, p: ["127.0.0.1"]
    run(gw.request("GET", http_server.url("/hello"), [("Authorization", "guest")]))
    assert http_server.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"
    run(gw.request("GET", f"http://localhost:{http_server.port}/hello"))
    assert "Authorization" not in http_server.requests[-1]["headers"]
    events = gw.audit.query(kind="network")
    assert all("s3cret" not in repr(e.to_dict()) for e in events)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"match": "", "headers": {"A": "b"}}, "'match' must be a non-empty host pattern"),
        ({"match": "x.com"}, "'headers' must be a non-empty mapping"),
        ({"match": "x.com", "headers": {"A": 1}}, "header names and values must be strings"),
        ({"match": "x.com", "headers": {"A": "b"}, "when": 1}, "unknown key(s) when"),
    ],
)
def test_bad_transforms(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as ei:
        gateway(transforms=[bad])
    assert str(ei.value) == f"network transform: {message}"


def test_install_rejects_unknown_options() -> None:
    with make_vm() as vm, pytest.raises(ValueError) as ei:
        install(vm.kernel, {"transform": []})
    assert str(ei.value).startswith("unknown network option(s): transform;")


def test_ask_mode_uses_the_handler(http_server: Server) -> None:
    asked: list[Any] = []

    async def handler(req: Any) -> str:
        asked.append((req.capability, req.resource))
        return "allow_once" if len(asked) == 1 else "deny"

    pol = Policy(policy({"mode": "ask", "hosts": ["127.0.0.1"]}), handler=handler)
    gw = Gateway(pol, AuditLog("t"))
    assert run(gw.request("GET", http_server.url("/hello"))).status == 200
    with pytest.raises(NetworkError) as ei:
        run(gw.request("GET", http_server.url("/hello")))
    assert str(ei.value) == "blocked by policy (network.fetch on 127.0.0.1, not granted)"
    assert asked == [("network.fetch", "127.0.0.1")] * 2


def test_request_sync_from_a_worker_thread(http_server: Server) -> None:
    gw = gateway(allow("127.0.0.1"))
    # without a loop: a private one
    assert gw.request_sync("GET", http_server.url("/hello")).body == b"hello\n"

    async def main() -> bytes:
        gw.loop = asyncio.get_running_loop()
        out: list[bytes] = []

        def worker() -> None:
            out.append(gw.request_sync("GET", http_server.url("/hello")).body)

        t = threading.Thread(target=worker)
        t.start()
        while t.is_alive():
            await asyncio.sleep(0.01)
        return out[0]

    assert run(main()) == b"hello\n"

    async def on_loop() -> None:
        gw.request_sync("GET", http_server.url("/hello"))

    with pytest.raises(RuntimeError):
        run(on_loop())
