"""Commands are bounded by construction: every attack below used to hang the host thread past
the exec's timeout or grow the host by gigabytes. Each now ends with the limit's status and
name (a per-test pytest timeout catches a hang), while the host's traced allocations stay under
the exec's memory limit plus a fixed overhead.

No test here times anything (machines differ); bench/attacks.py measures the
"timeout + 0.5 s" claim."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from tests._own_process import peak_while
from tests.security._util import assert_no_crash

MiB = 1024 * 1024

#: the memory limit the memory attacks run under
MEM = 16 * MiB
#: what the host may allocate beyond the limit: the VM itself, a copy while a buffer is
#: checked, interpreter caches
OVERHEAD = 48 * MiB
#: the exec timeout behind a test whose work another limit must end: only a failure reaches it.
#: tracemalloc makes the host many times slower, so on a slow machine 60 s could end the work
#: before the limit under test did
BACKSTOP = 600

pytestmark = pytest.mark.timeout(BACKSTOP + 120)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    with VM() as v:
        yield v


def run_traced(vm: VM, script: str, **kw: object) -> tuple[object, int]:
    r, peak = peak_while(lambda: vm.exec(script, **kw))  # type: ignore[arg-type]
    assert_no_crash(r)
    return r, peak


def usable(vm: VM) -> None:
    r = vm.exec("echo ok")
    assert (r.exit_code, r.stdout) == (0, "ok\n")
    assert [p for p in vm.list_processes() if p["status"] == "running"] == []


# --- loops whose I/O never waits ----------------------------------------------------------------

ENDLESS = [
    "yes > /dev/null",
    "seq 1 1e9 > /dev/null",
    "sha256sum /dev/zero",
    "md5sum /dev/zero",
    "gzip < /dev/zero > /dev/null",
    "gzip -c /dev/zero > /dev/null",
    "grep x /dev/zero",
    "awk 1 /dev/zero",
    "awk '{ s += $1 } END { print s }' /dev/zero",
    "yes 1 2 | awk '$2 > 1 { c++; s += $2 }'",
    "yes a b | awk '{ print $2 }' > /dev/null",
    "tr -d x < /dev/zero > /dev/null",
    "cat /dev/zero > /dev/null",
]


@pytest.mark.own_process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", ENDLESS)
def test_endless_command_meets_the_timeout(vm: VM, script: str) -> None:
    timeout = 0.5
    r, peak = run_traced(vm, script, timeout=timeout, limits={"max_memory": MEM})
    assert r.exit_code in (124, 125), r  # type: ignore[attr-defined]
    assert r.limit_hit in ("timeout", "max_memory"), r  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD
    vm.exec("rm -f /tmp/y.txt")
    usable(vm)


@pytest.mark.own_process
def test_endless_writes_to_a_file_stop_at_the_file_size_limit() -> None:
    """How much a file can grow before the timeout depends on the machine's speed, so the bound
    that holds it is the file size limit, not the exec's memory."""
    with VM(limits={"max_file_size": 4 * MiB}) as vm:
        r, peak = run_traced(vm, "yes > /tmp/y.txt; echo $?", timeout=BACKSTOP)
        assert (r.exit_code, r.stdout) == (0, "1\n"), r  # type: ignore[attr-defined]
        assert "File too large" in r.stderr  # type: ignore[attr-defined]
        assert vm.stat("/tmp/y.txt").st_size == 4 * MiB
        assert peak < 4 * MiB + OVERHEAD
        usable(vm)


def test_input_redirected_from_dev_zero_is_endless(vm: VM) -> None:
    r = vm.exec("head -c 200000 < /dev/zero | wc -c")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "200000\n", "")


# --- commands that accumulate what they read --------------------------------------------------

