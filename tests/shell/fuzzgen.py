"""A generator of bash scripts for fuzzing the shell, and the check of one run.

``script_for(seed)`` is deterministic: the same seed gives the same script on every machine.
A script is either drawn from a grammar of bash (words with quoting and every kind of
expansion, parameter operators, arithmetic, redirections, pipelines and lists, compound
commands, functions, traps, arrays, namerefs, here-documents), or a comparison case from
tests/shell/cases/ mutated (characters deleted, duplicated, swapped or inserted, fragments of
the grammar spliced in, lines of two cases crossed), or either of them mutated further.

``problem_of(...)`` says what is wrong with one run: an exception out of ``exec()``, an
"internal error" or a Python recursion error in the output, a status outside 0..255. A
bash-like error with a status is fine.

Used by tests/shell/test_fuzz.py (a small deterministic sample and the seeds that found bugs)
and by ``python -m bench.fuzz_shell`` (the long run).
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

CASES_DIR = Path(__file__).with_name("cases")

#: limits of one fuzz run: small, so an endless script ends quickly
LIMITS = {
    "timeout": 2.0,
    "max_commands": 2000,
    "max_loop_iterations": 2000,
    "max_call_depth": 200,
    "max_memory": 32 << 20,
    "max_output_bytes": 1 << 20,
    "max_processes": 64,
}
EXEC_TIMEOUT = 2.0
WORKDIR = "/home/user/work"

#: text in stderr that only an interpreter bug prints
BAD_TEXT = (
    b"internal error",
    b"maximum recursion depth",
    b"RecursionError",
    b"Traceback (most recent call last)",
)

# fmt: off
NAMES = ["a", "b", "x", "i", "n", "ref", "arr", "m", "IFS", "PATH", "_", "HOME", "PWD"]
SPECIAL = ["1", "2", "@", "*", "#", "?", "$", "!", "-", "0", "LINENO", "FUNCNAME",
           "BASH_SOURCE", "BASH_LINENO", "PIPESTATUS", "RANDOM", "BASH_COMMAND", "SECONDS",
           "OPTIND", "OPTARG", "PS4", "BASHPID", "UID", "EUID", "PPID", "SHLVL", "BASH_REMATCH"]
LITERALS = ["a", "b c", "", "-n", "-e", "--", "*", "?", "[a-z]", "~", "~/x", "~root", "f1",
            "dir/f", "1", "0", "-1", "99", "0x1f", "\\n", "%s", "%d", "%q", "%b", "=", "==",
            "!", "{a,b}", "{1..3}", "{a..c..2}", "a=b", "--help", "-z", "é", "\\", "x y z",
            "*.txt", "@(a|b)", "!(x)", "+(a)", "[[:alpha:]]", "[!a]", ":", "/", "//", ".."]
COMMANDS = ["echo", "printf", "true", "false", ":", "test", "[", "read", "cat", "seq", "tr",
            "wc", "sort", "head", "tail", "cut", "grep", "sed", "set", "shift", "local",
            "declare", "export", "unset", "eval", "exit", "return", "break", "continue", "cd",
            "pwd", "mkdir", "touch", "rm", "ls", "let", "shopt", "trap", "type", "command",
            "getopts", "mapfile", "readarray", "readonly", "typeset", "alias", "unalias", "hash",
            "umask", "source", ".", "exec", "wait", "nosuchcmd", "f", "g", "builtin", "enable",
            "printf -v x", "declare -n", "declare -a", "declare -A", "declare -i", "local -n",
            "pushd", "popd", "dirs", "kill", "jobs", "times", "ulimit", "compgen", "caller",
            "bash -c", "sh -c", "xargs", "tee", "uniq", "awk", "basename", "dirname", "env",
            "expr", "true |", "declare -p", "declare -f", "set -x;", "set -u;", "set -e;"]
PARAM_OPS = [":-", "-", ":=", "=", ":+", "+", ":?", "?", "#", "##", "%", "%%", "/", "//",
             "/#", "/%", "^", "^^", ",", ",,", "~", "~~", ":1", ":1:2", ": -1", ":0:-1",
             "@Q", "@U", "@L", "@u", "@A", "@a", "@E", "@P", "@K", "@k"]
ARITH = ["1+2", "i++", "++i", "x=5", "2**3", "1/0", "7%0", "a?b:c", "1<<63", "~0", "!x",
         "arr[1]", "x+=1", "(1", "0x10", "2#101", "64#@", "08", "i<3", "a,b", "x**-1",
         "-(-9223372036854775807-1)", "arr[i++]", "m[k]", "ref", "$x", "${#arr[@]}", "i--",
         "1?2", "x=y=3", "(a)=1", "2**63", "-2**63/-1", "9223372036854775807+1", "a[$i]",
         "$(echo 1)", "'1'", "1 2", "x>>=1", "x<<=70", "1e3"]
REDIRS = [">out", ">>out", "<out", "2>/dev/null", "2>&1", ">&2", "&>both", "&>>both", "<>rw",
          "3>f3", ">&3", "<&-", ">&-", ">|out", "0<nofile", "<<<word", "<<<\"$a b\"",
          ">/dev/null", "{fd}>fdf", ">&$fd", "9<&0", "1>&9", ">$a", "2>>\"$x\"", "< <(echo p)",
          "> >(cat)", ">/dev/full", "</dev/zero", ">~/h", "3<<<three"]
SUBSTS = ["$(echo hi)", "`echo x`", "$(false)", "$(seq 3)", "<(echo p)", "$(cat <<< z)",
          "${arr[@]}", "${arr[*]}", '"$@"', "$*", "${m[k]}", '"${arr[@]}"', "${!arr[@]}",
          "${#arr[@]}", "${arr[-1]}", "${arr[@]:1:2}", "${!a*}", "${!ref}", "$'\\x41\\n'",
          "$\"loc\"", "$((i))", "$[1+1]", "${a[@]/x/y}", "${*:2}", "${@: -1}", "$(<out)",
          "$( (echo sub) )", "$(exit 3)", "${a:-$(echo d)}", "${x:=${a:-q}}", "\"${a[*]:-e}\"",
          "${arr[@]@Q}", "${m[@]@K}", "${#}", "${##}", "${#x}", "${x@a}", "$$", "$BASHPID"]
TRAP_SIGS = ["EXIT", "ERR", "DEBUG", "RETURN", "INT", "TERM", "USR1", "HUP", "0", "CHLD"]
OPTIONS = ["-e", "-u", "-x", "-f", "-o pipefail", "-o noclobber", "-C", "-a", "-T", "-E", "-v",
           "+e", "-o posix", "-n"]
SHOPTS = ["extglob", "nullglob", "failglob", "globstar", "dotglob", "nocaseglob", "nocasematch",
          "lastpipe", "expand_aliases", "inherit_errexit", "xpg_echo", "globasciiranges"]
PUNCT = list("(){}[]<>|&;$`'\"\\#!*?~=\n \t-0@%^+:,./")
DOLLAR_QUOTED = ["\\t", "\\x41", "\\u263a", "\\udc00", "\\c@", "\\0", "\\'", "\\e", "\\777",
                 "a\\nb", "\\U0010ffff", "\\x"]
ARITH_OPS = ["+", "-", "*", "/", "%", "<<", ">>", "&&", "||", "==", "!=", "&", "|", "^", ",", "<",
             ">="]
ASSIGNED = ["a", "b", "x", "i", "n", "ref", "arr", "m", "IFS", "PS4", "OPTIND", "BASH_ARGV0",
            "PATH", "HOME", "LINENO", "RANDOM", "FUNCNAME", "SECONDS"]
SUBSCRIPTS = ["0", "1", "i", "k", "-1", "1 + 1", "$x", "@", "'q'", "a b", "10#9"]
DECL_FLAGS = ["", "-a ", "-A ", "-i ", "-n ", "-r ", "-x ", "-g ", "-p ", "-l ", "-u ", "+x ",
              "-f ", "-F "]
# fmt: on


class Grammar:
    """Draws bash text from one random source."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def pick(self, items: list[str]) -> str:
        return self.r.choice(items)

    def name(self) -> str:
        return self.pick(NAMES if self.r.random() < 0.75 else SPECIAL)

    def atom(self, depth: int) -> str:
        r = self.r
        k = r.randrange(14)
        if k == 0:
            return self.pick(LITERALS)
        if k == 1:
            return "$" + self.name()
        if k == 2:
            op = self.pick(PARAM_OPS)
            arg = "" if op.startswith("@") else self.inner_word(depth)
            sub = self.pick(["", "[1]", "[@]", "[*]", "[k]", "[-1]", "[i+1]", "['a b']"])
            return "${" + self.pick(["", "", "#", "!"]) + self.name() + sub + op + arg + "}"
        if k == 3:
            return "$((" + self.arith() + "))"
        if k == 4:
            return '"' + "".join(self.atom(depth + 1) for _ in range(r.randrange(3))) + '"'
        if k == 5:
            return "'" + self.pick(LITERALS).replace("'", "") + "'"
        if k == 6:
            return "$'" + self.pick(DOLLAR_QUOTED) + "'"
        if k == 7 and depth < 3:
            return (
                self.pick(["$(", "`", "<(", ">("])
                + self.command(depth + 1).replace("`", "")
                + self.pick([")", ")", "`"])
            )
        if k == 8:
            return self.pick(SUBSTS)
        if k == 9:
            return self.pick(["{", ""]) + ",".join(self.pick(LITERALS) for _ in range(2)) + "}"
        if k == 10:
            return "~" + self.pick(["", "/", "+", "-", "user", "root/x", "+1", "-0"])
        if k == 11:
            return "\\" + self.pick(PUNCT)
        if k == 12:
            return self.pick(["*", "?", "[ab]", "**/", "@(a|*)", "*(x)", "[[:digit:]]"])
        return self.pick(LITERALS) + self.pick(["", "=", ":", "/"])

    def inner_word(self, depth: int) -> str:
        return "".join(self.atom(depth + 2) for _ in range(self.r.randrange(2)))

    def word(self, depth: int = 0) -> str:
        return "".join(self.atom(depth) for _ in range(1 + self.r.randrange(3))) or "w"

    def arith(self) -> str:
        r = self.r
        parts = [self.pick(ARITH)]
        for _ in range(r.randrange(3)):
            parts.append(self.pick(ARITH_OPS))
            parts.append(self.pick(ARITH))
        return " ".join(parts)

    def assignment(self, depth: int) -> str:
        r = self.r
        k = r.randrange(6)
        n = self.pick(ASSIGNED)
        if k == 0:
            return n + "=(" + " ".join(self.word(depth) for _ in range(r.randrange(4))) + ")"
        if k == 1:
            return (
                n
                + "+=("
                + " ".join(
                    self.pick(["[1]=", "[k]=", "[-1]=", "['a b']=", ""]) + self.word(depth)
                    for _ in range(r.randrange(3))
                )
                + ")"
            )
        if k == 2:
            return n + "[" + self.pick(SUBSCRIPTS) + "]=" + self.word(depth)
        return n + self.pick(["=", "=", "+="]) + self.word(depth)

    def simple(self, depth: int) -> str:
        r = self.r
        k = r.randrange(12)
        if k == 0:
            return self.assignment(depth)
        if k == 1:
            return "((" + self.arith() + "))"
        if k == 2:
            op = self.pick(["==", "!=", "=~", "<", ">", "-eq", "-lt", "-nt", "-ef"])
            lhs = self.pick(["", "! ", "-z ", "-n ", "-v ", "-f ", "-d ", "-R "])
            expr = lhs + self.word(depth) + (" " + op + " " + self.word(depth) if not lhs else "")
            return "[[ " + expr + self.pick(["", " && -n x", " || ( a == b )"]) + " ]]"
        if k == 3:
            return (
                self.pick(["declare", "local", "typeset", "export", "readonly"])
                + " "
                + self.pick(DECL_FLAGS)
                + self.assignment(depth)
            )
        if k == 4:
            return (
                "trap "
                + self.quote(self.command(depth + 1))
                + " "
                + " ".join(self.pick(TRAP_SIGS) for _ in range(1 + r.randrange(2)))
            )
        if k == 5:
            return self.pick(["set ", "set -o ", "shopt -s ", "shopt -u "]) + (
                self.pick(OPTIONS) if r.random() < 0.5 else self.pick(SHOPTS)
            )
        if k == 6:
            return (
                "alias "
                + self.pick(["x", "ll", "if", "e"])
                + "="
                + self.quote(self.command(depth + 1) + self.pick(["", " ", " |", ";"]))
            )
        words = [self.pick(COMMANDS)]
        words += [self.word(depth) for _ in range(r.randrange(4))]
        words += [self.pick(REDIRS) for _ in range(r.choice([0, 0, 1, 2]))]
        pre = [self.assignment(depth) for _ in range(r.choice([0, 0, 0, 1]))]
        return " ".join(pre + words)

    def quote(self, text: str) -> str:
        if self.r.random() < 0.7:
            return "'" + text.replace("'", "") + "'"
        return '"' + text.replace('"', "").replace("\\", "") + '"'

    def heredoc(self, depth: int) -> str:
        tag = self.pick(["EOF", "'EOF'", '"EOF"', "E\\OF"])
        dash = self.pick(["<<", "<<-"])
        body = "\n".join(
            self.pick(["\t", ""]) + self.word(depth) + " " + self.word(depth)
            for _ in range(self.r.randrange(3))
        )
        end = "EOF" if self.r.random() < 0.9 else "EOX"
        return (
            f"{self.pick(['cat', 'read x', 'f', 'while read l; do echo $l; done'])} "
            f"{dash}{tag}\n{body}\n{self.pick(['', chr(9)]) if dash == '<<-' else ''}{end}"
        )

    def command(self, depth: int = 0) -> str:
        r = self.r
        if depth >= 4:
            return self.simple(depth)
        k = r.randrange(30)
        c = self.command
        if k < 10:
            return self.simple(depth)
        if k == 10:
            return " | ".join(c(depth + 1) for _ in range(2 + r.randrange(2)))
        if k == 11:
            return f"{c(depth + 1)} {self.pick(['&&', '||', ';', '&', '|&'])} {c(depth + 1)}"
        if k == 12:
            return "! " + c(depth + 1)
        if k == 13:
            return "{ " + c(depth + 1) + "; }" + self.pick(["", " >out", " 2>&1", " | cat"])
        if k == 14:
            return "( " + c(depth + 1) + " )"
        if k == 15:
            return (
                f"if {c(depth + 1)}; then {c(depth + 1)}; "
                + self.pick(["", f"elif {c(depth + 1)}; then :; "])
                + f"else {c(depth + 1)}; fi"
            )
        if k == 16:
            return f"for v in {self.word(depth)} 1 2; do {c(depth + 1)}; done"
        if k == 17:
            return f"for (({self.arith()}; i<3; i++)); do {c(depth + 1)}; done"
        if k == 18:
            return f"i=0; while (( i++ < 3 )); do {c(depth + 1)}; done"
        if k == 19:
            return f"until {c(depth + 1)}; do {self.pick(['break', 'continue 2', 'break 0'])}; done"
        if k == 20:
            return (
                f"case {self.word(depth)} in {self.pick(LITERALS)}|b*) {c(depth + 1)};; "
                f"@(x|y)) {c(depth + 1)};& *) {c(depth + 1)};;& esac"
            )
        if k == 21:
            fn = self.pick(["f", "g", "h", "echo", "cd"])
            body = c(depth + 1)
            return self.pick(
                [
                    f"{fn}() {{ {body}; }}",
                    f"function {fn} {{ {body}; }}",
                    f"{fn}() ( {body} )",
                    f"function {fn}() {{ local a=1 {fn}=2; "
                    f"{body}; return {self.pick(['', '3', '$x', '256'])}; }}",
                ]
            ) + self.pick(["", f"; {fn} a 'b c'", f"; {fn} | {fn}", f"; x=$({fn})"])
        if k == 22:
            return self.heredoc(depth)
        if k == 23:
            return (
                self.pick(["eval ", "bash -c ", "source /dev/stdin <<< ", "x=$("])
                + self.quote(c(depth + 1))
                + self.pick(["", ""])
            )
        if k == 24:
            return self.pick(
                [
                    "declare -n ref=a; ",
                    "declare -n ref=arr[1]; ",
                    "declare -n a=b b=a; ",
                    "local -n ref=ref; ",
                    "declare -n ref=m[k]; ",
                ]
            ) + c(depth + 1)
        if k == 25:
            return f"select s in a b; do {c(depth + 1)}; break; done <<< 1"
        if k == 26:
            return (
                f"[[ {self.word(depth)} =~ {self.pick(['^(a+)$', '(', '[', 'a|b', '.*'])} ]]"
                f' && echo "${{BASH_REMATCH[@]}}"'
            )
        if k == 27:
            return (
                f"coproc {c(depth + 1)}"
                if r.random() < 0.2
                else f"{c(depth + 1)} & wait {self.pick(['', '$!', '%1', '-n'])}"
            )
        if k == 28:
            return "time " + c(depth + 1) if r.random() < 0.3 else "exec " + self.pick(REDIRS)
        return f"{c(depth + 1)}\n{c(depth + 1)}"

    def script(self) -> str:
        return "\n".join(self.command() for _ in range(1 + self.r.randrange(4)))


