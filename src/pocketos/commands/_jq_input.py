"""jq's input side: a byte stream split into JSON texts, one per top-level value, with the
memory a decode would take checked against the exec's budget before it is made."""

from __future__ import annotations

import json
import re

import jq as _jq

from pocketos.kernel.budget import check_alloc

__all__ = ["_JsonSplitter", "decode_cost"]

_WS = re.compile(r"[ \t\r\n]*")


def decode_cost(text: str | bytes) -> int:
    """An upper bound of the memory ``json`` takes to decode ``text`` (measured: strings up to
    4 bytes a character plus their objects, ~100 bytes per element and key, a list or a dict
    per bracket); a few passes at C speed. ``text`` may be the UTF-8 bytes."""
    if len(text) < 4096:
        return 64 * len(text)
    if isinstance(text, bytes):
        counts = [text.count(c) for c in (b",", b":", b"{", b"[")]
    else:
        counts = [text.count(c) for c in (",", ":", "{", "[")]
    return (
        (1 if text.isascii() else 4) * len(text)
        + (1 << 16)
        + sum(w * n for w, n in zip((80, 64, 240, 72), counts, strict=True))
    )


class _JsonSplitter:
    """Splits a byte stream into JSON texts, one per top-level value."""

    def __init__(self) -> None:
        self.buf = ""
        self.pending = b""
        self.lines = 0
        self.need = 0
        self.decoder = json.JSONDecoder()

    def feed(self, data: bytes, eof: bool) -> tuple[list[tuple[str, int]], str | None]:
        """Returns (values as (text, line)), and a parse error message (only at EOF)."""
        data = self.pending + data
        if not eof:
            # keep an incomplete UTF-8 sequence for the next chunk
            cut = len(data)
            for back in range(1, 4):
                if cut - back < 0:
                    break
                b = data[cut - back]
                if b & 0xC0 == 0xC0:
                    width = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
                    if back < width:
                        cut -= back
                    break
                if b & 0x80 == 0:
                    break
            self.pending = data[cut:]
            data = data[:cut]
        else:
            self.pending = b""
        self.buf += data.decode("utf-8", "replace")
        # an unfinished document grows with the input: refuse it before it outgrows the budget
        check_alloc(len(self.buf), "jq: input")
        if not eof and len(self.buf) < self.need:
            return [], None
        # finding where each value ends decodes it: refuse before Python's objects for the
        # text could outgrow the budget
        check_alloc(decode_cost(self.buf), "jq: input")
        out: list[tuple[str, int]] = []
        buf = self.buf
        pos = 0
        n = len(buf)
        err: str | None = None
        # newlines are counted incrementally: (position, lines before it)
        seen_pos, seen_lines = 0, self.lines
        ws = _WS.match
        decode = self.decoder.raw_decode
        while True:
            pos = ws(buf, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            try:
                _, end = decode(buf, pos)
            except (ValueError, RecursionError):
                # RecursionError: nested deeper than Python decodes (libjq takes 10,000 levels)
                if not eof:
                    self.need = (n - pos) * 2
                    break
                line0 = seen_lines + buf.count("\n", seen_pos, pos)
                vals, err = self._fallback(buf[pos:], line0)
                out.extend(vals)
                pos = n
                break
            # a number at the very end of a chunk may continue in the next one
            if end >= n and not eof and buf[end - 1] not in '}]"el':
                break
            self.need = 0
            seen_lines += buf.count("\n", seen_pos, end)
            seen_pos = end
            line = seen_lines + (1 if end < n and buf[end] == "\n" else 0)
            out.append((buf[pos:end], line))
            pos = end
        self.lines = seen_lines + buf.count("\n", seen_pos, pos)
        self.buf = buf[pos:]
        if eof:
            self.buf = ""
        return out, err

    @staticmethod
    def _fallback(text: str, line0: int) -> tuple[list[tuple[str, int]], str | None]:
        """Let jq's own parser read what Python's refused (``nan``, odd numbers, errors)."""
        vals: list[tuple[str, int]] = []
        try:
            for v in _jq.compile("tojson").input_text(text):
                vals.append((v, line0))
        except ValueError as exc:
            msg = str(exc)

            def shift(m: re.Match[str]) -> str:
                return f"at line {int(m.group(1)) + line0}, column"

            return vals, re.sub(r"at line (\d+), column", shift, msg, count=1)
        return vals, None
