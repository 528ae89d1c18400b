"""awk compared with the real gawk on the host (LC_ALL=C)."""

from __future__ import annotations

import random

import pytest

from tests.compat import Case, assert_same, have

pytestmark = pytest.mark.skipif(not have("gawk"), reason="gawk is not installed on the host")

DATA = "alice 30 paris\nbob 25 london\ncarol 35 paris\ndave 40 berlin\neve 22 london\n"
CSV = "id,name,score\n1,ann,90\n2,ben,85.5\n3,cid,\n4,dan,70\n"
NUMS = "10\n2\n33\n4.5\n-7\n0\n1e3\n0x1A\n abc\n 12 \n"
TEXT = "The quick brown fox\njumps over\n\nthe lazy dog.\nTHE END\n"
PARA = "\n\nname: a\nage: 1\n\n\nname: b\nage: 2\nextra\n\n"
WEIRD = b"a\x00b c\n\xff\xfe x\r\nlast line no newline"


def c(
    prog: str,
    files: dict[str, str | bytes] | None = None,
    stdin: str | bytes = "",
    args: list[str] | None = None,
    opts: list[str] | None = None,
    id: str = "",
) -> Case:
    argv = [
        "gawk",
        *(opts or []),
        prog,
        *(args if args is not None else (sorted(files) if files else [])),
    ]
    return Case(argv, files=files or {}, stdin=stdin, id=id or None or "")


