"""Differential tests: file commands in the VM against the host's GNU coreutils and file(1).

One VM is shared by the module (creating a VM per case would dominate the run time); ``/work``
is emptied before each case.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from pocketos import VM
from tests.compat import Case, Outcome, have, run_host, run_vm

FILES: dict[str, bytes | str] = {
    "a.txt": "hello\nworld\n",
    "b.log": "x\n",
    "empty": "",
    ".hidden": "h\n",
    "sub/c.txt": "c\n",
    "sub/deep/d.md": "# d\n",
}

_VM: VM | None = None
_POOL = ThreadPoolExecutor(max_workers=4)
_HOST: dict[int, Future[Outcome]] = {}


def prefetch(cases: list[Case]) -> None:
    """Start the host runs in threads (they mostly wait on fork/exec), so the host side of the
    suite overlaps with the VM side."""
    for c in cases:
        if id(c) not in _HOST:
            _HOST[id(c)] = _POOL.submit(run_host, c)


def shared_vm() -> VM:
    global _VM
    if _VM is None:
        _VM = VM()
    return _VM


def check(
    case: Case,
    *,
    sort: bool = False,
    sep: bytes = b"\n",
    stderr_lines: bool = False,
    nbsp: bool = False,
) -> None:
    """Like :func:`tests.compat.assert_same` on a shared VM; ``sort`` compares the lines
    (records split on ``sep``) as sorted lists, for commands whose order is the host's
    directory order; ``stderr_lines`` compares every line of stderr (as sorted lists: GNU's
    cp walks a directory in inode order); ``nbsp``: the host's no-break spaces read as
    spaces."""
    fut = _HOST.pop(id(case), None)
    host = fut.result() if fut is not None else run_host(case)
    vm = shared_vm()
    vm.run(["rm", "-rf", "/work"], cwd="/")
    got = run_vm(case, vm)
    hs, vs = host.stdout, got.stdout
    if nbsp:
        hs = hs.replace("\xa0".encode(), b" ")
    if stderr_lines:
        assert sorted(got.stderr.splitlines()) == sorted(host.stderr.splitlines()), (
            f"stderr differs for {case.argv!r}\nhost: {host.stderr!r}\nvm: {got.stderr!r}"
        )
    if sort:
        hs = sep.join(sorted(hs.split(sep)))
        vs = sep.join(sorted(vs.split(sep)))
    assert vs == hs, (
        f"stdout differs for {case.argv!r}\nhost: {host.stdout!r}\n"
        f"vm:   {got.stdout!r}\nvm stderr: {got.stderr!r}"
    )
    assert got.exit_code == host.exit_code, (
        f"exit status differs for {case.argv!r}: host {host.exit_code}, vm {got.exit_code}\n"
        f"host stderr: {host.stderr!r}\nvm stderr: {got.stderr!r}"
    )
    if case.check_stderr:
        assert bool(got.stderr) == bool(host.stderr), (
            f"stderr presence differs for {case.argv!r}\nhost: {host.stderr!r}\nvm: {got.stderr!r}"
        )


def C(*argv: str, stdin: bytes | str = b"", files: dict[str, bytes | str] | None = None) -> Case:
    return Case(list(argv), dict(FILES if files is None else files), stdin)


LS = [
    C("ls"),
    C("ls", "-a"),
    C("ls", "-A"),
    C("ls", "-1"),
    C("ls", "-r"),
    C("ls", "-R"),
    C("ls", "sub"),
    C("ls", "-d", "sub"),
    C("ls", "-F"),
    C("ls", "-p"),
    C("ls", "-aF"),
    C("ls", "a.txt", "sub"),
    C("ls", "nope"),
    C("ls", "nope", "a.txt"),
    C("ls", "-S", "a.txt", "b.log", "empty"),
    C("ls", "-1", "sub/deep"),
    C("ls", "-z"),
    C("ls", "--bogus"),
    C("ls", "-R", "sub"),
    C("ls", "-dR", "."),
    C("ls", "sub/", "a.txt"),
    C("ls", "--color=never"),
    C("ls", "-A", "sub"),
    C("ls", "-rA"),
    C("ls", "-d", "sub", "a.txt"),
    C("ls", "-Ra"),
    C("ls", "-1p", "sub"),
    C("ls", "--all", "--reverse"),
    C("ls", "--color=bogus"),
    C("ls", "-d"),
    C("ls", "b.log", "a.txt", "empty"),
    C("ls", "-S", "sub", "a.txt"),
]

CP = [
    C("cp", "-v", "a.txt", "n.txt"),
    C("cp", "a.txt"),
    C("cp"),
    C("cp", "nope", "x"),
    C("cp", "sub", "x"),
    C("cp", "-rv", "sub/deep", "x"),
    C("cp", "-v", "a.txt", "b.log", "sub"),
    C("cp", "a.txt", "b.log", "c"),
    C("cp", "a.txt", "a.txt"),
    C("cp", "-nv", "a.txt", "b.log"),
    C("cp", "-r", "sub", "sub/deep"),
    C("cp", "-Trv", "sub/deep", "x"),
    C("cp", "-t", "sub", "-v", "a.txt"),
    C("cp", "--bogus"),
    C("cp", "-v", "a.txt", "sub/"),
    C("cp", "-v", "a.txt", "nodir/"),
    C("cp", "-fv", "a.txt", "b.log"),
    C("cp", "-pv", "a.txt", "p.txt"),
    C("cp", "-av", "sub/deep", "y"),
]

MV = [
    C("mv", "-v", "a.txt", "z.txt"),
    C("mv", "nope", "x"),
    C("mv", "a.txt"),
    C("mv"),
    C("mv", "-v", "a.txt", "b.log", "sub"),
    C("mv", "sub", "sub/deep"),
    C("mv", "-n", "-v", "a.txt", "b.log"),
    C("mv", "a.txt", "a.txt"),
    C("mv", "-v", "sub/deep", "."),
    C("mv", "a.txt", "b.log", "empty"),
    C("mv", "-fv", "a.txt", "b.log"),
    C("mv", "-Tv", "sub/deep", "nd"),
    C("mv", "-t", "sub", "-v", "b.log"),
]

RM = [
    C("rm", "a.txt"),
    C("rm", "nope"),
    C("rm", "-f", "nope"),
    C("rm"),
    C("rm", "-f"),
    C("rm", "sub"),
    C("rm", "-v", "a.txt", "b.log"),
    C("rm", "-rv", "sub/deep"),
    C("rm", "-d", "sub"),
    C("rm", "-r", "."),
    C("rm", "-rf", ".."),
    C("rm", "-iv", "a.txt", stdin="y\n"),
    C("rm", "-iv", "a.txt", stdin="n\n"),
    C("rm", "-iv", "empty", stdin="yes\n"),
    C("rm", "-dv", "sub/deep"),
    C("rm", "-v", "nope", "a.txt"),
    C("rm", "--bogus"),
    C("rm", "-R", "-v", "sub/deep"),
]

MKDIR = [
    C("mkdir", "-v", "n"),
    C("mkdir", "sub"),
    C("mkdir", "-p", "sub"),
    C("mkdir", "-pv", "n/m/o"),
    C("mkdir", "x/y"),
    C("mkdir"),
    C("mkdir", "-m", "700", "-v", "n"),
    C("mkdir", "-m", "bogus", "n"),
    C("mkdir", "-v", "n1", "n2", "sub"),
    C("mkdir", "-pv", "sub/deep/new"),
    C("mkdir", "a.txt"),
    C("mkdir", "-p", "a.txt/x"),
    C("mkdir", "-p", "a.txt"),
    C("mkdir", "-pv", "sub/../n/./m"),
    C("mkdir", "-pv", "./q/"),
    C("rmdir", "sub"),
    C("rmdir", "nope"),
    C("rmdir", "--ignore-fail-on-non-empty", "sub"),
    C("rmdir", "a.txt"),
    C("rmdir"),
    C("rmdir", "-v", "sub/deep"),
]

TOUCH_LN = [
    C("touch", "new"),
    C("touch", "-c", "new"),
    C("touch", "nodir/x"),
    C("touch"),
    C("touch", "-d", "bogus date", "a.txt"),
    C("touch", "-t", "202001020304", "a.txt"),
    C("touch", "-r", "nope", "a.txt"),
    C("touch", "-t", "bad", "a.txt"),
    C("touch", "-d", "2020-01-01", "a.txt", "b.log"),
    C("touch", "-r", "a.txt", "b.log"),
    C("ln", "-sv", "a.txt", "l"),
    C("ln", "-v", "a.txt", "h"),
    C("ln", "-s", "a.txt", "b.log"),
    C("ln", "-sfv", "a.txt", "b.log"),
    C("ln", "sub", "h"),
    C("ln", "nope", "h"),
    C("ln", "-sv", "a.txt", "sub"),
    C("ln"),
    C("ln", "-sv", "x", "y", "a.txt"),
    C("ln", "-s", "dangling", "dl"),
    C("ln", "-sTv", "a.txt", "t"),
    C("ln", "-fv", "a.txt", "b.log"),
]

CHMOD = [
    C("chmod", "-v", "755", "a.txt"),
    C("chmod", "-v", "u+x", "a.txt"),
    C("chmod", "-v", "go-r", "a.txt"),
    C("chmod", "-v", "a=r,u+w", "a.txt"),
    C("chmod", "-c", "644", "a.txt"),
    C("chmod", "-v", "-w", "a.txt"),
    C("chmod", "bogus", "a.txt"),
    C("chmod", "755", "nope"),
    C("chmod", "755"),
    C("chmod"),
    C("chmod", "-Rv", "go-rwx", "sub/deep"),
    C("chmod", "-v", "=", "a.txt"),
    C("chmod", "-v", "+X", "a.txt"),
    C("chmod", "-v", "+X", "sub"),
    C("chmod", "-v", "u=rwx,g=u,o=", "a.txt"),
    C("chmod", "-v", "1777", "sub"),
    C("chmod", "-v", "+t", "sub"),
    C("chmod", "-v", "4755", "a.txt"),
    C("chmod", "-v", "g+s", "sub"),
    C("chmod", "-v", "u-r,+x", "a.txt"),
    C("chmod", "-v", "o=u", "a.txt"),
    C("chmod", "-v", "0", "a.txt"),
    C("chmod", "-v", "a+rwx,a-x", "b.log", "empty"),
    C("chmod", "--reference=a.txt", "b.log"),
    C("chmod", "-cv", "600", "a.txt"),
    C("chmod", "-f", "755", "nope"),
    C("chmod", "-v", "ug+rw,o-rwx", "a.txt"),
    C("chmod", "-v", "=r", "a.txt"),
]

STAT = [
    C("stat", "-c", "%n %s %a %A %F", "a.txt", "sub", "empty"),
    C("stat", "nope"),
    C("stat", "-c", "%U %G %u %g", "a.txt"),
    C("stat", "--printf", "%n\\t%s\\n", "a.txt"),
    C("stat", "-c", "%%%n", "a.txt"),
    C("stat", "-c", "%N", "a.txt"),
    C("stat", "-c", "%-10n|%5s|%05a", "a.txt"),
    C("stat", "-L", "-c", "%F", "a.txt"),
    C("stat"),
    C("stat", "-c", "%h %f %B", "a.txt"),
    C("stat", "-c", "%n", "nope", "a.txt"),
    C("stat", "--format=%s", "b.log"),
    C("stat", "-c", "%#a %5u", "a.txt"),
]

PATHS = [
    C("realpath", "--relative-to=sub", "a.txt"),
    C("realpath", "--relative-to=.", "sub/deep/../c.txt"),
    C("realpath", "-e", "nope"),
    C("realpath", "-m", "--relative-to=.", "x/y/../z"),
    C("readlink", "a.txt"),
    C("readlink", "-f", "nope/x"),
    C("readlink", "-e", "nope"),
    C("readlink"),
    C("realpath"),
    C("realpath", "-q", "nope/x"),
    C("realpath", "--relative-to=sub/deep", "sub/c.txt", "a.txt"),
    C("realpath", "-s", "--relative-to=.", "sub/./deep/"),
    C("basename", "/a/b/c.txt"),
    C("basename", ".."),
    C("basename", "/a/b/c.txt", ".txt"),
    C("basename", "-s", ".txt", "a.txt", "b.txt"),
    C("basename", "-a", "x/", "/"),
    C("basename", "c.txt", "c.txt"),
    C("basename", "//"),
    C("basename", ""),
    C("basename"),
    C("basename", "a", "b", "c"),
    C("basename", "-z", "a/b"),
    C("basename", "a.tar.gz", ".gz"),
    C("dirname", "/a/b/"),
    C("dirname", "a"),
    C("dirname", "/"),
    C("dirname", "//a"),
    C("dirname", "a/b", "c/d/e"),
    C("dirname", ""),
    C("dirname"),
    C("dirname", "///a///b///"),
    C("dirname", "-z", "a/b"),
    C("dirname", "a/"),
]

DU_ETC = [
    C("du", "-b", "a.txt"),
    C("du", "-sb", "a.txt", "b.log"),
    C("du", "nope"),
    C("du", "-cb", "a.txt", "b.log"),
    C("du", "--apparent-size", "-k", "a.txt"),
    C("du", "-b", "-d", "x", "."),
    C("truncate", "-s", "5", "a.txt"),
    C("truncate"),
    C("truncate", "-s", "bogus", "a.txt"),
    C("truncate", "-c", "-s", "5", "new"),
    C("truncate", "-s", "5"),
    C("split", "--verbose", "-l", "1", "a.txt"),
    C("split", "--verbose", "-b", "4", "a.txt", "p"),
    C("split", "--verbose", "-d", "-l", "1", "a.txt"),
    C("split", "--verbose", "-n", "3", "a.txt"),
    C("split", "--verbose", "-a", "3", "-l", "1", "a.txt"),
    C("split", "nope"),
    C("split", "--verbose", "-l", "1", stdin="1\n2\n3\n"),
    C("split", "-n", "2/3", "a.txt"),
    C("split", "--verbose", "-C", "7", "a.txt"),
    C("dd", "if=a.txt", "status=none"),
    C("dd", "if=a.txt", "bs=1", "count=3", "status=none"),
    C("dd", "if=a.txt", "bs=2", "skip=2", "status=none"),
    C("dd", "if=a.txt", "conv=ucase", "status=none"),
    C("dd", "status=none", stdin="piped\n"),
    C("dd", "bogus=1"),
    C("dd", "if=nope"),
    C("dd", "if=a.txt"),
    C("dd", "if=a.txt", "of=out", "status=none"),
    C("dd", "if=a.txt", "conv=bogus"),
    C("dd", "if=a.txt", "ibs=3", "count=2", "status=none"),
    C("install", "-v", "a.txt", "inst"),
    C("install", "-d", "-v", "n/m"),
    C("install", "nope", "x"),
    C("install", "-m", "bogus", "a.txt", "x"),
    C("sync"),
    C("mktemp", "foo"),
    C("mktemp", "-q", "foo"),
]

EXTRA = [
    C("dd", "if=a.txt", "bs=5"),
    C("dd", "if=a.txt", "bs=5", "count=2", "status=none"),
    C("dd", "if=a.txt", "ibs=5", "obs=3", "status=noxfer"),
    C("dd", "bs=4", "status=noxfer", "iflag=fullblock", stdin=b"abcdefghij"),
    C("dd", "if=a.txt", "iflag=count_bytes", "count=7", "status=none"),
    C("dd", "if=a.txt", "of=o", "seek=2", "bs=1", "status=none"),
    C("dd", "if=a.txt", "bs=5", "conv=sync,ucase", "status=none"),
    C("dd", "if=a.txt", "conv=swab", "status=none"),
    C("dd", "if=a.txt", "of=a.txt", "conv=excl"),
    C("dd", "if=a.txt", "of=new", "conv=nocreat"),
    C("dd", "if=a.txt", "skip=100", "status=noxfer"),
    C("ls", "-1a", "sub"),
    C("ls", "-dF", "sub", "a.txt"),
    C("ls", "-Fd", "."),
    C("ls", "-aR", "sub"),
    C("ls", "-pR"),
    C("ls", "--reverse", "-1", "sub/deep", "sub"),
    C("ls", "-i", "--bogus=x"),
    C("ls", "--all", "--almost-all"),
    C("ls", "-AS"),
    C("ls", "sub/deep/d.md", "sub/c.txt"),
    C("ls", "-r", "a.txt", "b.log", "sub", "sub/deep"),
    C("ls", "-h", "a.txt"),
    C("ls", "--classify"),
    C("ls", "-1", "--color=auto"),
    C("ls", "-d", "*"),
    C("cp", "-r", "sub", "x"),
    C("cp", "-R", "sub/", "y/"),
    C("cp", "-v", "a.txt", "b.log", "empty"),
    C("cp", "-rT", "sub", "a.txt"),
    C("cp", "-u", "-v", "a.txt", "b.log"),
    C("cp", "-s", "a.txt", "z"),
    C("mv", "-v", "sub/c.txt", "sub/deep"),
    C("mv", "a.txt", "sub/c.txt/x"),
    C("mv", "-v", "sub", "newname"),
    C("mv", "-u", "a.txt", "b.log"),
    C("rm", "-rf", "sub", "nope"),
    C("rm", "-r", "nope"),
    C("rm", "-dv", "empty"),
    C("rm", "-v", "sub/."),
    C("rm", "-I", "a.txt"),
    C("rm", "-I", "a.txt", "b.log", "empty", ".hidden", stdin=b"y\n"),
    C("rm", "--interactive=never", "a.txt"),
    C("rm", "-i", "-f", "a.txt"),
    C("touch", "-a", "a.txt"),
    C("touch", "-m", "-c", "nope"),
    C("ln", "-s", "a.txt"),
    C("ln", "-n", "-s", "a.txt", "sub"),
    C("ln", "-s", "-T", "a.txt", "sub"),
    C("ln", "--bogus"),
    C("chmod", "u+s,g+s", "a.txt", "-v"),
    C("chmod", "-v", "a-rwx", "a.txt"),
    C("chmod", "-v", "777", "a.txt", "b.log"),
    C("chmod", "-v", "u+rwx,go+rx", "sub"),
    C("chmod", "-v", "+r", "empty"),
    C("chmod", "-v", "g=o", "a.txt"),
    C("chmod", "-v", "0755", "sub"),
    C("chmod", "-v", "00755", "sub"),
    C("chmod", "-v", "2755", "sub"),
    C("chmod", "-v", "755", "sub"),
    C("chmod", "-vR", "u+w", "nope"),
    C("stat", "-c", "%A %a", "-L", "sub"),
    C("stat", "-c", "%s %n", "a.txt", "nope", "b.log"),
    C("stat", "-c", "%y"),
    C("stat", "--printf", "%n\\n%s\\0", "a.txt"),
    C("stat", "-c", "%b %B", "empty"),
    C("stat", "-c", "%%%"),
    C("stat", "-c", "[%10A]", "a.txt"),
    C("stat", "-c", "[%-6h]", "a.txt"),
    C("realpath", "--relative-to=sub/deep", "."),
    C("realpath", "-e", "sub/deep", "--relative-to=."),
    C("realpath", "-e", "a.txt/"),
    C("basename", "-s"),
    C("basename", "--suffix=.c", "a.c", "b.c", "c"),
    C("basename", "a.c", ".c", "x"),
    C("basename", "-a"),
    C("basename", ".c", ".c"),
    C("dirname", "a/b/", "/x"),
    C("du", "-b", "-s", "nope", "a.txt"),
    C("du", "-b", "--max-depth=bogus"),
    C("du", "-bs", "-d", "1", "."),
    C("truncate", "-s", "-5", "a.txt"),
    C("truncate", "-s", "%0", "a.txt"),
    C("truncate", "-r", "a.txt", "b.log"),
    C("truncate", "-r", "nope", "b.log"),
    C("truncate", "-s", "1X", "a.txt"),
    C("split", "-l", "0", "a.txt"),
    C("split", "-b", "0", "a.txt"),
    C("split", "-a", "0", "a.txt"),
    C("split", "a.txt", "b", "c"),
    C("split", "--verbose", "-n", "r/2", "a.txt"),
    C("split", "--verbose", "-n", "l/2", "a.txt"),
    C("split", "-n", "l/1/2", "a.txt"),
    C("split", "--verbose", "--additional-suffix=.txt", "-l1", "a.txt", "pre_"),
    C("split", "--verbose", "-x", "-l1", "a.txt"),
    C("split", "--verbose", "--numeric-suffixes=5", "-l1", "a.txt"),
    C("dd", "if=a.txt", "count=0"),
    C("dd", "if=a.txt", "bs=3", "count=1", "status=noxfer"),
    C("dd", "if=a.txt", "conv=lcase,ucase"),
    C("dd", "if=a.txt", "bs=x"),
    C("dd", "if=a.txt", "iflag=skip_bytes", "skip=3", "status=none"),
    C("dd", "if=a.txt", "bs=5", "conv=sync", "status=none"),
    C("dd", "-x"),
    C("install", "-m", "600", "-v", "a.txt", "b.log", "sub"),
    C("install", "-d"),
    C("install", "a.txt"),
    C("install", "sub", "x"),
    C("install", "-t", "sub", "-v", "a.txt"),
    C("mktemp", "-d", "-p", "nope", "xXXX"),
    C("mktemp", "a", "b"),
    C("mktemp", "--suffix=/x", "aXXX"),
    C("mktemp", "-p", "/tmp", "/abs/XXXX"),
    C("sync", "nope"),
    C("sync", "a.txt"),
    C("ls", "-A", "-a"),
    C("cp", "-sv", "a.txt", "b.log"),
    C("cp", "-s", "a.txt", "sub"),
    C("cp", "-sfv", "a.txt", "b.log"),
    C("cp", "-lv", "a.txt", "sub"),
    C("chmod", "-v", "u+w", "nope"),
]

_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x06\x00\x00\x00\x00"
)
FILE_FILES: dict[str, bytes | str] = {
    "t.txt": "hello\n",
    "u.txt": "h\xe9llo\n",
    "e": "",
    "crlf": "x\r\ny\r\n",
    "nonl": "abc",
    "cr": "a\rb\r",
    "j.json": '{"a": [1, 2]}\n',
    "s.sh": "#!/bin/sh\necho\n",
    "b.sh": "#!/bin/bash\necho\n",
    "p.py": "#!/usr/bin/env python3\nprint(1)\n",
    "n.js": "#!/usr/bin/env node\nx\n",
    "img.png": _PNG,
    "g.gif": b"GIF89a\x05\x00\x07\x00;",
    "lat": b"caf\xe9\n",
    "bin": b"\x00\x01\x02\x03\xff",
    "h.html": "<html><body></body></html>\n",
    "x.xml": '<?xml version="1.0"?>\n<a/>\n',
    "long": "x" * 400 + "\n",
    "d/inner": "z\n",
}

FILE = [
    C("file", *args, files=FILE_FILES)
    for args in (
        ("t.txt",),
        ("u.txt",),
        ("e",),
        ("crlf",),
        ("nonl",),
        ("cr",),
        ("j.json",),
        ("s.sh",),
        ("b.sh",),
        ("p.py",),
        ("n.js",),
        ("img.png",),
        ("g.gif",),
        ("lat",),
        ("bin",),
        ("h.html",),
        ("x.xml",),
        ("long",),
        ("d",),
        ("nope",),
        ("-b", "t.txt"),
        ("-i", "t.txt", "e", "d"),
        ("--mime-type", "img.png", "j.json"),
        ("t.txt", "e", "d", "img.png"),
        ("-N", "t.txt", "e"),
        ("-i", "u.txt", "lat", "s.sh"),
        ("-b", "-i", "bin"),
    )
]

ALL = LS + CP + MV + RM + MKDIR + TOUCH_LN + CHMOD + STAT + PATHS + DU_ETC + EXTRA
prefetch(ALL)
if have("file"):
    prefetch(FILE)


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name())
def test_coreutils_compat(case: Case) -> None:
    check(case)


@pytest.mark.skipif(not have("file"), reason="file(1) is not installed on the host")
@pytest.mark.parametrize("case", FILE, ids=lambda c: c.name())
def test_file_compat(case: Case) -> None:
    check(case)


# --- walkers over symlink cycles -------------------------------------------------------------

#: ``a/b/up`` and ``a/b/c/back`` lead back to directories the walker is inside, ``a/b/top`` to
#: the directory holding ``a``: a walker that follows links meets a cycle on each. Where a
#: result depends on the host's directory order (du counts a directory reached twice once,
#: whichever way comes first), the cases hold only cycles back to an ancestor.
LOOPS = (
    "mkdir -p w/a/b/c && echo x > w/a/f && echo y > w/a/b/c/g && ln -s .. w/a/b/up && "
    "ln -s ../.. w/a/b/top && ln -s ../../b w/a/b/c/back"
)
#: and ``a/l1``, ``a/l2`` both lead to ``t``, which is no ancestor: listed (ls, cp) each time,
#: shown once by tree
TWICE = LOOPS + " && mkdir w/t && echo z > w/t/z && ln -s ../t w/a/l1 && ln -s ../t w/a/l2"


def S(script: str) -> Case:
    return Case(["sh", "-c", script], {}, id=script.rsplit("&& ", 1)[-1])


CYCLES = [
    S(LOOPS + " && ls -RL w/a"),
    S(TWICE + " && ls -RL w/a"),
    S(TWICE + " && ls -RLa w/a/b"),
    S(TWICE + " && cd w/a && ls -RL"),
    S(TWICE + " && ls -R w/a"),
    S("mkdir -p 'w/a b' w/c && ln -s .. 'w/a b/up' && ln -s ../c w/c/d:e && ls -RL w"),
    S(LOOPS + " && du -L w/a | cut -f2 | sort"),
    S(LOOPS + " && du -Lab w/a/f w/a/b/up w/a/b/c w/a | cut -f2 | sort"),
    S(LOOPS + " && du -Ls w/a | cut -f2"),
    S(TWICE + " && cp -rL w/a x; echo status $?; find x | sort"),
    S(TWICE + " && cp -rLv w/a/b x | sort"),
    S(LOOPS + " && cp -rL w/a/b/up x; echo status $?; find x | sort"),
    S(TWICE + " && cp -r w/a x && find x | sort"),
    S(TWICE + " && find -L w/a > o; echo status $?; sort o"),
    S(TWICE + " && find -L w/a/b/up -name z | sort"),
]
#: (LC_ALL=C would make GNU's tree draw with ASCII; ours always draws with box characters)
TREE_CYCLES = [
    S(TWICE + " && LC_ALL=C.UTF-8 tree -l --noreport w/a"),
    S(TWICE + " && LC_ALL=C.UTF-8 tree -l --noreport -L 2 w/a"),
    S(TWICE + " && LC_ALL=C.UTF-8 tree -ld --noreport w"),
    S(TWICE + " && LC_ALL=C.UTF-8 tree -lr --noreport w/a/b"),
    S(TWICE + " && LC_ALL=C.UTF-8 tree --noreport w/a"),
]
prefetch(CYCLES)
if have("tree"):
    prefetch(TREE_CYCLES)


@pytest.mark.parametrize("case", CYCLES, ids=lambda c: c.name())
def test_walkers_notice_symlink_cycles(case: Case) -> None:
    check(case, stderr_lines=True)


@pytest.mark.skipif(not have("tree"), reason="tree is not installed on the host")
@pytest.mark.parametrize("case", TREE_CYCLES, ids=lambda c: c.name())
def test_tree_notices_symlink_cycles(case: Case) -> None:
    # tree draws "│\xa0\xa0 " in UTF-8; ours draws plain spaces
    check(case, stderr_lines=True, nbsp=True)
