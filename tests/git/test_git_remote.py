"""clone, fetch, pull and push: from a path in the VM, and over smart HTTP from a real server on
127.0.0.1 through the VM's gateway and policy."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from dulwich.repo import Repo as HostRepo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain
from tests.git.conftest import GIT, IDENTITY

from pocketos import VM


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A repository with two commits served over smart HTTP (dulwich's server) on 127.0.0.1."""
    if GIT is None:
        pytest.skip("the real git is not installed (apt install git)")
    src = tmp_path / "origin"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY}
    script = (
        "git init -q -b main . && printf 'one\\n' > a && mkdir d && printf 'x\\n' > d/x && "
        "git add . && git commit -qm first && printf 'two\\n' >> a && git commit -qam second && "
        "git tag v1 && git gc -q"
    )
    src.mkdir()
    subprocess.run(["bash", "-c", script], cwd=src, env=env, check=True)
    app = make_wsgi_chain(DictBackend({"/": HostRepo(str(src))}))
    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", src
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[str]:
    """A smart-HTTP server that answers only requests carrying its token."""
    if GIT is None:
        pytest.skip("the real git is not installed (apt install git)")
    src = tmp_path / "private"
    src.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY}
    subprocess.run(
        [
            "bash",
            "-c",
            "git init -q -b main . && printf 's\\n' > s && git add s && git commit -qm s",
        ],
        cwd=src,
        env=env,
        check=True,
    )
    inner = make_wsgi_chain(DictBackend({"/": HostRepo(str(src))}))

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("HTTP_AUTHORIZATION") != "Bearer s3cret-token":
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"no"]
        return inner(environ, start_response)

    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join()


def test_credentials_come_from_the_gateway_and_stay_invisible(private_server: str) -> None:
    host = private_server.removeprefix("http://")
    policy = {
        "fs": "allow",
        "child_process": "allow",
        "env": "allow",
        "network": {"default": "deny", "rules": [{"mode": "allow", "hosts": [host]}]},
    }
    with VM(policy=policy, env=IDENTITY) as vm:
        r = vm.exec(f"git clone -q {private_server} /a; echo $?", timeout=60)
        assert r.stdout == "128\n"
        assert "error: 401" in r.stderr
    network = {"transforms": [{"match": host, "headers": {"Authorization": "Bearer s3cret-token"}}]}
    with VM(policy=policy, env=IDENTITY, network=network) as vm:
        r = vm.exec(f"git clone -q {private_server} /b && cat /b/s", timeout=60)
        assert (r.exit_code, r.stdout) == (0, "s\n"), r.stderr
        seen = vm.exec("cat /b/.git/config; env; git -C /b remote -v").stdout
        assert "s3cret" not in seen


def _vm(host: str | None) -> VM:
    network: object = {"default": "deny", "rules": [{"mode": "allow", "hosts": [host]}]}
    return VM(
        policy={
            "fs": "allow",
            "child_process": "allow",
            "env": "allow",
            "network": network if host else "deny",
        },
        env={"HOME": "/home/user", **IDENTITY},
    )


def test_clone_over_http_when_the_policy_allows_the_host(server: tuple[str, Path]) -> None:
    url, src = server
    with _vm(url.removeprefix("http://")) as vm:
        r = vm.exec(
            f"git clone {url} /c && cd /c && git log --oneline && cat a && git status -s "
            "&& git branch -a && git tag",
            timeout=60,
        )
        host_log = subprocess.run(
            ["git", "log", "--oneline"], cwd=src, capture_output=True, text=True
        ).stdout
        assert r.exit_code == 0, r.stderr
        assert (
            r.stdout
            == host_log
            + "one\ntwo\n* main\n  remotes/origin/HEAD -> origin/main\n  remotes/origin/main\nv1\n"
        )
        assert "Cloning into '/c'..." in r.stderr


