"""One ``git`` invocation: its view of the VM, environment, output buffers and shared helpers
(identity, paths relative to the current directory, option errors)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from pocketos.git.format import now_date, parse_date
from pocketos.git.repo import GitError, Repo, find_repo, read_global_config
from pocketos.kernel.fs.view import FsView

__all__ = ["Git", "UsageError", "parse_options"]


class UsageError(GitError):
    """An unknown option or a missing argument: git's ``error: …`` and status 129."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 129, "error: ")


def parse_options(
    args: list[str],
    flags: dict[str, str],
    values: dict[str, str] | None = None,
    ignored: tuple[str, ...] = (),
) -> tuple[dict[str, str | bool], list[str]]:
    """Options the way git's parse-options reads them (short clusters are split before).

    ``flags`` maps each spelling to a name set to True; ``values`` maps spellings of options
    that take an argument (the next word, or ``--opt=value``); ``ignored`` are accepted and have
    no effect here. ``--`` is skipped; other words are returned in order. An unknown option is a
    :class:`UsageError`."""
    values = values or {}
    opts: dict[str, str | bool] = {}
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a in flags:
            opts[flags[a]] = True
        elif a in values:
            v = next(it, None)
            if v is None:
                raise UsageError(f"option `{a.lstrip('-')}' requires a value")
            opts[values[a]] = v
        elif a.startswith("--") and a.split("=", 1)[0] in values and "=" in a:
            key, v = a.split("=", 1)
            opts[values[key]] = v
        elif a in ignored or a == "--":
            continue
        elif a.startswith("-") and a != "-":
            raise UsageError(f"unknown option `{a.lstrip('-')}'")
        else:
            rest.append(a)
    return opts, rest


@dataclass
class Git:
    fs: FsView
    cwd: str
    env: dict[str, str]
    out: list[bytes] = field(default_factory=list)
    err: list[bytes] = field(default_factory=list)
    _repo: Repo | None = None

    def print(self, text: str | bytes = "") -> None:
        # names from argv or the filesystem may carry undecodable bytes as surrogates
        self.out.append(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)

    def warn(self, text: str) -> None:
        self.err.append(text.encode("utf-8", "surrogateescape"))

    @property
    def repo(self) -> Repo:
        if self._repo is None:
            start = self.env.get("GIT_DIR") or self.cwd
            self._repo = find_repo(self.fs, start)
        return self._repo

    def work_repo(self) -> Repo:
        r = self.repo
        if r.worktree is None:
            raise GitError("this operation must be run in a work tree")
        return r

    @property
    def home(self) -> str | None:
        return self.env.get("HOME")

    # --- paths -----------------------------------------------------------------------------
    def prefix(self) -> str:
        """The current directory relative to the top of the work tree ('' at the top)."""
        top = self.work_repo().worktree or "/"
        cwd = self.fs.abspath(self.cwd).rstrip("/") or "/"
        if cwd == top:
            return ""
        if not cwd.startswith(top.rstrip("/") + "/"):
            raise GitError(f"'{cwd}' is outside repository at '{top}'")
        return cwd[len(top.rstrip("/")) + 1 :]

    def to_repo_path(self, arg: str) -> str:
        """A path argument as a repository path ('' for the top)."""
        top = (self.work_repo().worktree or "/").rstrip("/")
        full = posixpath.normpath(self.fs.abspath(arg))
        if full == top or (top == "" and full == "/"):
            return ""
        if not full.startswith(top + "/"):
            raise GitError(f"{arg}: '{arg}' is outside repository at '{top or '/'}'")
        return full[len(top) + 1 :]

    def rel(self, repo_path: bytes | str) -> str:
        """A repository path as shown relative to the current directory."""
        p = repo_path.decode() if isinstance(repo_path, bytes) else repo_path
        pre = self.prefix()
        if not pre:
            return p
        trailing = "/" if p.endswith("/") else ""
        r = posixpath.relpath("/" + p.rstrip("/"), "/" + pre)
        return r + trailing

    # --- configuration and identity -----------------------------------------------------
    def config_get(self, section: tuple[bytes, ...], key: bytes) -> bytes | None:
        for cfg in (self._repo_config(), read_global_config(self.fs, self.home)):
            if cfg is None:
                continue
            try:
                return cfg.get(section, key)  # type: ignore[no-any-return]
            except KeyError:
                continue
        return None

    def _repo_config(self):  # type: ignore[no-untyped-def]
        try:
            return self.repo.config()
        except GitError:
            return None

    def identity(self, role: str) -> tuple[bytes, int, int]:
        """``Name <email>``, time and offset for ``author`` or ``committer``."""
        up = role.upper()
        name = self.env.get(f"GIT_{up}_NAME")
        email = self.env.get(f"GIT_{up}_EMAIL")
        if name is None:
            v = self.config_get((b"user",), b"name")
            name = v.decode() if v is not None else None
        if email is None:
            v = self.config_get((b"user",), b"email")
            email = v.decode() if v is not None else self.env.get("EMAIL")
        if not name or not email:
            raise GitError(
                "unable to auto-detect email address"
                if not email
                else "empty ident name not allowed",
                128,
                "Author identity unknown\n\n*** Please tell me who you are.\n\nRun\n\n"
                '  git config --global user.email "you@example.com"\n'
                '  git config --global user.name "Your Name"\n\n'
                "to set your account's default identity.\n"
                "Omit --global to set the identity only in this repository.\n\nfatal: ",
            )
        date = self.env.get(f"GIT_{up}_DATE")
        try:
            ts, off = parse_date(date) if date else now_date()
        except ValueError as exc:
            raise GitError(str(exc)) from None
        return f"{name} <{email}>".encode(), ts, off
