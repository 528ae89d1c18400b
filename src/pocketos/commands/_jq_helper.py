"""The jq helper process: evaluates jq programs for the jq and yq commands.

libjq keeps the GIL for as long as it evaluates, so a program such as ``def f: f; f`` can be
neither interrupted nor bounded inside the host process. The host runs each evaluation here
instead, in a process it can kill at the exec's deadline and whose address space it caps at
what is left of the exec's memory. This file is run as a script (``python -P _jq_helper.py``)
and imports only the standard library and ``jq``, so that it starts quickly and never imports
pocketos.

Protocol over stdin/stdout, one frame per message: an op byte, a 4-byte big-endian length, the
payload. The host sends ``P`` (compile: JSON ``{"text", "args", "bare"}``), ``R`` (run the
compiled program on JSON texts joined by NUL), ``M`` (more results) and ``S`` (stop this run).
The helper answers ``Y`` once ready, ``K`` (with its sizes) or ``E`` (a compile error, JSON
``{"msg"}``) to ``P``, and ``B`` frames of results to ``R``/``M``: a done byte (and, when it is
1, the helper's sizes: address space and resident bytes, 8 bytes each), then events, each a kind byte
(``o`` output, ``e`` jq error, ``x`` other failure), a 4-byte input index, a 4-byte length and
UTF-8 text. After a ``B`` whose done byte is 0 the helper waits for ``M`` or ``S``.
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

    def read_exact(self, n: int) -> bytes | None:
        parts: list[bytes] = []
        while n:
            data = os.read(self.rfd, min(n, 1 << 20))
            if not data:
                return None
            parts.append(data)
            n -= len(data)
        return b"".join(parts)

    def recv(self) -> tuple[bytes, bytes] | None:
        head = self.read_exact(_HEAD.size)
        if head is None:
            return None
        op, size = _HEAD.unpack(head)
        payload = self.read_exact(size) if size else b""
        if payload is None:
            return None
        return op, payload

    def send(self, op: bytes, payload: bytes = b"") -> None:
        data = memoryview(_HEAD.pack(op, len(payload)) + payload)
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]


def _results(prog: Any, items: list[str]) -> Iterator[tuple[bytes, int, str]]:
    for i, text in enumerate(items):
        try:
            for value in prog.input_text(text):
                yield b"o", i, value
        except ValueError as exc:
            yield b"e", i, str(exc)
        except MemoryError:
            raise
        except Exception as exc:  # the engine must not end the helper
            yield b"x", i, f"{type(exc).__name__}: {exc}"


def _compile(jq: Any, cache: dict[str, Any], req: dict[str, Any]) -> tuple[Any, str | None]:
    key = req["text"] + "\0" + json.dumps(req["args"], sort_keys=True)
    prog = cache.get(key)
    if prog is not None:
        return prog, None
    try:
        prog = jq.compile(req["text"], args=req["args"])
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
    pipe.send(b"Y")
    while True:
        msg = pipe.recv()
        if msg is None:
            return
        op, payload = msg
        if op == b"P":
            prog, err = _compile(jq, cache, json.loads(payload))
            if prog is None:
                pipe.send(b"E", json.dumps({"msg": err}).encode())
            else:
                pipe.send(b"K", _sizes())
        elif op == b"R" and prog is not None:
            items = payload.decode("utf-8", "surrogatepass").split("\0")
            if not _run(pipe, _results(prog, items)):
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
