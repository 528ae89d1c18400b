"""``pocketos.remote``: the VM API over a real server, checked against a local VM doing the
same things."""

from __future__ import annotations

import asyncio
import errno

import pytest

from pocketos import VM, AsyncVM
from pocketos.remote import AsyncRemoteVM, RemoteError, RemoteNotSupported, RemoteVM
from tests.agent.fake_llm import FakeServer, openai_text, openai_tool
from tests.server.harness import ALICE, BOB, TOKENS


def _same_script(vm) -> list:
    """What a piece of user code sees; run against a local and a remote VM."""
    out = []
    vm.write_file("/home/user/app/main.sh", "echo hello from $1\n", parents=True)
    vm.mkdir("/home/user/app/data", parents=True, exist_ok=True)
    vm.write_file("/home/user/app/data/raw.bin", bytes(range(10)), mode=0o600)
    vm.write_file("/home/user/app/log.txt", "a\n")
    vm.write_file("/home/user/app/log.txt", "b\n", append=True)
    out.append(vm.read_text("/home/user/app/log.txt"))
    out.append(sorted(vm.readdir("/home/user/app")))
    st = vm.stat("/home/user/app/data/raw.bin")
    out.append((st.st_size, oct(st.st_mode)))
    out.append((vm.exists("/home/user/app/data"), vm.exists("/nope")))
    res = vm.exec('sh main.sh "$1"; echo err >&2; exit 3', cwd="/home/user/app", args=["vm"])
    out.append((res.exit_code, res.stdout, res.stderr))
    res = vm.run(["printf", "%s-", "x", "y"])
    out.append(res.stdout)
    res = vm.exec("cat", stdin=b"\xff\x00bytes")
    out.append(res.stdout_bytes)
    res = vm.exec("while :; do :; done", timeout=0.3)
    out.append((res.exit_code, res.limit_hit))
    for bad in ("/no/such/file", "/home/user/app"):
        try:
            vm.read_file(bad)
        except OSError as exc:
            out.append((type(exc).__name__, exc.errno))
    try:
        vm.mkdir("/home/user/app")
    except FileExistsError as exc:
        out.append(("exists", exc.errno))
    vm.delete("/home/user/app/data", recursive=True)
    out.append(vm.exists("/home/user/app/data"))
    snap = vm.snapshot("/home/user/app")
    out.append(sorted(e["path"] for e in snap.entries))
    return out


def test_remote_vm_behaves_like_a_local_vm(server):
    with VM() as local:
        expected = _same_script(local)
    with RemoteVM(server.url) as remote:
        got = _same_script(remote)
        vid = remote.id
    assert got == expected
    # closing a VM it created deletes it on the server
    assert server.client().get(f"/v1/vms/{vid}").status_code == 404


def test_remote_vm_on_a_process_vm(serve):
    s = serve(isolation="process")
    with RemoteVM(s.url) as remote:
        assert remote.async_vm.isolation == "process"
        with VM() as local:
            assert _same_script(remote) == _same_script(local)


def test_async_remote_vm_streams_and_matches_async_vm(server):
    async def go(vm) -> tuple:
        chunks: list[bytes] = []
        res = await vm.exec("echo one; echo two >&2; echo three", on_stdout=chunks.append)
        plain = await vm.exec("echo $((2 + 3))")
        ran = await vm.run(["echo", "ran"])
        return b"".join(chunks), res.stdout, res.stderr, res.exit_code, plain.stdout, ran.stdout

    async def both() -> None:
        async with AsyncVM() as local:
            expected = await go(local)
        async with AsyncRemoteVM(server.url) as remote:
            assert await go(remote) == expected

    asyncio.run(both())


