"""``wc -l``/``-w``/``-c`` alone count stdin, which may be a short file taken whole in one read,
a longer one read in chunks, a here-string, a here-document, a pipe or a directory: each
against bash running GNU wc on the same script."""

from __future__ import annotations

import itertools

import pytest

from pocketos import VM
from tests.compat import Case, have, run_host

pytestmark = pytest.mark.skipif(
    not (have("wc") and have("bash")), reason="GNU wc and bash not installed on the host"
)

FILES: dict[str, bytes | str] = {
    "empty": "",
    "plain": "one two\nthree\n",
    "no_nl": "a b  c",
    "spaces": " \t\v\f\r\n x\ry \n\n",
    "binary": bytes(range(256)) * 3,
    # exactly one chunk, one byte past it, and many chunks with a word across each boundary
    "chunk": ("x" * 63 + "\n") * 1024,
    "chunk1": ("x" * 63 + "\n") * 1024 + "y",
    "long": ("word " * 13107 + "w\n") * 7,
    "d/inside": "q\n",
}

SOURCES = [
    "< empty",
    "< plain",
    "< no_nl",
    "< spaces",
    "< binary",
    "< chunk",
    "< chunk1",
    "< long",
    "< d",
    "<<< 'a b c'",
    '<<< ""',
    "<<'EOF'\none two\n  three\nEOF",
    "< plain; cat plain | wc {opt}",
]


#: GNU wc -w in the C locale does not count bytes that are neither space nor printable as
#: word characters; ours does (a difference of its own, not of where stdin comes from)
CASES = [
    (opt, source)
    for opt, source in itertools.product(["-l", "-w", "-c"], SOURCES)
    if (opt, source) != ("-w", "< binary")
]


@pytest.mark.parametrize(("opt", "source"), CASES, ids=str)
def test_one_column_of_stdin_as_gnu(opt: str, source: str) -> None:
    script = f"wc {opt} {source.format(opt=opt)}\necho status $?\n"
    host = run_host(Case(["bash", "-c", script], files=FILES))
    with VM() as vm:
        vm.mkdir("/work", parents=True, exist_ok=True)
        for rel, data in FILES.items():
            raw = data if isinstance(data, bytes) else data.encode()
            vm.write_file("/work/" + rel, raw, parents=True)
        # the file read before is taken whole from what the first read cached
        for _ in range(2):
            r = vm.exec(script, cwd="/work")
            assert r.stdout.encode() == host.stdout
            assert bool(r.stderr) == bool(host.stderr)
