"""Unit tests for jq, yq, sqlite3, base64 and the checksum commands."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator

import pytest

from pocketos import VM


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.mkdir("/work", parents=True, exist_ok=True)
        yield v


def run(
    vm: VM, argv: list[str], stdin: bytes | str = b"", **kw: object
) -> tuple[int, bytes, bytes]:
    r = vm.run(argv, stdin=stdin, cwd="/work", env={"HOME": "/home/user", "ONLY": "vm"}, **kw)
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


# --- jq ---------------------------------------------------------------------------------------


def test_jq_pretty_output_keeps_key_order_and_number_text(vm: VM) -> None:
    code, out, err = run(
        vm, ["jq", "."], '{"z":1,"a":[1.0,1e2,100000000000000000000000001],"e":{},"l":[]}'
    )
    assert (code, err) == (0, b"")
    # number literals keep their text, as jq 1.7+ prints them
    assert out == (
        b'{\n  "z": 1,\n  "a": [\n    1.0,\n    1E+2,\n'
        b'    100000000000000000000000001\n  ],\n  "e": {},\n  "l": []\n}\n'
    )


@pytest.mark.parametrize(
    ("argv", "stdin", "status"),
    [
        (["jq", "-e", ".a"], '{"a":false}', 1),
        (["jq", "-e", ".a"], '{"a":null}', 1),
        (["jq", "-e", ".a"], '{"a":0}', 0),
        (["jq", "-e", "empty"], "1", 4),
        (["jq", ".a |"], "1", 3),
        (["jq", ".a"], "1", 5),
        (["jq", "."], "{", 2),
        (["jq", "--indent", "9", "."], "1", 2),
        (["jq", "--nope"], "", 2),
        (["jq", "-n", 'error("x")'], "", 5),
        (["jq", "-n", '"x\\n" | halt_error(7)'], "", 7),
        (["jq", "-n", "halt"], "", 0),
    ],
)
def test_jq_exit_statuses(vm: VM, argv: list[str], stdin: str, status: int) -> None:
    assert run(vm, argv, stdin)[0] == status


def test_jq_error_messages(vm: VM) -> None:
    code, out, err = run(vm, ["jq", ".a |||"], "1")
    assert code == 3
    assert err.startswith(b"jq: error: syntax error") and err.endswith(b"jq: 1 compile error\n")
    code, out, err = run(vm, ["jq", ".[] | .a"], '[{"a":1}, 2, {"a":3}]')
    assert (code, out) == (5, b"1\n3\n") or (code, out) == (5, b"1\n")
    assert err.startswith(b"jq: error (at <stdin>:0): Cannot index number")
    code, out, err = run(vm, ["jq", ".", "missing.json"])
    assert (code, err) == (
        2,
        b"jq: error: Could not open missing.json: No such file or directory\n",
    )


def test_jq_runtime_error_continues_with_next_input(vm: VM) -> None:
    code, out, _ = run(vm, ["jq", ".a"], '{"a":1} 2 {"a":3}')
    assert (code, out) == (5, b"1\n3\n")


def test_jq_sees_only_the_vm_environment(vm: VM) -> None:
    code, out, _ = run(vm, ["jq", "-c", "-n", '[env.ONLY, $ENV.ONLY, (env|has("PYENV_ROOT"))]'])
    assert (code, out) == (0, b'["vm","vm",false]\n')
    assert "PATH" not in json.loads(run(vm, ["jq", "-n", "env"])[1]) or json.loads(
        run(vm, ["jq", "-n", "env"])[1]
    )["PATH"] != os.environ.get("PATH")


def test_jq_program_is_compiled_once_whatever_the_environment(
    vm: VM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a program that does not read the environment is the same program in every directory
    # (PWD differs), so the compile cache serves it; one that reads it still sees each change
    from pocketos.commands import _jq_engine

    monkeypatch.setattr(_jq_engine._Inline, "cache", {})
    vm.mkdir("/a/b", parents=True)
    r = vm.exec("for d in / /a /a/b; do cd $d && jq -n '[1, 2] | length'; done")
    assert (r.exit_code, r.stdout) == (0, "2\n2\n2\n")
    assert len(_jq_engine._Inline.cache) == 1
    r = vm.exec("for d in /a /a/b; do cd $d && jq -rn '\"in \\(env.PWD) \\($ENV.PWD)\"'; done")
    assert (r.exit_code, r.stdout) == (0, "in /a /a\nin /a/b /a/b\n")


def test_jq_modules_are_refused(vm: VM) -> None:
    code, _, err = run(vm, ["jq", "-n", 'import "x" as y; 1'])
    assert code == 3 and b"modules are not available" in err
    code, _, err = run(vm, ["jq", "-n", 'include "/etc/passwd"; 1'])
    assert code == 3


def test_jq_raw_and_join_and_nul(vm: VM) -> None:
    assert run(vm, ["jq", "-r", ".[]"], '["a\\u0000b", "é"]')[1] == b"a\x00b\n\xc3\xa9\n"
    assert run(vm, ["jq", "-j", ".[]"], '["a", 1, "b"]')[1] == b"a1b"
    assert run(vm, ["jq", "--raw-output0", ".[]"], '["a", "b"]')[1] == b"a\x00b\x00"
    assert run(vm, ["jq", "--seq", "-c", "."], "[1]")[1] == b"\x1e[1]\n"


def test_jq_invalid_utf8_becomes_replacement_character(vm: VM) -> None:
    code, out, _ = run(vm, ["jq", "-c", "."], b'["a\xffb"]')
    assert (code, out) == (0, '["a\ufffdb"]\n'.encode())
    code, out, _ = run(vm, ["jq", "-R", "."], b"x\xfey\n")
    assert (code, out) == (0, '"x\ufffdy"\n'.encode())


def test_jq_ascii_output_uses_surrogate_pairs(vm: VM) -> None:
    assert run(vm, ["jq", "-a", "."], '"é😀"')[1] == b'"\\u00e9\\ud83d\\ude00"\n'


def test_jq_sort_keys_recursively(vm: VM) -> None:
    out = run(vm, ["jq", "-S", "-c", "."], '{"b":{"y":1,"x":2},"a":[{"d":1,"c":2}]}')[1]
    assert out == b'{"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}}\n'


def test_jq_inputs_and_slurp(vm: VM) -> None:
    assert run(vm, ["jq", "-c", "-n", "[inputs]"], '1 [2] {"a":3}')[1] == b'[1,[2],{"a":3}]\n'
    assert run(vm, ["jq", "-c", "-s", "."], "1\n2\n")[1] == b"[1,2]\n"
    assert run(vm, ["jq", "-c", "[., inputs]"], "1 2 3")[1] == b"[1,2,3]\n"


def test_jq_many_inputs_stream(vm: VM) -> None:
    data = "".join(f'{{"i":{i}}}\n' for i in range(3000))
    code, out, _ = run(vm, ["jq", "-c", ".i"], data)
    assert code == 0
    assert out == "".join(f"{i}\n" for i in range(3000)).encode()


def test_jq_value_split_across_chunks(vm: VM) -> None:
    big = json.dumps({"k": "x" * 200_000, "n": 12345678})
    code, out, _ = run(vm, ["jq", "-c", ".n"], big + " " + big)
    assert (code, out) == (0, b"12345678\n12345678\n")


def test_jq_args_files(vm: VM) -> None:
    vm.write_file("/work/p.jq", b".a + $x\n")
    code, out, _ = run(vm, ["jq", "--argjson", "x", "2", "-f", "p.jq"], '{"a":1}')
    assert (code, out) == (0, b"3\n")


def test_jq_stream_option(vm: VM) -> None:
    out = run(vm, ["jq", "-c", "--stream", "."], '{"a":[1,2]}')[1]
    assert out == b'[["a",0],1]\n[["a",1],2]\n[["a",1]]\n[["a"]]\n'


def test_jq_endless_output_stops_at_the_deadline(vm: VM) -> None:
    r = vm.run(["jq", "-n", "repeat(1)"], timeout=0.5, cwd="/work")
    assert r.exit_code != 0
    # the VM stays usable
    assert run(vm, ["jq", "-n", "1+1"])[1] == b"2\n"


def test_jq_help_and_version(vm: VM) -> None:
    code, out, _ = run(vm, ["jq", "--help"])
    assert code == 0 and out.startswith(b"Usage:")
    assert run(vm, ["jq", "--version"])[1].startswith(b"jq-1.")


def test_jq_pipeline_ends_early(vm: VM) -> None:
    r = vm.exec("jq -n 'repeat(1)' | head -n 2")
    assert (r.exit_code, r.stdout) == (0, "1\n1\n")
    r = vm.exec("yes '{\"a\":1}' | jq -c .a | head -n 1")
    assert (r.exit_code, r.stdout) == (0, "1\n")


# --- yq ---------------------------------------------------------------------------------------

YAML = """name: demo
items:
  - id: 1
    tags: [a, b]
  - id: 2
    tags: []
