"""Permission rule semantics: ordering, globs, defaults, validation, ask mode, audit."""

from __future__ import annotations

import errno
import threading

import pytest

from pocketos import VM, Policy
from pocketos.kernel.permissions import glob_to_regex, match_host_pattern


def test_missing_domain_is_denied() -> None:
    p = Policy({"fs": "allow"})
    assert p.decide("network", "fetch", "example.com") == "deny"
    assert p.decide("tool", "invoke", "kit:tool") == "deny"


def test_last_match_wins() -> None:
    p = Policy(
        {
            "fs": {
                "default": "deny",
                "rules": [
                    {"mode": "allow", "paths": ["/data/**"]},
                    {"mode": "deny", "paths": ["/data/secret/**"]},
                    {"mode": "allow", "operations": ["stat"], "paths": ["/data/secret/**"]},
                ],
            }
        }
    )
    assert p.decide("fs", "read", "/data/x") == "allow"
    assert p.decide("fs", "read", "/data/secret/k") == "deny"
    assert p.decide("fs", "stat", "/data/secret/k") == "allow"
    assert p.decide("fs", "read", "/etc/passwd") == "deny"


def test_single_star_is_one_segment() -> None:
    p = Policy({"fs": {"default": "deny", "rules": [{"mode": "allow", "paths": ["/data/*"]}]}})
    assert p.decide("fs", "read", "/data/a.txt") == "allow"
    assert p.decide("fs", "read", "/data/sub/a.txt") == "deny"
    assert p.decide("fs", "read", "/data") == "deny"


def test_double_star_is_many_segments() -> None:
    p = Policy({"fs": {"default": "deny", "rules": [{"mode": "allow", "paths": ["/data/**"]}]}})
    assert p.decide("fs", "read", "/data/a.txt") == "allow"
    assert p.decide("fs", "read", "/data/sub/deep/a.txt") == "allow"
    assert p.decide("fs", "read", "/data") == "allow"
    assert p.decide("fs", "read", "/database") == "deny"