@lru_cache(maxsize=1)
def case_scripts() -> tuple[str, ...]:
    """Every script of the comparison suite (known differences too), in file and case order."""
    out: list[str] = []
    for path in sorted(CASES_DIR.glob("*.txt")):
        body: list[str] | None = None
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith("### "):
                if body:
                    out.append("".join(body))
                body = []
            elif body is not None:
                body.append(line)
        if body:
            out.append("".join(body))
    return tuple(out)


def mutate(g: Grammar, text: str, rounds: int) -> str:
    r = g.r
    for _ in range(rounds):
        pos = r.randrange(len(text) + 1)
        kind = r.randrange(8)
        if kind == 0 and text:
            text = text[:pos] + text[pos + 1 :]
        elif kind == 1:
            end = min(len(text), pos + r.randrange(1, 12))
            text = text[:end] + text[pos:end] + text[end:]
        elif kind == 2:
            text = text[:pos] + g.pick(PUNCT) + text[pos:]
        elif kind == 3 and pos + 1 < len(text):
            text = text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
        elif kind == 4:
            text = text[:pos] + g.word(2) + text[pos:]
        elif kind == 5:
            text = text[:pos] + g.pick(["; ", "\n", " | ", " && "]) + g.command(2) + text[pos:]
        elif kind == 6:
            end = min(len(text), pos + r.randrange(1, 20))
            text = text[:pos] + text[end:]
        else:
            text = text[:pos]
    return text


