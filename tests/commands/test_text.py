"""Unit tests for the text commands: whole outputs, binary safety, streaming, errors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from pocketos.assembly import get_command
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, InputStream, Pipe

TEXT_COMMANDS = [
    "cat",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "tee",
    "nl",
    "paste",
    "join",
    "comm",
    "column",
    "fold",
    "fmt",
    "expand",
    "unexpand",
    "rev",
    "tac",
    "shuf",
    "strings",
    "od",
    "xxd",
    "hexdump",
    "diff",
    "patch",
    "cmp",
]


@pytest.fixture(scope="module")
def vm() -> Iterator[Any]:
    from pocketos import VM

    v = VM()
    v.mkdir("/work", parents=True, exist_ok=True)
    yield v
    v.close()


def run(
    vm: Any, *argv: str, stdin: bytes | str = b"", files: dict[str, bytes | str] | None = None
) -> Any:
    for name, data in (files or {}).items():
        vm.write_file("/work/" + name, data, parents=True)
    return vm.run(list(argv), stdin=stdin, cwd="/work", env={"LC_ALL": "C"})


# ------------------------------------------------------------------------------ help / usage


@pytest.mark.parametrize("name", TEXT_COMMANDS)
def test_help_prints_usage_and_exits_zero(vm: Any, name: str) -> None:
    r = run(vm, name, "--help")
    assert r.exit_code == 0
    assert "Usage" in r.stdout.splitlines()[0] or r.stdout.startswith("Usage")
    assert r.stderr == ""


@pytest.mark.parametrize("name", [n for n in TEXT_COMMANDS if n != "xxd"])
def test_unknown_long_option(vm: Any, name: str) -> None:
    r = run(vm, name, "--no-such-option")
    assert r.exit_code in (1, 2)
    assert r.stderr == (
        f"{name}: unrecognized option '--no-such-option'\n"
        f"Try '{name} --help' for more information.\n"
    ) or r.stderr.startswith(f"{name}: unrecognized option")
    assert r.stdout == ""


def test_exit_status_for_usage_errors_follows_gnu(vm: Any) -> None:
    assert run(vm, "sort", "-Z").exit_code == 2
    assert run(vm, "diff", "-Z").exit_code == 2
    assert run(vm, "cmp", "-Z").exit_code == 2
    assert run(vm, "patch", "-Z").exit_code == 2
    assert run(vm, "cat", "-Z").exit_code == 1
    r = run(vm, "cat", "-Z")
    assert r.stderr == "cat: invalid option -- 'Z'\nTry 'cat --help' for more information.\n"


# ------------------------------------------------------------------------------ whole outputs


def test_cat_numbering_and_missing_file(vm: Any) -> None:
    r = run(vm, "cat", "-n", "x", "nope", "x", files={"x": "a\n\nb\n"})
    assert r.stdout == "     1\ta\n     2\t\n     3\tb\n     4\ta\n     5\t\n     6\tb\n"
    assert r.stderr == "cat: nope: No such file or directory\n"
    assert r.exit_code == 1


def test_cat_show_all(vm: Any) -> None:
    r = run(vm, "cat", "-A", stdin=b"a\tb\x00\x7f\xe9\r\n")
    assert r.stdout == "a^Ib^@^?M-i^M$\n"


def test_cat_directory(vm: Any) -> None:
    vm.mkdir("/work/dir", exist_ok=True)
    r = run(vm, "cat", "dir")
    assert (r.exit_code, r.stderr) == (1, "cat: dir: Is a directory\n")


def test_head_tail_headers(vm: Any) -> None:
    files = {"p": "1\n2\n3\n", "q": "x\n"}
    assert run(vm, "head", "-n1", "p", "q", files=files).stdout == "==> p <==\n1\n\n==> q <==\nx\n"
    assert run(vm, "tail", "-n1", "p", "q", files=files).stdout == "==> p <==\n3\n\n==> q <==\nx\n"
    assert run(vm, "tail", "-n", "+2", "p", files=files).stdout == "2\n3\n"
    assert run(vm, "head", "-c", "-2", "p", files=files).stdout == "1\n2\n"
    assert run(vm, "head", "-5", stdin="a\nb\n").stdout == "a\nb\n"


def test_tail_follow_is_rejected(vm: Any) -> None:
    r = run(vm, "tail", "-f", "p", files={"p": "x\n"})
    assert r.exit_code == 1
    assert r.stderr == "tail: option --follow (-f) is not supported in this environment\n"


def test_head_bad_count(vm: Any) -> None:
    r = run(vm, "head", "-n", "abc")
    assert (r.exit_code, r.stderr) == (1, "head: invalid number of lines: 'abc'\n")


def test_wc_columns(vm: Any) -> None:
    files = {"p": "a b\nc\n", "q": "hello world foo\n"}
    assert run(vm, "wc", "p", "q", files=files).stdout == " 2  3  6 p\n 1  3 16 q\n 3  6 22 total\n"
    assert run(vm, "wc", stdin="x y\n").stdout == "      1       2       4\n"
    assert run(vm, "wc", "-l", "p", files=files).stdout == "2 p\n"


def test_wc_chars_follow_locale(vm: Any) -> None:
    data = "h\u00e9\n".encode()
    c = vm.run(["wc", "-m"], stdin=data, env={"LC_ALL": "C"})
    u = vm.run(["wc", "-m"], stdin=data, env={"LANG": "C.UTF-8"})
    assert (c.stdout, u.stdout) == ("4\n", "3\n")


def test_sort_keys_and_stability(vm: Any) -> None:
    data = "b 2\na 2\nc 1\n"
    assert run(vm, "sort", "-k2,2n", stdin=data).stdout == "c 1\na 2\nb 2\n"
    assert run(vm, "sort", "-s", "-k2,2n", stdin=data).stdout == "c 1\nb 2\na 2\n"
    assert run(vm, "sort", "-k2,2nr", "-k1,1", stdin=data).stdout == "a 2\nb 2\nc 1\n"
    assert run(vm, "sort", "-t:", "-k2", stdin="x:b\ny:a\n").stdout == "y:a\nx:b\n"


def test_sort_output_file_may_be_input(vm: Any) -> None:
    run(vm, "sort", "-o", "s", "s", files={"s": "b\na\n"})
    assert vm.read_file("/work/s") == b"a\nb\n"


def test_sort_check_reports_disorder(vm: Any) -> None:
    r = run(vm, "sort", "-c", "s", files={"s": "a\nc\nb\n"})
    assert (r.exit_code, r.stderr) == (1, "sort: s:3: disorder: b\n")


def test_sort_random_with_source_is_deterministic(vm: Any) -> None:
    files = {"src": b"seed bytes", "d": "".join(f"{i}\n" for i in range(20))}
    a = run(vm, "sort", "-R", "--random-source=src", "d", files=files).stdout
    b = run(vm, "sort", "-R", "--random-source=src", "d", files=files).stdout
    assert a == b
    assert sorted(a.splitlines(), key=int) == [str(i) for i in range(20)]


def test_shuf_deterministic_with_random_source(vm: Any) -> None:
    files = {"src": b"0123456789" * 10}
    a = run(vm, "shuf", "-i", "1-10", "--random-source=src", files=files).stdout
    b = run(vm, "shuf", "-i", "1-10", "--random-source=src", files=files).stdout
    assert a == b
    assert sorted(a.split(), key=int) == [str(i) for i in range(1, 11)]
    r = run(vm, "shuf", "-n", "3", "-r", "-e", "x", files=files)
    assert r.stdout == "x\nx\nx\n"
    r = run(vm, "shuf", "-e", "a", "b", "--random-source=src", "-o", "out", files=files)
    assert sorted(vm.read_file("/work/out").split()) == [b"a", b"b"]


def test_uniq_counts(vm: Any) -> None:
    assert run(vm, "uniq", "-c", stdin="a\na\nb\n").stdout == "      2 a\n      1 b\n"
    assert run(vm, "uniq", "-d", stdin="a\na\nb\n").stdout == "a\n"
    assert run(vm, "uniq", "-u", stdin="a\na\nb\n").stdout == "b\n"


def test_cut_and_tr(vm: Any) -> None:
    assert run(vm, "cut", "-d:", "-f1,3", stdin="a:b:c\n").stdout == "a:c\n"
    assert run(vm, "tr", "-s", "a-z", "A-Z", stdin="aabb\n").stdout == "AB\n"
    assert run(vm, "tr", "[a*3]b", "x", stdin="").exit_code == 1


def test_tee_writes_files(vm: Any) -> None:
    r = run(vm, "tee", "t1", "t2", stdin="data\n")
    assert r.stdout == "data\n"
    assert vm.read_file("/work/t1") == b"data\n" == vm.read_file("/work/t2")
    run(vm, "tee", "-a", "t1", stdin="more\n")
    assert vm.read_file("/work/t1") == b"data\nmore\n"
    r = run(vm, "tee", "/no/such/dir/x", stdin="z\n")
    assert (r.exit_code, r.stdout) == (1, "z\n")
    assert r.stderr == "tee: /no/such/dir/x: No such file or directory\n"


def test_column_and_fmt(vm: Any) -> None:
    assert run(vm, "column", "-t", stdin="a bb\nccc d\n").stdout == "a    bb\nccc  d\n"
    assert run(vm, "fmt", "-w", "10", stdin="aaa bbb ccc ddd\n").stdout == "aaa bbb\nccc ddd\n"


def test_od_xxd_hexdump(vm: Any) -> None:
    assert run(vm, "od", "-c", stdin=b"a\0").stdout == "0000000   a  \\0\n0000002\n"
    assert (
        run(vm, "xxd", stdin=b"hi\n").stdout
        == "00000000: 6869 0a                                  hi.\n"
    )
    assert run(vm, "xxd", "-p", stdin=b"hi").stdout == "6869\n"
    r = run(vm, "xxd", "-r", "-p", stdin="6869\n")
    assert r.stdout_bytes == b"hi"
    assert (
        run(vm, "hexdump", "-C", stdin=b"AB").stdout
        == "00000000  41 42                                             |AB|\n00000002\n"
    )


def test_xxd_round_trip(vm: Any) -> None:
    data = bytes(range(256)) * 3
    dump = run(vm, "xxd", stdin=data).stdout_bytes
    assert run(vm, "xxd", "-r", stdin=dump).stdout_bytes == data


def test_strings(vm: Any) -> None:
    assert run(vm, "strings", stdin=b"\0\0hello\x01ab\xffworld!").stdout == "hello\nworld!\n"


# ----------------------------------------------------------------------------- binary safety

NASTY = b"nul\x00byte\nbad\xff\xfeutf8\r\nno newline"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["cat"], NASTY),
        (["head", "-n", "2"], b"nul\x00byte\nbad\xff\xfeutf8\r\n"),
        (["tail", "-n", "1"], b"no newline"),
        (["tac"], b"no newlinebad\xff\xfeutf8\r\nnul\x00byte\n"),
        (["sort"], b"bad\xff\xfeutf8\r\nno newline\nnul\x00byte\n"),
        (["uniq"], NASTY + b"\n"),
        (["cut", "-c", "1-4"], b"nul\x00\nbad\xff\nno n\n"),
        (["tr", "a-z", "A-Z"], b"NUL\x00BYTE\nBAD\xff\xfeUTF8\r\nNO NEWLINE"),
        (["nl", "-ba"], b"     1\tnul\x00byte\n     2\tbad\xff\xfeutf8\r\n     3\tno newline\n"),
        (["paste", "-s", "-d", ","], b"nul\x00byte,bad\xff\xfeutf8\r,no newline\n"),
        (["fold", "-w", "5"], b"nul\x00b\nyte\nbad\xff\xfe\nutf8\r\nno ne\nwline"),
        (["rev"], b"etyb\x00lun\n\r8ftu\xfe\xffdab\nenilwen on"),
        (["expand"], NASTY),
        (["wc", "-c"], b"30\n"),
        (["tee"], NASTY),
    ],
)
def test_binary_safe(vm: Any, argv: list[str], expected: bytes) -> None:
    r = vm.run(argv, stdin=NASTY, env={"LC_ALL": "C"})
    assert r.stdout_bytes == expected
    assert r.exit_code == 0


def test_cmp_and_diff_binary(vm: Any) -> None:
    files = {"b1": b"a\0b", "b2": b"a\0c"}
    assert run(vm, "diff", "b1", "b2", files=files).stdout == "Binary files b1 and b2 differ\n"
    assert run(vm, "cmp", "b1", "b2", files=files).stdout == "b1 b2 differ: char 3, line 1\n"


# --------------------------------------------------------------------------------- streaming


class Endless(InputStream):
    """An input that never ends: the same two lines over and over."""

    def __init__(self, pattern: bytes = b"a\nb\n") -> None:
        self.pattern = pattern
        self.buf = bytearray()
        self.served = 0

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            self.buf += self.pattern * 1024

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            raise AssertionError("read to EOF on an endless stream")
        await asyncio.sleep(0)
        self._need(n)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        self.served += len(data)
        return data

    async def readuntil(self, sep: bytes) -> bytes:
        await asyncio.sleep(0)
        self._need(len(self.pattern))
        end = self.buf.index(sep) + len(sep)
        data = bytes(self.buf[:end])
        del self.buf[:end]
        self.served += len(data)
        return data


def _run_direct(
    vm: Any, argv: list[str], stdin: InputStream, stdout: Any = None
) -> tuple[int, bytes]:
    sink = stdout if stdout is not None else BytesSink()
    ctx = Context(
        vm.kernel, argv, env={"LC_ALL": "C"}, cwd="/", stdin=stdin, stdout=sink, stderr=BytesSink()
    )
    fn = get_command(argv[0])
    assert fn is not None

    async def go() -> int:
        return await asyncio.wait_for(fn(ctx), timeout=10)

    code = asyncio.run(go())
    return code, sink.getvalue() if isinstance(sink, BytesSink) else b""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["head", "-n", "3"], b"a\nb\na\n"),
        (["head", "-c", "5"], b"a\nb\na"),
    ],
)
def test_head_on_endless_input_returns(vm: Any, argv: list[str], expected: bytes) -> None:
    src = Endless()
    code, out = _run_direct(vm, argv, src)
    assert (code, out) == (0, expected)
    assert src.served < 1_000_000


@pytest.mark.parametrize(
    "argv",
    [
        ["cat"],
        ["cat", "-n"],
        ["tr", "y", "n"],
        ["cut", "-c1"],
        ["uniq"],
        ["nl"],
        ["fold", "-w3"],
        ["rev"],
        ["tee"],
        ["expand"],
        ["tail", "-n", "+2"],
        ["cat", "-A"],
    ],
)
def test_streaming_filters_stop_on_closed_pipe(vm: Any, argv: list[str]) -> None:
    """A streaming filter on endless input ends with EPIPE once its reader goes away."""
    pipe = Pipe()

    async def go() -> tuple[BaseException | int, bytes]:
        ctx = Context(
            vm.kernel,
            argv,
            env={"LC_ALL": "C"},
            cwd="/",
            stdin=Endless(),
            stdout=pipe.writer,
            stderr=BytesSink(),
        )
        fn = get_command(argv[0])
        assert fn is not None
        task = asyncio.ensure_future(fn(ctx))
        first = await pipe.reader.read(10)
        pipe.reader.close()
        try:
            res: BaseException | int = await asyncio.wait_for(task, timeout=10)
        except BrokenPipeError as exc:
            res = exc
        return res, first

    res, first = asyncio.run(go())
    assert isinstance(res, BrokenPipeError)
    assert first


def test_pipeline_head_ends_at_once(vm: Any) -> None:
    r = vm.exec("yes | cat | tr y z | head -n 2")
    assert (r.exit_code, r.stdout) == (0, "z\nz\n")


# ------------------------------------------------------------------------------- performance


@pytest.mark.timeout(120)
def test_sort_ten_megabytes_quickly(vm: Any) -> None:
    rnd = random.Random(7)
    data = "".join(
        f"{rnd.randrange(10**12)} {rnd.random():.16f} word{rnd.randrange(99999)}\n"
        for _ in range(200_000)
    ).encode()
    assert len(data) > 8_000_000
    # a quadratic sort (~2*10^10 comparisons here) never ends within the pytest timeout
    r = vm.run(["sort"], stdin=data, env={"LC_ALL": "C"})
    assert r.stdout_bytes == b"".join(sorted(data.splitlines(keepends=True)))