D = {"data": DATA}
CASES: list[Case] = [
    # --- basics: fields, NR, NF
    c("{print}", D),
    c("{print $1}", D),
    c("{print $2, $1}", D),
    c("{print NR, NF, $NF}", D),
    c("{print $(NF-1)}", D),
    c("NR==2", D),
    c('NR>=2 && NR<=4 {print NR":"$0}', D),
    c("END{print NR}", D),
    c("{n++} END{print n+0}", D),
    c("{s+=$2} END{print s, s/NR}", D),
    c("$2 > 28", D),
    c('$3 == "paris" {print $1}', D),
    c("/o/", D),
    c("!/o/", D),
    c("$1 ~ /^[a-c]/", D),
    c("$1 !~ /e$/ {print $1}", D),
    c("/bob/,/dave/", D),
    c('/carol/,/carol/ {print "r", $0}', D),
    c('NR==1,NR==2 {print} NR==4,0 {print "x" $1}', D),
    c("{print length($0), length}", D),
    c("{ $2 = $2 * 2; print }", D),
    c('{ $5 = "new"; print; print NF }', D),
    c("{ NF = 2; print }", D),
    c("{ NF = 5; print; print NF }", D),
    c('BEGIN{OFS="-"} { $1 = $1; print }', D),
    c('BEGIN{OFS="-"} { print $1, $2 }', D),
    c('BEGIN{ORS="|"} { print $1 } END{printf "\\n"}', D),
    c('{ $0 = "x y z"; print NF, $2 }', D),
    c('{ print $0; $3 = ""; print; print NF }', D),
    c("{print $NF}", {"f": "a b   c  \n  lead trail  \n\tx\ty\n"}),
    c("{print NF}", {"f": "a b   c  \n  lead trail  \n\n \n"}),
    c('{print $1 "|" $2 "|"}', {"f": " a\tb  \n"}),
    # --- field separators
    c("{print $2}", {"c": CSV}, opts=["-F,"]),
    c("{print $2}", {"c": CSV}, opts=["-F", ","]),
    c("{print NF}", {"c": CSV}, opts=["-F,"]),
    c('BEGIN{FS=","} NR>1 {s+=$3} END{print s}', {"c": CSV}),
    c("{print $2}", {"f": "a:b:c\nd::f\n"}, opts=["-F:"]),
    c("{print $1, $3}", {"f": "a1b2c\nx10y20z\n"}, opts=["-F[0-9]+"]),
    c("{print $2}", {"f": "a\tb c\td\n"}, opts=["-F\\t"]),
    c("{print $2}", {"f": "a\tb c\td\n"}, opts=["-Ft"]),
    c("{print $2}", {"f": "a|b|c\n"}, opts=["-F|"]),
    c("{print $2}", {"f": "a.b.c\n"}, opts=["-F."]),
    c('{print $2 "/" NF}', {"f": "a  b\n"}, opts=["-F", " "]),
    c('{print $2 "/" NF}', {"f": "a  b\n"}, opts=["-F", "[ ]"]),
    c('BEGIN{FS=""} {print NF, $1, $3}', {"f": "abc\n"}),
    c('{FS=":"; print $1}', {"f": "a:b c\nd:e f\n"}),
    c("{print $2}", {"f": "aXXbXXc\n"}, opts=["-FXX"]),
    c("{print $2}", {"f": "a, b,c ,d\n"}, opts=["-F", " *, *"]),
    # --- -v and operand assignments
    c("BEGIN{print x, y}", opts=["-v", "x=1", "-v", "y=a\\tb"]),
    c("{print v, $0}", {"f1": "a\n", "f2": "b\n"}, args=["v=1", "f1", "v=2", "f2"]),
    c("{print FILENAME, FNR, NR}", {"f1": "a\nb\n", "f2": "c\n"}),
    c("END{print x}", {"f1": "a\n"}, args=["f1", "x=9"]),
    c("BEGIN{print ARGC; for(i=0;i<ARGC;i++) print i, ARGV[i]}", args=["a", "b=1", "c"]),
    c('BEGIN{ARGV[1]=""} {print}', {"f1": "one\n", "f2": "two\n"}),
    c("{print}", {"f1": "one\n"}, args=["-", "f1"], stdin="in\n"),
    c('BEGIN{x="3"; if (x==3.0) print "eq"; else print "ne"}'),
    c("BEGIN{print v+1, (v==10)}", opts=["-v", "v=10"]),
    # --- stdin
    c('{print NR": "$0}', stdin="one\ntwo\n"),
    c("{print $1}", stdin="no newline"),
    c("END{print NR, $0}", stdin="a\nb\nlast"),
    # --- arithmetic and numbers
    c("BEGIN{print 1+2, 7/2, 7%3, -7%3, 2^10, 2**3, 2^3^2}"),
    c("BEGIN{print 1e6, 1e7, 123456789, 1234567890123, 0.1, 1/3, 100/3}"),
    c("BEGIN{print 1e300*1e300, -1e300*1e300, log(-1)}"),
    c('BEGIN{print int(3.9), int(-3.9), int("4x"), sqrt(16), exp(0), log(1)}'),
    c('BEGIN{printf "%.4f %.4f %.4f\\n", sin(1), cos(1), atan2(1,2)}'),
    c("BEGIN{x = 0.1 + 0.2; print x, (x == 0.3)}"),
    c('BEGIN{print 3 " " -1, 1 - 1, 2 -1}'),
    c("BEGIN{x=5; x+=2; x-=1; x*=3; x/=2; x%=5; x^=2; print x}"),
    c("BEGIN{x=5; print x++, x, ++x, x--, --x, x}"),
    c('BEGIN{print -x, !x, !!x, x+0, x ""}'),
    c("BEGIN{print 017, 0x11, 1e2, .5, 5.}"),
    c("BEGIN{print 2147483648 * 4, 2^53, 2^53 + 1, -2^63}"),
    c('BEGIN{CONVFMT="%.2f"; x=3.14159; y = x ""; print y; print x}'),
    c('BEGIN{OFMT="%.2f"; x=3.14159; print x; print x ""; print 17}'),
    c('BEGIN{a = "10"; b = 9; print (a < b), (a+0 < b)}'),
    c("{print ($1 < $2)}", stdin="10 9\nabc abd\n10 abc\n2 10\n 3  03\n1e1 10\n"),
    c("{print ($1 == 0)}", stdin="0\n0.0\n-0\n+0\nx\n\n 0 \n.0\n"),
    c('{if ($1) print "t"; else print "f"}', stdin="0\n1\nx\n0.0\n\n 0\n00\n"),
    c('BEGIN{if (x == 0 && x == "") print "uninit both"}'),
    c("BEGIN{print length(x), length(12345), length(1/4)}"),
    c('BEGIN{print substr("hello", 2, 3), substr("hello", 0), substr("hello", -1, 3)}'),
    c('BEGIN{print substr("hello", 3), substr("hello", 1.5, 2), substr("hello", 10)}'),
    c('BEGIN{print index("foobar", "bar"), index("foo", "x"), index("", "")}'),
    c('BEGIN{print toupper("abc Def"), tolower("ABC dEF")}'),
    # --- strings and concatenation
    c('BEGIN{x = "a" "b" 1 2; print x, length(x)}'),
    c('BEGIN{print 1 " " 2, 1 2, -1 "" -2}'),
    c('BEGIN{s = "x"; s = s s; s = s s; print s}'),
    c('BEGIN{print "a\\tb\\nc\\\\d\\"e\\/f"}'),
    c('BEGIN{print "\\101\\x42\\x43"}'),
    c('BEGIN{print "a" > "/dev/stdout"}'),
    # --- printf
    c('BEGIN{printf "%d|%i|%5d|%-5d|%05d|%+d|% d\\n", 42, 42.9, 42, 42, 42, 42, 42}'),
    c('BEGIN{printf "%o %x %X %#o %#x %u\\n", 8, 255, 255, 8, 255, 7}'),
    c('BEGIN{printf "%e %E %.2e %10.3e\\n", 1234.5, 0.00012, 5, 3.14159}'),
    c('BEGIN{printf "%f %.2f %8.3f %-8.1f| %F\\n", 3.14159, 2.5, 1, 2, 1.5}'),
    c('BEGIN{printf "%g %G %.3g %g %g %g\\n", 0.0001, 1e-10, 3.14159, 1e6, 1e5, 123456789}'),
    c('BEGIN{printf "%s|%10s|%-10s|%.2s|%c|%c|%c\\n", "abc", "abc", "abc", "abc", 65, "hello", 9}'),
    c('BEGIN{printf "%*d|%-*d|%.*f\\n", 5, 1, 4, 2, 2, 3.14159}'),
    c('BEGIN{printf "100%%\\n"; printf "%5%|\\n"}'),
    c('BEGIN{printf "%d %d\\n", "3abc", "-2.7"}'),
    c('BEGIN{printf "%s\\n"}'),
    c('BEGIN{printf "no newline"}'),
    c('BEGIN{x = sprintf("%03d-%s", 7, "x"); print x, length(x)}'),
    c('BEGIN{printf "%d %s\\n", 1e10, 1e10; printf "%d\\n", -0.5}'),
    c('BEGIN{printf("%s %s\\n", "paren", "form")}'),
    c('{printf "%-6s|%4d\\n", $1, $2}', D),
    # --- arrays
    c('{a[$3]++} END{n = 0; for (k in a) n++; print n, a["paris"], a["london"]}', D),
    c("BEGIN{a[1]=1; a[2]=2; delete a[1]; print (1 in a), (2 in a), length(a)}"),
    c("BEGIN{a[1]; a[2]; delete a; print length(a)}"),
    c(
        'BEGIN{a["x","y"] = 1; for (k in a) {split(k, p, SUBSEP); print p[1], p[2]}; if (("x","y") in a) print "yes"}'
    ),
    c('BEGIN{if ("x" in a) print 1; print length(a); a["x"]; print length(a)}'),
    c('BEGIN{x = a["k"]; print length(a), ("k" in a)}'),
    c('BEGIN{a[01] = "one"; print a[1], a["1"], a["01"] "|"}'),
    c("BEGIN{a[0.1+0.2]=1; for (k in a) print k}"),
    c('BEGIN{PROCINFO["sorted_in"]="@ind_str_asc"; a["b"]; a["a"]; a["c"]; for (k in a) print k}'),
    c('BEGIN{PROCINFO["sorted_in"]="@ind_num_asc"; a[10]; a[9]; a[100]; for (k in a) print k}'),
    c(
        'BEGIN{PROCINFO["sorted_in"]="@val_num_desc"; a["x"]=3; a["y"]=10; a["z"]=1; for (k in a) print k, a[k]}'
    ),
    c('{c[$3] += $2} END{PROCINFO["sorted_in"]="@ind_str_asc"; for (k in c) print k, c[k]}', D),
    c('BEGIN{n = split("a b  c", arr); print n, arr[1], arr[3]}'),
    c('BEGIN{n = split("a:b:c", arr, ":"); print n, arr[2]}'),
    c('BEGIN{n = split("a1b22c", arr, /[0-9]+/); print n, arr[1], arr[2], arr[3]}'),
    c('BEGIN{n = split("", arr); print n, length(arr)}'),
    c('BEGIN{n = split("a.b.c", arr, "."); print n, arr[3]}'),
    c('BEGIN{n = split("a1b2c", arr, /[0-9]/, seps); print n, seps[1], seps[2]}'),
    c('BEGIN{n = split("  x  y  ", arr, " "); print n, "[" arr[1] "]"}'),
    c('BEGIN{split("3 1 2", a); n = asort(a); for (i=1;i<=n;i++) printf "%s ", a[i]; print ""}'),
    c(
        'BEGIN{a["b"]; a["a"]; a["c"]; n = asorti(a, d); for (i=1;i<=n;i++) printf "%s ", d[i]; print ""}'
    ),
    # --- string functions
    c('{gsub(/o/, "0"); print}', D),
    c('{n = sub(/[aeiou]/, "<&>"); print n, $0}', D),
    c('BEGIN{s = "aaa"; print gsub(/a/, "b", s), s}'),
    c('BEGIN{s = "hello"; gsub(/l/, "[&]", s); print s}'),
    c('BEGIN{s = "hello"; gsub(/l/, "\\\\&", s); print s}'),
    c('BEGIN{s = "a.b.c"; gsub(/\\./, "-", s); print s}'),
    c('BEGIN{s = "a.b.c"; gsub(".", "-", s); print s}'),
    c('BEGIN{s = "abc"; gsub(//, "-", s); print s}'),
    c('BEGIN{s = "abc"; gsub(/x*/, "-", s); print s}'),
    c('BEGIN{s = "abxd"; gsub(/x*/, "-", s); print s}'),
    c('BEGIN{s = "hello world"; gsub(/^/, ">", s); print s}'),
    c('BEGIN{s = "aaa"; sub(/a$/, "X", s); print s}'),
    c('{ $2 = "x"; gsub(/x/, "y", $2); print }', D),
    c('{ gsub(/a/, "A", $1); print $0 }', D),
    c('BEGIN{s = "foo bar"; print match(s, /o+/), RSTART, RLENGTH}'),
    c('BEGIN{print match("abc", /z/), RSTART, RLENGTH}'),
    c(
        'BEGIN{match("key=val", /([a-z]+)=([a-z]+)/, m); print m[0], m[1], m[2], m[2, "start"], m[1, "length"]}'
    ),
    c('BEGIN{print gensub(/([a-z]+)@([a-z]+)/, "\\\\2 at \\\\1", "g", "joe@x and ann@y")}'),
    c('BEGIN{print gensub(/o/, "0", 2, "foo boo")}'),
    c('{print gensub(/[0-9]+/, "<&>", "g")}', stdin="a1b22\n"),
    c('BEGIN{print sprintf("%5.1f%%", 45.678)}'),
    c('BEGIN{print length("a\\0b")}'),
    # --- control flow
    c("BEGIN{for (i = 0; i < 5; i++) { if (i == 1) continue; if (i == 4) break; print i }}"),
    c("BEGIN{i = 0; while (i < 3) print i++}"),
    c("BEGIN{i = 5; do { print i } while (i++ < 7)}"),
    c("BEGIN{i = 0; do { i++; if (i == 2) continue; print i } while (i < 4)}"),
    c("BEGIN{for (;;) { n++; if (n > 3) break }; print n}"),
    c('BEGIN{if (1) if (0) print "a"; else print "b"}'),
    c('BEGIN{x = 3; print (x > 2 ? "big" : "small"), (x > 5 ? "big" : "small")}'),
    c("NR==2{next} {print}", D),
    c('{print; if (NR == 2) exit} END{print "end", NR}', D),
    c('BEGIN{exit 3} END{print "end runs"}'),
    c('BEGIN{exit} END{print "end"}', D),
    c("{exit 4} END{exit}", D),
    c("END{exit 1+1}", D),
    c("FNR==2{nextfile} {print FILENAME, $0}", {"f1": "a\nb\nc\n", "f2": "d\ne\n"}),
    c(
        'BEGIN{switch (3) { case 1: print "one"; break; case 3: print "three"; case 4: print "four"; break; default: print "def" }}'
    ),
    c(
        '{switch ($1) { case /^[0-9]+$/: print "num"; break; case "x": print "x"; break; default: print "other" }}',
        stdin="12\nx\nfoo\n",
    ),
    # --- functions
    c('function f(a) { return a * 2 } BEGIN{print f(3), f("4"), f()}'),
    c("function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) } BEGIN{print fact(10)}"),
    c("function fib(n) { return n < 2 ? n : fib(n-1) + fib(n-2) } BEGIN{print fib(15)}"),
    c(
        'function fill(arr, n,   i) { for (i = 1; i <= n; i++) arr[i] = i * i } BEGIN{fill(sq, 4); print sq[3], length(sq), i "|"}'
    ),
    c("function g(x) { x = 5 } BEGIN{y = 1; g(y); print y}"),
    c('function h(a, b) { return a "-" b } BEGIN{print h(1), h(1, 2)}'),
    c('function noret() { x = 1 } BEGIN{v = noret(); print "[" v "]", x}'),
    c(
        'function inner(a) { a["k"] = 1 } function outer(b) { inner(b) } BEGIN{outer(arr); print arr["k"]}'
    ),
    c("function cnt(a,  n, k) { for (k in a) n++; return n } BEGIN{z[1]; z[2]; print cnt(z)}"),
    c('function p(s) { print s; next } NR == 2 {p("skip")} {print}', D),
    c("func f(x) { return x + 1 } BEGIN{print f(1)}"),
    # --- getline
    c('BEGIN{while ((getline line < "f") > 0) n++; print n, line}', {"f": "a\nb\nc\n"}),
    c('BEGIN{getline; print "first:", $0, NR}', stdin="l1\nl2\n"),
    c('NR==1{getline x; print "got", x, NR} END{print NR}', stdin="a\nb\nc\n"),
    c("{getline; print}", stdin="a\nb\nc\n"),
    c('BEGIN{print (getline line < "missing")}'),
    c('BEGIN{getline < "f"; print $2, NF, NR}', {"f": "x y z\n"}),
    c(
        'BEGIN{while ((getline l < ARGV[1]) > 0) print "l:" l; close(ARGV[1]); while ((getline l < ARGV[1]) > 0) print "again:" l}',
        {"f": "1\n2\n"},
    ),
    # --- output redirection to files
    c('{print $1 > "out"} END{close("out"); while ((getline l < "out") > 0) print "r", l}', D),
    c(
        'BEGIN{print "a" > "o"; print "b" > "o"; close("o"); print "c" >> "o"; close("o"); while ((getline l < "o") > 0) print l}'
    ),
    c('BEGIN{printf "%s-%s\\n", 1, 2 > "o"; close("o"); getline l < "o"; print l}'),
    c('BEGIN{print close("never")}'),
    # --- special variables
    c('BEGIN{RS=";"} {print NR, $0}', stdin="a;b;c\n"),
    c('BEGIN{RS=""} {print NR": "$1" / "$NF" (" NF ")"}', stdin=PARA),
    c('BEGIN{RS=""; FS=":"} {print $1 "|" $2 "|" $3}', stdin=PARA),
    c('BEGIN{RS="[0-9]+"} {print NR, $0, RT}', stdin="a1b22c333d"),
    c('BEGIN{RS="\\n\\n"} {print NR": "$0}', stdin="a\nb\n\nc\n"),
    c('BEGIN{RS="x"} END{print NR}', stdin="axbxc"),
    c('{print NR, RT "|"}', stdin="a\nb"),
    c('BEGIN{print SUBSEP == "\\034", length(ENVIRON["HOME"]) > 0, ENVIRON["LC_ALL"]}'),
    c('BEGIN{printf "%s|%s|%s\\n", FS, OFS, RS == "\\n"}'),
    c('BEGIN{print RSTART, RLENGTH, NF, NR, FILENAME "|"}'),
    c("END{print NF, $0}", D),
    c("{NR = 10} END{print NR}", stdin="a\nb\n"),
    # --- regex
    c("/^[[:alpha:]]+ [[:digit:]]+/", D),
    c("/[[:upper:]]/", {"t": TEXT}),
    c('$0 ~ "^t"', {"t": TEXT}),
    c('BEGIN{re = "[0-9]+"} $0 ~ re {print "num:", $0}', stdin="a\n12\nb3\n"),
    c("/a|b/", stdin="a\nc\nb\n"),
    c("/^(ab)+$/", stdin="ab\nabab\naba\n"),
    c("/x{2,3}/", stdin="x\nxx\nxxxx\n"),
    c("/a.c/", stdin="abc\na\nc\nac\n"),
    c("/\\./", stdin="a.b\nab\n"),
    c("/[.]/", stdin="a.b\nab\n"),
    c("/[]a]/", stdin="]\nb\na\n"),
    c("/[^a-c]/", stdin="abc\nabd\n"),
    c("/a\\/b/", stdin="a/b\nab\n"),
    c("/\\$/", stdin="a$\nb\n"),
    c('/^$/ {print "empty", NR}', stdin="a\n\nb\n"),
    c("/\\<the\\>/", {"t": TEXT}),
    c("/\\ythe\\y/", {"t": TEXT}),
    c("/(^| )o/", {"t": TEXT}),
    c('BEGIN{print match("aaa", /a*?/), RLENGTH}'),
    c('BEGIN{print ("a+b" ~ /a\\+b/), ("ab" ~ "a+b"), ("a" ~ /^a?$/)}'),
    c('BEGIN{print ("\\t" ~ /[[:space:]]/), ("x" ~ /[[:punct:]]/), ("_" ~ /\\w/)}'),
    # --- misc syntax
    c('BEGIN { print "a" ; print "b" }\n\nEND { print NR }\n', stdin="1\n2\n"),
    c("BEGIN {\n  x = 1 +\\\n 2\n  print x   # comment\n}\n"),
    c('BEGIN { if (1)\n print "yes"\n else\n print "no" }'),
    c('BEGIN { a = 1; b = 2; print a" "b; print a, b }'),
    c("BEGIN { print length() }", stdin=""),
    c("BEGIN { x[1]=1; print length(x) }"),
    c('BEGIN { print 1==1, 1<2, 2<1, "a"<"b", "B"<"a" }'),
    c('BEGIN { print 1,2 > "/dev/stderr" }', check_stderr=False)
    if False
    else c("BEGIN { print (1,2) in a }"),
    c('BEGIN { $0 = "a b c"; print NF; $5 = "e"; print; print NF }'),
    c('BEGIN { $3 = "x"; print NF ":" $0 ":" }'),
    c('{ $1 = ""; print; print NF }', stdin="a b c\n"),
    c("{ print $1 $2 }", stdin="a b\n"),
    c('{ print $1, $2 > "/dev/stdout" }', stdin="a b\n"),
    c('BEGIN { print -1 " " -1 }'),
    c("BEGIN { print 1 - -1, 1 - - 1, - - 2 }"),
    c('BEGIN { print !0, !1, !"", !"a", !"0" }'),
    c('BEGIN { x = "0"; if (x) print "str 0 true"; y = 0; if (!y) print "num 0 false" }'),
    c("BEGIN { print 10 % 3, -10 % 3, 10 % -3, 5.5 % 2 }"),
    c('BEGIN { n = split("c b a", arr); s = ""; for (i = n; i >= 1; i--) s = s arr[i]; print s }'),
    c('BEGIN { while ("echo hi" | getline line) print "got", line }'),
    c('BEGIN { "echo a b" | getline; print $2, NR }'),
    c('BEGIN { print "b\\na" | "sort"; close("sort"); print "after" }'),
    c('{ print $1 | "sort -r" } END { print "end" }', D),
    c('BEGIN { r = system("exit 3"); print "r=" r }'),
    c('BEGIN { system("echo from system"); print "after" }'),
    c('BEGIN { printf "x"; system(""); print "y" }'),
    c('BEGIN { print "to cat" | "cat"; print "direct" }'),
    c('BEGIN { print strftime("%Y-%m-%d %H:%M:%S", 0) }'),
    c('BEGIN { print strftime("%j %a %b", 86400 * 40, 1) }'),
    c('BEGIN { print mktime("2020 01 02 03 04 05") }'),
    c(
        "BEGIN { print and(12, 10), or(12, 10), xor(12, 10), lshift(1, 4), rshift(256, 2), compl(0) > 0 }"
    ),
    c('BEGIN { print strtonum("0x1F"), strtonum("017"), strtonum("12abc") }'),
    c(
        "BEGIN { srand(1); x = rand(); srand(1); y = rand(); print (x == y), (x >= 0 && x < 1), srand(5) }"
    ),
    c('BEGIN { print typeof(x), typeof(1), typeof("s"); a[1]; print typeof(a) }'),
    c('BEGIN { print length("\\xff\\xfe") }'),
    # --- binary safety
    c("{print NR, length($0), $1}", stdin=WEIRD),
    c("{print $2}", stdin=WEIRD),
    c('{gsub(/\\r/, "<CR>"); print}', stdin=WEIRD),
    c("{print toupper($0)}", stdin=b"caf\xc3\xa9 \xff\n"),
    c('{printf "%s|", $0} END{print ""}', stdin=b"a\x00b\x00c\n"),
    c('BEGIN{RS="\\0"} {print NR": "$0}', stdin=b"a\x00b\x00c"),
    c("{print substr($0, 2, 2)}", stdin=b"\xc3\xa9\xc3\xa8\n"),
    c("{print length()}", stdin="crlf\r\n"),
    c('{print $NF "|"}', stdin="a b\r\n"),
    # --- errors
    c("BEGIN{print 1 +}"),
    c('BEGIN{print "unterminated}'),
    c("BEGIN{x = 0; print 1/x}"),
    c("BEGIN{x = 0; print 1%x}"),
    c("{print}", args=["nonexistent"]),
    c("BEGIN{f()}"),
    c('BEGIN{getline x < "nofile"; print "ok"}'),
    c('BEGIN{printf "%d %d\\n", 1}'),
    c("{print", stdin="x\n"),
    c("BEGIN{a[1]=1; a=2}"),
    c("}"),
]

