"""sed unit tests (behaviour not covered by the host comparison)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.kernel.process import Context


async def _yes(ctx: Context) -> int:
    """Endless ``y`` lines (test helper for streaming)."""
    while True:
        ctx.check_killed()
        await ctx.stdout.write(b"y\n" * 512)


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.kernel.commands.add("ptest-sed-yes", _yes)
        v.write_file("/work/a.txt", b"one\ntwo\nthree\n", parents=True)
        v.write_file("/work/b.txt", b"alpha\nbeta\n", parents=True)
        yield v


def run(vm: VM, *argv: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    r = vm.run(list(argv), stdin=stdin, cwd="/work", env={"LC_ALL": "C"})
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


def test_in_place_with_backup_suffix(vm: VM) -> None:
    assert run(vm, "sed", "-i.orig", "s/o/0/g", "a.txt", "b.txt") == (0, b"", b"")
    assert vm.read_file("/work/a.txt") == b"0ne\ntw0\nthree\n"
    assert vm.read_file("/work/a.txt.orig") == b"one\ntwo\nthree\n"
    assert vm.read_file("/work/b.txt") == b"alpha\nbeta\n"
    assert vm.read_file("/work/b.txt.orig") == b"alpha\nbeta\n"


def test_in_place_star_suffix_and_separate_files(vm: VM) -> None:
    assert run(vm, "sed", "--in-place=bak_*", "$d", "a.txt", "b.txt")[0] == 0
    assert vm.read_file("/work/a.txt") == b"one\ntwo\n"
    assert vm.read_file("/work/b.txt") == b"alpha\n"
    assert vm.read_file("/work/bak_a.txt") == b"one\ntwo\nthree\n"


def test_in_place_quit_truncates_like_gnu(vm: VM) -> None:
    assert run(vm, "sed", "-i", "2q", "a.txt")[0] == 0
    assert vm.read_file("/work/a.txt") == b"one\ntwo\n"


def test_in_place_errors(vm: VM) -> None:
    assert run(vm, "sed", "-i", "p") == (1, b"", b"sed: no input files\n")
    rc, _, err = run(vm, "sed", "-i", "p", "missing.txt")
    assert (rc, err) == (2, b"sed: can't read missing.txt: No such file or directory\n")


def test_w_files(vm: VM) -> None:
    assert run(vm, "sed", "-n", "/t/w out.txt\n/e/W heads.txt", "a.txt") == (0, b"", b"")
    assert vm.read_file("/work/out.txt") == b"two\nthree\n"
    assert vm.read_file("/work/heads.txt") == b"one\nthree\n"
    assert run(vm, "sed", "-n", "s/e/E/w subst.txt", "a.txt")[0] == 0
    assert vm.read_file("/work/subst.txt") == b"onE\nthrEe\n"
    assert run(vm, "sed", "w /dev/stderr", "b.txt") == (0, b"alpha\nbeta\n", b"alpha\nbeta\n")


def test_r_and_R(vm: VM) -> None:
    assert run(vm, "sed", "R b.txt", "a.txt")[1] == b"one\nalpha\ntwo\nbeta\nthree\n"
    assert run(vm, "sed", "2r b.txt", "a.txt")[1] == b"one\ntwo\nalpha\nbeta\nthree\n"


def test_quit_status(vm: VM) -> None:
    assert run(vm, "sed", "2q7", "a.txt") == (7, b"one\ntwo\n", b"")
    assert run(vm, "sed", "2Q3", "a.txt") == (3, b"one\n", b"")


def test_error_messages(vm: VM) -> None:
    assert run(vm, "sed", "s/a/b", "a.txt") == (
        1,
        b"",
        b"sed: -e expression #1, char 5: unterminated `s' command\n",
    )
    assert run(vm, "sed", "-e", "p", "-e", "k", "a.txt") == (
        1,
        b"",
        b"sed: -e expression #2, char 1: unknown command: `k'\n",
    )
    assert run(vm, "sed", "b x", "a.txt") == (4, b"", b"sed: can't find label for jump to `x'\n")
    assert run(vm, "sed", "--nope")[0] == 1
    vm.write_file("/work/bad.sed", b"p\ns/x/\n")
    assert run(vm, "sed", "-f", "bad.sed", "a.txt") == (
        1,
        b"",
        b"sed: file bad.sed line 2: unterminated `s' command\n",
    )


def test_help(vm: VM) -> None:
    rc, out, err = run(vm, "sed", "--help")
    assert rc == 0 and err == b"" and out.startswith(b"Usage: sed [OPTION]...")


def test_binary_safety(vm: VM) -> None:
    data = b"a\x00\xff\xfe\r\nb\xc3\xa9\n\x80"
    assert run(vm, "sed", "", stdin=data)[1] == data
    assert run(vm, "sed", "s/b/B/", stdin=data)[1] == data.replace(b"b", b"B")
    assert run(vm, "sed", "-n", "l", stdin=b"\xc3\xa9\x00\n")[1] == b"\\303\\251\\000$\n"
    assert run(vm, "sed", "y/\u00e9/e/", stdin="caf\u00e9\n".encode())[1] == b"cafe\n"


def test_null_data(vm: VM) -> None:
    assert run(vm, "sed", "-z", "s/a/A/", stdin=b"a1\x00a2\x00")[1] == b"A1\x00A2\x00"
    assert run(vm, "sed", "-z", "$!d", stdin=b"x\x00y\x00")[1] == b"y\x00"


def test_missing_final_newline(vm: VM) -> None:
    assert run(vm, "sed", "p", stdin=b"a\nb")[1] == b"a\na\nb\nb"
    assert run(vm, "sed", "-n", "p", stdin=b"a")[1] == b"a"
    assert run(vm, "sed", "$!d", stdin=b"a\nb")[1] == b"b"
    assert run(vm, "sed", "G", stdin=b"a")[1] == b"a\n\n"
    assert run(vm, "sed", "x;G", stdin=b"a")[1] == b"\na"


def test_special_cases(vm: VM) -> None:
    assert run(vm, "sed", "-n", "F;=", "a.txt")[1] == b"a.txt\n1\na.txt\n2\na.txt\n3\n"
    assert run(vm, "sed", "-n", "F", stdin=b"x\n")[1] == b"-\n"
    assert run(vm, "sed", "2,3c\\\nX", "a.txt")[1] == b"one\nX\n"
    assert run(vm, "sed", "2,3!c\\\nX", "a.txt")[1] == b"X\ntwo\nthree\n"
    assert run(vm, "sed", "s/e/[&]/2", "a.txt")[1] == b"one\ntwo\nthre[e]\n"
    assert run(vm, "sed", "-E", "s/(t)(w)?/<\\2\\1>/g", "a.txt")[1] == (b"one\n<wt>o\n<t>hree\n")
    assert run(vm, "sed", "-n", "/one/,/two/{=}", "a.txt")[1] == b"1\n2\n"
    assert run(vm, "sed", "0~2s/^/#/", "a.txt")[1] == b"one\n#two\nthree\n"
    assert run(vm, "sed", "2,+0d", "a.txt")[1] == b"one\nthree\n"
    assert run(vm, "sed", "s/x*$/!/", stdin=b"ab\n")[1] == b"ab!\n"
    assert run(vm, "sed", "N;s/a$/X/M", stdin=b"a\nb\n")[1] == b"X\nb\n"
    assert run(vm, "sed", "N;s/^b/X/Mg", stdin=b"b\nb\n")[1] == b"X\nX\n"
    assert run(vm, "sed", "$!N;s/a\\nb/J/", stdin=b"a\nb\n")[1] == b"J\n"


def test_fast_path_matches_general_path(vm: VM) -> None:
    data = b"".join(b"row %d val %d\n" % (i, i * 7) for i in range(5000)) + b"tail 77"
    for script in [
        "s/7/S/",
        "s/7/S/g",
        "s/7/S/2",
        "s/^row/R/",
        "s/[0-9]$/E/",
        "s/val \\(.*\\)/\\1=v/",
        "s/a*/-/g",
    ]:
        fast = run(vm, "sed", script, stdin=data)
        slow = run(vm, "sed", "-e", script, "-e", "s/$//", stdin=data)
        assert fast == slow, script
    assert run(vm, "sed", "-n", "s/77$/X/p", stdin=data)[1].endswith(b"tail X")
    for args in (
        ["-n", "/7/p"],
        ["/7/d"],
        ["/7/p"],
        ["-n", "/7/!p"],
        ["/7$/!d"],
        ["-n", "/^$/p"],
        ["-n", "/77$/p"],
        ["/tail/d"],
        ["-n", "/[^0-9]$/p"],
    ):
        fast = run(vm, "sed", *args, stdin=data)
        slow = run(vm, "sed", "-e", args[-1], "-e", "s/$//", *args[:-1], stdin=data)
        assert fast == slow, args


def test_e_command(vm: VM) -> None:
    if vm.run(["sh", "-c", "echo ok"]).stdout_bytes != b"ok\n":
        pytest.skip("no shell")
    assert run(vm, "sed", "1e echo hi", "b.txt")[1] == b"hi\nalpha\nbeta\n"
    assert run(vm, "sed", "s/.*/echo X&/e", "b.txt")[1] == b"Xalpha\nXbeta\n"


def test_streaming_stops_early(vm: VM) -> None:
    r = vm.exec("ptest-sed-yes | sed 3q")
    assert (r.exit_code, r.stdout_bytes) == (0, b"y\ny\ny\n")
    r = vm.exec("ptest-sed-yes | sed -n '2{p;q}'")
    assert r.stdout_bytes == b"y\n"
    r = vm.exec("ptest-sed-yes | sed s/y/n/ | sed 2q")
    assert r.stdout_bytes == b"n\nn\n"
