"""The network gateway and the commands that use it (``curl``, ``wget``).

``install(kernel, network)`` gives a VM its gateway (``kernel.network``) from the VM's
``network=`` option::

    VM(policy={"network": {"default": "deny", "rules": [
           {"mode": "allow", "hosts": ["api.github.com"]}]}},
       network={"transforms": [{"match": "api.github.com",
                                "headers": {"Authorization": "Bearer ..."}}]})
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketos.kernel.kernel import Kernel
    from pocketos.net.gateway import (
        Gateway,
        NetworkError,
        Response,
        Transform,
        is_private_address,
    )

__all__ = [
    "Gateway",
    "NetworkError",
    "Response",
    "Transform",
    "is_private_address",
    "install",
    "get_gateway",
    "NETWORK_OPTIONS",
]

#: keys accepted by ``VM(network={...})``
NETWORK_OPTIONS = (
    "transforms",
    "timeout",
    "max_redirects",
    "max_response_bytes",
    "resolver",
    "transport",
)


_LAZY = ("Gateway", "NetworkError", "Response", "Transform", "is_private_address")


def __getattr__(name: str) -> Any:
    # the gateway (and httpx) load on first use, not when the commands are registered
    if name in _LAZY:
        return getattr(importlib.import_module("pocketos.net.gateway"), name)
    raise AttributeError(f"module 'pocketos.net' has no attribute {name!r}")


def install(kernel: Kernel, network: Mapping[str, Any] | Gateway | None = None) -> Gateway:
    """Create the VM's gateway from its ``network=`` option and store it in ``kernel.network``.
    Unknown keys and bad transforms raise ValueError."""
    from pocketos.net.gateway import DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT, Gateway

    if isinstance(network, Gateway):
        gw = network
    else:
        opts = dict(network or {})
        unknown = set(opts) - set(NETWORK_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown network option(s): {', '.join(sorted(unknown))}; "
                f"known: {', '.join(NETWORK_OPTIONS)}"
            )
        transforms = opts.get("transforms") or []
        if not isinstance(transforms, (list, tuple)):
            raise ValueError("network transforms must be a list of {match, headers}")
        gw = Gateway(
            kernel.policy,
            kernel.audit,
            transforms=transforms,
            limits=kernel.limits,
            resolver=opts.get("resolver"),
            transport=opts.get("transport"),
            vm_id=kernel.id,
            timeout=opts.get("timeout", DEFAULT_TIMEOUT),
            max_redirects=int(opts.get("max_redirects", DEFAULT_MAX_REDIRECTS)),
            max_response_bytes=opts.get("max_response_bytes"),
        )
        #: the options it was built from (a forked VM builds its own gateway from them)
        gw.options = opts
    kernel.network = gw
    return gw


def get_gateway(kernel: Kernel) -> Gateway:
    """The VM's gateway; a VM created without ``network=`` gets a default one (the policy
    still decides, and it denies the network by default)."""
    from pocketos.net.gateway import Gateway

    gw = kernel.network
    if isinstance(gw, Gateway):
        return gw
    return install(kernel, None)