CASES += [
    Case(
        ["gawk", "-f", "prog.awk", "data"],
        files={"prog.awk": "{print $1}\nEND{print NR}\n", "data": DATA},
    ),
    Case(
        ["gawk", "-f", "p1", "-f", "p2"],
        files={"p1": "function f(x){return x*2}\n", "p2": "BEGIN{print f(21)}\n"},
    ),
    Case(["gawk", "--", "{print $1}", "data"], files={"data": DATA}),
    Case(["gawk", "-F:", "-v", "OFS=-", "{$1=$1; print}"], stdin="a:b:c\n"),
    Case(["gawk", "--field-separator=:", "{print $2}"], stdin="a:b:c\n"),
    Case(["gawk", "--assign=x=5", "BEGIN{print x}"]),
    Case(["gawk", "-z", "1"], check_stderr=True),
    Case(["gawk", "--nope", "1"]),
    Case(["gawk"]),
    Case(["gawk", "-e", 'BEGIN{print "e"}']),
    Case(["gawk", "-v", "bad", "BEGIN{}"]),
    Case(["gawk", "-f", "nofile.awk"]),
    Case(["gawk", "{print FILENAME}", "d"], files={"d/x": "1\n"}),
]


# programs run on a small mixed input (blank line, odd spacing, a non-numeric field)
MIXED = "alice 30 paris\nbob 25 london\n carol  35 paris \n\ndave x berlin\n"
MIXED_PROGS = [
    'BEGIN { print ("a\\nb" ~ /a.b/), ("a\\nb" ~ /^b/), ("ab\\n" ~ /b$/) }',
    "BEGIN { x = 5; x ^= 2; x %= 7; print x }",
    "BEGIN { print 1e, 1e+ }",
    '{ NF = 0; print length($0) "|" $0 "|" }',
    'BEGIN { print index("abc", ""), length(""), toupper(123) }',
    '{ gsub(/[[:space:]]+/, " "); sub(/^ /, ""); sub(/ $/, ""); print "[" $0 "]" }',
    'BEGIN { printf "%z\\n" }',
    'BEGIN { printf "%i|%5.2i|%-8.3x|%08.3f|%+s\\n", 3.9, 4, 255, 3.14159, "s" }',
    '{ getline x; print $0 " + " x }',
    "{ a[NR] = $0 } END { for (i = NR; i >= 1; i--) print a[i] }",
    'BEGIN { $5 = "x"; print NF, "[" $0 "]" }',
    'BEGIN { $0 = "1 2 3"; $2++; print; print $2 }',
    'BEGIN { if ("0") print "string 0 true" }',
    "BEGIN { print -0, 0 * -1, -0.0 }",
    'BEGIN { print toupper(x) "|" tolower(1.5) }',
    'BEGIN { PROCINFO["sorted_in"] = "@val_str_asc"; a["x"] = "b"; a["y"] = "a"; for (k in a) print k }',
    "{ print $2 * 1, $2 + 0 }",
    "{ words += NF; chars += length + 1 } END { print NR, words, chars }",
    'BEGIN { printf "%5.3d|%-+5d|%x\\n", 7, 3, -1 }',
    '{ print NR ": " (NF ? $NF : "(empty)") }',
    "BEGIN { print and(5, 3), or(5, 3), xor(5, 3) }",
    '{ print NR % 2 ? "odd" : "even" }',
    'BEGIN { print "x" (1 > 0) "y" }',
    '{ gsub(/[aeiou]/, "#", $1); print $1, NF }',
    "BEGIN { print length(a b c) }",
    "{ print length > 10 }",
    '{ print index($0, "o"), substr($0, index($0, " ") + 1, 3) }',
    'BEGIN { RS = "o" } { printf "%s|", $0 } END { print "" }',
    "BEGIN { print .e1 }",
    '{ $0 = ""; print NF }',
    'BEGIN { printf "%s %d\\n", "only" }',
    '{ $7 = "z"; print }',
    '{ print $1 "" $2 }',
    'BEGIN { s = "abc"; gsub(/$/, "X", s); print s }',
    'BEGIN { v = "x"; v = v v v; print v }',
    'BEGIN { x = 1; x = x "" ; print x + 1 }',
    '{ printf "%s%s", sep, $1; sep = "," } END { print "" }',
    'BEGIN { FS = "\\\\|" } { print NF }',
    'BEGIN { printf "%s\\n", "\\xe9\\x41" }',
    'BEGIN { $0 = "  a  b  "; print NF, "[" $1 "]"; $1 = $1; print "[" $0 "]" }',
    'BEGIN { x = 5; print x " squared is " x * x }',
    'BEGIN { SUBSEP = ":"; a[1,2]; for (k in a) print k }',
    'BEGIN { print 010 + 0, "010" + 0 }',
    'END { getline; print "end getline:", $0 }',
    'BEGIN { printf "%#.3g %#x %#X\\n", 1, 255, 255 }',
    'BEGIN { x = -0; print x, -0.0 "" }',
    'BEGIN { s = "foo.bar"; n = split(s, p, "."); print n }',
    'BEGIN { str = "a,b;c d"; n = split(str, p, /[,; ]/); for (i = 1; i <= n; i++) print i, p[i] }',
    "NF { print $1 }",
    'BEGIN { a = 1; b = 2; print a " " b, a + b "" }',
    "BEGIN { print 0.1 * 3, 1e-300 * 1e-300 }",
    'BEGIN { x = "A"; y = x++; print x, y }',
    "BEGIN { print - - 1, + - 1, - + 1 }",
    "$2 ~ /^[0-9]+$/ && $2 > 26 { c++ } END { print c + 0 }",
    'BEGIN { print gensub(/b/, "[&]", "g", "abcb") }',
    '{ sub(/ +$/, ""); print "[" $0 "]" }',
    '{ for (i = 1; i <= NF; i++) c[$i]++ } END { print c["paris"], c["london"] }',
    'BEGIN { print 1; fflush(); print 2; fflush("/dev/stdout") }',
    'BEGIN { printf "%s|%s\\n", FILENAME, NR }',
    '{ print $1 == "alice" ? "A" : "-" }',
]
CASES += [Case(["gawk", prog], stdin=MIXED) for prog in MIXED_PROGS]


