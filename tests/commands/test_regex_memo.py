"""POSIX patterns are translated once per pattern and options (grep and sed translate the
same few patterns over and over): a second translation must give what the first gave, with
the same warnings, and an invalid pattern must fail every time."""

from __future__ import annotations

import pytest

from pocketos import VM
from pocketos.commands import _regex
from pocketos.commands._regex import RegexError, translate


def test_a_memoised_translation_is_the_same_with_its_warnings() -> None:
    for _ in range(2):
        warned: list[str] = []
        assert translate("*a", ere=True, warnings=warned) == "a"
        assert warned == ["* at start of expression"]
    assert translate("a.b") != translate("a.b", icase=True)
    assert translate("^x$", multiline=True) != translate("^x$")
    assert translate(r"\(a\)\1", group_offset=2) == translate(r"\(a\)\1", group_offset=2)
    assert translate(r"\(a\)\1", group_offset=2) != translate(r"\(a\)\1")


def test_an_invalid_pattern_fails_every_time() -> None:
    for _ in range(3):
        with pytest.raises(RegexError, match="Unmatched"):
            translate(r"a\(")


def test_long_patterns_are_not_kept() -> None:
    long = "x" * (_regex._MEMO_LONGEST + 1)
    translate(long)
    assert all(key[0] != long for key in _regex._MEMO)


def test_grep_warns_on_each_run() -> None:
    with VM() as vm:
        r = vm.exec(
            "echo '*a' > /f; grep -E '*a' /f; grep -E '*a' /f; grep '\\(' /f; grep '\\(' /f"
        )
    assert r.stdout == "*a\n*a\n"
    assert r.stderr == "grep: warning: * at start of expression\n" * 2 + (
        "grep: Unmatched ( or \\(\n" * 2
    )
