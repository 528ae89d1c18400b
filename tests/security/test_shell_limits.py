"""Attacks on the shell interpreter itself: each one must end with a bash-like error or a named
limit, never an exception out of exec(), Python's recursion error, or a change to the host
process (such as its recursion limit)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from pocketos import VM
from tests._own_process import peak_while
from tests.security._util import assert_no_crash


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


@pytest.fixture
def low_recursion_limit() -> Iterator[int]:
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield 1000
    finally:
        sys.setrecursionlimit(saved)


def test_deep_recursion_leaves_the_host_recursion_limit_alone(
    vm: VM, low_recursion_limit: int
) -> None:
    script = "f() { if [ $1 -lt 990 ]; then f $(($1 + 1)); else echo deep $1; fi; }; f 0"
    r = vm.exec(script)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "deep 990\n", "")
    assert sys.getrecursionlimit() == low_recursion_limit


@pytest.mark.parametrize(
    "script",
    [
        "f() { x=$(f); }; f",
        "f() { eval f; }; f",
        "f() { f; }; f",
        "echo '. ./s.sh' > s.sh; . ./s.sh",
        'trap "kill -USR1 \\$\\$" USR1; kill -USR1 $$',
        "set -T; f() { :; }; g() { f; }; trap g RETURN; f; echo ok",
    ],
)
def test_runaway_nesting_stops_at_max_call_depth(
    vm: VM, script: str, low_recursion_limit: int
) -> None:
    r = vm.exec(f"cd /tmp; {script}", timeout=60)
    assert_no_crash(r)
    assert "recursion" not in r.stderr
    if r.limit_hit is not None:
        assert r.limit_hit == "max_call_depth"
    assert sys.getrecursionlimit() == low_recursion_limit


@pytest.mark.parametrize(
    "script",
    [
        "declare -n a=b b=a; echo $a",
        "declare -n a=a 2>/dev/null; echo $a",
        "set -x; PS4='+$(echo t) '; echo hi",
        "set -x; PS4='+${x'; echo hi",
        "f() { :; }; trap f RETURN; f",
        "echo -e '\\udc00'",
        "while break; do :; done",
    ],
)
def test_no_internal_error(vm: VM, script: str, low_recursion_limit: int) -> None:
    r = vm.exec(script, timeout=60)
    assert_no_crash(r)
    assert "recursion" not in r.stderr
    assert r.exit_code == 0


@pytest.mark.parametrize("sig", ["TERM", "USR1", "INT", "HUP"])
def test_a_child_killing_its_shell_is_a_status_not_an_exception(vm: VM, sig: str) -> None:
    r = vm.exec(f'sh -c "kill -{sig} $$"; echo never')
    assert_no_crash(r)
    assert r.stdout == ""
    assert r.exit_code == 128 + {"TERM": 15, "USR1": 10, "INT": 2, "HUP": 1}[sig]


def test_break_with_a_word_does_not_loop_forever(vm: VM) -> None:
    r = vm.exec("x=oops; while true; do break $x; done; echo never", timeout=60)
    assert (r.exit_code, r.stdout, r.limit_hit) == (128, "", None)


def test_function_pipeline_stages_count_as_processes(vm: VM) -> None:
    # two pipelines of functions nested 20 deep need ~40 processes
    script = "f() { if [ $1 -lt 20 ]; then f $(($1 + 1)) | cat; else echo bottom; fi; }; f 0"
    r = vm.exec(script, limits={"max_processes": 8})
    assert_no_crash(r)
    assert r.limit_hit == "max_processes"
    r = vm.exec(script)
    assert (r.exit_code, r.stdout, r.limit_hit) == (0, "bottom\n", None)
    assert [p for p in vm.list_processes() if p["status"] == "running"] == []


def test_background_bomb_in_subshells_leaves_nothing_running(vm: VM) -> None:
    r = vm.exec("b() { b | b & }; b; wait", timeout=30, limits={"max_processes": 16})
    assert_no_crash(r)
    assert [p for p in vm.list_processes() if p["status"] == "running"] == []
    r = vm.exec("echo ok")
    assert r.stdout == "ok\n"


MiB = 1024 * 1024


def _peak_of(vm: VM, script: str, **kw: object) -> tuple[object, int]:
    return peak_while(lambda: vm.exec(script, **kw))  # type: ignore[arg-type]


@pytest.mark.own_process
@pytest.mark.parametrize(
    "script",
    [
        "echo {1..100000000}",
        "echo x{1..100000000}y",
        "echo {a,b}{1..100000000}",
        "for i in {1..100000000}; do :; done",
        "x=({1..100000000})",
        "echo {1..10000}{1..10000}",
    ],
)
def test_huge_brace_expansion_is_refused_before_it_is_made(vm: VM, script: str) -> None:
    r, peak = _peak_of(vm, script, timeout=60, limits={"max_memory": 64 * MiB})
    assert_no_crash(r)
    assert (r.exit_code, r.limit_hit) == (125, "max_memory")  # type: ignore[attr-defined]
    assert peak < 64 * MiB


def test_a_million_word_brace_expansion_still_works(vm: VM) -> None:
    r = vm.exec("echo {1..1000000} | wc -c; x=(a{1..3}b); echo ${x[@]}")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "6888896\na1b a2b a3b\n", "")


@pytest.mark.own_process
def test_an_array_of_big_values_stops_at_max_memory(vm: VM) -> None:
    script = "a=x; for i in $(seq 20); do a=$a$a; done; for i in $(seq 1000); do b[i]=$a$i; done"
    r, peak = _peak_of(vm, script, timeout=60, limits={"max_memory": 32 * MiB})
    assert (r.exit_code, r.limit_hit) == (125, "max_memory")  # type: ignore[attr-defined]
    assert peak < 3 * 32 * MiB


def test_subshells_give_back_what_their_variables_held(vm: VM) -> None:
    script = (
        "a=x; for i in $(seq 20); do a=$a$a; done; "
        # 30 rounds of about 5 MiB each: a few kept would pass the 16 MiB limit (100 rounds
        # took 34 s of the 60 s timeout under load)
        "for i in $(seq 30); do (b=$a$a); c=$(d=$a$a; echo 1); echo $a | { f=$(cat)$a; }; done; "
        "b=$a; b=; echo ok"
    )
    r = vm.exec(script, timeout=60, limits={"max_memory": 16 * MiB})
    assert (r.exit_code, r.stdout, r.limit_hit) == (0, "ok\n", None)


AS = "x=$(printf 'a%.0s' {1..40})\n"


@pytest.mark.parametrize(
    ("script", "out"),
    [
        ("[[ $x == *a*a*a*a*a*a*a*a*b ]]; echo $?", "1\n"),
        ("[[ $x$x$x == *a*a*a*a*a*a*a*a*a*a*a*a*b ]]; echo $?", "1\n"),
        ("case $x in *a*a*a*a*a*a*a*a*b) echo yes;; *) echo no;; esac", "no\n"),
        ("shopt -s extglob\ncase $x in +(a|aa)b) echo yes;; *) echo no;; esac", "no\n"),
        ("shopt -s extglob\n[[ $x == *(a|aa|aaa)c ]]; echo $?", "1\n"),
        ("y=${x//*a*a*a*a*a*a*b/}; echo ${#y}", "40\n"),
        ("y=${x#*a*a*a*a*a*a*a*b}; echo ${#y}", "40\n"),
        ("y=${x%%*a*a*a*a*a*a*a*b}; echo ${#y}", "40\n"),
        ("shopt -s extglob\ny=${x//+(a|aa)b/}; echo ${#y}", "40\n"),
    ],
)
def test_backtracking_patterns_match_in_linear_time(vm: VM, script: str, out: str) -> None:
    r = vm.exec(AS + script, timeout=20)
    assert (r.exit_code, r.stdout, r.stderr, r.limit_hit) == (0, out, "", None)


def test_pattern_substitution_on_a_long_value_is_not_quadratic(vm: VM) -> None:
    script = "x=$(printf 'ab%.0s' {1..50000}); y=${x//?/c}; z=${x//b*([a])/}; echo ${#y} ${#z}"
    r = vm.exec(f"shopt -s extglob\n{script}", timeout=60)
    assert (r.exit_code, r.stdout, r.limit_hit) == (0, "100000 1\n", None)


# --- [[ =~ ]] --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regex",
    ["(a*)*b", "(a|aa)+b", "x.*x.*x.*y"],
)
def test_backtracking_regex_in_double_brackets_meets_the_timeout(vm: VM, regex: str) -> None:
    # hours on Python's re; the guarded match either finds there is no match or ends at the
    # exec's deadline
    vm.write_file("/tmp/rx_subject", b"a" * 5000 + b"x" * 5000)
    r = vm.exec(f"x=$(cat /tmp/rx_subject); [[ $x =~ {regex} ]]; echo $?", timeout=0.5)
    assert_no_crash(r)
    if r.limit_hit is None:
        assert (r.exit_code, r.stdout) == (0, "1\n"), r
    else:
        assert (r.exit_code, r.limit_hit) == (124, "timeout"), r
    r = vm.exec("[[ aab =~ (a*)*b ]] && echo ${BASH_REMATCH[0]}")
    assert (r.exit_code, r.stdout) == (0, "aab\n")


def test_double_bracket_regex_still_matches_like_bash(vm: VM) -> None:
    r = vm.exec(
        "x=$(printf 'a%.0s' {1..3000})b; [[ $x =~ (a+)+b$ ]] && echo ${#BASH_REMATCH[1]}; "
        "[[ foo.bar =~ ^([a-z]+)\\.([a-z]+)$ ]] && echo ${BASH_REMATCH[2]} ${BASH_REMATCH[1]}; "
        "[[ abc =~ 'a.c' ]] || echo literal; shopt -s nocasematch; [[ ABC =~ ^abc$ ]] && echo nc"
    )
    assert (r.exit_code, r.stdout) == (0, "3000\nbar foo\nliteral\nnc\n"), r
