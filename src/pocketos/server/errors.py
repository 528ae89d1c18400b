"""JSON errors everywhere: ``{"error": {"code": ..., "message": ...}}``.

Handlers raise :class:`ApiError`; the exception handlers here turn it, Starlette's own 404/405,
body validation failures and the VM's errors (``OSError`` with errno, limits, closed VMs,
features a VM lacks) into that shape with a fitting status.
"""

from __future__ import annotations

import errno
import json
import logging
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketos.errors import LimitExceeded, PocketOSError

__all__ = ["ApiError", "error_response", "EXCEPTION_HANDLERS", "error_body"]

log = logging.getLogger("pocketos.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    501: "not_supported",
}

#: errno -> HTTP status for the VM's OSErrors
_ERRNO_STATUS = {
    errno.ENOENT: 404,
    errno.ESRCH: 404,
    errno.EACCES: 403,
    errno.EPERM: 403,
    errno.EROFS: 403,
    errno.EEXIST: 409,
    errno.ENOTEMPTY: 409,
    errno.EBUSY: 409,
    errno.ENOSPC: 507,
    errno.EFBIG: 413,
    errno.EDQUOT: 507,
}


class ApiError(Exception):
    """An error the API reports as it is: HTTP ``status`` with a stable ``code``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def as_api_error(exc: BaseException) -> ApiError:
    """What the API says about ``exc`` raised by a VM operation."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, "EIO")
        msg = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) not in msg:
            msg = f"{msg}: {exc.filename}"
        return ApiError(_ERRNO_STATUS.get(exc.errno, 400), name, msg)
    if isinstance(exc, LimitExceeded):
        return ApiError(413, "limit_exceeded", f"{exc.limit}: {exc.message}")
    if isinstance(exc, NotImplementedError):
        return ApiError(501, "not_supported", str(exc) or "not supported")
    if isinstance(exc, ValidationError):
        first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())) or "body"
        return ApiError(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return ApiError(422, "invalid_request", str(exc).strip("'\""))
    if isinstance(exc, PocketOSError):
        code = getattr(exc, "code", None)
        return ApiError(400, code if isinstance(code, str) else "vm_error", str(exc))
    return ApiError(500, "internal_error", f"{type(exc).__name__}: {exc}")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers or None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}" + (
            f" (allowed: {allow})" if allow else ""
        )
    return error_response(exc.status_code, code, str(detail), dict(exc.headers or {}) or None)


async def _any_error(request: Request, exc: Exception) -> Response:
    err = as_api_error(exc)
    if err.status >= 500:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(err.status, err.code, err.message, err.headers or None)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    HTTPException: _http_error,
    # the VM's own errors become answers, not crashes ...
    OSError: _any_error,
    PocketOSError: _any_error,
    NotImplementedError: _any_error,
    ValidationError: _any_error,
    ValueError: _any_error,
    TypeError: _any_error,
    KeyError: _any_error,
    # ... and anything else is a 500 in the same shape (and logged)
    Exception: _any_error,
}


async def read_json(request: Request) -> Any:
    """The request's JSON body (an empty body is ``{}``), or a 415/422 ApiError."""
    body = await request.body()
    if not body.strip():
        return {}
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"expected application/json, not {ctype}")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_json", f"the body is not valid JSON: {exc}") from None
