"""jq's pretty output (``--indent n``, ``--tab``, ``-S``, ``-a``): the layout of libjq's compact
results, checked against the host's jq binary.

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
from pocketos.commands._data import format_json

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
    # a double libjq computed keeps its printed form (1e-07)
    (tmp_path / "n.json").write_text('{"a": [1, 2]}')
    vm.write_file("/tmp/n.json", b'{"a": [1, 2]}')
    prog = f"{program} | [pow(10; -7), 1.5e300 * 1, 0.1 + 0.2, {{b: (.a[0] / 3)}}]"
    r = vm.exec(f"jq '{prog}' /tmp/n.json")
    assert (r.exit_code, r.stdout_bytes) == _real_jq("", prog, str(tmp_path / "n.json"))
    assert b"1e-07" in r.stdout_bytes


@pytest.mark.parametrize(
    ("compact", "indent", "laid_out"),
    [
        ("[]", "  ", "[]"),
        ('{"a":{},"b":[[]]}', "  ", '{\n  "a": {},\n  "b": [\n    []\n  ]\n}'),
        ('["[]{},:\\"",{"k,":":"}]', "\t", '[\n\t"[]{},:\\"",\n\t{\n\t\t"k,": ":"\n\t}\n]'),
        ("[1,-0,1.5e+300,null]", " ", "[\n 1,\n -0,\n 1.5e+300,\n null\n]"),
    ],
)
def test_format_json_lays_out_like_jq(compact: str, indent: str, laid_out: str) -> None:
    assert format_json(compact, indent) == laid_out
