"""The wire protocol between the host and a VM worker process.

One pipe each way. A frame is a 4-byte big-endian length followed by that many bytes of UTF-8
JSON (one object). ``bytes`` values travel as ``{"$b": "<base64>"}``; nothing else is special.
Frames are bounded by :data:`MAX_FRAME` in both directions: the host treats a bigger or
malformed frame from a worker as a protocol violation and kills the worker.

Messages (every request carries an ``id``; replies and events echo it):

host -> worker
  ``{"id", "op": "open", "vm": handle, "options": {...}, "state": <commit> | null,
  "landlock": bool}`` — the reply's value lists sandbox notes added by opening
  ``{"id", "op": "call", "vm": handle, "method": name, "args": [...], "kwargs": {...}}``
  ``{"id", "op": "exec", "vm": handle, "script" | "argv", "kwargs": {...}, "stream": bool}``
  ``{"id", "op": "commit", "vm": handle, "force": bool}``
  ``{"id", "op": "close", "vm": handle}``
  ``{"id", "op": "spawn", "vm", "argv", "kwargs"}`` (value: pid), ``{"id", "op": "proc_poll",
  "vm", "pid"}`` (value: ``{"stdout", "stderr", "exit": int | null}``), ``proc_write``
  (``pid``, ``data``), ``proc_close_stdin`` (``pid``)
  ``{"id", "op": "obj_open", "vm", "kind": "python" | "shell", "kwargs"}`` (value: an object
  id), ``obj_run`` (``oid``, ``arg``, ``kwargs``), ``obj_close`` (``oid``)
  ``{"id", "op": "term_open", "vm", "kwargs": {cols, rows, env, cwd, timeout}}`` (value:
  ``{"tid", "name"}``), ``term_write`` (``tid``, ``data``), ``term_resize`` (``tid``, ``cols``,
  ``rows``), ``term_ack`` (``tid``, ``n``: output bytes the host has taken), ``term_close``
  (``tid``; value: the exit status)
  ``{"id", "op": "ping"}`` and ``{"id", "op": "exit"}``
  ``{"op": "answer", "cb": n, "ok": bool, "value" | "error"}`` — the answer to a callback

worker -> host
  first frame, unprompted: ``{"op": "hello", "pid": int, "sandbox": [notes], "environ":
  [names it started with], "fds": {fd: target}}``
  ``{"id", "ok": true, "value": ..., "state": <commit>?}`` — the reply; ``state`` is present
  when the VM's root filesystem changed since the last commit; ``commit_error`` replaces it
  when the change was too big for a frame
  ``{"id", "ok": false, "error": {"type", "errno", "message", "filename", "filename2"}}``
  ``{"id", "event": "stdout" | "stderr", "data": bytes}`` — streamed output of an exec
  ``"audit": [event, ...]`` in a reply — the VM's audit events since its last reply
  ``{"term": tid, "cols", "rows", "running", "data": bytes}`` and last ``{"term": tid, ...,
  "exit": int}`` — a terminal's output, sent unprompted whenever it is produced (at most
  256 KiB not acknowledged by ``term_ack``), between requests too
  ``{"callback": n, "vm": handle, "kind": "tool", "kit", "tool", "args"}`` or ``{"callback":
  n, "vm", "kind": "ask", "request": {"domain", "operation", "resource", "pid", "details"}}``
  — a question for the host, sent only while the host waits for a reply; the worker reads
  nothing but the answer until it comes, and sends one callback at a time
"""

from __future__ import annotations

import base64
import errno as _errno
import json
import os
import struct
from typing import Any

__all__ = [
    "MAX_FRAME",
    "ProtocolError",
    "decode",
    "encode",
    "error_from_wire",
    "error_to_wire",
    "read_frame",
    "write_frame",
    "write_raw",
]

#: the largest frame either side accepts (a VM's committed state travels in one frame)
MAX_FRAME = 512 * 1024 * 1024

_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame, or the pipe closed mid-frame."""


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot send {type(obj).__name__} to a worker process")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$b" in obj:
        value = obj["$b"]
        if not isinstance(value, str):
            raise ProtocolError("a $b value must be a base64 string")
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ProtocolError(f"bad base64 in frame: {exc}") from None
    return obj


def encode(message: dict[str, Any]) -> bytes:
    """One frame: the length header and the JSON body."""
    body = json.dumps(message, default=_default, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise ProtocolError(
            f"message of {len(body)} bytes exceeds the {MAX_FRAME}-byte frame limit"
        )
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(body, object_hook=_hook)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad frame: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a frame must hold a JSON object")
    return msg


def _read_exact(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any]:
    """Read one message from a blocking fd. EOFError at a clean end of stream."""
    head = os.read(fd, 4)
    if not head:
        raise EOFError("pipe closed")
    if len(head) < 4:
        head += _read_exact(fd, 4 - len(head))
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    try:
        body = _read_exact(fd, size)
    except EOFError:
        raise ProtocolError("pipe closed in the middle of a frame") from None
    return decode(body)


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one message to a blocking fd (all of it)."""
    write_raw(fd, encode(message))


def write_raw(fd: int, frame: bytes) -> None:
    """Write an encoded frame to a blocking fd (all of it)."""
    data = memoryview(frame)
    while data:
        n = os.write(fd, data)
        data = data[n:]


_ERROR_TYPES: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        OSError,
        FileNotFoundError,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
        BrokenPipeError,
        ProcessLookupError,
        ValueError,
        TypeError,
        KeyError,
        NotImplementedError,
        TimeoutError,
    )
}


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """What the worker sends for an exception raised by a VM method."""
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, OSError):
        out.update(
            errno=exc.errno,
            message=exc.strerror or str(exc),
            filename=exc.filename if isinstance(exc.filename, str) else None,
            filename2=exc.filename2 if isinstance(exc.filename2, str) else None,
        )
    from pocketos.errors import LimitExceeded

    if isinstance(exc, LimitExceeded):
        out["limit"] = exc.limit
    return out


def error_from_wire(err: Any) -> BaseException:
    """Rebuild the exception on the host: OSErrors keep their errno and class, pocketos errors
    their type; anything else becomes a :class:`~pocketos.errors.PocketOSError`. Only known
    types are ever built (the worker is not trusted)."""
    from pocketos.errors import LimitExceeded, PocketOSError, fs_error

    if not isinstance(err, dict):
        return ProtocolError("malformed error reply")
    kind = str(err.get("type", ""))
    message = str(err.get("message", ""))
    code = err.get("errno")
    if isinstance(code, int) and (kind in _ERROR_TYPES or kind.endswith("Error")):
        fn = err.get("filename")
        fn2 = err.get("filename2")
        exc = fs_error(
            code,
            fn if isinstance(fn, str) else None,
            message or os.strerror(code),
            fn2 if isinstance(fn2, str) else None,
        )
        return exc
    if kind == "LimitExceeded":
        return LimitExceeded(str(err.get("limit", "")), message)
    if kind == "PocketOSError":
        return PocketOSError(message)
    cls = _ERROR_TYPES.get(kind)
    if cls is not None and not issubclass(cls, OSError):
        return cls(message)
    if kind in ("OSError",):
        return OSError(_errno.EIO, message)
    return PocketOSError(f"{kind}: {message}" if kind else message)
