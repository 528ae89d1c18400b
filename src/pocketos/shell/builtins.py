"""Shell builtins. Each is ``async def b(sh, argv) -> int`` and uses the shell's fd table."""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pocketos.shell.parser import ansi_c_decode
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_READONLY,
    ATTR_UPPER,
)

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import MiscShell, ShellIO
    from pocketos.shell.interp import Shell

Builtin = Callable[["Shell", list[str]], Awaitable[int]]
BUILTINS: dict[str, Builtin] = {}
SPECIAL_BUILTINS = frozenset(
    [
        "break",
        ":",
        ".",
        "continue",
        "eval",
        "exec",
        "exit",
        "export",
        "readonly",
        "return",
        "set",
        "shift",
        "trap",
        "unset",
        "source",
    ]
)
KEYWORDS = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "case",
        "esac",
        "for",
        "select",
        "while",
        "until",
        "do",
        "done",
        "in",
        "function",
        "time",
        "{",
        "}",
        "!",
        "[[",
        "]]",
        "coproc",
    ]
)
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


#: a builtin typed against its family's interface (``builtin_api.py``)
_Fn = TypeVar("_Fn", bound=Callable[..., Awaitable[int]])


def builtin(*names: str) -> Callable[[_Fn], _Fn]:
    """Register a builtin under ``names``. It keeps its own type (its family's interface,
    which ``builtin_api._shell_fits`` checks ``Shell`` against)."""

    def deco(fn: _Fn) -> _Fn:
        for n in names:
            BUILTINS[n] = fn
        return fn

    return deco


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


async def _err(sh: ShellIO, msg: str) -> None:
    await sh.error(msg)


def attr_letters(attrs: int, value: Any) -> str:
    s = ""
    if attrs & ATTR_ARRAY or (isinstance(value, dict) and not attrs & ATTR_ASSOC):
        s += "a"
    if attrs & ATTR_ASSOC:
        s += "A"
    if attrs & ATTR_INTEGER:
        s += "i"
    if attrs & ATTR_LOWER:
        s += "l"
    if attrs & ATTR_READONLY:
        s += "r"
    if attrs & ATTR_UPPER:
        s += "u"
    if attrs & ATTR_EXPORT:
        s += "x"
    return s


# --- trivial --------------------------------------------------------------------------------
@builtin(":", "true")
async def b_true(sh: MiscShell, argv: list[str]) -> int:
    return 0


@builtin("false")
async def b_false(sh: MiscShell, argv: list[str]) -> int:
    return 1


@builtin("echo")
async def b_echo(sh: MiscShell, argv: list[str]) -> int:
    args = argv[1:]
    newline = True
    interp = sh.shopt.xpg_echo
    i = 0
    while i < len(args):
        a = args[i]
        if len(a) > 1 and a[0] == "-" and all(c in "neE" for c in a[1:]):
            for c in a[1:]:
                if c == "n":
                    newline = False
                elif c == "e":
                    interp = True
                else:
                    interp = False
            i += 1
        else:
            break
    text = " ".join(args[i:])
    if interp:
        text, stop = ansi_c_decode(text, echo_mode=True)
        if stop:
            newline = False
    if newline:
        text += "\n"
    await sh.write_out(text)
    return 0


@builtin("printf")
async def b_printf(sh: MiscShell, argv: list[str]) -> int:
    from pocketos.shell.printf import format_printf

    args = argv[1:]
    var = None
    if args and args[0] == "--help":
        await sh.write_out("printf: printf [-v var] format [arguments]\n")
        return 0
    while args and args[0].startswith("-") and args[0] != "-":
        if args[0] == "--":
            args = args[1:]
            break
        if args[0] == "-v":
            if len(args) < 2:
                await _err(sh, "printf: -v: option requires an argument")
                return 2
            var = args[1]
            args = args[2:]
            continue
        if args[0].startswith("-v"):
            var = args[0][2:]
            args = args[1:]
            continue
        await _err(sh, f"printf: {args[0][:2]}: invalid option")
        await sh.write_err("printf: usage: printf [-v var] format [arguments]\n")
        return 2
    if not args:
        await sh.write_err("printf: usage: printf [-v var] format [arguments]\n")
        return 2
    out, errors, status = format_printf(args[0], args[1:])
    for e in errors:
        await _err(sh, f"printf: {e}")
    if var is not None:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", var)
        if not m:
            await _err(sh, f"printf: `{var}': not a valid identifier")
            return 2
        idx = m.group(2)
        key = await sh.subscript_key(m.group(1), idx) if idx is not None else None
        sh.assign_var(m.group(1), out, index=key)
    else:
        await sh.write_out(out)
    return status


