"""Shell builtins. Each is ``async def b(sh, argv) -> int`` and uses the shell's fd table."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pocketos.kernel.streams import InputStream
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.parser import ShellSyntaxError, ansi_c_decode, parse
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_NAMEREF,
    ATTR_READONLY,
    ATTR_UPPER,
    BreakLoop,
    ContinueLoop,
    ExitShell,
    FatalError,
    ReturnFn,
    ShellError,
    Var,
    quote_word,
)

if TYPE_CHECKING:
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


def builtin(*names: str) -> Callable[[Builtin], Builtin]:
    def deco(fn: Builtin) -> Builtin:
        for n in names:
            BUILTINS[n] = fn
        return fn

    return deco


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


async def _err(sh: Shell, msg: str) -> None:
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
async def b_true(sh: Shell, argv: list[str]) -> int:
    return 0


@builtin("false")
async def b_false(sh: Shell, argv: list[str]) -> int:
    return 1


@builtin("echo")
async def b_echo(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    newline = True
    interp = sh.shopt["xpg_echo"]
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
async def b_printf(sh: Shell, argv: list[str]) -> int:
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


@builtin("pwd")
async def b_pwd(sh: Shell, argv: list[str]) -> int:
    for a in argv[1:]:
        if a == "-P":
            try:
                await sh.write_out(sh.fs.realpath(sh.cwd) + "\n")
                return 0
            except OSError:
                pass
        elif a not in ("-L",):
            await _err(sh, f"pwd: {a[:2]}: invalid option")
            await sh.write_err("pwd: usage: pwd [-LP]\n")
            return 2
    await sh.write_out(sh.cwd + "\n")
    return 0


@builtin("cd")
async def b_cd(sh: Shell, argv: list[str]) -> int:
    args = [a for a in argv[1:] if a not in ("-L", "-P", "-e", "-@")]
    if args and args[0] == "--":
        args = args[1:]
    if len(args) > 1:
        await _err(sh, "cd: too many arguments")
        return 1
    print_dir = False
    if not args:
        target = sh.get_str("HOME")
        if target is None:
            await _err(sh, "cd: HOME not set")
            return 1
    else:
        target = args[0]
        if target == "-":
            old = sh.get_str("OLDPWD")
            if old is None:
                await _err(sh, "cd: OLDPWD not set")
                return 1
            target = old
            print_dir = True
    if target == "":
        return 0
    path = None
    if not target.startswith("/") and not target.startswith(".") and sh.get_str("CDPATH"):
        for d in (sh.get_str("CDPATH") or "").split(":"):
            cand = (d.rstrip("/") + "/" + target) if d else target
            absc = cand if cand.startswith("/") else sh.cwd.rstrip("/") + "/" + cand
            if sh.fs.isdir(absc):
                path = absc
                if d:
                    print_dir = True
                break
    if path is None:
        path = target if target.startswith("/") else sh.cwd.rstrip("/") + "/" + target
    norm = _normpath(path)
    try:
        st = sh.fs.stat(norm)
        import stat as S

        if not S.S_ISDIR(st.st_mode):
            await _err(sh, f"cd: {target}: Not a directory")
            return 1
    except OSError as exc:
        from pocketos.shell.interp import _strerror

        await _err(sh, f"cd: {target}: {_strerror(exc)}")
        return 1
    old = sh.cwd
    sh.cwd = norm
    sh.fs = sh.fs.with_cwd(norm)
    sh.assign_var("OLDPWD", old)
    pv = sh.vars.get("PWD")
    if pv is not None and pv.attrs & ATTR_READONLY:
        pass
    else:
        sh.assign_var("PWD", norm)
    if pv is not None and pv.attrs & ATTR_EXPORT:
        sh._env_cache = None
    ov = sh.vars.get("OLDPWD")
    if ov is not None and ov.attrs & ATTR_EXPORT:
        sh._env_cache = None
    if print_dir:
        await sh.write_out(norm + "\n")
    return 0


def _normpath(p: str) -> str:
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


# --- variables --------------------------------------------------------------------------------
def _split_assign(arg: str) -> tuple[str, str | None, str | None, bool]:
    """``name[idx]+=value`` -> (name, idx, value, append)."""
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*?)\])?(\+?=)(.*)$", arg, re.DOTALL)
    if m:
        return m.group(1), m.group(2), m.group(4), m.group(3) == "+="
    m = re.match(r"([^=\[]*)(?:\[(.*)\])?$", arg, re.DOTALL)
    if m:
        return m.group(1), m.group(2), None, False
    return arg, None, None, False


async def _declare(sh: Shell, argv: list[str], cmd: str) -> int:
    args = argv[1:]
    on = 0
    off = 0
    print_mode = False
    funcs = False
    func_names = False
    global_ = False
    i = 0
    letters = {
        "x": ATTR_EXPORT,
        "r": ATTR_READONLY,
        "i": ATTR_INTEGER,
        "a": ATTR_ARRAY,
        "A": ATTR_ASSOC,
        "l": ATTR_LOWER,
        "u": ATTR_UPPER,
        "n": ATTR_NAMEREF,
    }
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if len(a) > 1 and a[0] in "-+" and not ("=" in a and a.index("=") < 2):
            for c in a[1:]:
                if c in letters:
                    if a[0] == "-":
                        on |= letters[c]
                    else:
                        off |= letters[c]
                elif c == "p":
                    print_mode = True
                elif c == "f":
                    funcs = True
                elif c == "F":
                    func_names = True
                elif c == "g":
                    global_ = True
                elif c == "t":
                    pass
                else:
                    await _err(sh, f"{cmd}: -{c}: invalid option")
                    await sh.write_err(
                        f"{cmd}: usage: {cmd} [-aAfFgiIlnrtux] [name[=value] ...]\n"
                        if cmd != "local"
                        else "local: usage: local [option] name[=value] ...\n"
                    )
                    return 2
            i += 1
            continue
        break
    names = args[i:]
    if cmd == "readonly":
        on |= ATTR_READONLY
    if cmd == "export":
        on |= ATTR_EXPORT
    if cmd == "local" and not sh.frames:
        await _err(sh, "local: can only be used in a function")
        return 1
    if funcs or func_names:
        status = 0
        targets = names or sorted(sh.functions)
        for n in targets:
            f = sh.functions.get(n)
            if f is None:
                status = 1
                continue
            if func_names:
                await sh.write_out(f"{n}\n" if names else f"declare -f {n}\n")
            else:
                await sh.write_out(_func_text(f) + "\n")
        return status
    if not names:
        if (
            print_mode
            or cmd in ("declare", "typeset", "readonly", "export")
            or (on and cmd != "local")
        ):
            await _print_vars(sh, cmd, on, print_mode)
            return 0
        return 0
    if print_mode:
        status = 0
        for n in names:
            v = sh.vars.get(n)
            if v is None:
                await _err(sh, f"{cmd}: {n}: not found")
                status = 1
                continue
            await sh.write_out(_declare_line(n, v) + "\n")
        return status
    status = 0
    local = (cmd in ("local", "declare", "typeset")) and bool(sh.frames) and not global_
    for arg in names:
        if arg == "-" and local:
            frame = sh.frames[-1]
            if "-" not in frame:
                frame["-"] = Var(dict(sh.opts))
            continue
        name, idx, value, append = _split_assign(arg)
        if not NAME_RE.match(name):
            await _err(sh, f"{cmd}: `{arg}': not a valid identifier")
            status = 1
            continue
        if local:
            sh.declare_local(name)
        v = sh.vars.get(name)
        if v is not None and v.attrs & ATTR_READONLY and (value is not None or off & ATTR_READONLY):
            await _err(
                sh,
                f"{cmd}: {name}: readonly variable"
                if value is not None
                else f"{cmd}: {name}: readonly variable",
            )
            status = 1
            continue
        if v is None:
            v = Var(None, 0)
            sh.vars[name] = v
        if on & ATTR_ASSOC and not v.attrs & ATTR_ASSOC:
            if isinstance(v.value, dict) and v.value:
                await _err(sh, f"{cmd}: {name}: cannot convert indexed to associative array")
                status = 1
                continue
            v.value = {} if v.value is None or isinstance(v.value, dict) else {"0": v.value}
        elif on & ATTR_ARRAY and not isinstance(v.value, dict):
            v.value = {} if v.value is None else {0: v.value}
        v.attrs = (v.attrs | (on & ~ATTR_READONLY)) & ~off
        if on & ATTR_LOWER:
            v.attrs &= ~ATTR_UPPER
        if on & ATTR_UPPER:
            v.attrs &= ~ATTR_LOWER
        if value is not None:
            if (
                value.startswith("(")
                and value.endswith(")")
                and idx is None
                and (
                    v.attrs & (ATTR_ARRAY | ATTR_ASSOC)
                    or isinstance(v.value, dict)
                    or cmd in ("declare", "typeset", "local")
                )
            ):
                try:
                    await _assign_array_text(sh, name, value[1:-1], append)
                except ShellError as e:
                    await _err(sh, f"{cmd}: {e.message}")
                    status = 1
            else:
                try:
                    key = await sh.subscript_key(name, idx) if idx is not None else None
                    sh.assign_var(name, value, index=key, append=append)
                except ShellError as e:
                    await _err(sh, e.message)
                    status = 1
        elif v.value is None and (on & ATTR_ARRAY):
            v.value = {}
        v = sh.vars.get(name, v)
        if on & ATTR_READONLY:
            v.attrs |= ATTR_READONLY
        if (on | off) & ATTR_EXPORT or v.attrs & ATTR_EXPORT:
            sh._env_cache = None
    return status


async def _assign_array_text(sh: Shell, name: str, inner: str, append: bool) -> None:
    from pocketos.shell.parser import Parser

    p = Parser(inner + ")")
    elems = p.read_array_elems()
    await sh.assign_array(name, elems, append)


def _func_text(f: Any) -> str:
    from pocketos.shell.printer import format_function

    return format_function(f)


def _declare_line(name: str, v: Var) -> str:
    flags = attr_letters(v.attrs, v.value) or "-"
    val = v.value
    if val is None:
        return f"declare -{flags} {name}"
    if isinstance(val, dict):
        if v.attrs & ATTR_ASSOC:
            body = "".join(
                f"[{quote_word(str(k)) if not re.fullmatch(r'[A-Za-z0-9_]+', str(k)) else k}]={_dq(x)} "
                for k, x in val.items()
            )
            return f"declare -{flags} {name}=({body})"
        body = " ".join(f"[{k}]={_dq(val[k])}" for k in sorted(val))
        return f"declare -{flags} {name}=({body})"
    return f"declare -{flags} {name}={_dq(val)}"


def _dq(s: str) -> str:
    if any(ord(c) < 32 for c in s) and s != "":
        return quote_word(s)
    return (
        '"'
        + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        + '"'
    )


async def _print_vars(sh: Shell, cmd: str, on: int, print_mode: bool) -> None:
    lines = []
    for name in sorted(sh.vars):
        v = sh.vars[name]
        if on and (v.attrs & on) != on:
            continue
        if cmd == "export" or (cmd == "declare" and on == ATTR_EXPORT):
            if not v.attrs & ATTR_EXPORT:
                continue
            if v.value is None:
                lines.append(f"declare -x {name}")
                continue
        if cmd == "readonly" and not v.attrs & ATTR_READONLY:
            continue
        if not print_mode and cmd in ("declare", "typeset") and not on:
            if v.value is None:
                continue
            if isinstance(v.value, dict):
                lines.append(
                    _declare_line(name, v)[
                        len("declare -" + (attr_letters(v.attrs, v.value) or "-") + " ") :
                    ]
                )
            else:
                lines.append(f"{name}={quote_word(v.value) if v.value else ''}")
            continue
        lines.append(_declare_line(name, v))
    await sh.write_out("".join(line + "\n" for line in lines))


@builtin("declare", "typeset")
async def b_declare(sh: Shell, argv: list[str]) -> int:
    return await _declare(sh, argv, argv[0])


@builtin("local")
async def b_local(sh: Shell, argv: list[str]) -> int:
    return await _declare(sh, argv, "local")


@builtin("export")
async def b_export(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "-n":
        for n in args[1:]:
            v = sh.vars.get(n)
            if v is not None:
                v.attrs &= ~ATTR_EXPORT
        sh._env_cache = None
        return 0
    if args and args[0] == "-f":
        return 0
    return await _declare(sh, argv, "export")


@builtin("readonly")
async def b_readonly(sh: Shell, argv: list[str]) -> int:
    return await _declare(sh, argv, "readonly")


@builtin("unset")
async def b_unset(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    mode = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        if args[0] == "--":
            args = args[1:]
            break
        for c in args[0][1:]:
            if c in "fvn":
                mode = c if c != "n" else mode
            else:
                await _err(sh, f"unset: -{c}: invalid option")
                await sh.write_err("unset: usage: unset [-f] [-v] [-n] [name ...]\n")
                return 2
        args = args[1:]
    status = 0
    for a in args:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", a)
        if not m:
            if mode == "v" or not a or "=" in a:
                await _err(sh, f"unset: `{a}': not a valid identifier")
                status = 1
            else:
                sh.functions.pop(a, None)
            continue
        name, idx = m.group(1), m.group(2)
        if mode == "f":
            sh.functions.pop(name, None)
            continue
        if mode != "v" and name not in sh.vars and name in sh.functions:
            sh.functions.pop(name, None)
            continue
        try:
            if idx is not None and idx not in ("@", "*"):
                key = await sh.subscript_key(name, idx)
                sh.unset_var(name, key)
            else:
                sh.unset_var(name)
        except ShellError as e:
            await _err(sh, f"unset: {e.message}")
            status = 1
    return status


@builtin("let")
async def b_let(sh: Shell, argv: list[str]) -> int:
    if len(argv) < 2:
        await _err(sh, "let: expression expected")
        return 1
    v = 0
    for expr in argv[1:]:
        try:
            v = evaluate(expr, sh)
        except ArithError as e:
            await _err(sh, f"let: {e}")
            return 1
        except ZeroDivisionError:
            await _err(sh, f"let: {expr}: division by 0")
            return 1
    return 0 if v else 1


@builtin("shift")
async def b_shift(sh: Shell, argv: list[str]) -> int:
    n = 1
    if len(argv) > 1:
        try:
            n = int(argv[1])
        except ValueError:
            await _err(sh, f"shift: {argv[1]}: numeric argument required")
            return 1
    if n < 0:
        await _err(sh, f"shift: {argv[1]}: shift count out of range")
        return 1
    if n > len(sh.positional):
        return 1
    sh.positional = sh.positional[n:]
    return 0


# --- set / shopt ----------------------------------------------------------------------------
@builtin("set")
async def b_set(sh: Shell, argv: list[str]) -> int:
    from pocketos.shell.interp import _OPTION_LETTERS

    args = argv[1:]
    if not args:
        for name in sorted(sh.vars):
            v = sh.vars[name]
            if v.value is None:
                continue
            if isinstance(v.value, dict):
                await sh.write_out(_declare_line(name, v).split(" ", 2)[2] + "\n")
            else:
                await sh.write_out(f"{name}={quote_word(v.value) if v.value else chr(39) * 2}\n")
        return 0
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            sh.positional = args[i + 1 :]
            return 0
        if a == "-":
            sh.opts["xtrace"] = False
            sh.opts["verbose"] = False
            if i + 1 < len(args):
                sh.positional = args[i + 1 :]
            return 0
        if a in ("-o", "+o"):
            if i + 1 >= len(args):
                for name in sorted(sh.opts):
                    if a == "-o":
                        await sh.write_out(f"{name:<15}\t{'on' if sh.opts[name] else 'off'}\n")
                    else:
                        await sh.write_out(f"set {'-' if sh.opts[name] else '+'}o {name}\n")
                return 0
            name = args[i + 1]
            if name not in sh.opts:
                await _err(sh, f"set: {name}: invalid option name")
                return 2
            sh.opts[name] = a == "-o"
            i += 2
            continue
        if len(a) > 1 and a[0] in "-+":
            takes_o = False
            for c in a[1:]:
                if c == "o":
                    takes_o = True
                    continue
                oname = _OPTION_LETTERS.get(c)
                if oname is None:
                    await _err(sh, f"set: {a[0]}{c}: invalid option")
                    await sh.write_err(
                        "set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name]"
                        " [--] [-] [arg ...]\n"
                    )
                    return 2
                sh.opts[oname] = a[0] == "-"
            i += 1
            if takes_o and i < len(args):
                if args[i] not in sh.opts:
                    await _err(sh, f"set: {args[i]}: invalid option name")
                    return 2
                sh.opts[args[i]] = a[0] == "-"
                i += 1
            continue
        sh.positional = args[i:]
        return 0
    return 0


@builtin("shopt")
async def b_shopt(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    mode = ""
    quiet = False
    o_mode = False
    pmode = False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        for c in args[0][1:]:
            if c in "su":
                mode = c
            elif c == "q":
                quiet = True
            elif c == "p":
                pmode = True
            elif c == "o":
                o_mode = True
            else:
                await _err(sh, f"shopt: -{c}: invalid option")
                await sh.write_err("shopt: usage: shopt [-pqsu] [-o] [optname ...]\n")
                return 2
        args = args[1:]
    table = sh.opts if o_mode else sh.shopt
    if not args:
        for name in sorted(table):
            val = table[name]
            if mode == "s" and not val or mode == "u" and val:
                continue
            if not quiet:
                await sh.write_out(
                    f"{name:<15}\t{'on' if val else 'off'}\n"
                    if not (mode or pmode)
                    else f"shopt -{'s' if val else 'u'} {name}\n"
                )
        return 0
    status = 0
    for name in args:
        if name not in table:
            await _err(sh, f"shopt: {name}: invalid shell option name")
            status = 1
            continue
        if mode == "s":
            table[name] = True
        elif mode == "u":
            table[name] = False
        else:
            if not table[name]:
                status = 1
            if not quiet:
                await sh.write_out(
                    f"shopt -{'s' if table[name] else 'u'} {name}\n"
                    if pmode
                    else f"{name:<15}\t{'on' if table[name] else 'off'}\n"
                )
    return status


# --- control flow -----------------------------------------------------------------------------
@builtin("exit")
async def b_exit(sh: Shell, argv: list[str]) -> int:
    if len(argv) > 2:
        await _err(sh, "exit: too many arguments")
        return 1
    status = sh.last_status
    if len(argv) == 2:
        try:
            status = int(argv[1]) & 0xFF
        except ValueError:
            await _err(sh, f"exit: {argv[1]}: numeric argument required")
            status = 2
    raise ExitShell(status)


@builtin("return")
async def b_return(sh: Shell, argv: list[str]) -> int:
    status = sh.last_status
    if len(argv) > 1:
        try:
            status = int(argv[1]) & 0xFF
        except ValueError:
            await _err(sh, f"return: {argv[1]}: numeric argument required")
            status = 2
    if not sh.funcnames and not sh.sourcing:
        await _err(sh, "return: can only `return' from a function or sourced script")
        return 2
    raise ReturnFn(status)


async def _loop_ctl(sh: Shell, argv: list[str], exc: type[Exception]) -> int:
    n = 1
    if len(argv) > 1:
        try:
            n = int(argv[1])
        except ValueError:
            # bash ends a non-interactive shell here (status 128); going on would turn
            # `break $x` into an endless loop
            raise FatalError(f"{argv[0]}: {argv[1]}: numeric argument required", 128) from None
        if len(argv) > 2:
            raise FatalError(f"{argv[0]}: too many arguments", 1)
        if n < 1:
            await _err(sh, f"{argv[0]}: {argv[1]}: loop count out of range")
            if sh.loop_depth:
                raise BreakLoop(1, 1)
            return 1
    if sh.loop_depth == 0:
        await _err(sh, f"{argv[0]}: only meaningful in a `for', `while', or `until' loop")
        return 0
    raise exc(min(n, sh.loop_depth))


@builtin("break")
async def b_break(sh: Shell, argv: list[str]) -> int:
    return await _loop_ctl(sh, argv, BreakLoop)


@builtin("continue")
async def b_continue(sh: Shell, argv: list[str]) -> int:
    return await _loop_ctl(sh, argv, ContinueLoop)


@builtin("eval")
async def b_eval(sh: Shell, argv: list[str]) -> int:
    src = " ".join(a for a in argv[1:])
    if argv[1:2] == ["--"]:
        src = " ".join(argv[2:])
    if not src.strip():
        return 0
    try:
        script = parse(src, sh.shopt["extglob"], first_line=max(sh.lineno, 1))
    except ShellSyntaxError as e:
        await sh.write_err(f"{sh.argv0}: eval: line {sh.lineno}: {e.message}\n")
        if e.source_line is not None:
            await sh.write_err(f"{sh.argv0}: eval: line {sh.lineno}: `{e.source_line}'\n")
        return 2
    sh.call_depth += 1
    try:
        sh.ctx.budget.call_depth(sh.call_depth)
        return await sh.nested(sh.exec_script(script))
    finally:
        sh.call_depth -= 1


@builtin("source", ".")
async def b_source(sh: Shell, argv: list[str]) -> int:
    if len(argv) < 2:
        await _err(sh, f"{argv[0]}: filename argument required")
        await sh.write_err(f"{argv[0]}: usage: {argv[0]} filename [arguments]\n")
        return 2
    name = argv[1]
    path = name
    if "/" not in name:
        found = None
        for d in (sh.get_str("PATH") or "").split(":"):
            cand = (d.rstrip("/") + "/" + name) if d else name
            absc = cand if cand.startswith("/") else sh._abs(cand)
            if sh.fs.isfile(absc) and not _is_stub(sh, absc):
                found = cand
                break
        path = found or name
    try:
        data = sh.fs.read_bytes(sh._abs(path))
    except OSError as exc:
        from pocketos.shell.interp import _strerror

        await _err(sh, f"{name}: {_strerror(exc)}")
        return 1
    src = data.decode("utf-8", "surrogateescape")
    script = None
    err = None
    try:
        script = parse(src, sh.shopt["extglob"])
    except ShellSyntaxError as e:
        err = e
    saved_pos = sh.positional
    if len(argv) > 2:
        sh.positional = argv[2:]
    sh.call_depth += 1
    sh.sourcing += 1
    try:
        sh.ctx.budget.call_depth(sh.call_depth)
        if script is None:
            assert err is not None
            status = await sh._run_incremental(src, err, where=name, fatal=False)
        else:
            status = await sh.nested(sh.exec_script(script))
    except ReturnFn as r:
        status = r.status
    finally:
        sh.sourcing -= 1
        sh.call_depth -= 1
        if len(argv) > 2:
            sh.positional = saved_pos
    if sh.traps.get("RETURN") and not sh.in_trap and (not sh.funcnames or sh.opts["functrace"]):
        await sh.run_trap("RETURN")
    return status


def _is_stub(sh: Shell, path: str) -> bool:
    from pocketos.kernel.base import STUB_PREFIX

    try:
        with sh.fs.open(path, "rb") as fh:
            return bool(fh.read(len(STUB_PREFIX)) == STUB_PREFIX)
    except OSError:
        return False


@builtin("exec")
async def b_exec(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    while args and args[0].startswith("-") and args[0] != "--" and len(args[0]) > 1:
        args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        # redirections persist
        sh._keep_fds = True
        return 0
    from pocketos.shell.ast import Simple, Word

    words = [Word([], a, a) for a in args]
    status = await sh._external(Simple([], words, [], sh.lineno), args)
    raise ExitShell(status)


@builtin("builtin")
async def b_builtin(sh: Shell, argv: list[str]) -> int:
    if len(argv) < 2:
        return 0
    fn = BUILTINS.get(argv[1])
    if fn is None:
        await _err(sh, f"builtin: {argv[1]}: not a shell builtin")
        return 1
    return await fn(sh, argv[1:])


@builtin("command")
async def b_command(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    mode = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        if args[0] == "--":
            args = args[1:]
            break
        for c in args[0][1:]:
            if c in "vV":
                mode = c
            elif c == "p":
                pass
            else:
                await _err(sh, f"command: -{c}: invalid option")
                await sh.write_err("command: usage: command [-pVv] command [arg ...]\n")
                return 2
        args = args[1:]
    if not args:
        return 0
    if mode:
        status = 0
        for name in args:
            kind, info = _classify(sh, name)
            if kind is None:
                if mode == "V":
                    await _err(sh, f"command: {name}: not found")
                status = 1
                continue
            if mode == "v":
                await sh.write_out((info if kind in ("file", "alias") else name) + "\n")
            else:
                await sh.write_out(_describe(name, kind, info) + "\n")
        return status
    fn = BUILTINS.get(args[0])
    if fn is not None:
        return await fn(sh, args)
    from pocketos.shell.ast import Simple, Word

    return await sh._external(Simple([], [Word([], a, a) for a in args], [], sh.lineno), args)


def _classify(sh: Shell, name: str) -> tuple[str | None, str]:
    if name in sh.aliases:
        return "alias", f"alias {name}={_q(sh.aliases[name])}"
    if name in KEYWORDS:
        return "keyword", ""
    if name in sh.functions:
        return "function", ""
    if name in BUILTINS:
        return "builtin", ""
    try:
        fn = sh.ctx.kernel.find_command(name, sh.exported_env(), sh.cwd)
    except OSError:
        return None, ""
    if fn is None:
        return None, ""
    if "/" in name:
        return "file", name
    for d in (sh.get_str("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":"):
        p = (d.rstrip("/") or "") + "/" + name
        if sh.fs.isfile(p):
            return "file", p
    return "file", "/usr/bin/" + name


def _describe(name: str, kind: str, info: str) -> str:
    if kind == "alias":
        return f"{name} is aliased to `{info.split('=', 1)[1][1:-1].replace(chr(39) + chr(92) + chr(39) * 2, chr(39)) if info else ''}'"
    if kind == "keyword":
        return f"{name} is a shell keyword"
    if kind == "function":
        return f"{name} is a function"
    if kind == "builtin":
        return f"{name} is a shell builtin"
    return f"{name} is {info}"


@builtin("type")
async def b_type(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    flag = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        for c in args[0][1:]:
            if c in "tpP":
                flag = c
            elif c in "af":
                pass
            else:
                await _err(sh, f"type: -{c}: invalid option")
                await sh.write_err("type: usage: type [-afptP] name [name ...]\n")
                return 2
        args = args[1:]
    status = 0
    for name in args:
        kind, info = _classify(sh, name)
        if kind is None:
            if not flag:
                await _err(sh, f"type: {name}: not found")
            status = 1
            continue
        if flag == "t":
            await sh.write_out(kind + "\n")
        elif flag in ("p", "P"):
            if kind == "file":
                await sh.write_out(info + "\n")
        else:
            text = _describe(name, kind, info)
            if kind == "function":
                text += "\n" + _func_text(sh.functions[name])
            await sh.write_out(text + "\n")
    return status


@builtin("hash")
async def b_hash(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "-r":
        sh.hash_table.clear()
        return 0
    if not args:
        if not sh.hash_table:
            await sh.write_out("hash: hash table empty\n")
        return 0
    status = 0
    for name in args:
        kind, info = _classify(sh, name)
        if kind != "file":
            if kind is None:
                await _err(sh, f"hash: {name}: not found")
                status = 1
            continue
        sh.hash_table[name] = info
    return status


@builtin("alias")
async def b_alias(sh: Shell, argv: list[str]) -> int:
    args = [a for a in argv[1:] if a != "-p"]
    if not args:
        for k in sorted(sh.aliases):
            await sh.write_out(f"alias {k}={_q(sh.aliases[k])}\n")
        return 0
    status = 0
    for a in args:
        if "=" in a:
            k, _, v = a.partition("=")
            sh.aliases[k] = v
        elif a in sh.aliases:
            await sh.write_out(f"alias {a}={_q(sh.aliases[a])}\n")
        else:
            await _err(sh, f"alias: {a}: not found")
            status = 1
    return status


@builtin("unalias")
async def b_unalias(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "-a":
        sh.aliases.clear()
        return 0
    status = 0
    for a in args:
        if sh.aliases.pop(a, None) is None:
            await _err(sh, f"unalias: {a}: not found")
            status = 1
    return status


# --- traps, jobs ------------------------------------------------------------------------------
_SIGNAMES = {
    "0": "EXIT",
    "1": "HUP",
    "2": "INT",
    "3": "QUIT",
    "9": "KILL",
    "13": "PIPE",
    "14": "ALRM",
    "15": "TERM",
    "10": "USR1",
    "12": "USR2",
}


def _sig_name(s: str) -> str | None:
    u = s.upper()
    if u.startswith("SIG"):
        u = u[3:]
    if u in _SIGNAMES:
        return _SIGNAMES[u]
    if (
        u in ("EXIT", "ERR", "DEBUG", "RETURN")
        or u in _SIGNAMES.values()
        or u in ("CHLD", "CONT", "STOP", "TSTP", "WINCH", "SEGV", "TTIN", "TTOU", "URG")
    ):
        return u
    return None


@builtin("trap")
async def b_trap(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    listed = sh.traps if sh.shown_traps is None else sh.shown_traps
    if not args or args == ["-p"]:
        for sig in sorted(listed):
            await sh.write_out(f"trap -- {_q(listed[sig])} {_signame_shown(sig)}\n")
        return 0
    if args[0] == "-l":
        await sh.write_out(" 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 9) SIGKILL\t15) SIGTERM\n")
        return 0
    if args[0] == "-p":
        for s in args[1:]:
            n = _sig_name(s)
            if n and n in listed:
                await sh.write_out(f"trap -- {_q(listed[n])} {_signame_shown(n)}\n")
        return 0
    if len(args) == 1:
        action = "-"
        sigs = args
    else:
        action, sigs = args[0], args[1:]
    status = 0
    sh.shown_traps = None
    for s in sigs:
        n = _sig_name(s)
        if n is None:
            await _err(sh, f"trap: {s}: invalid signal specification")
            status = 1
            continue
        if action == "-":
            sh.traps.pop(n, None)
        else:
            sh.traps[n] = action
            if n == "RETURN":
                sh.return_trap_sets += 1
    sh.sync_caught_signals()
    return status


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _signame_shown(n: str) -> str:
    return n if n in ("EXIT", "ERR", "DEBUG", "RETURN") else "SIG" + n


def _find_job(sh: Shell, spec: str) -> Any:
    if spec.startswith("%"):
        s = spec[1:]
        if s in ("", "%", "+"):
            return sh.jobs[-1] if sh.jobs else None
        if s == "-":
            return sh.jobs[-2] if len(sh.jobs) > 1 else None
        if s.isdigit():
            for j in sh.jobs:
                if j.id == int(s):
                    return j
        return None
    if spec.isdigit():
        for j in sh.jobs:
            if j.pid == int(spec):
                return j
    return None


async def _job_status(j: Any) -> int:
    try:
        return await j.task
    except asyncio.CancelledError:
        return 143
    except BaseException:
        return 1


@builtin("wait")
async def b_wait(sh: Shell, argv: list[str]) -> int:
    args = [a for a in argv[1:] if a not in ("-f",)]
    if args and args[0] == "-n":
        pending = [j for j in sh.jobs if not j.task.done()] or sh.jobs
        if not pending:
            return 127
        done, _ = await asyncio.wait([j.task for j in pending], return_when=asyncio.FIRST_COMPLETED)
        for j in pending:
            if j.task in done:
                sh.jobs.remove(j)
                return await _job_status(j)
        return 0
    if not args:
        for j in list(sh.jobs):
            await _job_status(j)
        sh.jobs.clear()
        return 0
    status = 0
    for a in args:
        j = _find_job(sh, a)
        if j is None:
            if a.startswith("%"):
                await _err(sh, f"wait: {a}: no such job")
            else:
                await _err(sh, f"wait: pid {a} is not a child of this shell")
            status = 127
            continue
        status = await _job_status(j)
        if j in sh.jobs:
            sh.jobs.remove(j)
    return status


@builtin("jobs")
async def b_jobs(sh: Shell, argv: list[str]) -> int:
    pids_only = "-p" in argv[1:]
    n = len(sh.jobs)
    for k, j in enumerate(sh.jobs):
        if pids_only:
            await sh.write_out(f"{j.pid}\n")
            continue
        mark = "+" if k == n - 1 else ("-" if k == n - 2 else " ")
        state = "Running" if not j.task.done() else "Done"
        await sh.write_out(f"[{j.id}]{mark}  {state:<24}{j.text} &\n")
    sh.jobs = [j for j in sh.jobs if not j.task.done()] if not pids_only else sh.jobs
    return 0


@builtin("kill")
async def b_kill(sh: Shell, argv: list[str]) -> int:
    from pocketos.kernel.process import SIGNALS, signal_name, signal_number

    args = argv[1:]
    sig = 15
    if args and args[0] == "-l":
        if len(args) > 1:
            for a in args[1:]:
                try:
                    n = int(a)
                    await sh.write_out(signal_name(n - 128 if n > 128 else n) + "\n")
                except ValueError:
                    await sh.write_out(f"{signal_number(a)}\n")
            return 0
        await sh.write_out(" ".join(SIGNALS) + "\n")
        return 0
    if args and args[0] == "-s" and len(args) > 1:
        try:
            sig = signal_number(args[1])
        except ValueError:
            await _err(sh, f"kill: {args[1]}: invalid signal specification")
            return 1
        args = args[2:]
    elif args and args[0].startswith("-") and len(args[0]) > 1 and args[0] != "--":
        try:
            sig = signal_number(args[0][1:])
        except ValueError:
            await _err(sh, f"kill: {args[0][1:]}: invalid signal specification")
            return 1
        args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        await sh.write_err(
            "kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec"
            " ... or kill -l [sigspec]\n"
        )
        return 2
    status = 0
    for a in args:
        if a == str(sh.ctx.pid) or a == str(sh.bashpid):
            name = signal_name(sig)
            if sig == 0:
                continue
            if name in sh.traps:
                if sh.traps[name]:
                    await sh.run_trap(name)
                continue
            from pocketos.shell.state import ExitShell as _Exit

            raise _Exit(128 + sig)
        j = _find_job(sh, a)
        if j is not None:
            if not j.task.done() and sig != 0:
                j.task.cancel()
            continue
        try:
            pid = int(a)
        except ValueError:
            await _err(sh, f"kill: {a}: arguments must be process or job IDs")
            status = 1
            continue
        try:
            sh.ctx.kernel.kill(pid, sig)
        except (ProcessLookupError, ValueError):
            await _err(sh, f"kill: ({a}) - No such process")
            status = 1
    return status


# --- read / mapfile ---------------------------------------------------------------------------
@builtin("read")
async def b_read(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    raw = False
    array = None
    delim = "\n"
    prompt = None
    nchars = -1
    exact = False
    fd = 0
    silent_ = False
    timeout_zero = False
    timeout: float | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-") or len(a) == 1:
            break
        j = 1
        while j < len(a):
            c = a[j]
            if c in "adpntuN":
                val = a[j + 1 :]
                if not val:
                    i += 1
                    if i >= len(args):
                        await _err(sh, f"read: -{c}: option requires an argument")
                        await sh.write_err(
                            "read: usage: read [-ers] [-a array] [-d delim] "
                            "[-i text] [-n nchars] [-N nchars] [-p prompt] "
                            "[-t timeout] [-u fd] [name ...]\n"
                        )
                        return 2
                    val = args[i]
                if c == "a":
                    array = val
                elif c == "d":
                    delim = val[:1] if val else "\x00"
                elif c == "p":
                    prompt = val
                elif c in "nN":
                    try:
                        nchars = int(val)
                    except ValueError:
                        await _err(sh, f"read: {val}: invalid number")
                        return 1
                    exact = c == "N"
                elif c == "t":
                    try:
                        timeout = float(val)
                        timeout_zero = timeout == 0
                    except ValueError:
                        await _err(sh, f"read: {val}: invalid timeout specification")
                        return 1
                elif c == "u":
                    try:
                        fd = int(val)
                    except ValueError:
                        await _err(sh, f"read: {val}: invalid file descriptor specification")
                        return 1
                break
            if c == "N":
                pass
            if c == "r":
                raw = True
            elif c == "s":
                silent_ = True
            elif c in "eE":
                pass
            else:
                await _err(sh, f"read: -{c}: invalid option")
                await sh.write_err(
                    "read: usage: read [-ers] [-a array] [-d delim] [-i text] "
                    "[-n nchars] [-N nchars] [-p prompt] [-t timeout] [-u fd] "
                    "[name ...]\n"
                )
                return 2
            j += 1
        i += 1
    del silent_
    names = args[i:]
    for n in names:
        if not NAME_RE.match(n) and not _ELEMENT_RE.fullmatch(n):
            await _err(sh, f"read: `{n}': not a valid identifier")
            return 1
    stream = sh.fds.get(fd)
    if not isinstance(stream, InputStream):
        await _err(sh, f"read: {fd}: invalid file descriptor: Bad file descriptor")
        return 1
    if prompt and getattr(stream, "isatty", lambda: False)():
        await sh.write_err(prompt)
    if timeout_zero:
        return 0
    if timeout is not None:
        try:
            return await asyncio.wait_for(
                _read_body(sh, stream, raw, array, delim, nchars, exact, names), timeout
            )
        except TimeoutError:
            return 142
    return await _read_body(sh, stream, raw, array, delim, nchars, exact, names)


_ELEMENT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[(.+)\]")


async def _read_body(
    sh: Shell,
    stream: InputStream,
    raw: bool,
    array: str | None,
    delim: str,
    nchars: int,
    exact: bool,
    names: list[str],
) -> int:
    dbytes = delim.encode("utf-8", "surrogateescape") or b"\x00"
    eof = False
    if nchars >= 0:
        buf = bytearray()
        while len(buf) < nchars:
            ch = await stream.read(1)
            if not ch:
                eof = True
                break
            if not exact and ch == dbytes:
                break
            if not raw and ch == b"\\" and not exact:
                nxt = await stream.read(1)
                if nxt == b"\n":
                    continue
                buf += nxt
                continue
            buf += ch
        data = bytes(buf)
    else:
        parts = bytearray()
        while True:
            chunk = await stream.readuntil(dbytes)
            if not chunk.endswith(dbytes):
                eof = True
                parts += chunk
                break
            body = chunk[: -len(dbytes)]
            if not raw and dbytes == b"\n" and _ends_with_odd_backslash(body):
                parts += body[:-1]
                continue
            parts += body
            break
        data = bytes(parts)
    text = data.decode("utf-8", "surrogateescape")
    lit: frozenset[int] = frozenset()
    if not raw:
        text, lit = _unbackslash(text)
    ifs = sh.ifs()
    if array is not None:
        fields = _read_split(text, ifs, 0, lit) if text else []
        sh.unset_var(array) if array in sh.vars and not sh.vars[
            array
        ].attrs & ATTR_READONLY else None
        sh.vars[array] = Var({k: v for k, v in enumerate(fields)}, ATTR_ARRAY)
    elif not names:
        sh.assign_var("REPLY", text if nchars >= 0 else text)
    else:
        fields = _read_split(text, ifs, len(names), lit)
        for k, n in enumerate(names):
            try:
                value = fields[k] if k < len(fields) else ""
                m = _ELEMENT_RE.fullmatch(n)
                if m is not None:  # read 'a[i]' sets one element
                    key = await sh.subscript_key(m.group(1), m.group(2))
                    sh.assign_var(m.group(1), value, index=key)
                else:
                    sh.assign_var(n, value)
            except ShellError as e:
                await _err(sh, f"read: {e.message}" if False else e.message)
                return 1
    return 1 if eof else 0


def _ends_with_odd_backslash(b: bytes) -> bool:
    n = 0
    for c in reversed(b):
        if c == 0x5C:
            n += 1
        else:
            break
    return n % 2 == 1


def _unbackslash(s: str) -> tuple[str, frozenset[int]]:
    """Remove ``read``'s backslashes; also return the positions of the escaped characters,
    which word splitting must treat as ordinary text (``\\ x`` keeps its space)."""
    if "\\" not in s:
        return s, frozenset()
    out: list[str] = []
    lit: set[int] = set()
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            lit.add(len(out))
            out.append(s[i + 1])
            i += 2
        elif s[i] == "\\":
            i += 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out), frozenset(lit)


def _read_split(s: str, ifs: str, n: int, lit: frozenset[int] = frozenset()) -> list[str]:
    """Split for ``read``: ``n`` names (0: unlimited); the last gets the rest of the line.
    Characters at the positions in ``lit`` were escaped and never separate fields."""
    if not ifs:
        return [s]
    ws = "".join(c for c in ifs if c in " \t\n")
    nws = "".join(c for c in ifs if c not in " \t\n")

    def is_ws(k: int) -> bool:
        return s[k] in ws and k not in lit

    def is_sep(k: int) -> bool:
        return s[k] in ifs and k not in lit

    i, L = 0, len(s)
    while i < L and is_ws(i):
        i += 1
    while i < L and is_ws(L - 1):
        L -= 1
    fields: list[str] = []
    while i < L:
        if n and len(fields) == n - 1:
            # the last name takes the rest, less trailing IFS whitespace and one trailing
            # non-whitespace delimiter when it is the only one in the rest
            end = L
            seps = [k for k in range(i, end) if s[k] in nws and k not in lit]
            if seps == [end - 1]:
                end -= 1
                while end > i and is_ws(end - 1):
                    end -= 1
            fields.append(s[i:end])
            return fields
        j = i
        while j < L and not is_sep(j):
            j += 1
        fields.append(s[i:j])
        k = j
        while k < L and is_ws(k):
            k += 1
        if k < L and is_sep(k) and not is_ws(k):
            k += 1
            while k < L and is_ws(k):
                k += 1
        i = k
    return fields


@builtin("mapfile", "readarray")
async def b_mapfile(sh: Shell, argv: list[str]) -> int:
    args = argv[1:]
    delim = b"\n"
    strip = False
    count = 0
    origin = 0
    skip = 0
    fd = 0
    name = "MAPFILE"
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1:
            c = a[1]
            val = a[2:]
            if c in "dnOsuCc":
                if not val:
                    i += 1
                    val = args[i] if i < len(args) else ""
                if c == "d":
                    delim = val.encode()[:1] or b"\x00"
                elif c == "n":
                    count = int(val or 0)
                elif c == "O":
                    origin = int(val or 0)
                elif c == "s":
                    skip = int(val or 0)
                elif c == "u":
                    fd = int(val or 0)
            elif c == "t":
                strip = True
                if len(a) > 2:
                    args.insert(i + 1, "-" + a[2:])
            else:
                await _err(sh, f"{argv[0]}: -{c}: invalid option")
                return 2
            i += 1
            continue
        name = a
        i += 1
    stream = sh.fds.get(fd)
    if not isinstance(stream, InputStream):
        await _err(sh, f"{argv[0]}: {fd}: invalid file descriptor: Bad file descriptor")
        return 1
    lines: list[str] = []
    n = 0
    while True:
        line = await stream.readuntil(delim)
        if not line:
            break
        n += 1
        if n <= skip:
            continue
        if strip and line.endswith(delim):
            line = line[:-1]
        lines.append(line.decode("utf-8", "surrogateescape"))
        if count and len(lines) >= count:
            break
    v = sh.vars.get(name)
    if v is not None and v.attrs & ATTR_READONLY:
        await _err(sh, f"{argv[0]}: {name}: readonly variable")
        return 1
    d: dict[Any, str] = {}
    if origin and v is not None and isinstance(v.value, dict):
        d = dict(v.value)
    for k, line_s in enumerate(lines):
        d[origin + k] = line_s
    sh.set_var_obj(name, Var(d, ATTR_ARRAY | ((v.attrs & ATTR_EXPORT) if v else 0)))
    return 0


# --- getopts ----------------------------------------------------------------------------------
def _c_atoi(text: str) -> int:
    """C's atoi: optional blanks and sign, then leading digits; anything else counts as 0."""
    m = re.match(r"\s*([-+]?\d+)", text)
    return int(m.group(1)) if m else 0


