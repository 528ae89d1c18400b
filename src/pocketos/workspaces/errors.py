"""Errors of the workspace store."""

from __future__ import annotations

from pocketos.errors import PocketOSError

__all__ = [
    "WorkspaceError",
    "WorkspaceNotFoundError",
    "WorkspaceExistsError",
    "CorruptObjectError",
    "WorkspaceLockedError",
]


class WorkspaceError(PocketOSError):
    """Any failure of the workspace store."""


class WorkspaceNotFoundError(WorkspaceError, LookupError):
    """A workspace, base or run that does not exist."""


class WorkspaceExistsError(WorkspaceError):
    """Creating a workspace or base under a name already taken."""


class CorruptObjectError(WorkspaceError):
    """A stored blob or tree whose content does not match its digest (or cannot be decoded)."""


class WorkspaceLockedError(WorkspaceError, TimeoutError):
    """Another writer held the workspace's lock for longer than the timeout."""
