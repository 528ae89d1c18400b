"""``log``, ``show`` and ``diff``."""

from __future__ import annotations

import posixpath
import stat as st

from dulwich.index import IndexEntry
from dulwich.objects import Blob, Commit, Tag, Tree

from pocketos.git.cmd_commit import flat_diffs, tree_diffs
from pocketos.git.cmd_index import Pathspec
from pocketos.git.format import (
    FileDiff,
    colorize_patch,
    commit_header,
    format_date,
    format_patch,
    format_stat,
    person,
    short,
)
from pocketos.git.repo import GitError, Repo
from pocketos.git.revs import peel, resolve, resolve_commit, resolve_tree
from pocketos.git.session import Git, UsageError
from pocketos.git.worktree import blob_for, flatten, read_state
from pocketos.kernel.budget import check_time

__all__ = ["cmd_log", "cmd_show", "cmd_diff"]


def _split_revs_paths(g: Git, args: list[str]) -> tuple[list[str], list[str]]:
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1 :]
    revs: list[str] = []
    paths: list[str] = []
    for a in args:
        if paths:
            paths.append(a)
            continue
        try:
            for side in a.split("..", 1) if ".." in a else [a]:
                resolve(g.repo, side or "HEAD")
            revs.append(a)
        except (GitError, KeyError):
            if g.fs.lexists(a):
                paths.append(a)
            else:
                raise
    return revs, paths


def _color_option(a: str) -> bool | None:
    """``--color[=WHEN]``/``--no-color``: True/False, or None when ``a`` is not one."""
    if a in ("--color", "--color=always"):
        return True
    if a in ("--no-color", "--color=never", "--color=auto"):
        return False
    return None


def _print_diffs(g: Git, diffs: list[FileDiff], mode: str, color: bool = False) -> None:
    if mode == "patch":
        for d in diffs:
            patch = format_patch(d)
            g.print(colorize_patch(patch) if color else patch)
    elif mode == "stat":
        g.print(format_stat(diffs, color=color))
    elif mode == "name-only":
        for d in diffs:
            g.print(d.new_path.decode() + "\n")
    elif mode == "name-status":
        for d in diffs:
            if d.status == "R":
                g.print(f"R100\t{d.old_path.decode()}\t{d.new_path.decode()}\n")
            else:
                g.print(f"{d.status}\t{d.new_path.decode()}\n")
    elif mode == "numstat":
        from pocketos.git.format import line_counts

        for d in diffs:
            if d.binary:
                g.print(f"-\t-\t{d.new_path.decode()}\n")
            else:
                i, x = line_counts(d.old_data, d.new_data)
                g.print(f"{i}\t{x}\t{d.new_path.decode()}\n")


def _diff_mode(a: str) -> str | None:
    return {
        "--stat": "stat",
        "--name-only": "name-only",
        "--name-status": "name-status",
        "--numstat": "numstat",
        "-p": "patch",
        "--patch": "patch",
        "-u": "patch",
    }.get(a)


def _format_placeholder(repo: Repo, sha: bytes, c: Commit, fmt: str) -> str:
    an, ae = person(c.author)
    cn, ce = person(c.committer)
    msg = c.message.decode("utf-8", "replace")
    subject = msg.split("\n", 1)[0]
    body = msg.split("\n", 1)[1].lstrip("\n") if "\n" in msg.rstrip("\n") else ""
    table = {
        "H": sha.decode(),
        "h": short(sha),
        "T": c.tree.decode(),
        "t": short(c.tree),
        "P": " ".join(p.decode() for p in c.parents),
        "p": " ".join(short(p) for p in c.parents),
        "an": an,
        "ae": ae,
        "ad": format_date(c.author_time, c.author_timezone),
        "aI": format_date(c.author_time, c.author_timezone, "iso-strict"),
        "ai": format_date(c.author_time, c.author_timezone, "iso"),
        "at": str(c.author_time),
        "as": format_date(c.author_time, c.author_timezone, "short"),
        "cn": cn,
        "ce": ce,
        "cd": format_date(c.commit_time, c.commit_timezone),
        "cI": format_date(c.commit_time, c.commit_timezone, "iso-strict"),
        "ci": format_date(c.commit_time, c.commit_timezone, "iso"),
        "ct": str(c.commit_time),
        "s": subject,
        "b": body,
        "B": msg,
        "n": "\n",
        "%": "%",
    }
    out = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            two = fmt[i + 1 : i + 3]
            if two in table:
                out.append(table[two])
                i += 3
                continue
            one = fmt[i + 1]
            if one in table:
                out.append(table[one])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _walk(repo: Repo, starts: list[bytes], excludes: list[bytes]) -> list[bytes]:
    """Commits reachable from ``starts`` but not ``excludes``, newest first (by commit date,
    then discovery order, as git's default order)."""
    hidden: set[bytes] = set()
    stack = list(excludes)
    while stack:
        s = stack.pop()
        if s in hidden:
            continue
        hidden.add(s)
        stack.extend(repo.commit(s).parents)
    seen: set[bytes] = set()
    out: list[bytes] = []
    queue: list[tuple[int, int, bytes]] = []
    counter = 0
    for s in starts:
        if s not in hidden and s not in seen:
            seen.add(s)
            queue.append((-repo.commit(s).commit_time, counter, s))
            counter += 1
    import heapq

    heapq.heapify(queue)
    while queue:
        check_time()
        _t, _n, s = heapq.heappop(queue)
        out.append(s)
        for p in repo.commit(s).parents:
            if p not in seen and p not in hidden:
                seen.add(p)
                counter += 1
                heapq.heappush(queue, (-repo.commit(p).commit_time, counter, p))
    return out


