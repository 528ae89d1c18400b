"""grep/egrep/fgrep in a VM against GNU grep on the host."""

from __future__ import annotations

import pytest

from tests.compat import Case, assert_same, have

pytestmark = pytest.mark.skipif(not have("grep"), reason="GNU grep not installed on the host")

TEXT = (
    "alpha one\n"
    "Beta two\n"
    "gamma three\n"
    "delta four\n"
    "alphabet soup\n"
    "\n"
    "epsilon 5\n"
    "ALPHA upper\n"
    "foo.bar baz\n"
    "x*y+z? (paren) [br] {cu}\n"
    "tab\there\n"
    "end line 12\n"
)
NUMS = "".join(f"{i}\n" for i in range(1, 31))
CODE = (
    "def main():\n"
    "    x = 1\n"
    "    y = 2\n"
    "    return x + y\n"
    "\n"
    "def helper(a, b):\n"
    "    return a * b\n"
    "class Foo:\n"
    "    pass\n"
)
FILES = {"a.txt": TEXT, "nums.txt": NUMS, "code.py": CODE, "b.txt": "one\ntwo\nthree\n"}
TREE = {
    "src/main.py": "import os\nprint('hello')\n",
    "src/util.py": "def hello():\n    return 1\n",
    "src/sub/deep.txt": "hello deep\n",
    "src/sub/other.md": "nothing here\n",
    "docs/readme.md": "Hello docs\nhello again\n",
    "top.txt": "hello top\n",
    ".hidden/h.txt": "hello hidden\n",
}


def C(
    *argv: str, files: dict[str, str | bytes] | None = None, stdin: str | bytes = "", id: str = ""
) -> Case:
    return Case(list(argv), dict(FILES if files is None else files), stdin, id=id)


