"""The HTTP door: guest Python and JavaScript reach the network only through the VM's gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pocketos.kernel.permissions import DEFAULT_POLICY
from tests.wasm.conftest import need_js, need_python

SECRET = "Bearer s3cr3t-token"


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response_only(status)
        headers = dict(headers or {})
        self.send_header("Content-Type", headers.pop("Content-Type", "text/plain"))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = urlsplit(self.path)
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        q = parse_qs(parts.query)
        if parts.path == "/hello":
            self._reply(200, b"hello\n", {"X-Test": "yes"})
        elif parts.path == "/json":
            self._reply(200, b'{"a": [1, 2], "b": "x"}', {"Content-Type": "application/json"})
        elif parts.path == "/echo":
            self._reply(200, f"{self.command} {body.decode('latin-1')}".encode())
        elif parts.path == "/auth":
            self._reply(200, b"auth=" + self.headers.get("Authorization", "none").encode())
        elif parts.path == "/missing":
            self._reply(404, b"no such thing\n")
        elif parts.path == "/redirect":
            self._reply(302, b"", {"Location": q["to"][0]})
        else:
            self._reply(404, b"not found\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "127.0.0.1", httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _vm(port: int, *, allow: bool = True, **kw: Any) -> Any:
    from pocketos import VM

    pol = dict(DEFAULT_POLICY)
    rules = [{"mode": "allow", "patterns": [f"127.0.0.1:{port}"]}] if allow else []
    pol["network"] = {"default": "deny", "rules": rules} if rules else "deny"
    vm = VM(policy=pol, **kw)
    vm.mkdir("/work", parents=True, exist_ok=True)
    return vm


@pytest.fixture(scope="module")
def net_vm(server: tuple[str, int]) -> Iterator[Any]:
    vm = _vm(
        server[1],
        network={
            "transforms": [
                {"match": f"127.0.0.1:{server[1]}", "headers": {"Authorization": SECRET}}
            ]
        },
    )
    with vm:
        yield vm


@pytest.fixture(scope="module")
def closed_vm(server: tuple[str, int]) -> Iterator[Any]:
    with _vm(server[1], allow=False) as vm:
        yield vm


def py(vm: Any, code: str, **kw: Any) -> Any:
    return vm.run(["python3", "-c", code], stdin=b"", cwd="/work", **kw)


def js(vm: Any, code: str) -> Any:
    return vm.run(["node", "-e", code], stdin=b"", cwd="/work")


# --- Python ----------------------------------------------------------------------------------
def test_python_urlopen(net_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    url = f"http://127.0.0.1:{server[1]}/hello"
    r = py(net_vm, f"import urllib.request\nprint(urllib.request.urlopen({url!r}).read())")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "b'hello\\n'\n", "")


def test_python_urlopen_status_headers_post(net_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    base = f"http://127.0.0.1:{server[1]}"
    code = (
        "import urllib.request, urllib.error\n"
        f"r = urllib.request.urlopen({base + '/hello'!r})\n"
        "print(r.status, r.headers['X-Test'], r.geturl())\n"
        f"req = urllib.request.Request({base + '/echo'!r}, data=b'payload', method='PUT')\n"
        "print(urllib.request.urlopen(req).read().decode())\n"
        "try:\n"
        f"    urllib.request.urlopen({base + '/missing'!r})\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('HTTPError', e.code, e.read())\n"
    )
    r = py(net_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (f"200 yes {base}/hello\nPUT payload\nHTTPError 404 b'no such thing\\n'\n")


def test_python_http_client(net_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    code = (
        "import http.client\n"
        f"c = http.client.HTTPConnection('127.0.0.1', {server[1]})\n"
        "c.request('POST', '/echo', body=b'abc', headers={'X-A': '1'})\n"
        "r = c.getresponse()\n"
        "print(r.status, r.reason, r.getheader('content-length'), r.read())\n"
        "c.request('GET', '/hello')\n"
        "print(c.getresponse().read())\n"
    )
    r = py(net_vm, code)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "200 OK 8 b'POST abc'\nb'hello\\n'\n", "")


def test_python_pocketos_http(net_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    base = f"http://127.0.0.1:{server[1]}"
    code = (
        "import pocketos_http as h\n"
        f"r = h.get({base + '/json'!r})\n"
        "print(r.status, r.ok, r.headers['content-type'], r.json())\n"
        f"r = h.post({base + '/echo'!r}, json={{'k': 1}})\n"
        "print(r.text)\n"
        f"r = h.request('GET', {base + '/missing'!r})\n"
        "print(r.status, r.ok, r.body)\n"
    )
    r = py(net_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "200 True application/json {'a': [1, 2], 'b': 'x'}\n"
        "POST {\"k\": 1}\n404 False b'no such thing\\n'\n"
    )


def test_python_denied_by_default(closed_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    url = f"http://127.0.0.1:{server[1]}/hello"
    code = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    urllib.request.urlopen({url!r})\n"
        "except urllib.error.URLError as e:\n"
        "    print('URLError', e.reason)\n"
        "import pocketos_http\n"
        "try:\n"
        f"    pocketos_http.get({url!r})\n"
        "except PermissionError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    before = len(_Handler.seen)
    r = py(closed_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "URLError blocked by policy (network.fetch on 127.0.0.1)\n"
        "Blocked blocked by policy (network.fetch on 127.0.0.1)\n"
    )
    assert len(_Handler.seen) == before
    denials = (
        [e for e in closed_vm.audit(kind="network") if e.data.get("decision") == "deny"]
        if hasattr(closed_vm, "audit") and callable(closed_vm.audit)
        else None
    )
    if denials is not None:
        assert denials


def test_python_redirect_to_denied_host(net_vm: Any, server: tuple[str, int]) -> None:
    need_python()
    base = f"http://127.0.0.1:{server[1]}"
    target = "http://example.invalid/x"
    code = (
        "import urllib.request, urllib.error, pocketos_http\n"
        "try:\n"
        f"    urllib.request.urlopen({base + '/redirect?to=' + target!r})\n"
        "except urllib.error.URLError as e:\n"
        "    print('URLError', e.reason)\n"
        "try:\n"
        f"    pocketos_http.get({base + '/redirect?to=' + target!r})\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    r = py(net_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "URLError blocked by policy (network.fetch on example.invalid)\n"
        "Blocked blocked by policy (network.fetch on example.invalid)\n"
    )


def test_python_secret_header_reaches_server_not_guest(
    net_vm: Any, server: tuple[str, int]
) -> None:
    need_python()
    base = f"http://127.0.0.1:{server[1]}"
    code = (
        "import os, urllib.request, pocketos_http\n"
        f"print(urllib.request.urlopen({base + '/auth'!r}).read().decode())\n"
        f"r = pocketos_http.get({base + '/hello'!r})\n"
        "print('Authorization' in r.headers, 's3cr3t' in repr(dict(os.environ)))\n"
    )
    _Handler.seen.clear()
    r = py(net_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    # the server saw the secret; the guest only sees what the server chose to echo back
    assert _Handler.seen[0]["headers"]["authorization"] == SECRET
    assert _Handler.seen[1]["headers"]["authorization"] == SECRET
    assert r.stdout == f"auth={SECRET}\nFalse False\n"


def test_python_request_limit(server: tuple[str, int]) -> None:
    need_python()
    url = f"http://127.0.0.1:{server[1]}/hello"
    with _vm(server[1], limits={"max_network_requests": 2}) as vm:
        code = (
            "import pocketos_http\n"
            f"for i in range(5):\n    pocketos_http.get({url!r})\n    print(i, flush=True)\n"
        )
        r = py(vm, code)
        assert r.limit_hit == "max_network_requests"
        assert r.stdout == "0\n1\n"
        assert r.exit_code != 0


# --- JavaScript -------------------------------------------------------------------------------
def test_js_fetch(net_vm: Any, server: tuple[str, int]) -> None:
    need_js()
    base = f"http://127.0.0.1:{server[1]}"
    code = (
        f"const r = await fetch({json.dumps(base + '/json')});\n"
        "console.log(r.status, r.ok, r.headers.get('content-type'));\n"
        "console.log(JSON.stringify(await r.json()));\n"
        f"const p = await fetch({json.dumps(base + '/echo')}, "
        "{method: 'POST', headers: {'X-A': '1'}, body: 'hi'});\n"
        "console.log(await p.text());\n"
        f"const m = await fetch({json.dumps(base + '/missing')});\n"
        "console.log(m.status, m.ok);\n"
    )
    r = net_vm.run(["node", "--input-type=module", "-e", code], stdin=b"", cwd="/work")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ('200 true application/json\n{"a":[1,2],"b":"x"}\nPOST hi\n404 false\n')


def test_js_fetch_denied(closed_vm: Any, server: tuple[str, int]) -> None:
    need_js()
    url = f"http://127.0.0.1:{server[1]}/hello"
    code = (
        f"fetch({json.dumps(url)}).then(() => console.log('ok'), "
        "(e) => console.log(e.name + ': ' + e.message))"
    )
    r = js(closed_vm, code)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ("TypeError: fetch failed: blocked by policy (network.fetch on 127.0.0.1)\n")


def test_js_fetch_secret_header(net_vm: Any, server: tuple[str, int]) -> None:
    need_js()
    url = f"http://127.0.0.1:{server[1]}/auth"
    _Handler.seen.clear()
    r = js(net_vm, f"fetch({json.dumps(url)}).then(r => r.text()).then(t => console.log(t))")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"auth={SECRET}\n", "")
    assert _Handler.seen[-1]["headers"]["authorization"] == SECRET


def test_python_https_handler_present(closed_vm: Any) -> None:
    need_python()
    code = (
        "import http.client, urllib.request\n"
        "print(hasattr(urllib.request, 'HTTPSHandler'), http.client.HTTPSConnection.default_port)\n"
        "try:\n"
        "    urllib.request.urlopen('https://example.com/')\n"
        "except urllib.error.URLError as e:\n"
        "    print(e.reason)\n"
    )
    r = py(closed_vm, code)
    assert (r.exit_code, r.stdout, r.stderr) == (
        0,
        "True 443\nblocked by policy (network.fetch on example.com)\n",
        "",
    )


def test_js_fetch_request_limit(server: tuple[str, int]) -> None:
    need_js()
    url = f"http://127.0.0.1:{server[1]}/hello"
    with _vm(server[1], limits={"max_network_requests": 1}) as vm:
        code = f"for (let i = 0; i < 3; i++) {{ await fetch({json.dumps(url)}); console.log(i); }}"
        r = vm.run(["node", "--input-type=module", "-e", code], stdin=b"", cwd="/work")
        assert r.limit_hit == "max_network_requests"
        assert r.stdout == "0\n"
