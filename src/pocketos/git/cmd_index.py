"""``init``, ``add``, ``rm``, ``mv``, ``status`` and ``ls-files``: the index and the work tree."""

from __future__ import annotations

import fnmatch
import posixpath

from dulwich.index import IndexEntry

from pocketos.git.repo import GitError, Repo, init_repo
from pocketos.git.session import Git, UsageError, parse_options
from pocketos.git.worktree import (
    Ignore,
    State,
    blob_for,
    index_entry,
    read_state,
    remove_file,
)
from pocketos.kernel.budget import check_time

__all__ = ["cmd_init", "cmd_add", "cmd_rm", "cmd_mv", "cmd_status", "cmd_ls_files", "Pathspec"]


class Pathspec:
    """Paths and globs given on the command line, as repository paths."""

    def __init__(self, g: Git, args: list[str]) -> None:
        self.items: list[tuple[str, bool]] = []
        for a in args:
            glob = any(c in a for c in "*?[")
            if glob:
                pre = g.prefix()
                self.items.append(((pre + "/" if pre else "") + a, True))
            else:
                self.items.append((g.to_repo_path(a), False))
        self.args = args

    def __bool__(self) -> bool:
        return bool(self.items)

    def match(self, path: bytes | str) -> bool:
        p = path.decode() if isinstance(path, bytes) else path
        p = p.rstrip("/")
        for spec, glob in self.items:
            if glob:
                if fnmatch.fnmatchcase(p, spec):
                    return True
            elif spec == "" or p == spec or p.startswith(spec + "/"):
                return True
        return False

    def unmatched(self, paths: list[bytes]) -> list[str]:
        """The arguments that match none of ``paths``."""
        out = []
        for (spec, glob), arg in zip(self.items, self.args, strict=True):
            hit = any(
                (
                    fnmatch.fnmatchcase(p.decode(), spec)
                    if glob
                    else spec == "" or p.decode() == spec or p.decode().startswith(spec + "/")
                )
                for p in paths
            )
            if not hit:
                out.append(arg)
        return out


def cmd_init(g: Git, args: list[str]) -> int:
    bare = quiet = False
    branch: str | None = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--bare":
            bare = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-b", "--initial-branch"):
            branch = next(it, None)
            if branch is None:
                raise UsageError(f"option `{a.lstrip('-')}' requires a value")
        elif a.startswith("--initial-branch="):
            branch = a.split("=", 1)[1]
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    target = rest[0] if rest else "."
    if branch is None:
        v = g.config_get((b"init",), b"defaultBranch")
        branch = v.decode() if v else "master"
    full = g.fs.abspath(target)
    if not g.fs.isdir(full):
        g.fs.mkdir(full, parents=True)
    repo, existed = init_repo(g.fs, full, branch, bare)
    if not quiet:
        word = "Reinitialized existing" if existed else "Initialized empty"
        g.print(f"{word} Git repository in {repo.gitdir.rstrip('/')}/\n")
    return 0


def _iter_files(g: Git, repo: Repo, top_rel: str, ign: Ignore) -> list[bytes]:
    """Every non-ignored file under a repository path."""
    assert repo.worktree is not None
    out: list[bytes] = []
    base = posixpath.join(repo.worktree, top_rel) if top_rel else repo.worktree
    if not g.fs.isdir(base) or g.fs.islink(base):
        return [top_rel.encode()] if g.fs.lexists(base) else []
    for dirpath, dirs, files in g.fs.walk(base):
        rel_dir = dirpath[len(repo.worktree) :].strip("/")
        keep = []
        for d in dirs:
            r = f"{rel_dir}/{d}" if rel_dir else d
            if (not rel_dir and d == ".git") or ign.ignored(r, True):
                continue
            keep.append(d)
        dirs[:] = keep
        for f in files:
            r = f"{rel_dir}/{f}" if rel_dir else f
            if not ign.ignored(r, False):
                out.append(r.encode())
    return out