def test_attach_to_an_existing_vm_and_errors(authed):
    with RemoteVM(authed.url, token=ALICE, env={"WHO": "alice"}) as mine:
        mine.write_file("/tmp/note", "kept")
        other = RemoteVM(authed.url, token=ALICE, vm_id=mine.id)
        assert other.exec("echo $WHO; cat /tmp/note").stdout == "alice\nkept"
        other.close()  # attached, not owned: the VM stays
        assert mine.read_text("/tmp/note") == "kept"
        with pytest.raises(RemoteError) as exc:
            RemoteVM(authed.url, token=BOB, vm_id=mine.id)
        assert (exc.value.status, exc.value.code) == (404, "vm_not_found")
    with pytest.raises(RemoteError) as exc:
        RemoteVM(authed.url, token="not-a-valid-token")
    assert exc.value.code == "invalid_token"
    with pytest.raises(ValueError):
        RemoteVM(authed.url, token=ALICE, isolation="vmware")
    with pytest.raises(ValueError, match="http"):
        RemoteVM("localhost:1", token=ALICE)


def test_remote_sessions_and_audit(serve):
    s = serve(tokens=list(TOKENS), rate_limit=0)
    llm = FakeServer(
        [openai_tool("bash", {"command": "echo agent > /home/user/by-agent"}), openai_text("ok")]
    )
    s.call(llm.__aenter__())
    s.config.agent_config.update(
        {"provider": "openai", "base_url": llm.url + "/v1", "api_key": "k", "backoff": 0}
    )
    with RemoteVM(s.url, token=ALICE) as vm:
        sess = vm.create_session()
        res = sess.prompt("write a file")
        assert (res.stop_reason, res.text) == ("end_turn", "ok")
        assert vm.read_text("/home/user/by-agent") == "agent\n"
        kinds = []
        for ev in sess.subscribe(since=0):
            kinds.append(ev.kind)
            if ev.kind == "prompt.ended":
                break
        assert kinds[0] == "session.started" and "prompt.started" in kinds and "update" in kinds
        assert [x["id"] for x in vm.list_sessions()] == [sess.id]
        sess.close()
        vm.exec("cat /home/user/by-agent")
        events = vm.audit_log(kind="process")
        assert any(e.resource == "cat" and e.capability == "child_process.spawn" for e in events)
        assert vm.audit_log(kind="no-such-kind") == []


def test_errors_map_to_the_local_exceptions(serve):
    from pocketos.errors import PocketOSError
    from pocketos.remote.errors import error_from

    s = serve()
    with RemoteVM(s.url) as vm, pytest.raises(PocketOSError, match="not_durable"):
        vm.save()  # as VM.save() on a VM that is not durable
    err = error_from(501, {"error": {"code": "not_supported", "message": "no"}})
    assert isinstance(err, RemoteNotSupported) and isinstance(err, NotImplementedError)
    err = error_from(403, {"error": {"code": "EACCES", "message": "Permission denied: /x"}}, "/x")
    assert isinstance(err, PermissionError) and err.filename == "/x"
    assert isinstance(error_from(502, None), RemoteError)


def test_refused_exec_keeps_the_socket_and_a_failing_callback_drops_it(server):
    with RemoteVM(server.url) as vm:
        assert vm.exec("echo 1").stdout == "1\n"
        with pytest.raises(FileNotFoundError):
            vm.exec("true", cwd="/no/such/dir")
        with pytest.raises(ValueError):
            vm.exec("true", timeout=-1)
        assert vm.exec("echo 2").stdout == "2\n"

        def boom(data: bytes) -> None:
            raise RuntimeError("callback failed")

        with pytest.raises(RuntimeError, match="callback failed"):
            vm.exec("echo a; echo b; echo c", on_stdout=boom)
        # a fresh socket: no frames of the failed exec leak into the next one
        assert vm.exec("echo 3").stdout == "3\n"