# gawk extensions, evaluation order, pipes, close() statuses and system()
MORE_PROGS = [
    'BEGIN { n = patsplit("ab12cd345ef", a, /[0-9]+/, s); print n, a[1], a[2], "[" s[0] "]", s[1], s[2] }',
    'BEGINFILE { print "start", FILENAME } ENDFILE { print "end", FILENAME, FNR } { n++ } END { print n }',
    "BEGIN { x = 1; x += x += 2; print x }",
    'BEGIN { a["x"] = 1; for (k in a) { delete a; print k }; print length(a) }',
    'BEGIN { printf "%s" }',
    'BEGIN { n = split("a b c", arr); delete arr[2]; for (i = 1; i <= n; i++) print i, (i in arr) }',
    "{ $0 = toupper($0) } /ALICE/",
    '{ print $1 > "/dev/stdout"; print $2 }',
    'BEGIN { if (substr("abc", 2) == "bc") print "ok" }',
    'BEGIN { print length(sprintf("%c", 0)) }',
    'BEGIN { print index("a.b", ".") }',
    'BEGIN { print "A" < "a", "a" < "B", "abc" < "abcd", "" < "a" }',
    'BEGIN { c = "cat >/dev/null; exit 3"; print "x" | c; print close(c) }',
    'BEGIN { "exit 2" | getline; print close("exit 2") }',
    'BEGIN { print system("exit 5"), system("true"), system("false") }',
    'BEGIN { print "b" | "sort"; print "a" | "sort"; print "mid"; close("sort"); print "end" }',
    '{ print $1 | "sort -r" } END { close("sort -r"); print "after close" }',
    '{ print $1 | "tr a-z A-Z" }',
    "BEGIN { while ((\"printf 'a b\\\\nc d\\\\n'\" | getline) > 0) print $2, NF }",
    'BEGIN { cmd = "echo 1; echo 2"; cmd | getline a; cmd | getline b; print a + b; close(cmd); cmd | getline c; print c }',
    'BEGIN { print "data" > "f.txt"; close("f.txt"); system("cat f.txt") }',
    'BEGIN { printf "abc" | "wc -c"; close("wc -c") }',
    '{ print | "cat" } END { print "total " NR }',
    'BEGIN { print 1; system("echo 2"); print 3 }',
    'BEGIN { print "to-stderr" | "cat 1>&2"; print "out" }',
]
CASES += [Case(["gawk", prog], stdin=MIXED) for prog in MORE_PROGS]
CASES.append(
    Case(
        ["gawk", "NR == FNR { a[$1] = $2; next } $1 in a { print $0, a[$1] }", "f1", "f2"],
        files={"f1": "bob 1\neve 2\n", "f2": "alice x\nbob y\neve z\n"},
    )
)