def stage_path(repo: Repo, index: dict, path: bytes) -> None:  # type: ignore[type-arg]
    mode, blob = blob_for(repo, path)
    repo.store.add_object(blob)
    index[path] = index_entry(repo, path, blob.id, mode)


_ADD_FLAGS = {
    "-A": "all",
    "--all": "all",
    "-u": "update",
    "--update": "update",
    "-f": "force",
    "--force": "force",
    "-n": "dry",
    "--dry-run": "dry",
    "-v": "verbose",
    "--verbose": "verbose",
}


def cmd_add(g: Git, args: list[str]) -> int:
    for a in args:
        if a in ("-p", "--patch", "-i", "--interactive"):
            raise GitError(f"'git add {a}' is not supported in this VM", 129)
    opts, paths = parse_options(args, _ADD_FLAGS)
    all_, update, force = bool(opts.get("all")), bool(opts.get("update")), bool(opts.get("force"))
    dry, verbose = bool(opts.get("dry")), bool(opts.get("verbose"))
    repo = g.work_repo()
    if not paths and not (all_ or update):
        g.warn(
            "Nothing specified, nothing added.\nhint: Maybe you wanted to say 'git add .'?\n"
            'hint: Disable this message with "git config set advice.addEmptyPathspec false"\n'
        )
        return 0
    spec = Pathspec(g, paths or ["."] if (all_ or update) and not paths else paths)
    if (all_ or update) and not paths:
        spec = Pathspec(g, [])
        spec.items = [("", False)]
        spec.args = ["."]
    index = repo.index()
    ign = Ignore(repo)
    candidates: list[bytes] = []
    if not update:
        for spec_path, glob in spec.items:
            if glob:
                candidates += [p for p in _iter_files(g, repo, "", ign) if spec.match(p)]
            else:
                full = posixpath.join(repo.worktree or "/", spec_path)
                if (
                    spec_path
                    and not force
                    and g.fs.lexists(full)
                    and spec_path.encode() not in index
                    and ign.ignored(spec_path, g.fs.isdir(full))
                ):
                    g.warn(
                        "The following paths are ignored by one of your .gitignore files:\n"
                        f"{g.rel(spec_path)}\nhint: Use -f if you really want to add them.\n"
                        'hint: Disable this message with "git config set advice.addIgnoredFile '
                        'false"\n'
                    )
                    return 1
                if force and g.fs.lexists(full) and not g.fs.isdir(full):
                    candidates.append(spec_path.encode())
                else:
                    candidates += _iter_files(g, repo, spec_path, ign)
    tracked = [p for p in index if spec.match(p)]
    missing = spec.unmatched(candidates + tracked) if not update else []
    if missing:
        raise GitError(f"pathspec '{missing[0]}' did not match any files")
    changed: list[tuple[str, bytes]] = []
    for p in sorted(set(candidates) | set(tracked)):
        check_time()
        full = posixpath.join(repo.worktree or "/", p.decode())
        if not g.fs.lexists(full) or g.fs.isdir(full) and not g.fs.islink(full):
            if p in index:
                changed.append(("remove", p))
                if not dry:
                    del index[p]
            continue
        if update and p not in index:
            continue
        mode, blob = blob_for(repo, p)
        e = index.get(p)
        if isinstance(e, IndexEntry) and e.sha == blob.id and e.mode == mode:
            if not dry:
                index[p] = index_entry(repo, p, blob.id, mode)
            continue
        changed.append(("add", p))
        if not dry:
            repo.store.add_object(blob)
            index[p] = index_entry(repo, p, blob.id, mode)
    if dry or verbose:
        for what, p in changed:
            g.print(f"{what} '{g.rel(p)}'\n")
    if not dry:
        repo.write_index(index)
    return 0


