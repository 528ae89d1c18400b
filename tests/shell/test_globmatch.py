"""The linear pattern matcher agrees with the backtracking translation to Python ``re`` (the
reference for the syntax) on every short subject, for patterns of every construct."""

from __future__ import annotations

import itertools

import pytest

from pocketos.shell import pattern as pat
from pocketos.shell.globmatch import Matcher, nodes_for

PATTERNS = [
    "*",
    "a*",
    "*a",
    "*a*b*",
    "?",
    "a?b",
    "[ab]*",
    "[!a]*b",
    "[[:alpha:]]?",
    "\\*a*",
    "@(a|b)*",
    "*(a)",
    "+(ab)",
    "?(a)b",
    "!(a)",
    "!(a*)b",
    "*(a|b)c",
    "+(a|*b)",
    "a*b*a*",
    "[a-b]?*",
    "!(*b)",
    "@(a*|b)@(b|a)",
    "*(+(a)b)",
]
SUBJECTS = ["".join(t) for n in range(6) for t in itertools.product("ab.c", repeat=n)]


@pytest.mark.parametrize("p", PATTERNS)
def test_agrees_with_the_regex_translation(p: str) -> None:
    rx = pat.compile_pattern(p)
    nodes = nodes_for(p)
    for s in SUBJECTS:
        assert Matcher(nodes, s).fullmatch() == (rx.fullmatch(s) is not None), (p, s)


@pytest.mark.parametrize("p", PATTERNS)
def test_prefixes_and_suffixes_agree(p: str) -> None:
    rx = pat.compile_pattern(p)
    nodes = nodes_for(p)
    for s in SUBJECTS[:200]:
        m = Matcher(nodes, s)
        ends = m.ends_from(0)
        starts = m.suffix_starts()
        for i in range(len(s) + 1):
            assert bool(ends >> i & 1) == (rx.fullmatch(s, 0, i) is not None), (p, s, i)
            assert bool(starts >> i & 1) == (rx.fullmatch(s, i) is not None), (p, s, i)


def test_nocase() -> None:
    assert Matcher(nodes_for("*A[B-C]"), "xab", nocase=True).fullmatch()
    assert not Matcher(nodes_for("*A[B-C]"), "xab").fullmatch()


def test_subject_with_nul_and_non_ascii() -> None:
    assert Matcher(nodes_for("*é?"), "aé\x00").fullmatch()
    assert not Matcher(nodes_for("*é"), "aé\x00").fullmatch()
