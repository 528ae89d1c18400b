"""Filesystem permission decisions on the objects an operation really touches.

Policy rules name paths, but what they protect are the objects under those paths. Two
operations change which path an object answers to without touching the object itself:

* a rename or move gives every object below the source a new path (``mv /p/secrets /p/s2``
  moves ``/p/secrets/key`` to ``/p/s2/key``);
* a hard link gives an existing object a second path.

If the new path were judged alone, a rule on the old one would simply stop applying. So an
object may only take a new path that protects it at least as much as the old one: for every
operation where the new path's decision is weaker (allow < ask < deny) than the old one's, the
mover needs that permission on the old path (a read-protected file can be renamed out of its
directory only by someone who may read it). A hard link additionally needs ``write`` on the
object (the idea of Linux's ``protected_hardlinks``), and the link's path must allow ``link``.
Every object that arrives at a new path needs ``rename`` there too, so a tree cannot be moved
into a protected place that refuses creation.

When no rule that could deny or ask applies below either the source or the destination, the
subtree needs no walk (the common case costs one pattern scan per rule); otherwise every
object below the source is visited once.
"""

from __future__ import annotations

import stat as S
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pocketos.kernel.permissions import DOMAINS, Policy, glob_to_regex

if TYPE_CHECKING:
    from pocketos.kernel.fs.api import Backend

__all__ = ["FsGuard", "could_match_below"]

#: how strongly a decision protects
_STRENGTH = {"allow": 0, "ask": 1, "deny": 2}
#: the operations whose protection must survive a new path
GUARDED_OPS = tuple(op for op in DOMAINS["fs"] if op != "mount_sensitive")

Checker = Callable[[str, str], None]


def _segments(pattern: str) -> list[str]:
    if pattern == "/":
        return []
    return pattern.lstrip("/").split("/") if pattern.startswith("/") else pattern.split("/")


def _seg_match(pat: str, name: str) -> bool:
    return glob_to_regex(pat).match(name) is not None


def could_match_below(pattern: str, parts: tuple[str, ...] | list[str]) -> bool:
    """Whether ``pattern`` may match some path strictly below ``/parts`` (conservative: True
    when unsure)."""
    segs = _segments(pattern)

    def walk(i: int, j: int) -> bool:
        if j == len(parts):
            return i < len(segs)
        if i == len(segs):
            return False
        seg = segs[i]
        if seg == "**":
            if i == len(segs) - 1:
                return True
            return any(walk(i + 1, k) for k in range(j, len(parts) + 1))
        if "**" in seg:
            return True
        return _seg_match(seg, parts[j]) and walk(i + 1, j + 1)

    return walk(0, 0)


class FsGuard:
    """Checks that renames and hard links keep every object at least as protected."""

    def __init__(self, policy: Policy, check: Checker) -> None:
        self.policy = policy
        self.check = check

    def _plain_below(self, parts: list[str]) -> bool:
        """Every path below ``parts`` is allowed everything by the default alone."""
        dp = self.policy.domains.get("fs")
        if dp is None or dp.default != "allow":
            return False
        for rule in dp.rules:
            if rule.mode == "allow":
                continue
            if rule.patterns is None:
                return False
            if any(could_match_below(p, parts) for p in rule.patterns):
                return False
        return True

    def keeps_protection(self, old: str, new: str) -> None:
        """Raise PermissionError unless the object at ``old`` may answer to ``new``."""
        decide = self.policy.decide
        for op in GUARDED_OPS:
            was = decide("fs", op, old)
            if was == "allow":
                continue
            if _STRENGTH[decide("fs", op, new)] < _STRENGTH[was]:
                self.check(op, old)

    def check_rename(
        self,
        backend: Backend,
        bpath: str,
        sparts: list[str],
        dparts: list[str],
        is_dir: bool,
    ) -> None:
        src = "/" + "/".join(sparts)
        dst = "/" + "/".join(dparts)
        self.keeps_protection(src, dst)
        if not is_dir or (self._plain_below(sparts) and self._plain_below(dparts)):
            return
        for rel in _below(backend, bpath):
            old, new = src + rel, dst + rel
            self.check("rename", old)
            self.check("rename", new)
            self.keeps_protection(old, new)

    def check_link(self, sparts: list[str], dparts: list[str]) -> None:
        src = "/" + "/".join(sparts)
        dst = "/" + "/".join(dparts)
        self.check("write", src)
        self.check("link", dst)
        self.keeps_protection(src, dst)


def _below(backend: Backend, bpath: str) -> Iterator[str]:
    """'/name', '/name/sub' ... for every object below the directory ``bpath`` (parents
    first, links not followed)."""
    stack = [("", bpath)]
    while stack:
        rel, path = stack.pop()
        for name in sorted(backend.listdir(path)):
            child = path.rstrip("/") + "/" + name
            r = rel + "/" + name
            yield r
            try:
                st = backend.lstat(child)
            except OSError:
                continue
            if S.S_ISDIR(st.st_mode):
                stack.append((r, child))
