"""SQL text for the sqlite3 shell: quoting of literals and identifiers as the real shell
prints them, display widths, and splitting a script into complete statements."""

from __future__ import annotations

import re
import sqlite3 as _sqlite
from collections.abc import Iterator

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _sql_real(x: float, digits: int = 15) -> str:
    if x != x:
        return ""
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0.0"
    s = f"%.{digits}g" % x
    if "e" in s:
        mant, exp = s.split("e")
        if "." not in mant:
            mant += ".0"
        return mant + "e" + exp
    if "." not in s and "inf" not in s:
        s += ".0"
    return s


def _json_str(b: bytes) -> bytes:
    out = bytearray(b'"')
    for c in b:
        if c == 0x22:
            out += b'\\"'
        elif c == 0x5C:
            out += b"\\\\"
        elif c < 0x20:
            esc = {8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r"}.get(c)
            out += esc if esc else b"\\u%04x" % c
        else:
            out.append(c)
    out += b'"'
    return bytes(out)


def _sql_quote_text(b: bytes) -> bytes:
    return b"'" + b.replace(b"'", b"''") + b"'"


class _SqlText(bytes):
    """TEXT values (BLOBs arrive as plain ``bytes``)."""


def _sql_str(text: str) -> str:
    """SQL text sqlite can take: bytes that are not UTF-8 (kept as lone surrogates after
    decoding) become U+FFFD, so they reach the parser as an unknown token, not a crash; a NUL
    ends the text, as it does for sqlite's C interface."""
    if "\0" in text:
        text = text[: text.index("\0")]
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _disp_len(s: str) -> int:
    import unicodedata

    n = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def _quote_ident(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _split_sql(text: str) -> Iterator[tuple[str, int]]:
    """Split SQL text into complete statements (with the line each one starts on)."""
    i = 0
    n = len(text)
    start = 0
    line = 1
    start_line = 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = text.find(close, i + 1)
            while j != -1 and close != "]" and j + 1 < n and text[j + 1] == close:
                j = text.find(close, j + 2)
            j = n - 1 if j == -1 else j
            line += text.count("\n", i + 1, j + 1)
            i = j + 1
            continue
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            line += text.count("\n", i, j)
            i = j
            continue
        if c == ";":
            piece = text[start : i + 1]
            if _sqlite.complete_statement(_sql_str(piece)):
                if piece.strip(" \t\r\n;"):
                    yield piece, start_line
                start = i + 1
                start_line = line
        i += 1
    rest = text[start:]
    if rest.strip():
        yield rest, start_line


def _if_not_exists(sql: str) -> str:
    """The shell shows tables with quoted names as ``CREATE TABLE IF NOT EXISTS``."""
    if sql.startswith("CREATE TABLE ") and sql[13:14] in ("'", '"'):
        return "CREATE TABLE IF NOT EXISTS " + sql[13:]
    return sql


def _view_col(name: str) -> str:
    if _IDENT.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _dump_text(b: bytes) -> bytes:
    q = _sql_quote_text(b)
    if b"\n" in b or b"\r" in b:
        inner = q
        wrap_n = b"\n" in b
        wrap_r = b"\r" in b
        if wrap_n:
            inner = inner.replace(b"\n", b"\\n")
        if wrap_r:
            inner = inner.replace(b"\r", b"\\r")
        if wrap_r:
            inner = b"replace(" + inner + b",'\\r',char(13))"
        if wrap_n:
            inner = b"replace(" + inner + b",'\\n',char(10))"
        return inner
    return q