# multi-line programs: newlines after operators, commas, else, do, comments, continuation
MULTILINE_PROGS = [
    "BEGIN { print 1 &&\n 0 }",
    "BEGIN { x = (1 +\n 2); print x }",
    'BEGIN { f = "x"; print (f == "x" ? "yes" :\n "no") }',
    'BEGIN { print "a",\n "b" }',
    "BEGIN { print 1 # comment\n}",
    '# leading comment\nBEGIN { print "after comment" }',
    "BEGIN { for (i = 0; i < 3; i++)\n  print i }",
    "BEGIN { i = 0; while (i < 2)\n{ print i; i++ } }",
    "function f(x)\n{\n  return x * 2\n}\nBEGIN { print f(4) }",
    'BEGIN {\n  if (1)\n    print "a"\n  else\n    print "b"\n}',
    "BEGIN {\n  x = 1\n  y = 2\n  print x +\n    y\n}",
    '/alice/ {\n  print "found"\n}\n\n/bob/ { print "bob" }',
    'BEGIN { printf "%s %s\\n",\n  "a",\n  "b"\n}',
    'BEGIN { s = "a" \\\n  "b"; print s }',
    "BEGIN { do\n  x++\nwhile (x < 3)\nprint x }",
    "function g(a,\n  b) { return a + b }\nBEGIN { print g(1,\n  2) }",
    'BEGIN { switch (2) {\ncase 1:\n  print "one"\n  break\ncase 2:\n  print "two"\n  break\ndefault:\n  print "other"\n} }',
    "{\n  n++\n}\nEND {\n  print n\n}",
    'BEGIN { a["x"]; for (k in a)\n  print k }',
    "BEGIN {\n  x = 5;;\n  print x;\n}\n",
]
CASES += [
    Case(["gawk", prog], stdin="alice 30 paris\nbob 25 london\n", id=f"multiline-{i}")
    for i, prog in enumerate(MULTILINE_PROGS)
]