def _func_text(f: Any) -> str:
    from pocketos.shell.printer import format_function

    return format_function(f)


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


# --- getopts ----------------------------------------------------------------------------------
def _c_atoi(text: str) -> int:
    """C's atoi: optional blanks and sign, then leading digits; anything else counts as 0."""
    m = re.match(r"\s*([-+]?\d+)", text)
    return int(m.group(1)) if m else 0


@builtin("getopts")
async def b_getopts(sh: MiscShell, argv: list[str]) -> int:
    if len(argv) < 3:
        await _err(sh, "getopts: usage: getopts optstring name [arg ...]")
        return 2
    name = argv[2]
    out: list[str] = []
    status = await _getopts(sh, argv, out)
    if out:
        # like bash: the option is consumed (OPTIND moves) before the name is checked
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is None:
            await _err(sh, f"getopts: `{name}': not a valid identifier")
            return 1
        sh.assign_var(name, out[-1])
    return status


async def _getopts(sh: MiscShell, argv: list[str], out: list[str]) -> int:
    """One step of getopts; the value for the name variable is appended to ``out``."""
    spec = argv[1]
    args = argv[3:] if len(argv) > 3 else list(sh.positional)
    quiet = spec.startswith(":")
    if quiet:
        spec = spec[1:]
    # OPTERR=0 turns the diagnostics off but, unlike a leading ':', keeps the '?' results
    loud = not quiet and _c_atoi(sh.get_str("OPTERR") or "1") != 0
    try:
        optind = int(sh.get_str("OPTIND") or "1")
    except ValueError:
        optind = 1
    last_ind, pos = sh.getopts_state
    if last_ind != optind:
        pos = 0
    if optind < 1:
        optind = 1
    if optind > len(args):
        out.append("?")
        sh.getopts_state = (optind, 0)
        return 1
    arg = args[optind - 1]
    if pos == 0:
        if arg == "--":
            sh.assign_var("OPTIND", str(optind + 1))
            out.append("?")
            sh.getopts_state = (optind + 1, 0)
            return 1
        if not arg.startswith("-") or arg == "-":
            out.append("?")
            return 1
        pos = 1
    c = arg[pos]
    pos += 1
    sh.unset_var("OPTARG") if "OPTARG" in sh.vars else None

    def advance() -> None:
        nonlocal optind, pos
        if pos >= len(arg):
            optind += 1
            pos = 0

    idx = spec.find(c)
    if idx < 0 or c == ":":
        if quiet:
            sh.assign_var("OPTARG", c)
        elif loud:
            await sh.write_err(f"{sh.argv0}: illegal option -- {c}\n")
        out.append("?")
        advance()
    elif idx + 1 < len(spec) and spec[idx + 1] == ":":
        if pos < len(arg):
            sh.assign_var("OPTARG", arg[pos:])
            optind += 1
            pos = 0
            out.append(c)
        elif optind < len(args):
            sh.assign_var("OPTARG", args[optind])
            optind += 2
            pos = 0
            out.append(c)
        else:
            optind += 1
            pos = 0
            if quiet:
                out.append(":")
                sh.assign_var("OPTARG", c)
            else:
                if loud:
                    await sh.write_err(f"{sh.argv0}: option requires an argument -- {c}\n")
                out.append("?")
    else:
        out.append(c)
        advance()
    sh.assign_var("OPTIND", str(optind))
    sh.getopts_state = (optind, pos)
    return 0


# --- misc -------------------------------------------------------------------------------------
@builtin("test", "[")
async def b_test(sh: MiscShell, argv: list[str]) -> int:
    from pocketos.shell.testexpr import evaluate_test

    st, err = evaluate_test(
        argv[1:],
        sh.fs.with_cwd(sh.cwd),
        name=argv[0],
        is_set=sh.var_isset,
        option_on=lambda o: o in sh.opts and sh.opts.get(o),
        isatty=sh.fd_isatty,
    )
    if err:
        await _err(sh, err)
    return st


