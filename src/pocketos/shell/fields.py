"""Fields under construction: the words a word expands to, with IFS splitting and the glob
patterns of their unquoted parts."""

from __future__ import annotations

from pocketos.shell import pattern as pat

__all__ = ["_Fields", "_Split"]


class _Split(list[str]):
    """The words of an unquoted ``${x:-word}``: split already, with their glob patterns."""

    def __init__(self, fields: list[tuple[str, str, bool]]) -> None:
        super().__init__(t for t, _, _ in fields)
        self.fields = fields


class _Fields:
    """Builds fields: ``text`` is the value, ``pat`` the same with quoted characters
    escaped for globbing."""

    __slots__ = ("out", "text", "pat", "has", "glob", "qs")

    def __init__(self) -> None:
        self.out: list[tuple[str, str, bool]] = []
        self.text: list[str] = []
        self.pat: list[str] = []
        self.qs: list[bool] = []
        self.has = False
        self.glob = False

    def lit(self, s: str) -> None:
        self.text.append(s)
        self.pat.append(s)
        self.qs.append(False)
        if not self.glob and pat.has_glob(s):
            self.glob = True
        self.has = self.has or bool(s)

    def quoted(self, s: str) -> None:
        self.text.append(s)
        self.pat.append(pat.escape(s))
        self.qs.append(True)
        self.has = True

    def end(self, force: bool = False) -> None:
        if self.has or force or self.text and any(self.text):
            p = "".join(self.pat)
            # a bracket may open in one part and close in another (``[$x]``)
            glob = self.glob or ("[" in p and len(self.pat) > 1 and pat.has_glob(p))
            self.out.append(("".join(self.text), p, glob))
        self.text = []
        self.pat = []
        self.qs = []
        self.has = False
        self.glob = False

    def split(self, s: str, ifs: str) -> None:
        if not s:
            return
        for c in ifs:
            if c in s:
                break
        else:  # nothing to split at (this is also the case of an empty IFS)
            self.lit(s)
            return
        ws = "".join(c for c in ifs if c in " \t\n")
        nws = "".join(c for c in ifs if c not in " \t\n")
        n = len(s)
        i = 0
        while i < n and s[i] in ws:
            i += 1
        if i:
            self.end()
        if i >= n:
            return
        cur: list[str] = []
        while i < n:
            c = s[i]
            if c in ifs:
                self.lit("".join(cur))
                self.end(True)
                cur = []
                if c in nws:
                    i += 1
                    while i < n and s[i] in ws:
                        i += 1
                else:
                    while i < n and s[i] in ws:
                        i += 1
                    if i < n and s[i] in nws:
                        i += 1
                        while i < n and s[i] in ws:
                            i += 1
                continue
            cur.append(c)
            i += 1
        if cur:
            self.lit("".join(cur))