# --- seeded random programs: operators, side effects, getline, sub/gsub, arrays -------------
_ATOMS = [
    "$1",
    "$NF",
    "x",
    "a[1]",
    "a[x,1]",
    '"s"',
    "3",
    "0.5",
    "NR",
    "NF",
    "$0",
    "length",
    "length(x)",
    "substr($0,2)",
    "split($0,b)",
    "f(x)",
    "x++",
    "--x",
    "(x)",
    "/re/",
    '"a" "b"',
    "-x",
    "!x",
    "getline",
    "getline y",
    'sprintf("%d%s",x,y)',
    'index($0,"a")',
    "match($0,/b+/)",
    "toupper($1)",
    "int(x)",
    "x^2",
    'gsub(/a/,"b")',
    'sub(/x/,"&&",y)',
    "(1,2) in a",
]
_OPS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    " ",
    "<",
    "==",
    "!=",
    "&&",
    "||",
    "~",
    "!~",
    "?:",
    "in",
    "=",
    "+=",
    "^",
]


def _random_program(rng: random.Random) -> str:
    def expr(d: int = 0) -> str:
        if d > 3 or rng.random() < 0.3:
            return rng.choice(_ATOMS)
        op = rng.choice(_OPS)
        left, right = expr(d + 1), expr(d + 1)
        if op in ("=", "+="):
            left = rng.choice(["x", "y", "a[2]", "$2", "NF", "z"])
        if op == "?:":
            return f"({left} ? 1 : {right})"
        if op == "in":
            return f"({left} in a && {right})"
        return f"({left} {op} {right})"

    def stmt(d: int = 0) -> str:
        c = rng.random()
        if d > 2 or c < 0.4:
            return rng.choice(
                [
                    "print " + expr(),
                    "x = " + expr(),
                    'printf "%s|", ' + expr(),
                    expr(),
                    "a[" + expr() + "]++",
                ]
            )
        if c < 0.6:
            return f"if ({expr()}) {{ {stmt(d + 1)} }} else {{ {stmt(d + 1)} }}"
        if c < 0.75:
            return f"for (i = 0; i < 3; i++) {{ {stmt(d + 1)} }}"
        if c < 0.9:
            return f"while (j++ < 3) {{ {stmt(d + 1)} }}"
        return f"{{ {stmt(d + 1)}; {stmt(d + 1)} }}"

    return (
        f'function f(p) {{ return p "" }} BEGIN {{ {stmt()} }} {{ {stmt()}; {stmt()} }} '
        f"END {{ {stmt()} }}"
    )


_rng = random.Random(20240601)
RANDOM_PROGS = [_random_program(_rng) for _ in range(30)]
CASES += [
    Case(["gawk", prog], stdin="a b c\n1 2 3\nxyz\n\nlast 9", check_stderr=False, id=f"random-{i}")
    for i, prog in enumerate(RANDOM_PROGS)
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name())
def test_awk_compat(case: Case) -> None:
    assert_same(case)
