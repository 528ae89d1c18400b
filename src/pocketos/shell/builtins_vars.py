"""Builtins of the variables family: ``declare``/``typeset``/``local``/``export``/``readonly``,
``unset``, ``let``, ``shift``, ``set`` and ``shopt``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_NAMEREF,
    ATTR_READONLY,
    ATTR_UPPER,
    NoExec,
    ShellError,
    Var,
    quote_word,
)

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import StateShell

from pocketos.shell.builtins import NAME_RE, _err, _func_text, attr_letters, builtin
from pocketos.shell.options import FLAG_LETTERS, OptionSet, shopt_line


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


async def _declare(sh: StateShell, argv: list[str], cmd: str) -> int:
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
    if cmd == "local" and not sh.vars.scopes:
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
    local = (cmd in ("local", "declare", "typeset")) and bool(sh.vars.scopes) and not global_
    for arg in names:
        if arg == "-" and local:
            frame = sh.vars.scopes[-1]
            if "-" not in frame:
                frame["-"] = Var(sh.opts.snapshot())
            continue
        name, idx, value, append = _split_assign(arg)
        if not NAME_RE.match(name):
            await _err(sh, f"{cmd}: `{arg}': not a valid identifier")
            status = 1
            continue
        if local:
            if name in sh.temp_env:
                _local_from_temp(sh, name)
            else:
                sh.declare_local(name)
        v = sh.vars.own(name)
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
        v = sh.vars.own(name) or v
        if on & (ATTR_EXPORT | ATTR_READONLY) and not local:
            sh.temp_env.pop(name, None)  # ``x=1 export x`` keeps x=1
        if on & ATTR_READONLY:
            v.attrs |= ATTR_READONLY
        if (on | off) & ATTR_EXPORT or v.attrs & ATTR_EXPORT:
            sh.env_changed()
    return status


def _local_from_temp(sh: StateShell, name: str) -> None:
    """``x=1 local x``: the new local starts with the value assigned in front of the command,
    and the name is no longer restored when the command ends."""
    tmp = sh.vars.get(name)
    old = sh.temp_env.pop(name)
    if old is None:
        sh.vars.pop(name, None)
    else:
        sh.vars[name] = old
    sh.declare_local(name)
    if tmp is not None:
        sh.vars[name] = Var(tmp.value, tmp.attrs)
    sh.env_changed()


async def _assign_array_text(sh: StateShell, name: str, inner: str, append: bool) -> None:
    from pocketos.shell.parser import Parser

    p = Parser(inner + ")")
    elems = p.read_array_elems()
    await sh.assign_array(name, elems, append)


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


async def _print_vars(sh: StateShell, cmd: str, on: int, print_mode: bool) -> None:
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
async def b_declare(sh: StateShell, argv: list[str]) -> int:
    return await _declare(sh, argv, argv[0])


@builtin("local")
async def b_local(sh: StateShell, argv: list[str]) -> int:
    return await _declare(sh, argv, "local")


@builtin("export")
async def b_export(sh: StateShell, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] == "-n":
        for n in args[1:]:
            v = sh.vars.own(n)
            if v is not None:
                v.attrs &= ~ATTR_EXPORT
        sh.env_changed()
        return 0
    if args and args[0] == "-f":
        return 0
    return await _declare(sh, argv, "export")


@builtin("readonly")
async def b_readonly(sh: StateShell, argv: list[str]) -> int:
    return await _declare(sh, argv, "readonly")


@builtin("unset")
async def b_unset(sh: StateShell, argv: list[str]) -> int:
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
async def b_let(sh: StateShell, argv: list[str]) -> int:
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
async def b_shift(sh: StateShell, argv: list[str]) -> int:
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
async def b_set(sh: StateShell, argv: list[str]) -> int:
    status = await _set(sh, argv)
    if sh.opts.noexec and not sh.interactive:
        raise NoExec(status)
    return status


async def _set(sh: StateShell, argv: list[str]) -> int:
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
    # options are owned (copied if a fork shares them) only when one changes: ``set -- args``
    # after a ``$(...)`` copies nothing
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            sh.positional = args[i + 1 :]
            return 0
        if a == "-":
            if sh.opts.xtrace or sh.opts.verbose:
                opts = sh.own_opts()
                opts.xtrace = False
                opts.verbose = False
            if i + 1 < len(args):
                sh.positional = args[i + 1 :]
            return 0
        if a in ("-o", "+o"):
            if i + 1 >= len(args):
                await sh.write_out(sh.opts.print_lines(as_commands=a == "+o"))
                return 0
            name = args[i + 1]
            if name not in sh.opts:
                await _err(sh, f"set: {name}: invalid option name")
                return 2
            sh.own_opts().set(name, a == "-o")
            i += 2
            continue
        if len(a) > 1 and a[0] in "-+":
            takes_o = False
            for c in a[1:]:
                if c == "o":
                    takes_o = True
                    continue
                oname = FLAG_LETTERS.get(c)
                if oname is None:
                    await _err(sh, f"set: {a[0]}{c}: invalid option")
                    await sh.write_err(
                        "set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name]"
                        " [--] [-] [arg ...]\n"
                    )
                    return 2
                sh.own_opts().set(oname, a[0] == "-")
            i += 1
            if takes_o:
                if i >= len(args):
                    # ``set -eo``: the flags are set, then the options are listed
                    await sh.write_out(sh.opts.print_lines(as_commands=a[0] == "+"))
                    return 0
                if args[i] not in sh.opts:
                    await _err(sh, f"set: {args[i]}: invalid option name")
                    return 2
                sh.own_opts().set(args[i], a[0] == "-")
                i += 1
            continue
        sh.positional = args[i:]
        return 0
    return 0


@builtin("shopt")
async def b_shopt(sh: StateShell, argv: list[str]) -> int:
    args = argv[1:]
    mode = ""
    quiet = False
    o_mode = False
    pmode = False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        if args[0] == "--":
            args = args[1:]
            break
        for c in args[0][1:]:
            if c in "su":
                if mode and mode != c:
                    await _err(sh, "shopt: cannot set and unset shell options simultaneously")
                    return 1
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
    table: OptionSet = sh.opts if o_mode else sh.shopt
    if mode:
        table = sh.own_opts() if o_mode else sh.own_shopt()

    def line(name: str, on: bool) -> str:
        if o_mode:
            return sh.opts.print_lines(pmode, [name])
        return shopt_line(name, on, pmode)

    if not args:
        if quiet:
            return 0
        out = []
        for name, on in table.items():
            if mode == "s" and not on or mode == "u" and on:
                continue
            out.append(line(name, on))
        await sh.write_out("".join(out))
        return 0
    status = 0
    for name in args:
        if name not in table:
            if o_mode:
                await _err(sh, f"shopt: {name}: invalid option name")
                # like bash: a bad name given to ``shopt -so``/``-uo`` does not fail it
                status = status if mode else 1
            else:
                await _err(sh, f"shopt: {name}: invalid shell option name")
                status = 1
            continue
        if mode:
            table.set(name, mode == "s")
            continue
        on = table.get(name)
        if not on:
            status = 1
        if not quiet:
            await sh.write_out(line(name, on))
    return status