def script_for(seed: int) -> str:
    """The fuzz script of one seed (deterministic)."""
    r = random.Random(seed)
    g = Grammar(r)
    k = r.randrange(10)
    if k < 5:
        return g.script()
    if k < 6:
        return mutate(g, g.script(), 1 + r.randrange(4))
    cases = case_scripts()
    text = r.choice(cases)
    if k == 9:  # cross two cases line by line
        other = r.choice(cases).splitlines(keepends=True)
        lines = text.splitlines(keepends=True)
        cut = r.randrange(len(lines) + 1)
        text = "".join(lines[:cut] + other[r.randrange(len(other) + 1) :])
    return mutate(g, text, 1 + r.randrange(5))


def problem_of(exit_code: object, stdout: object, stderr: object) -> str | None:
    """What is wrong with one run, or None: a bash-like error with a status is fine."""
    if not isinstance(exit_code, int) or not 0 <= exit_code <= 255:
        return f"status {exit_code!r} is not in 0..255"
    if not isinstance(stdout, bytes) or not isinstance(stderr, bytes):
        return "output is not bytes"
    for text in BAD_TEXT:
        at = stderr.find(text)
        if at >= 0:
            line_start = stderr.rfind(b"\n", 0, at) + 1
            line_end = stderr.find(b"\n", at)
            line = stderr[line_start : line_end if line_end >= 0 else None]
            return "stderr: " + line.decode("utf-8", "replace")[:300]
    return None
