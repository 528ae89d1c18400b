"""A deny rule on ``/secret/**`` holds through every command that could read the files:
each attempt fails with "Permission denied" (or, where GNU tools stay silent on unreadable
input, with nothing at all), and the secret never appears in stdout or stderr."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketos import VM
from tests.security._util import SECRET_MARKER, assert_no_crash, text_of

POLICY = {
    "fs": {"default": "allow", "rules": [{"mode": "deny", "paths": ["/secret/**"]}]},
    "child_process": "allow",
    "env": "allow",
}


def denied(path: str, op: str = "stat") -> str:
    return f"Permission denied: fs.{op} on {path}"


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    # the files are written before the policy applies: a fork carries them over
    with VM() as setup:
        setup.write_file("/secret/x", f"{SECRET_MARKER}\n", parents=True)
        setup.write_file("/secret/sub/y.json", f'{{"k": "{SECRET_MARKER}"}}\n', parents=True)
        setup.write_file("/secret/run.sh", f"echo {SECRET_MARKER}\n")
        setup.write_file("/work/ok.txt", b"visible\n", parents=True)
        with setup.fork(policy=POLICY) as v:
            yield v


CASES: list[tuple[str, int, str, str]] = [
    ("cat /secret/x", 1, "", f"cat: /secret/x: {denied('/secret/x')}\n"),
    ("cp /secret/x /tmp/y", 1, "", f"cp: cannot stat '/secret/x': {denied('/secret/x')}\n"),
    ("cp -r /secret /tmp/s", 1, "", f"cp: cannot stat '/secret': {denied('/secret')}\n"),
    (
        "tar cf /tmp/t.tar /secret",
        2,
        "",
        "tar: Removing leading `/' from member names\n"
        f"tar: /secret: Cannot stat: {denied('/secret')}\n"
        "tar: Exiting with failure status due to previous errors\n",
    ),
    ("sort /secret/x", 2, "", f"sort: cannot read: /secret/x: {denied('/secret/x')}\n"),
    ("base64 /secret/x", 1, "", f"base64: /secret/x: {denied('/secret/x')}\n"),
    ("sha256sum /secret/x", 1, "", f"sha256sum: /secret/x: {denied('/secret/x')}\n"),
    (
        "md5sum /secret/sub/y.json",
        1,
        "",
        f"md5sum: /secret/sub/y.json: {denied('/secret/sub/y.json')}\n",
    ),
    (
        "head -c 5 /secret/x",
        1,
        "",
        f"head: cannot open '/secret/x' for reading: {denied('/secret/x')}\n",
    ),
    ("ls /secret", 2, "", f"ls: cannot access '/secret': {denied('/secret')}\n"),
    ("stat /secret/x", 1, "", f"stat: cannot stat '/secret/x': {denied('/secret/x')}\n"),
    ("ln -s /secret/x /tmp/l1; cat /tmp/l1", 1, "", f"cat: /tmp/l1: {denied('/secret/x')}\n"),
    ("ln -s /secret /tmp/l2; cat /tmp/l2/x", 1, "", f"cat: /tmp/l2/x: {denied('/secret/x')}\n"),
    ("cd /tmp && ln -s ../secret/x l3 && wc -c l3", 1, "", f"wc: l3: {denied('/secret/x')}\n"),
    ("ln /secret/x /tmp/hard", 1, "", f"ln: failed to access '/secret/x': {denied('/secret/x')}\n"),
    ("mv /secret/x /tmp/", 1, "", f"mv: cannot stat '/secret/x': {denied('/secret/x')}\n"),
    (
        "jq -n --rawfile a /secret/x '$a'",
        2,
        "",
        f"jq: error: Could not open /secret/x: {denied('/secret/x', 'read')}\n",
    ),
    (
        "jq . /secret/sub/y.json",
        2,
        "",
        f"jq: error: Could not open /secret/sub/y.json: {denied('/secret/sub/y.json', 'read')}\n",
    ),
    ("source /secret/run.sh", 1, "", "bash: line 1: /secret/run.sh: Permission denied\n"),
    ("cat < /secret/x", 1, "", "bash: line 1: /secret/x: Permission denied\n"),
    ("sqlite3 :memory: '.read /secret/x'", 1, "", 'Error: cannot open "/secret/x"\n'),
    (
        "zip -r /tmp/z.zip /secret",
        12,
        "",
        "\tzip warning: name not matched: /secret\n\nzip error: Nothing to do! (/tmp/z.zip)\n",
    ),
    (
        "find / -path /proc -prune -o -name x -exec cat {} \\;",
        1,
        "",
        f"find: '/secret': {denied('/secret')}\n",
    ),
    # GNU awk and sed stay silent when a getline/r file cannot be read: no data, no message
    ("awk 'BEGIN { r = (getline l < \"/secret/x\"); print r, l }'", 0, "-1 \n", ""),
    ("echo a | sed 'r /secret/x'", 0, "a\n", ""),
    ("echo /secret/*", 0, "/secret/*\n", ""),
]


@pytest.mark.parametrize(
    ("script", "status", "stdout", "stderr"), CASES, ids=[c[0][:40] for c in CASES]
)
def test_reading_the_secret_is_denied(
    vm: VM, script: str, status: int, stdout: str, stderr: str
) -> None:
    r = vm.exec(script, cwd="/work")
    assert SECRET_MARKER not in text_of(r)
    assert (r.exit_code, r.stdout, r.stderr) == (status, stdout, stderr)


def test_bash_on_an_unreadable_script(vm: VM) -> None:
    r = vm.exec("bash /secret/run.sh")
    assert SECRET_MARKER not in text_of(r)
    assert (r.exit_code, r.stdout, r.stderr) == (
        126,
        "",
        "bash: /secret/run.sh: Permission denied\n",
    )


def test_diff_reports_permission_denied(vm: VM) -> None:
    r = vm.exec("diff /secret/x /work/ok.txt")
    assert SECRET_MARKER not in text_of(r)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", f"diff: /secret/x: {denied('/secret/x')}\n")


def test_grep_r_from_the_root_completes_without_leaking(vm: VM) -> None:
    r = vm.exec(f"grep -r {SECRET_MARKER} /; echo $?; grep -rl visible / 2>/dev/null")
    assert SECRET_MARKER not in r.stdout
    assert (r.stdout, r.stderr) == ("2\n/work/ok.txt\n", f"grep: /secret: {denied('/secret')}\n")


def test_writes_and_deletes_under_the_denied_tree_are_refused(vm: VM) -> None:
    r = vm.exec(
        "echo pwn > /secret/x; rm -rf /secret; touch /secret/new; "
        "mkdir /secret/d; chmod 777 /secret/x; ls -d /secret"
    )
    assert_no_crash(r)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "bash: line 1: /secret/x: Permission denied\n"
        f"rm: cannot remove '/secret': {denied('/secret')}\n"
        f"touch: cannot touch '/secret/new': {denied('/secret/new', 'write')}\n"
        "mkdir: cannot create directory '/secret/d': "
        f"{denied('/secret/d', 'create_dir')}\n"
        f"chmod: cannot access '/secret/x': {denied('/secret/x')}\n"
        f"ls: cannot access '/secret': {denied('/secret')}\n"
    )


def test_a_broad_script_never_prints_the_secret(vm: VM) -> None:
    r = vm.exec(
        'for f in /secret/* /secret/x /secret/sub/y.json; do cat "$f"; '
        'od -c "$f"; xxd "$f"; strings "$f"; done; tar czf - / | tar tzf - '
        "| grep secret; find / -type f 2>&1 | xargs cat 2>&1 | grep -c POLICY; "
        "du -a / | grep secret; tree /secret",
        timeout=30,
    )
    assert_no_crash(r)
    assert SECRET_MARKER not in text_of(r)


def test_denials_are_audited(vm: VM) -> None:
    before = len(vm.audit_log())
    vm.exec("cat /secret/x")
    events = vm.audit_log()[before:]
    assert [(e.capability, e.resource, e.decision) for e in events if e.decision == "deny"] == [
        ("fs.stat", "/secret/x", "deny")
    ]
