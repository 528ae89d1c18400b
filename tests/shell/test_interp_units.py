"""Unit tests of the shell: parser, arithmetic, patterns, the Shell API, limits, the bash
command and behaviour that only exists inside a VM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pocketos.shell  # noqa: F401  (registers bash/sh)
from pocketos import VM
from pocketos._loop import run_sync
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, BytesSource
from pocketos.shell import pattern
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.ast import ArithFor, Case, FuncDef, If, Simple
from pocketos.shell.interp import Shell
from pocketos.shell.parser import ShellSyntaxError, parse


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    v = VM()
    v.mkdir("/work", parents=True, exist_ok=True)
    yield v
    v.close()


def sh(vm: VM, script: str, **kw: object) -> tuple[int, str, str]:
    r = vm.exec(script, cwd="/work", **kw)
    return r.exit_code, r.stdout, r.stderr


# --- parser ----------------------------------------------------------------------------------
def test_parse_builds_typed_nodes() -> None:
    s = parse(
        "if a; then b; fi\nf() { :; }\ncase x in y) z;; esac\nfor ((i=0;i<2;i++)); do :; done"
    )
    kinds = [type(item.node.first.cmds[0]) for item in s.items]
    assert kinds == [If, FuncDef, Case, ArithFor]


def test_parse_is_cached() -> None:
    assert parse("echo cached") is parse("echo cached")


def test_simple_word_fast_path() -> None:
    cmd = parse("echo hello").items[0].node.first.cmds[0]
    assert isinstance(cmd, Simple)
    assert [w.simple for w in cmd.words] == ["echo", "hello"]


@pytest.mark.parametrize(
    "src,msg,line",
    [
        ("if true; then echo; fi fi", "syntax error near unexpected token `fi'", 1),
        ("echo (", "syntax error near unexpected token `newline'", 1),
        ("if true; then", "syntax error: unexpected end of file", 2),
        ("echo a\nif\n", "syntax error: unexpected end of file", 3),
        ('echo "abc', "unexpected EOF while looking for matching `\"'", 1),
        ("a=(1 2; echo", "syntax error near unexpected token `;'", 1),
        ("echo ok\n)", "syntax error near unexpected token `)'", 2),
    ],
)
def test_syntax_errors(src: str, msg: str, line: int) -> None:
    with pytest.raises(ShellSyntaxError) as ei:
        parse(src)
    assert ei.value.message == msg
    assert ei.value.line == line


def test_syntax_error_message_and_status(vm: VM) -> None:
    assert sh(vm, "echo a\nif") == (
        2,
        "a\n",
        "bash: -c: line 3: syntax error: unexpected end of file\n",
    )
    assert sh(vm, "echo a; fi") == (
        2,
        "",
        "bash: -c: line 1: syntax error near unexpected token `fi'\n"
        "bash: -c: line 1: `echo a; fi'\n",
    )


# --- arithmetic --------------------------------------------------------------------------------
class _Env:
    def __init__(self) -> None:
        self.vars: dict[str, int] = {}

    def arith_get(self, name: str, index: str | None) -> int:
        return self.vars.get(name, 0)

    def arith_set(self, name: str, index: str | None, value: int) -> None:
        self.vars[name] = value


@pytest.mark.parametrize(
    "expr,value",
    [
        ("1+2*3", 7),
        ("(1+2)*3", 9),
        ("2**62", 2**62),
        ("2**63", -(2**63)),
        ("9223372036854775807+1", -(2**63)),
        ("-7/2", -3),
        ("-7%2", -1),
        ("7%-2", 1),
        ("16#ff", 255),
        ("0x1F", 31),
        ("017", 15),
        ("2#1010", 10),
        ("64#@", 62),
        ("64#_", 63),
        ("1<<70", 64),
        ("~0", -1),
        ("!5", 0),
        ("3>2 && 2>3", 0),
        ("0 || 7", 1),
        ("1 ? 2 : 3", 2),
        ("0 ? 2 : 3", 3),
        ("1, 2, 3", 3),
        ("5 & 3 | 8 ^ 1", 9),
    ],
)
def test_arith_values(expr: str, value: int) -> None:
    assert evaluate(expr, _Env()) == value


def test_arith_assignment_operators() -> None:
    env = _Env()
    assert evaluate("x = 5, x += 2, x *= 3, x -= 1, x /= 4, x <<= 2, x |= 1, x++, ++x", env) == 23
    assert env.vars["x"] == 23


@pytest.mark.parametrize(
    "expr,msg",
    [
        ("1+", '1+: syntax error: operand expected (error token is "+")'),
        ("1/0", '1/0: division by 0 (error token is "0")'),
        ("08", '08: value too great for base (error token is "08")'),
    ],
)
def test_arith_errors(expr: str, msg: str) -> None:
    with pytest.raises(ArithError) as ei:
        evaluate(expr, _Env())
    assert str(ei.value) == msg


# --- patterns ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pat,text,ok",
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "a.md", False),
        ("?", "x", True),
        ("[a-c]x", "bx", True),
        ("[!a-c]x", "bx", False),
        ("[[:digit:]]*", "1abc", True),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("@(a|b)c", "bc", True),
        ("!(*.txt)", "a.md", True),
        ("!(*.txt)", "a.txt", False),
        ("+(ab)", "abab", True),
        ("*(x)y", "y", True),
        ("?(a)b", "ab", True),
        ("[]]", "]", True),
    ],
)
def test_pattern_match(pat: str, text: str, ok: bool) -> None:
    assert pattern.match(pat, text) is ok


def test_glob_sorted_and_hidden(vm: VM) -> None:
    assert sh(
        vm,
        "mkdir -p g && cd g && touch b a .h C && echo * && echo .* && shopt -s dotglob && echo *",
    ) == (0, "C a b\n.h\n.h C a b\n", "")


def test_globstar(vm: VM) -> None:
    vm.write_file("/work/gs/x/y/f.sh", b"", parents=True)
    vm.write_file("/work/gs/top.sh", b"", parents=True)
    assert sh(vm, "cd gs; shopt -s globstar; echo **/*.sh; echo **") == (
        0,
        "top.sh x/y/f.sh\ntop.sh x x/y x/y/f.sh\n",
        "",
    )


def test_failglob(vm: VM) -> None:
    assert sh(vm, "shopt -s failglob; echo *.none; echo $?\necho next $?") == (
        0,
        "next 1\n",
        "bash: line 1: no match: *.none\n",
    )


# --- the Shell API -------------------------------------------------------------------------------
def test_shell_state_persists_across_runs(vm: VM) -> None:
    out = BytesSink()
    ctx = Context(
        vm.kernel,
        ["bash"],
        env={"HOME": "/home/user", "A": "1"},
        cwd="/",
        stdin=BytesSource(b""),
        stdout=out,
        stderr=BytesSink(),
    )
    shell = Shell(ctx)

    async def go() -> tuple[int, int]:
        a = await shell.run("x=41; f() { echo $((x+1)); }; cd /tmp; export B=2")
        b = await shell.run("f; pwd; false")
        return a, b

    assert run_sync(go()) == (0, 1)
    assert out.getvalue() == b"42\n/tmp\n"
    assert shell.cwd == "/tmp"
    assert shell.last_status == 1
    env = shell.exported_env()
    assert (env["A"], env["B"], env["PWD"]) == ("1", "2", "/tmp")


def test_keep_alive_defers_exit_trap(vm: VM) -> None:
    out = BytesSink()
    ctx = Context(
        vm.kernel, ["bash"], env={}, cwd="/", stdin=BytesSource(b""), stdout=out, stderr=BytesSink()
    )
    shell = Shell(ctx)
    shell.keep_alive = True

    async def go() -> int:
        await shell.run("trap 'echo bye' EXIT; echo one")
        await shell.run("echo two")
        return await shell.close()

    assert run_sync(go()) == 0
    assert out.getvalue() == b"one\ntwo\nbye\n"


def test_internal_error_becomes_status_2(vm: VM, monkeypatch: pytest.MonkeyPatch) -> None:
    from pocketos.shell import builtins

    async def boom(shell: object, argv: list[str]) -> int:
        raise KeyError("bug")

    monkeypatch.setitem(builtins.BUILTINS, "boom", boom)
    code, out, err = sh(vm, "echo before; boom; echo after")
    assert (code, out) == (2, "before\n")
    assert err == "bash: internal error: KeyError: 'bug'\n"


# --- limits --------------------------------------------------------------------------------------
def test_loop_limit(vm: VM) -> None:
    r = vm.exec("while true; do :; done", limits={"max_loop_iterations": 1000})
    assert r.limit_hit == "max_loop_iterations"
    assert r.exit_code != 0


def test_command_limit(vm: VM) -> None:
    r = vm.exec("for i in 1 2 3 4 5; do echo $i; done", limits={"max_commands": 3})
    assert r.limit_hit == "max_commands"
    assert r.stdout == "1\n2\n3\n"


def test_call_depth_limit(vm: VM) -> None:
    r = vm.exec("f() { f; }; f", limits={"max_call_depth": 50})
    assert r.limit_hit == "max_call_depth"


def test_source_size_limit(vm: VM) -> None:
    r = vm.exec("echo " + "x" * 200, limits={"max_source_bytes": 100})
    assert r.limit_hit == "max_source_bytes"
    assert r.stdout == ""


@pytest.mark.timeout(120)
def test_timeout_stops_busy_loop(vm: VM) -> None:
    r = vm.exec("while :; do :; done", timeout=0.3)
    assert r.limit_hit == "timeout"


# --- streaming -----------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_pipelines_stream(vm: VM) -> None:
    assert sh(vm, "yes | head -n 2; seq 1 1000000000 | head -n 1") == (0, "y\ny\n1\n", "")


def test_builtin_loop_into_closed_pipe_ends(vm: VM) -> None:
    assert sh(vm, "while true; do echo x; done | head -n 1; echo ${PIPESTATUS[@]}") == (
        0,
        "x\n141 0\n",
        "",
    )


# --- commands, files and fds ----------------------------------------------------------------------
def test_command_errors(vm: VM) -> None:
    vm.write_file("/work/noexec.sh", b"echo hi\n")
    vm.mkdir("/work/adir", exist_ok=True)
    code, out, err = sh(
        vm, "nope; echo $?; ./missing; echo $?; ./noexec.sh; echo $?; ./adir; echo $?"
    )
    assert out == "127\n127\n126\n126\n"
    assert err == (
        "bash: line 1: nope: command not found\n"
        "bash: line 1: ./missing: No such file or directory\n"
        "bash: line 1: ./noexec.sh: Permission denied\n"
        "bash: line 1: ./adir: Is a directory\n"
    )


def test_script_files_and_shebang(vm: VM) -> None:
    vm.write_file("/work/s.sh", b'#!/bin/bash\necho "$0 $# $1"\nexit 3\n')
    vm.chmod("/work/s.sh", 0o755)
    assert sh(vm, "/work/s.sh a b; echo $?; bash s.sh x") == (
        3,
        "/work/s.sh 2 a\n3\ns.sh 1 x\n",
        "",
    )


def test_bash_command_modes(vm: VM) -> None:
    r = vm.run(["bash", "-c", 'echo "$0:$1:$#"', "name", "arg"])
    assert (r.exit_code, r.stdout) == (0, "name:arg:1\n")
    r = vm.run(["bash", "-s", "p"], stdin=b'echo "from stdin $1"\n')
    assert r.stdout == "from stdin p\n"
    r = vm.run(["sh", "-e", "-c", "false; echo no"])
    assert (r.exit_code, r.stdout) == (1, "")
    r = vm.run(["bash", "-o", "pipefail", "-c", "false | true"])
    assert r.exit_code == 1
    r = vm.run(["bash", "--help"])
    assert r.exit_code == 0 and r.stdout.startswith("Usage:")
    r = vm.run(["bash", "-z"])
    assert (r.exit_code, r.stderr.splitlines()[0]) == (2, "bash: -z: invalid option")
    r = vm.run(["bash", "/work/none.sh"])
    assert (r.exit_code, r.stderr) == (127, "bash: /work/none.sh: No such file or directory\n")


def test_exec_redirections_persist(vm: VM) -> None:
    assert sh(
        vm,
        "exec 3>fd3.txt; echo one >&3; echo two >&3; exec 3>&-; cat fd3.txt; "
        "exec 4<fd3.txt; read -u 4 l; echo got $l",
    ) == (0, "one\ntwo\ngot one\n", "")


def test_dev_files(vm: VM) -> None:
    assert sh(
        vm,
        "echo in | { read l < /dev/stdin; echo $l; }; echo err > /dev/stderr; "
        "echo x > /dev/null; cat < /dev/null",
    ) == (0, "in\n", "err\n")


def test_process_substitution(vm: VM) -> None:
    assert sh(
        vm,
        "diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n') > /dev/null; echo $?; "
        "echo hello > >(tr a-z A-Z)",
    ) == (0, "1\nHELLO\n", "")


def test_background_jobs(vm: VM) -> None:
    assert sh(
        vm,
        "f() { echo bg; return 4; }; f & wait $!; echo $?; g() { return 5; }; g & "
        "wait %1; echo $?; wait; echo done",
    ) == (0, "bg\n4\n5\ndone\n", "")


@pytest.mark.timeout(120)
def test_leftover_jobs_are_cancelled(vm: VM) -> None:
    assert sh(vm, "sleep infinity & echo started")[1] == "started\n"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "job",
    [
        "sleep infinity > log 2>&1",
        "sleep infinity &>/dev/null",
        "{ sleep infinity; } >/dev/null 2>&1",
        "sleep infinity 2>&1 >&- | cat >/dev/null 2>&1",
    ],
)
def test_command_substitution_ends_without_jobs_writing_elsewhere(vm: VM, job: str) -> None:
    """``pid=$(server > log 2>&1 & echo $!)`` returns at once in bash: the substitution
    waits only for background jobs that may still write to its output."""
    script = f'x=$({job} & echo started); echo "[$x]"'
    assert sh(vm, script, timeout=60) == (0, "[started]\n", "")


def test_command_substitution_waits_for_jobs_writing_to_it(vm: VM) -> None:
    assert sh(vm, "x=$(echo a &); y=$( (sleep 0; echo b) & echo c); echo $x ${#y}") == (
        0,
        "a 3\n",
        "",
    )


@pytest.mark.parametrize(
    ("script", "err"),
    [
        ("set -u\nf() {\n  echo $x\n}\nf\necho after", "bash: line 3: x: unbound variable\n"),
        ("set -u\nf() {\n  g\n}\ng() {\n  : $z\n}\nf", "bash: line 6: z: unbound variable\n"),
        ("f() {\n  (( ${y:?no} ))\n}\n\nf", "bash: line 2: y: no\n"),
    ],
)
def test_fatal_expansion_error_in_function_names_its_line(vm: VM, script: str, err: str) -> None:
    """bash reports the line of the failing command, not of the call (bash 5.2 itself names
    the script ``environment`` there, which is why this is not a comparison case)."""
    assert sh(vm, script) == (127, "", err)


@pytest.mark.parametrize(
    ("script", "line", "quote"),
    [
        ("echo a\necho 'b\n\nc\nd", 2, "'"),
        ('echo a\necho "b\n\nc\nd', 2, '"'),
        ("echo a\necho `b\n\nc\nd", 2, "`"),
        ("echo a\necho $'b\n\nc\nd", 2, "'"),
        ("echo a\nx=$(echo 'q\n\nc)\nd", 2, "'"),
        ('f() {\n echo "x\n}\n', 2, '"'),
    ],
)
def test_unclosed_quote_names_the_line_it_opened_at(
    vm: VM, script: str, line: int, quote: str
) -> None:
    """As bash: ``bash: -c: line 2: unexpected EOF while looking for matching `''``."""
    msg = f"bash: -c: line {line}: unexpected EOF while looking for matching `{quote}'\n"
    status, out, err = sh(vm, script)
    assert (status, err) == (2, msg)