nested:
  key: value
  n: 1.5
"""


def test_yq_reads_yaml_and_writes_yaml(vm: VM) -> None:
    vm.write_file("/work/c.yaml", YAML)
    assert run(vm, ["yq", ".name", "c.yaml"])[1] == b"demo\n"
    assert run(vm, ["yq", ".nested", "c.yaml"])[1] == b"key: value\nn: 1.5\n"
    assert run(vm, ["yq", ".items[0]", "c.yaml"])[1] == b"id: 1\ntags:\n  - a\n  - b\n"
    assert run(vm, ["yq", ".items | length", "c.yaml"])[1] == b"2\n"
    assert run(vm, ["yq", "c.yaml"])[1].startswith(b"name: demo\nitems:\n  - id: 1\n")


def test_yq_json_output(vm: VM) -> None:
    vm.write_file("/work/c.yaml", YAML)
    assert (
        run(vm, ["yq", "-o", "json", ".nested", "c.yaml"])[1]
        == b'{\n  "key": "value",\n  "n": 1.5\n}\n'
    )
    assert run(vm, ["yq", "-o=json", "-c", ".items[1]", "c.yaml"])[1] == b'{"id":2,"tags":[]}\n'
    assert run(vm, ["yq", "-j", ".name", "c.yaml"])[1] == b'"demo"\n'


def test_yq_stdin_multi_document_and_errors(vm: VM) -> None:
    assert run(vm, ["yq", ".a"], "a: 1\n---\na: 2\n")[1] == b"1\n---\n2\n"
    code, _, err = run(vm, ["yq", ".a"], "a: [1\n")
    assert code == 1 and err.startswith(b"Error:")
    code, _, err = run(vm, ["yq", ".", "nope.yaml"])
    assert code == 1 and err.startswith(b"Error:")
    assert run(vm, ["yq", "-p", "json", ".a.b"], '{"a":{"b":[1,2]}}')[1] == b"- 1\n- 2\n"


def test_yq_in_place(vm: VM) -> None:
    vm.write_file("/work/c.yaml", "a: 1\nb: x\n")
    assert run(vm, ["yq", "-i", ".a = 5", "c.yaml"])[0] == 0
    assert vm.read_file("/work/c.yaml") == b"a: 5\nb: x\n"


# --- sqlite3 ----------------------------------------------------------------------------------


def test_sqlite_database_file_persists_in_the_vm(vm: VM) -> None:
    assert run(vm, ["sqlite3", "app.db", "create table t(a, b); insert into t values(1,'x')"]) == (
        0,
        b"",
        b"",
    )
    data = vm.read_file("/work/app.db")
    assert data.startswith(b"SQLite format 3\x00")
    assert run(vm, ["sqlite3", "app.db", "select * from t"])[1] == b"1|x\n"
    # the bytes are a real database: the host library reads them
    fd, path = tempfile.mkstemp()
    os.write(fd, data)
    os.close(fd)
    try:
        con = sqlite3.connect(path)
        assert con.execute("select a, b from t").fetchall() == [(1, "x")]
        con.close()
    finally:
        os.unlink(path)


def test_sqlite_unchanged_database_is_not_rewritten(vm: VM) -> None:
    run(vm, ["sqlite3", "app.db", "create table t(a)"])
    before = vm.stat("/work/app.db").st_mtime_ns
    vm.kernel.vfs  # noqa: B018 - the VM is alive
    assert run(vm, ["sqlite3", "app.db", "select count(*) from t"])[1] == b"0\n"
    assert vm.stat("/work/app.db").st_mtime_ns == before


def test_sqlite_memory_database_writes_nothing(vm: VM) -> None:
    assert run(vm, ["sqlite3", ":memory:", "create table t(a)"]) == (0, b"", b"")
    assert run(vm, ["sqlite3"], "select 1+1;\n")[1] == b"2\n"
    assert not vm.exists("/work/:memory:")


def test_sqlite_refuses_host_files(vm: VM, tmp_path: object) -> None:
    code, _, err = run(vm, ["sqlite3", ":memory:", "attach database '/etc/passwd' as p"])
    assert code == 1 and err.startswith(b"Error:")
    target = os.path.join(str(tmp_path), "out.db")
    code, _, _ = run(vm, ["sqlite3", ":memory:", f"vacuum into '{target}'"])
    assert code != 0 and not os.path.exists(target)


def test_sqlite_stdin_dot_commands(vm: VM) -> None:
    vm.write_file("/work/in.csv", "name,qty\napple,3\npear,5\n")
    script = (
        ".import --csv in.csv fruit\n.mode json\nselect * from fruit order by name;\n"
        ".mode csv\n.headers on\nselect name from fruit where qty > 4;\n"
    )
    code, out, err = run(vm, ["sqlite3", "f.db"], script)
    assert (code, err) == (0, b"")
    assert out == (b'[{"name":"apple","qty":"3"},\n{"name":"pear","qty":"5"}]\nname\r\npear\r\n')
    assert run(vm, ["sqlite3", "f.db", ".tables"])[1] == b"fruit\n"


def test_sqlite_exit_and_errors(vm: VM) -> None:
    assert run(vm, ["sqlite3", ":memory:", ".exit 3"])[0] == 3
    code, out, err = run(vm, ["sqlite3", ":memory:", "select * from nope"])
    assert (code, out, err) == (1, b"", b"Error: in prepare, no such table: nope\n")
    vm.write_file("/work/junk.db", b"this is not a database" * 10)
    code, _, err = run(vm, ["sqlite3", "junk.db", ".tables"])
    assert (code, err) == (1, b"Error: file is not a database\n")
    assert vm.read_file("/work/junk.db") == b"this is not a database" * 10


def test_sqlite_bail_stops_stdin(vm: VM) -> None:
    code, out, _ = run(vm, ["sqlite3", "-bail", ":memory:"], "select 1;\nbad;\nselect 2;\n")
    assert (code, out) == (1, b"1\n")


def test_sqlite_runaway_query_hits_the_deadline(vm: VM) -> None:
    r = vm.run(
        [
            "sqlite3",
            ":memory:",
            "with recursive c(x) as (select 1 union all select x+1 from c) select count(*) from c",
        ],
        timeout=0.5,
        cwd="/work",
    )
    assert r.exit_code != 0


# --- base64 and checksums ---------------------------------------------------------------------


def test_base64_round_trip_binary(vm: VM) -> None:
    data = bytes(range(256)) * 40 + b"\x00\xff"
    vm.write_file("/work/bin", data)
    code, enc, _ = run(vm, ["base64", "bin"])
    assert code == 0 and all(len(line) <= 76 for line in enc.splitlines())
    code, dec, _ = run(vm, ["base64", "-d"], enc)
    assert (code, dec) == (0, data)


def test_base64_stream_through_pipe(vm: VM) -> None:
    r = vm.exec("seq 1 20000 | base64 | base64 -d | tail -n 1")
    assert (r.exit_code, r.stdout) == (0, "20000\n")


def test_checksums_match_hashlib(vm: VM) -> None:
    data = b"\x00binary\xff\n" * 1000
    vm.write_file("/work/f", data)
    for cmd, algo in (
        ("md5sum", "md5"),
        ("sha1sum", "sha1"),
        ("sha224sum", "sha224"),
        ("sha256sum", "sha256"),
        ("sha384sum", "sha384"),
        ("sha512sum", "sha512"),
        ("b2sum", "blake2b"),
    ):
        digest = hashlib.new(algo, data).hexdigest()
        assert run(vm, [cmd, "f"])[1] == f"{digest}  f\n".encode()
        assert run(vm, [cmd], data)[1] == f"{digest}  -\n".encode()


def test_checksum_check_round_trip(vm: VM) -> None:
    vm.write_file("/work/a", b"one\n")
    vm.write_file("/work/b", b"two\n")
    sums = run(vm, ["sha256sum", "a", "b"])[1]
    vm.write_file("/work/SUMS", sums)
    assert run(vm, ["sha256sum", "-c", "SUMS"]) == (0, b"a: OK\nb: OK\n", b"")
    vm.write_file("/work/b", b"changed\n")
    code, out, err = run(vm, ["sha256sum", "-c", "SUMS"])
    assert (code, out) == (1, b"a: OK\nb: FAILED\n")
    assert err == b"sha256sum: WARNING: 1 computed checksum did NOT match\n"
    vm.write_file("/work/SUMS", sums.replace(b"\n", b"\r\n"))
    vm.write_file("/work/b", b"two\n")
    assert run(vm, ["sha256sum", "-c", "SUMS"])[0] == 0


def test_cksum_crc_known_values(vm: VM) -> None:
    assert run(vm, ["cksum"], b"abc")[1] == b"1219131554 3\n"
    assert run(vm, ["cksum"], b"")[1] == b"4294967295 0\n"


@pytest.mark.parametrize(
    "cmd", ["jq", "yq", "sqlite3", "base64", "md5sum", "sha256sum", "cksum", "b2sum"]
)
def test_help_exits_zero(vm: VM, cmd: str) -> None:
    code, out, _ = run(vm, [cmd, "--help"] if cmd != "sqlite3" else [cmd, "-help"])
    assert code == 0 and out