def test_clone_is_refused_when_the_host_is_not_allowed(server: tuple[str, Path]) -> None:
    url, _src = server
    with _vm(None) as vm:
        r = vm.exec(f"git clone {url} /c; echo $?; ls /c", timeout=60)
        assert r.stdout.startswith("128\n")
        assert "blocked by policy" in r.stderr
        assert "ls: cannot access '/c'" in r.stderr


def test_push_and_fetch_over_http(server: tuple[str, Path]) -> None:
    url, src = server
    with _vm(url.removeprefix("http://")) as vm:
        r = vm.exec(
            f"git clone -q {url} /c && cd /c && printf 'three\\n' >> a && git commit -qam third "
            "&& git push origin main && git switch -q -c topic && printf t > t && git add t && "
            "git commit -qm topic && git push -u origin topic",
            timeout=60,
        )
        assert r.exit_code == 0, r.stderr
        assert "branch 'topic' set up to track 'origin/topic'." in r.stdout
        log = subprocess.run(
            ["git", "log", "--oneline", "main"], cwd=src, capture_output=True, text=True
        ).stdout
        assert log.splitlines()[0].endswith(" third")
        fsck = subprocess.run(["git", "fsck", "--strict"], cwd=src, capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stderr
        assert (
            subprocess.run(
                ["git", "show", "topic:t"], cwd=src, capture_output=True, text=True
            ).stdout
            == "t"
        )
        env = {"PATH": "/usr/bin:/bin", "HOME": str(src), **IDENTITY}
        subprocess.run(
            ["bash", "-c", "printf 'four\\n' >> a && git commit -qam fourth"],
            cwd=src,
            env=env,
            check=True,
        )
        r = vm.exec(
            "cd /c && git switch -q main && git pull -q && tail -n 1 a && git log -n 1 --format=%s",
            timeout=60,
        )
        assert (r.exit_code, r.stdout) == (0, "four\nfourth\n"), r.stderr


def test_push_of_a_stale_branch_is_rejected(server: tuple[str, Path]) -> None:
    url, src = server
    with _vm(url.removeprefix("http://")) as vm:
        vm.exec(f"git clone -q {url} /c", timeout=60)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(src), **IDENTITY}
        subprocess.run(
            ["bash", "-c", "printf 'x\\n' >> a && git commit -qam upstream"],
            cwd=src,
            env=env,
            check=True,
        )
        r = vm.exec(
            "cd /c && printf 'y\\n' >> a && git commit -qam mine && git push; echo $?", timeout=60
        )
        assert r.stdout.endswith("1\n")
        assert "[rejected]" in r.stderr


def test_clone_from_a_path_in_the_vm_and_push_back() -> None:
    with _vm(None) as vm:
        r = vm.exec(
            "git init -q --bare /srv/r.git && git clone -q /srv/r.git /a 2>/dev/null; cd /a && "
            "printf 1 > f && git add f && git commit -qm one && git push -q origin master && "
            "git clone -q /srv/r.git /b && cat /b/f && git -C /b log --format=%s",
            timeout=60,
        )
        assert (r.exit_code, r.stdout) == (0, "1one\n"), r.stderr


def test_repository_from_the_host_with_packs_reads_in_the_vm(tmp_path: Path) -> None:
    if GIT is None:
        pytest.skip("the real git is not installed (apt install git)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY}
    script = (
        'git init -q . && for i in 1 2 3; do printf "$i\\n" >> f; git add f; '
        "git commit -qm c$i; done && git gc -q && git log --oneline && git status --porcelain"
    )
    expected = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout
    with VM(env=IDENTITY) as vm:
        for p in tmp_path.rglob("*"):
            rel = "/h/" + str(p.relative_to(tmp_path))
            if p.is_dir():
                vm.exec(f"mkdir -p '{rel}'")
            else:
                vm.write_file(rel, p.read_bytes(), parents=True)
        r = vm.exec("git log --oneline && git status --porcelain", cwd="/h")
        assert (r.exit_code, r.stdout) == (0, expected), r.stderr
