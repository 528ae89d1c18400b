"""jq's Python path for a subset of programs (``_jq_fast``) against libjq, its oracle: random
JSON texts with awkward numbers and strings, random programs of the subset, the output options
it takes. Either path must print the same bytes, errors and status; the run is counted so
that a test that never took the Python path fails."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.commands import _jq_fast

KEYS = ["a", "b", "name", "n", "é", "tags"]

#: number texts as they may appear in an input: plain, and the forms jq keeps as written
_NUMBER_TEXTS = st.sampled_from(
    ["0", "-0", "1", "-1", "1.0", "1.50", "1e2", "1E+2", "-0.0", "0.1", "1.5", "2.5e-3"]
    + ["0.0001", "0.00001", "123456789012345678", "9007199254740993", "100000000000000000001"]
    + ["9007199254740991", "-9007199254740991", "3.14159", "1e400", "0.30000000000000004"]
)
_CHARS = st.characters(exclude_categories=["Cs"]) | st.sampled_from(
    ["\x7f", "\x00", "\x1f", "\u2028", "\U0001f600", '"', "\\", "\n", "/", "\x08"]
)
_STRINGS = st.text(_CHARS, max_size=8) | st.sampled_from(KEYS + ["foo", ""])


def _string_text(s: str, style: int) -> str:
    if style == 0:
        return json.dumps(s, ensure_ascii=False)
    return json.dumps(s)  # \uXXXX escapes, surrogate pairs for non-BMP characters


@st.composite
def _documents(draw: st.DrawFn, depth: int = 0) -> str:
    """A JSON text (not a value: number texts are kept as drawn, keys may repeat)."""
    kinds = ["null", "bool", "int", "num", "str"] + (["arr", "obj"] * 2 if depth < 4 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "null":
        return "null"
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "int":
        return str(draw(st.integers(-(10**6), 10**6)))
    if kind == "num":
        return draw(_NUMBER_TEXTS | st.floats(allow_nan=False, allow_infinity=False).map(repr))
    if kind == "str":
        return _string_text(draw(_STRINGS), draw(st.integers(0, 1)))
    if kind == "arr":
        items = draw(st.lists(_documents(depth + 1), max_size=5))
        return "[" + ",".join(items) + "]"
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(KEYS) | _STRINGS, _documents(depth + 1)), max_size=5)
    )
    sep = draw(st.sampled_from([",", ", ", " ,\n "]))
    return "{" + sep.join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


_LITERALS = st.sampled_from(
    ['"foo"', '"a"', '""', "0", "1", "-1", "2", "true", "false", "null", "[]"]
)


@st.composite
def _paths(draw: st.DrawFn) -> str:
    steps = draw(
        st.lists(
            st.sampled_from([f".{k}" for k in KEYS if k.isascii()] + ['."é"', ".[]", ".[0]"])
            | st.sampled_from([".[-1]", '.["a"]', ".[1]", "[]", "[0]", '["n"]']),
            min_size=1,
            max_size=3,
        )
    )
    text = "".join(steps)
    return text if text.startswith(".") else "." + text


@st.composite
def _programs(draw: st.DrawFn, depth: int = 0) -> str:
    leaves = [_paths(), st.just("."), _LITERALS, st.sampled_from(["add", "length", "keys"])]
    if depth >= 3:
        return draw(st.one_of(*leaves))
    sub = _programs(depth + 1)
    cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    options = [
        *leaves,
        st.tuples(sub, sub).map(lambda t: f"{t[0]} | {t[1]}"),
        st.tuples(sub, sub).map(lambda t: f"({t[0]}), ({t[1]})"),
        st.tuples(_paths(), cmp, _LITERALS).map(lambda t: f"select({t[0]} {t[1]} {t[2]})"),
        st.tuples(_paths(), cmp, _paths()).map(lambda t: f"select({t[0]} {t[1]} {t[2]})"),
        st.tuples(_paths(), st.sampled_from(["and", "or"]), _paths()).map(
            lambda t: f"select(({t[0]} == 1) {t[1]} ({t[2]} | not))"
        ),
        sub.map(lambda p: f"[{p}]"),
        sub.map(lambda p: f"map({p})"),
        sub.map(lambda p: f"[{p}] | add"),
        st.tuples(_paths(), _paths()).map(lambda t: f'{{a: {t[0]}, "b": {t[1]}, name}}'),
        sub.map(lambda p: f"({p}) | length"),
        # string interpolation and computed keys (libjq answers a float, an array or an
        # object inside a string, and a key that is not a string)
        st.tuples(_paths(), _paths()).map(lambda t: f'"\\({t[0]}) x\\t\\({t[1]})\\\\(y"'),
        st.tuples(sub, _paths()).map(lambda t: f'"<\\(({t[0]}))>"'),
        st.tuples(_paths(), sub).map(lambda t: f'{{({t[0]}): ({t[1]}), "k": 1, ("k"): 2}}'),
        st.tuples(_paths(), _paths()).map(lambda t: f"{{({t[0]} | tostring?): 1, ({t[1]}): 2}}"),
    ]
    return draw(st.one_of(*options))


FLAGS = st.sampled_from(["", "-c", "-r", "-c -r", "-j", "-e", "-c -e", "-r -e", "--indent 2"])


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each run of the Python path answered (True) or handed the input to libjq."""
    seen: list[bool] = []
    real = _jq_fast.FastJq.run

    def run(self: _jq_fast.FastJq, *args: Any) -> Any:
        out = real(self, *args)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(_jq_fast.FastJq, "run", run)
    return seen


