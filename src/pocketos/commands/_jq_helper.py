"""The jq helper process: evaluates jq programs for the jq and yq commands.

libjq keeps the GIL for as long as it evaluates, so a program such as ``def f: f; f`` can be
neither interrupted nor bounded inside the host process. The host runs each evaluation here
instead, in a process it can kill at the exec's deadline and whose address space it caps at
what is left of the exec's memory. This file is run as a script (``python -P _jq_helper.py``)
and imports only the standard library and ``jq``, so that it starts quickly and never imports
pocketos.

Protocol over stdin/stdout, one frame per message: an op byte, a 4-byte big-endian length, the
payload. The host sends ``P`` (compile: JSON ``{"text", "args", "bare"}``), ``R`` (run the
compiled program on JSON texts joined by NUL, one value each), ``T`` (run it on one text of any
number of values, which libjq parses itself), ``M`` (more results) and ``S`` (stop this run).
The helper answers ``Y`` once ready and ``K`` (both with its sizes) or ``E`` (a compile error, JSON
``{"msg"}``) to ``P``, and ``B`` frames of results to ``R``/``T``/``M``: a done byte (and, when
it is 1, the helper's sizes: address space and resident bytes, 8 bytes each), then events, each
a kind byte (``o`` output, ``e`` jq error, ``p`` parse error of the input, which ends it, ``x``
other failure), a 4-byte input index (the value's position in its run), a 4-byte length and
UTF-8 text. After a ``B`` whose done byte is 0 the helper waits for ``M`` or ``S``.

Every program is compiled inside ``(try (PROGRAM) catch [.]), null``: a jq error becomes a
one-element array holding the error value and each input's results end with ``null`` (the
program's own results are strings: it ends in ``tojson``). So one call of libjq can parse a
whole text of many values and still say which value each result and error belongs to; an
exception out of that call can only be a parse error.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Iterator
from typing import Any

_HEAD = struct.Struct(">cI")
_EVENT = struct.Struct(">cII")
_SIZES = struct.Struct(">QQ")
#: results per batch, and bytes of result text after which a batch is sent early
BATCH_EVENTS = 8192
BATCH_BYTES = 1 << 20
_CACHE_MAX = 32


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the host goes away (a busy helper never reads the
    EOF that tells an idle one)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


class _Pipe:
    def __init__(self) -> None:
        self.rfd = sys.stdin.fileno()
        self.wfd = sys.stdout.fileno()

    def read_exact(self, n: int) -> bytearray | None:
        # into one buffer: a large input is held once, not in parts and then joined
        buf = bytearray(n)
        view = memoryview(buf)
        pos = 0
        while pos < n:
            got = os.readv(self.rfd, [view[pos : pos + (1 << 20)]])
            if not got:
                return None
            pos += got
        view.release()
        return buf

    def recv(self) -> tuple[bytes, bytearray] | None:
        head = self.read_exact(_HEAD.size)
        if head is None:
            return None
        op, size = _HEAD.unpack(head)
        payload = self.read_exact(size)
        if payload is None:
            return None
        return op, payload

    def send(self, op: bytes, payload: bytes = b"") -> None:
        data = memoryview(_HEAD.pack(op, len(payload)) + payload)
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]


def _wrap(text: str) -> str:
    """The program as it is compiled: errors and the end of each input become results."""
    return "(try (" + text + "\n) catch [.]), null"


def _error_text(value: Any) -> str:
    # what jq.py's exception says for an error value: the string, or the value as JSON
    return value if isinstance(value, str) else json.dumps(value)


def _results(prog: Any, items: list[str]) -> Iterator[tuple[bytes, int, str]]:
    """Results of a program compiled by :func:`_compile` on ``items``, one JSON value each."""
    for i, text in enumerate(items):
        yield from _events(prog, text, i, b"e")


def _text_results(prog: Any, text: str) -> Iterator[tuple[bytes, int, str]]:
    """Results of a program compiled by :func:`_compile` on every value of ``text``, which
    libjq parses (a parse error ends the run, as in jq)."""
    return _events(prog, text, 0, b"p")


def _events(
    prog: Any, text: str, index: int, parse_error: bytes
) -> Iterator[tuple[bytes, int, str]]:
    """(kind, value index, text) of each result of ``text``'s values, counted from ``index``;
    an exception out of libjq (the text does not parse) is reported as ``parse_error``."""
    try:
        for value in prog.input_text(text):
            if type(value) is str:
                yield b"o", index, value
            elif value is None:
                index += 1
            else:
                yield b"e", index, _error_text(value[0])
    except ValueError as exc:
        yield parse_error, index, str(exc)
    except MemoryError:
        raise
    except Exception as exc:  # the engine must not end the helper
        yield b"x", index, f"{type(exc).__name__}: {exc}"


def _compile(jq: Any, cache: dict[str, Any], req: dict[str, Any]) -> tuple[Any, str | None]:
    key = req["text"] + "\0" + json.dumps(req["args"], sort_keys=True)
    prog = cache.get(key)
    if prog is not None:
        return prog, None
    try:
        prog = jq.compile(_wrap(req["text"]), args=req["args"])
    except ValueError:
        # compile the user's own program to report the error at its line and column
        try:
            jq.compile(req["bare"], args=req["args"])
        except ValueError as exc:
            return None, str(exc)
        except Exception as exc:
            return None, f"jq: error: {exc}\njq: 1 compile error"
        return None, None
    if len(cache) >= _CACHE_MAX:
        cache.pop(next(iter(cache)))
    cache[key] = prog
    return prog, None


def _serve(pipe: _Pipe) -> None:
    import jq

    cache: dict[str, Any] = {}
    prog: Any = None
    pipe.send(b"Y", _sizes())
    while True:
        msg = pipe.recv()
        if msg is None:
            return
        op, payload = msg
        del msg
        if op == b"P":
            prog, err = _compile(jq, cache, json.loads(payload))
            if prog is None:
                pipe.send(b"E", json.dumps({"msg": err}).encode())
            else:
                pipe.send(b"K", _sizes())
        elif op == b"R" and prog is not None:
            items = payload.decode("utf-8", "surrogatepass").split("\0")
            del payload  # the input is held once while it is evaluated
            if not _run(pipe, _results(prog, items)):
                return
        elif op == b"T" and prog is not None:
            text = payload.decode("utf-8", "replace")
            del payload
            if not _run(pipe, _text_results(prog, text)):
                return


def _sizes() -> bytes:
    """This process's address-space and resident sizes (two 8-byte numbers), which the host
    uses to cap the next run and to decide whether to reuse the helper."""
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        page = os.sysconf("SC_PAGE_SIZE")
        return _SIZES.pack(int(fields[0]) * page, int(fields[1]) * page)
    except (OSError, ValueError, IndexError):
        return _SIZES.pack(0, 0)


def _run(pipe: _Pipe, results: Iterator[tuple[bytes, int, str]]) -> bool:
    """Send the results batch by batch; False when the host has gone."""
    pack = _EVENT.pack
    while True:
        parts: list[bytes] = []
        size = 0
        done = True
        for kind, i, text in results:
            data = text.encode("utf-8", "surrogatepass")
            parts.append(pack(kind, i, len(data)))
            parts.append(data)
            size += len(data)
            if len(parts) >= 2 * BATCH_EVENTS or size >= BATCH_BYTES:
                done = False
                break
        pipe.send(b"B", (b"\1" + _sizes() if done else b"\0") + b"".join(parts))
        if done:
            return True
        msg = pipe.recv()
        if msg is None:
            return False
        if msg[0] != b"M":
            return True


def main() -> None:
    _die_with_parent()
    try:
        _serve(_Pipe())
    except MemoryError:
        os._exit(3)
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)


if __name__ == "__main__":
    main()