ACCUMULATE = [
    "yes | sort",
    "yes | tac",
    "yes | shuf",
    "yes | sort -u",
    "od /dev/zero > /dev/null",
    "x=$(yes)",
    "mapfile < <(yes)",
    "diff <(yes) <(yes n)",
    "yes | tr -d '\\n' | uniq",
    "uniq < /dev/zero",
    "yes | uniq -D",
    "yes | uniq --group",
    "seq 1 1e9 | uniq - /tmp/uniq.out",
    "(printf '\"'; yes) | jq .",
    "yes 1 | jq -s length",
    "yes 1 | jq -n '[inputs] | length'",
    "yes | jq -Rs length",
    "awk 'BEGIN { while (1) a[i++] = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" }'",
    "awk 'BEGIN { while (1) a[i++] }'",
    "yes | awk '{ a[NR] = $0 }'",
    "awk 'BEGIN { while (1) a[i++] = sprintf(\"%100000s\", i) }'",
    "awk 'BEGIN { s = sprintf(\"%100000s\", 1); while (1) a[i++] = s i }'",
]


@pytest.mark.own_process
@pytest.mark.parametrize("script", ACCUMULATE)
def test_accumulating_command_stops_at_max_memory(vm: VM, script: str) -> None:
    # the timeout only backs up the test: the memory limit must end the work first
    r, peak = run_traced(vm, script, timeout=BACKSTOP, limits={"max_memory": MEM})
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r  # type: ignore[attr-defined]
    assert "memory limit exceeded (max_memory=16 MiB)" in r.stderr  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD
    usable(vm)


@pytest.mark.own_process
def test_jq_refuses_a_document_larger_than_max_memory_before_reading_it(vm: VM) -> None:
    vm.write_file("/tmp/big.json", b"[" + b"1," * (10 * MiB) + b"1]")
    r, peak = run_traced(vm, "jq length /tmp/big.json", limits={"max_memory": MEM})
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r  # type: ignore[attr-defined]
    assert "jq: input: memory limit exceeded (max_memory=16 MiB)" in r.stderr  # type: ignore[attr-defined]
    assert peak < MEM
    r = vm.exec("echo '[1,2]' | jq -c 'length'", limits={"max_memory": MEM})
    assert (r.exit_code, r.stdout) == (0, "2\n")


def test_awk_gives_back_its_arrays_when_it_ends(vm: VM) -> None:
    # each awk holds about 15 MiB of array elements: the second fits only if the first's
    # charge was released
    prog = "awk 'BEGIN { for (i = 0; i < 100000; i++) a[i] = \"%s\"; print length(a) }'" % (
        "x" * 30
    )
    r = vm.exec(f"{prog}; {prog}", limits={"max_memory": 24 * MiB})
    assert (r.exit_code, r.stdout, r.limit_hit) == (0, "100000\n100000\n", None)
    r = vm.exec(f"{prog} | cat; {prog}", limits={"max_memory": 12 * MiB})
    assert (r.exit_code, r.limit_hit) == (125, "max_memory")


def test_memory_is_given_back_when_the_exec_ends(vm: VM) -> None:
    r = vm.exec("seq 100000 | sort -n | tail -n1")
    assert (r.exit_code, r.stdout) == (0, "100000\n")
    assert vm.kernel.memory.used == 0  # type: ignore[attr-defined]


def test_vm_memory_cap_covers_all_execs_together() -> None:
    with VM(limits={"max_vm_memory": 8 * MiB}) as v:
        r = v.exec("yes | sort")
        assert (r.exit_code, r.limit_hit) == (125, "max_vm_memory")
        assert "VM memory limit exceeded (max_vm_memory=8 MiB)" in r.stderr
        assert v.kernel.memory.used == 0  # type: ignore[attr-defined]
        r = v.exec("seq 3 | sort -r")
        assert (r.exit_code, r.stdout) == (0, "3\n2\n1\n")


# --- regular expressions that backtrack ---------------------------------------------------------

REGEX = [
    "grep -c 'x.*x.*y' /tmp/long",
    "grep -o 'x.*x.*y' /tmp/long",
    "grep -cE '(x|xx)+y' /tmp/long",
    "sed -E 's/(x|xx)+y/Z/' /tmp/long > /dev/null",
    "sed -n '/x.*x.*y/p' /tmp/long",
    "awk '/x.*x.*y/' /tmp/long",
    "awk '{ n += gsub(/(x|xx)+y/, \"Z\") } END { print n }' /tmp/long",
    "awk '{ print match($0, \"x.*x.*x.*y\") }' /tmp/long",
    "expr \"$(cat /tmp/long)\" : '.*x.*x.*y'",
    "tac -r -s 'x.*x.*y' /tmp/long > /dev/null",
    "nl -bp'x.*x.*y' /tmp/long > /dev/null",
    "mkdir -p /tmp/fx/$(printf 'x%.0s' {1..200}) && "
    "find /tmp/fx -regextype posix-extended -regex '.*(x|xx)+y'",
]


