"""The sandbox's proxy listeners hand asyncio sockets it turns Nagle off on: without that, a
reply written in two parts (headers, then body) waited 40 ms for the peer's delayed ACK."""

from __future__ import annotations

import asyncio
import socket

from pocketos.sandbox.netproxy import _listen


def test_connections_accepted_by_a_proxy_listener_have_nagle_off() -> None:
    async def go() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = _listen(0)
        port = listener.getsockname()[1]
        server = await asyncio.start_server(on_conn, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await accepted
            finally:
                writer.close()

    assert asyncio.run(go()) == 1
