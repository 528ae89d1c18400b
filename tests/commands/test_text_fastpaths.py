"""The batch and whole-chunk fast paths of the text commands agree with their per-line
definitions, on the edge cases that tend to break them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pocketos.commands.text_sort import Key, make_batch, make_keyfunc, parse_keydef

LINES = [
    b"", b" ", b"\t", b"a", b"  a b  c ", b"b\ta\tc", b"x,y,z", b",,", b"1,2,3", b"-5 x",
    b" -0.5 y", b"+3 z", b"007 q", b"1e3 w", b"-", b"-.", b".5", b"3.", b"12.50 a",
    b"99999999999999999999999 big", b"\x00nul 5", b"caf\xc3\xa9 9", b"\xff\xfe 1",
    b"a  b", b"a , b , c", b"10\t20\t30", b"CRLF 4\r", b"x" * 5000 + b" 7",
    b"k1 k2 k3 k4 k5", b"1,,3", b"  42", b"\t-17\tz", b"3-4", b"1.2.3 v",
]


def _random_lines(n: int) -> list[bytes]:
    rnd = random.Random(7)
    alphabet = [b" ", b"\t", b",", b"a", b"B", b"1", b"9", b"-", b".", b"0", b":", b"\xc3\xa9"]
    return [b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(n)]


SPECS = ["1", "2", "3", "1,1", "2,2", "2,3", "3,3", "1,2", "5", "2b", "2,2b", "1n", "2n",
         "2,2n", "3,3n", "1,1f", "2f", "2,2f", "4,4n", "2,2r", "2nr", "1b,1", "3b,4"]


@pytest.mark.parametrize("tab", [None, ord(","), ord("\t"), ord(" "), ord("-"), ord(":")])
@pytest.mark.parametrize("spec", SPECS)
def test_sort_batch_keys_match_per_line(spec: str, tab: int | None) -> None:
    key = parse_keydef(spec)
    batch = make_batch(key, tab, False)
    if batch is None:
        return
    lines = LINES + _random_lines(400)
    fn = make_keyfunc(key, tab, False, b"")
    expect: list[Any] = [fn(ln) for ln in lines]
    assert batch(lines) == expect


@pytest.mark.parametrize("flags", ["n", "f", "nr", "b", ""])
def test_sort_batch_whole_line(flags: str) -> None:
    key = Key()
    for ch in flags:
        if ch == "n":
            key.numeric = True
        elif ch == "f":
            key.fold = True
        elif ch == "r":
            key.reverse = True
        elif ch == "b":
            key.skipsblanks = True
    batch = make_batch(key, None, True)
    if batch is None:
        assert flags in ("b", "")
        return
    lines = LINES + _random_lines(400)
    fn = make_keyfunc(key, None, True, b"")
    assert batch(lines) == [fn(ln) for ln in lines]


def test_sort_batch_declines_unusual_keys() -> None:
    assert make_batch(parse_keydef("2.2,3"), None, False) is None
    assert make_batch(parse_keydef("2,2.3"), None, False) is None
    assert make_batch(parse_keydef("3,2"), None, False) is None
    assert make_batch(parse_keydef("2g"), None, False) is None
    assert make_batch(parse_keydef("2V"), None, False) is None
    assert make_batch(parse_keydef("2,2n"), ord("."), False) is None
    assert make_batch(parse_keydef("2,2n"), ord(" "), False) is None
    assert make_batch(parse_keydef("2,2"), ord("\n"), False) is None
