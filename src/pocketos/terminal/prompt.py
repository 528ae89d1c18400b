"""``PS1``/``PS2`` expansion: bash's backslash escapes (``\\u \\h \\w \\W \\$ \\n \\t`` …).
Parameter expansion and command substitution in the prompt are not performed."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["DEFAULT_PS1", "expand_prompt"]

DEFAULT_PS1 = "\\u@\\h:\\w\\$ "


def expand_prompt(ps: str, shell: Any, *, tty: str = "pts/0", number: int = 1) -> str:
    def var(name: str, default: str = "") -> str:
        v = shell.get_str(name)
        return default if v is None else v

    home = var("HOME", "/home/user")
    cwd = str(shell.cwd)
    if cwd == home:
        w = "~"
    elif home not in ("", "/") and cwd.startswith(home.rstrip("/") + "/"):
        w = "~" + cwd[len(home.rstrip("/")) :]
    else:
        w = cwd
    user = var("USER", "user")
    host = var("HOSTNAME", "pocketos")
    now = time.localtime()
    simple = {
        "u": user,
        "h": host.split(".")[0],
        "H": host,
        "w": w,
        "W": w if w in ("~", "/") else w.rstrip("/").rsplit("/", 1)[-1],
        "$": "#" if user == "root" else "$",
        "n": "\n",
        "r": "\r",
        "a": "\a",
        "e": "\x1b",
        "s": "bash",
        "v": "5.2",
        "V": "5.2.0",
        "l": tty.rsplit("/", 1)[-1],
        "j": str(len(getattr(shell, "jobs", []) or [])),
        "#": str(number),
        "!": str(number),
        "\\": "\\",
        "[": "",
        "]": "",
        "t": time.strftime("%H:%M:%S", now),
        "T": time.strftime("%I:%M:%S", now),
        "@": time.strftime("%I:%M %p", now),
        "A": time.strftime("%H:%M", now),
        "d": time.strftime("%a %b %d", now),
    }
    out = []
    i = 0
    while i < len(ps):
        c = ps[i]
        if c != "\\" or i + 1 >= len(ps):
            out.append(c)
            i += 1
            continue
        e = ps[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif (
            e in "01234567"
            and i + 3 < len(ps) + 0
            and all(x in "01234567" for x in ps[i + 1 : i + 4])
        ):
            out.append(chr(int(ps[i + 1 : i + 4], 8)))
            i += 4
        elif e == "D" and i + 2 < len(ps) and ps[i + 2] == "{":
            end = ps.find("}", i + 3)
            if end < 0:
                out.append(ps[i:])
                break
            fmt = ps[i + 3 : end] or "%X"
            out.append(time.strftime(fmt, now))
            i = end + 1
        else:
            out.append("\\" + e)
            i += 2
    return "".join(out)
