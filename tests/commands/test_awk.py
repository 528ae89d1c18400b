"""Unit tests for awk: whole outputs for each feature, streaming, pipes and binary data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos.commands._awk.regex import translate

ENV = {"LC_ALL": "C", "PATH": "/bin:/usr/bin", "HOME": "/home/user"}


@pytest.fixture(scope="module")
def vm() -> Iterator[object]:
    from pocketos import VM

    v = VM()
    v.mkdir("/work", parents=True, exist_ok=True)
    yield v
    v.close()


def run(
    vm: object,
    prog: str,
    *args: str,
    stdin: bytes | str = b"",
    env: dict[str, str] | None = None,
    opts: tuple[str, ...] = (),
) -> tuple[int, bytes, bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = vm.run(
        ["awk", *opts, prog, *args],
        stdin=data,
        cwd="/work",  # type: ignore[attr-defined]
        env=env or ENV,
    )
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


def out(vm: object, prog: str, *args: str, **kw: object) -> str:
    code, so, se = run(vm, prog, *args, **kw)  # type: ignore[arg-type]
    assert code == 0, se
    assert se == b"", se
    return so.decode("latin-1")


# --- command line ---------------------------------------------------------------------------
def test_help(vm: object) -> None:
    r = vm.run(["awk", "--help"])  # type: ignore[attr-defined]
    assert r.exit_code == 0
    assert r.stdout.startswith("Usage: awk ")
    r = vm.run(["gawk", "--version"])  # type: ignore[attr-defined]
    assert r.exit_code == 0 and "Awk" in r.stdout


def test_bad_option(vm: object) -> None:
    r = vm.run(["awk", "-z", "1"])  # type: ignore[attr-defined]
    assert r.exit_code == 1
    assert r.stderr.startswith("awk: invalid option -- 'z'\n")
    r = vm.run(["awk", "--zz", "1"])  # type: ignore[attr-defined]
    assert r.stderr.startswith("awk: unrecognized option '--zz'\n")


def test_missing_program(vm: object) -> None:
    r = vm.run(["awk"])  # type: ignore[attr-defined]
    assert r.exit_code == 1 and r.stderr.startswith("Usage:")


def test_progfile_and_source(vm: object) -> None:
    vm.write_file("/work/p.awk", b"{ print toupper($1) }\n", parents=True)  # type: ignore[attr-defined]
    r = vm.run(
        ["awk", "-f", "p.awk", "-e", "END { print NR }"],
        stdin=b"a b\nc d\n",  # type: ignore[attr-defined]
        cwd="/work",
    )
    assert r.stdout == "A\nC\n2\n"


def test_v_escapes_and_operand_assign(vm: object) -> None:
    assert out(vm, "BEGIN { print v }", opts=("-v", "v=a\\tb")) == "a\tb\n"
    assert out(vm, "{ print x $0 }", "x=1", "-", "x=2", stdin="l\n") == "1l\n"


def test_field_separator_forms(vm: object) -> None:
    assert out(vm, "{ print $2 }", opts=("-F", "\\t"), stdin="a b\tc\n") == "c\n"
    assert out(vm, "{ print $2 }", opts=("-F", ":+"), stdin="a::b\n") == "b\n"
    assert out(vm, "{ print NF }", opts=("-F", " "), stdin="  a   b  \n") == "2\n"


# --- language -------------------------------------------------------------------------------
def test_fields_and_rebuild(vm: object) -> None:
    assert out(vm, '{ $3 = "X"; print; print NF }', stdin="a b\n") == "a b X\n3\n"
    assert out(vm, 'BEGIN { OFS = ":" } { NF = 2; print }', stdin="a b c\n") == "a:b\n"
    assert out(vm, '{ $0 = "p q"; print $2, NF }', stdin="x\n") == "q 2\n"


def test_uninitialized_and_strnum(vm: object) -> None:
    assert out(vm, 'BEGIN { print x + 0, "[" x "]", (x == 0), (x == "") }') == "0 [] 1 1\n"
    assert out(vm, "{ print ($1 < $2) }", stdin="10 9\n") == "0\n"
    assert out(vm, 'BEGIN { print ("10" < "9") }') == "1\n"


def test_number_output(vm: object) -> None:
    assert (
        out(vm, "BEGIN { print 1e6, 0.1 + 0.2, 100000 * 100000, 1/3 }")
        == "1000000 0.3 10000000000 0.333333\n"
    )
    assert out(vm, 'BEGIN { OFMT = "%.2f"; print 3.14159, 2 }') == "3.14 2\n"


def test_arrays_and_functions(vm: object) -> None:
    prog = (
        "function add(a, k, v) { a[k] += v } "
        "{ add(t, $1, $2) } "
        'END { PROCINFO["sorted_in"] = "@ind_str_asc"; for (k in t) print k, t[k] }'
    )
    assert out(vm, prog, stdin="b 1\na 2\nb 3\n") == "a 2\nb 4\n"
    assert (
        out(vm, "BEGIN { a[1,2] = 3; for (k in a) { split(k, p, SUBSEP); print p[1] p[2] } }")
        == "12\n"
    )


def test_local_variables(vm: object) -> None:
    prog = 'function f(x,   y) { y = x * 2; return y } BEGIN { print f(2), "[" y "]" }'
    assert out(vm, prog) == "4 []\n"


def test_printf_formats(vm: object) -> None:
    assert (
        out(vm, 'BEGIN { printf "%5.2f|%-4s|%03d|%x|%c|%e\\n", 3.14159, "ab", 7, 255, 65, 1 }')
        == " 3.14|ab  |007|ff|A|1.000000e+00\n"
    )


def test_sub_gsub_ampersand(vm: object) -> None:
    assert out(vm, '{ gsub(/b/, "[&]"); print }', stdin="abcb\n") == "a[b]c[b]\n"
    assert out(vm, '{ gsub(/b/, "\\\\&"); print }', stdin="abc\n") == "a&c\n"


def test_getline_forms(vm: object) -> None:
    vm.write_file("/work/g.txt", b"one\ntwo\n", parents=True)  # type: ignore[attr-defined]
    prog = 'BEGIN { while ((getline l < "g.txt") > 0) print "got", l; print NR }'
    assert out(vm, prog) == "got one\ngot two\n0\n"
    assert out(vm, 'NR == 1 { getline; print "now", $0, NR }', stdin="a\nb\n") == "now b 2\n"


def test_output_redirection_files(vm: object) -> None:
    code, so, se = run(vm, '{ print $1 > "o1.txt"; print $2 >> "o2.txt" }', stdin="a b\nc d\n")
    assert code == 0 and so == b""
    assert vm.read_file("/work/o1.txt") == b"a\nc\n"  # type: ignore[attr-defined]
    assert vm.read_file("/work/o2.txt") == b"b\nd\n"  # type: ignore[attr-defined]


def test_exit_runs_end(vm: object) -> None:
    code, so, _ = run(vm, '{ print; exit 3 } END { print "end" }', stdin="a\nb\n")
    assert (code, so) == (3, b"a\nend\n")


def test_paragraph_and_regex_rs(vm: object) -> None:
    assert (
        out(vm, 'BEGIN { RS = "" } { print NR ":" $1 "-" $NF }', stdin="\na b\nc\n\n\nd e\n")
        == "1:a-c\n2:d-e\n"
    )
    assert (
        out(vm, 'BEGIN { RS = "[,;]" } { print $0 "<" RT ">" }', stdin="a,b;c")
        == "a<,>\nb<;>\nc<>\n"
    )


def test_gawk_extensions(vm: object) -> None:
    assert out(vm, 'BEGIN { print gensub(/(a)(b)/, "\\\\2\\\\1", "g", "abab") }') == "baba\n"
    assert out(vm, 'BEGIN { match("x=12", /([a-z])=([0-9]+)/, m); print m[1], m[2] }') == "x 12\n"
    assert out(vm, 'BEGIN { print strftime("%Y-%m-%d", 86400) }') == "1970-01-02\n"


# --- errors ---------------------------------------------------------------------------------
def test_syntax_error_message(vm: object) -> None:
    code, so, se = run(vm, "BEGIN { print 1 + }")
    assert code == 1 and so == b""
    assert se == (
        b"awk: cmd. line:1: BEGIN { print 1 + }\n"
        b"awk: cmd. line:1: " + b" " * 18 + b"^ syntax error\n"
    )


def test_runtime_errors(vm: object) -> None:
    code, _, se = run(vm, "BEGIN { x = 0; print 1 / x }")
    assert code == 2 and se == b"awk: cmd. line:1: fatal: division by zero attempted\n"
    code, _, se = run(vm, "{ print }", "missing.txt")
    assert code == 2
    assert se == (
        b"awk: fatal: cannot open file `missing.txt' for reading: No such file or directory\n"
    )


def test_infinite_loop_times_out(vm: object) -> None:
    r = vm.run(["awk", "BEGIN { while (1) x++ }"], timeout=0.3)  # type: ignore[attr-defined]
    assert r.exit_code != 0


# --- streaming and processes ------------------------------------------------------------------
def test_streaming_exit_early(vm: object) -> None:
    r = vm.exec("yes | awk '{ print; exit }'")  # type: ignore[attr-defined]
    assert (r.exit_code, r.stdout) == (0, "y\n")
    r = vm.exec("seq 1 1000000000 | awk 'NR == 3 { print; exit }'")  # type: ignore[attr-defined]
    assert r.stdout == "3\n"


def test_sigpipe_downstream(vm: object) -> None:
    r = vm.exec("yes | awk '{ print }' | head -n 2")  # type: ignore[attr-defined]
    assert (r.exit_code, r.stdout) == (0, "y\ny\n")


def test_pipes_and_system(vm: object) -> None:
    r = vm.exec(
        'awk \'BEGIN { print "b" | "sort"; print "a" | "sort"; '  # type: ignore[attr-defined]
        'r = close("sort"); print "closed", r }\''
    )
    assert r.stdout == "a\nb\nclosed 0\n"
    r = vm.exec(
        'awk \'BEGIN { "echo x y" | getline; print $2; '  # type: ignore[attr-defined]
        '"echo z" | getline v; print v }\''
    )
    assert r.stdout == "y\nz\n"
    r = vm.exec('awk \'BEGIN { printf "1 "; s = system("echo 2; exit 4"); print s }\'')  # type: ignore[attr-defined]
    assert r.stdout == "1 2\n4\n"


# --- bytes ----------------------------------------------------------------------------------
def test_binary_passthrough(vm: object) -> None:
    data = b"a\x00b \xff\xfe\r\nlast"
    code, so, _ = run(vm, "{ print $0; print length($0), NF }", stdin=data)
    assert code == 0
    assert so == b"a\x00b \xff\xfe\r\n7 2\nlast\n4 1\n"


def test_utf8_locale_counts_characters(vm: object) -> None:
    env = dict(ENV, LC_ALL="C.UTF-8")
    code, so, _ = run(
        vm,
        "{ print length($0), toupper($0), substr($0, 2, 1) }",
        stdin="h\u00e9\xff".encode("utf-8", "surrogateescape")[:3] + b"\xff\n",
        env=env,
    )
    assert code == 0
    assert so == b"3 H\xc3\x89\xff \xc3\xa9\n"
    code, so, _ = run(vm, "{ print length($0) }", stdin="h\u00e9\n")
    assert so == b"3\n"


# --- regex translation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "ere,py",
    [
        ("[[:alpha:]]+", "[a-zA-Z]+"),
        ("a$", "a\\Z"),
        ("a**", "(?:a*)*"),
        ("a+?", "(?:a+)?"),
        ("{", "\\{"),
        ("a{2}", "a{2}"),
        ("\\.", "\\."),
        ("[a-]", "[a\\-]"),
        ("\\y", "\\b"),
    ],
)
def test_translate(ere: str, py: str) -> None:
    assert translate(ere) == py


def test_pipes_stream(vm: object) -> None:
    r = vm.exec(
        'awk \'BEGIN { while (("yes" | getline l) > 0) if (++n == 3) break; '  # type: ignore[attr-defined]
        'close("yes"); print n, l }\'',
        timeout=20,
    )
    assert (r.exit_code, r.stdout) == (0, "3 y\n")
    r = vm.exec(
        "awk 'BEGIN { for (i = 0; i < 20000; i++) print i | \"head -n 2\" }'",  # type: ignore[attr-defined]
        timeout=20,
    )
    assert (r.exit_code, r.stdout) == (0, "0\n1\n")


def test_pipe_output_before_stdout_at_exit(vm: object) -> None:
    r = vm.exec("printf 'b\\na\\n' | awk '{ print | \"sort\" } END { print \"end\" }'")  # type: ignore[attr-defined]
    assert r.stdout == "a\nb\nend\n"


# --- isolation ------------------------------------------------------------------------------
def test_program_text_is_data_not_python(vm: object) -> None:
    prog = (
        'BEGIN { s = "\\"); import os; os.system(\\"true\\"); (\\""; '
        "print s; __import__ = 1; print __import__ + 1 }"
    )
    assert out(vm, prog) == '"); import os; os.system("true"); ("\n2\n'


def test_files_come_from_the_vm(vm: object) -> None:
    vm.write_file("/work/only-in-vm.txt", b"vm data\n", parents=True)  # type: ignore[attr-defined]
    assert out(vm, 'BEGIN { getline l < "/work/only-in-vm.txt"; print l }') == "vm data\n"
    assert out(vm, 'BEGIN { print (getline l < "/nonexistent/x") }') == "-1\n"


def test_environ_is_the_exec_env(vm: object) -> None:
    assert out(vm, 'BEGIN { print ENVIRON["ONLY"] }', env={"ONLY": "here"}) == "here\n"
