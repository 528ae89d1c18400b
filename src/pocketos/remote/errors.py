"""The server's JSON errors as the exceptions a local VM raises."""

from __future__ import annotations

import errno
from typing import Any

from pocketos.errors import PocketOSError, fs_error

__all__ = ["RemoteError", "raise_for"]


class RemoteError(PocketOSError):
    """An error the server answered: HTTP ``status`` and its ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


class RemoteNotSupported(RemoteError, NotImplementedError):
    """The server (or this VM there) does not offer the feature (501)."""


class RemoteInvalid(RemoteError, ValueError):
    """The server refused the request's values (422)."""


def error_from(status: int, body: Any, path: str | None = None) -> Exception:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return RemoteError(status, f"http_{status}", f"HTTP {status}")
    code = str(err.get("code", f"http_{status}"))
    message = str(err.get("message", ""))
    num = getattr(errno, code, None) if code.isupper() and code.startswith("E") else None
    if isinstance(num, int):
        text = message
        if path and text.endswith(f": {path}"):
            text = text[: -len(f": {path}")]
        return fs_error(num, path, text)
    if status == 501:
        return RemoteNotSupported(status, code, message)
    if status == 422:
        return RemoteInvalid(status, code, message)
    return RemoteError(status, code, message)


#: the HTTP status an error frame of a WebSocket stands for, by its code
_FRAME_STATUS = {
    "not_supported": 501,
    "conflict": 409,
    "invalid_request": 422,
    "limit_exceeded": 413,
    "not_found": 404,
    "vm_not_found": 404,
}


def frame_status(frame: Any) -> int:
    """The status of a WebSocket ``{"type": "error", "error": {code, message}}`` frame."""
    err = frame.get("error") if isinstance(frame, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return _FRAME_STATUS.get(str(code), 400)


def raise_for(status: int, body: Any, path: str | None = None) -> None:
    if status >= 400:
        raise error_from(status, body, path)