@pytest.mark.own_process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", REGEX)
def test_backtracking_regex_meets_the_timeout(vm: VM, script: str) -> None:
    # 100,000 characters: long enough to take hours on re; the backtracking stack of the
    # exponential ones stays within the budget
    vm.write_file("/tmp/long", b"x" * 100_000 + b"\n")
    timeout = 0.5
    r, peak = run_traced(vm, script, timeout=timeout)
    assert r.limit_hit in ("timeout", "max_regex_time"), r  # type: ignore[attr-defined]
    assert r.exit_code in (124, 125)  # type: ignore[attr-defined]
    assert peak < OVERHEAD
    usable(vm)


# the expressions grep -c and cut -f build themselves must stay linear where a try fails:
# a 4 MB line without the delimiter among lines that have it, and a long run of almost-matches
LINEAR = [
    ("cut -d, -f2,4 /tmp/mixed | wc -c", f"{4 * MiB + 4 * 4 + 1}\n"),
    ("cut -d, -f1,3- /tmp/mixed | wc -l", "5\n"),
    ("cut -d, -f2- -s /tmp/mixed | wc -l", "4\n"),
    ("cut -z -d, -f2,4 /tmp/mixed | wc -c", "6\n"),
    ("grep -cE 'xy|x,y|,,|b,c' /tmp/mixed", "4\n"),
    ("grep -cvE 'xy|x,y|,,|b,c' /tmp/mixed", "1\n"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("script", "out"), LINEAR, ids=[s for s, _ in LINEAR])
def test_fast_path_expressions_are_linear(vm: VM, script: str, out: str) -> None:
    # quadratic on this input would be about 10^13 steps: it could never end in the timeout
    vm.write_file("/tmp/mixed", b"a,b,c,d\n" * 2 + b"x" * (4 * MiB) + b"\n" + b"a,b,c,d\n" * 2)
    r = vm.exec(script, timeout=60)
    assert (r.exit_code, r.stdout, r.stderr) == (0, out, "")


def test_regex_timeout_is_not_reported_before_the_deadline(vm: VM) -> None:
    # less time left than max_regex_time: the match still gets all of it
    vm.write_file("/tmp/long", b"x" * 300_000 + b"\n")
    timeout = 0.4
    r = vm.exec("sed 's/x.*x.*y/Z/' /tmp/long", timeout=timeout)
    assert (r.exit_code, r.limit_hit) == (124, "timeout"), r
    assert r.duration >= timeout


GLOBS = [
    "find /tmp/gx -name '*a*a*a*a*a*a*a*a*a*b'",
    "find /tmp/gx -iname '*A*A*A*A*A*A*A*A*A*B'",
    "find /tmp/gx -path '*a*a*a*a*a*a*a*a*a*b'",
    "find /tmp/gx -wholename '*a*/*a*a*a*a*a*a*a*a*b'",
    "find /tmp/gx -lname '*a*a*a*a*a*a*a*a*a*b'",
]


@pytest.mark.parametrize("script", GLOBS)
def test_find_globs_match_in_linear_time(vm: VM, script: str) -> None:
    # a backtracking translation takes longer than the universe on these names
    name = "a" * 250
    vm.exec(f"mkdir -p /tmp/gx/{name} && touch /tmp/gx/{name}/{name} && ln -sfn {name} /tmp/gx/l")
    r = vm.exec(script + "; echo end", timeout=30)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "end\n", "")
    r = vm.exec(script.replace("b'", "'").replace("B'", "'") + " | wc -l")
    assert int(r.stdout) >= 1, r


@pytest.mark.own_process
def test_backtracking_stack_is_charged_before_the_match(vm: VM) -> None:
    vm.write_file("/tmp/long", b"x" * 1_000_000 + b"\n")
    r, peak = run_traced(
        vm, "sed -E 's/(x|xx)+y/Z/' /tmp/long", timeout=BACKSTOP, limits={"max_memory": MEM}
    )
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r  # type: ignore[attr-defined]
    assert "regex: memory limit exceeded" in r.stderr  # type: ignore[attr-defined]
    assert peak < OVERHEAD


