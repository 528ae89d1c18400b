"""The lexical vocabulary of the shell parser: metacharacters, reserved words, operators, the
syntax error, and ANSI-C (``$'...'``) decoding. Shared by the parser and its parts."""

from __future__ import annotations

import re

__all__ = [
    "ShellSyntaxError",
    "ansi_c_decode",
    "META",
    "RESERVED",
    "STOP_WORDS",
    "NAME_RE",
    "ASSIGN_RE",
    "SPECIAL_PARAMS",
    "REDIR_OPS",
    "CTRL_OPS",
    "ParserAttrs",
]


class ShellSyntaxError(Exception):
    def __init__(self, message: str, line: int, source_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.source_line = source_line


META = frozenset(" \t\n;&|<>()")
_PLAIN_RUN = re.compile(r"[^ \t\n;&|<>()\\'\"`$]+")
_FDVAR_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}(?=[<>])")
RESERVED = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "case",
        "esac",
        "while",
        "until",
        "for",
        "in",
        "function",
        "select",
        "{",
        "}",
        "!",
        "[[",
        "]]",
        "time",
    ]
)
STOP_WORDS = frozenset(["then", "else", "elif", "fi", "do", "done", "esac", "}"])
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[)?")
SPECIAL_PARAMS = "@*#?-$!0"
REDIR_OPS = ("&>>", "<<<", "<<-", "&>", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">")
CTRL_OPS = (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")")

_ESC = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def ansi_c_decode(s: str, echo_mode: bool = False) -> tuple[str, bool]:
    """Decode backslash escapes of ``$'...'`` (or ``echo -e`` when ``echo_mode``).
    Returns (text, stop) where stop is True when ``\\c`` ended the output (echo)."""
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        d = s[i + 1]
        i += 2
        if d in _ESC and not (echo_mode and d in "'\"?"):
            out.append(_ESC[d])
        elif d == "c":
            if echo_mode:
                return "".join(out), True
            if i < n:
                ctrl = ord(s[i]) & 0x1F
                if not ctrl:  # \c@ is a NUL, which ends the string as \0 does
                    return "".join(out), True
                out.append(chr(ctrl))
                i += 1
            else:
                out.append("\\c")
        elif d in "01234567" and not (echo_mode and d != "0"):
            j = i - 1 if not echo_mode else i
            maxlen = 3 if not echo_mode else 3
            k = j
            while k < n and k - j < maxlen and s[k] in "01234567":
                k += 1
            val = int(s[j:k], 8) if k > j else 0
            if val & 0xFF == 0 and not echo_mode:
                return "".join(out), True
            out.append(_byte_char(val & 0xFF))
            i = k
        elif d == "x":
            k = i
            while k < n and k - i < 2 and s[k] in "0123456789abcdefABCDEF":
                k += 1
            if k == i:
                out.append("\\x")
            else:
                v = int(s[i:k], 16)
                if v == 0 and not echo_mode:
                    return "".join(out), True
                out.append(_byte_char(v))
            i = k
        elif d in "uU":
            k = i
            lim = 4 if d == "u" else 8
            while k < n and k - i < lim and s[k] in "0123456789abcdefABCDEF":
                k += 1
            if k == i:
                out.append("\\" + d)
            else:
                try:
                    cp = int(s[i:k], 16)
                    if 0xD800 <= cp <= 0xDFFF:  # no character: bash writes its UTF-8 form
                        code = bytes([0xE0 | cp >> 12, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F])
                        out.append(code.decode("utf-8", "surrogateescape"))
                    else:
                        out.append(chr(cp))
                except (ValueError, OverflowError):
                    out.append("\\" + d + s[i:k])
            i = k
        else:
            out.append("\\" + d)
    return "".join(out), False


def _byte_char(v: int) -> str:
    if v < 0x80:
        return chr(v)
    return bytes([v]).decode("utf-8", "surrogateescape")


class ParserAttrs:
    """The position in the source, which the parts of
    :class:`~pocketos.shell.parser.Parser` (its mixins: words, ``[[ ]]``) move; declared once
    for the type checker. ``Parser.__init__`` sets it."""

    pos: int
