"""Attacks that walked around the policy: renaming an ancestor of a protected path, hard-linking
a protected file, an interpreter that skipped the env filter, ``..`` in a URL under a
path-prefix rule, and patterns that could never match. Each must fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketos import VM, Policy
from pocketos.kernel.permissions import DEFAULT_POLICY
from tests.security._util import SECRET_MARKER, tree_digest

SECRET = SECRET_MARKER + "\n"


def _fs_policy(*rules: dict[str, Any]) -> dict[str, Any]:
    pol: dict[str, Any] = dict(DEFAULT_POLICY)
    pol["fs"] = {"default": "allow", "rules": list(rules)}
    return pol


def _host_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "secrets" / "deep").mkdir(parents=True)
    (root / "secrets" / "key").write_text(SECRET)
    (root / "secrets" / "deep" / "k2").write_text(SECRET)
    (root / "protected").mkdir()
    (root / "protected" / "config.yml").write_text("mode: safe\n")
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print(1)\n")
    return root


MOUNTS = ["rw", "overlay"]
READ_DENIED = [
    "/project/secrets/**",
    "/project/secrets/*",
]


@pytest.mark.parametrize("mode", MOUNTS)
@pytest.mark.parametrize("pattern", READ_DENIED)
def test_renaming_an_ancestor_does_not_unprotect(tmp_path: Path, mode: str, pattern: str) -> None:
    root = _host_project(tmp_path)
    before = tree_digest(root)
    pol = _fs_policy({"mode": "deny", "operations": ["read"], "paths": [pattern]})
    with VM(policy=pol) as vm:
        vm.mount("/project", host=str(root), mode=mode)
        r = vm.exec(
            "mv /project/secrets /project/s2; cat /project/s2/key; cat /project/secrets/key"
        )
        assert SECRET_MARKER not in r.stdout + r.stderr
        assert "Permission denied: fs.read on /project/secrets" in r.stderr
        # a parent of the parent, and the API
        r = vm.exec("mv /project /p2 2>&1; cat /p2/secrets/key")
        assert SECRET_MARKER not in r.stdout + r.stderr
        with pytest.raises(PermissionError):
            vm.rename("/project/secrets", "/project/s3")
        with pytest.raises(PermissionError):
            vm.read_file("/project/secrets/key")
    if mode == "rw":
        assert tree_digest(root) == before


@pytest.mark.parametrize("mode", MOUNTS)
def test_renaming_a_single_protected_file(tmp_path: Path, mode: str) -> None:
    root = _host_project(tmp_path)
    pol = _fs_policy({"mode": "deny", "operations": ["read"], "paths": ["/project/secrets/key"]})
    with VM(policy=pol) as vm:
        vm.mount("/project", host=str(root), mode=mode)
        r = vm.exec("mv /project/secrets /project/s2; cat /project/s2/key")
        assert SECRET_MARKER not in r.stdout + r.stderr
        r = vm.exec("mv /project/secrets/key /tmp/k; cat /tmp/k")
        assert SECRET_MARKER not in r.stdout + r.stderr
        # moving an unprotected sibling is fine
        r = vm.exec("mv /project/src /project/lib && cat /project/lib/main.py")
        assert (r.exit_code, r.stdout) == (0, "print(1)\n")


def test_moving_into_a_write_protected_tree_is_refused(tmp_path: Path) -> None:
    root = _host_project(tmp_path)
    before = tree_digest(root)
    pol = _fs_policy({"mode": "deny", "operations": ["write"], "paths": ["/project/protected/**"]})
    with VM(policy=pol) as vm:
        vm.mount("/project", host=str(root), mode="rw")
        r = vm.exec(
            "mkdir -p /tmp/x && echo evil > /tmp/x/config.yml; "
            "mv /project/protected /project/old; "
            "mv /tmp/x /project/protected; mv -f /tmp/x/config.yml /project/protected/config.yml"
        )
        assert r.exit_code != 0
    assert tree_digest(root) == before


@pytest.mark.parametrize("mode", MOUNTS)
def test_hard_link_cannot_write_a_protected_file(tmp_path: Path, mode: str) -> None:
    root = _host_project(tmp_path)
    before = tree_digest(root)
    pol = _fs_policy({"mode": "deny", "operations": ["write"], "paths": ["/project/protected/**"]})
    with VM(policy=pol) as vm:
        vm.mount("/project", host=str(root), mode=mode)
        r = vm.exec("cd /project && ln protected/config.yml alias; echo x >> alias")
        assert "ln: failed to create hard link 'alias'" in r.stderr
        assert "Permission denied: fs.write on /project/protected/config.yml" in r.stderr
        assert vm.read_text("/project/protected/config.yml") == "mode: safe\n"
    # "alias" is a new, unprotected file of its own; the protected one is untouched
    after = tree_digest(root)
    after.pop("alias", None)
    assert after == before
    assert (root / "protected" / "config.yml").stat().st_nlink == 1


def test_hard_link_cannot_expose_a_read_protected_file() -> None:
    pol = _fs_policy({"mode": "deny", "operations": ["read"], "paths": ["/secrets/**"]})
    with VM() as setup:
        setup.write_file("/secrets/key", SECRET, parents=True)
        with setup.fork(policy=pol) as vm:
            r = vm.exec("ln /secrets/key /tmp/k; cat /tmp/k")
            assert SECRET_MARKER not in r.stdout + r.stderr
            assert r.exit_code != 0


def test_write_covers_every_mutation() -> None:
    pol = _fs_policy({"mode": "deny", "operations": ["write"], "paths": ["/p/**"]})
    with VM() as setup:
        setup.write_file("/p/f", b"data\n", parents=True)
        setup.write_file("/p/g", b"data\n")
        with setup.fork(policy=pol) as vm:
            for script in (
                "truncate -s 0 /p/f",
                "chmod 000 /p/f",
                "rm /p/f",
                "mv /p/f /p/h",
                "mv /p/f /tmp/h",
                "ln -s /tmp /p/link",
                "ln /p/f /p/f2",
                "mkdir /p/d",
                "touch /p/new",
                "cp /etc/hostname /p/f",
                "echo new > /tmp/n; mv -f /tmp/n /p/g",
            ):
                r = vm.exec(script)
                assert r.exit_code != 0, script
                assert "Permission denied" in r.stderr, script
            assert vm.read_file("/p/f") == b"data\n"
            assert sorted(vm.readdir("/p")) == ["f", "g"]
            assert vm.stat("/p/f").st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("/secrets/", "'/secrets/**'"),
        ("secrets/**", "'/secrets/**'"),
        ("/a/../secrets/**", "'/secrets/**'"),
        ("//secrets/**", "'/secrets/**'"),
        ("/secrets/./key", "'/secrets/key'"),
        ("/data**", "'/data/**'"),
        ("/a/***", "'/a/**'"),
        ("*", "'/**'"),
    ],
)
def test_patterns_that_cannot_match_are_refused(pattern: str, hint: str) -> None:
    spec = {"fs": {"default": "allow", "rules": [{"mode": "deny", "paths": [pattern]}]}}
    with pytest.raises(ValueError) as exc:
        Policy(spec)
    msg = str(exc.value)
    assert repr(pattern) in msg and hint in msg, msg
    with pytest.raises(ValueError):
        VM(policy=spec)


@pytest.mark.parametrize(
    "pattern",
    ["api.example.com/v1", "https://h/v1/../admin", "https:///v1/", "ftp://h/", "https://h//x"],
)
def test_network_patterns_that_cannot_match_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError) as exc:
        Policy({"network": {"default": "deny", "rules": [{"mode": "allow", "hosts": [pattern]}]}})
    assert repr(pattern) in str(exc.value)


def test_unknown_keys_refused_and_child_process_alias() -> None:
    with pytest.raises(ValueError, match="unknown permission domain 'filesystem'"):
        Policy({"filesystem": "allow"})
    with pytest.raises(ValueError, match="unknown rule key"):
        Policy({"fs": {"rules": [{"mode": "deny", "path": ["/x/**"]}]}})
    p = Policy({"childProcess": {"default": "allow", "rules": [{"mode": "deny", "paths": ["rm"]}]}})
    assert p.decide("child_process", "spawn", "rm") == "deny"
    assert p.decide("child_process", "spawn", "ls") == "allow"
    with pytest.raises(ValueError, match="both"):
        Policy({"childProcess": "allow", "child_process": "deny"})


ENV_POLICY = {
    **DEFAULT_POLICY,
    "env": {
        "default": "allow",
        "rules": [{"mode": "deny", "operations": ["read"], "paths": ["*TOKEN*"]}],
    },
}


def test_every_interpreter_gets_the_filtered_env() -> None:
    from pocketos.wasm import cache

    with VM(policy=ENV_POLICY, env={"GH_TOKEN": "t0ken-" + SECRET_MARKER, "OK": "1"}) as vm:
        r = vm.exec("echo ${GH_TOKEN:-unset} $OK")
        assert r.stdout == "unset 1\n"
        r = vm.exec("env")
        assert SECRET_MARKER not in r.stdout and "OK=1" in r.stdout
        r = vm.exec("echo $GH_TOKEN", env={"GH_TOKEN": "x" + SECRET_MARKER})
        assert SECRET_MARKER not in r.stdout
        r = vm.run(["printenv", "GH_TOKEN"])
        assert (r.exit_code, r.stdout) == (1, "")
        with vm.shell() as sh:
            assert sh.run("echo ${GH_TOKEN:-unset}").stdout == "unset\n"
        assert "GH_TOKEN" not in vm.kernel.environ()
        if cache.python_available():
            with vm.python() as py:
                out = py.run("import os; print(os.environ.get('GH_TOKEN', 'unset'))")
                assert out.stdout == "unset\n"
            with vm.python(env={"MY_TOKEN": SECRET_MARKER}) as py:
                out = py.run("import os; print(sorted(k for k in os.environ if 'TOKEN' in k))")
                assert out.stdout == "[]\n"


# --- network --------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[int, list[tuple[str, dict[str, str]]]]]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, dict[str, str]]] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append((self.path, dict(self.headers.items())))
            body = b"ok " + self.path.encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _net_vm(port: int) -> VM:
    from pocketos.net import install

    pol = dict(DEFAULT_POLICY)
    pol["network"] = {
        "default": "deny",
        "rules": [{"mode": "allow", "patterns": [f"http://127.0.0.1:{port}/v1/"]}],
    }
    vm = VM(policy=pol)
    install(
        vm.kernel,
        {"transforms": [{"match": f"http://127.0.0.1:{port}/v1/", "headers": {"X-Key": "sk-1"}}]},
    )
    return vm


@pytest.mark.parametrize(
    "path",
    ["/v1/../admin", "/v1/./../admin", "/v1/%2e%2e/admin", "/v1/.%2E/admin", "/v1/..%2fadmin"],
)
def test_dot_segments_do_not_escape_a_url_prefix_rule(
    server: tuple[int, list[tuple[str, dict[str, str]]]], path: str
) -> None:
    port, seen = server
    with _net_vm(port) as vm:
        r = vm.exec(f"curl -s http://127.0.0.1:{port}{path}")
        assert r.exit_code != 0
        assert not any(p.startswith("/admin") or "X-Key" in h for p, h in seen), seen
        r = vm.exec(f"curl -s http://127.0.0.1:{port}/v1/a/../b")
        assert (r.exit_code, r.stdout) == (0, "ok /v1/b\n")
        assert seen[-1][1].get("X-Key") == "sk-1"


def test_acp_permission_router_matches_urls_like_the_gateway() -> None:
    from pocketos.sessions.permissions import PermissionRouter

    pol = dict(DEFAULT_POLICY)
    pol["network"] = {
        "default": "deny",
        "rules": [{"mode": "allow", "patterns": ["https://api.example.com/v1/"]}],
    }
    with VM(policy=pol) as vm:
        router = PermissionRouter(vm, handler=None)

        def decide(url: str) -> str:
            return router._policy_decision("network", "fetch", url)

        assert decide("https://api.example.com/v1/models") == "allow"
        assert decide("https://API.example.com:443/v1/x") == "allow"
        assert decide("https://api.example.com/v1/../admin") == "deny"
        assert decide("https://api.example.com/admin") == "deny"
        assert decide("http://api.example.com/v1/x") == "deny"