def cmd_rm(g: Git, args: list[str]) -> int:
    opts, paths = parse_options(
        args,
        {
            "--cached": "cached",
            "-r": "recursive",
            "-f": "force",
            "--force": "force",
            "-q": "quiet",
            "--quiet": "quiet",
        },
    )
    cached, recursive = bool(opts.get("cached")), bool(opts.get("recursive"))
    force, quiet = bool(opts.get("force")), bool(opts.get("quiet"))
    if not paths:
        raise GitError("No pathspec was given. Which files should I remove?")
    repo = g.work_repo()
    index = repo.index()
    spec = Pathspec(g, paths)
    hits = [p for p in index if spec.match(p)]
    missing = spec.unmatched(hits)
    if missing:
        raise GitError(f"pathspec '{missing[0]}' did not match any files")
    for (sp, glob), arg in zip(spec.items, spec.args, strict=True):
        if not glob and not recursive and sp.encode() not in index:
            raise GitError(f"not removing '{arg}' recursively without -r")
    if not force:
        state = read_state(repo, untracked="no")
        for p in hits:
            staged = p in state.staged and state.staged[p] != "D"
            unstaged = p in state.unstaged and state.unstaged[p] != "D"
            if staged and unstaged or (staged and not cached and state.head.get(p) is not None):
                g.warn(
                    "error: the following file has staged content different from both the\n"
                    f"file and the HEAD:\n    {g.rel(p)}\n(use -f to force removal)\n"
                )
                return 1
            if staged and not cached:
                g.warn(
                    "error: the following file has changes staged in the index:\n"
                    f"    {g.rel(p)}\n(use --cached to keep the file, or -f to force removal)\n"
                )
                return 1
            if unstaged and not cached:
                g.warn(
                    "error: the following file has local modifications:\n"
                    f"    {g.rel(p)}\n(use --cached to keep the file, or -f to force removal)\n"
                )
                return 1
    for p in sorted(hits):
        if not quiet:
            g.print(f"rm '{p.decode()}'\n")
        del index[p]
        if not cached:
            remove_file(repo, p)
    repo.write_index(index)
    return 0


def cmd_mv(g: Git, args: list[str]) -> int:
    force = False
    paths = []
    for a in args:
        if a in ("-f", "--force"):
            force = True
        elif a.startswith("-") and a != "--":
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        elif a != "--":
            paths.append(a)
    if len(paths) < 2:
        raise UsageError("usage: git mv [<options>] <source>... <destination>")
    repo = g.work_repo()
    index = repo.index()
    *srcs, dst = paths
    dst_rel = g.to_repo_path(dst)
    dst_full = posixpath.join(repo.worktree or "/", dst_rel)
    into_dir = g.fs.isdir(dst_full)
    if len(srcs) > 1 and not into_dir:
        raise GitError(f"destination '{dst}' is not a directory")
    for s in srcs:
        src_rel = g.to_repo_path(s)
        target = posixpath.join(dst_rel, posixpath.basename(src_rel)) if into_dir else dst_rel
        moved = {
            p: p for p in index if p.decode() == src_rel or p.decode().startswith(src_rel + "/")
        }
        if not moved:
            if not g.fs.lexists(posixpath.join(repo.worktree or "/", src_rel)):
                raise GitError(f"bad source, source={s}, destination={dst}")
            raise GitError(f"not under version control, source={s}, destination={dst}")
        tfull = posixpath.join(repo.worktree or "/", target)
        if g.fs.lexists(tfull) and not force:
            raise GitError(f"destination exists, source={s}, destination={dst}")
        g.fs.rename(posixpath.join(repo.worktree or "/", src_rel), tfull)
        for p in moved:
            e = index.pop(p)
            newp = (target + p.decode()[len(src_rel) :]).encode()
            if isinstance(e, IndexEntry):
                index[newp] = index_entry(repo, newp, e.sha, e.mode)
    repo.write_index(index)
    return 0


# --- status ----------------------------------------------------------------------------------
_LABEL = {"A": "new file", "M": "modified", "D": "deleted", "R": "renamed", "T": "typechange"}


def _branch_line(g: Git, repo: Repo) -> str:
    target = repo.head_target()
    if target and target.startswith("refs/heads/"):
        return f"On branch {target[11:]}\n"
    head = repo.head()
    return f"HEAD detached at {head.decode()[:7] if head else '?'}\n"


