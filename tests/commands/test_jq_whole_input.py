"""jq on a file: the file's bytes go whole to libjq, which parses every value itself. The
results, errors (with their locations), halts and parse errors must be those of the same
text read from stdin (where pocketos splits the values first), and of the host's jq."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.commands import _jq_input
from tests.compat import Case, have, run_host, run_vm

#: (program, file contents): errors in the middle, non-string errors, halts, odd literals
SAME_AS_STDIN = [
    (".a", b'{"a":1}\n1\n{"a":2}\n'),
    (".a", b'{"a":1}\n{"a" 2}\n{"a":3}'),
    ("error", b'null {"a":1}\n[2]\n"x"'),
    ("if .a == 1 then halt_error(3) else . end", b'{"a":0}\n{"a":1}\n{"a":2}'),
    ('if .a == 1 then halt_error("bye\\n") else . end', b'{"a":0}\n\n{"a":1}\n{"a":2}'),
    ("if . == 2 then halt else . end", b"1 2 3"),
    (".", b'"\xff\xfe" 1'),
    (".", b"nan 1"),
    (".[] | (1 / .)", b"[1, 0, 2]\n[4]"),
    (".[] | .x", b'[{"x":1},2,{"x":3}]\n\n{"y": [1,\n2]}'),
    (".", b""),
    (".", b"   \n"),
    ("$__loc__", b"1"),
    ('first(.[]), error("late")', b"[7, 8]\n[9]"),
]


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


@pytest.mark.parametrize(("prog", "data"), SAME_AS_STDIN)
@pytest.mark.parametrize("flags", ["-c", "-e"])
def test_a_file_gives_what_the_same_text_on_stdin_gives(
    vm: VM, prog: str, data: bytes, flags: str
) -> None:
    vm.write_file("/tmp/f.json", data)
    quoted = prog.replace("'", "'\\''")
    by_file = vm.exec(f"jq {flags} '{quoted}' /tmp/f.json")
    by_stdin = vm.exec(f"jq {flags} '{quoted}' < /tmp/f.json")
    assert by_file.exit_code == by_stdin.exit_code, (by_file, by_stdin)
    assert by_file.stdout == by_stdin.stdout
    assert by_file.stderr.replace("/tmp/f.json", "<stdin>") == by_stdin.stderr


def test_errors_name_the_line_of_their_value(vm: VM) -> None:
    vm.write_file("/tmp/lines.json", b'{"a":1}\n\n[1,\n2]\n{"a":3}\n"s"\n')
    r = vm.exec("jq .a /tmp/lines.json")
    assert r.exit_code == 5
    assert r.stdout == "1\n3\n"
    assert r.stderr == (
        'jq: error (at /tmp/lines.json:4): Cannot index array with string ("a")\n'
        'jq: error (at /tmp/lines.json:6): Cannot index string with string ("a")\n'
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1} {"a":2', "Unfinished JSON term at EOF at line 1, column 14"),
        (b'[1,\n2,\n3\n] {"x":\n\n1} 3 x', "Invalid numeric literal at EOF at line 6, column 6"),
    ],
)
def test_a_parse_error_is_placed_in_the_whole_file_and_ends_the_input(
    vm: VM, data: bytes, message: str
) -> None:
    # jq's parser counts lines and columns from the start of its input, not of the value
    vm.write_file("/tmp/bad.json", data)
    vm.write_file("/tmp/good.json", b"42")
    r = vm.exec("jq -c . /tmp/bad.json /tmp/good.json")
    assert r.exit_code == 2
    assert "42" not in r.stdout
    assert r.stderr.endswith(f"parse error: {message}\n")


@pytest.mark.skipif(not have("jq"), reason="host jq not installed")
@pytest.mark.parametrize(
    "data",
    [
        '{"a":1} {"a":2',
        '[1,\n2,\n3\n] {"x":\n\n1} 3 x',
        '{"a":1}\n1\n{"a":2}\n',
        '{"a":{"b":[1,2]}}\n\n{"a":null}',
    ],
)
def test_a_file_gives_the_host_jqs_results(data: str) -> None:
    # the output only: the host's jq may be 1.6, whose messages and exit statuses after an
    # error differ from 1.7's
    case = Case(["jq", "-c", ".a", "f.json", "g.json"], {"f.json": data, "g.json": "{}"})
    assert run_vm(case).stdout == run_host(case).stdout


def test_a_well_formed_file_is_not_split_in_python(vm: VM, monkeypatch: pytest.MonkeyPatch) -> None:
    # the file's values are found by libjq: Python's splitter (a full decode) is not run
    def refuse(*_: object) -> None:
        raise AssertionError("the file was split in Python")

    monkeypatch.setattr(_jq_input._JsonSplitter, "feed", refuse)
    vm.write_file("/tmp/many.json", b"".join(b'{"n":%d}\n' % i for i in range(2000)))
    r = vm.exec("jq -c 'select(.n % 500 == 0) | .n' /tmp/many.json")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "0\n500\n1000\n1500\n", "")
