"""The terminal device: the streams a terminal's shell and its commands see, and the canonical
line discipline that cooks keyboard input for a program that reads it.

A program started from a terminal reads :class:`TtyInput` and writes :class:`TtyOutput`; both
answer ``isatty()`` with True and know the window size (``stty size``). Input typed while a
program runs passes through :class:`LineDiscipline`: it is echoed, edited a line at a time
(backspace, Ctrl-U, Ctrl-W) and handed to the program when Enter is pressed; Ctrl-D ends the
input (EOF for that read), Ctrl-C and Ctrl-\\ signal the foreground job.
"""

from __future__ import annotations

import codecs
import collections
from collections.abc import Awaitable, Callable

from pocketos.kernel.jobctl import ProcessGroup, checkpoint, current_group, must_pause
from pocketos.kernel.streams import OutputStream, _BufferedInput

__all__ = ["LineDiscipline", "TtyInput", "TtyOutput", "caret", "onlcr"]

#: the most bytes a terminal holds for a program that does not read them (a pty's 4 KiB line
#: limit, generous): keys past it are dropped with a bell, like a full tty queue
MAX_INPUT = 64 * 1024

_EOF = object()
TTIN = 21


def caret(b: int) -> bytes:
    """A control byte shown the way a tty echoes it (``^C``, ``^[``, ``^?``)."""
    return b"^?" if b == 0x7F else b"^" + bytes([b + 0x40])


def onlcr(data: bytes) -> bytes:
    """Output post-processing of a tty: each newline goes out as CR LF."""
    if b"\n" not in data:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _erase_width(ch: str) -> int:
    """Columns a character took on the screen (control characters were echoed as two)."""
    if not ch:
        return 0
    o = ord(ch)
    if o < 0x20 or o == 0x7F:
        return 2
    import unicodedata

    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class LineDiscipline:
    """Canonical-mode input processing (``stty icanon echo``) for a running program.

    ``feed`` takes raw key bytes and returns what to echo; ``signal`` is called with ``"INT"``
    or ``"QUIT"``/``"TSTP"`` for the interrupt keys. Cooked lines wait in a queue for
    :class:`TtyInput`.
    """

    def __init__(self, signal: Callable[[str], None]) -> None:
        self.signal = signal
        self.echo = True
        self.line = ""  # the line being edited
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.cooked: collections.deque[object] = collections.deque()
        self.queued = 0
        self.waiters: list[Callable[[], None]] = []

    # -- input side ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        text = self._decoder.decode(data)
        for ch in text:
            o = ord(ch)
            if o == 0x03:  # VINTR
                self._flush_all()
                out += b"^C\r\n" if self.echo else b""
                self.signal("INT")
            elif o == 0x1C:  # VQUIT
                self._flush_all()
                out += b"^\\\r\n" if self.echo else b""
                self.signal("QUIT")
            elif o == 0x1A:  # VSUSP
                out += b"^Z" if self.echo else b""
                self.signal("TSTP")
            elif o == 0x04:  # VEOF: the line so far without a newline, or EOF if empty
                if self.line:
                    self._push(self.line.encode("utf-8", "surrogateescape"))
                    self.line = ""
                else:
                    self._push_eof()
            elif o in (0x7F, 0x08):  # VERASE
                if self.line:
                    w = _erase_width(self.line[-1])
                    self.line = self.line[:-1]
                    if self.echo:
                        out += b"\b \b" * w
            elif o == 0x15:  # VKILL
                if self.echo:
                    out += b"".join(b"\b \b" * _erase_width(c) for c in reversed(self.line))
                self.line = ""
            elif o == 0x17:  # VWERASE
                cut = len(self.line.rstrip(" \t"))
                while cut > 0 and self.line[cut - 1] not in " \t":
                    cut -= 1
                gone, self.line = self.line[cut:], self.line[:cut]
                if self.echo:
                    out += b"".join(b"\b \b" * _erase_width(c) for c in reversed(gone))
            elif o in (0x0D, 0x0A):  # ICRNL: Enter ends the line
                if len(self.line) + self.queued >= MAX_INPUT:
                    out += b"\x07"
                    continue
                self._push((self.line + "\n").encode("utf-8", "surrogateescape"))
                self.line = ""
                out += b"\r\n" if self.echo else b""
            elif o < 0x20 or o == 0x7F:
                self._add(ch, out, caret(o))
            else:
                self._add(ch, out, ch.encode("utf-8", "surrogateescape"))
        return bytes(out)

    def _add(self, ch: str, out: bytearray, shown: bytes) -> None:
        if len(self.line) + self.queued >= MAX_INPUT:
            out += b"\x07"
            return
        self.line += ch
        if self.echo:
            out += shown

    def _push(self, data: bytes) -> None:
        self.cooked.append(data)
        self.queued += len(data)
        self._wake()

    def _push_eof(self) -> None:
        self.cooked.append(_EOF)
        self._wake()

    def _flush_all(self) -> None:
        self.line = ""
        self.cooked.clear()
        self.queued = 0

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for w in waiters:
            w()

    def take_typeahead(self) -> bytes:
        """What was typed but not read (cooked lines and the partial line), for the shell's
        next prompt; the queue is emptied."""
        parts = [c for c in self.cooked if isinstance(c, bytes)]
        data = b"".join(parts) + self.line.encode("utf-8", "surrogateescape")
        self._flush_all()
        return data

    # -- program side -------------------------------------------------------------------------
    def next_chunk(self) -> bytes | None:
        """The next cooked line, ``b""`` for an EOF, None when nothing is ready."""
        if not self.cooked:
            return None
        item = self.cooked.popleft()
        if item is _EOF:
            return b""
        assert isinstance(item, bytes)
        self.queued -= len(item)
        return item


