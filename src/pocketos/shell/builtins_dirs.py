"""Builtins for the working directory and the directory stack: ``pwd``, ``cd``, ``pushd``, ``popd``
and ``dirs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.shell.state import (
    ATTR_EXPORT,
    ATTR_READONLY,
)

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import DirsShell

from pocketos.shell.builtins import _err, builtin


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


@builtin("pwd")
async def b_pwd(sh: DirsShell, argv: list[str]) -> int:
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
async def b_cd(sh: DirsShell, argv: list[str]) -> int:
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
        sh.env_changed()
    ov = sh.vars.get("OLDPWD")
    if ov is not None and ov.attrs & ATTR_EXPORT:
        sh.env_changed()
    if print_dir:
        await sh.write_out(norm + "\n")
    return 0


@builtin("pushd")
async def b_pushd(sh: DirsShell, argv: list[str]) -> int:
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
async def b_popd(sh: DirsShell, argv: list[str]) -> int:
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
async def b_dirs(sh: DirsShell, argv: list[str]) -> int:
    await sh.write_out(" ".join([sh.cwd] + sh.dirstack) + "\n")
    return 0
