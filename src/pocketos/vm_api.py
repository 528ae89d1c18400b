"""What every flavour of VM shares: the result type, argument checks, the front of the file
API and the sync wrapper's plumbing.

The in-process :class:`~pocketos.AsyncVM`, the process-isolated
:class:`~pocketos.isolation.AsyncProcessVM` and the server client
:class:`~pocketos.remote.AsyncRemoteVM` offer one API; the parts of it that do not depend on
where the VM runs are written here once.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from pocketos.kernel.record import record

__all__ = [
    "ExecResult",
    "FileFront",
    "SyncFacade",
    "LIMIT_STATUS",
    "TIMEOUT_STATUS",
    "check_abs",
    "err_text",
    "to_bytes",
]

TIMEOUT_STATUS = 124
LIMIT_STATUS = 125


@record
class ExecResult:
    """What ``exec``/``run`` return. ``limit_hit`` names the limit that ended the work."""

    exit_code: int
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    duration: float = 0.0
    limit_hit: str | None = None

    def __init__(
        self,
        exit_code: int,
        stdout_bytes: bytes = b"",
        stderr_bytes: bytes = b"",
        duration: float = 0.0,
        limit_hit: str | None = None,
    ) -> None:
        self.exit_code = exit_code
        self.stdout_bytes = stdout_bytes
        self.stderr_bytes = stderr_bytes
        self.duration = duration
        self.limit_hit = limit_hit

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration": self.duration,
            "limit_hit": self.limit_hit,
        }


def check_abs(path: str) -> str:
    """``path`` if it is an absolute, normalized str path (a trailing slash is allowed);
    TypeError or ValueError naming what is wrong otherwise."""
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    if "\0" in path:
        raise ValueError(f"path contains a NUL byte: {path!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must be absolute: {path!r}")
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm != path and path.rstrip("/") != norm:
        raise ValueError(f"path must be normalized: {path!r} (did you mean {norm!r}?)")
    return norm


def to_bytes(data: str | bytes | bytearray) -> bytes:
    """File or stdin data as bytes: str is UTF-8 (surrogateescape), anything but str or a
    bytes-like object is a TypeError."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        # bytes(123) would be 123 zero bytes
        raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
    return bytes(data)


def err_text(exc: BaseException) -> str:
    """An error as the batch file calls report it: ``strerror: filename`` for an OSError."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


class FileFront:
    """``read_text`` and ``write_file``'s signature, over a flavour's ``read_file`` and
    ``_put_file`` (which checks the path and data in its own order)."""

    def read_file(self, path: str) -> bytes:
        raise NotImplementedError

    def _put_file(
        self, path: str, data: str | bytes, *, parents: bool, mode: int | None, append: bool
    ) -> None:
        raise NotImplementedError

    def read_text(self, path: str) -> str:
        return self.read_file(path).decode("utf-8", "replace")

    def write_file(
        self,
        path: str,
        data: str | bytes,
        *,
        parents: bool = False,
        mode: int | None = None,
        append: bool = False,
    ) -> None:
        self._put_file(path, data, parents=parents, mode=mode, append=append)


class _AsyncSide(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def closed(self) -> bool: ...


A = TypeVar("A", bound=_AsyncSide)


class SyncFacade(Generic[A]):
    """The sync twin's plumbing around the async VM it wraps (``_vm``)."""

    _vm: A

    @property
    def async_vm(self) -> A:
        return self._vm

    @property
    def id(self) -> str:
        return self._vm.id

    @property
    def closed(self) -> bool:
        return self._vm.closed

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