class TtyInput(_BufferedInput):
    """The terminal as a program's stdin: reads return cooked lines; Ctrl-D gives one EOF."""

    def __init__(
        self,
        disc: LineDiscipline,
        wait: Callable[[], Awaitable[None]],
        winsize: Callable[[], tuple[int, int]],
        name: str,
        set_winsize: Callable[[int, int], None] | None = None,
        foreground: Callable[[], ProcessGroup | None] | None = None,
    ) -> None:
        self.disc = disc
        self._wait = wait
        self._winsize = winsize
        self._set_winsize = set_winsize
        self.name = name
        self._buf = bytearray()
        #: the process group that owns the terminal (``tcgetpgrp``): a job of another group
        #: that reads is stopped with TTIN, as a background job is on a real terminal
        self._foreground = foreground

    def isatty(self) -> bool:
        return True

    def winsize(self) -> tuple[int, int]:
        """(rows, cols) of the terminal."""
        return self._winsize()

    def set_winsize(self, rows: int, cols: int) -> None:
        """``stty rows N cols N``."""
        if self._set_winsize is not None:
            self._set_winsize(cols, rows)

    @property
    def echo(self) -> bool:
        return self.disc.echo

    def set_echo(self, on: bool) -> None:
        """``stty echo`` / ``stty -echo``."""
        self.disc.echo = on

    async def _fill(self) -> bool:
        while True:
            if self._foreground is not None:
                mine, owner = current_group(), self._foreground()
                if mine is not None and owner is not None and mine is not owner:
                    mine.stop(TTIN)
            if must_pause():
                await checkpoint()  # a stopped job leaves the keys to the next reader
                continue
            chunk = self.disc.next_chunk()
            if chunk is not None:
                if not chunk:
                    return False
                self._buf += chunk
                return True
            await self._wait()


class TtyOutput(OutputStream):
    """The terminal as a program's stdout/stderr: newlines go out as CR LF."""

    def __init__(
        self,
        emit: Callable[[bytes], Awaitable[None]],
        winsize: Callable[[], tuple[int, int]],
        name: str,
    ) -> None:
        self._emit = emit
        self._winsize = winsize
        self.name = name

    def isatty(self) -> bool:
        return True

    def winsize(self) -> tuple[int, int]:
        return self._winsize()

    async def write(self, data: bytes) -> None:
        if must_pause():
            await checkpoint()
        if data:
            await self._emit(onlcr(bytes(data)))
