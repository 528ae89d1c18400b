"""The line discipline and the prompt editor on their own (no VM): bytes in, bytes out."""

from __future__ import annotations

from pocketos.terminal.editor import LineEditor
from pocketos.terminal.prompt import expand_prompt
from pocketos.terminal.tty import MAX_INPUT, LineDiscipline, caret, onlcr


def test_discipline_erases_whole_characters_and_joins_split_utf8() -> None:
    sent: list[str] = []
    d = LineDiscipline(sent.append)
    assert d.feed("é".encode()[:1]) == b""  # half a character: nothing yet
    assert d.feed("é".encode()[1:]) == "é".encode()
    assert d.feed("中".encode()) == "中".encode()
    assert d.feed(b"\x7f") == b"\b \b\b \b"  # a wide character takes two columns back
    assert d.feed(b"\x7f") == b"\b \b"
    assert d.feed(b"\x01") == b"^A"  # a control character is echoed in caret form
    assert d.feed(b"\x7f") == b"\b \b\b \b"
    assert d.feed(b"ok\r") == b"ok\r\n"
    assert d.next_chunk() == b"ok\n" and d.next_chunk() is None
    assert d.feed(b"\x04") == b"" and d.next_chunk() == b""  # EOF on an empty line
    assert d.feed(b"\x03x") == b"^C\r\nx" and sent == ["INT"]
    assert d.take_typeahead() == b"x"


def test_discipline_without_echo_and_when_full() -> None:
    d = LineDiscipline(lambda _: None)
    d.echo = False
    assert d.feed(b"secret\r") == b""
    assert d.next_chunk() == b"secret\n"
    d.echo = True
    assert d.feed(b"a" * (MAX_INPUT + 1)) == b"a" * MAX_INPUT + b"\x07"
    assert d.feed(b"\r") == b"\x07"  # no room for the newline either
    assert d.next_chunk() is None


def test_editor_cursor_moves_and_redraws() -> None:
    ed = LineEditor(lambda line, pos: (0, []), lambda: 80)
    assert ed.begin("$ ") == b"$ "
    assert ed.feed(b"helo").echo == b"helo"
    assert ed.feed(b"\x1b[D").echo == b"\x1b[1D"
    assert ed.feed(b"l").echo == b"\r$ hello\x1b[K\x1b[1D"
    assert ed.feed(b"\x1b[3").echo == b""  # an escape split across writes waits for the rest
    assert ed.feed(b"~").echo == b"\r$ hell\x1b[K"
    r = ed.feed(b"\rnext")
    assert (r.action, r.line, r.rest) == ("line", "hell", b"next")
    ed.remember(r.line)
    ed.begin("$ ")
    assert ed.feed(b"\x10").echo == b"\r$ hell\x1b[K"  # Ctrl-P: history
    assert ed.feed(b"\x0e").echo == b"\r$ \x1b[K"  # Ctrl-N: back to the empty line
    r = ed.feed(b"\x04")
    assert r.action == "eof"


def test_prompt_escapes_and_helpers() -> None:
    class Sh:
        cwd = "/home/user/src/app"
        jobs: list[object] = []

        def get_str(self, name: str) -> str | None:
            return {"HOME": "/home/user", "USER": "ann", "HOSTNAME": "box.lan"}.get(name)

    assert expand_prompt("\\u@\\h:\\w \\W \\$ \\101\\\\", Sh()) == "ann@box:~/src/app app $ A\\"
    assert expand_prompt("[\\[\\e[1m\\]x\\[\\e[0m\\]]", Sh()) == "[\x1b[1mx\x1b[0m]"
    assert caret(3) == b"^C" and caret(0x7F) == b"^?"
    assert onlcr(b"a\nb\r\nc") == b"a\r\nb\r\nc"