@builtin("umask")
async def b_umask(sh: MiscShell, argv: list[str]) -> int:
    args = argv[1:]
    sym = False
    if args and args[0] == "-S":
        sym = True
        args = args[1:]
    if args and args[0] == "-p":
        await sh.write_out(f"umask {sh.umask_value:04o}\n")
        return 0
    if not args:
        if sym:
            perms = []
            for who, shift in (("u", 6), ("g", 3), ("o", 0)):
                bits = (~sh.umask_value >> shift) & 7
                perms.append(
                    who
                    + "="
                    + ("r" if bits & 4 else "")
                    + ("w" if bits & 2 else "")
                    + ("x" if bits & 1 else "")
                )
            await sh.write_out(",".join(perms) + "\n")
        else:
            await sh.write_out(f"{sh.umask_value:04o}\n")
        return 0
    spec = args[0]
    if spec and spec[0].isdigit():
        try:
            sh.umask_value = int(spec, 8) & 0o777
        except ValueError:
            await _err(sh, f"umask: {spec}: octal number out of range")
            return 1
        return 0
    mode_bits = ~sh.umask_value & 0o777
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)([=+-])([rwx]*)", clause)
        if not m:
            await _err(sh, f"umask: `{clause[-1:] or spec}': invalid symbolic mode operator")
            return 1
        who = m.group(1) or "a"
        bits = (
            (4 if "r" in m.group(3) else 0)
            | (2 if "w" in m.group(3) else 0)
            | (1 if "x" in m.group(3) else 0)
        )
        for w, shift in (("u", 6), ("g", 3), ("o", 0)):
            if w in who or "a" in who:
                mask = 7 << shift
                if m.group(2) == "=":
                    mode_bits = (mode_bits & ~mask) | (bits << shift)
                elif m.group(2) == "+":
                    mode_bits |= bits << shift
                else:
                    mode_bits &= ~(bits << shift)
    sh.umask_value = ~mode_bits & 0o777
    return 0


@builtin("times")
async def b_times(sh: MiscShell, argv: list[str]) -> int:
    t = time.process_time()
    m, s = divmod(t, 60)
    await sh.write_out(f"{int(m)}m{s:.3f}s 0m0.000s\n0m0.000s 0m0.000s\n")
    return 0


@builtin("help")
async def b_help(sh: MiscShell, argv: list[str]) -> int:
    names = sorted(all_builtins())
    if len(argv) > 1:
        found = [n for n in argv[1:] if n in BUILTINS]
        if not found:
            await _err(
                sh,
                f"help: no help topics match `{argv[1]}'.  Try `help help' or "
                f"`man -k {argv[1]}' or `info {argv[1]}'.",
            )
            return 1
        for n in found:
            await sh.write_out(f"{n}: {n} [args]\n    Shell builtin.\n")
        return 0
    await sh.write_out(
        "pocketos bash-compatible shell. Builtins:\n" + "".join(f"  {n}\n" for n in names)
    )
    return 0


#: builtins of an interactive bash that do (almost) nothing here (``builtins_jobs.b_misc``)
JOBS_MISC = (
    "disown",
    "suspend",
    "logout",
    "fc",
    "history",
    "bind",
    "complete",
    "compgen",
    "compopt",
    "ulimit",
    "caller",
)

#: the builtins of each family module (``pocketos.shell.builtins_<family>``), which registers
#: them when it is imported: on the first use of one of them, so that a script loads only the
#: families it uses
FAMILIES: dict[str, tuple[str, ...]] = {
    "dirs": ("pwd", "cd", "pushd", "popd", "dirs"),
    "flow": (
        "exit",
        "return",
        "break",
        "continue",
        "eval",
        "source",
        ".",
        "exec",
        "builtin",
        "command",
        "type",
        "hash",
        "alias",
        "unalias",
        "enable",
    ),
    "jobs": ("trap", "wait", "jobs", "kill", "fg", "bg", *JOBS_MISC),
    "read": ("read", "mapfile", "readarray"),
    "vars": (
        "declare",
        "typeset",
        "local",
        "export",
        "readonly",
        "unset",
        "let",
        "shift",
        "set",
        "shopt",
    ),
}
_FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}


def lookup(name: str) -> Builtin | None:
    """The builtin ``name`` (its family is imported on first use), or None."""
    fn = BUILTINS.get(name)
    if fn is None and name in _FAMILY_OF:
        importlib.import_module("pocketos.shell.builtins_" + _FAMILY_OF[name])
        fn = BUILTINS.get(name)
    return fn


def is_builtin(name: str) -> bool:
    return name in BUILTINS or name in _FAMILY_OF


def all_builtins() -> dict[str, Builtin]:
    """Every builtin, by name (all the families imported)."""
    for family in FAMILIES:
        importlib.import_module("pocketos.shell.builtins_" + family)
    return BUILTINS
