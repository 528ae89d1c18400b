"""Unit tests for find and xargs: sorted walk order, actions, times, symlinks, batching."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from pocketos import VM
from pocketos.commands._posixpat import bre_to_regex, glob_to_regex


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.write_file("/work/a.txt", b"hello\n", parents=True)
        v.write_file("/work/b.log", b"x\n")
        v.write_file("/work/sub/c.txt", b"c" * 3000, parents=True)
        v.write_file("/work/sub/deep/d.md", b"# d\n", parents=True)
        yield v


def run(vm: VM, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    r = vm.run(list(argv), cwd="/work", stdin=stdin)
    return r.exit_code, r.stdout, r.stderr


def test_find_walks_in_sorted_order(vm: VM) -> None:
    assert run(vm, "find") == (
        0,
        ".\n./a.txt\n./b.log\n./sub\n./sub/c.txt\n./sub/deep\n./sub/deep/d.md\n",
        "",
    )
    assert run(vm, "find", ".", "-depth") == (
        0,
        "./a.txt\n./b.log\n./sub/c.txt\n./sub/deep/d.md\n./sub/deep\n./sub\n.\n",
        "",
    )
    assert run(vm, "find", "/work/sub", "-type", "f") == (
        0,
        "/work/sub/c.txt\n/work/sub/deep/d.md\n",
        "",
    )


def test_find_size_units(vm: VM) -> None:
    assert run(vm, "find", ".", "-size", "+2k") == (0, ".\n./sub\n./sub/c.txt\n./sub/deep\n", "")
    assert run(vm, "find", ".", "-size", "3k") == (0, "./sub/c.txt\n", "")
    assert run(vm, "find", ".", "-type", "f", "-size", "-1k") == (0, "", "")
    assert run(vm, "find", ".", "-type", "f", "-size", "1") == (
        0,
        "./a.txt\n./b.log\n./sub/deep/d.md\n",
        "",
    )


def test_find_times_and_newer(vm: VM) -> None:
    run(vm, "touch", "-d", "2020-01-01", "a.txt")
    run(vm, "touch", "-d", "2021-01-01", "b.log")
    assert run(vm, "find", ".", "-type", "f", "-mtime", "+30") == (0, "./a.txt\n./b.log\n", "")
    assert run(vm, "find", ".", "-type", "f", "-newer", "a.txt", "-name", "*.*") == (
        0,
        "./b.log\n./sub/c.txt\n./sub/deep/d.md\n",
        "",
    )
    assert run(vm, "find", ".", "-type", "f", "-mmin", "-10") == (
        0,
        "./sub/c.txt\n./sub/deep/d.md\n",
        "",
    )
    assert run(vm, "find", "a.txt", "-printf", "%t|%TY-%Tm-%Td|%T@|%A+\\n") == (
        0,
        "Wed Jan  1 00:00:00.0000000000 2020|2020-01-01|1577836800.0000000000|"
        "2020-01-01+00:00:00.0000000000\n",
        "",
    )
    assert run(vm, "find", ".", "-newermt", "2020-06-01", "-name", "?.*") == (
        0,
        "./b.log\n./sub/c.txt\n./sub/deep/d.md\n",
        "",
    )


def test_find_symlinks(vm: VM) -> None:
    run(vm, "ln", "-s", "sub", "lnk")
    run(vm, "ln", "-s", "missing", "broken")
    assert run(vm, "find", ".", "-type", "l") == (0, "./broken\n./lnk\n", "")
    assert run(vm, "find", "lnk") == (0, "lnk\n", "")
    assert run(vm, "find", "-H", "lnk", "-name", "*.md") == (0, "lnk/deep/d.md\n", "")
    assert run(vm, "find", "-L", ".", "-name", "d.md") == (
        0,
        "./lnk/deep/d.md\n./sub/deep/d.md\n",
        "",
    )
    assert run(vm, "find", ".", "-xtype", "d", "-name", "l*") == (0, "./lnk\n", "")
    assert run(vm, "find", ".", "-lname", "sub", "-printf", "%p %l %y %Y\\n") == (
        0,
        "./lnk sub l d\n",
        "",
    )


def test_find_exec_batches_and_execdir(vm: VM) -> None:
    assert run(vm, "find", ".", "-type", "f", "-exec", "echo", "{}", "+") == (
        0,
        "./a.txt ./b.log ./sub/c.txt ./sub/deep/d.md\n",
        "",
    )
    assert run(vm, "find", "sub", "-type", "f", "-execdir", "echo", "in", "{}", ";") == (
        0,
        "in ./c.txt\nin ./d.md\n",
        "",
    )
    assert run(vm, "find", ".", "-name", "*.md", "-exec", "cat", "{}", ";", "-print") == (
        0,
        "# d\n./sub/deep/d.md\n",
        "",
    )
    assert run(
        vm,
        "find",
        ".",
        "-name",
        "a.txt",
        "-exec",
        "sh",
        "-c",
        "exit 1",
        ";",
        "-o",
        "-name",
        "a.txt",
        "-print",
    ) == (0, "./a.txt\n", "")


def test_find_delete_prune_quit(vm: VM) -> None:
    assert run(vm, "find", ".", "-name", "deep", "-prune", "-o", "-type", "f", "-print") == (
        0,
        "./a.txt\n./b.log\n./sub/c.txt\n",
        "",
    )
    assert run(vm, "find", ".", "-type", "f", "-print", "-quit") == (0, "./a.txt\n", "")
    assert run(vm, "find", "sub", "-delete") == (0, "", "")
    assert not vm.exists("/work/sub")
    assert run(vm, "find", ".") == (0, ".\n./a.txt\n./b.log\n", "")


def test_find_ok_prompts(vm: VM) -> None:
    code, out, err = run(
        vm, "find", ".", "-name", "*.txt", "-ok", "echo", "X", "{}", ";", stdin=b"y\nn\n"
    )
    assert (code, out) == (0, "X ./a.txt\n")
    assert err == "< echo X ./a.txt ... ./a.txt > ? < echo X ./sub/c.txt ... ./sub/c.txt > ? "


def test_find_errors(vm: VM) -> None:
    assert run(vm, "find", "nope") == (1, "", "find: 'nope': No such file or directory\n")
    assert run(vm, "find", ".", "-frob") == (1, "", "find: unknown predicate `-frob'\n")
    assert run(vm, "find", ".", "-name") == (1, "", "find: missing argument to `-name'\n")


def test_find_printf_fields(vm: VM) -> None:
    run(vm, "chmod", "640", "a.txt")
    assert run(
        vm,
        "find",
        "a.txt",
        "sub",
        "-maxdepth",
        "0",
        "-printf",
        "%f|%h|%m|%M|%u:%g|%U:%G|%n|%y|%H\\0",
    ) == (
        0,
        "a.txt|.|640|-rw-r-----|root:root|0:0|1|f|a.txt\0"
        "sub|.|755|drwxr-xr-x|root:root|0:0|3|d|sub\0",
        "",
    )


def test_find_printf_width_flags(vm: VM) -> None:
    assert run(vm, "find", "a.txt", "-printf", "[%10p][%-6s][%3d]\\n") == (
        0,
        "[     a.txt][6     ][  0]\n",
        "",
    )


def test_find_ls_action(vm: VM) -> None:
    code, out, _ = run(vm, "find", "a.txt", "-ls")
    assert code == 0
    assert re.fullmatch(
        r" *\d+ +1 -rw-r--r-- +1 root +root +6 \w{3} [ \d]\d \d\d:\d\d a\.txt\n", out
    )


def test_find_large_tree_head(vm: VM) -> None:
    for i in range(50):
        vm.write_file(f"/work/many/d{i:02d}/f", b"", parents=True)
    r = vm.exec("find /work/many | head -n 3")
    assert r.stdout == "/work/many\n/work/many/d00\n/work/many/d00/f\n"


def test_glob_and_regex_translation() -> None:
    assert glob_to_regex("*.txt").match("a.txt")
    assert glob_to_regex("[!a]*").match("b")
    assert not glob_to_regex("[!a]*").match("a")
    assert glob_to_regex("\\*").match("*")
    assert glob_to_regex("[[:digit:]]?").match("1x")
    assert glob_to_regex("*").match(".hidden")
    assert re.fullmatch(bre_to_regex("a\\(b\\|c\\)+", "emacs"), "acbb")
    assert re.fullmatch(bre_to_regex("a\\{2\\}", "basic"), "aa")
    assert re.fullmatch(bre_to_regex("a+", "basic"), "a+")
    assert re.fullmatch(bre_to_regex("(x)", "emacs"), "(x)")


# --- xargs ------------------------------------------------------------------------------------


def test_xargs_parallel_runs_everything(vm: VM) -> None:
    code, out, _ = run(vm, "xargs", "-P", "3", "-n", "1", "echo", stdin=b"1 2 3 4 5 6\n")
    assert code == 0
    assert sorted(out.split()) == ["1", "2", "3", "4", "5", "6"]


def test_xargs_statuses(vm: VM) -> None:
    assert run(vm, "xargs", "sh", "-c", "exit 255", stdin=b"a\nb\n") == (
        124,
        "",
        "xargs: sh: exited with status 255; aborting\n",
    )
    assert run(vm, "xargs", "-n1", "sh", "-c", "exit $0", stdin=b"0 3 0\n") == (123, "", "")


def test_xargs_null_binary_safe(vm: VM) -> None:
    r = vm.run(["xargs", "-0", "printf", "[%s]"], cwd="/work", stdin=b"caf\xe9\0x y\0")
    assert r.stdout_bytes == b"[caf\xe9][x y]"


def test_find_print0_into_xargs(vm: VM) -> None:
    vm.write_file("/work/sp ace.txt", b"s\n")
    r = vm.exec("cd /work && find . -name '*.txt' -print0 | xargs -0 cat")
    assert r.stdout == "hello\ns\n" + "c" * 3000
