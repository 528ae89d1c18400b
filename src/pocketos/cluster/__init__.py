"""Scale out on Ray: VM-host actors, each holding many in-process VMs, behind handles with the
VM API; durable VMs move between hosts and come back when a host dies (docs/scale-out.md).

Needs the ``ray`` extra (``pip install 'pocketos[ray]'``); importing this package does not.
"""

from __future__ import annotations

from pocketos.cluster.cluster import Cluster, ray_available
from pocketos.cluster.errors import ClusterError, ClusterFull, Interrupted, VMLost
from pocketos.cluster.handle import (
    AsyncSessionHandle,
    AsyncShellHandle,
    AsyncVMHandle,
    SessionHandle,
    ShellHandle,
    VMHandle,
)

__all__ = [
    "AsyncSessionHandle",
    "AsyncShellHandle",
    "AsyncVMHandle",
    "Cluster",
    "ClusterError",
    "ClusterFull",
    "Interrupted",
    "SessionHandle",
    "ShellHandle",
    "VMHandle",
    "VMLost",
    "ray_available",
]