def _both(
    vm: VM, program: str, doc: str | bytes, flags: str = "", **limits: int
) -> tuple[Any, Any]:
    vm.write_file("/tmp/in.json", doc.encode() if isinstance(doc, str) else doc)
    cmd = f"jq {flags} {shlex.quote(program)} /tmp/in.json"
    try:
        _jq_fast.ENABLED = True
        fast = vm.exec(cmd, limits=limits or None)
        _jq_fast.ENABLED = False
        slow = vm.exec(cmd, limits=limits or None)
    finally:
        _jq_fast.ENABLED = True
    return (fast.exit_code, fast.stdout_bytes, fast.stderr), (
        slow.exit_code,
        slow.stdout_bytes,
        slow.stderr,
    )


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=_documents(), program=_programs(), flags=FLAGS)
def test_the_python_path_prints_what_libjq_prints(
    vm: VM, counted: list[bool], doc: str, program: str, flags: str
) -> None:
    fast, slow = _both(vm, program, doc, flags)
    assert fast == slow, (program, doc, flags)


def test_the_property_test_takes_the_python_path(vm: VM, counted: list[bool]) -> None:
    """The programs above are the path's: most runs must be answered by it (the ones that
    hand over meet an error, a doubtful number or a comparison of containers)."""
    docs = [
        '[{"name": "foo", "n": 1, "tags": ["a"]}, {"name": "bar", "n": 2.5, "tags": []}]',
        '{"a": {"b": [1, 2, 3]}, "name": "x\\u007f\\ud83d\\ude00", "n": null}',
    ]
    programs = [
        '[.[] | select(.name == "foo") | .n] | add',
        ".",
        ".[] | .tags",
        "map(.n)",
        "keys",
        "[.[] | {name, n}]",
        ".a.b[-1], .a.b[0]",
        "length",
        '.[] | select(.n > 1 and .name != "foo")',
    ]
    for doc in docs:
        for program in programs:
            for flags in ("", "-c", "-r"):
                fast, slow = _both(vm, program, doc, flags)
                assert fast == slow, (program, doc, flags)
    assert counted.count(True) >= len(counted) * 2 // 3, counted


USERS = """[
  {"id": 1, "name": "ada", "role": "admin", "active": true, "logins": 42},
  {"id": 2, "name": "bob", "role": "dev", "active": false, "logins": 7}
]"""


@pytest.mark.parametrize(
    ("program", "flags"),
    [
        ('.[] | select(.active) | "\\(.name) \\(.role) \\(.logins)"', "-r"),
        ('.[] | "\\(.id): \\(.active) \\(null) \\\\ \\t\\u00e9"', ""),
        ("map({(.name): .logins}) | add", "-c"),
        ('{(.[0].role): .[0].id, "x": 1, (.[1].name): .[1].logins}', ""),
    ],
)
def test_interpolation_and_computed_keys_take_the_python_path(
    counted: list[bool], program: str, flags: str
) -> None:
    # a VM of its own: whether the path answers must not depend on what ran before
    with VM() as vm:
        fast, slow = _both(vm, program, USERS, flags)
    assert fast == slow
    assert counted[:1] == [True]  # the Python path answered