def cmd_log(g: Git, args: list[str], show: bool = False) -> int:
    limit: int | None = None
    fmt: str | None = None
    oneline = False
    mode: str | None = None
    reverse = False
    color = False
    all_refs = False
    separate = False
    opts: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--oneline":
            oneline = True
        elif a in ("-n", "--max-count"):
            limit = int(next(it, "0"))
        elif a.startswith("--max-count="):
            limit = int(a.split("=", 1)[1])
        elif a.startswith("-n") and a[2:].isdigit():
            limit = int(a[2:])
        elif a[:1] == "-" and a[1:].isdigit():
            limit = int(a[1:])
        elif a.startswith(("--format=", "--pretty=")):
            v = a.split("=", 1)[1]
            if v == "oneline":
                oneline = True
            elif v in ("medium", "full", "short"):
                fmt = None
            else:
                separate = v.startswith("format:")
                fmt = v.split(":", 1)[1] if v.startswith(("format:", "tformat:")) else v
        elif _diff_mode(a):
            mode = _diff_mode(a)
        elif a == "--reverse":
            reverse = True
        elif a == "--all":
            all_refs = True
        elif _color_option(a) is not None:
            color = bool(_color_option(a))
        elif a in ("--no-decorate", "--no-pager", "--first-parent"):
            continue
        elif a.startswith("-") and a != "--":
            raise UsageError(f"unrecognized argument: {a}")
        else:
            opts.append(a)
    repo = g.repo
    revs, paths = _split_revs_paths(g, opts)
    starts: list[bytes] = []
    excludes: list[bytes] = []
    for r in revs:
        if ".." in r:
            left, right = r.split("..", 1)
            excludes.append(resolve_commit(repo, left or "HEAD"))
            starts.append(resolve_commit(repo, right or "HEAD"))
        elif r.startswith("^"):
            excludes.append(resolve_commit(repo, r[1:]))
        else:
            starts.append(resolve_commit(repo, r))
    if all_refs:
        for sha in repo.list_refs("refs/").values():
            tip = peel(repo, sha)
            if isinstance(repo[tip], Commit) and tip not in starts:
                starts.append(tip)
        head = repo.head()
        if head is not None and head not in starts:
            starts.append(head)
    if not starts:
        head = repo.head()
        if head is None:
            target = repo.head_target() or "HEAD"
            raise GitError(
                f"your current branch '{target.removeprefix('refs/heads/')}' "
                "does not have any commits yet"
            )
        starts = [head]
    shas = _walk(repo, starts, excludes)
    spec = Pathspec(g, paths) if paths else None
    if spec is not None:
        keep = []
        for s in shas:
            c = repo.commit(s)
            parent_tree = repo.commit(c.parents[0]).tree if c.parents else None
            if any(
                spec.match(d.new_path) or spec.match(d.old_path)
                for d in tree_diffs(repo, parent_tree, c.tree)
            ):
                keep.append(s)
        shas = keep
    if limit is not None:
        shas = shas[:limit]
    if reverse:
        shas.reverse()
    first = True
    for s in shas:
        c = repo.commit(s)
        if oneline:
            shown = f"\x1b[33m{short(s)}\x1b[m" if color else short(s)
            g.print(f"{shown} {c.message.decode('utf-8', 'replace').split(chr(10), 1)[0]}\n")
        elif fmt is not None:
            if separate:
                g.print(("" if first else "\n") + _format_placeholder(repo, s, c, fmt))
            else:
                g.print(_format_placeholder(repo, s, c, fmt) + "\n")
        else:
            if not first:
                g.print("\n")
            g.print(commit_header(repo, s, c, color=color))
        first = False
        if mode:
            parent_tree = repo.commit(c.parents[0]).tree if c.parents else None
            diffs = tree_diffs(repo, parent_tree, c.tree)
            if spec is not None:
                diffs = [d for d in diffs if spec.match(d.new_path) or spec.match(d.old_path)]
            if diffs:
                if not oneline and fmt is None:
                    g.print("\n" if mode == "patch" else "---\n" if False else "\n")
                _print_diffs(g, diffs, mode, color)
    return 0


