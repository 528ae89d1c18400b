"""Builtins that run or find commands: ``exit``, ``return``, ``break``/``continue``, ``eval``,
``source``, ``exec``, ``builtin``, ``command``, ``type``, ``hash`` and aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.shell.parser import ShellSyntaxError, parse
from pocketos.shell.state import (
    BreakLoop,
    ContinueLoop,
    ExitShell,
    FatalError,
    ReturnFn,
)

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import FlowShell
    from pocketos.shell.interp import Shell

from pocketos.shell.builtins import KEYWORDS, _err, _func_text, _q, builtin, is_builtin, lookup


# --- control flow -----------------------------------------------------------------------------
@builtin("exit")
async def b_exit(sh: FlowShell, argv: list[str]) -> int:
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
    # bash warns once of stopped jobs; a second ``exit`` right after ends the shell and them
    stopped = sh.interactive and not sh.is_subshell and any(j.stopped for j in sh.jobs)
    if stopped and sh.exit_warned < sh.runs - 1:
        sh.exit_warned = sh.runs
        await sh.write_err("There are stopped jobs.\n")
        return 1
    raise ExitShell(status)


@builtin("return")
async def b_return(sh: FlowShell, argv: list[str]) -> int:
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


async def _loop_ctl(sh: FlowShell, argv: list[str], exc: type[Exception]) -> int:
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
async def b_break(sh: FlowShell, argv: list[str]) -> int:
    return await _loop_ctl(sh, argv, BreakLoop)


@builtin("continue")
async def b_continue(sh: FlowShell, argv: list[str]) -> int:
    return await _loop_ctl(sh, argv, ContinueLoop)


@builtin("eval")
async def b_eval(sh: FlowShell, argv: list[str]) -> int:
    src = " ".join(a for a in argv[1:])
    if argv[1:2] == ["--"]:
        src = " ".join(argv[2:])
    if not src.strip():
        return 0
    try:
        script = parse(src, sh.shopt.extglob, first_line=max(sh.lineno, 1))
    except ShellSyntaxError as e:
        await sh.write_err(f"{sh.argv0}: eval: line {sh.lineno}: {e.message}\n")
        if e.source_line is not None:
            await sh.write_err(f"{sh.argv0}: eval: line {sh.lineno}: `{e.source_line}'\n")
        return 2
    sh.call_depth += 1
    try:
        sh.ctx.budget.call_depth(sh.call_depth)
        return await sh.nested(sh.exec_read(script))
    finally:
        sh.call_depth -= 1


@builtin("source", ".")
async def b_source(sh: FlowShell, argv: list[str]) -> int:
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
            absc = cand if cand.startswith("/") else sh.abs_path(cand)
            if sh.fs.isfile(absc) and not _is_stub(sh, absc):
                found = cand
                break
        path = found or name
    try:
        data = sh.fs.read_bytes(sh.abs_path(path))
    except OSError as exc:
        from pocketos.shell.interp import _strerror

        await _err(sh, f"{name}: {_strerror(exc)}")
        return 1
    src = data.decode("utf-8", "surrogateescape")
    script = None
    err = None
    try:
        script = parse(src, sh.shopt.extglob)
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
            status = await sh.run_incremental(src, err, where=name, fatal=False)
        else:
            status = await sh.nested(sh.exec_read(script))
    except ReturnFn as r:
        status = r.status
    finally:
        sh.sourcing -= 1
        sh.call_depth -= 1
        if len(argv) > 2:
            sh.positional = saved_pos
    if sh.traps.get("RETURN") and not sh.in_trap and (not sh.funcnames or sh.opts.functrace):
        await sh.run_trap("RETURN")
    return status


def _is_stub(sh: FlowShell, path: str) -> bool:
    from pocketos.kernel.base import STUB_PREFIX

    try:
        with sh.fs.open(path, "rb") as fh:
            return bool(fh.read(len(STUB_PREFIX)) == STUB_PREFIX)
    except OSError:
        return False


@builtin("exec")
async def b_exec(sh: FlowShell, argv: list[str]) -> int:
    args = argv[1:]
    while args and args[0].startswith("-") and args[0] != "--" and len(args[0]) > 1:
        args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        # redirections persist
        sh.keep_fds = True
        return 0
    from pocketos.shell.ast import Simple, Word

    words = [Word([], a, a) for a in args]
    status = await sh.run_external(Simple([], words, [], sh.lineno), args)
    raise ExitShell(status)


@builtin("builtin")
async def b_builtin(sh: Shell, argv: list[str]) -> int:
    # runs any builtin, so it is given the whole shell
    if len(argv) < 2:
        return 0
    fn = lookup(argv[1])
    if fn is None or argv[1] in sh.disabled_builtins:
        await _err(sh, f"builtin: {argv[1]}: not a shell builtin")
        return 1
    return await fn(sh, argv[1:])


@builtin("command")
async def b_command(sh: Shell, argv: list[str]) -> int:
    # runs any builtin or command, so it is given the whole shell
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
    fn = lookup(args[0])
    if fn is not None and args[0] not in sh.disabled_builtins:
        return await fn(sh, args)
    from pocketos.shell.ast import Simple, Word

    return await sh.run_external(Simple([], [Word([], a, a) for a in args], [], sh.lineno), args)


def _classify(sh: FlowShell, name: str) -> tuple[str | None, str]:
    # bash's type and command -v see aliases only where they are expanded
    if name in sh.aliases and sh.shopt.expand_aliases:
        return "alias", f"alias {name}={_q(sh.aliases[name])}"
    if name in KEYWORDS:
        return "keyword", ""
    if name in sh.functions:
        return "function", ""
    if is_builtin(name) and name not in sh.disabled_builtins:
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
async def b_type(sh: FlowShell, argv: list[str]) -> int:
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
async def b_hash(sh: FlowShell, argv: list[str]) -> int:
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
async def b_alias(sh: FlowShell, argv: list[str]) -> int:
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
async def b_unalias(sh: FlowShell, argv: list[str]) -> int:
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


@builtin("enable")
async def b_enable(sh: FlowShell, argv: list[str]) -> int:
    """``enable -n name``: ``name`` runs the program of that name, not the builtin;
    ``enable name`` turns it back on; with no name, the list (``-n`` the disabled ones, ``-a``
    all, ``-s`` the special ones). Loadable builtins (``-f``, ``-d``) do not exist here."""
    from pocketos.shell.builtins import SPECIAL_BUILTINS, all_builtins

    args = argv[1:]
    flags = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        a = args.pop(0)
        if a == "--":
            break
        for c in a[1:]:
            if c not in "adnpsf":
                await _err(sh, f"enable: -{c}: invalid option")
                await sh.write_err("enable: usage: enable [-a] [-dnps] [-f filename] [name ...]\n")
                return 2
            if c == "f":
                if not args:
                    await _err(sh, "enable: -f: option requires an argument")
                    return 2
                f = args.pop(0)
                await _err(
                    sh,
                    f"enable: cannot open shared object {f}: {f}: cannot open shared object "
                    "file: No such file or directory",
                )
                return 1
            flags += c
    if not args:
        names = sorted(all_builtins(), key=_bash_order)
        if "s" in flags:
            names = [n for n in names if n in SPECIAL_BUILTINS]
        off = sh.disabled_builtins
        for n in names:
            if n in off and ("n" in flags or "a" in flags):
                await sh.write_out(f"enable -n {n}\n")
            elif n not in off and "n" not in flags:
                await sh.write_out(f"enable {n}\n")
        return 0
    status = 0
    off_now = set(sh.disabled_builtins)
    for n in args:
        if not is_builtin(n):
            await _err(sh, f"enable: {n}: not a shell builtin")
            status = 1
        elif "d" in flags:
            await _err(sh, f"enable: {n}: not dynamically loaded")
            status = 1
        elif "n" in flags:
            off_now.add(n)
        else:
            off_now.discard(n)
    sh.disabled_builtins = frozenset(off_now)
    return status


def _bash_order(name: str) -> tuple[bool, str]:
    """bash lists ``.``, ``:`` and ``[`` first, then the others by name."""
    return name[0].isalpha(), name
