"""``/v1/vms/{id}/files/...``: the VM's files.

- ``GET /files/{path}`` the bytes; ``PUT`` writes the body (``?parents=1`` makes the parent
  directories, ``?mode=0644``); ``DELETE`` removes (``?recursive=1`` for a directory).
- ``GET /stat/{path}``, ``GET /list/{path}`` (one entry per name, with type, size, mode and
  mtime), ``POST /mkdir/{path}`` (``?parents=1``).
- ``GET /tar/{path}`` a tar of a directory; ``PUT /tar/{path}`` unpacks a tar there. Both run the
  VM's own ``tar``, so the VM's policy and limits apply to them as to anything else.

Paths are absolute in the VM: ``/files/home/user/a.txt`` is ``/home/user/a.txt``.
"""

from __future__ import annotations

import stat as S
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketos.server.errors import ApiError
from pocketos.server.openapi import api
from pocketos.server.registry import Hosted
from pocketos.server.state import state_of, vm_of

__all__ = ["routes", "stat_dict"]

_TYPES = {
    S.S_IFREG: "file",
    S.S_IFDIR: "directory",
    S.S_IFLNK: "symlink",
    S.S_IFIFO: "fifo",
    S.S_IFCHR: "char-device",
    S.S_IFBLK: "block-device",
    S.S_IFSOCK: "socket",
}


def _path(request: Request) -> str:
    p = "/" + request.path_params.get("path", "").lstrip("/")
    if p != "/" and p.endswith("/"):
        p = p.rstrip("/")
    return p


def _flag(request: Request, name: str) -> bool:
    v = request.query_params.get(name, "0").lower()
    if v not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ApiError(422, "invalid_request", f"?{name}= must be 0 or 1, not {v!r}")
    return v in ("1", "true", "yes", "")


def stat_dict(st: Any) -> dict[str, Any]:
    return {
        "type": _TYPES.get(S.S_IFMT(st.st_mode), "unknown"),
        "size": st.st_size,
        "mode": oct(S.S_IMODE(st.st_mode)),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime": st.st_mtime,
        "nlink": st.st_nlink,
        # the whole stat, for clients that rebuild a StatResult
        "st_mode": st.st_mode,
        "st_ino": st.st_ino,
        "st_dev": st.st_dev,
        "st_atime_ns": st.st_atime_ns,
        "st_mtime_ns": st.st_mtime_ns,
        "st_ctime_ns": st.st_ctime_ns,
    }


async def read(request: Request) -> Response:
    h = await vm_of(request)
    data = await h.call("read_file", _path(request))
    return Response(data, media_type="application/octet-stream")


async def write(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    if path == "/":
        raise ApiError(422, "invalid_request", "give a file path")
    kw: dict[str, Any] = {}
    mode = request.query_params.get("mode")
    if mode is not None:
        try:
            kw["mode"] = int(mode, 8)
        except ValueError:
            raise ApiError(422, "invalid_request", f"?mode= must be octal, not {mode!r}")
    if _flag(request, "parents") if "parents" in request.query_params else False:
        parent = path.rsplit("/", 1)[0] or "/"
        await h.call("mkdir", parent, parents=True, exist_ok=True)
    if "append" in request.query_params and _flag(request, "append"):
        kw["append"] = True
    data = await request.body()
    await h.call("write_file", path, data, **kw)
    return JSONResponse({"path": path, "size": len(data)}, status_code=201)


async def remove(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    if path == "/":
        raise ApiError(403, "EPERM", "the root directory cannot be removed")
    rec = _flag(request, "recursive") if "recursive" in request.query_params else False
    await h.call("delete", path, recursive=rec)
    return JSONResponse({"path": path, "deleted": True})


async def stat(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    st = await h.call("lstat", path)
    return JSONResponse({"path": path, **stat_dict(st)})


async def listdir(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    names = sorted(await h.call("readdir", path))
    entries = []
    for name in names:
        full = path.rstrip("/") + "/" + name
        try:
            st = await h.call("lstat", full)
            entries.append({"name": name, **stat_dict(st)})
        except OSError:
            entries.append({"name": name, "type": "unknown"})
    return JSONResponse({"path": path, "entries": entries})


async def mkdir(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    parents = _flag(request, "parents") if "parents" in request.query_params else False
    exist_ok = _flag(request, "exist_ok") if "exist_ok" in request.query_params else parents
    await h.call("mkdir", path, parents=parents, exist_ok=exist_ok)
    return JSONResponse({"path": path, "created": True}, status_code=201)


async def _tar(h: Hosted, request: Request, argv: list[str], stdin: bytes | None) -> Any:
    limit = state_of(request).config.max_request_bytes or (1 << 30)
    limits = {"max_output_bytes": max(limit, 1 << 20)}
    h.busy += 1
    try:
        return await h.run(h.vm.run(argv, stdin=stdin, limits=limits))
    finally:
        h.busy -= 1


async def tar_download(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    st = await h.call("stat", path)
    if not S.S_ISDIR(st.st_mode):
        raise ApiError(409, "ENOTDIR", f"Not a directory: {path}")
    res = await _tar(h, request, ["tar", "-C", path, "-cf", "-", "."], None)
    if res.exit_code != 0:
        raise ApiError(409, "tar_failed", res.stderr.strip() or f"tar exited {res.exit_code}")
    name = (path.rstrip("/").rsplit("/", 1)[-1] or "root") + ".tar"
    return Response(
        res.stdout_bytes,
        media_type="application/x-tar",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


async def tar_upload(request: Request) -> Response:
    h = await vm_of(request)
    path = _path(request)
    data = await request.body()
    await h.call("mkdir", path, parents=True, exist_ok=True)
    res = await _tar(h, request, ["tar", "-C", path, "-xf", "-"], data)
    if res.exit_code != 0:
        raise ApiError(422, "tar_failed", res.stderr.strip() or f"tar exited {res.exit_code}")
    return JSONResponse({"path": path, "size": len(data)}, status_code=201)


_BIN = "application/octet-stream"
routes = [
    api("/v1/vms/{vm_id}/files/{path:path}", read, ["GET"], "Read a file", produces=_BIN),
    api(
        "/v1/vms/{vm_id}/files/{path:path}",
        write,
        ["PUT"],
        "Write a file (the body is its bytes)",
        raw_body=_BIN,
        query={
            "parents": "1: make missing parent directories",
            "mode": "octal mode",
            "append": "1: append to the file",
        },
        status=201,
    ),
    api(
        "/v1/vms/{vm_id}/files/{path:path}",
        remove,
        ["DELETE"],
        "Remove a file or directory",
        query={"recursive": "1: remove a directory and what it holds"},
    ),
    api("/v1/vms/{vm_id}/stat/{path:path}", stat, ["GET"], "Stat a path (lstat)"),
    api("/v1/vms/{vm_id}/list/{path:path}", listdir, ["GET"], "List a directory"),
    api(
        "/v1/vms/{vm_id}/mkdir/{path:path}",
        mkdir,
        ["POST"],
        "Make a directory",
        query={
            "parents": "1: make parents too, no error if it exists",
            "exist_ok": "1: no error if it exists (default: as parents)",
        },
        status=201,
    ),
    api(
        "/v1/vms/{vm_id}/tar/{path:path}",
        tar_download,
        ["GET"],
        "Download a directory as a tar",
        produces="application/x-tar",
    ),
    api(
        "/v1/vms/{vm_id}/tar/{path:path}",
        tar_upload,
        ["PUT"],
        "Unpack a tar (the body) into a directory",
        raw_body="application/x-tar",
        status=201,
    ),
]
