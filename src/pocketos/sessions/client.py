"""The VM's side of ACP for one session: the client methods (``fs/*``, ``terminal/*``,
``session/request_permission`` and the ``_pocketos/python`` extension) served from the VM,
so everything the agent does passes the VM's policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pocketos.sessions.terminals import Terminal

if TYPE_CHECKING:
    from pocketos.sessions.live import Session

__all__ = ["PYTHON_METHOD"]

_DUMP = {"mode": "json", "by_alias": True, "exclude_none": True}


def _dump(model: Any) -> dict[str, Any]:
    if hasattr(model, "model_dump"):
        return dict(model.model_dump(**_DUMP))
    return dict(model)


#: the ACP extension method serving the built-in agent's persistent Python interpreter
PYTHON_METHOD = "_pocketos/python"


def _bad(details: str, **data: Any) -> Exception:
    from acp import RequestError

    return RequestError.invalid_params({**data, "details": details})


def _want_str(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string", **{key: value})
    return value


def _want_int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{key} must be a non-negative integer", **{key: value})
    return value


class _VMClient:
    """The ACP client methods, served from the VM for one session.

    The hot methods work on the raw JSON-RPC params and return plain dicts (see
    :meth:`handler`): they check the params themselves, which costs a fraction of building
    and dumping the pydantic request and response models. The typed methods below are the
    same handlers for the library's router (used for everything else)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._raw: dict[str, Callable[[dict[str, Any]], Any]] = {
            "fs/read_text_file": self.raw_read_text_file,
            "fs/write_text_file": self.raw_write_text_file,
            "terminal/create": self.raw_create_terminal,
            "terminal/output": self.raw_terminal_output,
            "terminal/wait_for_exit": self.raw_wait_for_terminal_exit,
            "terminal/kill": self.raw_kill_terminal,
            "terminal/release": self.raw_release_terminal,
            "session/request_permission": self.raw_request_permission,
            PYTHON_METHOD: self.raw_python,
        }

    def handler(self, router: Any, tracker: Any) -> Callable[..., Any]:
        """A JSON-RPC method handler: the raw fast path for the client methods and
        ``session/update``, the library's router for the rest."""
        raw = self._raw

        async def handle(method: str, params: Any, is_notification: bool) -> Any:
            if isinstance(params, dict):
                if is_notification:
                    if method == "session/update":
                        sid = params.get("sessionId")
                        update = params.get("update")
                        if (
                            isinstance(sid, str)
                            and isinstance(update, dict)
                            and isinstance(update.get("sessionUpdate"), str)
                        ):
                            await tracker.session_update(session_id=sid, update=update)
                            return None
                else:
                    fn = raw.get(method)
                    if fn is not None:
                        return await fn(params)
            return await router(method, params, is_notification)

        return handle

    # -- notifications ---------------------------------------------------------------------
    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.s._on_update(update if type(update) is dict else _dump(update))

    # -- files -------------------------------------------------------------------------------
    def _path(self, path: Any) -> str:
        if not isinstance(path, str) or not path.startswith("/"):
            raise _bad("path must be absolute", path=path)
        return path

    def _os_error(self, exc: Exception, path: str) -> Exception:
        from acp import RequestError

        if isinstance(exc, FileNotFoundError):
            return RequestError(
                -32002,
                f"Resource not found: {path}",
                {"path": path, "error": "No such file or directory"},
            )
        if isinstance(exc, OSError):
            msg = exc.strerror or str(exc)
            # "Permission denied: fs.read on /p" names the path already
            text = msg if path in msg else f"{msg}: {path}"
            return RequestError(-32603, text, {"path": path, "errno": exc.errno, "error": msg})
        return RequestError(-32603, f"{exc}: {path}", {"path": path, "error": str(exc)})

    async def raw_read_text_file(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._path(params.get("path"))
        line = _want_int(params, "line")
        limit = _want_int(params, "limit")
        events = self.s.events
        try:
            data = self.s.vm.read_file(p)
        except (OSError, ValueError) as exc:
            events.emit("fs.read", {"path": p, "ok": False, "error": str(exc)})
            raise self._os_error(exc, p)
        text = data.decode("utf-8", "replace")
        size = len(data)
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max(0, (line or 1) - 1)
            end = len(lines) if limit is None else start + limit
            text = "".join(lines[start:end])
            size = len(text.encode("utf-8", "surrogateescape"))
        events.emit("fs.read", {"path": p, "ok": True, "line": line, "limit": limit, "bytes": size})
        return {"content": text}

    async def raw_write_text_file(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._path(params.get("path"))
        content = _want_str(params, "content")
        data = content.encode("utf-8", "surrogateescape")
        vm = self.s.vm
        try:
            try:
                vm.write_file(p, data)
            except FileNotFoundError:  # a missing parent: create the directories
                vm.write_file(p, data, parents=True)
        except (OSError, ValueError) as exc:
            self.s.events.emit("fs.write", {"path": p, "ok": False, "error": str(exc)})
            raise self._os_error(exc, p)
        self.s.events.emit("fs.write", {"path": p, "ok": True, "bytes": len(data)})
        return {}

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.raw_read_text_file(
            {"sessionId": session_id, "path": path, "line": line, "limit": limit}
        )

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> Any:
        return await self.raw_write_text_file(
            {"sessionId": session_id, "path": path, "content": content}
        )

    # -- terminals ---------------------------------------------------------------------------
    def _term(self, params: dict[str, Any]) -> Terminal:
        terminal_id = params.get("terminalId")
        try:
            return self.s.terminals.get(terminal_id)  # type: ignore[arg-type]
        except (KeyError, TypeError):
            raise _bad("unknown terminal", terminalId=terminal_id)

    async def raw_create_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        command = _want_str(params, "command")
        args = params.get("args")
        if args is not None and (
            not isinstance(args, list) or not all(isinstance(a, str) for a in args)
        ):
            raise _bad("args must be a list of strings", args=args)
        envd: dict[str, str] = {}
        env = params.get("env")
        if env is not None:
            if not isinstance(env, list):
                raise _bad("env must be a list of {name, value}", env=env)
            for e in env:
                d = e if isinstance(e, dict) else _dump(e)
                if not isinstance(d.get("name"), str) or not isinstance(d.get("value"), str):
                    raise _bad("env entries need a string name and value", env=env)
                envd[d["name"]] = d["value"]
        cwd = params.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise _bad("cwd must be a string", cwd=cwd)
        limit = _want_int(params, "outputByteLimit")
        s = self.s
        term = await s.terminals.create(command, args, envd, cwd, limit)
        s.events.emit(
            "terminal.created",
            {"terminalId": term.id, "command": term.command, "cwd": cwd or s.cwd},
        )
        if term.done.is_set():
            s._terminal_exited(term)
        else:
            term.on_exit = s._terminal_exited
        return {"terminalId": term.id}

    async def raw_terminal_output(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        out: dict[str, Any] = {"output": term.text(), "truncated": term.truncated}
        if term.done.is_set():
            out["exitStatus"] = term.exit_json()
        return out

    async def raw_wait_for_terminal_exit(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        if not term.done.is_set():
            await term.done.wait()
        return term.exit_json()

    async def raw_kill_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        self._term(params).kill()
        return {}

    async def raw_release_terminal(self, params: dict[str, Any]) -> dict[str, Any]:
        term = self._term(params)
        self.s.terminals.release(term.id)
        self.s.events.emit("terminal.released", {"terminalId": term.id})
        return {}

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[Any] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.raw_create_terminal(
            {
                "sessionId": session_id,
                "command": command,
                "args": args,
                "env": [_dump(e) for e in env] if env is not None else None,
                "cwd": cwd,
                "outputByteLimit": output_byte_limit,
            }
        )

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_terminal_output({"terminalId": terminal_id})

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_wait_for_terminal_exit({"terminalId": terminal_id})

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_kill_terminal({"terminalId": terminal_id})

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        return await self.raw_release_terminal({"terminalId": terminal_id})

    # -- permissions -------------------------------------------------------------------------
    async def raw_request_permission(self, params: dict[str, Any]) -> dict[str, Any]:
        tool_call = params.get("toolCall")
        options = params.get("options")
        if not isinstance(tool_call, dict):
            raise _bad("toolCall must be an object")
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            raise _bad("options must be a list of permission options")
        return await self.s._request_permission(tool_call, options)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> Any:
        return await self.s._request_permission(_dump(tool_call), [_dump(o) for o in options])

    # -- the persistent Python interpreter (an ACP extension) ------------------------------
    async def raw_python(self, params: dict[str, Any]) -> dict[str, Any]:
        code = _want_str(params, "code")
        return await self.s._run_python(code, reset=bool(params.get("reset")))

    # -- extensions --------------------------------------------------------------------------
    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        if "_" + method == PYTHON_METHOD:
            return await self.raw_python(params)
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None
