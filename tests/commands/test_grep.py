"""grep/egrep/fgrep/rg unit tests (behaviour not covered by the host comparison)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.kernel.process import Context

TREE = {
    "src/main.py": b"import os\nprint('hello')\n",
    "src/util.py": b"def hello():\n    return 1\n",
    "src/sub/deep.txt": b"hello deep\n",
    "src/sub/other.md": b"nothing here\n",
    "docs/readme.md": b"Hello docs\nhello again\n",
    "top.txt": b"hello top\n",
    ".hidden/h.txt": b"hello hidden\n",
    "data.bin": b"hello\x00world\n",
}


async def _yes(ctx: Context) -> int:
    """Endless ``y`` lines (test helper for streaming)."""
    while True:
        ctx.check_killed()
        await ctx.stdout.write(b"y\n" * 512)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        v.kernel.commands.add("ptest-grep-yes", _yes)
        for path, data in TREE.items():
            v.write_file("/work/" + path, data, parents=True)
        yield v


def run(vm: VM, *argv: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    r = vm.run(list(argv), stdin=stdin, cwd="/work", env={"LC_ALL": "C"})
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


# --- grep -------------------------------------------------------------------------------


def test_recursive_is_sorted_and_relative(vm: VM) -> None:
    rc, out, err = run(vm, "grep", "-r", "hello")
    assert (rc, err) == (0, b"grep: data.bin: binary file matches\n")
    assert out == (
        b".hidden/h.txt:hello hidden\n"
        b"docs/readme.md:hello again\n"
        b"src/main.py:print('hello')\n"
        b"src/sub/deep.txt:hello deep\n"
        b"src/util.py:def hello():\n"
        b"top.txt:hello top\n"
    )


def test_recursive_with_dot_operand(vm: VM) -> None:
    rc, out, _ = run(vm, "grep", "-rl", "hello", ".", "--exclude-dir=src", "-I")
    assert (rc, out) == (0, b"./.hidden/h.txt\n./docs/readme.md\n./top.txt\n")


def test_recursive_count_and_no_filename(vm: VM) -> None:
    assert run(vm, "grep", "-rc", "hello", "src")[1] == (
        b"src/main.py:1\nsrc/sub/deep.txt:1\nsrc/sub/other.md:0\nsrc/util.py:1\n"
    )
    assert run(vm, "grep", "-rh", "hello", "src")[1] == (
        b"print('hello')\nhello deep\ndef hello():\n"
    )


def test_include_exclude(vm: VM) -> None:
    assert run(vm, "grep", "-rl", "--include=*.md", "e", ".")[1] == (
        b"./docs/readme.md\n./src/sub/other.md\n"
    )
    assert run(vm, "grep", "-l", "--exclude=*.txt", "hello", "top.txt", "src/main.py")[1] == (
        b"src/main.py\n"
    )


def test_directory_without_recursion(vm: VM) -> None:
    assert run(vm, "grep", "x", "src") == (2, b"", b"grep: src: Is a directory\n")


def test_help_and_usage(vm: VM) -> None:
    rc, out, err = run(vm, "grep", "--help")
    assert rc == 0 and out.startswith(b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
    assert err == b""
    assert run(vm, "grep", "--nope", "x") == (
        2,
        b"",
        b"grep: unrecognized option '--nope'\n"
        b"Usage: grep [OPTION]... PATTERNS [FILE]...\n"
        b"Try 'grep --help' for more information.\n",
    )
    assert run(vm, "grep", "-j", "x")[2] == (
        b"grep: invalid option -- 'j'\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"
        b"Try 'grep --help' for more information.\n"
    )
    assert run(vm, "egrep", "--help")[0] == 0
    assert run(vm, "rg", "--help")[0] == 0


def test_regex_error_message(vm: VM) -> None:
    assert run(vm, "grep", "a\\(", stdin=b"a\n") == (2, b"", b"grep: Unmatched ( or \\(\n")
    assert run(vm, "grep", "-E", "*x", stdin=b"x\n") == (
        0,
        b"x\n",
        b"grep: warning: * at start of expression\n",
    )


def test_null_names_and_initial_tab(vm: VM) -> None:
    assert run(vm, "grep", "-lZ", "hello", "top.txt", "src/main.py")[1] == (
        b"top.txt\x00src/main.py\x00"
    )
    assert run(vm, "grep", "-nT", "b", stdin=b"a\nb\n")[1] == b"2:\tb\n"


def test_perl_mode_uses_python_syntax(vm: VM) -> None:
    assert run(vm, "grep", "-P", "-o", r"\d+(?=px)", stdin=b"10px 20em 30px\n")[1] == (b"10\n30\n")


def test_binary_and_invalid_utf8(vm: VM) -> None:
    data = b"ok \xff\xfe\n\x00 zero\nend"
    assert run(vm, "grep", "-a", "zero", stdin=data)[1] == b"\x00 zero\n"
    assert run(vm, "grep", "-c", "o", stdin=data) == (0, b"2\n", b"")
    assert run(vm, "grep", "\xff", stdin=b"a\xffb\nc\n".decode("latin-1").encode("utf-8"))[0] == 0
    raw = b"caf\xe9\nx\n"
    assert run(vm, "grep", "-v", "x", stdin=raw)[1] == b"caf\xe9\n"


def test_multiple_patterns_with_backrefs(vm: VM) -> None:
    out = run(vm, "grep", "-e", "\\(a\\)\\1", "-e", "\\(b\\)\\1", stdin=b"aa\nbb\nab\n")[1]
    assert out == b"aa\nbb\n"


def test_big_input_counts(vm: VM) -> None:
    data = b"".join(b"line %d\n" % i for i in range(200000))
    assert run(vm, "grep", "-c", "7$", stdin=data)[1] == b"20000\n"
    assert run(vm, "grep", "-n", "^line 199999$", stdin=data)[1] == b"200000:line 199999\n"
    assert run(vm, "grep", "-vc", "1", stdin=data)[1] == b"%d\n" % sum(
        1 for i in range(200000) if "1" not in str(i)
    )


def test_streaming_stops_early(vm: VM) -> None:
    r = vm.exec("ptest-grep-yes | grep -m2 y")
    assert (r.exit_code, r.stdout_bytes) == (0, b"y\ny\n")
    r = vm.exec("ptest-grep-yes | grep -q y; echo $?")
    assert r.stdout_bytes == b"0\n"
    r = vm.exec("ptest-grep-yes | grep -l y")
    assert r.stdout_bytes == b"(standard input)\n"


# --- rg -----------------------------------------------------------------------------------


def test_rg_defaults(vm: VM) -> None:
    rc, out, err = run(vm, "rg", "hello")
    assert (rc, err) == (0, b"")
    assert out == (
        b"docs/readme.md:hello again\n"
        b"src/main.py:print('hello')\n"
        b"src/sub/deep.txt:hello deep\n"
        b"src/util.py:def hello():\n"
        b"top.txt:hello top\n"
    )


def test_rg_flags(vm: VM) -> None:
    assert run(vm, "rg", "-n", "-i", "HELLO", "docs")[1] == (
        b"docs/readme.md:1:Hello docs\ndocs/readme.md:2:hello again\n"
    )
    assert run(vm, "rg", "--hidden", "-l", "hidden")[1] == b".hidden/h.txt\n"
    assert run(vm, "rg", "-t", "py", "-c", "hello")[1] == b"src/main.py:1\nsrc/util.py:1\n"
    assert run(vm, "rg", "-g", "*.md", "-l", "e")[1] == b"docs/readme.md\nsrc/sub/other.md\n"
    assert run(vm, "rg", "-g", "!*.py", "-l", "hello")[1] == (
        b"docs/readme.md\nsrc/sub/deep.txt\ntop.txt\n"
    )
    assert run(vm, "rg", "-o", "-w", "hel+o", "top.txt")[1] == b"hello\n"
    assert run(vm, "rg", "-F", "hello()", "src")[1] == b"src/util.py:def hello():\n"
    assert run(vm, "rg", "-v", "-N", "import", "src/main.py")[1] == b"print('hello')\n"
    assert run(vm, "rg", "-S", "Hello", "docs")[1] == b"docs/readme.md:Hello docs\n"
    assert run(vm, "rg", "-A1", "docs", "docs/readme.md")[1] == b"Hello docs\nhello again\n"
    assert run(vm, "rg", "-x", "hello top")[1] == b"top.txt:hello top\n"


def test_rg_files_and_status(vm: VM) -> None:
    assert run(vm, "rg", "--files", "src")[1] == (
        b"src/main.py\nsrc/sub/deep.txt\nsrc/sub/other.md\nsrc/util.py\n"
    )
    assert run(vm, "rg", "zzz")[0] == 1
    rc, _, err = run(vm, "rg", "x", "missing")
    assert rc == 2 and err
    assert run(vm, "rg", "(")[0] == 2
    assert run(vm, "rg", "-t", "nosuchtype", "x")[0] == 2


def test_rg_stdin(vm: VM) -> None:
    assert run(vm, "rg", "b", stdin=b"abc\nxyz\n") == (0, b"abc\n", b"")
    r = vm.exec("ptest-grep-yes | rg -m1 y")
    assert (r.exit_code, r.stdout_bytes) == (0, b"y\n")


def test_symlinks_and_loops() -> None:
    with VM() as v:
        v.write_file("/work/d/a.txt", b"hi\n", parents=True)
        v.symlink("/work/d", "/work/d/loop")
        v.symlink("a.txt", "/work/d/link.txt")
        assert run(v, "grep", "-r", "hi", "d") == (0, b"d/a.txt:hi\n", b"")
        assert run(v, "grep", "-R", "hi", "d") == (
            0,
            b"d/a.txt:hi\nd/link.txt:hi\n",
            b"grep: d/loop: warning: recursive directory loop\n",
        )
        assert run(v, "grep", "-r", "hi", "d/link.txt") == (0, b"hi\n", b"")