def test_glob_details() -> None:
    assert glob_to_regex("/a/*.py").match("/a/x.py")
    assert not glob_to_regex("/a/*.py").match("/a/b/x.py")
    assert glob_to_regex("/a/**/x.py").match("/a/x.py")
    assert glob_to_regex("/a/**/x.py").match("/a/b/c/x.py")
    assert glob_to_regex("/a/?").match("/a/b")
    assert not glob_to_regex("/a/?").match("/a/bc")


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"fs": {"default": "deny", "rules": []}}, "rules is an empty list"),
        (
            {"fs": {"default": "deny", "rules": [{"mode": "allow", "paths": []}]}},
            "'paths' is an empty list",
        ),
        (
            {"fs": {"default": "deny", "rules": [{"mode": "allow", "operations": []}]}},
            "'operations' is an empty list",
        ),
        ({"fs": {"default": "deny", "rules": [{"mode": "maybe"}]}}, "rule mode"),
        (
            {"fs": {"default": "deny", "rules": [{"mode": "allow", "operations": ["fly"]}]}},
            "unknown operation",
        ),
        ({"filesystem": "allow"}, "unknown permission domain"),
        ({"fs": "sometimes"}, "mode must be"),
    ],
)
def test_bad_policies_rejected_at_create(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(spec)
    with pytest.raises(ValueError, match=message):
        VM(policy=spec)


@pytest.mark.parametrize(
    "pattern, host, port, url, expected",
    [
        ("api.openai.com", "api.openai.com", 443, None, True),
        ("api.openai.com", "evil.com", 443, None, False),
        ("*.github.com", "api.github.com", 443, None, True),
        ("*.github.com", "github.com", 443, None, False),
        ("localhost:8080", "localhost", 8080, None, True),
        ("localhost:8080", "localhost", 8081, None, False),
        ("tcp://localhost:8080", "localhost", 8080, None, True),
        (
            "https://api.example.com/v1/",
            "api.example.com",
            443,
            "https://api.example.com/v1/models",
            True,
        ),
        (
            "https://api.example.com/v1/",
            "api.example.com",
            443,
            "https://api.example.com/v2/models",
            False,
        ),
        (
            "https://api.example.com/v1/",
            "api.example.com",
            80,
            "http://api.example.com/v1/models",
            False,
        ),
    ],
)
def test_network_patterns(
    pattern: str, host: str, port: int, url: str | None, expected: bool
) -> None:
    scheme = url.split("://")[0] if url else None
    assert match_host_pattern(pattern, host, port, url, scheme) is expected


def _vm_with(policy: dict, **kw: object) -> VM:
    vm = VM(policy=policy, **kw)
    return vm


def test_denied_read_raises_permission_error_naming_capability() -> None:
    with VM() as setup:
        setup.write_file("/secret/key", b"k", parents=True)
        snap = setup.snapshot("/secret")
    vm = _vm_with(
        {
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/secret/**"]}],
            }
        },
        snapshots=[snap],
    )
    with pytest.raises(PermissionError) as exc:
        vm.read_file("/secret/key")
    assert exc.value.errno == errno.EACCES
    assert "fs.read" in str(exc.value) and "/secret/key" in str(exc.value)
    events = vm.audit_log(kind="permission")
    assert events[-1].decision == "deny"
    assert events[-1].capability == "fs.read"
    assert events[-1].resource == "/secret/key"


def test_checks_use_the_resolved_path() -> None:
    vm = _vm_with(
        {
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["read"], "paths": ["/secret/**"]}],
            }
        }
    )
    vm.write_file("/secret/key", b"k", parents=True)
    vm.symlink("/secret/key", "/tmp/innocent")
    with pytest.raises(PermissionError):
        vm.read_file("/tmp/innocent")
    vm.symlink("/secret", "/tmp/dir")
    with pytest.raises(PermissionError):
        vm.read_file("/tmp/dir/key")


def test_ask_mode_allow_once_and_always() -> None:
    answers = iter(["allow_once", "deny", "allow_always"])
    seen: list[str] = []

    def handler(req: object) -> str:
        seen.append(req.resource)
        return next(answers)

    vm = VM(
        policy={
            "fs": {
                "default": "allow",
                "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/guarded/*"]}],
            }
        },
        permission_handler=handler,
    )
    vm.mkdir("/guarded")  # "/guarded/*" is what is below, not the directory itself
    vm.write_file("/guarded/a", b"1")
    with pytest.raises(PermissionError):
        vm.write_file("/guarded/a", b"2")
    vm.write_file("/guarded/a", b"3")
    vm.write_file("/guarded/a", b"4")  # remembered, handler not called again
    assert seen == ["/guarded/a"] * 3
    assert vm.read_file("/guarded/a") == b"4"


def test_ask_mode_async_handler() -> None:
    async def handler(req: object) -> str:
        return "allow_once"

    vm = VM(
        policy={
            "fs": {
                "default": "allow",
                "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/g/**"]}],
            }
        },
        permission_handler=handler,
    )
    vm.write_file("/g/a", b"1", parents=True)
    assert vm.read_file("/g/a") == b"1"


@pytest.mark.timeout(60)
def test_ask_mode_timeout_denies() -> None:
    # the handler would allow, but never answers: only the ask timeout can deny
    asked = threading.Event()
    release = threading.Event()

    def never_answers(req: object) -> str:
        asked.set()
        release.wait()
        return "allow_once"

    policy = Policy(
        {
            "fs": {
                "default": "allow",
                "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/g/*"]}],
            }
        },
        handler=never_answers,
        ask_timeout=0.2,
    )
    vm = VM(policy=policy)
    vm.mkdir("/g")
    try:
        with pytest.raises(PermissionError):
            vm.write_file("/g/a", b"1")
        asked.wait()  # the handler was asked, and is still waiting: the timeout answered
        assert not vm.exists("/g/a")
    finally:
        release.set()


def test_ask_without_handler_denies() -> None:
    vm = VM(policy={"fs": {"default": "allow", "rules": [{"mode": "ask", "paths": ["/g/**"]}]}})
    with pytest.raises(PermissionError):
        vm.mkdir("/g/x", parents=True)


def test_env_filtering() -> None:
    vm = VM(
        env={"API_TOKEN": "s3cret", "VISIBLE": "yes"},
        policy={
            "fs": "allow",
            "child_process": "allow",
            "env": {
                "default": "allow",
                "rules": [{"mode": "deny", "operations": ["read"], "paths": ["*TOKEN*"]}],
            },
        },
    )
    r = vm.run(["printenv"])
    assert "VISIBLE=yes" in r.stdout.splitlines()
    assert "s3cret" not in r.stdout


def test_child_process_policy() -> None:
    vm = VM(
        policy={
            "fs": "allow",
            "env": "allow",
            "child_process": {"default": "allow", "rules": [{"mode": "deny", "paths": ["cat"]}]},
        }
    )
    vm.write_file("/a", b"x")
    r = vm.run(["cat", "/a"])
    assert r.exit_code == 126
    assert "child_process.spawn" in r.stderr


def test_denied_paths_do_not_reveal_existence() -> None:
    vm = _vm_with(
        {"fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/secret/**"]}]}}
    )
    for path in ("/secret/missing", "/secret/a/b/c"):
        with pytest.raises(PermissionError):
            vm.read_file(path)
        with pytest.raises(PermissionError):
            vm.write_file(path, b"x")
    with pytest.raises(PermissionError):
        vm.mkdir("/secret/new", parents=True)