def test_regex_on_the_event_loop_is_capped_by_max_regex_time(vm: VM) -> None:
    vm.write_file("/tmp/long", b"x" * 300_000 + b"\n")
    r = vm.exec("sed 's/x.*x.*y/Z/' /tmp/long", timeout=60, limits={"max_regex_time": 0.2})
    assert (r.exit_code, r.limit_hit) == (125, "max_regex_time")
    assert r.stderr == "bash: regular expression too slow (over max_regex_time=0.2s)\n"


def test_backtracking_patterns_still_match_like_re(vm: VM) -> None:
    vm.write_file("/tmp/m", b"x" * 5000 + b"y\nab\n" + b"a" * 30 + b"b\n")
    r = vm.exec(
        "grep -c 'x.*y' /tmp/m; grep -cE '(a*)*b' /tmp/m; sed -E 's/(a|b)+$/Z/' /tmp/m | tail -n2"
    )
    assert (r.exit_code, r.stdout) == (0, "1\n2\nZ\nZ\n")


# --- sqlite3 ----------------------------------------------------------------------------------


@pytest.mark.own_process
@pytest.mark.timeout(120)
def test_sqlite_printf_of_a_huge_width_is_refused_at_once(vm: VM) -> None:
    q = "select printf('%.*c', 2000000000, 'x');"
    r, peak = run_traced(vm, f'sqlite3 :memory: "{q}"', timeout=30)
    assert r.exit_code == 1  # type: ignore[attr-defined]
    # refused before SQLite starts padding one character at a time (about a minute), not
    # stopped by the timeout
    assert r.limit_hit is None  # type: ignore[attr-defined]
    assert r.stderr == "Error: in prepare, user-defined function raised exception\n"  # type: ignore[attr-defined]
    assert peak < OVERHEAD
    r = vm.exec(
        "sqlite3 :memory: \"select printf('%5.2f|%-3s|%d%%|%.*c', 3.14159, 'ab', 7, 3, 'x')\""
    )
    assert (r.exit_code, r.stdout) == (0, " 3.14|ab |7%|xxx\n")


@pytest.mark.own_process
def test_sqlite_in_memory_database_is_bounded_by_max_memory(vm: VM) -> None:
    q = (
        "create table t(x); with recursive c(i) as (select 1 union all select i + 1 from c) "
        "insert into t select randomblob(1000) from c;"
    )
    r, peak = run_traced(
        vm, f"sqlite3 :memory: '{q}'", timeout=BACKSTOP, limits={"max_memory": MEM}
    )
    assert (r.exit_code, r.limit_hit) == (13, "max_memory"), r  # type: ignore[attr-defined]
    assert r.stderr == "Error: stepping, database or disk is full (13)\n"  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD


@pytest.mark.own_process
@pytest.mark.timeout(120)
def test_sqlite_runaway_query_ends_at_the_timeout(vm: VM) -> None:
    q = "with recursive c(i) as (select 1 union all select i + 1 from c) select count(*) from c;"
    r, peak = run_traced(vm, f"sqlite3 :memory: '{q}'", timeout=0.5)
    assert (r.exit_code, r.limit_hit) == (124, "timeout")  # type: ignore[attr-defined]


# --- walkers over symlink loops ---------------------------------------------------------------

#: two loops (``b/l`` back to ``a``, ``up`` to the parent): the paths through them multiply
#: at each level, so a walker that follows links without noticing a directory it is inside
#: meets the timeout or the 40-link limit (``Too many levels of symbolic links``) rather than
#: ending
LOOPS = (
    "rm -rf /tmp/loops /tmp/loopcopy && mkdir -p /tmp/loops/a/b && "
    "ln -s /tmp/loops/a /tmp/loops/a/b/l && ln -s .. /tmp/loops/a/up"
)

#: tar -h and zip -r follow the links until a limit ends them
LOOP_WALKERS = [
    "tar -ch /tmp/loops/a | wc -c",
    "zip -qr - /tmp/loops/a | wc -c",
]

