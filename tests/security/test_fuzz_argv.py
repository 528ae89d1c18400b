"""Random argv for every registered command: whatever the arguments, a command ends within
its timeout with an integer status and never leaks a Python exception ("internal error",
"Traceback")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketos import VM
from pocketos.assembly import load_all
from tests.security._util import CRASH_WORDS

#: runtimes whose start-up cost dwarfs the rest; they are covered by their own suites
SLOW = {"python", "python3", "pip", "pip3", "node", "js", "sleep"}
COMMANDS = sorted(set(load_all()) - SLOW)

TOKENS = [
    "-",
    "--",
    "-a",
    "-b",
    "-c",
    "-d",
    "-e",
    "-f",
    "-i",
    "-l",
    "-n",
    "-o",
    "-r",
    "-s",
    "-t",
    "-v",
    "-w",
    "-x",
    "-z",
    "-0",
    "-1",
    "-9",
    "--help",
    "--version",
    "--all",
    "--zz",
    "-n1",
    "-c0",
    "--=",
    "-=x",
    "0",
    "1",
    "-1",
    "99999999999999999999",
    "1e9",
    "0x1f",
    "1.5",
    "",
    " ",
    ".",
    "..",
    "/",
    "/dev/null",
    "/dev/zero",
    "/etc/passwd",
    "/proc/self",
    "a.txt",
    "d",
    "d/",
    "nope",
    "*",
    "?",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "\\",
    "\\(",
    "%",
    "%s",
    "%d",
    "%*d",
    "$",
    "^",
    "$a",
    ".*",
    "(a*)*",
    "s/a/b/",
    "p",
    "=",
    ":",
    ",",
    ";",
    "|",
    "@",
    "@-",
    "1,2",
    "1-3",
    "+1",
    "-1..2",
    "x=1",
    "a\nb",
    "\t",
    "\0",
    "\udcff",
    "é",
    "{print}",
    ".a",
    ".[",
    "select 1",
    "-exec",
    "-name",
    "-type",
    "f",
    "-delete",
]

ARG = st.one_of(
    st.sampled_from(TOKENS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=6),
)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM(limits={"max_output_bytes": 1 << 20, "max_file_size": 1 << 20}) as v:
        v.write_file("/work/a.txt", b"one\ntwo\nthree\n", parents=True)
        v.write_file("/work/d/b.txt", b"\x00\xff\xfebinary\n", parents=True)
        v.write_file("/work/j.json", b'{"a": [1, 2]}\n')
        yield v


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(COMMANDS), args=st.lists(ARG, max_size=5), stdin=st.binary(max_size=64))
def test_random_argv_never_crashes(vm: VM, name: str, args: list[str], stdin: bytes) -> None:
    # leave the working files as they were for the next example
    vm.exec(
        "rm -rf /work/* /tmp/*; printf 'one\\ntwo\\nthree\\n' > /work/a.txt; mkdir -p "
        "/work/d; printf '\\0\\377\\376binary\\n' > /work/d/b.txt",
        cwd="/",
    )
    r = vm.run([name, *args], stdin=stdin, cwd="/work", timeout=2)
    assert isinstance(r.exit_code, int)
    err = r.stderr_bytes.decode("utf-8", "replace")
    for word in CRASH_WORDS:
        assert word not in err, f"{name} {args!r}: {err[-500:]}"
