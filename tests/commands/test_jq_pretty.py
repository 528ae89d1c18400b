"""jq's pretty output (``--indent n``, ``--tab``, ``-S``) is laid out by libjq's own printer in
the helper; the host's jq binary is the oracle for the layout.

The values are the ones on which the bundled libjq and the host's jq agree whatever the layout:
libjq keeps number literals as written (``1.0``, ``1E+2``) and escapes DEL, where jq 1.6 prints
``1``, ``100`` and DEL as is, so integral floats, exponent forms and DEL are left out."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.commands import _jq_helper

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the host has no jq binary")

OPTIONS = ["", "--indent 0", "--indent 1", "--indent 2", "--indent 3", "--indent 4"]
OPTIONS += ["--indent 5", "--indent 6", "--indent 7", "--tab", "-S", "-S --indent 3", "-a"]
#: ``.`` passes the in-process screen (small inputs run here); a ``def`` runs in a helper
PROGRAMS = [".", "def f: .; f", ".[]?"]


def _float_ok(x: float) -> bool:
    r = repr(x)
    return "e" not in r and "inf" not in r and "nan" not in r and not x.is_integer()


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x7f"))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False).filter(_float_ok)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


def _real_jq(args: str, program: str, path: str) -> tuple[int, bytes]:
    p = subprocess.run(
        ["jq", *args.split(), program, path], capture_output=True, check=False, timeout=60
    )
    return p.returncode, p.stdout


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.lists(_VALUES, min_size=1, max_size=3),
    args=st.sampled_from(OPTIONS),
    program=st.sampled_from(PROGRAMS),
    stdin=st.booleans(),
)
def test_pretty_output_is_jqs(
    vm: VM,
    tmp_path_factory: pytest.TempPathFactory,
    values: list[Any],
    args: str,
    program: str,
    stdin: bool,
) -> None:
    data = "\n".join(json.dumps(v, ensure_ascii=False) for v in values).encode()
    host = tmp_path_factory.mktemp("jq") / "in.json"
    host.write_bytes(data)
    vm.write_file("/tmp/in.json", data)
    where = "< /tmp/in.json" if stdin else "/tmp/in.json"
    r = vm.exec(f"jq {args} '{program}' {where}")
    assert (r.exit_code, r.stdout_bytes) == _real_jq(args, program, str(host)), r.stderr


@pytest.mark.parametrize("program", PROGRAMS[:2])
def test_a_computed_number_keeps_jqs_form(vm: VM, program: str, tmp_path: Any) -> None:
    # a double libjq computed is printed as such (1e-07), never as a parsed literal (1E-7)
    (tmp_path / "n.json").write_text('{"a": [1, 2]}')
    vm.write_file("/tmp/n.json", b'{"a": [1, 2]}')
    prog = f"{program} | [pow(10; -7), 1.5e300 * 1, 0.1 + 0.2, {{b: (.a[0] / 3)}}]"
    r = vm.exec(f"jq '{prog}' /tmp/n.json")
    assert (r.exit_code, r.stdout_bytes) == _real_jq("", prog, str(tmp_path / "n.json"))
    assert b"1e-07" in r.stdout_bytes


def test_without_libjqs_printer_the_host_lays_out(vm: VM, monkeypatch: pytest.MonkeyPatch) -> None:
    # a jq package that does not export the printer: results come compact, laid out here
    monkeypatch.setattr(_jq_helper, "_printer", None)
    vm.write_file("/tmp/p.json", b'{"a": [1, {"b": []}], "c": {}}')
    r = vm.exec("jq --indent 3 . /tmp/p.json")  # small and screened: runs in this process
    assert (
        r.stdout
        == '{\n   "a": [\n      1,\n      {\n         "b": []\n      }\n   ],\n   "c": {}\n}\n'
    )


def test_libjqs_printer_lays_out_like_jq() -> None:
    show = _jq_helper.printer()
    assert show is not None
    text = '{"a":[1,{"b":[]}],"c":{},"d":"\\u0001é"}'
    assert show(text, _jq_helper.print_flags("\t")) == (
        '{\n\t"a": [\n\t\t1,\n\t\t{\n\t\t\t"b": []\n\t\t}\n\t],\n\t"c": {},\n\t"d": "\\u0001é"\n}'
    )
    assert show(text, _jq_helper.print_flags(" ")).startswith('{\n "a": [\n  1,')