#: the others notice the loops as GNU's tools do and go on, so they end by themselves:
#: (script, status, stdout, what stderr holds); the figures are GNU's for the same tree
LOOP_NOTICERS = [
    ("cp -rL /tmp/loops/a /tmp/loopcopy", 1, "", "cannot copy cyclic symbolic link"),
    ("tree -l /tmp/loops/a | grep -c 'recursive, not followed'", 0, "3\n", ""),
    ("du -L /tmp/loops/a | wc -l", 0, "3\n", ""),
    ("ls -RL /tmp/loops/a | wc -l", 0, "9\n", "not listing already-listed directory"),
    ("find -L /tmp/loops/a | wc -l", 0, "3\n", "File system loop detected"),
    ("grep -R x /tmp/loops/a", 1, "", "recursive directory loop"),
]


@pytest.mark.own_process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", LOOP_WALKERS)
def test_a_walker_over_symlink_loops_meets_the_timeout(vm: VM, script: str) -> None:
    vm.exec(LOOPS)
    r, peak = run_traced(vm, script, timeout=0.5, limits={"max_memory": MEM})
    code = r.exit_code  # type: ignore[attr-defined]
    assert code in (0, 1, 2, 124, 125), r
    if code >= 124:
        assert r.limit_hit in ("timeout", "max_memory"), r  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD
    vm.exec("rm -rf /tmp/loops /tmp/loopcopy")
    usable(vm)


@pytest.mark.own_process
@pytest.mark.parametrize(("script", "status", "out", "err"), LOOP_NOTICERS)
def test_a_walker_over_symlink_loops_notices_them(
    vm: VM, script: str, status: int, out: str, err: str
) -> None:
    vm.exec(LOOPS)
    # the backstop timeout is reached only if the walker follows the loops again
    r, peak = run_traced(vm, script, timeout=BACKSTOP, limits={"max_memory": MEM})
    assert (r.exit_code, r.limit_hit, r.stdout) == (status, None, out), r  # type: ignore[attr-defined]
    assert err in r.stderr and bool(err) == bool(r.stderr), r  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD
    vm.exec("rm -rf /tmp/loops /tmp/loopcopy")
    usable(vm)


# --- awk, yq ----------------------------------------------------------------------------------


@pytest.mark.own_process
def test_awk_string_doubling_stops_at_max_memory(vm: VM) -> None:
    script = "awk 'BEGIN { s = \"x\"; while (1) s = s s }'"
    r, peak = run_traced(vm, script, timeout=BACKSTOP, limits={"max_memory": MEM})
    assert (r.exit_code, r.limit_hit) == (125, "max_memory"), r  # type: ignore[attr-defined]
    assert r.stderr == "bash: awk: string: memory limit exceeded (max_memory=16 MiB)\n"  # type: ignore[attr-defined]
    assert peak < MEM + OVERHEAD


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.own_process
def test_yaml_alias_bomb_is_refused(vm: VM) -> None:
    vm.write_file("/tmp/bomb.yaml", LAUGHS.encode())
    assert len(LAUGHS) < 400
    r, peak = run_traced(vm, "yq . /tmp/bomb.yaml", timeout=BACKSTOP)
    assert (r.exit_code, r.limit_hit) == (1, "max_memory"), r  # type: ignore[attr-defined]
    assert r.stderr == (  # type: ignore[attr-defined]
        "Error: bad file '/tmp/bomb.yaml': yaml: document contains excessive aliasing\n"
    )
    assert peak < OVERHEAD
    vm.write_file("/tmp/ok.yaml", b"x: &x {a: 1}\ny: *x\n")
    r = vm.exec("yq .y.a /tmp/ok.yaml")
    assert (r.exit_code, r.stdout) == (0, "1\n")


@pytest.mark.own_process
@pytest.mark.timeout(120)
def test_deep_mkdir_meets_the_timeout(vm: VM) -> None:
    # a lookup costs the square of the depth: 1,000 levels take many minutes without the
    # deadline check (the pytest timeout fails the test then)
    r, peak = run_traced(vm, 'mkdir -p /tmp/deep/$(printf "a/%.0s" $(seq 1000))', timeout=0.3)
    assert (r.exit_code, r.limit_hit) == (124, "timeout"), r  # type: ignore[attr-defined]
    assert peak < OVERHEAD
    vm.exec("rm -rf /tmp/deep")
    usable(vm)
