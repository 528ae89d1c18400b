"""``clone``, ``remote``, ``fetch``, ``pull`` and ``push``."""

from __future__ import annotations

import posixpath

from pocketos.git.cmd_merge import merge_base, merge_into_head
from pocketos.git.cmd_refs import move_to_tree
from pocketos.git.format import short
from pocketos.git.remote import ZERO, Advert, HttpCall, Remote, default_dir
from pocketos.git.repo import GitError, Repo, init_repo
from pocketos.git.session import Git, UsageError

__all__ = ["cmd_clone", "cmd_remote", "cmd_fetch", "cmd_pull", "cmd_push"]


def _remote_url(repo: Repo, name: str) -> str:
    try:
        return repo.config().get((b"remote", name.encode()), b"url").decode()  # type: ignore[no-any-return]
    except KeyError:
        if "/" in name or name.startswith(("http://", "https://")):
            return name
        raise GitError(
            f"'{name}' does not appear to be a git repository\n"
            "fatal: Could not read from remote repository.\n\n"
            "Please make sure you have the correct access rights\n"
            "and the repository exists."
        ) from None


def _set_remote(repo: Repo, name: str, url: str) -> None:
    cfg = repo.config()
    sec = (b"remote", name.encode())
    cfg.set(sec, b"url", url.encode())
    cfg.set(sec, b"fetch", f"+refs/heads/*:refs/remotes/{name}/*".encode())
    repo.save_config()


def _update_tracking(repo: Repo, name: str, adv: Advert) -> list[tuple[str, bytes | None, bytes]]:
    changes = []
    for ref, sha in adv.refs.items():
        if ref.startswith("refs/heads/"):
            local = f"refs/remotes/{name}/{ref[11:]}"
            old = repo.resolve_ref(local)
            if old != sha:
                repo.set_ref(local, sha)
                changes.append((ref[11:], old, sha))
        elif ref.startswith("refs/tags/") and repo.resolve_ref(ref) is None:
            repo.set_ref(ref, sha)
    return changes


async def cmd_clone(g: Git, args: list[str], http: HttpCall) -> int:
    quiet = bare = False
    branch: str | None = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a in ("-q", "--quiet"):
            quiet = True
        elif a == "--bare":
            bare = True
        elif a in ("-b", "--branch"):
            branch = next(it, None)
        elif a.startswith("--depth") or a in ("--single-branch", "--no-tags"):
            if a == "--depth":
                next(it, None)
            continue
        elif a.startswith("-"):
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    if not rest:
        raise GitError("You must specify a repository to clone.", 129)
    url = rest[0]
    target = rest[1] if len(rest) > 1 else default_dir(url) + (".git" if bare else "")
    full = g.fs.abspath(target)
    if g.fs.exists(full) and g.fs.listdir(full):
        raise GitError(f"destination path '{target}' already exists and is not an empty directory.")
    if not url.startswith(("http://", "https://", "file://", "/")):
        url = g.fs.abspath(url)
    if not quiet:
        g.warn(f"Cloning into {'bare repository ' if bare else ''}'{target}'...\n")
    created = not g.fs.exists(full)
    if created:
        g.fs.mkdir(full, parents=True)
    try:
        repo, _ = init_repo(g.fs, full, "master", bare)
        remote = Remote(url, repo, http)
        adv = await remote.advert()
        heads = {r: s for r, s in adv.refs.items() if r.startswith("refs/heads/")}
        if not heads and not adv.refs:
            g.warn("warning: You appear to have cloned an empty repository.\n")
        await remote.fetch(adv, list(dict.fromkeys(adv.refs.values())))
    except BaseException:
        if created:
            g.fs.remove_tree(full)
        raise
    if bare:
        for ref, sha in adv.refs.items():
            if ref.startswith(("refs/heads/", "refs/tags/")):
                repo.set_ref(ref, sha)
        repo.write("HEAD", f"ref: {adv.head_target or 'refs/heads/master'}\n".encode())
        return 0
    _set_remote(repo, "origin", url)
    _update_tracking(repo, "origin", adv)
    head_ref = f"refs/heads/{branch}" if branch else adv.head_target
    if head_ref is None and "HEAD" in adv.refs:
        head_ref = next((r for r, s in heads.items() if s == adv.refs["HEAD"]), None)
    if branch and head_ref not in heads:
        raise GitError(f"Remote branch {branch} not found in upstream origin")
    if head_ref is None or head_ref not in heads:
        return 0
    name = head_ref[11:]
    repo.write("HEAD", f"ref: {head_ref}\n".encode())
    if adv.head_target:
        repo.write(
            "refs/remotes/origin/HEAD",
            f"ref: refs/remotes/origin/{adv.head_target[11:]}\n".encode(),
        )
    cfg = repo.config()
    cfg.set((b"branch", name.encode()), b"remote", b"origin")
    cfg.set((b"branch", name.encode()), b"merge", head_ref.encode())
    repo.save_config()
    sha = heads[head_ref]
    move_to_tree(g, repo, repo.commit(sha).tree, force=True)
    repo.set_ref(head_ref, sha)
    return 0


