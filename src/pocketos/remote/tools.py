"""A remote VM's host toolkits: the client's Python functions, called by the server.

``AsyncRemoteVM(url, toolkits=[kit])`` (or ``vm.add_toolkits([kit])``) registers the toolkits
over ``/v1/vms/{id}/tools/ws`` and serves that socket from a thread of its own: while any
request runs (an exec, an agent session), the VM's calls to ``pocketos-<kit> <tool>`` arrive
as frames, the arguments are validated with the tool's real model, the function runs here and
its JSON result goes back. The server's policy for the VM decides ``tool.invoke`` before a call
ever reaches this side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pocketos.remote.errors import RemoteError, frame_status, raise_for

__all__ = ["ToolServer"]

#: bytes of JSON one tool result may have
MAX_RESULT = 8 << 20


class ToolServer:
    """One registration: the socket, the toolkits it serves and the thread serving it."""

    def __init__(self, vm: Any, kits: Iterable[Any]) -> None:
        from websockets.sync.client import connect

        from pocketos.isolation.callbacks import toolkit_specs
        from pocketos.tools._runtime import ToolHost

        self.kits = list(kits)
        self.host = ToolHost(None, self.kits)  # type: ignore[arg-type]  # lookups only
        url = f"{vm.conn.ws_url}{vm._base}/tools/ws"
        # entered as a context manager (websockets wants that) and left by close()
        self.ws = contextlib.ExitStack().enter_context(
            connect(url, additional_headers=vm.conn.headers, max_size=None)
        )
        try:
            self.ws.send(json.dumps({"type": "register", "toolkits": toolkit_specs(self.kits)}))
            first = json.loads(self.ws.recv(timeout=vm.conn.timeout))
            if first.get("type") != "registered":
                raise_for(frame_status(first), first)
                raise RemoteError(400, "protocol", f"unexpected frame: {first!r}")
        except BaseException:
            self.ws.close()
            raise
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pocketos-tools")
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._serve, name="pocketos-tool-server", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        try:
            for raw in self.ws:
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    frame = json.loads(raw)
                    if frame.get("type") == "call":
                        self._pool.submit(self._answer, frame)
        except Exception:  # the socket closed: nothing is served any more
            return

    def _answer(self, frame: dict[str, Any]) -> None:
        from pocketos.isolation.callbacks import call_tool

        kit, name, args = frame.get("kit"), frame.get("tool"), frame.get("args")
        tool = self.host.get(str(kit), str(name))
        if tool is None or not isinstance(args, dict):
            answer = {
                "ok": False,
                "error": {"type": "ToolFailed", "message": f"no tool {kit}:{name}"},
            }
        else:
            answer = asyncio.run(call_tool(tool, args, MAX_RESULT))
        with self._send_lock, contextlib.suppress(Exception):
            self.ws.send(json.dumps({"type": "result", "id": frame.get("id"), **answer}))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
