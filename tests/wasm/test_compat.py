"""Differential cases: the host's python3/node and the VM's give the same stdout and status."""

from __future__ import annotations

import pytest

from tests.compat import Case, assert_same, have
from tests.wasm.conftest import need_js, need_python

PY_CASES = [
    Case(["python3", "-c", "print(sum(range(10)))"]),
    Case(["python3", "-c", "import sys; print(sys.argv[1:])", "a", "b"]),
    Case(["python3", "-c", "import sys; sys.exit(3)"]),
    Case(["python3", "-c", "1/0"], check_stderr=True),
    Case(["python3", "-c", "import sys; print(sys.stdin.read()[::-1])"], stdin="abc\n"),
    Case(["python3", "-m", "json.tool"], stdin='{"k": [1, {"z": null}]}'),
    Case(["python3", "s.py", "x"], files={"s.py": "import sys\nprint('script', sys.argv)\n"}),
    Case(["python3", "-c", "print(open('d.txt').read().split())"], files={"d.txt": "a b\nc\n"}),
    Case(
        ["python3", "-c", "import os; print(sorted(os.listdir('.')))"], files={"a": "", "b/c": ""}
    ),
    Case(
        [
            "python3",
            "-c",
            "import json; print(json.dumps({'b': 1, 'a': [1.5, None, True]}, sort_keys=True))",
        ]
    ),
    Case(["python3", "-"], stdin="print('stdin program')\n"),
]

JS_CASES = [
    Case(["node", "-e", "console.log(1 + 2, 'x', [1, 2, 3], {a: 1})"]),
    Case(["node", "-e", "console.log(JSON.stringify({a: [1, 2], b: 'c'}))"]),
    Case(["node", "-e", "process.exit(5)"]),
    Case(["node", "-e", "console.log(process.argv.slice(1))", "a", "b"]),
    Case(
        ["node", "s.js", "q"],
        files={"s.js": "console.log(process.argv.slice(2), typeof require)\n"},
    ),
    Case(
        ["node", "-e", "console.log(require('fs').readFileSync('d.txt', 'utf8').length)"],
        files={"d.txt": "hello\n"},
    ),
    Case(["node", "-e", "setTimeout(() => console.log('b'), 0); console.log('a')"]),
]


@pytest.mark.skipif(not have("python3"), reason="no python3 on the host")
@pytest.mark.parametrize("case", PY_CASES, ids=lambda c: c.name())
def test_python_compat(case: Case) -> None:
    need_python()
    assert_same(case)


@pytest.mark.skipif(not have("node"), reason="no node on the host")
@pytest.mark.parametrize("case", JS_CASES, ids=lambda c: c.name())
def test_node_compat(case: Case) -> None:
    need_js()
    assert_same(case)