def _short_code(state: State, p: bytes) -> str:
    x = state.staged.get(p, " ")
    y = state.unstaged.get(p, " ")
    return x + y


def cmd_status(g: Git, args: list[str]) -> int:
    fmt = "long"
    untracked = "normal"
    branch = False
    ignored = False
    paths: list[str] = []
    for a in args:
        if a in ("-s", "--short"):
            fmt = "short"
        elif a in ("--porcelain", "--porcelain=v1", "--porcelain=1"):
            fmt = "porcelain"
        elif a in ("--porcelain=v2", "--porcelain=2"):
            fmt = "v2"
        elif a in ("--long",):
            fmt = "long"
        elif a in ("-b", "--branch"):
            branch = True
        elif a in ("--ignored",):
            ignored = True
        elif a.startswith("-u") or a.startswith("--untracked-files"):
            v = a.split("=", 1)[1] if "=" in a else a[2:] if a.startswith("-u") else "all"
            untracked = {"": "all", "no": "no", "normal": "normal", "all": "all"}.get(v, "bad")
            if untracked == "bad":
                raise GitError(f"Invalid untracked files mode '{v}'")
        elif a == "--":
            continue
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            paths.append(a)
    repo = g.work_repo()
    state = read_state(repo, untracked, ignored)
    spec = Pathspec(g, paths) if paths else None

    def keep(p: bytes) -> bool:
        return spec is None or spec.match(p)

    changed = sorted(p for p in set(state.staged) | set(state.unstaged) if keep(p))
    changed += [p for p in state.conflicts if keep(p) and p not in changed]
    untr = [p for p in state.untracked if keep(p)]
    if fmt in ("short", "porcelain"):
        rel = g.rel if fmt == "short" else (lambda p: p.decode() if isinstance(p, bytes) else p)
        if branch:
            g.print("## " + _short_branch(repo) + "\n")
        for p in sorted(changed):
            if p in state.conflicts:
                g.print(f"UU {rel(p)}\n")
            elif p in state.renames:
                g.print(f"{_short_code(state, p)} {rel(state.renames[p])} -> {rel(p)}\n")
            else:
                g.print(f"{_short_code(state, p)} {rel(p)}\n")
        for p in untr:
            g.print(f"?? {rel(p)}\n")
        for p in state.ignored if ignored else []:
            g.print(f"!! {rel(p)}\n")
        return 0
    if fmt == "v2":
        return _status_v2(g, repo, state, changed, untr, branch)
    return _status_long(g, repo, state, changed, untr, untracked != "no")


def _short_branch(repo: Repo) -> str:
    target = repo.head_target()
    if target is None:
        return "HEAD (no branch)"
    name = target[11:]
    if repo.head() is None:
        return f"No commits yet on {name}"
    t = tracking(repo)
    if t is None:
        return name
    up, ahead, behind = t
    parts = ([f"ahead {ahead}"] if ahead else []) + ([f"behind {behind}"] if behind else [])
    return f"{name}...{up}" + (f" [{', '.join(parts)}]" if parts else "")


def _status_v2(
    g: Git, repo: Repo, state: State, changed: list[bytes], untr: list[bytes], branch: bool
) -> int:
    if branch:
        head = repo.head()
        g.print(f"# branch.oid {head.decode() if head else '(initial)'}\n")
        target = repo.head_target()
        g.print(f"# branch.head {target[11:] if target else '(detached)'}\n")
    for p in changed:
        x = state.staged.get(p, ".")
        y = state.unstaged.get(p, ".")
        h = state.head.get(state.renames.get(p, p))
        e = state.index.get(p)
        mh = f"{h[0]:06o}" if h else "000000"
        hh = h[1].decode() if h else "0" * 40
        mi = f"{e.mode:06o}" if isinstance(e, IndexEntry) else "000000"
        hi = e.sha.decode() if isinstance(e, IndexEntry) else "0" * 40
        wm = state.worktree_modes.get(p, 0)
        mw = f"{wm:06o}" if wm else "000000"
        if p in state.renames:
            g.print(
                f"2 {x}{y} N... {mh} {mi} {mw} {hh} {hi} R100 {p.decode()}\t"
                f"{state.renames[p].decode()}\n"
            )
        else:
            g.print(f"1 {x}{y} N... {mh} {mi} {mw} {hh} {hi} {p.decode()}\n")
    for p in untr:
        g.print(f"? {p.decode()}\n")
    return 0


