"""Error types raised by pocketos.

Filesystem and permission failures are plain :class:`OSError` subclasses carrying real errno
values, so ``except FileNotFoundError`` works as it does against a real disk. The helpers here
build them with a consistent message.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "LimitExceeded",
    "PocketOSError",
    "fs_error",
    "permission_denied",
]


class PocketOSError(Exception):
    """Base class for errors that are not OS errors (bad options, closed VMs, ...)."""


class LimitExceeded(PocketOSError):
    """A resource limit was hit. ``limit`` names it (``"max_commands"``, ``"timeout"`` ...)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


_ERRNO_CLASSES: dict[int, type[OSError]] = {
    _errno.ENOENT: FileNotFoundError,
    _errno.EEXIST: FileExistsError,
    _errno.EISDIR: IsADirectoryError,
    _errno.ENOTDIR: NotADirectoryError,
    _errno.EACCES: PermissionError,
    _errno.EPERM: PermissionError,
    _errno.EPIPE: BrokenPipeError,
}


def fs_error(
    code: int, path: str | None = None, message: str | None = None, path2: str | None = None
) -> OSError:
    """Return the OSError subclass for ``code`` (``FileNotFoundError`` for ENOENT ...)."""
    cls = _ERRNO_CLASSES.get(code, OSError)
    text = message or os.strerror(code)
    if path2 is not None:
        return cls(code, text, path, None, path2)
    if path is not None:
        return cls(code, text, path)
    return cls(code, text)


def permission_denied(capability: str, resource: str, reason: str = "") -> PermissionError:
    """A PermissionError (EACCES) whose message names the capability and the resource."""
    msg = f"Permission denied: {capability} on {resource}"
    if reason:
        msg += f" ({reason})"
    err = PermissionError(_errno.EACCES, msg, resource)
    err.capability = capability  # type: ignore[attr-defined]
    return err
