"""A generator of scripts that run the shell's fast paths, for differential tests against bash.

The shell runs some command substitutions without a subshell (``$(echo …)``, ``$(printf …)``,
``$(printf … | tr …)``, ``$(prog < file)``, ``$(< file)``) and remembers per syntax-tree node
what a command's text decides. Those shortcuts must change nothing bash-visible, so each
script runs them in a loop whose iterations change what they depend on: a function, alias or
builtin (``enable -n``) named like the command, ``PATH`` and ``hash``, ``IFS``, ``set -e``/
``-u``/``pipefail``, ``shopt``, traps, the current directory and the files read. The values are
printed with their status; ``$BASH_SUBSHELL`` and ``$BASHPID`` are compared, not printed.

``script_for(seed)`` is deterministic. ``python -m tests.shell.diffgen [--count N] [--seed S]
[--open]`` runs N scripts in bash and in a VM and prints each one whose stdout, stderr or
status differs (``--open``: with the changes known to differ still, in ``OPEN``).
"""

from __future__ import annotations

import argparse
import random
import sys

# fmt: off
#: values the loop variable ``v`` takes (spaces, glob characters, IFS characters, empty)
VALUES = ["a b", "x", "", " sp  ace ", "a:b c", "*", "-n", "%s", "A\\tB", "3"]

#: command substitutions that the shell may run without a subshell, or almost
SUBSTS = [
    "$(echo $i $v)", '$(echo "$v")', "$(echo -n $i)", '$(echo -e "t\\t$i")', "$(echo)",
    "$(printf '%s-' $i $v)", "$(printf '%s' \"$v\")", "$(printf %d \"$i\")",
    "$(printf '%s\\n' \"$v\" $i | tr a-z A-Z)", "$(echo \"$v\" | tr -d ' ')",
    "$(printf x | wc -c)", "$(echo $i | tr 0-9 a-j)", "$(tr a-z A-Z < f)", "$(wc -l < f)",
    "$(cat < f)", "$(< f)", "$(cat f)", "$(head -n 1 f)", "$(echo $BASH_SUBSHELL)",
    "$(f $i)", "$(g)", "$(echo $i; exit 4)", "$(exit $i)", "$(false)", "$(true)",
    "$(nosuch $i)", "$(trap 'echo trapped' EXIT; echo $i)", "$(set -e; false; echo after)",
    "$(v=changed; echo $v)", "$(IFS=:; echo $v)", "$(echo $(echo nested $i))",
    "`echo bq $i`", "$(type -t echo)", "$(type -t tr)", "$(echo $?)", "$(echo \"$@\")",
    "$(shopt -q xpg_echo && echo on || echo off)", "$(echo hi >&2)", "$(echo $i > out)",
    "$(printf -v y %s $i; echo $y)", "$(echo '\\n' \"$v\")", "$(echo ${v:-def} ${#v})",
    "$(echo $x)", "$(echo ${u-unset})", "$(printf '%s\\n' $v | tr -s ' ' ' ')",
    "$(echo *)", "$(echo $v$i)", "$(eval echo e$i)", "$(command echo c$i)",
    "$(builtin echo b$i)", "$(\\echo q$i)", "$(x=1 echo env$x)", "$(echo $i >/dev/null)",
]

#: statements that use a substitution ``S``
STMTS = [
    'x=S; echo "[$x] $?"', "echo [S]", 'x=S y=$?; echo "$x|$y"', "set -- S; echo $#",
    "[[ S == *1* ]] && echo match || echo no", "case S in *a*) echo has-a;; *) echo no-a;; esac",
    'echo "S" >> log', "for w in S; do echo \"<$w>\"; done", 'x="S"; echo "${#x}"',
    "echo S$i", 'declare d=S; echo "$d"', "(( ${#x} >= 0 )) && echo S",
]

#: changes between iterations of the loop
MUTATIONS = [
    'echo() { builtin echo "fn[$*]"; }', "unset -f echo", "printf() { builtin echo P; }",
    "unset -f printf", 'tr() { builtin echo "tr-fn $*"; }', "unset -f tr",
    "wc() { builtin echo wc-fn; }", "unset -f wc", "alias echo='echo alias'",
    "unalias echo 2>/dev/null", "alias tr='tr -d a'", "unalias -a", "enable -n echo",
    "enable echo", "enable -n printf", "enable printf", "PATH=/usr/bin:/bin", "hash -r", "hash tr", "IFS=:", "IFS=' '", "unset IFS", "IFS=", "set -e", "set +e",
    "set +u", "set -o pipefail", "set +o pipefail", "shopt -s xpg_echo",
    "shopt -u xpg_echo", "trap - ERR",
    "trap - DEBUG", "f() { echo \"f1 $*\"; }",
    "f() { printf 'f2<%s>' \"$@\"; }", "g() { return 3; }", "g() { echo g2; }",
    "cd d 2>/dev/null || cd ..", "rm -f f; printf 'new\\n' > f", "echo more >> f", "x=$i$i",
    "v='VAL'", "v=", "shopt -u nullglob", "set -f", "set +f",
    "shopt -s expand_aliases", "shopt -u expand_aliases", "set -- p q r", "shift",
    "unset x", "local x=1 2>/dev/null", "set -u", "trap 'echo dbg' DEBUG",
    "readonly v 2>/dev/null", "((i == 2)) && break",
    "((i == 2)) && continue", "return 2>/dev/null", "(exit 5)", "false", "true",
]

