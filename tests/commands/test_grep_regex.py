"""POSIX BRE/ERE -> Python translation."""

from __future__ import annotations

import re

import pytest

from pocketos.commands._regex import RegexError, bre_to_py, ere_to_py, translate


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("abc", "abc"),
        ("a*b", "a*b"),
        ("*a", "\\*a"),
        ("^*a", "^\\*a"),
        ("\\(*a\\)", "(\\*a)"),
        ("a\\|*b", "a|\\*b"),
        ("a\\{2,3\\}", "a{2,3}"),
        ("a\\{2\\}", "a{2}"),
        ("a\\{2,\\}", "a{2,}"),
        ("a\\{,2\\}", "a{0,2}"),
        ("\\(ab\\)\\1", "(ab)(?:\\1)"),
        ("a\\|b", "a|b"),
        ("a\\+\\?", "(?:a+)?"),
        ("a**", "(?:a*)*"),
        ("a+?|(){}", "a\\+\\?\\|\\(\\)\\{\\}"),
        ("x$y", "x\\$y"),
        ("a^b", "a\\^b"),
        ("a$", "a\\Z"),
        ("\\(a$\\)", "(a\\Z)"),
        ("a.c", "a(?s:.)c"),
        ("\\.\\*\\[\\]", "\\.\\*\\[\\]"),
        ("\\<w\\>", "\\b(?=\\w)w\\b(?<=\\w)"),
        ("\\bx\\B", "\\bx\\B"),
        ("\\w\\W\\s\\S", "\\w\\W\\s\\S"),
        ("\\`a\\'", "\\Aa\\Z"),
        ("[]a]", "[\\]a]"),
        ("[^]a]", "[^\\]a]"),
        ("[a-c-]", "[a-c\\-]"),
        ("[[:digit:][:upper:]]", "[0-9A-Z]"),
        ("[[:alpha:]_]", "[a-zA-Z\\_]"),
        ("[\\n]", "[\\\\n]"),
        ("[[.-.]]", "[\\-]"),
        ("[.^$*]", "[\\.\\^\\$\\*]"),
        ("#&~ ", "#&~ "),
    ],
)
def test_bre(pattern: str, expected: str) -> None:
    assert bre_to_py(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a|b", "a|b"),
        ("(ab)+", "(ab)+"),
        ("*a", "a"),
        ("a|*b", "a|b"),
        ("(+a)", "(a)"),
        ("a{2}", "a{2}"),
        ("a{,3}", "a{0,3}"),
        ("a{", "a\\{"),
        ("a{1", "a\\{1"),
        ("a{x}", "a\\{x\\}"),
        ("a)", "a\\)"),
        ("a+?", "(?:a+)?"),
        ("\\(\\)\\{\\|", "\\(\\)\\{\\|"),
        ("(a)(b)\\2\\1", "(a)(b)(?:\\2)(?:\\1)"),
        ("^a$", "^a\\Z"),
        ("x^", "x^"),
    ],
)
def test_ere(pattern: str, expected: str) -> None:
    assert ere_to_py(pattern) == expected


def test_multiline_anchors_and_negated_sets() -> None:
    assert bre_to_py("^a$", multiline=True) == "^a$"
    assert bre_to_py("[^a]", multiline=True) == "[^a\\n]"
    assert bre_to_py("a.b", multiline=True) == "a.b"
    rx = re.compile(ere_to_py("^b.*$", multiline=True), re.MULTILINE)
    assert rx.findall("ab\nbcd\nb") == ["bcd", "b"]


def test_icase() -> None:
    rx = re.compile(bre_to_py("abc", icase=True))
    assert rx.search("xABCx")
    rx = re.compile(bre_to_py("[[:upper:]]", icase=True))
    assert rx.search("q")


def test_group_offset() -> None:
    assert translate("\\(a\\)\\1", group_offset=2) == "(a)(?:\\3)"


def test_sed_escapes() -> None:
    assert bre_to_py("a\\tb", escapes=True) == "a\tb"
    assert bre_to_py("[\\t]", escapes=True) == "[\\x09]"
    assert bre_to_py("\\x41\\o102\\d067", escapes=True) == "ABC"
    assert bre_to_py("a\\nb") == "a\\nb"


def test_equivalence_class_is_best_effort() -> None:
    rx = re.compile(bre_to_py("[[=e=]]"))
    assert [c for c in "eéèêëax" if rx.match(c)] == ["e", "é", "è", "ê", "ë"]


def test_warnings() -> None:
    w: list[str] = []
    ere_to_py("*a|+b", warnings=w)
    assert w == ["* at start of expression", "+ at start of expression"]


@pytest.mark.parametrize(
    ("pattern", "ere", "message"),
    [
        ("\\(a", False, "Unmatched ( or \\("),
        ("(a", True, "Unmatched ( or \\("),
        ("a\\)", False, "Unmatched ) or \\)"),
        ("[abc", False, "Unmatched [, [^, [:, [., or [="),
        ("[[:nope:]]", False, "Invalid character class name"),
        ("[z-a]", False, "Invalid range end"),
        ("a\\{1", False, "Unmatched \\{"),
        ("a\\{2,1\\}", False, "Invalid content of \\{\\}"),
        ("a\\{x\\}", False, "Invalid content of \\{\\}"),
        ("\\1", False, "Invalid back reference"),
        ("(a)\\2", True, "Invalid back reference"),
        ("a\\", False, "Trailing backslash"),
        ("a{99999}", True, "Regular expression too big"),
    ],
)
def test_errors(pattern: str, ere: bool, message: str) -> None:
    with pytest.raises(RegexError) as info:
        translate(pattern, ere=ere)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("pattern", "ere", "text", "found"),
    [
        ("a\\{2\\}", False, "caab", "aa"),
        ("\\(ab\\)*c", False, "xababc", "ababc"),
        ("[[:space:]]\\+", False, "a \t b", " \t "),
        ("x\\|yz", False, "ayz", "yz"),
        ("(a|b)+", True, "cabbad", "abba"),
        ("[^[:alnum:]]+", True, "ab-+cd", "-+"),
        ("\\<th", False, "bath the", "th"),
        ("a.c", False, "a\nc", "a\nc"),
        ("[]-]\\+", False, "x]-]y", "]-]"),
    ],
)
def test_behaviour(pattern: str, ere: bool, text: str, found: str) -> None:
    m = re.search(translate(pattern, ere=ere), text)
    assert m is not None and m.group() == found


def test_binary_safe_text() -> None:
    text = b"a\xff\x00b".decode("utf-8", "surrogateescape")
    m = re.search(bre_to_py("a.\\{2\\}b"), text)
    assert m is not None
    assert m.group().encode("utf-8", "surrogateescape") == b"a\xff\x00b"
    pat = bre_to_py(b"\xff".decode("utf-8", "surrogateescape"))
    assert re.search(pat, text)


def test_class_outside_brackets_is_an_error() -> None:
    with pytest.raises(RegexError) as info:
        bre_to_py("[:space:]")
    assert str(info.value) == "character class syntax is [[:space:]], not [:space:]"
    assert bre_to_py("[:a]") == "[\\:a]"
