"""Shared fixtures for the text-command comparison suites: input files and a runner that
reuses one VM (cleaning /work between cases) to keep the suites quick."""

from __future__ import annotations

from typing import Any

from tests.compat import Case, run_host, run_vm

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua.  Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
    "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\n"
)

FILES: dict[str, str | bytes] = {
    "a.txt": "banana\napple\ncherry\napple\n\ndate\nBanana\n  apple\n",
    "n.txt": "10\n2\n-3\n2.5\n1e2\n0x10\n abc\n\n007\n-0\n+4\n",
    "t.tsv": "id\tname\tscore\n3\tcarol\t88\n1\talice\t95\n2\tbob\t70\n10\tdan\t70\n",
    "c.csv": "x,1,foo\ny,2,bar\nz,,baz\nnodelim\nw,3,qux,extra\n",
    "k.txt": "b 2 x\na 10 y\nB 1 z\n a 3 w\nc -1 v\nA 2.5 u\nb 2 t\n",
    "w.txt": LOREM + "\n" + LOREM,
    "bin": b"\x00\x01abc\xff\xfe\ndef\x00ghi\r\nend\x80 \t tail",
    "crlf": "a\r\nb b\r\n\r\nc",
    "nonl": "one\ntwo",
    "empty": "",
    "u8": "h\u00e9llo w\u00f6rld\nna\u00efve caf\u00e9\n",
    "h.txt": "1K\n2M\n512\n1G\n3k\n-1K\n0\n1.5K\n",
    "v.txt": "a1.2\na1.10\na1.2b\nfile.txt\nfile2.txt\n.hidden\n1.0~rc1\n1.0\n1.0a\n",
    "m.txt": "Feb\njan\n DEC\nfoo\nMar\nAPRIL\n",
    "g.txt": "1e3\nnan\n-inf\nabc\n0x10\n5\n-2.5\ninf\n",
    "u.txt": "a\na\nA\nb\nb b\nc b\nc\nc\n\n\nd\n",
    "s1": "apple\nbanana\ncherry\ndate\n",
    "s2": "banana\ncarrot\ndate\negg\n",
    "j1": "1 apple red\n2 banana yellow\n3 cherry red\n3 cat black\n5 egg white\n",
    "j2": "1 fruit\n3 dark\n4 none\n5 food extra\n",
    "tabs": "a\tb\tc\n\tindented\nx        y\n        eight\n  two\tthen\n",
    "seq": "".join(f"{i}\n" for i in range(1, 31)),
    "words": "apple\nbanana\ncherry\nkiwi\nlonger-item-name\nx\n\ny\n",
}


def C(
    *argv: str, stdin: str | bytes = "", id: str = "", files: dict[str, str | bytes] | None = None
) -> Case:
    if files is None:
        # only the files the command names: keeps each case cheap to set up
        files = {k: v for k, v in FILES.items() if k in argv}
    return Case(list(argv), dict(files), stdin, id=id)


def check(case: Case, vm: Any) -> None:
    """Like :func:`tests.compat.assert_same`, on a shared VM."""
    try:
        vm.delete("/work", recursive=True)
    except OSError:
        pass
    host = run_host(case)
    got = run_vm(case, vm)
    assert got.stdout == host.stdout, (
        f"stdout differs for {case.argv!r}\nhost: {host.stdout!r}\nvm:   {got.stdout!r}\n"
        f"vm stderr: {got.stderr!r}"
    )
    assert got.exit_code == host.exit_code, (
        f"exit status differs for {case.argv!r}: host {host.exit_code}, vm {got.exit_code}\n"
        f"host stderr: {host.stderr!r}\nvm stderr: {got.stderr!r}"
    )
    if case.check_stderr:
        assert bool(got.stderr) == bool(host.stderr), (
            f"stderr presence differs for {case.argv!r}\nhost: {host.stderr!r}\nvm: {got.stderr!r}"
        )
