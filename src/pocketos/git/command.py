"""The ``git`` command: global options, then one subcommand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pocketos.commands import command
from pocketos.errors import LimitExceeded
from pocketos.git.cmd_commit import cmd_commit, cmd_config, cmd_rev_parse
from pocketos.git.cmd_history import cmd_diff, cmd_log, cmd_show
from pocketos.git.cmd_index import cmd_add, cmd_init, cmd_ls_files, cmd_mv, cmd_rm, cmd_status
from pocketos.git.cmd_merge import cmd_merge
from pocketos.git.cmd_refs import (
    cmd_branch,
    cmd_checkout,
    cmd_reset,
    cmd_restore,
    cmd_switch,
    cmd_tag,
)
from pocketos.git.cmd_remote import cmd_clone, cmd_fetch, cmd_pull, cmd_push, cmd_remote
from pocketos.git.cmd_stash import cmd_stash
from pocketos.git.remote import HttpCall
from pocketos.git.repo import GitError
from pocketos.git.session import Git
from pocketos.kernel.process import Context

__all__ = ["SUBCOMMANDS", "git"]

SUBCOMMANDS: dict[str, Callable[[Git, list[str]], int]] = {
    "init": cmd_init,
    "add": cmd_add,
    "rm": cmd_rm,
    "mv": cmd_mv,
    "status": cmd_status,
    "ls-files": cmd_ls_files,
    "commit": cmd_commit,
    "config": cmd_config,
    "rev-parse": cmd_rev_parse,
    "log": cmd_log,
    "show": cmd_show,
    "diff": cmd_diff,
    "branch": cmd_branch,
    "switch": cmd_switch,
    "checkout": cmd_checkout,
    "restore": cmd_restore,
    "reset": cmd_reset,
    "tag": cmd_tag,
    "merge": cmd_merge,
    "stash": cmd_stash,
    "remote": cmd_remote,
}

#: subcommands that talk to another repository (over HTTP through the gateway, or a path)
NETWORK: dict[str, Callable[[Git, list[str], HttpCall], Awaitable[int]]] = {
    "clone": cmd_clone,
    "fetch": cmd_fetch,
    "pull": cmd_pull,
    "push": cmd_push,
}

#: real git subcommands this VM does not implement: a clear message instead of a guess
KNOWN_UNSUPPORTED = {
    "rebase",
    "cherry-pick",
    "revert",
    "bisect",
    "blame",
    "submodule",
    "worktree",
    "gc",
    "fsck",
    "am",
    "format-patch",
    "apply",
    "grep",
    "clean",
    "describe",
    "notes",
    "reflog",
    "shortlog",
    "archive",
    "bundle",
    "filter-branch",
    "sparse-checkout",
    "lfs",
    "merge",
    "stash",
    "clone",
    "fetch",
    "pull",
    "push",
    "remote",
    "cat-file",
    "hash-object",
}

USAGE = """usage: git [-C <path>] [-c <name>=<value>] <command> [<args>]

These git commands are available in this VM:
   init, clone, add, rm, mv, status, ls-files, commit, log, show, diff, branch,
   switch, checkout, restore, reset, tag, merge, stash, rev-parse, config, remote, fetch,
   pull, push
"""


#: per subcommand, the short options that take a value (the rest of a cluster or the next word)
VALUE_SHORTS: dict[str, str] = {
    "commit": "mFCc",
    "tag": "mF",
    "checkout": "bB",
    "switch": "cC",
    "log": "n",
    "init": "b",
    "restore": "s",
    "show": "n",
}


def split_clusters(sub: str, args: list[str]) -> list[str]:
    """``-qm msg`` -> ``-q -m msg``; ``-n3`` -> ``-n 3`` (git's parse-options rules)."""
    takes = VALUE_SHORTS.get(sub, "")
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            out.extend(args[i:])
            break
        if len(a) > 2 and a[0] == "-" and a[1] != "-" and not a[1:].isdigit():
            if sub == "status" and a.startswith("-u"):
                out.append(a)
                continue
            for j, ch in enumerate(a[1:], start=1):
                if ch in takes:
                    out.append("-" + ch)
                    if a[j + 1 :]:
                        out.append(a[j + 1 :])
                    break
                out.append("-" + ch)
            continue
        out.append(a)
    return out


def _http(ctx: Context) -> HttpCall:
    """Requests through the VM's gateway: the network policy and its header transforms apply."""

    async def call(
        method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, bytes]:
        from pocketos.net import get_gateway
        from pocketos.net.gateway import NetworkError

        hdrs = {"User-Agent": "git/2.39.5 (pocketos)", "Git-Protocol": "version=0", **headers}
        try:
            resp = await get_gateway(ctx.kernel).request(
                method, url, hdrs, body, budget=ctx.budget, pid=ctx.pid, follow_redirects=True
            )
        except NetworkError as exc:
            raise GitError(f"unable to access '{url}': {exc.message}") from None
        return resp.status_code, resp.content

    return call


@command("git")
async def git(ctx: Context) -> int:
    args = ctx.argv[1:]
    cwd = ctx.cwd
    env = dict(ctx.env)
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a == "-C" and args:
            cwd = ctx.fs.abspath(args.pop(0)) if not args[0].startswith("/") else args.pop(0)
        elif a == "-c" and args:
            key, _, value = args.pop(0).partition("=")
            if key == "user.name":
                env.setdefault("GIT_AUTHOR_NAME", value)
                env.setdefault("GIT_COMMITTER_NAME", value)
            elif key == "user.email":
                env.setdefault("GIT_AUTHOR_EMAIL", value)
                env.setdefault("GIT_COMMITTER_EMAIL", value)
        elif a in ("--version", "version"):
            await ctx.out("git version 2.39.5 (pocketos, dulwich)\n")
            return 0
        elif a in ("--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs"):
            continue
        elif a in ("-h", "--help"):
            await ctx.out(USAGE)
            return 0
        else:
            await ctx.err(f"unknown option: {a}\n{USAGE}")
            return 129
    if not args:
        await ctx.out(USAGE)
        return 1
    sub, rest = args[0], args[1:]
    if sub == "version":
        await ctx.out("git version 2.39.5 (pocketos, dulwich)\n")
        return 0
    fn = SUBCOMMANDS.get(sub)
    net = NETWORK.get(sub)
    if fn is None and net is None:
        if sub in KNOWN_UNSUPPORTED:
            await ctx.err(f"'{sub}' is not supported in this VM")
        else:
            await ctx.stderr.write(
                f"git: '{sub}' is not a git command. See 'git --help'.\n".encode(
                    "utf-8", "surrogateescape"
                )
            )
        return 1
    g = Git(ctx.fs.with_cwd(cwd), cwd, env)
    try:
        if net is not None:
            status = await net(g, split_clusters(sub, rest), _http(ctx))
        else:
            assert fn is not None
            status = fn(g, split_clusters(sub, rest))
    except GitError as exc:
        status = exc.status
        g.warn(f"{exc.prefix}{exc.message}\n")
    except LimitExceeded:
        raise
    except UnicodeError:
        status = 128
        g.warn("fatal: names that are not valid UTF-8 are not supported in this VM\n")
    except PermissionError as exc:
        status = 128
        g.warn(f"fatal: {exc.filename or ''}: Permission denied\n")
    except OSError as exc:
        status = 128
        g.warn(f"fatal: {exc.filename or ''}: {exc.strerror or exc}\n")
    if g.out:
        await ctx.out(b"".join(g.out))
    if g.err:
        await ctx.stderr.write(b"".join(g.err))
    return status