def cmd_show(g: Git, args: list[str]) -> int:
    mode = "patch"
    revs: list[str] = []
    fmt_args: list[str] = []
    color = False
    for a in args:
        if _color_option(a) is not None:
            color = bool(_color_option(a))
        elif _diff_mode(a):
            mode = _diff_mode(a) or mode
        elif a in ("-s", "--no-patch"):
            mode = ""
        elif a.startswith(("--format=", "--pretty=")) or a == "--oneline":
            fmt_args.append(a)
        elif a.startswith("-"):
            raise UsageError(f"unrecognized argument: {a}")
        else:
            revs.append(a)
    repo = g.repo
    for r in revs or ["HEAD"]:
        sha = resolve(repo, r)
        obj = repo[sha]
        if isinstance(obj, Tag):
            g.print(f"tag {obj.name.decode()}\nTagger: {obj.tagger.decode()}\n")
            g.print(f"Date:   {format_date(obj.tag_time, obj.tag_timezone)}\n\n")
            g.print(obj.message.decode("utf-8", "replace").rstrip("\n") + "\n\n")
            sha = peel(repo, sha)
            obj = repo[sha]
        if isinstance(obj, Blob):
            g.print(obj.as_raw_string())
            continue
        if isinstance(obj, Tree):
            g.print(f"tree {r}\n\n")
            for e in obj.iteritems():
                g.print(e.path.decode() + ("/" if st.S_ISDIR(e.mode) else "") + "\n")
            continue
        assert isinstance(obj, Commit)
        if fmt_args:
            cmd_log(g, [*fmt_args, "-n", "1", sha.decode()])
        else:
            g.print(commit_header(repo, sha, obj, color=color))
        if mode and len(obj.parents) < 2:
            parent_tree = repo.commit(obj.parents[0]).tree if obj.parents else None
            diffs = tree_diffs(repo, parent_tree, obj.tree)
            if diffs:
                if not fmt_args:
                    g.print("\n")
                _print_diffs(g, diffs, mode, color)
    return 0


def _index_flat(repo: Repo) -> dict[bytes, tuple[int, bytes]]:
    return {p: (e.mode, e.sha) for p, e in repo.index().items() if isinstance(e, IndexEntry)}


def cmd_diff(g: Git, args: list[str]) -> int:
    mode = "patch"
    cached = quiet = color = False
    opts: list[str] = []
    for arg in args:
        if _color_option(arg) is not None:
            color = bool(_color_option(arg))
        elif _diff_mode(arg):
            mode = _diff_mode(arg) or mode
        elif arg in ("--cached", "--staged"):
            cached = True
        elif arg in ("--quiet", "--exit-code"):
            quiet = arg == "--quiet"
            opts.append("--exit-code")
        elif arg == "--no-ext-diff":
            continue
        elif arg.startswith("-") and arg != "--":
            raise UsageError(f"invalid option: {arg}")
        else:
            opts.append(arg)
    exit_code = "--exit-code" in opts
    opts = [o for o in opts if o != "--exit-code"]
    repo = g.repo
    revs, paths = _split_revs_paths(g, opts)
    if len(revs) == 1 and ".." in revs[0]:
        left, right = revs[0].split("..", 1)
        revs = [left or "HEAD", right or "HEAD"]
    new_data: dict[bytes, bytes] | None = None
    a: dict[bytes, tuple[int, bytes]]
    b: dict[bytes, tuple[int, bytes]]
    if len(revs) == 2:
        a = flatten(repo, resolve_tree(repo, revs[0]))
        b = flatten(repo, resolve_tree(repo, revs[1]))
    elif cached:
        a = flatten(repo, resolve_tree(repo, revs[0])) if revs else _head_flat(repo)
        b = _index_flat(repo)
    elif revs:
        a = flatten(repo, resolve_tree(repo, revs[0]))
        b, new_data = _worktree_flat(g, repo, a)
    else:
        a = _index_flat(repo)
        b, new_data = _worktree_flat(g, repo, a, index_only=True)
    diffs = flat_diffs(repo, a, b, new_data)
    if paths:
        spec = Pathspec(g, paths)
        diffs = [d for d in diffs if spec.match(d.new_path) or spec.match(d.old_path)]
    if not quiet:
        _print_diffs(g, diffs, mode, color)
    return 1 if (exit_code and diffs) else 0


def _head_flat(repo: Repo) -> dict[bytes, tuple[int, bytes]]:
    head = repo.head()
    return flatten(repo, repo.commit(head).tree) if head else {}


def _worktree_flat(
    g: Git, repo: Repo, base: dict[bytes, tuple[int, bytes]], index_only: bool = False
) -> tuple[dict[bytes, tuple[int, bytes]], dict[bytes, bytes]]:
    """The tracked files as they are in the work tree (untracked ones are not diffed)."""
    state = read_state(repo, untracked="no")
    index = _index_flat(repo)
    out: dict[bytes, tuple[int, bytes]] = {}
    data: dict[bytes, bytes] = {}
    for p in set(index) | (set() if index_only else set(base)):
        if p not in index and not index_only:
            continue
        change = state.unstaged.get(p)
        if change == "D":
            continue
        if change is None:
            out[p] = index[p]
            continue
        mode, blob = blob_for(repo, p)
        out[p] = (mode, blob.id)
        data[p] = blob.as_raw_string()
    _ = posixpath
    return out, data
