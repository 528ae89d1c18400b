"""Unit tests for the file commands (whole outputs; the VM's own figures where the host's
would differ: owners, dates, block counts, tree, df, mktemp)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from pocketos import VM


@pytest.fixture()
def vm() -> Iterator[VM]:
    with VM() as v:
        v.write_file("/work/a.txt", b"hello\nworld\n", parents=True)
        v.write_file("/work/b.log", b"x\n")
        v.write_file("/work/sub/c.txt", b"c\n", parents=True)
        v.write_file("/work/sub/deep/d.md", b"# d\n", parents=True)
        yield v


def run(vm: VM, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    r = vm.run(list(argv), cwd="/work", stdin=stdin)
    return r.exit_code, r.stdout, r.stderr


def fix_times(vm: VM) -> None:
    """Give every test file the same old timestamp, so dates print as ``Jan  2  2020``."""
    code, _, err = run(
        vm,
        "touch",
        "-d",
        "2020-01-02 03:04:05",
        "a.txt",
        "b.log",
        "sub",
        "sub/c.txt",
        "sub/deep",
        "sub/deep/d.md",
        ".",
    )
    assert code == 0, err


# --- ls ---------------------------------------------------------------------------------------


def test_ls_long_format(vm: VM) -> None:
    fix_times(vm)
    run(vm, "chown", "user:user", "b.log")
    code, out, err = run(vm, "ls", "-l")
    assert (code, err) == (0, "")
    assert out == (
        "total 6\n"
        "-rw-r--r-- 1 root root   12 Jan  2  2020 a.txt\n"
        "-rw-r--r-- 1 user user    2 Jan  2  2020 b.log\n"
        "drwxr-xr-x 3 root root 4096 Jan  2  2020 sub\n"
    )


def test_ls_long_numeric_human_and_symlink(vm: VM) -> None:
    vm.write_file("/work/big", b"x" * 1536)
    run(vm, "ln", "-s", "a.txt", "lnk")
    run(vm, "touch", "-h", "-d", "2020-01-02 03:04:05", "lnk")
    run(vm, "touch", "-d", "2020-01-02 03:04:05", "big")
    code, out, _ = run(vm, "ls", "-lnh", "big", "lnk")
    assert code == 0
    assert out == (
        "-rw-r--r-- 1 0 0 1.5K Jan  2  2020 big\nlrwxrwxrwx 1 0 0    5 Jan  2  2020 lnk -> a.txt\n"
    )


def test_ls_recent_date_uses_time(vm: VM) -> None:
    code, out, _ = run(vm, "ls", "-l", "a.txt")
    assert code == 0
    assert re.fullmatch(r"-rw-r--r-- 1 root root 12 [A-Z][a-z]{2} [ \d]\d \d\d:\d\d a\.txt\n", out)


def test_ls_sort_by_time_and_size(vm: VM) -> None:
    run(vm, "touch", "-d", "2020-01-01", "a.txt")
    run(vm, "touch", "-d", "2021-01-01", "b.log")
    run(vm, "touch", "-d", "2019-01-01", "sub")
    assert run(vm, "ls", "-t") == (0, "b.log\na.txt\nsub\n", "")
    assert run(vm, "ls", "-tr") == (0, "sub\na.txt\nb.log\n", "")
    assert run(vm, "ls", "-S", "a.txt", "b.log") == (0, "a.txt\nb.log\n", "")


def test_ls_inode_and_classify(vm: VM) -> None:
    run(vm, "chmod", "+x", "b.log")
    code, out, _ = run(vm, "ls", "-F")
    assert out == "a.txt\nb.log*\nsub/\n"
    code, out, _ = run(vm, "ls", "-i", "a.txt")
    assert re.fullmatch(r"\d+ a\.txt\n", out)


def test_ls_recursive_and_missing(vm: VM) -> None:
    assert run(vm, "ls", "-R", "sub") == (0, "sub:\nc.txt\ndeep\n\nsub/deep:\nd.md\n", "")
    assert run(vm, "ls", "nope") == (2, "", "ls: cannot access 'nope': No such file or directory\n")


def test_ls_help_and_bad_option(vm: VM) -> None:
    code, out, _ = run(vm, "ls", "--help")
    assert code == 0 and out.startswith("Usage: ls")
    assert run(vm, "ls", "-y") == (
        2,
        "",
        "ls: invalid option -- 'y'\nTry 'ls --help' for more information.\n",
    )


def test_ls_c_locale_order(vm: VM) -> None:
    for n in ("B", "a", "_x", "Z"):
        vm.write_file(f"/work/o/{n}", b"", parents=True)
    assert run(vm, "ls", "o") == (0, "B\nZ\n_x\na\n", "")


# --- cp / mv / rm -----------------------------------------------------------------------------


def test_cp_recursive_copies_tree_and_binary(vm: VM) -> None:
    data = bytes(range(256)) * 3 + b"\xff\xfe\x00"
    vm.write_file("/work/sub/bin", data)
    assert run(vm, "cp", "-r", "sub", "copy") == (0, "", "")
    assert vm.read_file("/work/copy/bin") == data
    assert vm.read_file("/work/copy/deep/d.md") == b"# d\n"


def test_cp_preserve_and_symlinks(vm: VM) -> None:
    run(vm, "chmod", "600", "a.txt")
    run(vm, "touch", "-d", "2020-01-02", "a.txt")
    run(vm, "ln", "-s", "a.txt", "l")
    assert run(vm, "cp", "-a", "a.txt", "l", "sub") == (0, "", "")
    assert run(vm, "stat", "-c", "%a %Y", "sub/a.txt") == (0, "600 1577923200\n", "")
    assert vm.readlink("/work/sub/l") == "a.txt"
    # without -r a symlink is followed
    run(vm, "cp", "l", "plain")
    assert run(vm, "stat", "-c", "%F", "plain") == (0, "regular file\n", "")
    run(vm, "cp", "-P", "l", "kept")
    assert run(vm, "stat", "-c", "%F", "kept") == (0, "symbolic link\n", "")


def test_cp_interactive_reads_answer(vm: VM) -> None:
    code, out, err = run(vm, "cp", "-i", "a.txt", "b.log", stdin=b"n\n")
    assert (code, out, err) == (0, "", "cp: overwrite 'b.log'? ")
    assert vm.read_file("/work/b.log") == b"x\n"
    run(vm, "cp", "-i", "a.txt", "b.log", stdin=b"y\n")
    assert vm.read_file("/work/b.log") == b"hello\nworld\n"


def test_mv_renames_and_across_mounts(vm: VM) -> None:
    vm.mount("/mnt/m", memory=True)
    assert run(vm, "mv", "-v", "sub", "/mnt/m/sub") == (0, "renamed 'sub' -> '/mnt/m/sub'\n", "")
    assert not vm.exists("/work/sub")
    assert vm.read_file("/mnt/m/sub/deep/d.md") == b"# d\n"
    assert run(vm, "mv", "a.txt", "/mnt/m/") == (0, "", "")
    assert vm.read_file("/mnt/m/a.txt") == b"hello\nworld\n"
    assert not vm.exists("/work/a.txt")


def test_rm_recursive_and_interactive(vm: VM) -> None:
    code, out, err = run(vm, "rm", "-ri", "sub", stdin=b"y\ny\nn\ny\n")
    assert out == ""
    assert err == (
        "rm: descend into directory 'sub'? rm: remove regular file 'sub/c.txt'? "
        "rm: descend into directory 'sub/deep'? "
    )
    assert vm.exists("/work/sub/deep/d.md") and not vm.exists("/work/sub/c.txt")
    assert code == 0
    assert run(vm, "rm", "-rf", "sub") == (0, "", "")
    assert not vm.exists("/work/sub")


def test_rm_refuses_root(vm: VM) -> None:
    code, _, err = run(vm, "rm", "-rf", "/")
    assert code == 1
    assert err == (
        "rm: it is dangerous to operate recursively on '/'\n"
        "rm: use --no-preserve-root to override this failsafe\n"
    )


# --- mkdir / touch / ln / chmod / chown -------------------------------------------------------


def test_mkdir_mode_and_parents(vm: VM) -> None:
    assert run(vm, "mkdir", "-p", "-m", "700", "x/y") == (0, "", "")
    assert run(vm, "stat", "-c", "%a %n", "x", "x/y") == (0, "755 x\n700 x/y\n", "")
    assert run(vm, "mkdir", "-m", "a-w", "ro") == (0, "", "")
    assert run(vm, "stat", "-c", "%A", "ro") == (0, "dr-xr-xr-x\n", "")


def test_touch_forms(vm: VM) -> None:
    run(vm, "touch", "-t", "202001020304.05", "a.txt")
    assert run(vm, "stat", "-c", "%Y", "a.txt") == (0, "1577934245\n", "")
    run(vm, "touch", "-m", "-d", "@100", "a.txt")
    run(vm, "touch", "-a", "-d", "@200", "a.txt")
    assert run(vm, "stat", "-c", "%X %Y", "a.txt") == (0, "200 100\n", "")
    run(vm, "touch", "-r", "a.txt", "b.log")
    assert run(vm, "stat", "-c", "%X %Y", "b.log") == (0, "200 100\n", "")
    assert run(vm, "touch", "-c", "new") == (0, "", "")
    assert not vm.exists("/work/new")
    assert run(vm, "touch", "new") == (0, "", "")
    assert vm.read_file("/work/new") == b""


def test_ln_hard_and_relative(vm: VM) -> None:
    assert run(vm, "ln", "a.txt", "hard") == (0, "", "")
    assert run(vm, "stat", "-c", "%h", "a.txt") == (0, "2\n", "")
    assert run(vm, "ln", "-sr", "a.txt", "sub/deep/rel") == (0, "", "")
    assert vm.readlink("/work/sub/deep/rel") == "../../a.txt"
    assert run(vm, "cat", "sub/deep/rel") == (0, "hello\nworld\n", "")


def test_chmod_recursive_and_symbolic(vm: VM) -> None:
    assert run(vm, "chmod", "-R", "u=rwX,go=", "sub") == (0, "", "")
    assert run(vm, "stat", "-c", "%a %n", "sub", "sub/c.txt", "sub/deep") == (
        0,
        "700 sub\n600 sub/c.txt\n700 sub/deep\n",
        "",
    )


def test_chown_chgrp(vm: VM) -> None:
    assert run(vm, "chown", "-v", "user:user", "a.txt") == (
        0,
        "changed ownership of 'a.txt' from root:root to user:user\n",
        "",
    )
    assert run(vm, "chgrp", "0", "a.txt") == (0, "", "")
    assert run(vm, "stat", "-c", "%U:%G %u:%g", "a.txt") == (0, "user:root 1000:0\n", "")
    assert run(vm, "chown", "-R", "1000", "sub") == (0, "", "")
    assert run(vm, "stat", "-c", "%U", "sub/deep/d.md") == (0, "user\n", "")
    assert run(vm, "chown", "nobody-x", "a.txt") == (1, "", "chown: invalid user: 'nobody-x'\n")


# --- stat / readlink / realpath ---------------------------------------------------------------


def test_stat_default_format(vm: VM) -> None:
    run(vm, "touch", "-d", "2020-01-02 03:04:05.5", "a.txt")
    code, out, _ = run(vm, "stat", "a.txt")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "  File: a.txt"
    assert lines[1] == "  Size: 12        \tBlocks: 1          IO Block: 4096   regular file"
    assert re.fullmatch(r"Device: \d+,\d+\tInode: \d+ +Links: 1", lines[2])
    assert lines[3] == "Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)"
    assert lines[4] == "Access: 2020-01-02 03:04:05.500000000 +0000"
    assert lines[5] == "Modify: 2020-01-02 03:04:05.500000000 +0000"
    assert len(lines) == 8


def test_stat_symlink_and_terse(vm: VM) -> None:
    run(vm, "ln", "-s", "a.txt", "l")
    assert run(vm, "stat", "-c", "%N|%F|%s", "l") == (0, "'l' -> 'a.txt'|symbolic link|5\n", "")
    code, out, _ = run(vm, "stat", "-t", "a.txt")
    assert out.startswith("a.txt 12 1 81a4 0 0 ")


def test_readlink_and_realpath(vm: VM) -> None:
    run(vm, "ln", "-s", "sub/deep", "dl")
    run(vm, "ln", "-s", "loop", "loop")
    assert run(vm, "readlink", "dl") == (0, "sub/deep\n", "")
    assert run(vm, "readlink", "-f", "dl/d.md") == (0, "/work/sub/deep/d.md\n", "")
    assert run(vm, "readlink", "-m", "dl/x/../y") == (0, "/work/sub/deep/y\n", "")
    assert run(vm, "realpath", "dl", "a.txt") == (0, "/work/sub/deep\n/work/a.txt\n", "")
    assert run(vm, "realpath", "-s", "dl") == (0, "/work/dl\n", "")
    assert run(vm, "realpath", "loop") == (
        1,
        "",
        "realpath: loop: Too many levels of symbolic links\n",
    )
    assert run(vm, "readlink", "-n", "dl") == (0, "sub/deep", "")


# --- du / df / tree / file / mktemp -----------------------------------------------------------


def test_du(vm: VM) -> None:
    assert run(vm, "du", "-ab", "sub") == (
        0,
        "2\tsub/c.txt\n4\tsub/deep/d.md\n4100\tsub/deep\n8198\tsub\n",
        "",
    )
    assert run(vm, "du", "-sh", "sub") == (0, "9.0K\tsub\n", "")
    assert run(vm, "du", "-b", "--max-depth=0", "sub") == (0, "8198\tsub\n", "")
    assert run(vm, "du", "-cb", "a.txt", "b.log") == (0, "12\ta.txt\n2\tb.log\n14\ttotal\n", "")


def test_du_counts_a_directory_reached_twice_once(vm: VM) -> None:
    # with -L (or several operands) GNU's du counts every file and directory once: l1/up leads
    # to /work, where l1, l2 and sub are met again; l2 and sub/deep add nothing, print nothing
    # (GNU's figures for the same files; it prints l1/up first, in on-disk order)
    vm.exec("cd /work && ln -s sub l1 && ln -s sub l2 && ln -s .. sub/up")
    assert run(vm, "du", "-Lb", "l1", "l2", "sub/deep") == (
        0,
        "4100\tl1/deep\n4110\tl1/up\n12308\tl1\n",
        "",
    )
    assert run(vm, "du", "-b", "sub", "sub/deep", "sub") == (
        0,
        "4100\tsub/deep\n8200\tsub\n",
        "",
    )


def test_directories_without_an_inode_are_not_met_twice(vm: VM) -> None:
    # mount points below a read-only mount are made up by the VFS with inode 0: two of them
    # are not one directory met twice (du with several operands counts each file once)
    vm.mount("/ro", memory=True, readonly=True)
    vm.mount("/ro/a/x", memory=True)
    vm.mount("/ro/b/y", memory=True)
    assert run(vm, "stat", "-c", "%i", "/ro/a", "/ro/b")[1] == "0\n0\n"
    assert run(vm, "du", "-b", "/ro/a", "/ro/b")[1] == "4096\t/ro/a\n4096\t/ro/b\n"


def test_df(vm: VM) -> None:
    vm.mount("/mnt/m", memory=True)
    code, out, _ = run(vm, "df")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "Filesystem     1K-blocks  Used Available Use% Mounted on"
    assert lines[1].startswith("pocketos ") and lines[1].endswith(" /")
    assert lines[2].endswith(" /mnt/m")
    code, out, _ = run(vm, "df", "-h", "a.txt")
    assert out.splitlines()[0] == "Filesystem      Size  Used Avail Use% Mounted on"
    assert out.splitlines()[1].startswith("pocketos        1.0G ")


def test_tree(vm: VM) -> None:
    run(vm, "ln", "-s", "a.txt", "l")
    assert run(vm, "tree") == (
        0,
        ".\n├── a.txt\n├── b.log\n├── l -> a.txt\n└── sub\n"
        "    ├── c.txt\n    └── deep\n        └── d.md\n\n"
        "2 directories, 5 files\n",
        "",
    )
    assert run(vm, "tree", "-L", "1", "--noreport", "sub") == (0, "sub\n├── c.txt\n└── deep\n", "")
    assert run(vm, "tree", "-d", "sub") == (0, "sub\n└── deep\n\n1 directory\n", "")
    assert run(vm, "tree", "-f", "sub/deep") == (
        0,
        "sub/deep\n└── sub/deep/d.md\n\n0 directories, 1 file\n",
        "",
    )
    assert run(vm, "tree", "nope") == (
        2,
        "nope  [error opening dir]\n\n0 directories, 0 files\n",
        "",
    )


def test_file_magic(vm: VM) -> None:
    vm.write_file("/work/t.tar", b"\0" * 257 + b"ustar\x0000" + b"\0" * 250)
    vm.write_file("/work/z.zip", b"PK\x03\x04\x14\x00" + b"\0" * 30)
    vm.write_file(
        "/work/e.elf", b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x3e\x00" + b"\0" * 40
    )
    vm.write_file("/work/p.pdf", b"%PDF-1.7\n%...")
    vm.write_file("/work/x.xz", b"\xfd7zXZ\x00\x00")
    vm.write_file("/work/bz", b"BZh91AY&SY")
    vm.write_file("/work/j.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01")
    code, out, _ = run(vm, "file", "t.tar", "z.zip", "e.elf", "p.pdf", "x.xz", "bz", "j.jpg")
    assert code == 0
    assert out == (
        "t.tar: POSIX tar archive\n"
        "z.zip: Zip archive data, at least v2.0 to extract\n"
        "e.elf: ELF 64-bit LSB executable, x86-64\n"
        "p.pdf: PDF document, version 1.7\n"
        "x.xz:  XZ compressed data\n"
        "bz:    bzip2 compressed data, block size = 900k\n"
        "j.jpg: JPEG image data, JFIF standard 1.01\n"
    )
    run(vm, "ln", "-s", "a.txt", "l")
    assert run(vm, "file", "l") == (0, "l: symbolic link to a.txt\n", "")
    assert run(vm, "file", "-L", "l") == (0, "l: ASCII text\n", "")
    assert run(vm, "file", "-", stdin=b"%PDF-1.4") == (
        0,
        "/dev/stdin: PDF document, version 1.4\n",
        "",
    )


def test_mktemp(vm: VM) -> None:
    code, out, _ = run(vm, "mktemp")
    assert code == 0 and re.fullmatch(r"/tmp/tmp\.[A-Za-z0-9]{10}\n", out)
    assert run(vm, "stat", "-c", "%a %F", out.strip()) == (0, "600 regular empty file\n", "")
    code, out, _ = run(vm, "mktemp", "-d", "-p", "/work", "dXXXX")
    assert code == 0 and re.fullmatch(r"/work/d[A-Za-z0-9]{4}\n", out)
    assert run(vm, "stat", "-c", "%a %F", out.strip()) == (0, "700 directory\n", "")
    code, out, _ = run(vm, "mktemp", "-t", "foo.XXXXXX")
    assert re.fullmatch(r"/tmp/foo\.[A-Za-z0-9]{6}\n", out)
    code, out, _ = run(vm, "mktemp", "--suffix=.txt", "wXXX")
    assert re.fullmatch(r"w[A-Za-z0-9]{3}\.txt\n", out)
    code, out, _ = run(vm, "mktemp", "-u", "uXXX")
    assert code == 0 and not vm.exists("/work/" + out.strip())


# --- truncate / split / dd / install ----------------------------------------------------------


def test_truncate_forms(vm: VM) -> None:
    for args, size in (
        (["-s", "1K"], 1024),
        (["-s", "+10"], 1034),
        (["-s", "-1000"], 34),
        (["-s", "%16"], 48),
        (["-s", "/10"], 40),
        (["-s", "<5"], 5),
        (["-s", ">8"], 8),
        (["-s", "0"], 0),
    ):
        assert run(vm, "truncate", *args, "a.txt") == (0, "", "")
        assert vm.stat("/work/a.txt").st_size == size, args
    assert run(vm, "truncate", "-s", "3", "new") == (0, "", "")
    assert vm.read_file("/work/new") == b"\0\0\0"


def test_split_binary_and_suffixes(vm: VM) -> None:
    data = bytes(range(256))
    vm.write_file("/work/bin", data)
    assert run(vm, "split", "-b", "100", "bin", "part.") == (0, "", "")
    assert [vm.read_file(f"/work/part.{s}") for s in ("aa", "ab", "ac")] == [
        data[:100],
        data[100:200],
        data[200:],
    ]
    vm.write_file("/work/many", b"".join(b"%d\n" % i for i in range(700)))
    assert run(vm, "split", "-l", "1", "many") == (0, "", "")
    assert vm.read_file("/work/xyz") == b"649\n"
    assert vm.read_file("/work/xzaaa") == b"650\n"


def test_dd_binary_and_conversions(vm: VM) -> None:
    data = bytes(range(256))
    vm.write_file("/work/bin", data)
    code, out, err = run(vm, "dd", "if=bin", "of=out", "bs=16", "skip=2", "count=3")
    assert code == 0
    assert vm.read_file("/work/out") == data[32:80]
    assert err.startswith("3+0 records in\n3+0 records out\n48 bytes copied, ")
    r = vm.run(["dd", "status=none", "conv=lcase"], cwd="/work", stdin=b"AbC\xff\x00")
    assert r.stdout_bytes == b"abc\xff\x00"
    vm.write_file("/work/tgt", b"0123456789")
    run(vm, "dd", "of=tgt", "bs=1", "seek=3", "conv=notrunc", "status=none", stdin=b"XY")
    assert vm.read_file("/work/tgt") == b"012XY56789"
    assert run(vm, "dd", "if=a.txt", "of=/dev/null", "status=noxfer") == (
        0,
        "",
        "0+1 records in\n0+1 records out\n",
    )


def test_install_modes(vm: VM) -> None:
    assert run(vm, "install", "a.txt", "inst") == (0, "", "")
    assert run(vm, "stat", "-c", "%a", "inst") == (0, "755\n", "")
    assert run(vm, "install", "-D", "-m", "640", "a.txt", "d1/d2/f") == (0, "", "")
    assert run(vm, "stat", "-c", "%a", "d1/d2/f") == (0, "640\n", "")
    assert run(vm, "install", "-d", "x/y") == (0, "", "")
    assert vm.stat("/work/x/y").is_dir()


def test_every_command_has_help(vm: VM) -> None:
    names = [
        "ls",
        "cp",
        "mv",
        "rm",
        "mkdir",
        "rmdir",
        "touch",
        "ln",
        "chmod",
        "chown",
        "chgrp",
        "stat",
        "readlink",
        "realpath",
        "basename",
        "dirname",
        "du",
        "df",
        "tree",
        "file",
        "mktemp",
        "truncate",
        "split",
        "dd",
        "install",
        "sync",
    ]
    for name in names:
        code, out, _ = run(vm, name, "--help")
        assert code == 0 and out.lower().startswith("usage"), name
