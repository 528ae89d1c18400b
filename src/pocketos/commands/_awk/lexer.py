"""Tokens of the awk language. The parser drives the lexer so that ``/`` can be read as a
regular expression where an operand is expected."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AwkSyntaxError", "BUILTINS", "KEYWORDS", "Lexer", "Token", "unescape"]


class AwkSyntaxError(Exception):
    def __init__(
        self, message: str, line: int = 0, col: int = 0, source: str = "", fatal: bool = False
    ) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.message = message
        self.line = line
        self.col = col
        self.source = source


KEYWORDS = {
    "BEGIN",
    "END",
    "BEGINFILE",
    "ENDFILE",
    "function",
    "func",
    "if",
    "else",
    "while",
    "for",
    "do",
    "break",
    "continue",
    "next",
    "nextfile",
    "exit",
    "return",
    "delete",
    "in",
    "getline",
    "print",
    "printf",
    "switch",
    "case",
    "default",
}

BUILTINS = {
    "length",
    "substr",
    "index",
    "split",
    "sub",
    "gsub",
    "match",
    "sprintf",
    "tolower",
    "toupper",
    "gensub",
    "strftime",
    "systime",
    "sin",
    "cos",
    "atan2",
    "exp",
    "log",
    "sqrt",
    "int",
    "rand",
    "srand",
    "close",
    "fflush",
    "system",
    "mktime",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "compl",
    "strtonum",
    "isarray",
    "typeof",
    "asort",
    "asorti",
    "patsplit",
}


@dataclass
class Token:
    kind: str  # NUMBER STRING ERE NAME FUNC_NAME BUILTIN keyword punct NEWLINE EOF
    value: str
    pos: int
    line: int
    num: float = 0.0


_PUNCT3 = ("**=",)
_PUNCT2 = (
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "^=",
    "==",
    "<=",
    ">=",
    "!=",
    "++",
    "--",
    "&&",
    "||",
    ">>",
    "!~",
    "**",
)
_PUNCT1 = "{}()[];,+-*/%^!<>|?:~$="

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    '"': '"',
    "a": "\x07",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def unescape(s: str, warnings: list[str] | None = None) -> str:
    """Process awk string escapes (``\\n``, ``\\t``, octal ``\\101``, ``\\x41`` ...)."""
    if "\\" not in s:
        return s
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
        if d in _ESCAPES:
            out.append(_ESCAPES[d])
            i += 2
        elif d in "01234567":
            j = i + 1
            while j < n and j < i + 4 and s[j] in "01234567":
                j += 1
            out.append(chr(int(s[i + 1 : j], 8) & 0xFF))
            i = j
        elif d == "x" and i + 2 < n and s[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < n and j < i + 4 and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(s[i + 2 : j], 16)))
            i = j
        else:
            if warnings is not None and d != "&":
                warnings.append(f"warning: escape sequence `\\{d}' treated as plain `{d}'")
            out.append("\\" + d if d == "&" else d)
            i += 2
    return "".join(out)


class Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.line = 1
        self.warnings: list[str] = []

    def error(self, msg: str, pos: int | None = None) -> AwkSyntaxError:
        p = self.pos if pos is None else pos
        line = self.src.count("\n", 0, p) + 1
        start = self.src.rfind("\n", 0, p) + 1
        return AwkSyntaxError(msg, line, p - start, self.src)

    def next(self) -> Token:
        src = self.src
        n = len(src)
        while True:
            while self.pos < n and src[self.pos] in " \t\r":
                self.pos += 1
            if self.pos < n and src[self.pos] == "\\" and src.startswith("\n", self.pos + 1):
                self.pos += 2
                self.line += 1
                continue
            if self.pos < n and src[self.pos] == "\\" and src.startswith("\r\n", self.pos + 1):
                self.pos += 3
                self.line += 1
                continue
            if self.pos < n and src[self.pos] == "#":
                while self.pos < n and src[self.pos] != "\n":
                    self.pos += 1
                continue
            break
        start = self.pos
        if start >= n:
            return Token("EOF", "", start, self.line)
        c = src[start]
        if c == "\n":
            self.pos += 1
            self.line += 1
            return Token("NEWLINE", "\n", start, self.line - 1)
        if c.isdigit() or (c == "." and start + 1 < n and src[start + 1].isdigit()):
            return self._number(start)
        if (c.isalpha() and c.isascii()) or c == "_":
            j = start
            while j < n and (src[j].isalnum() or src[j] == "_") and src[j].isascii():
                j += 1
            word = src[start:j]
            self.pos = j
            if word in KEYWORDS:
                kind = "func" if word == "function" else word
                return Token(kind, word, start, self.line)
            if word in BUILTINS:
                return Token("BUILTIN", word, start, self.line)
            if j < n and src[j] == "(":
                return Token("FUNC_NAME", word, start, self.line)
            return Token("NAME", word, start, self.line)
        if c == '"':
            return self._string(start)
        for p in _PUNCT3:
            if src.startswith(p, start):
                self.pos = start + 3
                return Token("^=", "^=", start, self.line)
        two = src[start : start + 2]
        if two in _PUNCT2:
            self.pos = start + 2
            if two == "**":
                two = "^"
            return Token(two, two, start, self.line)
        if c in _PUNCT1:
            self.pos = start + 1
            return Token(c, c, start, self.line)
        raise self.error(f"invalid char '{c}' in expression", start)

    def _number(self, start: int) -> Token:
        src = self.src
        n = len(src)
        j = start
        if (
            src.startswith(("0x", "0X"), start)
            and start + 2 < n
            and src[start + 2] in "0123456789abcdefABCDEF"
        ):
            j = start + 2
            while j < n and src[j] in "0123456789abcdefABCDEF":
                j += 1
            self.pos = j
            return Token("NUMBER", src[start:j], start, self.line, float(int(src[start:j], 16)))
        while j < n and src[j].isdigit():
            j += 1
        if j < n and src[j] == ".":
            j += 1
            while j < n and src[j].isdigit():
                j += 1
        if j < n and src[j] in "eE":
            k = j + 1
            if k < n and src[k] in "+-":
                k += 1
            if k < n and src[k].isdigit():
                while k < n and src[k].isdigit():
                    k += 1
                j = k
        text = src[start:j]
        self.pos = j
        if (
            len(text) > 1
            and text[0] == "0"
            and text.isdigit()
            and all(ch in "01234567" for ch in text)
        ):
            return Token("NUMBER", text, start, self.line, float(int(text, 8)))
        return Token("NUMBER", text, start, self.line, float(text))

    def _string(self, start: int) -> Token:
        src = self.src
        n = len(src)
        j = start + 1
        buf: list[str] = []
        while True:
            if j >= n or src[j] == "\n":
                raise self.error("unterminated string", start)
            ch = src[j]
            if ch == '"':
                break
            if ch == "\\" and j + 1 < n:
                if src[j + 1] == "\n":
                    j += 2
                    continue
                buf.append(src[j : j + 2])
                j += 2
                continue
            buf.append(ch)
            j += 1
        self.pos = j + 1
        return Token("STRING", unescape("".join(buf), self.warnings), start, self.line)

    def regex(self, start: int) -> Token:
        """Read a regular expression literal whose opening ``/`` is at ``start``."""
        src = self.src
        n = len(src)
        j = start + 1
        in_bracket = False
        buf: list[str] = []
        while True:
            if j >= n or src[j] == "\n":
                raise self.error("unterminated regexp", start)
            ch = src[j]
            if ch == "\\" and j + 1 < n:
                if src[j + 1] == "/":
                    buf.append("/")
                elif src[j + 1] == "\n":
                    pass
                else:
                    buf.append(src[j : j + 2])
                j += 2
                continue
            if in_bracket:
                if ch == "]" and not (src[j - 1] == "[" or src[j - 2 : j] == "[^"):
                    in_bracket = False
            elif ch == "[":
                in_bracket = True
                if src.startswith("[:", j):
                    pass
            elif ch == "/":
                break
            buf.append(ch)
            j += 1
        self.pos = j + 1
        return Token("ERE", "".join(buf), start, self.line)
