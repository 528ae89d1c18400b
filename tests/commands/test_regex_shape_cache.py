"""The shape of a pattern (how long a subject ``re`` may search, whether it can cross a
newline) is remembered per pattern and flags: a remembered shape must be the one a fresh
analysis gives, for every flag set and type, and a guarded pattern stays guarded."""

from __future__ import annotations

import re

import pytest

from pocketos import VM
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import TINY, may_match_newline, safe_length


def test_a_remembered_shape_is_a_fresh_one() -> None:
    cases = ["abc", "a*b", "(a*)*b", "a.c", "a[^x]c", r"a\sb", "x+y+z+"]
    for pattern in cases:
        for flags in (0, re.IGNORECASE, re.DOTALL, re.MULTILINE):
            for subject in (pattern, pattern.encode()):
                first = safe_length(subject, flags)
                assert safe_length(subject, flags) == first
                assert first == safe_regex._safe_length(subject, flags)
                nl = may_match_newline(subject, flags)
                assert may_match_newline(subject, flags) is nl
                assert nl is safe_regex._may_match_newline(subject, flags)


def test_flags_are_part_of_the_key() -> None:
    # "." crosses a newline only with DOTALL: asking without it first must not answer for it
    assert may_match_newline("a.b", 0) is False
    assert may_match_newline("a.b", re.DOTALL) is True
    assert may_match_newline("a.b", 0) is False


def test_the_caches_stay_bounded_and_long_patterns_are_not_kept() -> None:
    for i in range(safe_regex._SHAPE_CACHE_SIZE + 50):
        safe_length(f"p{i}*q")
        may_match_newline(f"p{i}*q")
    assert len(safe_regex._safe_lengths) <= safe_regex._SHAPE_CACHE_SIZE
    assert len(safe_regex._newlines) <= safe_regex._SHAPE_CACHE_SIZE
    long = "(a*)*" + "b" * safe_regex._SHAPE_CACHED_LEN
    assert safe_length(long) == TINY
    assert all(k[1] != long for k in safe_regex._safe_lengths)


@pytest.mark.parametrize("run", [0, 1])
def test_an_exponential_pattern_stays_guarded_when_its_shape_is_remembered(run: int) -> None:
    # the second run takes the shape from the cache: the match must still be bounded and right
    with VM() as vm:
        vm.write_file("/t/f", b"a" * 5000 + b"\n", parents=True)
        r = vm.exec("grep -cE '(a*)*b' /t/f; echo rc=$?", timeout=30)
        assert r.stdout == "0\nrc=1\n", r.stderr
