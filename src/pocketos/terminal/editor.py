"""Line editing at the shell prompt, the part of readline an agent or a person uses: moving the
cursor, deleting, history with the arrow keys, tab completion, Ctrl-C to drop the line and
Ctrl-D to leave an empty one."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EditResult", "LineEditor", "text_width"]

MAX_LINE = 64 * 1024
MAX_HISTORY = 1000


def text_width(s: str) -> int:
    """Columns ``s`` takes on a terminal (wide East Asian characters count two)."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


@dataclass
class EditResult:
    """What one batch of keys did: ``echo`` to show, and the line's fate when it ended —
    ``action`` is ``"line"`` (Enter), ``"interrupt"`` (Ctrl-C) or ``"eof"`` (Ctrl-D on an
    empty line), with ``rest`` the keys that came after it."""

    echo: bytes
    action: str | None = None
    line: str = ""
    rest: bytes = b""


#: escape sequences (after ESC) and the editing command each one is
_SEQUENCES = {
    "[A": "up",
    "OA": "up",
    "[B": "down",
    "OB": "down",
    "[C": "right",
    "OC": "right",
    "[D": "left",
    "OD": "left",
    "[H": "home",
    "OH": "home",
    "[1~": "home",
    "[7~": "home",
    "[F": "end",
    "OF": "end",
    "[4~": "end",
    "[8~": "end",
    "[3~": "delete",
    "[1;5C": "word-right",
    "[1;5D": "word-left",
    "f": "word-right",
    "b": "word-left",
}

_CONTROL = {
    0x01: "home",
    0x02: "left",
    0x03: "interrupt",
    0x04: "eof-or-delete",
    0x05: "end",
    0x06: "right",
    0x08: "backspace",
    0x09: "complete",
    0x0A: "accept",
    0x0B: "kill-end",
    0x0C: "clear",
    0x0D: "accept",
    0x0E: "down",
    0x10: "up",
    0x15: "kill-start",
    0x17: "kill-word",
    0x7F: "backspace",
}

Completer = Callable[[str, int], tuple[int, list[str]]]