@builtin("getopts")
async def b_getopts(sh: Shell, argv: list[str]) -> int:
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


async def _getopts(sh: Shell, argv: list[str], out: list[str]) -> int:
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
async def b_test(sh: Shell, argv: list[str]) -> int:
    from pocketos.shell.testexpr import evaluate_test

    st, err = evaluate_test(
        argv[1:],
        sh.fs.with_cwd(sh.cwd),
        name=argv[0],
        is_set=sh._var_isset,
        option_on=lambda o: sh.opts.get(o, False),
        isatty=sh.fd_isatty,
    )
    if err:
        await _err(sh, err)
    return st


@builtin("umask")
async def b_umask(sh: Shell, argv: list[str]) -> int:
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
async def b_times(sh: Shell, argv: list[str]) -> int:
    t = time.process_time()
    m, s = divmod(t, 60)
    await sh.write_out(f"{int(m)}m{s:.3f}s 0m0.000s\n0m0.000s 0m0.000s\n")
    return 0


@builtin("help")
async def b_help(sh: Shell, argv: list[str]) -> int:
    names = sorted(BUILTINS)
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


@builtin("pushd")
async def b_pushd(sh: Shell, argv: list[str]) -> int:
    if len(argv) < 2:
        if not sh.dirstack:
            await _err(sh, "pushd: no other directory")
            return 1
        target = sh.dirstack.pop(0)
    else:
        target = argv[1]
    old = sh.cwd
    st = await b_cd(sh, ["cd", target])
    if st:
        return st
    sh.dirstack.insert(0, old)
    await sh.write_out(" ".join([sh.cwd] + sh.dirstack) + "\n")
    return 0


@builtin("popd")
async def b_popd(sh: Shell, argv: list[str]) -> int:
    if not sh.dirstack:
        await _err(sh, "popd: directory stack empty")
        return 1
    target = sh.dirstack.pop(0)
    st = await b_cd(sh, ["cd", target])
    if st:
        return st
    await sh.write_out(" ".join([sh.cwd] + sh.dirstack) + "\n")
    return 0


@builtin("dirs")
async def b_dirs(sh: Shell, argv: list[str]) -> int:
    await sh.write_out(" ".join([sh.cwd] + sh.dirstack) + "\n")
    return 0


@builtin(
    "enable",
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
    "fg",
    "bg",
)
async def b_misc(sh: Shell, argv: list[str]) -> int:
    if argv[0] == "ulimit":
        await sh.write_out("unlimited\n")
    elif argv[0] == "caller":
        if not sh.funcnames:
            return 1
        await sh.write_out(f"{sh.lineno} main\n")
    elif argv[0] in ("fg", "bg"):
        if not sh.jobs:
            await _err(sh, f"{argv[0]}: current: no such job")
            return 1
        if argv[0] == "fg":
            return await _job_status(sh.jobs.pop())
    return 0
