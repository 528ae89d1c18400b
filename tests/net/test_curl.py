"""curl and wget end to end in a VM (through the shell), against a real local server."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.compat import have
from tests.net.conftest import Server, allow, make_vm

SECRET = "Bearer tok-9f8e7d6c5b4a"


@pytest.fixture
def vm(http_server: Server):  # type: ignore[no-untyped-def]
    v = make_vm(
        allow(f"127.0.0.1:{http_server.port}"),
        network={"transforms": [{"match": "127.0.0.1", "headers": {"Authorization": SECRET}}]},
    )
    yield v
    v.close()


def test_denied_by_default(http_server: Server) -> None:
    with make_vm() as vm:
        r = vm.exec(f"curl {http_server.url('/hello')}")
    assert (r.exit_code, r.stdout) == (7, "")
    assert r.stderr == (
        "curl: (7) Failed to connect: blocked by policy (network.fetch on 127.0.0.1)\n"
    )
    assert http_server.requests == []


def test_loopback_needs_an_explicit_rule(http_server: Server) -> None:
    with make_vm(default="allow") as vm:
        r = vm.exec(f"curl -sS {http_server.url('/hello')}")
    assert r.exit_code == 7
    assert r.stderr == (
        "curl: (7) Failed to connect: blocked by policy (network.fetch on "
        "127.0.0.1: address 127.0.0.1 is private; allow it by naming the host "
        "or the address in a rule)\n"
    )
    assert http_server.requests == []


def test_get(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -s {http_server.url('/hello')}")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello\n", "")


def test_silent_hides_errors_show_error_shows_them(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec("curl -s http://example.com/")
    assert (r.exit_code, r.stderr) == (7, "")
    r = vm.exec("curl -sS http://example.com/")
    assert r.stderr.startswith("curl: (7) Failed to connect: blocked by policy")


def test_secret_header_reaches_server_but_never_the_vm(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(
        f"curl -s {http_server.url('/headers')} > /tmp/h.json; jq -r .authorization "
        f"/tmp/h.json >/dev/null; env; cat /proc/self/environ 2>/dev/null; "
        f"curl -sv {http_server.url('/hello')} 2>&1; set"
    )
    assert r.exit_code == 0
    assert http_server.requests[0]["headers"]["Authorization"] == SECRET
    assert SECRET not in r.stdout and SECRET not in r.stderr
    # the server echoed it into a file: that is the server's doing; nothing else holds it
    r = vm.exec("grep -rl tok-9f8e7d6c5b4a / 2>/dev/null")
    assert r.stdout == "/tmp/h.json\n"
    assert all(SECRET not in repr(e.to_dict()) for e in vm.audit_log())


def test_guest_cannot_override_injected_header(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -s -H 'Authorization: Bearer guess' {http_server.url('/headers')}")
    assert json.loads(r.stdout)["authorization"] == SECRET


def test_include_and_head(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -si {http_server.url('/hello')}")
    assert r.stdout_bytes == (
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"
    )
    r = vm.exec(f"curl -sI {http_server.url('/hello')}")
    assert r.stdout_bytes == (
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"
    )
    assert http_server.requests[-1]["method"] == "HEAD"


def test_fail_and_write_out(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f'curl -s -f {http_server.url("/status/404")}; echo " $?"')
    assert (r.stdout, r.stderr) == (" 22\n", "")
    r = vm.exec(f"curl -sS -f {http_server.url('/status/500')}")
    assert (r.exit_code, r.stdout) == (22, "")
    assert r.stderr == "curl: (22) The requested URL returned error: 500\n"
    r = vm.exec(f"curl -sS --fail-with-body {http_server.url('/status/404')}")
    assert (r.exit_code, r.stdout) == (22, "status 404\n")
    r = vm.exec(
        f"curl -s -o /dev/null -w '%{{http_code}} %{{size_download}}\\n' "
        f"{http_server.url('/status/404')}"
    )
    assert (r.exit_code, r.stdout) == (0, "404 11\n")


def test_output_files(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(
        f"cd /tmp && curl -s -o a.txt {http_server.url('/hello')} && "
        f"curl -sO {http_server.url('/hello')} && cat a.txt hello"
    )
    assert (r.exit_code, r.stdout) == (0, "hello\nhello\n")
    r = vm.exec(f"curl -sS -O {http_server.base}/")
    assert (r.exit_code, r.stderr) == (23, "curl: (23) Remote file name has no length\n")


def test_post_data_forms(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    vm.write_file("/tmp/body.txt", b"line1\nline2\n")
    cases = [
        ("-d a=1 -d b=2", b"a=1&b=2", "application/x-www-form-urlencoded"),
        ("-d @/tmp/body.txt", b"line1line2", "application/x-www-form-urlencoded"),
        ("--data-binary @/tmp/body.txt", b"line1\nline2\n", "application/x-www-form-urlencoded"),
        ("--data-urlencode 'q=a b&c'", b"q=a%20b%26c", "application/x-www-form-urlencoded"),
        ("--json '{\"a\":1}'", b'{"a":1}', "application/json"),
        ("-X PUT -H 'Content-Type: text/plain' -d x", b"x", "text/plain"),
    ]
    for opts, body, ctype in cases:
        r = vm.exec(f"curl -s {opts} {http_server.url('/echo')}")
        assert r.exit_code == 0, r.stderr
        req = http_server.requests[-1]
        assert (req["body"], req["headers"]["Content-Type"]) == (body, ctype), opts
    assert http_server.requests[-1]["method"] == "PUT"
    r = vm.exec(f"echo -n piped | curl -s --data-binary @- {http_server.url('/echo')}")
    assert r.stdout == "POST piped\n"


def test_multipart_form(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    vm.write_file("/tmp/up.bin", b"\x00\x01data")
    r = vm.exec(f"curl -s -F name=joe -F file=@/tmp/up.bin {http_server.url('/echo')}")
    assert r.exit_code == 0
    req = http_server.requests[-1]
    ctype = req["headers"]["Content-Type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    boundary = ctype.split("=", 1)[1].encode()
    assert req["body"] == (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="name"'
        b"\r\n\r\njoe\r\n--" + boundary + b"\r\nContent-Disposition: "
        b'form-data; name="file"; filename="up.bin"\r\nContent-Type: '
        b"application/octet-stream\r\n\r\n\x00\x01data\r\n--" + boundary + b"--\r\n"
    )


def test_user_and_get(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    with make_vm(allow("127.0.0.1")) as plain:
        r = plain.exec(f"curl -s -u ann:pw -G -d q=1 {http_server.url('/headers')}")
    assert json.loads(r.stdout)["authorization"] == "Basic YW5uOnB3"
    assert http_server.requests[-1]["path"] == "/headers?q=1"


def test_redirects(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(
        f"curl -s {http_server.url('/chain/2')}; echo; curl -sL {http_server.url('/chain/2')}"
    )
    assert r.stdout == "\nend of chain\n"
    r = vm.exec(f"curl -sSL --max-redirs 1 {http_server.url('/chain/2')}")
    assert (r.exit_code, r.stderr) == (47, "curl: (47) Maximum (1) redirects followed\n")
    r = vm.exec(f"curl -sSL '{http_server.url('/redirect?to=http://169.254.169.254/latest')}'")
    assert r.exit_code == 7
    assert r.stderr == (
        "curl: (7) Failed to connect: blocked by policy (network.fetch on 169.254.169.254)\n"
    )
    r = vm.exec(
        f"curl -sL -w '%{{num_redirects}} %{{url_effective}}' -o /dev/null "
        f"{http_server.url('/chain/2')}"
    )
    assert r.stdout == f"2 {http_server.url('/chain/0')}"


def test_max_time(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -sS -m 0.3 {http_server.url('/hang')}")
    assert (r.exit_code, r.stderr) == (28, "curl: (28) Operation timed out after 0.3 seconds\n")


def test_max_filesize(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -sS --max-filesize 100 {http_server.url('/big/101')}")
    assert r.exit_code == 63
    assert r.stderr == ("curl: (63) Exceeded the maximum allowed file size (100) with 101 bytes\n")


def test_exec_budget_limits(http_server: Server) -> None:
    with make_vm(allow("127.0.0.1"), limits={"max_network_requests": 2}) as vm:
        r = vm.exec(f"for i in 1 2 3; do curl -s {http_server.url('/hello')}; done")
        assert r.stdout == "hello\nhello\n"
        assert r.limit_hit == "max_network_requests"
        assert vm.exec(f"curl -s {http_server.url('/hello')}").stdout == "hello\n"


def test_compressed(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -s --compressed {http_server.url('/gzip')}")
    assert r.stdout == "unzipped\n"
    r = vm.exec(f"curl -s {http_server.url('/gzip')} | gunzip")
    assert r.stdout == "unzipped\n"


def test_usage_errors(vm) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec("curl --zz")
    assert (r.exit_code, r.stderr) == (
        2,
        "curl: option --zz: is unknown\ncurl: try 'curl "
        "--help' or 'curl --manual' for more information\n",
    )
    r = vm.exec("curl -z x")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (2, "curl: option -z: is unknown")
    r = vm.exec("curl")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (2, "curl: no URL specified")
    r = vm.exec("curl --help")
    assert r.exit_code == 0 and r.stdout.startswith("Usage: curl [options...] <url>\n")
    r = vm.exec("curl -s ftp://x/")
    assert r.exit_code == 1


def test_verbose_shows_guest_headers_only(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"curl -sv {http_server.url('/hello')}")
    assert r.stdout == "hello\n"
    assert r.stderr == (
        f"> GET /hello HTTP/1.1\r\n> Host: 127.0.0.1:{http_server.port}\r\n"
        "> User-Agent: curl/8.5.0\r\n> Accept: */*\r\n> \r\n"
        "< HTTP/1.0 200 OK\r\n< Content-Type: text/plain\r\n"
        "< Content-Length: 6\r\n< \r\n"
    )


def test_wget(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"wget -q -O - {http_server.url('/hello')}")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello\n", "")
    r = vm.exec(
        f"cd /tmp && wget -q {http_server.url('/hello')} {http_server.url('/hello')} "
        f"&& ls hello* && cat hello"
    )
    assert r.stdout == "hello\nhello.1\nhello\n"
    r = vm.exec(f"cd /tmp && wget -q -O out {http_server.url('/status/404')}; echo $?; wc -c < out")
    assert r.stdout == "8\n0\n"
    r = vm.exec(f"wget -q -O - --post-data 'a=1' {http_server.url('/echo')}")
    assert r.stdout == "POST a=1\n"
    r = vm.exec("wget -q http://example.com/; echo $?")
    assert r.stdout == "4\n"
    r = vm.exec("wget -O - http://example.com/")
    assert r.stderr.endswith("wget: blocked by policy (network.fetch on example.com)\n")
    r = vm.exec(f"wget -qO- {http_server.url('/chain/1')}")
    assert r.stdout == "end of chain\n"
    r = vm.exec("wget --zz")
    assert (r.exit_code, r.stderr) == (
        2,
        "wget: unrecognized option '--zz'\nUsage: wget "
        "[OPTION]... [URL]...\n\nTry `wget --help' for more "
        "options.\n",
    )


def test_secret_not_in_wget_server_response_log(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(f"wget -S -O /dev/null {http_server.url('/hello')}")
    assert r.exit_code == 0
    assert SECRET not in r.stderr
    assert "  HTTP/1.0 200 OK\n  Content-Type: text/plain\n  Content-Length: 6\n" in r.stderr


HOST_CASES = [
    "-s {u}/hello",
    "-si {u}/hello",
    "-sI {u}/hello",
    "-s -o /dev/null -w '%{{http_code}}\\n' {u}/status/418",
    "-s -f {u}/status/404",
    "-s --fail-with-body {u}/status/404",
    "-sL {u}/chain/3",
    "-s {u}/chain/1",
    "-siL {u}/chain/1",
    "-s -d a=1 -d b=2 {u}/echo",
    "-s -X DELETE {u}/echo",
    "-s -G -d x=1 -w '%{{url_effective}}' {u}/echo",
    "-sL --max-redirs 1 {u}/chain/3",
]


@pytest.mark.skipif(not have("curl"), reason="host curl not installed")
@pytest.mark.parametrize("args", HOST_CASES)
def test_same_as_host_curl(args: str, http_server: Server) -> None:
    cmd = "curl " + args.format(u=http_server.base)
    host = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=20)
    with make_vm(allow("127.0.0.1")) as vm:
        r = vm.exec(cmd)
    assert (r.exit_code, r.stdout_bytes) == (host.returncode, host.stdout)


def test_streams_to_a_closed_pipe_and_to_files(vm, http_server: Server) -> None:  # type: ignore[no-untyped-def]
    r = vm.exec(
        f"curl -s {http_server.url('/big/50000000')} | head -c 5; echo; "
        f"curl -s -o /tmp/big {http_server.url('/big/300000')}; wc -c < /tmp/big"
    )
    assert (r.exit_code, r.stdout) == (0, "xxxxx\n300000\n")


def test_dns_rebinding_through_the_system_resolver(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "rebind.example.com":
            asked.append(host)
            return real("127.0.0.1", *args, **kw)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with make_vm(allow("*.example.com"), default="allow") as vm:
        r = vm.exec(f"curl -sS http://rebind.example.com:{http_server.port}/hello")
    assert asked == ["rebind.example.com"]
    assert r.exit_code == 7
    assert r.stderr == (
        "curl: (7) Failed to connect: blocked by policy (network.fetch on "
        "rebind.example.com: address 127.0.0.1 is private; allow it by naming "
        "the host or the address in a rule)\n"
    )
    assert http_server.requests == []