def tracking(repo: Repo) -> tuple[str, int, int] | None:
    """The upstream of the current branch and how many commits each side has that the other
    lacks: (``origin/main``, ahead, behind)."""
    target = repo.head_target()
    head = repo.head()
    if target is None or head is None or not target.startswith("refs/heads/"):
        return None
    branch = target[11:].encode()
    try:
        remote = repo.config().get((b"branch", branch), b"remote").decode()
        merge = repo.config().get((b"branch", branch), b"merge").decode()
    except KeyError:
        return None
    name = f"{remote}/{merge.removeprefix('refs/heads/')}"
    up = repo.resolve_ref(f"refs/remotes/{name}")
    if up is None:
        return None

    def ancestors(s: bytes) -> set[bytes]:
        seen: set[bytes] = set()
        stack = [s]
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(repo.commit(c).parents)
        return seen

    mine, theirs = ancestors(head), ancestors(up)
    return name, len(mine - theirs), len(theirs - mine)


def _tracking_text(repo: Repo) -> str:
    t = tracking(repo)
    if t is None:
        return ""
    name, ahead, behind = t
    if ahead and behind:
        return (
            f"Your branch and '{name}' have diverged,\n"
            f"and have {ahead} and {behind} different commits each, respectively.\n"
            '  (use "git pull" to merge the remote branch into yours)\n\n'
        )
    if ahead:
        s = "s" if ahead > 1 else ""
        return (
            f"Your branch is ahead of '{name}' by {ahead} commit{s}.\n"
            '  (use "git push" to publish your local commits)\n\n'
        )
    if behind:
        s = "s" if behind > 1 else ""
        return (
            f"Your branch is behind '{name}' by {behind} commit{s}, and can be fast-forwarded.\n"
            '  (use "git pull" to update your local branch)\n\n'
        )
    return f"Your branch is up to date with '{name}'.\n\n"


def _status_long(
    g: Git, repo: Repo, state: State, changed: list[bytes], untr: list[bytes], shown: bool
) -> int:
    g.print(_branch_line(g, repo))
    g.print(_tracking_text(repo))
    initial = repo.head() is None
    if initial:
        g.print("\nNo commits yet\n\n")
    staged = [p for p in changed if p in state.staged]
    unstaged = [p for p in changed if p in state.unstaged]
    if repo.read("MERGE_HEAD") and state.conflicts:
        g.print(
            "You have unmerged paths.\n"
            '  (fix conflicts and run "git commit")\n'
            '  (use "git merge --abort" to abort the merge)\n\n'
        )
    elif repo.read("MERGE_HEAD"):
        g.print(
            "All conflicts fixed but you are still merging.\n"
            '  (use "git commit" to conclude merge)\n\n'
        )
    if state.conflicts:
        g.print("Unmerged paths:\n")
        if not repo.read("MERGE_HEAD"):
            g.print('  (use "git restore --staged <file>..." to unstage)\n')
        g.print('  (use "git add <file>..." to mark resolution)\n')
        for p in state.conflicts:
            g.print(f"\tboth modified:   {g.rel(p)}\n")
        g.print("\n")
    if staged:
        hint = "git rm --cached <file>..." if initial else "git restore --staged <file>..."
        g.print("Changes to be committed:\n")
        if not repo.read("MERGE_HEAD"):
            g.print(f'  (use "{hint}" to unstage)\n')
        for p in staged:
            code = state.staged[p]
            label = (_LABEL[code] + ":").ljust(12)
            if code == "R":
                g.print(f"\t{label}{g.rel(state.renames[p])} -> {g.rel(p)}\n")
            else:
                g.print(f"\t{label}{g.rel(p)}\n")
        g.print("\n")
    if unstaged:
        verb = "git add/rm" if any(state.unstaged[p] == "D" for p in unstaged) else "git add"
        g.print(
            "Changes not staged for commit:\n"
            f'  (use "{verb} <file>..." to update what will be committed)\n'
            '  (use "git restore <file>..." to discard changes in working directory)\n'
        )
        for p in unstaged:
            label = (_LABEL[state.unstaged[p]] + ":").ljust(12)
            g.print(f"\t{label}{g.rel(p)}\n")
        g.print("\n")
    if untr:
        g.print(
            'Untracked files:\n  (use "git add <file>..." to include in what will be committed)\n'
        )
        for p in untr:
            g.print(f"\t{g.rel(p)}\n")
        g.print("\n")
    elif not shown and staged:
        g.print("Untracked files not listed (use -u option to show untracked files)\n")
    if staged:
        return 0
    if unstaged or state.conflicts:
        g.print('no changes added to commit (use "git add" and/or "git commit -a")\n')
    elif untr:
        g.print('nothing added to commit but untracked files present (use "git add" to track)\n')
    elif initial:
        g.print('nothing to commit (create/copy files and use "git add" to track)\n')
    elif not shown:
        g.print("nothing to commit (use -u to show untracked files)\n")
    else:
        g.print("nothing to commit, working tree clean\n")
    return 0