CASES = [
    # basic matching
    C("grep", "alpha", "a.txt"),
    C("grep", "-i", "alpha", "a.txt"),
    C("grep", "-y", "beta", "a.txt"),
    C("grep", "-v", "a", "a.txt"),
    C("grep", "-c", "a", "a.txt"),
    C("grep", "-c", "-v", "a", "a.txt"),
    C("grep", "-n", "e", "a.txt"),
    C("grep", "-b", "e", "a.txt"),
    C("grep", "-n", "-b", "o", "a.txt"),
    C("grep", "-o", "al[a-z]*", "a.txt"),
    C("grep", "-o", "-n", "[0-9]", "a.txt"),
    C("grep", "-ob", "ph", "a.txt"),
    C("grep", "-w", "alpha", "a.txt"),
    C("grep", "-x", "alpha one", "a.txt"),
    C("grep", "-x", "-v", "", "a.txt"),
    C("grep", "-c", "^$", "a.txt"),
    C("grep", "-n", "^$", "a.txt"),
    C("grep", "zzz", "a.txt"),
    C("grep", "-q", "alpha", "a.txt"),
    C("grep", "-q", "zzz", "a.txt"),
    C("grep", "-l", "alpha", "a.txt", "b.txt", "nums.txt"),
    C("grep", "-L", "alpha", "a.txt", "b.txt", "nums.txt"),
    C("grep", "-m", "2", "a", "a.txt"),
    C("grep", "-m1", "-c", "a", "a.txt"),
    C("grep", "-m", "0", "a", "a.txt"),
    C("grep", "-h", "o", "a.txt", "b.txt"),
    C("grep", "-H", "one", "b.txt"),
    C("grep", "o", "a.txt", "b.txt"),
    C("grep", "-c", "o", "a.txt", "b.txt"),
    C("grep", "-e", "alpha", "-e", "beta", "-i", "a.txt"),
    C("grep", "-e", "one", "-e", "two", "b.txt"),
    C("grep", "-f", "pats", "a.txt", files={**FILES, "pats": "alpha\nfour\n"}),
    C("grep", "-f", "empty", "a.txt", files={**FILES, "empty": ""}),
    C("grep", "-v", "-f", "empty", "b.txt", files={**FILES, "empty": ""}),
    C("grep", "", "b.txt"),
    C("grep", "-e", "", "-c", "a.txt"),
    C("grep", "one\ntwo", "b.txt", id="newline-separated patterns"),
    C("grep", "--", "-x", files={"f": "a-x\nb\n"}, stdin="-x\nnone\n"),
    C("grep", "-e", "-x", "f", files={"f": "a-x\nb\n"}),
    C("grep", "alpha", stdin=TEXT),
    C("grep", "-H", "alpha", stdin=TEXT),
    C("grep", "--label=IN", "-H", "alpha", stdin=TEXT),
    C("grep", "-c", "alpha", "-", "b.txt", stdin=TEXT),
    # BRE syntax
    C("grep", "a\\{2\\}", stdin="a\naa\naaa\nb\n"),
    C("grep", "-o", "a\\{2,3\\}", stdin="aaaaaaa\n"),
    C("grep", "^a\\|b$", stdin="ab\nba\ncc\nabb\n"),
    C("grep", "x*y+z?", "a.txt"),
    C("grep", "\\(ab\\)\\1", stdin="abab\nab\nxababx\n"),
    C("grep", "-o", "\\(.\\)\\1", stdin="aabbcd\nxyzzy\n"),
    C("grep", "*a", stdin="*a\na\nb\n"),
    C("grep", "a\\+", stdin="b\na\naa\n"),
    C("grep", "ab\\?c", stdin="ac\nabc\nabbc\n"),
    C("grep", "a+", stdin="a+\naa\n"),
    C("grep", "{cu}", "a.txt"),
    C("grep", "(paren)", "a.txt"),
    C("grep", "\\[br\\]", "a.txt"),
    C("grep", "foo.bar", "a.txt"),
    C("grep", "foo\\.bar", "a.txt"),
    C("grep", "a^b", stdin="a^b\nab\n"),
    C("grep", "a$b", stdin="a$b\nab\n"),
    C("grep", "^\\(a\\|b\\)*$", stdin="abab\nabc\n\n"),
    C("grep", "\\<al", "a.txt"),
    C("grep", "ha\\>", "a.txt"),
    C("grep", "\\bone\\b", stdin="one\nbone\none two\n"),
    C("grep", "o\\B", stdin="one\nbo\nfoo\n"),
    C("grep", "-o", "\\w\\+", stdin="hi there, you_2!\n"),
    C("grep", "-c", "\\W", "a.txt"),
    C("grep", "\\s", stdin="a b\nab\na\tb\n"),
    C("grep", "-o", "\\S*", stdin="  ab cd  \n"),
    C("grep", "\\`b", stdin="ab\nbc\n"),
    C("grep", "-c", "b\\'", stdin="ab\nbc\nb\n"),
    # brackets
    C("grep", "[[:digit:]]", "a.txt"),
    C("grep", "[[:upper:]]", "a.txt"),
    C("grep", "-c", "[[:space:]]", "a.txt"),
    C("grep", "-o", "[[:punct:]]", "a.txt"),
    C("grep", "[^a-z ]", "b.txt"),
    C("grep", "[]x]", stdin="a]b\nx\nc\n"),
    C("grep", "[^]x]", stdin="]\nx\nc\n"),
    C("grep", "[a-c-]", stdin="-\nd\nb\n"),
    C("grep", "-o", "[[:alpha:]_][[:alnum:]_]*", stdin="x1 = _y2 + 3z\n"),
    C("grep", "[[:xdigit:]]\\{4\\}", stdin="beef\nzzzz\n12ab\n"),
    C("grep", "[[:blank:]]", "a.txt"),
    C("grep", "[\\]", stdin="a\\b\nab\n"),
    C("grep", "[.]", stdin="a.b\nab\n"),
    C("grep", "[[=a=]]", stdin="a\nb\n"),
    C("grep", "[[.-.]]", stdin="a-b\nab\n"),
    C("grep", "[z-a]", stdin="a\n"),
    C("grep", "[[:nope:]]", stdin="a\n"),
    C("grep", "[:space:]", stdin="a\n"),
    C("grep", "[abc", stdin="a\n"),
    C("grep", "\\(ab", stdin="a\n"),
    C("grep", "ab\\)", stdin="a\n"),
    C("grep", "a\\{1", stdin="a\n"),
    # ERE
    C("grep", "-E", "alpha|beta", "-i", "a.txt"),
    C("grep", "-E", "(ab)+", "-o", stdin="ababab x ab\n"),
    C("grep", "-E", "a{2}", stdin="a\naa\n"),
    C("grep", "-E", "a{,2}b", "-o", stdin="aaab\n"),
    C("grep", "-E", "a{", stdin="a{\nab\n"),
    C("grep", "-E", "^(foo|bar)$", stdin="foo\nbar\nfoobar\n"),
    C("grep", "-E", "x\\*y\\+z", "a.txt"),
    C("grep", "-E", "(a)(b)\\2\\1", stdin="abba\nabab\n"),
    C("grep", "-E", "[0-9]+ [a-z]+", "-o", stdin="12 ab 3 c\n"),
    C("grep", "-E", "a?b", "-c", stdin="b\nab\nc\n"),
    C("grep", "-E", "*a", stdin="a\nb\n"),
    C("grep", "-E", "a)", stdin="a)\nb\n"),
    C("grep", "-E", "(a", stdin="a\n"),
    C("egrep", "one|three", "b.txt"),
    C("fgrep", "x*y", "a.txt"),
    # fixed strings
    C("grep", "-F", "foo.bar", "a.txt"),
    C("grep", "-F", "[br]", "a.txt"),
    C("grep", "-F", "-x", "two", "b.txt"),
    C("grep", "-F", "-w", "alpha", "a.txt"),
    C("grep", "-F", "-i", "-o", "ALPHA", "a.txt"),
    C("grep", "-F", "-e", "one", "-e", "hre", "b.txt"),
    C("grep", "-Fv", "o", "b.txt"),
    # context
    C("grep", "-A", "1", "alpha", "a.txt"),
    C("grep", "-B", "2", "delta", "a.txt"),
    C("grep", "-C", "1", "-n", "e", "a.txt"),
    C("grep", "-2", "15", "nums.txt"),
    C("grep", "-A1", "-B1", "^1", "nums.txt"),
    C("grep", "-C1", "-n", "5", "nums.txt"),
    C("grep", "-A2", "-m1", "1", "nums.txt"),
    C("grep", "-B1", "-v", "[02468]$", "nums.txt"),
    C("grep", "-o", "-A1", "2", "nums.txt"),
    C("grep", "-A1", "-c", "2", "nums.txt"),
    C("grep", "-A1", "one", "b.txt", "a.txt"),
    C("grep", "-C", "1", "-b", "return", "code.py"),
    C("grep", "-n", "-A1", "def", "code.py"),
    C("grep", "-A", "x", "a", "a.txt"),
    C("grep", "-A0", "1", "nums.txt"),
    C("grep", "--group-separator=XX", "-A0", "^1", "nums.txt"),
    C("grep", "--no-group-separator", "-B1", "^2", "nums.txt"),
    C("grep", "-L", "zzz", "b.txt"),
    C("grep", "-L", "one", "b.txt"),
    C("grep", "-d", "skip", "hello", "src", "top.txt", files=TREE),
    C("grep", "-d", "recurse", "deep", "src", files=TREE),
    C("grep", "-f", "-", "a.txt", stdin="alpha\nbeta\n"),
    # recursive (GNU lists directories in readdir order, the VM sorts names: only cases
    # whose output does not depend on that order are compared here)
    C("grep", "-rL", "hello", files=TREE),
    C("grep", "-rn", "-i", "HELLO", "docs", "top.txt", files=TREE),
    C("grep", "-r", "--include=*.py", "hello", files=TREE),
    C("grep", "-r", "--exclude=*.py", "hello", "src", files=TREE),
    C("grep", "-r", "--exclude-dir=sub", "hello", "src", files=TREE),
    C("grep", "-r", "hello", "top.txt", files=TREE),
    C("grep", "hello", "src", files=TREE),
    C("grep", "-s", "hello", "src", "top.txt", files=TREE),
    C("grep", "-R", "deep", files=TREE),
    # errors and exit status
    C("grep", "a", "missing.txt"),
    C("grep", "-s", "a", "missing.txt"),
    C("grep", "alpha", "a.txt", "missing.txt"),
    C("grep", "-q", "alpha", "missing.txt", "a.txt"),
    C("grep", "-q", "zzz", "missing.txt", "a.txt"),
    C("grep", "-z", "a", "a.txt"),
    C("grep"),
    C("grep", "--bogus", "a"),
    C("grep", "-k", "a"),
    C("grep", "-m", "x", "a", "a.txt"),
    C("grep", "-E", "--color=never", "alpha", "a.txt"),
    C("grep", "--colour=auto", "alpha", "a.txt"),
    # binary safety
    C("grep", "a", files={"bin": b"xa\x00b\nzz\n"}),
    C("grep", "-c", "a", files={"bin": b"xa\x00b\nzz\na\n"}),
    C("grep", "-a", "a", "bin", files={"bin": b"xa\x00b\nzz\na\n"}),
    C("grep", "-l", "a", "bin", files={"bin": b"xa\x00b\n"}),
    C("grep", "-q", "a", "bin", files={"bin": b"xa\x00b\n"}),
    C("grep", "zz", "bin", files={"bin": b"xa\x00b\n"}),
    C("grep", "--binary-files=without-match", "a", "bin", files={"bin": b"a\x00\n"}),
    C("grep", "-z", "b", stdin=b"a\x00b\x00cb\x00"),
    C("grep", "-z", "-c", "^b", stdin=b"a\x00b\nx\x00cb"),
    C("grep", "x", stdin=b"a\xffx\n\xfe\nx\n"),
    C("grep", "-o", "x.", stdin=b"x\xff\n"),
    C("grep", "a", stdin="a\r\nb\r\n"),
    C("grep", "a$", stdin="a\r\na\n"),
    C("grep", "last", stdin="first\nlast"),
    C("grep", "-c", "", stdin="a\nb"),
    C("grep", "-v", "x", stdin="x\ny"),
    C("grep", "-n", "b", stdin="a\nb"),
    C("grep", "-c", "x", stdin=""),
]

