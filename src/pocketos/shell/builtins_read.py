"""Builtins that read input: ``read`` and ``mapfile``/``readarray``."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from pocketos.kernel.streams import InputStream
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_EXPORT,
    ATTR_READONLY,
    ShellError,
    Var,
)

if TYPE_CHECKING:
    from pocketos.shell.builtin_api import ReadShell

from pocketos.shell.builtins import NAME_RE, _err, builtin


# --- read / mapfile ---------------------------------------------------------------------------
@builtin("read")
async def b_read(sh: ReadShell, argv: list[str]) -> int:
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
    sh: ReadShell,
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
async def b_mapfile(sh: ReadShell, argv: list[str]) -> int:
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
                elif c in "nOsu":
                    num = _count(val)
                    if num is None:
                        what = _MAPFILE_NUMBERS[c]
                        await _err(sh, f"{argv[0]}: {val}: invalid {what}")
                        return 1
                    if c == "n":
                        count = num
                    elif c == "O":
                        origin = num
                    elif c == "s":
                        skip = num
                    else:
                        fd = num
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


#: what mapfile calls the number each option takes, in its error messages
_MAPFILE_NUMBERS = {
    "n": "line count",
    "O": "array origin",
    "s": "line count",
    "u": "file descriptor specification",
}


def _count(val: str) -> int | None:
    """A non-negative decimal number of a mapfile option, or None."""
    text = val.strip()
    return int(text) if text.isdigit() and text.isascii() else None
