"""pocketos's git against the real git: the same scripts, the same output and repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.git.conftest import GIT, Guest, Host, repo_state

Q = ">/dev/null 2>&1"

SETUPS: dict[str, str] = {
    "empty": f"git init {Q}",
    "untracked": f"git init {Q}; mkdir -p src/lib docs; printf 'a\\n' > a.txt; "
    "printf 'x\\n' > src/lib/x.py; printf 'd\\n' > docs/d.md",
    "staged": f"git init {Q}; mkdir src; printf 'one\\ntwo\\n' > a.txt; printf 'b\\n' > src/b.c; "
    f"git add . {Q}",
    "one_commit": f"git init {Q}; printf 'hello\\nworld\\n' > a.txt; mkdir d; printf 'x\\n' > d/x; "
    f"git add . {Q}; git commit -m 'first commit' {Q}",
    "mixed": f"git init {Q}; for i in 1 2 3 4; do printf 'line %s\\n' $i $i $i > f$i; done; "
    f"git add . {Q}; git commit -m base {Q}; printf 'changed\\n' >> f1; printf 'staged\\n' >> f2; "
    f"git add f2 {Q}; rm f3; printf 'new\\n' > untracked.txt; git rm -q --cached f4 {Q}",
    "history": f"git init {Q}; for i in 1 2 3 4 5; do printf 'v%s\\n' $i >> log.txt; "
    f'printf \'%s\\n\' $i > n$i; git add . {Q}; git commit -m "change $i" -m "body of $i" {Q}; '
    "done",
    "ignore": f"git init {Q}; printf '*.log\\nbuild/\\n!keep.log\\n' > .gitignore; mkdir -p build src; "
    "printf 'x\\n' > a.log; printf 'k\\n' > keep.log; printf 'b\\n' > build/out; "
    f"printf 's\\n' > src/s.py; printf 'l\\n' > src/t.log; git add . {Q}",
    "branches": f"git init {Q}; printf 'base\\n' > f; git add f {Q}; git commit -m base {Q}; "
    f"git branch feature {Q}; git switch feature {Q}; printf 'feat\\n' >> f; "
    f"git commit -am 'feature work' {Q}; git switch master {Q}; printf 'm\\n' > g; git add g {Q}; "
    f"git commit -m 'master work' {Q}; git tag v1 {Q}; git tag -a v2 -m 'release two' {Q}",
    "moved": f"git init {Q}; mkdir a; printf '1\\n2\\n3\\n' > a/one; printf 'z\\n' > z; "
    f"git add . {Q}; git commit -m init {Q}; git mv a/one a/uno {Q}; git rm -q z {Q}",
    "modes": f"git init {Q}; printf '#!/bin/sh\\necho hi\\n' > run.sh; printf 'data\\n' > data; "
    f"git add . {Q}; git commit -m init {Q}; chmod +x run.sh; printf 'more\\n' >> data",
    "binary": f"git init {Q}; printf 'a\\0b' > bin; printf 'text\\n' > t; git add . {Q}; "
    f"git commit -m init {Q}; printf 'c\\0d' > bin",
    "nested_cwd": f"git init {Q}; mkdir -p sub/deep; printf 'r\\n' > root.txt; printf 's\\n' > sub/s; "
    f"git add . {Q}; git commit -m init {Q}; printf 'u\\n' > sub/deep/u; printf 't\\n' >> sub/s",
}

PROBES: list[str] = [
    "git status",
    "git status -s",
    "git status --short --branch",
    "git status --porcelain",
    "git status --porcelain=v2",
    "git status -uall -s",
    "git status -uno",
    "git diff",
    "git diff --cached",
    "git diff --stat",
    "git diff --cached --stat",
    "git diff --name-only",
    "git diff --name-status",
    "git diff --cached --name-status",
    "git diff --numstat",
    "git diff HEAD",
    "git diff --exit-code; echo $?",
    "git log",
    "git log --oneline",
    "git log --stat",
    "git log -p",
    "git log -n 2 --oneline",
    "git log --format='%H %an <%ae> %s'",
    "git log --pretty=format:'%h|%p|%t|%ad' ; echo",
    "git log --reverse --oneline",
    "git show",
    "git show --stat",
    "git show -s --format=%s%n%b",
    "git ls-files",
    "git ls-files -s",
    "git ls-files -o --exclude-standard",
    "git ls-files -m",
    "git rev-parse HEAD",
    "git rev-parse --abbrev-ref HEAD",
    "git rev-parse --show-toplevel",
    "git branch",
    "git branch -v",
    "git tag",
    "git diff HEAD~1 HEAD --stat",
    "git rev-parse HEAD~1 HEAD^ HEAD^{tree}",
    "git diff --color=always HEAD",
    "git diff --stat --color",
    "git log -p --color=always -n 2",
    "git log --oneline --color=always",
    "git show --color=never",
]

CWD_PROBES = [
    "git status",
    "git status -s",
    "git ls-files",
    "git rev-parse --show-prefix",
    "git rev-parse --show-cdup",
    "git diff --stat",
    "git log --oneline -- s",
    "git status --porcelain",
    "git ls-files -o",
]


def _cases() -> list[tuple[str, str]]:
    out = [(s, p) for s in SETUPS if s != "nested_cwd" for p in PROBES]
    out += [("nested_cwd", f"cd sub && {p}") for p in CWD_PROBES]
    return out


_cache: dict[str, tuple[Host, Guest]] = {}


@pytest.fixture(scope="module")
def setups(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if GIT is None:
        pytest.skip("the real git is not installed (apt install git)")
    yield _cache
    for _h, g in _cache.values():
        g.vm.close()
    _cache.clear()


def _prepared(name: str, factory: pytest.TempPathFactory) -> tuple[Host, Guest]:
    if name not in _cache:
        host, guest = Host(factory.mktemp(name)), Guest()
        h = host.run(SETUPS[name])
        g = guest.run(SETUPS[name])
        assert (g.status, g.stdout) == (h.status, h.stdout), g.stderr
        _cache[name] = (host, guest)
    return _cache[name]


@pytest.mark.parametrize(("setup", "probe"), _cases())
def test_probe_matches_real_git(
    setups: dict[str, tuple[Host, Guest]],
    tmp_path_factory: pytest.TempPathFactory,
    setup: str,
    probe: str,
) -> None:
    host, guest = _prepared(setup, tmp_path_factory)
    h = host.run(probe)
    g = guest.run(probe)
    assert (g.stdout, g.status) == (h.stdout, h.status), f"stderr: {g.stderr!r} vs {h.stderr!r}"


MERGE_BASE = (
    "git init -q; printf 'a\\nb\\nc\\nd\\ne\\n' > f; printf 'keep\\n' > k; git add .; "
    "git commit -qm base; git switch -q -c feat; "
)

STASH_BASE = (
    "git init -q; printf 'a\\nb\\n' > f; printf 'g\\n' > g; git add .; git commit -qm base; "
)

SCENARIOS: dict[str, str] = {
    "stash_push_pop": STASH_BASE + "printf 'c\\n' >> f; printf 'h\\n' >> g; git add g; "
    "git stash; git status -s; git stash list; cat f; git stash pop; cat f g",
    "stash_nothing": STASH_BASE + "git stash; echo $?; git stash list",
    "stash_message_and_show": STASH_BASE + "printf 'c\\n' >> f; git stash push -m 'my work'; "
    "git stash list; git stash show; git stash show -p",
    "stash_two_and_apply": STASH_BASE + "printf 'c\\n' >> f; git stash -q; printf 'x\\n' >> g; "
    "git stash -q; git stash list; git stash apply stash@{1}; git status -s; git stash list",
    "stash_drop_and_clear": STASH_BASE + "printf 'c\\n' >> f; git stash -q; printf 'x\\n' >> g; "
    "git stash -q; git stash drop; git stash list; git stash clear; git stash list; "
    "git stash pop; echo $?",
    "stash_new_file": STASH_BASE + "printf 'n\\n' > n; git add n; git stash -q; ls; git stash pop "
    "-q; git status -s",
    "stash_pop_conflict_kept": STASH_BASE + "printf 'c\\n' >> f; git stash -q; printf 'z\\n' >> f; "
    "git commit -qam other; git stash pop; echo $?; git stash list",
    "merge_fast_forward": MERGE_BASE + "printf 'new\\n' > n; git add n; git commit -qm feat; "
    "git switch -q master; git merge feat; git log --oneline; ls",
    "merge_up_to_date": MERGE_BASE + "git switch -q master; git merge feat",
    "merge_three_way_clean": MERGE_BASE + "sed -i 's/a/A/' f; git commit -qam feat; "
    "git switch -q master; sed -i 's/e/E/' f; git commit -qam mine; git merge feat; cat f; "
    "git log --format='%s %p' -n 1",
    "merge_conflict": MERGE_BASE + "sed -i 's/c/C1/' f; git commit -qam feat; "
    "git switch -q master; sed -i 's/c/C2/' f; git commit -qam mine; git merge feat; echo $?; "
    "cat f; git status; git status -s",
    "merge_conflict_resolved": MERGE_BASE + "sed -i 's/c/C1/' f; git commit -qam feat; "
    "git switch -q master; sed -i 's/c/C2/' f; git commit -qam mine; git merge feat; "
    "printf 'resolved\\n' > f; git add f; git status; git commit -q --no-edit; "
    "git log --format='%s' -n 1; git status -s",
    "merge_abort": MERGE_BASE + "sed -i 's/c/C1/' f; git commit -qam feat; git switch -q master; "
    "sed -i 's/c/C2/' f; git commit -qam mine; git merge feat; git merge --abort; cat f; "
    "git status -s",
    "merge_no_ff": MERGE_BASE + "printf 'x\\n' > x; git add x; git commit -qm feat; "
    "git switch -q master; git merge --no-ff feat; git log --format='%s' -n 1",
    "merge_ff_only_refused": MERGE_BASE + "printf 'x\\n' > x; git add x; git commit -qm feat; "
    "git switch -q master; printf 'y\\n' > y; git add y; git commit -qm mine; "
    "git merge --ff-only feat; echo $?",
    "merge_delete_and_add": MERGE_BASE + "git rm -q k; printf 'x\\n' > x; git add x; "
    "git commit -qm feat; git switch -q master; printf 'z\\n' >> f; git commit -qam mine; "
    "git merge feat; ls",
    "merge_bad_name": MERGE_BASE + "git merge nope; echo $?",
    "switch_with_conflicts_refused": MERGE_BASE + "sed -i 's/c/C1/' f; git commit -qam feat; "
    "git switch -q master; sed -i 's/c/C2/' f; git commit -qam mine; git merge -q feat; "
    "git switch feat; echo $?",
    "clone_local": "git init -q src; cd src; printf 1 > f; git add f; git commit -qm one; "
    "git branch side; cd ..; git clone -q src dst; cd dst; git log --oneline; git branch -a; "
    "git remote -v; cat f; git status",
    "remote_add_remove": "git init -q; git remote add up https://example.com/r.git; git remote; "
    "git remote -v; git remote get-url up; git remote add up x; echo $?; git remote remove up; "
    "git remote",
    "commit_amend": "git init -q; printf a > a; git add a; git commit -qm one; printf b > b; "
    "git add b; git commit --amend -m 'one, amended'",
    "commit_allow_empty": "git init -q; git commit --allow-empty -m empty; git log --oneline",
    "commit_nothing": "git init -q; printf a > a; git add a; git commit -qm one; git commit -m two",
    "commit_all": "git init -q; printf 'a\\n' > a; printf 'b\\n' > b; git add .; git commit -qm 1; "
    "printf 'x\\n' >> a; rm b; git commit -am two",
    "commit_multi_m": "git init -q; printf a > a; git add a; git commit -m subject -m 'para 1' "
    "-m 'para 2'; git log",
    "reset_soft": "git init -q; for i in 1 2 3; do printf $i > f$i; git add .; git commit -qm c$i; "
    "done; git reset --soft HEAD~2; git status -s",
    "reset_mixed": "git init -q; for i in 1 2; do printf $i > f$i; git add .; git commit -qm c$i; "
    "done; printf x >> f1; git add f1; git reset HEAD~1",
    "reset_hard": "git init -q; for i in 1 2; do printf $i > f$i; git add .; git commit -qm c$i; "
    "done; printf x >> f1; git reset --hard HEAD~1; ls",
    "reset_path": "git init -q; printf 1 > a; git add a; git commit -qm c; printf 2 > a; git add a; "
    "git reset -q -- a; git status -s",
    "restore_worktree": "git init -q; printf 'orig\\n' > a; git add a; git commit -qm c; "
    "printf 'bad\\n' > a; git restore a; cat a; git status -s",
    "restore_staged": "git init -q; printf 1 > a; git add a; git commit -qm c; printf 2 > a; "
    "git add a; git restore --staged a; git status -s; cat a",
    "restore_source": "git init -q; printf 1 > a; git add a; git commit -qm c1; printf 2 > a; "
    "git commit -qam c2; git restore --source HEAD~1 a; cat a; git status -s",
    "checkout_path": "git init -q; printf 1 > a; git add a; git commit -qm c; printf 2 > a; "
    "git checkout -- a; cat a",
    "checkout_branch": "git init -q; printf 1 > a; git add a; git commit -qm c; git checkout -q -b "
    "dev; printf 2 > b; git add b; git commit -qm d; git checkout -q master; ls; git branch",
    "checkout_detached": "git init -q; printf 1 > a; git add a; git commit -qm c1; printf 2 > a; "
    "git commit -qam c2; git checkout -q HEAD~1; cat a; git status | head -1; git branch",
    "switch_dirty_refused": "git init -q; printf 1 > a; git add a; git commit -qm c1; git branch "
    "other; printf 2 > a; git commit -qam c2; printf 3 > a; git switch other; echo $?; cat a",
    "switch_keeps_unrelated": "git init -q; printf 1 > a; printf 1 > b; git add .; git commit -qm c; "
    "git switch -q -c dev; printf 2 > a; git commit -qam d; git switch -q master; printf x > b; "
    "git switch -q dev; git status -s; cat a b",
    "branch_delete": "git init -q; printf 1 > a; git add a; git commit -qm c; git branch x; "
    "git branch -d x; git branch",
    "branch_delete_unmerged": "git init -q; printf 1 > a; git add a; git commit -qm c; "
    "git switch -q -c x; printf 2 > a; git commit -qam d; git switch -q master; git branch -d x; "
    "echo $?; git branch -D x",
    "branch_rename": "git init -q; printf 1 > a; git add a; git commit -qm c; git branch -m main; "
    "git branch; git rev-parse --abbrev-ref HEAD",
    "branch_exists": "git init -q; printf 1 > a; git add a; git commit -qm c; git branch x; "
    "git branch x; echo $?",
    "branch_bad_name": "git init -q; printf 1 > a; git add a; git commit -qm c; git branch 'a..b'; "
    "echo $?",
    "tag_delete": "git init -q; printf 1 > a; git add a; git commit -qm c; git tag t1; "
    "git tag -a t2 -m msg; git tag; git tag -d t1; git tag",
    "tag_show": "git init -q; printf 1 > a; git add a; git commit -qm c; git tag -a v1 -m 'first "
    "release'; git show v1",
    "rm_cached": "git init -q; printf 1 > a; git add a; git commit -qm c; git rm --cached a; "
    "git status -s; ls",
    "rm_recursive": "git init -q; mkdir d; printf 1 > d/a; printf 2 > d/b; git add .; "
    "git commit -qm c; git rm -r d; ls",
    "rm_needs_r": "git init -q; mkdir d; printf 1 > d/a; git add .; git commit -qm c; git rm d; "
    "echo $?",
    "rm_modified_refused": "git init -q; printf 1 > a; git add a; git commit -qm c; printf 2 > a; "
    "git rm a; echo $?",
    "mv_file": "git init -q; printf 1 > a; git add a; git commit -qm c; git mv a b; git status -s",
    "mv_into_dir": "git init -q; mkdir d; printf 1 > a; git add a; git commit -qm c; git mv a d; "
    "git status --porcelain",
    "add_update": "git init -q; printf 1 > a; git add a; git commit -qm c; printf 2 > a; "
    "printf n > new; git add -u; git status -s",
    "add_all_with_deletion": "git init -q; printf 1 > a; printf 2 > b; git add .; git commit -qm c; "
    "rm a; printf n > new; git add -A; git status -s",
    "add_ignored_refused": "git init -q; printf 'x.log\\n' > .gitignore; printf 1 > x.log; "
    "git add x.log; echo $?; git add -f x.log; git status -s",
    "add_missing": "git init -q; git add nope; echo $?",
    "add_glob": "git init -q; printf 1 > a.txt; printf 2 > b.md; mkdir d; printf 3 > d/c.txt; "
    "git add '*.txt'; git status -s",
    "add_dry_run": "git init -q; printf 1 > a; printf 2 > b; git add -n .; git status -s",
    "config_local": "git init -q; git config user.name 'Bob'; git config user.name; "
    "git config --get user.name; git config core.bare",
    "config_missing": "git init -q; git config no.such; echo $?",
    "config_global": "git config --global alias.st status; git config --global alias.st; "
    "git init -q; git config alias.st",
    "rev_parse_errors": "git init -q; printf 1 > a; git add a; git commit -qm c; "
    "git rev-parse --verify -q nope; echo $?; git rev-parse HEAD~5; echo $?",
    "not_a_repo": "git status; echo $?; git log; echo $?",
    "log_empty": "git init -q; git log; echo $?",
    "init_twice": "git init; git init",
    "init_branch": "git init -b trunk; git status",
    "init_dir": "git init sub; ls -a sub",
    "log_path": "git init -q; printf 1 > a; git add a; git commit -qm ca; printf 2 > b; git add b; "
    "git commit -qm cb; printf 3 >> a; git commit -qam ca2; git log --oneline -- a",
    "log_range": "git init -q; for i in 1 2 3 4; do printf $i > f; git add f; git commit -qm c$i; "
    "done; git log --oneline HEAD~3..HEAD~1",
    "diff_two_commits": "git init -q; printf 'a\\nb\\nc\\n' > f; git add f; git commit -qm 1; "
    "printf 'a\\nB\\nc\\nd\\n' > f; git commit -qam 2; git diff HEAD~1 HEAD; git diff HEAD~1..HEAD "
    "--stat",
    "diff_no_newline": "git init -q; printf 'a\\nb' > f; git add f; git commit -qm 1; "
    "printf 'a\\nc' > f; git diff",
    "diff_new_empty": "git init -q; printf 1 > a; git add a; git commit -qm 1; touch e; "
    "git add e; git diff --cached",
    "diff_deleted": "git init -q; printf 'x\\ny\\n' > a; git add a; git commit -qm 1; rm a; git diff",
    "diff_color_funcname": "git init -q; printf 'def f():\\n    a = 1\\n    b = 2\\n    c = 3\\n"
    "    d = 4\\n    e = 5\\n    return a\\n' > m.py; printf 'a\\nb' > n; git add .; "
    "git commit -qm 1; sed -i 's/e = 5/e = 6/' m.py; printf 'a\\nc' > n; printf '\\n' > z; "
    "git add z; git diff --color=always HEAD",
    "diff_funcname": "git init -q; printf 'def f():\\n    a = 1\\n    b = 2\\n    c = 3\\n    d = 4\\n"
    "    e = 5\\n    return a\\n' > m.py; git add m.py; git commit -qm 1; "
    "sed -i 's/e = 5/e = 6/' m.py; git diff",
    "diff_hunks": "git init -q; seq 1 40 > n; git add n; git commit -qm 1; "
    "sed -i -e 's/^5$/five/' -e 's/^30$/thirty/' n; git diff; git diff --stat",
    "symlink": "git init -q; printf t > target; ln -s target link; git add .; git commit -q -m "
    "links; git ls-files -s; git show --stat",
    "unknown_subcommand": "git frobnicate; echo $?",
    "status_after_commit_detached": "git init -q; printf 1 > a; git add a; git commit -qm c1; "
    "printf 2 > a; git commit -qam c2; git checkout -q HEAD~1; git status -s; git branch",
    "show_blob_and_tree": "git init -q; mkdir d; printf 'hi\\n' > d/a; git add .; git commit -qm c; "
    "git show HEAD:d/a; git show HEAD:d",
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_real_git(pair: tuple[Host, Guest], tmp_path: Path, name: str) -> None:
    host, guest = pair
    script = SCENARIOS[name]
    h = host.run(script)
    g = guest.run(script)
    assert (g.stdout, g.status) == (h.stdout, h.status), f"stderr: {g.stderr!r} vs {h.stderr!r}"
    exported = tmp_path / "exported"
    exported.mkdir()
    guest.export(exported)
    for sub in ("", "sub", "dst"):
        hp, gp = host.root / "w" / sub, exported / sub
        if (hp / ".git").is_dir():
            assert repo_state(gp, host.env) == repo_state(hp, host.env)


def test_repository_made_in_the_vm_passes_git_fsck(
    pair: tuple[Host, Guest], tmp_path: Path
) -> None:
    host, guest = pair
    script = SETUPS["branches"] + "; " + SETUPS["moved"].replace("git init", "git init -q sub")
    guest.run(SETUPS["branches"])
    out = tmp_path / "out"
    out.mkdir()
    guest.export(out)
    p = subprocess.run(["git", "fsck", "--strict"], cwd=out, env=host.env, capture_output=True)
    assert p.returncode == 0, p.stderr.decode()
    log = subprocess.run(
        ["git", "log", "--all", "--oneline"], cwd=out, env=host.env, capture_output=True
    )
    assert log.stdout.decode().count("\n") == 3
    _ = script