#: changes that still make the VM differ from bash (differences found and not fixed yet):
#: the VM finds its commands whatever ``PATH`` says; with ``nullglob``, ``[]`` (from
#: ``[$(false)]``) is not taken for a pattern; an ``ERR`` trap set inside a function does not
#: run there
OPEN = ["PATH=/nowhere", "shopt -s nullglob", "trap 'echo err-trap' ERR"]

PRELUDES = [
    "shopt -s expand_aliases", "set -- a b", "trap 'echo bye $?' EXIT", "set -e",
    "f() { echo \"f $*\"; }", "g() { echo g; }", "alias e=echo", "IFS=:", "set -u",
    "shopt -s inherit_errexit", "set -o pipefail", "x=pre", "trap 'echo err-trap' ERR",
]
# fmt: on

SETUP = "mkdir -p w/d; cd w; printf 'l1\\nl2 x\\n' > f; printf 'in d\\n' > d/f; v='a b'"


def script_for(seed: int, open_too: bool = False) -> str:
    """The script of one seed (deterministic); with ``open_too``, drawing from ``OPEN`` too."""
    r = random.Random(seed)
    mutations = MUTATIONS + OPEN if open_too else MUTATIONS
    pre = r.sample(PRELUDES, r.randrange(3))
    if 'f() { echo "f $*"; }' not in pre:
        pre.append('f() { echo "f $*"; }')
    values = " ".join("'" + v.replace("'", "") + "'" for v in r.sample(VALUES, 2))
    body: list[str] = []
    for _ in range(1 + r.randrange(3)):
        stmt = r.choice(STMTS).replace("S", r.choice(SUBSTS), 1)
        body.append(stmt)
        if r.random() < 0.7:
            body.append(r.choice(mutations))
    r.shuffle(body)
    loop_head = r.choice(["for i in 1 2 3; do", "i=0; while (( i++ < 3 )); do"])
    inner = "\n  ".join(body)
    kind = r.randrange(4)
    if kind == 0:  # the body in a function, with locals
        lines = [
            "h() {",
            "  local x v=$1",
            f"  {inner}",
            "}",
            f'{loop_head} h "$i"; echo "h=$?"; done',
        ]
    elif kind == 1:  # each iteration's value from the list
        lines = [f"for v in {values}; do i=$((${{i:-0}} + 1))", f"  {inner}", "done"]
    else:
        lines = [loop_head, f"  {inner}", "done"]
    tail = r.choice(
        [
            'echo "end $?"',
            'cat log 2>/dev/null; echo "end $?"',
            '[ "$(echo $BASHPID)" = "$BASHPID" ] && echo same-pid || echo new-pid',
            'echo "sub=$BASH_SUBSHELL $(echo $BASH_SUBSHELL $(echo $BASH_SUBSHELL))"',
        ]
    )
    return "\n".join([SETUP, *pre, *lines, tail]) + "\n"


def difference(script: str) -> str | None:
    """How the VM's run of ``script`` differs from bash's (stdout, stderr, status), or None.
    bash 5.2 names the script ``environment`` in the messages of a function that a ``-c``
    string defined (a bug of that release, which the VM does not copy)."""
    from tests.shell.test_bash_compat import run_bash, run_vm

    want, got = run_bash(script), run_vm(script)
    want_err = want.stderr.replace(b"environment: line ", b"bash: line ")
    if (want.status, want.stdout, want_err) == (got.status, got.stdout, got.stderr):
        return None
    return (
        f"--- script ---\n{script}--- bash ---\nstatus {want.status}\nstdout {want.stdout!r}\n"
        f"stderr {want.stderr!r}\n--- vm ---\nstatus {got.status}\nstdout {got.stdout!r}\n"
        f"stderr {got.stderr!r}"
    )


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(prog="python -m tests.shell.diffgen")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, metavar="SEED", help="print the script of SEED")
    ap.add_argument("--open", action="store_true", help="draw from OPEN too")
    args = ap.parse_args(argv)
    if args.show is not None:
        print(script_for(args.show, args.open), end="")
        return 0
    bad = 0
    for seed in range(args.seed, args.seed + args.count):
        diff = difference(script_for(seed, args.open))
        if diff is not None:
            bad += 1
            print(f"=== seed {seed}\n{diff}")
    print(f"{args.count} scripts, {bad} differ", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