def _same_handles(vm) -> list:
    """spawn/wait/kill, a persistent shell, fork and Python, against a local or remote VM."""
    from pocketos.wasm import cache

    out = []
    p = vm.spawn(["cat"])
    p.write("piped\n")
    p.close_stdin()
    out.append((p.wait(), p.read_stdout(), p.exit_code))
    q = vm.spawn(["sh", "-c", "echo started; sleep infinity"], cwd="/tmp")
    out.append(q.read_stdout(8))
    vm.kill(q.pid, "KILL")
    out.append(vm.wait(q.pid))
    r = vm.spawn(["sh", "-c", "echo $WHO >&2; exit 3"], env={"WHO": "env"}, stdin=b"")
    out.append((r.wait(), r.read_stderr()))
    for bad in (lambda: vm.kill(99999, "KILL"), lambda: vm.spawn(["no-such-command"])):
        try:
            bad()
        except OSError as exc:
            out.append((type(exc).__name__, exc.errno))
    sh = vm.shell(cwd="/tmp")
    assert sh.run("A=5; cd /home; f() { echo in-f $1; }").exit_code == 0
    res = sh.run("f x; read -r l; echo $A $PWD $l; exit 2", stdin="line\n")
    out.append((res.exit_code, res.stdout, sh.cwd))
    sh.close()
    vm.write_file("/tmp/shared", "parent")
    child = vm.fork(env={"ROLE": "child"})
    child.write_file("/tmp/shared", "child")
    out.append((vm.read_text("/tmp/shared"), child.exec("cat /tmp/shared; echo $ROLE").stdout))
    child.close()
    out.append(vm.read_text("/tmp/shared"))
    if cache.python_available():
        with vm.python() as py:
            assert py.run("x = 40").ok
            r = py.run("print('p'); x + 2")
            out.append((r.stdout, r.value, r.error))
    return out


def test_remote_spawn_shell_fork_python_like_a_local_vm(server):
    with VM() as local:
        expected = _same_handles(local)
    with RemoteVM(server.url) as remote:
        assert _same_handles(remote) == expected
        # the fork was closed, so deleted: only the parent is left
        assert [v["id"] for v in server.client().get("/v1/vms").json()["vms"]] == [remote.id]


def test_remote_spawn_on_a_process_vm(serve):
    s = serve(isolation="process")
    with VM() as local, RemoteVM(s.url) as remote:
        assert _same_handles(remote) == _same_handles(local)


def test_async_remote_spawn_streams_output(server):
    async def go(vm) -> tuple:
        p = await vm.spawn(["sh", "-c", "read -r x; echo got $x; sleep infinity"])
        await p.write("one\n")
        line = await p.stdout.readuntil(b"\n")
        listed = [x["pid"] for x in vm.list_processes()]
        vm.kill(p.pid, "TERM")
        code = await vm.wait(p.pid)
        sh = vm.shell()
        r = await sh.run("echo $((6 * 7))")
        await sh.aclose()
        return line, p.pid in listed, code, p.exit_code, r.stdout

    async def both() -> None:
        async with AsyncVM() as local:
            expected = await go(local)
        async with AsyncRemoteVM(server.url) as remote:
            assert await go(remote) == expected

    asyncio.run(both())


def test_remote_mount_only_what_the_server_allows(serve, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("from the host\n")
    s = serve(mounts={"data": {"host": str(data), "mode": "ro"}})
    with RemoteVM(s.url) as vm:
        vm.mount("/mnt/data", "data")
        assert vm.read_text("/mnt/data/a.txt") == "from the host\n"
        assert any(m["path"] == "/mnt/data" for m in vm.mounts())
        with pytest.raises(OSError) as err:
            vm.write_file("/mnt/data/b.txt", "no")
        assert err.value.errno == errno.EROFS
        with pytest.raises(RemoteError) as exc:
            vm.mount("/mnt/rw", "data", mode="rw")  # narrowing only, never widening
        assert (exc.value.status, exc.value.code) == (403, "mount_not_allowed")
        with pytest.raises(RemoteError) as exc:
            vm.mount("/mnt/etc", "etc")
        assert exc.value.code == "mount_not_allowed" and "data" in exc.value.message
        with pytest.raises(RemoteNotSupported):
            vm.mount("/mnt/host", host="/etc")
        assert not (data / "b.txt").exists()
