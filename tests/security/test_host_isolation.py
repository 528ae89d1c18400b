"""A host directory mounted into a VM (read-only, overlay and read-write) cannot be used to
reach host files outside it: symlinks inside the directory (absolute, relative, through
directories), ``..`` in archive members and patch headers, and links the guest creates all
resolve inside the VM's own namespace. Host files outside the mount stay byte-identical and
their content never appears in any output."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketos import VM
from tests.security._util import HOST_MARKER, assert_no_crash, text_of, tree_digest

MODES = ("ro", "overlay", "rw")
VM_PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "user:x:1000:1000:user:/home/user:/bin/bash\n"
)


def _tar(tmp: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:

        def add_file(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        def add_link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)

        add_file("../../tar-escape.txt", b"tar escape\n")
        add_file("/tar-abs.txt", b"tar abs\n")
        add_link("tl", str(tmp / "outside"))
        add_file("tl/tar-pwn.txt", b"pwn\n")
        add_link("tr", "../outside")
        add_file("tr/tar-pwn2.txt", b"pwn\n")
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../zip-escape.txt", b"zip escape\n")
        zf.writestr("/zip-abs.txt", b"zip abs\n")
        link = zipfile.ZipInfo("zl")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        zf.writestr(link, b"../outside")
        zf.writestr("zl/zip-pwn.txt", b"pwn\n")
    return buf.getvalue()


PATCH = """--- a/../outside/secret.txt
+++ b/../outside/secret.txt
@@ -1 +1 @@
-old line
+pwned
"""

PATCH_LINK = """--- abs
+++ abs
@@ -1 +1 @@
-old line
+pwned
"""


@dataclass
class Host:
    tmp: Path
    outside: Path
    mnt: Path


@pytest.fixture
def host(tmp_path: Path) -> Host:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text(HOST_MARKER + "\n")
    (outside / "dir" / "inner.txt").write_text(HOST_MARKER + " inner\n")
    mnt = tmp_path / "mnt"
    (mnt / "sub").mkdir(parents=True)
    (mnt / "a.txt").write_text("inside\n")
    (mnt / "abs").symlink_to(outside / "secret.txt")
    (mnt / "rel").symlink_to("../outside/secret.txt")
    (mnt / "absdir").symlink_to(outside)
    (mnt / "reldir").symlink_to("../outside")
    (mnt / "sub" / "up").symlink_to("../../outside")
    (mnt / "evil.tar").write_bytes(_tar(tmp_path))
    (mnt / "evil.zip").write_bytes(_zip())
    (mnt / "evil.patch").write_text(PATCH)
    (mnt / "link.patch").write_text(PATCH_LINK)
    return Host(tmp_path, outside, mnt)


@pytest.fixture(params=MODES)
def mounted(request: pytest.FixtureRequest, host: Host) -> Iterator[tuple[str, VM, Host]]:
    mode: str = request.param
    before_out = tree_digest(host.outside)
    before_mnt = tree_digest(host.mnt)
    with VM() as vm:
        vm.mount("/data", host=str(host.mnt), mode=mode)
        yield mode, vm, host
    # whatever the attack did, nothing outside the mount changed on the host
    assert tree_digest(host.outside) == before_out
    assert sorted(p.name for p in host.tmp.iterdir()) == ["mnt", "outside"]
    if mode != "rw":
        assert tree_digest(host.mnt) == before_mnt


ENOENT = "No such file or directory"
EROFS = "Read-only file system"


def run(vm: VM, script: str) -> tuple[int, str, str]:
    r = vm.exec(script, cwd="/data", timeout=20)
    assert_no_crash(r)
    assert HOST_MARKER not in text_of(r)
    return r.exit_code, r.stdout, r.stderr


# --- reading through symlinks that point outside ------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "abs",
        "rel",
        "absdir/secret.txt",
        "reldir/secret.txt",
        "sub/up/secret.txt",
        "sub/up/dir/inner.txt",
    ],
)
def test_cat_through_host_symlink_reads_nothing(mounted: tuple[str, VM, Host], path: str) -> None:
    _, vm, _ = mounted
    assert run(vm, f"cat /data/{path}") == (1, "", f"cat: /data/{path}: {ENOENT}\n")


def test_host_symlink_resolves_in_the_vm_namespace(mounted: tuple[str, VM, Host]) -> None:
    # a file the guest creates at the host path the link names is what the link reaches
    _, vm, host = mounted
    target = str(host.outside / "secret.txt")
    vm.write_file(target, b"vm copy\n", parents=True)
    assert run(vm, "cat /data/abs; cat /data/absdir/secret.txt") == (0, "vm copy\nvm copy\n", "")
    vm.write_file("/outside/secret.txt", b"vm relative\n", parents=True)
    assert run(vm, "cat /data/rel /data/sub/up/secret.txt") == (0, "vm relative\nvm relative\n", "")


def test_guest_symlink_to_etc_passwd_reads_the_vm_file(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, _ = mounted
    assert run(vm, "ln -s /etc/passwd /tmp/p && cat /tmp/p") == (0, VM_PASSWD, "")
    code, out, err = run(vm, "ln -s /etc/passwd /data/p; cat /data/p")
    if mode == "ro":
        assert (code, out, err) == (
            1,
            "",
            f"ln: failed to create symbolic link '/data/p': {EROFS}\ncat: /data/p: {ENOENT}\n",
        )
    else:
        assert (code, out, err) == (0, VM_PASSWD, "")


def test_grep_and_find_over_the_mount_leak_nothing(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, _ = run(
        vm,
        f"grep -r {HOST_MARKER} /data; find -L /data -type f -exec cat {{}} + "
        f">/dev/null; cat /data/* /data/*/* 2>&1 | grep -c {HOST_MARKER}",
    )
    assert out == "0\n"
    assert code == 1


# --- writing through symlinks -------------------------------------------------------------------


def test_redirect_and_tee_through_symlinks(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, _ = mounted
    code, out, err = run(
        vm,
        "echo pwn > /data/abs; echo pwn > /data/absdir/new; "
        "echo pwn | tee /data/rel /data/reldir/new2 /data/sub/up/new3",
    )
    assert (code, out) == (1, "pwn\n")
    assert err == (
        f"bash: line 1: /data/abs: {ENOENT}\n"
        f"bash: line 1: /data/absdir/new: {ENOENT}\n"
        f"tee: /data/rel: {ENOENT}\ntee: /data/reldir/new2: {ENOENT}\n"
        f"tee: /data/sub/up/new3: {ENOENT}\n"
    )


def test_cp_r_copies_links_as_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(
        vm, "cp -r /data /tmp/c && readlink /tmp/c/rel /tmp/c/sub/up && cat /tmp/c/rel"
    )
    assert (code, out, err) == (
        1,
        "../outside/secret.txt\n../../outside\n",
        f"cat: /tmp/c/rel: {ENOENT}\n",
    )


def test_cp_dereference_fails_on_outside_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(vm, "cp -L /data/abs /data/rel /tmp/; cp -rL /data/sub /tmp/s; ls -A /tmp")
    assert code == 0
    assert out == "s\n"
    assert err == (
        f"cp: cannot stat '/data/abs': {ENOENT}\n"
        f"cp: cannot stat '/data/rel': {ENOENT}\n"
        f"cp: cannot stat '/data/sub/up': {ENOENT}\n"
    )


def test_cp_and_mv_into_outside_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(
        vm,
        "cp /etc/hostname /data/absdir/h; cp /etc/hostname /data/sub/up/; "
        "mv /data/a.txt /data/reldir/; readlink /data/reldir; cat /data/a.txt",
    )
    assert (code, out) == (0, "../outside\ninside\n")
    assert err == (
        f"cp: cannot create regular file '/data/absdir/h': {ENOENT}\n"
        "cp: cannot create regular file '/data/sub/up/': Not a directory\n"
        "mv: cannot move '/data/a.txt' to '/data/reldir/': Not a directory\n"
    )


def test_dd_split_touch_through_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(
        vm,
        "dd if=/etc/hostname of=/data/abs status=none; "
        "split -b 2 /etc/hostname /data/absdir/x; "
        "touch /data/rel /data/reldir/t",
    )
    assert (code, out) == (1, "")
    assert err == (
        f"dd: failed to open '/data/abs': {ENOENT}\n"
        f"split: /data/absdir/xaa: {ENOENT}\n"
        f"touch: cannot touch '/data/rel': {ENOENT}\n"
        f"touch: cannot touch '/data/reldir/t': {ENOENT}\n"
    )


def test_sed_in_place_through_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    assert run(vm, "sed -i s/H/X/ /data/abs /data/sub/up/secret.txt") == (
        2,
        "",
        f"sed: can't read /data/abs: {ENOENT}\nsed: can't read /data/sub/up/secret.txt: {ENOENT}\n",
    )


def test_awk_redirection_through_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(vm, 'awk \'BEGIN { print "pwn" > "/data/absdir/w" }\'')
    assert (code, out) == (2, "")
    assert err == (f"awk: cmd. line:1: fatal: can't redirect to `/data/absdir/w' ({ENOENT})\n")


def test_sqlite_database_through_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    code, out, err = run(vm, "sqlite3 /data/absdir/db 'create table t(a)'")
    assert (code, out) == (1, "")
    assert err == f'Error: unable to write database "/data/absdir/db": {ENOENT}\n'


def test_chmod_recursive_does_not_follow(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, host = mounted
    code, out, err = run(vm, "chmod -R 700 /data; chmod 600 /data/abs")
    dangling = "chmod: cannot operate on dangling symlink '/data/abs'\n"
    if mode == "ro":
        assert err == f"chmod: changing permissions of '/data': {EROFS}\n" + dangling
    else:
        assert err == dangling
    assert (code, out) == (1, "")
    assert (host.outside / "secret.txt").stat().st_mode & 0o777 == 0o644


def test_find_delete_and_rm_rf_remove_links_not_targets(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, _ = mounted
    code, out, err = run(
        vm,
        "rm -rf /data/absdir/ /data/sub/up/ /data/reldir/*; "
        "find /data/sub -delete; find -L /data -name secret.txt -delete; "
        "ls /data",
    )
    if mode == "ro":
        assert (code, out.split()) == (
            0,
            [
                "a.txt",
                "abs",
                "absdir",
                "evil.patch",
                "evil.tar",
                "evil.zip",
                "link.patch",
                "rel",
                "reldir",
                "sub",
            ],
        )
        assert err == (
            f"rm: cannot remove '/data/absdir/': {EROFS}\n"
            f"rm: cannot remove '/data/sub/up/': {EROFS}\n"
            f"find: cannot delete '/data/sub/up': {EROFS}\n"
            f"find: cannot delete '/data/sub': {EROFS}\n"
        )
    else:
        assert (code, err) == (0, "")
        assert out.split() == [
            "a.txt",
            "abs",
            "evil.patch",
            "evil.tar",
            "evil.zip",
            "link.patch",
            "rel",
            "reldir",
        ]


def test_guest_symlink_out_then_write(mounted: tuple[str, VM, Host]) -> None:
    # a link the guest makes with the host's relative layout in mind lands in the VM
    mode, vm, host = mounted
    code, out, err = run(
        vm,
        "ln -s ../outside /data/esc; mkdir -p /outside; "
        "echo pwn > /data/esc/new && cat /outside/new",
    )
    if mode == "ro":
        assert (code, out) == (1, "")
        assert err == (
            f"ln: failed to create symbolic link '/data/esc': {EROFS}\n"
            f"bash: line 1: /data/esc/new: {ENOENT}\n"
        )
    else:
        assert (code, out, err) == (0, "pwn\n", "")
    assert not (host.outside / "new").exists()


# --- archives and patches with hostile names ----------------------------------------------------

TAR_HEAD = (
    "tar: Removing leading `../../' from member names\n"
    "tar: ../../tar-escape.txt: Member name contains '..'\n"
    "tar: Removing leading `/' from member names\n"
)
TAR_TAIL = "tar: Exiting with failure status due to previous errors\n"
MNT_FILES = [
    "a.txt",
    "abs",
    "absdir",
    "evil.patch",
    "evil.tar",
    "evil.zip",
    "link.patch",
    "rel",
    "reldir",
    "sub",
]


def test_tar_extract_with_dotdot_and_links(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, _ = mounted
    code, out, err = run(
        vm, "cd /data && tar xf evil.tar; echo $?; ls -A /data; ls -A / | grep -c tar-"
    )
    assert code == 1
    if mode == "ro":
        assert out.split() == ["2", *MNT_FILES, "0"]
        assert (
            err
            == TAR_HEAD
            + "".join(
                f"tar: {m}: Cannot {how}: {EROFS}\n"
                for m, how in [
                    ("tar-abs.txt", "open"),
                    ("tl", "open"),
                    ("tl/tar-pwn.txt", "mkdir"),
                    ("tr", "open"),
                    ("tr/tar-pwn2.txt", "mkdir"),
                ]
            )
            + TAR_TAIL
        )
    else:
        assert out.split() == ["2", *sorted(MNT_FILES + ["tar-abs.txt", "tl", "tr"]), "0"]
        assert (
            err
            == TAR_HEAD
            + "".join(
                f"tar: {m}: Cannot open: Not a directory (refusing to follow a symbolic link)\n"
                for m in ("tl/tar-pwn.txt", "tr/tar-pwn2.txt")
            )
            + TAR_TAIL
        )
        assert run(vm, "readlink /data/tr; cat /data/tar-abs.txt") == (
            0,
            "../outside\ntar abs\n",
            "",
        )


ZIP_WARN = (
    'warning:  skipped "../" path component(s) in ../../zip-escape.txt\n',
    "warning: stripped absolute path spec from /zip-abs.txt\n",
)


def test_unzip_with_dotdot_and_links(mounted: tuple[str, VM, Host]) -> None:
    mode, vm, _ = mounted
    code, out, err = run(
        vm, "cd /data && unzip -o -q evil.zip; echo $?; ls -A /data; ls -A / | grep -c zip-"
    )
    assert code == 1
    if mode == "ro":
        assert out.split() == ["2", *MNT_FILES, "0"]
        cannot = "error:  cannot create {}\n        Read-only file system\n"
        assert err == (
            ZIP_WARN[0]
            + cannot.format("zip-escape.txt")
            + ZIP_WARN[1]
            + cannot.format("zip-abs.txt")
            + cannot.format("zl")
            + cannot.format("zl/zip-pwn.txt")
        )
    else:
        # a symlink member is stored as a plain file, so nothing can be written through it
        assert out.split() == [
            "2",
            *sorted(MNT_FILES + ["zip-abs.txt", "zip-escape.txt", "zl"]),
            "0",
        ]
        assert err == (
            ZIP_WARN[0]
            + ZIP_WARN[1]
            + "error:  cannot create zl/zip-pwn.txt\n        File exists\n"
        )
        assert run(vm, "cat /data/zip-escape.txt /data/zip-abs.txt /data/zl") == (
            0,
            "zip escape\nzip abs\n../outside",
            "",
        )


def test_patch_with_dotdot_names_and_through_links(mounted: tuple[str, VM, Host]) -> None:
    _, vm, _ = mounted
    assert run(vm, "cd /data && patch -p1 < evil.patch; echo $?; patch < link.patch; echo $?") == (
        0,
        "can't find file to patch at input line 1\nNo such file: ../outside/secret.txt\n"
        "Skipping patch.\n1\ncan't find file to patch at input line 1\nNo such file: abs\n"
        "Skipping patch.\n1\n",
        "",
    )


# --- findings in the VFS (kernel) ---------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="VFS: stat(follow_symlinks=False) of 'link/' returns the "
    "link itself; a trailing slash must resolve the link (ENOENT when dangling)",
)
def test_trailing_slash_resolves_a_dangling_link() -> None:
    with VM() as vm:
        vm.symlink("../nope", "/tmp/rl")
        r = vm.exec("ls -d /tmp/rl/")
        assert (r.exit_code, r.stdout, r.stderr) == (
            2,
            "",
            f"ls: cannot access '/tmp/rl/': {ENOENT}\n",
        )


def test_rename_onto_link_with_trailing_slash_is_refused() -> None:
    with VM() as vm:
        vm.write_file("/tmp/a.txt", b"A\n")
        vm.symlink("/home", "/tmp/dl")
        with pytest.raises(NotADirectoryError):
            vm.kernel.vfs.rename("/tmp/a.txt", "/tmp/dl/")
        assert vm.readlink("/tmp/dl") == "/home"
