"""The command line, in-process: every subcommand and option, and the error cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pocketos import __version__, cli
from pocketos.snapshot import Snapshot
from tests.cli.conftest import call

# --- version, help, usage errors ---------------------------------------------------------------


def test_version() -> None:
    r = call(["version"])
    assert (r.status, r.stdout, r.stderr) == (0, f"pocketos {__version__}\n", "")
    assert call(["--version"]).stdout == f"pocketos {__version__}\n"


@pytest.mark.parametrize(
    "sub",
    [
        [],
        ["shell"],
        ["exec"],
        ["run"],
        ["snapshot"],
        ["snapshot", "export"],
        ["snapshot", "import"],
        ["snapshot", "inspect"],
        ["warmup"],
        ["demo"],
        ["version"],
    ],
)
def test_help(sub: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        call([*sub, "--help"])
    assert exc.value.code == 0


def test_no_command_prints_help() -> None:
    r = call([])
    assert r.status == 2
    assert r.stderr.startswith("usage: pocketos")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["frob"],
            "pocketos: error: argument COMMAND: invalid choice: 'frob' (choose from "
            "'shell', 'exec', 'run', 'snapshot', 'warmup', 'workspace', 'sessions', 'serve', 'bench', 'agent', 'acp', "
            "'sandbox', 'demo', 'version') (see 'pocketos --help')\n",
        ),
        (["exec"], "pocketos: error: exec: missing SCRIPT (see 'pocketos exec --help')\n"),
        (["run"], "pocketos: error: run: missing FILE (see 'pocketos run --help')\n"),
        (
            ["exec", "--zz", "true"],
            "pocketos: error: exec: unrecognized option '--zz' (see 'pocketos exec --help')\n",
        ),
        (
            ["exec", "-z", "true"],
            "pocketos: error: exec: invalid option -- 'z' (see 'pocketos exec --help')\n",
        ),
        (
            ["shell", "--zz"],
            "pocketos: error: unrecognized arguments: --zz (see 'pocketos --help')\n",
        ),
        (
            ["exec", "--mount", "nocolon", "true"],
            "pocketos: error: bad mount spec 'nocolon': expected HOST:GUEST[:ro|rw|overlay]\n",
        ),
        (
            ["exec", "--mount", "/tmp:rel", "true"],
            "pocketos: error: bad mount spec '/tmp:rel': the guest path must be absolute\n",
        ),
        (
            ["exec", "--mount", "/tmp:/x:rx", "true"],
            "pocketos: error: bad mount spec '/tmp:/x:rx': mode must be one of ro, rw, overlay\n",
        ),
        (
            ["exec", "--limit", "max_commands", "true"],
            "pocketos: error: bad limit 'max_commands': expected NAME=VALUE\n",
        ),
        (
            ["exec", "--limit", "max_commands=lots", "true"],
            "pocketos: error: bad limit 'max_commands=lots': 'lots' is not a number\n",
        ),
        (
            ["exec", "--env", "1X=2", "true"],
            "pocketos: error: bad --env '1X=2': expected NAME=VALUE\n",
        ),
        (
            ["exec", "--timeout", "0", "true"],
            "pocketos: error: --timeout must be a positive number of seconds\n",
        ),
        (
            ["exec", "--cwd", "rel", "true"],
            "pocketos: error: --cwd 'rel': the path must be absolute\n",
        ),
        (
            ["shell", "--vm", "../x"],
            "pocketos: error: bad VM name '../x': use letters, digits, '.', '_' and '-'\n",
        ),
        (
            ["shell", "--vm", "a", "--persist", "f"],
            "pocketos: error: --vm and --persist cannot be used together\n",
        ),
        (
            ["shell", "--host-mounts"],
            "pocketos: error: --host-mounts needs --vm NAME\n",
        ),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    r = call(argv)
    assert (r.status, r.stdout, r.stderr) == (2, "", message)


def test_unknown_limit_lists_the_known_ones() -> None:
    r = call(["exec", "--limit", "max_bogus=1", "true"])
    assert r.status == 2
    assert r.stderr.startswith(
        "pocketos: error: unknown limit 'max_bogus' (known: timeout, max_commands, "
    )
    assert r.stderr.count("\n") == 1


def test_missing_policy_file(tmp_path: Path) -> None:
    r = call(["exec", "--policy", str(tmp_path / "nope.toml"), "true"])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: policy file not found: {tmp_path / 'nope.toml'}\n",
    )


def test_bad_policy_content(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text('{"fs": "maybe"}')
    r = call(["exec", "--policy", str(p), "true"])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: invalid policy: policy fs: mode must be allow, deny or ask, "
        "not 'maybe'\n",
    )
    p.write_text("{not json")
    r = call(["exec", "--policy", str(p), "true"])
    assert r.status == 1 and r.stderr.startswith(f"pocketos: error: invalid policy file {p}: ")


def test_missing_mount_dir(tmp_path: Path) -> None:
    r = call(["exec", "--mount", f"{tmp_path}/none:/x", "true"])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: cannot mount {tmp_path}/none: no such directory\n",
    )


# --- exec and run ------------------------------------------------------------------------------


def test_exec_passes_stdout_stderr_status() -> None:
    r = call(["exec", "echo out; echo err >&2; exit 3"])
    assert (r.status, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_exec_stdin_and_binary_output() -> None:
    r = call(["exec", "cat; printf '\\377\\000x'"], stdin=b"in\xfe\n")
    assert (r.status, r.out) == (0, b"in\xfe\n\xff\x00x")


def test_exec_args_become_positional() -> None:
    r = call(["exec", 'echo "$#:$1:$2"', "a b", "--json"])
    assert (r.status, r.stdout) == (0, "2:a b:--json\n")


def test_exec_script_from_stdin() -> None:
    r = call(["exec", "-"], stdin=b"echo from stdin\n")
    assert (r.status, r.stdout) == (0, "from stdin\n")


def test_exec_json() -> None:
    r = call(["exec", "--json", "echo hi; echo no >&2; exit 4"])
    assert r.status == 4
    d = json.loads(r.stdout)
    assert isinstance(d.pop("duration"), float)
    assert d == {"exit_code": 4, "stdout": "hi\n", "stderr": "no\n", "limit_hit": None}


def test_exec_env_and_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POCKETOS_TEST_HOSTVAR", "from-host")
    r = call(
        [
            "exec",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--env",
            "POCKETOS_TEST_HOSTVAR",
            "--cwd",
            "/work/dir",
            'echo "$A $B $POCKETOS_TEST_HOSTVAR"; pwd',
        ]
    )
    assert (r.status, r.stdout) == (0, "1 x=y from-host\n/work/dir\n")


def test_exec_host_env_is_not_leaked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POCKETOS_TEST_SECRET", "s3cret")
    r = call(["exec", 'echo "[$POCKETOS_TEST_SECRET]"'])
    assert r.stdout == "[]\n"


def test_exec_timeout() -> None:
    r = call(["exec", "--timeout", "0.3", "while :; do :; done"])
    assert (r.status, r.stdout, r.stderr) == (124, "", "bash: timed out after 0.3s\n")


def test_exec_limit() -> None:
    r = call(
        ["exec", "--json", "--limit", "max_commands=5", "for i in 1 2 3 4 5 6 7 8; do true; done"]
    )
    d = json.loads(r.stdout)
    assert (r.status, d["exit_code"], d["limit_hit"]) == (125, 125, "max_commands")


def test_exec_size_limit_values() -> None:
    assert cli.parse_limit("max_fs_bytes=64M") == ("max_fs_bytes", 64 * 1024 * 1024)
    assert cli.parse_limit("max-file-size=1.5k") == ("max_file_size", 1536)
    assert cli.parse_limit("timeout=2.5") == ("timeout", 2.5)
    assert cli.parse_limit("timeout=none") == ("timeout", None)
    assert cli.parse_limit("max_commands=1_000") == ("max_commands", 1000)


def test_mount_modes(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "a.txt").write_text("hello\n")
    r = call(["exec", "--mount", f"{d}:/proj", "cat /proj/a.txt; echo x > /proj/b"])
    assert (r.status, r.stdout) == (1, "hello\n")
    assert r.stderr.startswith("bash: ") and r.stderr.endswith("/proj/b: Read-only file system\n")
    r = call(["exec", "--mount", f"{d}:/proj:overlay", "echo x > /proj/b; cat /proj/b"])
    assert (r.status, r.stdout) == (0, "x\n")
    assert not (d / "b").exists()
    r = call(["exec", "--mount", f"{d}:/proj:rw", "echo y > /proj/c"])
    assert r.status == 0
    assert (d / "c").read_text() == "y\n"


def test_parse_mount() -> None:
    assert cli.parse_mount("/a:/b") == ("/a", "/b", "ro")
    assert cli.parse_mount("/a:/b:rw") == ("/a", "/b", "rw")
    assert cli.parse_mount("/a:b:/c:overlay") == ("/a:b", "/c", "overlay")


def test_policy_toml_denies(tmp_path: Path) -> None:
    p = tmp_path / "policy.toml"
    p.write_text(
        'child_process = "allow"\nenv = "allow"\n[fs]\ndefault = "allow"\n'
        '[[fs.rules]]\nmode = "deny"\noperations = ["read"]\n'
        'paths = ["/home/user/secret*"]\n'
    )
    r = call(["exec", "--policy", str(p), "echo k > secret; cat secret"])
    assert r.status == 1
    assert r.stderr.startswith("cat: secret: Permission denied")


def test_policy_json_wrapped(tmp_path: Path) -> None:
    p = tmp_path / "policy.json"
    p.write_text(
        json.dumps(
            {
                "policy": {
                    "fs": "allow",
                    "child_process": {
                        "default": "allow",
                        "rules": [{"mode": "deny", "paths": ["wc"]}],
                    },
                }
            }
        )
    )
    r = call(["exec", "--policy", str(p), "echo a | wc -l; echo $?"])
    assert r.stdout == "126\n"
    assert r.stderr.startswith("wc: ")


def test_allow_net_adds_a_rule() -> None:
    spec = cli._with_network_rules({"network": "deny", "fs": "allow"}, ["api.example.com"])
    assert spec == {
        "fs": "allow",
        "network": {
            "default": "deny",
            "rules": [{"mode": "allow", "patterns": ["api.example.com"]}],
        },
    }
    spec = cli._with_network_rules(
        {"network": {"default": "deny", "rules": [{"mode": "deny", "hosts": ["a.b"]}]}},
        ["*.github.com", "localhost:8080"],
    )
    assert spec["network"]["rules"][-1] == {
        "mode": "allow",
        "patterns": ["*.github.com", "localhost:8080"],
    }


def test_allow_net_reaches_a_local_server() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            body = b"pong\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{port}/ping"
        denied = call(["exec", f"curl -s {url}"])
        assert denied.status != 0 and denied.stdout == ""
        r = call(["exec", "--allow-net", f"127.0.0.1:{port}", f"curl -s {url}"])
        assert (r.status, r.stdout) == (0, "pong\n"), r.stderr
    finally:
        srv.shutdown()
        srv.server_close()


def test_run_file_with_args(tmp_path: Path) -> None:
    f = tmp_path / "s.sh"
    f.write_text('echo "args: $*"\nread line\necho "got $line"\nexit 5\n')
    r = call(["run", str(f), "-x", "two"], stdin=b"input\n")
    assert (r.status, r.stdout) == (5, "args: -x two\ngot input\n")


def test_run_json(tmp_path: Path) -> None:
    f = tmp_path / "s.sh"
    f.write_text("echo hi\n")
    r = call(["run", "--json", str(f)])
    assert json.loads(r.stdout)["stdout"] == "hi\n"


def test_run_missing_file(tmp_path: Path) -> None:
    r = call(["run", str(tmp_path / "none.sh")])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: script not found: {tmp_path / 'none.sh'}\n",
    )
    r = call(["run", str(tmp_path)])
    assert (r.status, r.stderr) == (1, f"pocketos: error: {tmp_path}: is a directory\n")


# --- snapshots ---------------------------------------------------------------------------------


def test_snapshot_out_and_from_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "o.snap"
    r = call(["exec", "--snapshot-out", str(out), "mkdir -p /data; echo v1 > /data/f"])
    assert r.status == 0 and out.exists()
    r = call(["exec", "--from-snapshot", str(out), "cat /data/f"])
    assert (r.status, r.stdout) == (0, "v1\n")


def test_from_snapshot_errors(tmp_path: Path) -> None:
    r = call(["exec", "--from-snapshot", str(tmp_path / "none"), "true"])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: snapshot not found: {tmp_path / 'none'}\n",
    )
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"garbage")
    r = call(["exec", "--from-snapshot", str(bad), "true"])
    assert r.status == 1 and r.stderr.startswith(f"pocketos: error: bad snapshot {bad}: ")


def _export(tmp_path: Path) -> Path:
    out = tmp_path / "p.snap"
    r = call(
        [
            "snapshot",
            "export",
            str(out),
            "--path",
            "/home/user",
            "--exec",
            "mkdir p; printf hi > p/a.txt; ln -s a.txt p/l; echo noise",
        ]
    )
    assert (r.status, r.stdout, r.stderr) == (0, "", "noise\n")
    return out


def test_snapshot_export_is_deterministic(tmp_path: Path) -> None:
    out = _export(tmp_path)
    snap = Snapshot.load(out)
    assert snap.root == "/home/user"
    assert [e["path"] for e in snap.entries] == ["", "p", "p/a.txt", "p/l"]
    again = tmp_path / "again.snap"
    r = call(
        [
            "snapshot",
            "export",
            str(again),
            "--path",
            "/home/user",
            "--exec",
            "mkdir p; printf hi > p/a.txt; ln -s a.txt p/l",
        ]
    )
    assert r.status == 0
    # timestamps differ between runs, the structure does not
    assert [e["path"] for e in Snapshot.load(again).entries] == [e["path"] for e in snap.entries]


def test_snapshot_export_failing_exec(tmp_path: Path) -> None:
    out = tmp_path / "x.snap"
    r = call(["snapshot", "export", str(out), "--exec", "exit 3"])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: the --exec script failed with status "
        "3; no snapshot written (use --force to write it "
        "anyway)\n",
    )
    assert not out.exists()
    r = call(["snapshot", "export", str(out), "--force", "--exec", "exit 3"])
    assert r.status == 0 and out.exists()


def test_snapshot_export_missing_path(tmp_path: Path) -> None:
    r = call(["snapshot", "export", str(tmp_path / "x"), "--path", "/nope"])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: cannot snapshot /nope: /nope: No such file or directory\n",
    )


def test_snapshot_inspect(tmp_path: Path) -> None:
    out = _export(tmp_path)
    digest = Snapshot.load(out).digest
    r = call(["snapshot", "inspect", str(out)])
    assert (r.status, r.stdout) == (
        0,
        "format: pocketos-snapshot\nversion: 1\n"
        "root: /home/user\nentries: 4\nblobs: 1\nbytes: 2\n"
        f"digest: {digest}\ntypes: dir=2, file=1, symlink=1\n",
    )
    r = call(["snapshot", "inspect", "--json", str(out)])
    assert json.loads(r.stdout) == {
        "format": "pocketos-snapshot",
        "version": 1,
        "root": "/home/user",
        "entries": 4,
        "blobs": 1,
        "bytes": 2,
        "types": {"dir": 2, "file": 1, "symlink": 1},
        "digest": digest,
    }


def test_snapshot_import(tmp_path: Path) -> None:
    out = _export(tmp_path)
    r = call(["snapshot", "import", str(out)])
    assert (r.status, r.stdout) == (
        0,
        "dir      0755          0 /home/user\n"
        "dir      0755          0 /home/user/p\n"
        "file     0644          2 /home/user/p/a.txt\n"
        "symlink  0777          0 /home/user/p/l\n",
    )
    r = call(["snapshot", "import", "--json", str(out)])
    d = json.loads(r.stdout)
    assert d["root"] == "/home/user"
    assert d["entries"][2] == {
        "path": "/home/user/p/a.txt",
        "type": "file",
        "mode": "0644",
        "size": 2,
    }


def test_snapshot_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a tar")
    r = call(["snapshot", "inspect", str(bad)])
    assert r.status == 1
    assert r.stderr.startswith(f"pocketos: error: bad snapshot {bad}: not a pocketos snapshot: ")
    r = call(["snapshot", "import", str(tmp_path / "none")])
    assert (r.status, r.stderr) == (
        1,
        f"pocketos: error: snapshot not found: {tmp_path / 'none'}\n",
    )


# --- demo, agent, bench, warmup, internal errors -----------------------------------------------


def test_demo() -> None:
    from pocketos.wasm import python_available

    r = call(["demo"])
    head = (
        "== totals per fruit\napple 5\nbanana 7\ncherry 5\n"
        "== the biggest\nbanana 7\n== files\n-rw-r--r-- 34 fruit.txt\n"
        "== python3 in WebAssembly (the first use compiles the runtime once, 1-2 minutes)\n"
    )
    if not python_available():
        assert r.stdout.startswith(head)
        return
    assert (r.status, r.stdout) == (0, head + "mean 4.25 on wasi\n")


def test_agent_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pocketos.agent.cli" else real(name, *a),
    )
    r = call(["agent", "hello"])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: the pocketos agent is not available in "
        "this installation (pocketos.agent.cli is missing)\n",
    )


def test_agent_delegates(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType("pocketos.agent.cli")
    fake.main = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    spec = importlib.machinery.ModuleSpec("pocketos.agent.cli", None)
    fake.__spec__ = spec
    monkeypatch.setitem(sys.modules, "pocketos.agent.cli", fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    r = call(["agent", "--model", "x", "do it"])
    assert r.status == 7
    assert seen == [["--model", "x", "do it"]]


def test_bench_help() -> None:
    r = call(["bench", "--help"])
    assert r.status == 0
    assert r.stdout.startswith("usage: pocketos bench")


def test_bench_outside_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_source_tree", lambda: None)
    r = call(["bench"])
    assert r.status == 1
    assert r.stderr == (
        "pocketos: error: the benchmark suite is not installed: it lives in the "
        "source tree (bench/); run 'python -m bench.run' from a checkout\n"
    )


def test_warmup_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    import pocketos.wasm as wasm

    def fake(
        python: bool = True, js: bool = True, fuel: bool = False, progress: object = None
    ) -> dict[str, bool]:
        assert progress is not None
        progress.write("js: compiling\n")  # type: ignore[attr-defined]
        return {"js": True, "python": False} if python else {"js": True}

    monkeypatch.setattr(wasm, "warmup", fake)
    r = call(["warmup", "--plain"])
    assert (r.status, r.stdout, r.stderr) == (
        1,
        "node: ready\npython3: not available (package not installed)\n",
        "pocketos: js: compiling\n",
    )
    r = call(["warmup", "--no-python"])
    assert (r.status, r.stdout) == (0, "node: ready\n")
    r = call(["warmup", "--no-python", "--no-js"])
    assert r.status == 2


def test_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "cmd_version", boom)
    r = call(["version"])
    assert (r.status, r.stderr) == (
        1,
        "pocketos: error: RuntimeError: kaboom (run with --debug for the traceback)\n",
    )
    r = call(["--debug", "version"])
    assert r.status == 1
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.endswith("pocketos: error: RuntimeError: kaboom\n")


# --- the shell, non-interactive (stdin is not a terminal) --------------------------------------


def test_shell_batch_keeps_state() -> None:
    r = call(["shell"], stdin=b"x=5\ncd /tmp\nfor i in 1 2; do\necho $i $x\ndone\npwd\nfalse\n")
    assert (r.status, r.stdout, r.stderr) == (1, "1 5\n2 5\n/tmp\n", "")


def test_shell_batch_exit_stops() -> None:
    r = call(["shell"], stdin=b"echo a\nexit 7\necho b\n")
    assert (r.status, r.stdout) == (7, "a\n")
    r = call(["shell"], stdin=b"(exit 3); echo $?\n")
    assert (r.status, r.stdout) == (0, "3\n")


def test_shell_continuation_lines() -> None:
    r = call(["shell"], stdin=b"echo 'a\nb' \\\n  c\nif true; then\n  echo yes\nfi\n")
    assert (r.status, r.stdout) == (0, "a\nb c\nyes\n")


def test_shell_persist(tmp_path: Path) -> None:
    store = tmp_path / "vm.snap"
    r = call(["shell", "--persist", str(store)], stdin=b"echo kept > /home/user/f\n")
    assert r.status == 0 and store.exists()
    r = call(["shell", "--persist", str(store)], stdin=b"cat /home/user/f; echo more >> f\n")
    assert (r.status, r.stdout) == (0, "kept\n")
    r = call(["shell", "--persist", str(store)], stdin=b"cat f\n")
    assert r.stdout == "kept\nmore\n"


def test_shell_named_vm(home: Path) -> None:
    r = call(["shell", "--vm", "work"], stdin=b"echo 1 > /tmp/n; cd /srv; export X=2\n")
    assert r.status == 0
    assert (home / ".local/share/pocketos/workspaces/workspaces/work/head.json").exists()
    r = call(["shell", "--vm", "work"], stdin=b"cat /tmp/n; pwd\n")
    assert r.stdout == "1\n/srv\n"
    r = call(["shell", "--vm", "other"], stdin=b"cat /tmp/n\n")
    assert r.status == 1 and r.stdout == ""


def test_shell_named_vm_mounts_host_folders_again_when_asked(home: Path, tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "n").write_text("on the host\n")
    r = call(["shell", "--vm", "m", "--mount", f"{host}:/data"], stdin=b"cat /data/n\n")
    assert (r.status, r.stdout) == (0, "on the host\n")
    r = call(["shell", "--vm", "m"], stdin=b"cat /data/n\n")
    assert r.status == 1 and r.stdout == ""
    r = call(["shell", "--vm", "m", "--host-mounts"], stdin=b"cat /data/n\n")
    assert (r.status, r.stdout) == (0, "on the host\n")


def test_shell_snapshot_out_and_options(tmp_path: Path) -> None:
    out = tmp_path / "s.snap"
    r = call(
        ["shell", "--snapshot-out", str(out), "--env", "Q=9", "--cwd", "/w"],
        stdin=b"echo $Q > here; pwd\n",
    )
    assert (r.status, r.stdout) == (0, "/w\n")
    r = call(["exec", "--from-snapshot", str(out), "cat /w/here"])
    assert r.stdout == "9\n"


def test_shell_prompt_text() -> None:
    from pocketos.vm import AsyncVM

    vm = AsyncVM()
    sh = cli.InteractiveShell(vm, interactive=False)
    try:
        assert sh.prompt() == "user@pocketos:~$ "
        sh.execute("cd /tmp")
        assert sh.prompt() == "user@pocketos:/tmp$ "
        sh.execute("mkdir -p ~/a/b && cd ~/a/b")
        assert sh.prompt() == "user@pocketos:~/a/b$ "
    finally:
        sh.close()


def test_incomplete() -> None:
    assert cli._incomplete("for i in 1; do\n")
    assert cli._incomplete("echo 'x\n")
    assert cli._incomplete("echo a \\\n")
    assert not cli._incomplete("echo a \\\\\n")
    assert not cli._incomplete("echo )\n")
    assert not cli._incomplete("echo ok\n")
