"""``commit``, ``config`` and ``rev-parse``."""

from __future__ import annotations

from io import BytesIO

from dulwich.config import ConfigFile
from dulwich.objects import Commit

from pocketos.git.format import FileDiff, format_stat, format_summary, line_counts, short
from pocketos.git.repo import GitError, Repo
from pocketos.git.revs import lookup_ref, resolve, resolve_commit
from pocketos.git.session import Git, UsageError
from pocketos.git.worktree import build_tree, flatten, read_state

EMPTY_TREE = b"4b825dc642cb6eb9a060e54bf8d69288fbee4904"

__all__ = ["cmd_commit", "cmd_config", "cmd_rev_parse", "tree_diffs", "make_commit"]


def tree_diffs(repo: Repo, old: bytes | None, new: bytes | None) -> list[FileDiff]:
    """Per-path differences between two trees (exact renames paired)."""
    a = flatten(repo, old)
    b = flatten(repo, new)
    return flat_diffs(repo, a, b)


def flat_diffs(
    repo: Repo,
    a: dict[bytes, tuple[int, bytes]],
    b: dict[bytes, tuple[int, bytes]],
    new_data: dict[bytes, bytes] | None = None,
    renames: bool = True,
) -> list[FileDiff]:
    def data(sha: bytes | None, path: bytes, side: str) -> bytes:
        if side == "b" and new_data is not None and path in new_data:
            return new_data[path]
        return repo.store[sha].as_raw_string() if sha else b""

    out: list[FileDiff] = []
    gone = {p: a[p] for p in a if p not in b}
    added = {p: b[p] for p in b if p not in a}
    if renames:
        by_sha = {v[1]: p for p, v in gone.items()}
        for p, (mode, sha) in sorted(added.items()):
            if sha in by_sha:
                old = by_sha.pop(sha)
                om, osha = gone.pop(old)
                del added[p]
                d = data(osha, old, "a")
                out.append(FileDiff(old, p, om, mode, osha, sha, d, d))
    for p in sorted(set(a) | set(b)):
        if p in a and p in b:
            (om, osha), (nm, nsha) = a[p], b[p]
            if osha == nsha and om == nm:
                continue
            out.append(FileDiff(p, p, om, nm, osha, nsha, data(osha, p, "a"), data(nsha, p, "b")))
        elif p in gone:
            om, osha = gone[p]
            out.append(FileDiff(p, p, om, 0, osha, None, data(osha, p, "a"), b""))
        elif p in added:
            nm, nsha = added[p]
            out.append(FileDiff(p, p, 0, nm, None, nsha, b"", data(nsha, p, "b")))
    out.sort(key=lambda d: d.new_path if d.new_sha else d.old_path)
    return out


def make_commit(g: Git, repo: Repo, tree: bytes, parents: list[bytes], message: bytes) -> Commit:
    c = Commit()
    c.tree = tree
    c.parents = parents  # type: ignore[assignment]
    c.author, c.author_time, c.author_timezone = g.identity("author")
    c.committer, c.commit_time, c.commit_timezone = g.identity("committer")
    c.message = message
    repo.store.add_object(c)
    return c


def _clean_message(text: str, strip_comments: bool = True) -> bytes:
    lines = [
        line.rstrip() for line in text.split("\n") if not (strip_comments and line.startswith("#"))
    ]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return ("\n".join(out) + "\n").encode() if out else b""


