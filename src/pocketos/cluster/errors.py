"""Errors raised by the cluster: every one says what happened to the VM and what to do."""

from __future__ import annotations

from pocketos.errors import PocketOSError

__all__ = ["ClusterError", "ClusterFull", "Interrupted", "VMLost"]


class ClusterError(PocketOSError):
    """A cluster-level failure. ``code`` is a stable name for it (``"no_host"``, ``"busy"`` ...)."""

    code = "cluster_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, code)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ClusterFull(ClusterError):
    """Every host was at capacity for the whole creation timeout."""

    code = "capacity"


class Interrupted(ClusterError):
    """A call was running on a host that died. The VM came back on another host from its last
    committed run; the call may or may not have taken effect, and is not repeated."""

    code = "interrupted"


class VMLost(ClusterError):
    """The VM's host died and the VM was not durable (or its workspace cannot be reopened)."""

    code = "vm_lost"
