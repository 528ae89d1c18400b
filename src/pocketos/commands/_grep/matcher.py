"""Compiled grep patterns and the lines of a chunk they select.

The compiled expression runs over a whole chunk of lines (``re.MULTILINE``), so lines that do
not match cost no Python work."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pocketos.commands._regex import translate
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern


class Matcher:
    """Compiled patterns. ``search(text, pos)`` works on a chunk of lines (MULTILINE);
    ``line(text)`` tells whether one line (without terminator) matches."""

    def __init__(self, rx: SafePattern) -> None:
        self.rx = rx
        self.search = rx.search
        #: ``\``` / ``\'`` anchor to the whole subject: such patterns go line by line
        self.per_line = "\\A" in rx.pattern or "\\Z" in rx.pattern
        self._counter: re.Pattern[str] | None = None
        self._counter_built = False

    def line_counter(self) -> re.Pattern[str] | None:
        """A pattern matching once per selected line in a run of whole lines (from the line's
        first hit through its newline), so ``len(findall(text))`` counts them in one C call.
        None unless that is exact and linear: the pattern has no repetition (each try costs
        at most its length; the possessive tail takes each character once) and nothing in it
        can match or look at a newline (no hit spans two lines)."""
        if not self._counter_built:
            self._counter_built = True
            rx = self.rx
            ok = rx.safe_len == safe_regex.UNBOUNDED and not safe_regex.may_match_newline(
                rx.pattern, rx.flags
            )
            if ok:
                try:
                    self._counter = re.compile(f"(?:{rx.pattern})[^\\n]*+\\n", rx.flags)
                except re.error:  # e.g. a -P pattern with global flags inside
                    self._counter = None
        return self._counter

    def line_matches(self, line: str) -> bool:
        return self.rx.search(line) is not None


def build_regex(
    patterns: list[str],
    mode: str,
    icase: bool,
    word: bool,
    line: bool,
    multiline: bool = True,
    warnings: list[str] | None = None,
) -> SafePattern:
    """Compile grep patterns. ``mode``: G (BRE), E (ERE), F (fixed), P (Python)."""
    parts: list[str] = []
    groups = 0
    for p in patterns:
        if mode == "F":
            t = re.escape(p)
        elif mode == "P":
            t = p
        else:
            t = translate(
                p, ere=(mode == "E"), multiline=multiline, group_offset=groups, warnings=warnings
            )
        if mode in "GE":
            try:
                groups += re.compile(t).groups
            except re.error:
                pass
        parts.append(t)
    if not parts:
        body = "(?!)"
    elif len(parts) == 1:
        body = parts[0]
    else:
        body = "|".join(f"(?:{t})" for t in parts)
    if line:
        body = f"^(?:{body})$" if multiline else rf"\A(?:{body})\Z"
    elif word:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    flags = re.MULTILINE if multiline else 0
    if icase:
        flags |= re.IGNORECASE
    return safe_regex.compile(body, flags)


def iter_matching(text: str, m: Matcher, eol: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``text`` that matches; ``end`` indexes its terminator.
    ``text`` is a run of whole lines, each ending with ``eol``."""
    search = m.search
    n = len(text)
    pos = 0
    find = text.find
    rfind = text.rfind
    while pos < n:
        hit = search(text, pos)
        if hit is None:
            return
        s = hit.start()
        if s >= n:
            return
        ls = rfind(eol, 0, s) + 1
        if ls < pos:
            ls = pos
        le = find(eol, s)
        if le < 0:
            le = n
        if hit.end() > le and not m.line_matches(text[ls:le]):
            pos = le + 1
            continue
        yield ls, le
        pos = le + 1


def iter_selected(text: str, m: Matcher, eol: str, invert: bool) -> Iterator[tuple[int, int]]:
    if not invert:
        yield from iter_matching(text, m, eol)
        return
    pos = 0
    find = text.find
    for ms, me in iter_matching(text, m, eol):
        while pos < ms:
            e = find(eol, pos)
            yield pos, e
            pos = e + 1
        pos = me + 1
    n = len(text)
    while pos < n:
        e = find(eol, pos)
        if e < 0:
            e = n
        yield pos, e
        pos = e + 1