def cmd_commit(g: Git, args: list[str]) -> int:
    messages: list[str] = []
    all_ = amend = allow_empty = quiet = allow_empty_msg = False
    file_msg: str | None = None
    it = iter(args)
    for a in it:
        if a in ("-m", "--message"):
            v = next(it, None)
            if v is None:
                raise UsageError("switch `m' requires a value")
            messages.append(v)
        elif a.startswith("--message="):
            messages.append(a.split("=", 1)[1])
        elif a.startswith("-m") and len(a) > 2:
            messages.append(a[2:])
        elif a in ("-a", "--all"):
            all_ = True
        elif a == "--amend":
            amend = True
        elif a == "--allow-empty":
            allow_empty = True
        elif a == "--allow-empty-message":
            allow_empty_msg = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-F", "--file"):
            file_msg = next(it, None)
        elif a == "--no-verify" or a == "-n" or a == "--no-edit":
            continue
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            raise GitError(
                "paths with 'git commit' are not supported in this VM; 'git add' them first", 129
            )
    repo = g.work_repo()
    index = repo.index()
    if all_:
        state = read_state(repo, untracked="no")
        from pocketos.git.cmd_index import stage_path

        for p, change in state.unstaged.items():
            if change == "D":
                del index[p]
            else:
                stage_path(repo, index, p)
        repo.write_index(index)
    head = repo.head()
    parents: list[bytes] = []
    old_msg = b""
    if amend:
        if head is None:
            raise GitError("You have nothing to amend.")
        prev = repo.commit(head)
        parents = list(prev.parents)
        old_msg = prev.message
    elif head is not None:
        parents = [head]
    if repo.read("MERGE_HEAD"):
        parents.append((repo.read("MERGE_HEAD") or b"").strip())
    tree = build_tree(repo, index)
    base_tree = repo.commit(parents[0]).tree if parents else None
    if (
        not amend
        and not allow_empty
        and len(parents) < 2
        and tree == (base_tree or EMPTY_TREE)
        and (base_tree is not None or not index)
    ):
        state = read_state(repo)
        from pocketos.git.cmd_index import cmd_status

        if head is None or state.unstaged or state.untracked:
            cmd_status(g, [])
        else:
            target = repo.head_target()
            g.print(f"On branch {target[11:]}\n" if target else "")
            g.print("nothing to commit, working tree clean\n")
        return 1
    if file_msg is not None:
        try:
            messages.append(g.fs.read_text(file_msg) if file_msg != "-" else "")
        except OSError as exc:
            raise GitError(f"could not read log file '{file_msg}': {exc.strerror}") from None
    if messages:
        message = _clean_message("\n\n".join(messages))
    elif amend:
        message = old_msg
    elif repo.read("MERGE_MSG"):
        # no editor: git's "whitespace" clean-up keeps the commented list of conflicts
        merge_msg = (repo.read("MERGE_MSG") or b"").decode("utf-8", "replace")
        message = _clean_message(merge_msg, strip_comments=False)
    else:
        raise GitError(
            "no commit message given and no editor in this VM: use 'git commit -m MESSAGE'",
            1,
            "error: ",
        )
    if not message and not allow_empty_msg:
        g.warn("Aborting commit due to empty commit message.\n")
        return 1
    c = make_commit(g, repo, tree, parents, message)
    target = repo.head_target()
    repo.set_head(c.id)
    repo.remove("MERGE_HEAD")
    repo.remove("MERGE_MSG")
    if quiet:
        return 0
    where = target[11:] if target else "detached HEAD"
    root = " (root-commit)" if not parents and not amend else ""
    subject = message.decode("utf-8", "replace").split("\n", 1)[0]
    g.print(f"[{where}{root} {short(c.id)}] {subject}\n")
    if amend:
        g.print(f" Date: {_amend_date(c)}\n")
    diffs = tree_diffs(repo, base_tree, tree)
    ins = dels = 0
    for d in diffs:
        if not d.binary:
            i, x = line_counts(d.old_data, d.new_data)
            ins, dels = ins + i, dels + x
    if diffs:
        g.print(format_summary(len(diffs), ins, dels))
    for d in diffs:
        if d.status == "A":
            g.print(f" create mode {d.new_mode:o} {d.new_path.decode()}\n")
        elif d.status == "D":
            g.print(f" delete mode {d.old_mode:o} {d.old_path.decode()}\n")
        elif d.status == "R":
            g.print(f" rename {d.old_path.decode()} => {d.new_path.decode()} (100%)\n")
        elif d.old_mode != d.new_mode:
            g.print(f" mode change {d.old_mode:o} => {d.new_mode:o} {d.new_path.decode()}\n")
    _ = format_stat
    return 0


def _amend_date(c: Commit) -> str:
    from pocketos.git.format import format_date

    return format_date(c.author_time, c.author_timezone)


# --- config ------------------------------------------------------------------------------------
def _split_key(key: str) -> tuple[tuple[bytes, ...], bytes]:
    parts = key.split(".")
    if len(parts) < 2 or not parts[-1]:
        raise GitError(f"key does not contain a section: {key}", 2, "error: ")
    if len(parts) == 2:
        return (parts[0].encode(),), parts[1].encode()
    return (parts[0].encode(), ".".join(parts[1:-1]).encode()), parts[-1].encode()