AWKWARD = [
    "1.000",
    "-0",
    "[-0, -0.0, 0.0]",
    "1E+2",
    "100000000000000000001",
    "[9007199254740993, 9007199254740993]",
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d\\ude00"',
    "NaN",
    "[1, NaN, Infinity, -Infinity]",
    "nan",
    '{"a": 1, "a": 2, "b": 3}',
    "1 2",
    "[1,]",
    "",
    '"\x7f\x01"',
    '["a\tb"]',
    '{"a": [1, 2], "a": {"x": 1}}',
    "[0.1, 0.2, 0.30000000000000004, 1e-7, 123456.789]",
]
AWKWARD_PROGRAMS = [".", "add", ".[] | length", "length", "[.[]] | add", ".[0] == .[1]", "keys"]


@pytest.mark.parametrize("doc", AWKWARD)
def test_awkward_inputs_print_as_libjq_prints_them(vm: VM, doc: str) -> None:
    for program in AWKWARD_PROGRAMS:
        for flags in ("", "-c", "-e"):
            fast, slow = _both(vm, program, doc, flags)
            assert fast == slow, (program, doc, flags)


def test_invalid_utf8_in_the_input_prints_as_libjq_prints_it(vm: VM) -> None:
    for doc in (b'["a\xff", "b"]', b'{"\xc3": 1}', b'"\xed\xa0\x80"'):
        for program in (".", "length", ".[]"):
            fast, slow = _both(vm, program, doc, "-c")
            assert fast == slow, (program, doc)


def _deep(n: int) -> str:
    return "[" * n + "1" + "]" * n


@pytest.mark.parametrize(
    "doc",
    [
        _deep(200),  # within orjson's depth
        _deep(300),  # past it: libjq prints it
        _deep(2000),  # past Python's recursion limit
        json.dumps([{"k": i, "s": "é" * (i % 3)} for i in range(20000)]),  # laid out in slices
        json.dumps({f"k{i}": [i, {"x": None}] for i in range(9000)}, ensure_ascii=False),
        json.dumps({"😀": ["\u2028", "日本語", {"": []}, {}]}),
    ],
)
def test_output_of_deep_wide_and_unicode_inputs(vm: VM, doc: str) -> None:
    for program in (".", "[.]", "{a: .}", ".[]"):
        for flags in ("", "-c"):
            fast, slow = _both(vm, program, doc, flags)
            assert fast == slow, (program, flags)


def test_several_files_and_exit_statuses(vm: VM) -> None:
    vm.write_file("/tmp/a.json", b'{"n": false}')
    vm.write_file("/tmp/b.json", b'{"n": 1.0}')
    vm.write_file("/tmp/c.json", b"[1, 2")
    for cmd in (
        "jq -e .n /tmp/a.json /tmp/b.json",
        "jq -e .n /tmp/b.json /tmp/a.json",
        "jq -c .n /tmp/a.json /tmp/c.json /tmp/b.json",
        "jq -e '.[]' /tmp/a.json",
        "jq .n /tmp/missing.json /tmp/b.json",
    ):
        outs = []
        for enabled in (True, False):
            _jq_fast.ENABLED = enabled
            try:
                r = vm.exec(cmd)
            finally:
                _jq_fast.ENABLED = True
            outs.append((r.exit_code, r.stdout_bytes, r.stderr))
        assert outs[0] == outs[1], cmd


def test_deep_equality_and_a_tight_memory_limit(vm: VM) -> None:
    """Deep ``==`` hands over to libjq; under a memory limit the Python path either answers
    within the budget it charges (the parsed input, each array and object it makes, its
    output) or hands over, where libjq's helper may stop at the limit."""
    deep = _deep(900)
    fast, slow = _both(vm, ".[0] == .[1]", f"[{deep}, {deep}]", "-c")
    assert fast == slow
    doc = json.dumps([{"a": i, "b": [i]} for i in range(30000)])
    program = "[.[] | {a, c: [.b, .b]}] | length"
    answer = _both(vm, program, doc)[1]
    assert answer == (0, b"30000\n", "")
    for mib in (8, 16, 40, 64):
        fast, slow = _both(vm, program, doc, max_memory=mib << 20)
        assert fast in (slow, answer), mib
        if fast != slow:
            assert slow[0] == 125 and "max_memory" in slow[2], mib