class LineEditor:
    """Edits one line at a time. ``begin(prompt)`` starts a line; ``feed(keys)`` returns an
    :class:`EditResult`. ``complete(line, cursor)`` returns the start of the word being
    completed and the candidates for it (each a full replacement of that word)."""

    def __init__(self, complete: Completer, width: Callable[[], int]) -> None:
        self.completer = complete
        self.width = width
        self.history: list[str] = []
        self.buf = ""
        self.pos = 0
        self.prompt = ""
        self._hist_index = 0
        self._draft = ""
        self._esc: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._last_tab = False

    def begin(self, prompt: str, initial: str = "") -> bytes:
        """Start a new line: returns the prompt (and ``initial`` text) to show."""
        self.prompt = prompt
        self.buf = initial
        self.pos = len(initial)
        self._hist_index = len(self.history)
        self._draft = ""
        self._esc = None
        self._last_tab = False
        return _enc(prompt.replace("\n", "\r\n") + initial)

    def remember(self, line: str) -> None:
        """Add an accepted command to the history (not blanks, not a repeat of the last)."""
        line = line.rstrip("\n")
        if not line.strip() or (self.history and self.history[-1] == line):
            return
        self.history.append(line)
        if len(self.history) > MAX_HISTORY:
            del self.history[: len(self.history) - MAX_HISTORY]

    # -- keys ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> EditResult:
        out = bytearray()
        text = self._decoder.decode(data)
        for i, ch in enumerate(text):
            if self._esc is not None:
                self._esc += ch
                op = self._escape()
                if op is None:
                    continue
                action = op
            elif ch == "\x1b":
                self._esc = ""
                continue
            elif ord(ch) in _CONTROL:
                action = _CONTROL[ord(ch)]
            elif ord(ch) < 0x20:
                continue
            else:
                action = "insert"
            tab = action == "complete"
            if action == "accept":
                line = self.buf
                out += self._move_to(len(self.buf)) + b"\r\n"
                rest = text[i + 1 :].encode("utf-8", "surrogateescape")
                return EditResult(bytes(out), "line", line, rest)
            if action == "interrupt":
                out += self._move_to(len(self.buf)) + b"^C\r\n"
                rest = text[i + 1 :].encode("utf-8", "surrogateescape")
                return EditResult(bytes(out), "interrupt", self.buf, rest)
            if action == "eof-or-delete":
                if not self.buf:
                    rest = text[i + 1 :].encode("utf-8", "surrogateescape")
                    return EditResult(bytes(out), "eof", "", rest)
                action = "delete"
            out += self._do(action, ch)
            self._last_tab = tab
        return EditResult(bytes(out))

    def _escape(self) -> str | None:
        """The command of a finished escape sequence, "" for an unknown one, None if more is
        needed."""
        s = self._esc or ""
        if s in _SEQUENCES:
            self._esc = None
            return _SEQUENCES[s]
        if s in ("[", "O") or (s.startswith("[") and len(s) < 16 and not ("@" <= s[-1] <= "~")):
            return None
        self._esc = None
        return "ignore"

    def _do(self, action: str, ch: str) -> bytes:
        if action == "insert":
            return self._insert(ch)
        if action == "backspace":
            if self.pos == 0:
                return b""
            self.buf = self.buf[: self.pos - 1] + self.buf[self.pos :]
            self.pos -= 1
            return self._redraw()
        if action == "delete":
            if self.pos >= len(self.buf):
                return b""
            self.buf = self.buf[: self.pos] + self.buf[self.pos + 1 :]
            return self._redraw()
        if action == "left":
            return self._move_to(self.pos - 1)
        if action == "right":
            return self._move_to(self.pos + 1)
        if action == "home":
            return self._move_to(0)
        if action == "end":
            return self._move_to(len(self.buf))
        if action == "word-left":
            p = self.pos
            while p > 0 and not self.buf[p - 1].isalnum():
                p -= 1
            while p > 0 and self.buf[p - 1].isalnum():
                p -= 1
            return self._move_to(p)
        if action == "word-right":
            p = self.pos
            while p < len(self.buf) and not self.buf[p].isalnum():
                p += 1
            while p < len(self.buf) and self.buf[p].isalnum():
                p += 1
            return self._move_to(p)
        if action == "kill-start":
            self.buf, self.pos = self.buf[self.pos :], 0
            return self._redraw()
        if action == "kill-end":
            self.buf = self.buf[: self.pos]
            return self._redraw()
        if action == "kill-word":
            p = self.pos
            while p > 0 and self.buf[p - 1] in " \t":
                p -= 1
            while p > 0 and self.buf[p - 1] not in " \t":
                p -= 1
            self.buf, self.pos = self.buf[:p] + self.buf[self.pos :], p
            return self._redraw()
        if action in ("up", "down"):
            return self._history(-1 if action == "up" else 1)
        if action == "clear":
            return b"\x1b[H\x1b[2J" + self.begin_again()
        if action == "complete":
            return self._complete()
        return b""

    def begin_again(self) -> bytes:
        """The prompt and the line as they are, drawn again on a fresh line."""
        back = text_width(self.buf[self.pos :])
        return _enc(self.prompt.replace("\n", "\r\n") + self.buf) + (
            f"\x1b[{back}D".encode() if back else b""
        )

    def _insert(self, text: str) -> bytes:
        if len(self.buf) + len(text) > MAX_LINE:
            return b"\x07"
        at_end = self.pos == len(self.buf)
        self.buf = self.buf[: self.pos] + text + self.buf[self.pos :]
        self.pos += len(text)
        if at_end:
            return _enc(text)
        return self._redraw()

    def _redraw(self) -> bytes:
        """Draw the prompt's last line and the buffer again, then place the cursor."""
        last = self.prompt.rsplit("\n", 1)[-1]
        back = text_width(self.buf[self.pos :])
        return (
            b"\r" + _enc(last + self.buf) + b"\x1b[K" + (f"\x1b[{back}D".encode() if back else b"")
        )

    def _move_to(self, p: int) -> bytes:
        p = max(0, min(len(self.buf), p))
        if p == self.pos:
            return b""
        if p < self.pos:
            n = text_width(self.buf[p : self.pos])
            self.pos = p
            return f"\x1b[{n}D".encode() if n else b""
        n = text_width(self.buf[self.pos : p])
        self.pos = p
        return f"\x1b[{n}C".encode() if n else b""

    def _history(self, step: int) -> bytes:
        i = self._hist_index + step
        if i < 0 or i > len(self.history):
            return b"\x07"
        if self._hist_index == len(self.history):
            self._draft = self.buf
        self._hist_index = i
        self.buf = self.history[i] if i < len(self.history) else self._draft
        self.pos = len(self.buf)
        return self._redraw()

    def _complete(self) -> bytes:
        try:
            start, cands = self.completer(self.buf, self.pos)
        except Exception:
            return b"\x07"
        word = self.buf[start : self.pos]
        if not cands:
            return b"\x07"
        if len(cands) == 1:
            full = cands[0]
            if not full.endswith("/"):
                full += " "
            return self._replace_word(start, full)
        common = _common_prefix(cands)
        if len(common) > len(word):
            return self._replace_word(start, common)
        if not self._last_tab:
            return b"\x07"
        return b"\r\n" + self._columns(cands) + self.begin_again()

    def _replace_word(self, start: int, text: str) -> bytes:
        tail = self.buf[self.pos :]
        if self.pos == len(self.buf) and text.startswith(self.buf[start:]):
            return self._insert(text[len(self.buf) - start :])
        self.buf = self.buf[:start] + text + tail
        self.pos = start + len(text)
        return self._redraw()

    def _columns(self, items: list[str]) -> bytes:
        names = [
            _unescape(s.rstrip("/").rsplit("/", 1)[-1]) + ("/" if s.endswith("/") else "")
            for s in items
        ]
        width = max(text_width(n) for n in names) + 2
        per_row = max(1, self.width() // width)
        rows = []
        for k in range(0, len(names), per_row):
            cells = names[k : k + per_row]
            rows.append("".join(c + " " * (width - text_width(c)) for c in cells[:-1]) + cells[-1])
        return _enc("\r\n".join(rows) + "\r\n")


def _common_prefix(items: list[str]) -> str:
    first, last = min(items), max(items)
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n]


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out)


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")