def cmd_remote(g: Git, args: list[str]) -> int:
    repo = g.repo
    verbose = bool(args) and args[0] in ("-v", "--verbose")
    if verbose:
        args = args[1:]
    names = sorted(
        {s[1].decode() for s in repo.config().sections() if len(s) == 2 and s[0] == b"remote"}
    )
    if not args:
        for n in names:
            if verbose:
                url = _remote_url(repo, n)
                g.print(f"{n}\t{url} (fetch)\n{n}\t{url} (push)\n")
            else:
                g.print(n + "\n")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "add":
        if len(rest) != 2:
            raise UsageError("usage: git remote add <name> <url>")
        if rest[0] in names:
            raise GitError(f"remote {rest[0]} already exists.", 3, "error: ")
        _set_remote(repo, rest[0], rest[1])
        return 0
    if sub in ("remove", "rm"):
        if not rest or rest[0] not in names:
            raise GitError(f"No such remote: '{rest[0] if rest else ''}'", 2, "error: ")
        del repo.config()[(b"remote", rest[0].encode())]
        repo.save_config()
        for ref in repo.list_refs(f"refs/remotes/{rest[0]}/"):
            repo.delete_ref(ref)
        return 0
    if sub == "get-url":
        g.print(_remote_url(repo, rest[0]) + "\n")
        return 0
    if sub == "set-url":
        if rest[0] not in names:
            raise GitError(f"No such remote '{rest[0]}'", 2, "error: ")
        repo.config().set((b"remote", rest[0].encode()), b"url", rest[1].encode())
        repo.save_config()
        return 0
    raise GitError(f"'git remote {sub}' is not supported in this VM", 1, "git: ")


async def cmd_fetch(g: Git, args: list[str], http: HttpCall) -> int:
    quiet = "-q" in args or "--quiet" in args
    rest = [a for a in args if not a.startswith("-")]
    repo = g.repo
    name = rest[0] if rest else "origin"
    url = _remote_url(repo, name)
    remote = Remote(url, repo, http)
    adv = await remote.advert()
    await remote.fetch(adv, list(dict.fromkeys(adv.refs.values())))
    changes = _update_tracking(repo, name, adv)
    if changes and not quiet:
        g.warn(f"From {url}\n")
        for branch, old, new in changes:
            if old is None:
                g.warn(f" * [new branch]      {branch:<10} -> {name}/{branch}\n")
            else:
                g.warn(f"   {short(old)}..{short(new)}  {branch:<10} -> {name}/{branch}\n")
    return 0


