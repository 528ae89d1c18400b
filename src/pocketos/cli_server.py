"""``pocketos serve``: the server's command line (docs/server.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_serve_parser", "cmd_serve"]


def add_serve_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve VMs over HTTP and WebSocket",
        description="Host VMs in this process and serve them over HTTP and WebSocket. "
        "Tokens come from --config or $POCKETOS_SERVER_TOKENS; without any the server "
        "listens on loopback only.",
    )
    p.add_argument("--host", default=None, help="the address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="the port (default 8731)")
    p.add_argument("--store", metavar="DIR", help="keep durable VMs and snapshots in DIR")
    p.add_argument("--config", metavar="FILE", help="a TOML or JSON config file")
    p.add_argument(
        "--isolation",
        choices=["process", "in-process"],
        default=None,
        help="the default isolation of new VMs (default process)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="run the VMs on a Ray cluster: auto, ray://HOST:PORT, or local to start one "
        "(needs pocketos[ray]; docs/scale-out.md)",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from pocketos.cli import CLIError
    from pocketos.server import ConfigError, ServerConfig, check_bind, serve

    try:
        config = ServerConfig.load(
            args.config,
            host=args.host,
            port=args.port,
            store=args.store,
            isolation=args.isolation,
            cluster=args.cluster,
        )
        check_bind(config)
    except ConfigError as exc:
        raise CLIError(str(exc), 2) from None
    try:
        serve(config, log=sys.stderr)
    except KeyboardInterrupt:
        return 0
    return 0
