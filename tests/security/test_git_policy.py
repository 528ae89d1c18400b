"""git in the VM reaches files only through the kernel: the policy holds for it too."""

from __future__ import annotations

from pocketos import VM

IDENT = {
    "GIT_AUTHOR_NAME": "A",
    "GIT_AUTHOR_EMAIL": "a@example.com",
    "GIT_COMMITTER_NAME": "A",
    "GIT_COMMITTER_EMAIL": "a@example.com",
}


def test_git_cannot_read_a_denied_file_into_a_commit() -> None:
    vm = VM(
        policy={
            "fs": {
                "default": "allow",
                "rules": [{"mode": "deny", "paths": ["/w/secret/**"], "operations": ["read"]}],
            },
            "child_process": "allow",
            "env": "allow",
        },
        env=IDENT,
    )
    with vm:
        r = vm.exec(
            "mkdir -p /w/secret && printf 'TOPSECRET\\n' > /w/secret/key && printf 'ok\\n' > /w/a"
            "; echo $?"
        )
        assert r.stdout == "0\n", r.stderr
        r = vm.exec("git init -q && git add secret/key", cwd="/w")
        assert r.exit_code == 128
        assert "Permission denied" in r.stderr
        # adding the whole tree either fails or leaves the unreadable file out; never stages it
        vm.exec("git add .", cwd="/w")
        assert "secret" not in vm.exec("git ls-files", cwd="/w").stdout
        r = vm.exec("git add a && git commit -qm c && git ls-files", cwd="/w")
        assert r.stdout == "a\n"
        dump = vm.exec("git log -p --all", cwd="/w").stdout
        assert "TOPSECRET" not in dump


def test_git_cannot_write_where_the_policy_denies() -> None:
    vm = VM(
        policy={
            "fs": {
                "default": "allow",
                "rules": [
                    {
                        "mode": "deny",
                        "paths": ["/w/.git/refs/heads/master"],
                        "operations": ["write"],
                    }
                ],
            },
            "child_process": "allow",
            "env": "allow",
        },
        env=IDENT,
    )
    with vm:
        vm.exec("mkdir -p /w && printf 'ok\\n' > /w/a")
        r = vm.exec("git init -q; git add a; git commit -qm c; echo status=$?", cwd="/w")
        assert "status=128" in r.stdout
        assert "Permission denied" in r.stderr
        assert vm.exec("git rev-parse -q --verify HEAD", cwd="/w").exit_code == 1


def test_unsupported_subcommands_say_so() -> None:
    with VM() as vm:
        r = vm.exec("git rebase main; echo $?")
        assert r.stdout == "1\n"
        assert r.stderr == "git: 'rebase' is not supported in this VM\n"
        r = vm.exec("git add -p")
        assert "not supported in this VM" in r.stderr
        assert "Traceback" not in r.stderr


def test_git_work_is_bounded_by_the_exec_timeout() -> None:
    """An endless history walk (a guest-made commit cycle is impossible, so: a huge log piped
    into an endless reader) and big diffs stop at the timeout."""
    with VM(env=IDENT) as vm:
        r = vm.exec(
            "mkdir -p /w && cd /w && git init -q && seq 1 20000 > big && git add big && "
            "git commit -qm base && sed -i 's/5$/five/' big && git diff | wc -l"
        )
        assert r.exit_code == 0, r.stderr
        assert int(r.stdout) > 10000
        r = vm.exec("cd /w && while :; do git diff > /dev/null; git status -s; done", timeout=1)
        assert (r.exit_code, r.limit_hit) == (124, "timeout")


def test_undecodable_names_are_reported_not_internal_errors() -> None:
    with VM(env=IDENT) as vm:
        r = vm.exec("mkdir -p /w && cd /w && git init -q && git add $'\\xff'; echo $?")
        assert r.stdout == "128\n"
        assert "internal error" not in r.stderr
        assert "did not match any files" in r.stderr
        r = vm.exec("cd /w && git checkout $'\\xfe' ; git log $'\\xfd'; git branch $'\\xfc'")
        assert "internal error" not in r.stderr
