"""Tab completion for the terminal's prompt: command names (builtins, functions, aliases and the
programs on ``$PATH``) for the first word, paths for the others. Listings go through the
shell's filesystem view, so they see what the VM's policy lets the shell see."""

from __future__ import annotations

import stat as S
from typing import Any

__all__ = ["complete"]

_SEPARATORS = ";|&(<>"
_SPECIAL = " \t\n\"'\\$`;|&()<>*?[]{}!#~"


def _word_start(line: str, pos: int) -> int:
    i = pos
    while i > 0:
        c = line[i - 1]
        if c in " \t" or c in _SEPARATORS:
            if i >= 2 and line[i - 2] == "\\":
                i -= 2
                continue
            break
        i -= 1
    return i


def _is_command_position(line: str, start: int) -> bool:
    before = line[:start].rstrip(" \t")
    if not before:
        return True
    if before[-1] in ";|&(":
        return True
    last = before.split()[-1]
    return last in ("then", "do", "else", "elif", "if", "while", "until", "!", "time", "sudo")


def _unescape(word: str) -> str:
    out = []
    i = 0
    while i < len(word):
        if word[i] == "\\" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
            continue
        if word[i] not in "\"'":
            out.append(word[i])
        i += 1
    return "".join(out)


def _escape(name: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in name)


def complete(line: str, pos: int, shell: Any) -> tuple[int, list[str]]:
    """(start, candidates) for the word that ends at ``pos`` in ``line``."""
    start = _word_start(line, pos)
    word = line[start:pos]
    if _is_command_position(line, start) and "/" not in word:
        return start, sorted(set(_commands(_unescape(word), shell)))
    return start, _paths(word, shell)


def _commands(prefix: str, shell: Any) -> list[str]:
    from pocketos.shell.builtins import all_builtins

    names = [n for n in all_builtins() if n.startswith(prefix) and n not in ("[", ".")]
    names += [n for n in shell.functions if n.startswith(prefix)]
    names += [n for n in shell.aliases if n.startswith(prefix)]
    fs = shell.fs.with_cwd(shell.cwd)
    for d in (shell.get_str("PATH") or "").split(":"):
        if not d:
            continue
        try:
            entries = fs.listdir(d)
        except OSError:
            continue
        names += [e for e in entries if e.startswith(prefix)]
    return [_escape(n) for n in names]


def _paths(word: str, shell: Any) -> list[str]:
    raw = _unescape(word)
    home = shell.get_str("HOME") or "/"
    expanded = raw
    tilde = raw.startswith("~/") or raw == "~"
    if tilde:
        expanded = home.rstrip("/") + raw[1:]
    head, _, prefix = expanded.rpartition("/")
    shown_head = word[: len(word) - len(_escape(prefix))] if "/" in raw else ""
    directory = (head or "/") if "/" in expanded else "."
    fs = shell.fs.with_cwd(shell.cwd)
    try:
        entries = fs.listdir(directory)
    except OSError:
        return []
    out = []
    for name in sorted(entries):
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        full = (head + "/" if "/" in expanded else "") + name
        try:
            is_dir = S.S_ISDIR(fs.stat(full or "/").st_mode)
        except OSError:
            is_dir = False
        out.append(shown_head + _escape(name) + ("/" if is_dir else ""))
    return out