def test_set_x_trace(vm: VM) -> None:
    assert sh(vm, "set -x; echo 'a b' c; y=$(echo hi); PS4='> '; : $y") == (
        0,
        "a b c\n",
        "+ echo 'a b' c\n++ echo hi\n+ y=hi\n+ PS4='> '\n> : hi\n",
    )


def test_set_x_traces_conditionals(vm: VM) -> None:
    assert sh(vm, "set -x; x='a b'; [[ $x == a* && -n $x ]]; [[ ! -z x ]]; (( 1 + 2 ))") == (
        0,
        "",
        "+ x='a b'\n+ [[ a b == a* ]]\n+ [[ -n a b ]]\n+ [[ ! -z x ]]\n+ (( 1 + 2 ))\n",
    )


def test_read_variants(vm: VM) -> None:
    assert sh(
        vm,
        "printf 'k=v\\n' | { IFS== read -r k v; echo $k $v; }; "
        "read -N 2 two <<< abc; echo $two; read -t 1 -s -p '' q <<< quiet; echo $q; "
        "printf 'a b\\0c d\\0' | { read -d '' x; echo $x; }",
    ) == (0, "k v\nab\nquiet\na b\n", "")


def test_mapfile_and_printf_v(vm: VM) -> None:
    assert sh(
        vm, "mapfile -t -s 1 -n 2 a < <(seq 5); declare -p a; printf -v 'b[2]' %03d 7; echo ${b[2]}"
    ) == (0, 'declare -a a=([0]="2" [1]="3")\n007\n', "")


def test_special_parameters(vm: VM) -> None:
    code, out, _ = sh(
        vm,
        "echo $#; set -- a b; echo $# $@ $*; true & echo ${!:+bg}; "
        "echo $LINENO; f() { echo $FUNCNAME; }; f; echo ${PIPESTATUS[0]}; "
        "[[ $$ =~ ^[0-9]+$ ]] && echo pid",
    )
    assert out == "0\n2 a b a b\nbg\n1\nf\n0\npid\n"


def test_getopts_errors(vm: VM) -> None:
    assert sh(vm, "while getopts ':a:' o -x -a; do echo \"$o $OPTARG\"; done") == (
        0,
        "? x\n: a\n",
        "",
    )


def test_select(vm: VM) -> None:
    assert sh(vm, 'select v in x y; do echo "$REPLY:$v"; break; done', stdin="2\n") == (
        0,
        "2:y\n",
        "1) x\n2) y\n#? ",
    )


def test_umask_and_type(vm: VM) -> None:
    assert sh(
        vm, "umask 027; umask; type -t cat; type -t cd; type -t f; f() { :; }; type -t f"
    ) == (0, "0027\nfile\nbuiltin\nfunction\n", "")
