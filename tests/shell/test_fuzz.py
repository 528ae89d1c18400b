"""Fuzzing the shell: generated and mutated scripts must never crash exec() or hang.

Scripts come from tests/shell/fuzzgen.py: a grammar of bash, and the comparison suite's cases
mutated. Each runs in a fresh VM with small limits. A run fails on an exception out of
``exec()``, "internal error" or a Python recursion error in its output, or a status outside
0..255; a bash-like error with a status is fine. ``python -m bench.fuzz_shell`` runs the long
job (100,000 scripts); the scripts it found bugs with are kept in FOUND below.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.shell.fuzzgen import EXEC_TIMEOUT, LIMITS, WORKDIR, problem_of, script_for


def _have_exec() -> bool:
    try:
        import pocketos.shell.interp  # noqa: F401
        from pocketos import VM  # noqa: F401
    except Exception:
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_exec(), reason="the VM shell is not available")

#: the deterministic sample the unit tests run (the long job runs seeds 0..99,999)
SAMPLE = range(300)

#: scripts python -m bench.fuzz_shell found bugs with (seed: what it was), kept as they were
FOUND = {
    # a bracket expression with an unclosed [: looped for ever in the glob compiler (hang)
    2150: "touch A1 b2 C3 _4; echo [[:upper:]]* [[:]]* 2>/dev/null; echo [[:alpha:]][[:digit:]]\n",
    12494: "*%b,[[:alpha]]}mkdir d1 d2; to}uch d1/x d2/ d1 d2\n",
    # ${a[*]=v} / ${a[@]=v}: int('*') (ValueError)
    513: "unset x ${m[*]=} y",
    2603: "OPTIND=x dirs ${x[@]=%s,[a-z]}} ~/",
    # an unclosed ${ or ` inside $(( )): ShellSyntaxError at expansion time
    496: "a=(3 1 2); s=0; for ((i = 0; i < ${#a[@];} i++)); do (( s += a[i] )); done; echo $s\n",
    866: "[[ $b\\` -eq \\@[ab]~-0 || ( a == b ) ]]\nset -o pipefail",
    3659: "echo $((; trap 'x=$(trap head \"$((1 , $(echo 1)))\" b' EXIT ))\n",
    # a variable that is no number in the condition of for (( )): ArithError
    9526: "for ((i=0; i<3; i++)); do i+=$'\\x41'; done",
    # $'\\udc00' (a lone surrogate) in an argument: UnicodeEncodeError in a command's message
    1449: "wc $'\\udc00' <<<\"$a b\"",
    18079: "grep {a=b,!}0=\\+ \"[ab]\"\\ \"\" $'\\udc00'$'\\'' 3<<<three",
    # a NUL in a word ($'\\c@', read, mapfile) reached the file system: ValueError
    6236: "pr$'\\c@'/x; echo eh$'\\c@'<(:)*o",
    53630: 'printf \'c\\0d\\n\' | { read y; "$y/x"; ls "$y"; cd "$y"; : > "$y"; }',
    # mapfile -n/-s/-O/-u with no number: ValueError
    61917: 'seq 1 10 | { mapfile -t -n [ -s 2 arr; echo "${arr[@]}"; }',
    77797: "mapfile -s 1-t lines < /dev/null; mapfile -O x a < /dev/null; mapfile -u y a",
    # an unclosed $( in the key of an associative array: ShellSyntaxError at expansion time
    39678: "declare -A m=([k]=v); echo ${#m[$((1)@)]}; echo ${m[$(echo k]}",
    # an invalid option of bash/sh that is not UTF-8 ($'\\777'): UnicodeEncodeError
    74447: "trap 'echo t' TERM; f() { sh -c$'\\777'%q,\\} \"kill -TERM $$\"; echo inf; }; f; echo z\n",
    # $ before a letter that is not ASCII: AssertionError in the parser
    92301: "( PS4+$IF4+$IFS$\u00e9{%b,\\} ); echo $\u00e9",
}


def run_checked(script: str) -> None:
    from pocketos import VM

    with VM(limits=LIMITS) as vm:
        vm.mkdir(WORKDIR, parents=True, exist_ok=True)
        r = vm.exec(script, cwd=WORKDIR, timeout=EXEC_TIMEOUT)
        problem = problem_of(r.exit_code, r.stdout_bytes, r.stderr_bytes)
    assert problem is None, f"{problem} for {script!r}"


def test_generator_is_deterministic() -> None:
    assert [script_for(s) for s in range(20)] == [script_for(s) for s in range(20)]
    assert len({script_for(s) for s in range(50)}) > 40


def test_check_catches_internal_errors() -> None:
    """The check is able to fail: what a crash looks like is a failure."""
    assert problem_of(2, b"", b"bash: internal error: ValueError: x\n")
    assert problem_of(2, b"", b"bash: maximum recursion depth exceeded\n")
    assert problem_of(256, b"", b"")
    assert problem_of(1, b"", b"bash: line 1: x: unbound variable\n") is None


@pytest.mark.parametrize("seed", SAMPLE)
def test_generated_script(seed: int) -> None:
    run_checked(script_for(seed))


@pytest.mark.parametrize("seed", sorted(FOUND))
def test_found_script(seed: int) -> None:
    run_checked(FOUND[seed])


@pytest.fixture(scope="module")
def vm() -> Iterator[object]:
    from pocketos import VM

    v = VM(limits=LIMITS)
    try:
        yield v
    finally:
        v.close()


@pytest.mark.parametrize(
    "script",
    [
        "while true; do :; done",
        "f() { f; }; f",
        "for ((;;)); do echo x; done | head -n 1",
        "x=$(seq 1 3000000)",
        "echo $((2**63)) ${x:?}",
        "cat <<EOF\nunterminated",
        "exec 3<&-; read -u 3 x",
        ": $(( ( ( ( ( ( ( ( ( ( 1 ) ) ) ) ) ) ) ) ) ))",
        "\x00\udcff$((",
        "a=(${a[@]} ${a[@]}); " * 20,
    ],
)
def test_pathological_scripts(vm: object, script: str) -> None:
    r = vm.exec(script, cwd="/home/user", timeout=EXEC_TIMEOUT)  # type: ignore[attr-defined]
    problem = problem_of(r.exit_code, r.stdout_bytes, r.stderr_bytes)
    assert problem is None, f"{problem} for {script!r}"
