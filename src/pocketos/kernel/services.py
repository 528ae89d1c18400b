"""The services a VM's kernel holds for the layers above it, as the kernel sees them.

The network gateway (:class:`pocketos.net.gateway.Gateway`) and the host-tool runtime
(:class:`pocketos.tools.ToolHost`) live above the kernel; the kernel keeps one of each per VM
and knows them only through these protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["NetworkService", "ToolService"]


class NetworkService(Protocol):
    """A VM's network gateway."""

    @property
    def options(self) -> Mapping[str, Any]:
        """The ``network=`` options it was built from (a forked VM builds its own from them)."""
        ...


class ToolService(Protocol):
    """A VM's host tools."""

    @property
    def kits(self) -> Mapping[str, object]:
        """Toolkit name -> toolkit."""
        ...