def cmd_ls_files(g: Git, args: list[str]) -> int:
    opts, paths = parse_options(
        args,
        {
            "-s": "stage",
            "--stage": "stage",
            "-o": "others",
            "--others": "others",
            "-m": "modified",
            "--modified": "modified",
            "-d": "deleted",
            "--deleted": "deleted",
            "--exclude-standard": "exclude_std",
        },
        ignored=("-c", "--cached"),
    )
    stage, others = bool(opts.get("stage")), bool(opts.get("others"))
    modified, deleted = bool(opts.get("modified")), bool(opts.get("deleted"))
    exclude_std = bool(opts.get("exclude_std"))
    repo = g.work_repo()
    spec = Pathspec(g, paths) if paths else None
    pre = g.prefix()
    index = repo.index()

    def visible(p: bytes) -> bool:
        s = p.decode()
        if spec is not None and not spec.match(p):
            return False
        return not pre or s.startswith(pre + "/")

    if others:
        state = read_state(repo, untracked="all")
        names = state.untracked
        if not exclude_std:
            names = sorted(set(names) | set(_all_ignored(g, repo, index)))
        for p in names:
            if visible(p):
                g.print(g.rel(p) + "\n")
        return 0
    if modified or deleted:
        state = read_state(repo, untracked="no")
        for p in sorted(state.unstaged):
            if not visible(p):
                continue
            if deleted and state.unstaged[p] == "D" or modified:
                g.print(g.rel(p) + "\n")
        return 0
    for p, e in sorted(index.items()):
        if not visible(p):
            continue
        if stage and isinstance(e, IndexEntry):
            g.print(f"{e.mode:06o} {e.sha.decode()} 0\t{g.rel(p)}\n")
        else:
            g.print(g.rel(p) + "\n")
    return 0


def _all_ignored(g: Git, repo: Repo, index: dict) -> list[bytes]:  # type: ignore[type-arg]
    """Untracked files that ignore rules hide (``ls-files -o`` without --exclude-standard)."""
    out = []
    assert repo.worktree is not None
    for dirpath, dirs, files in g.fs.walk(repo.worktree):
        rel_dir = dirpath[len(repo.worktree) :].strip("/")
        if not rel_dir:
            dirs[:] = [d for d in dirs if d != ".git"]
        for f in files:
            r = (f"{rel_dir}/{f}" if rel_dir else f).encode()
            if r not in index:
                out.append(r)
    return out