def cmd_config(g: Git, args: list[str]) -> int:
    scope = "local"
    action = "auto"
    rest: list[str] = []
    for a in args:
        if a == "--global":
            scope = "global"
        elif a == "--local":
            scope = "local"
        elif a in ("-l", "--list"):
            action = "list"
        elif a == "--get":
            action = "get"
        elif a == "--unset":
            action = "unset"
        elif a == "--add":
            action = "add"
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    if rest and rest[0] in ("get", "set", "unset", "list") and action == "auto":
        action, rest = rest[0], rest[1:]
    path = None
    if scope == "global":
        if not g.home:
            raise GitError("$HOME not set")
        path = f"{g.home}/.gitconfig"
    else:
        path = g.repo.path("config")
    try:
        data = g.fs.read_bytes(path)
    except FileNotFoundError:
        data = b""
    cfg = ConfigFile.from_file(BytesIO(data))
    if action == "list" or (action == "auto" and not rest):
        if action == "auto":
            raise UsageError("no action specified")
        files = [cfg] if scope == "global" or "--local" in args else []
        if not files:
            from pocketos.git.repo import read_global_config

            gl = read_global_config(g.fs, g.home)
            files = ([gl] if gl else []) + [cfg]
        for f in files:
            for sec_key in f.sections():
                sec = sec_key[0].decode().lower() + (
                    "." + ".".join(x.decode() for x in sec_key[1:]) if len(sec_key) > 1 else ""
                )
                for k, v in f.items(sec_key):
                    g.print(f"{sec}.{k.decode().lower()}={v.decode()}\n")
        return 0
    if action in ("get",) or (action == "auto" and len(rest) == 1):
        section, key = _split_key(rest[0])
        found: bytes | None
        if scope == "local" and "--local" not in args:
            found = g.config_get(section, key)
        else:
            try:
                found = cfg.get(section, key)
            except KeyError:
                found = None
        if found is None:
            return 1
        g.print(found.decode() + "\n")
        return 0
    if action == "unset":
        section, key = _split_key(rest[0])
        try:
            del cfg[section][key]
        except KeyError:
            return 5
    else:
        if len(rest) != 2:
            raise UsageError("wrong number of arguments, should be 2")
        section, key = _split_key(rest[0])
        cfg.set(section, key, rest[1].encode())
    buf = BytesIO()
    cfg.write_to_file(buf)
    g.fs.write_bytes(path, buf.getvalue())
    return 0


# --- rev-parse ---------------------------------------------------------------------------------
def cmd_rev_parse(g: Git, args: list[str]) -> int:
    abbrev_ref = verify = quiet = False
    short_n: int | None = None
    for a in args:
        if a == "--show-toplevel":
            g.print((g.work_repo().worktree or "") + "\n")
        elif a == "--git-dir":
            gd = g.repo.gitdir
            top = g.repo.worktree
            cwd = g.fs.abspath(g.cwd).rstrip("/")
            g.print((".git" if top and cwd == top else gd) + "\n")
        elif a == "--absolute-git-dir":
            g.print(g.repo.gitdir + "\n")
        elif a == "--is-inside-work-tree":
            g.print("true\n" if g.repo.worktree else "false\n")
        elif a == "--is-bare-repository":
            g.print("false\n" if g.repo.worktree else "true\n")
        elif a == "--show-prefix":
            pre = g.prefix()
            g.print((pre + "/" if pre else "") + "\n")
        elif a == "--show-cdup":
            pre = g.prefix()
            g.print(("../" * (pre.count("/") + 1) if pre else "") + "\n")
        elif a == "--abbrev-ref":
            abbrev_ref = True
        elif a == "--verify":
            verify = True
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a == "--short":
            short_n = 7
        elif a.startswith("--short="):
            short_n = max(4, int(a.split("=", 1)[1]))
        elif a.startswith("-"):
            g.print(a + "\n")
        else:
            repo = g.repo
            if abbrev_ref:
                found = lookup_ref(repo, a)
                if found is None:
                    g.print(a + "\n")
                    raise GitError(_ambig(a))
                name = found[0]
                if name == "HEAD":
                    t = repo.head_target()
                    name = t if t else "HEAD"
                for pre in ("refs/heads/", "refs/tags/", "refs/remotes/"):
                    if name.startswith(pre):
                        name = name[len(pre) :]
                g.print(name + "\n")
                continue
            try:
                sha = (
                    resolve(repo, a)
                    if not a.endswith("^{commit}")
                    else resolve_commit(repo, a[: -len("^{commit}")])
                )
            except (GitError, KeyError):
                if verify:
                    if quiet:
                        return 1
                    raise GitError("Needed a single revision") from None
                g.print(a + "\n")
                raise
            g.print((sha.decode()[:short_n] if short_n else sha.decode()) + "\n")
    return 0


def _ambig(a: str) -> str:
    return (
        f"ambiguous argument '{a}': unknown revision or path not in the working tree.\n"
        "Use '--' to separate paths from revisions, like this:\n"
        "'git <command> [<revision>...] -- [<file>...]'"
    )