async def cmd_pull(g: Git, args: list[str], http: HttpCall) -> int:
    ff_only = "--ff-only" in args
    quiet = "-q" in args or "--quiet" in args
    rest = [a for a in args if not a.startswith("-")]
    repo = g.work_repo()
    target = repo.head_target()
    if target is None:
        raise GitError("You are not currently on a branch.")
    branch = target[11:]
    cfg = repo.config()
    try:
        name = rest[0] if rest else cfg.get((b"branch", branch.encode()), b"remote").decode()
        merge_ref = (
            f"refs/heads/{rest[1]}"
            if len(rest) > 1
            else cfg.get((b"branch", branch.encode()), b"merge").decode()
        )
    except KeyError:
        raise GitError("There is no tracking information for the current branch.", 1, "") from None
    await cmd_fetch(g, [name, "-q"], http)
    theirs = repo.resolve_ref(f"refs/remotes/{name}/{merge_ref[11:]}")
    if theirs is None:
        raise GitError(f"couldn't find remote ref {merge_ref}")
    head = repo.head()
    if head is None:
        move_to_tree(g, repo, repo.commit(theirs).tree)
        repo.set_head(theirs)
        return 0
    if ff_only and merge_base(repo, head, theirs) != head and theirs != head:
        raise GitError("Not possible to fast-forward, aborting.")
    url = _remote_url(repo, name)
    shown = len(g.out)
    status = merge_into_head(
        g,
        repo,
        theirs,
        f"{name}/{merge_ref[11:]}",
        message=f"Merge branch '{merge_ref[11:]}' of {url}",
    )
    if quiet and status == 0:
        del g.out[shown:]
    return status


async def cmd_push(g: Git, args: list[str], http: HttpCall) -> int:
    force = any(a in ("-f", "--force") for a in args)
    set_upstream = any(a in ("-u", "--set-upstream") for a in args)
    delete = "--delete" in args or "-d" in args
    rest = [a for a in args if not a.startswith("-")]
    repo = g.repo
    name = rest[0] if rest else "origin"
    url = _remote_url(repo, name)
    specs = rest[1:]
    if not specs:
        target = repo.head_target()
        if target is None:
            raise GitError("You are not currently on a branch.")
        specs = [target[11:]]
    remote = Remote(url, repo, http)
    adv = await remote.advert("git-receive-pack")
    updates: list[tuple[str, bytes, bytes]] = []
    for spec in specs:
        src, _, dst = spec.lstrip("+").partition(":")
        dst = dst or src
        ref = dst if dst.startswith("refs/") else f"refs/heads/{dst}"
        if delete or not src:
            new = ZERO
        else:
            found = repo.resolve_ref(f"refs/heads/{src}") or repo.resolve_ref(f"refs/tags/{src}")
            if found is None:
                raise GitError(f"src refspec {src} does not match any", 1, "error: ")
            new = found
            if src and repo.resolve_ref(f"refs/tags/{src}") and not dst.startswith("refs/"):
                ref = f"refs/tags/{dst}" if not repo.resolve_ref(f"refs/heads/{src}") else ref
        old = adv.refs.get(ref, ZERO)
        if (
            old != ZERO
            and new != ZERO
            and not force
            and (old not in repo.store or merge_base(repo, old, new) != old)
        ):
            g.warn(
                f"To {url}\n ! [rejected]        {src} -> {dst} (fetch first)\n"
                f"error: failed to push some refs to '{url}'\n"
            )
            return 1
        updates.append((ref, old, new))
    results = await remote.push(updates)
    g.warn(f"To {url}\n")
    status = 0
    for (ref, old, new), (_r, err) in zip(updates, results, strict=False):
        short_ref = ref.split("/", 2)[-1]
        if err:
            status = 1
            g.warn(f" ! [remote rejected] {short_ref} -> {short_ref} ({err})\n")
        elif new == ZERO:
            g.warn(f" - [deleted]         {short_ref}\n")
        elif old == ZERO:
            kind = "tag" if ref.startswith("refs/tags/") else "branch"
            g.warn(f" * [new {kind}]      {short_ref} -> {short_ref}\n")
        else:
            g.warn(f"   {short(old)}..{short(new)}  {short_ref} -> {short_ref}\n")
        if not err and ref.startswith("refs/heads/"):
            if new == ZERO:
                repo.delete_ref(f"refs/remotes/{name}/{short_ref}")
            else:
                repo.set_ref(f"refs/remotes/{name}/{short_ref}", new)
            if set_upstream and new != ZERO:
                cfg = repo.config()
                cfg.set((b"branch", short_ref.encode()), b"remote", name.encode())
                cfg.set((b"branch", short_ref.encode()), b"merge", ref.encode())
                repo.save_config()
                g.print(f"branch '{short_ref}' set up to track '{name}/{short_ref}'.\n")
    if status:
        g.warn(f"error: failed to push some refs to '{url}'\n")
    _ = posixpath
    return status