T2 = "foo bar\nbaz\nfoo\n\nqux foo foo\nFOO\nend\n"
F2: dict[str, str | bytes] = {"t": T2, "u": "x\nfoo\n", "e": ""}

#: argv lists run with the files F2 and "stdin foo" on stdin
MORE = [
    ["grep", "-c", "foo", "t", "u", "e"],
    ["grep", "-L", "foo", "t", "u", "e"],
    ["grep", "-l", "-v", "foo", "t", "u", "e"],
    ["grep", "-o", "-i", "foo", "t"],
    ["grep", "-on", "o*", "t"],
    ["grep", "-ob", "foo", "t"],
    ["grep", "-c", "-o", "foo", "t"],
    ["grep", "-vn", "foo", "t"],
    ["grep", "-w", "fo", "t"],
    ["grep", "-w", "foo foo", "t"],
    ["grep", "-x", "-e", "foo", "-e", "baz", "t"],
    ["grep", "-wo", "foo", "t"],
    ["grep", "-m1", "-o", "foo", "t"],
    ["grep", "-m2", "-v", "foo", "t"],
    ["grep", "-m1", "-c", "-v", "x", "t", "u"],
    ["grep", "-n", "-m1", "-A2", "foo", "t"],
    ["grep", "-B1", "-A1", "-n", "baz\\|end", "t"],
    ["grep", "-C5", "baz", "t"],
    ["grep", "-C1", "-H", "baz", "t"],
    ["grep", "-C1", "-c", "-H", "baz", "t"],
    ["grep", "-nb", "-C1", "baz", "t"],
    ["grep", "-hn", "foo", "t", "u"],
    ["grep", "-H", "-c", "foo", "t"],
    ["grep", "-Hn", "-o", "o", "u"],
    ["grep", "-Z", "-l", "foo", "t", "u"],
    ["grep", "-Z", "foo", "t", "u"],
    ["grep", "-Zc", "foo", "t", "u"],
    ["grep", "-i", "-F", "FOO\nBAZ", "t"],
    ["grep", "-F", "", "t"],
    ["grep", "-F", "-x", "", "t"],
    ["grep", "-E", "", "t"],
    ["grep", "-e", "foo", "-v", "-e", "baz", "t"],
    ["grep", "-E", "o{2}", "-o", "t"],
    ["grep", "-E", "^$", "-n", "t"],
    ["grep", "-E", "(foo|bar)$", "t"],
    ["grep", "-E", "\\bba", "t"],
    ["grep", "-E", "[[:space:]]foo", "t"],
    ["grep", "-G", "foo\\>", "-c", "t"],
    ["grep", "-P", "fo{2}\\b", "t"],
    ["grep", "-i", "--no-ignore-case", "FOO", "t"],
    ["grep", "-s", "foo", "nope", "t"],
    ["grep", "-sq", "foo", "nope"],
    ["grep", "foo", "t", "-"],
    ["grep", "-r", "foo", "t"],
    ["grep", "-c", "x", "-"],
    ["grep", "-x", "", "t"],
    ["grep", "-w", "", "t"],
    ["grep", "-ow", "o", "t"],
    ["grep", "-o", "", "t"],
    ["grep", "-ov", "foo", "t"],
    ["grep", "-ob", "\\w*", "t"],
    ["grep", "-z", "-o", "foo.", "t"],
    ["grep", "-z", "-c", "foo", "t"],
    ["grep", "-zx", "foo", "t"],
    ["grep", "-zv", "zz", "t"],
    ["grep", "--line-buffered", "baz", "t"],
    ["grep", "-U", "baz", "t"],
    ["grep", "--null-data", "-l", "foo", "t"],
    ["grep", "-A", "-1", "foo", "t"],
    ["grep", "-C", "1x", "foo", "t"],
    ["grep", "-m", "-1", "foo", "t"],
    ["grep", "--binary-files=foo", "foo", "t"],
    ["grep", "--context", "foo", "t"],
    ["grep", "-e"],
    ["grep", "--regexp=foo", "t"],
    ["grep", "--file=u", "t"],
    ["grep", "-f", "nope", "t"],
    ["grep", "--max-count=1", "foo", "t"],
    ["grep", "--inv", "foo", "t"],
    ["grep", "--in", "foo", "t"],
    ["grep", "-E", "a{1,2}{3}", "t"],
    ["grep", "a\\{1,2\\}\\{3\\}", "t"],
    ["grep", "-E", "(a)\\1\\2", "t"],
    ["grep", "[[:alpha:]", "t"],
    ["grep", "[:alpha:]", "t"],
    ["grep", "-E", "a{1,2", "t"],
    ["grep", "-E", "a{2,1}", "t"],
    ["grep", "\\", "t"],
    ["grep", "-F", "\\", "t"],
    ["grep", "-c", "$", "t"],
    ["grep", "-c", "^", "t"],
    ["grep", "-o", "^.", "t"],
    ["grep", "-o", ".$", "t"],
    ["grep", "-o", "\\<.", "t"],
    ["egrep", "-c", "fo+", "t"],
    ["fgrep", "-c", "o+", "t"],
]

CASES += [Case(list(argv), dict(F2), "stdin foo\n") for argv in MORE]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name())
def test_grep_compat(case: Case) -> None:
    assert_same(case)
