"""The VM API over a ``pocketos serve`` server (docs/server.md).

``RemoteVM(url, token=...)`` and ``AsyncRemoteVM(url, token=...)`` take the options of
``VM``/``AsyncVM`` and offer their methods (exec, run, spawn, shell, python, fork, mount,
files, snapshots, audit, sessions, host toolkits), so code moves between a local and a remote
VM by changing one line.
"""

from pocketos.remote.client import AsyncRemoteVM
from pocketos.remote.errors import RemoteError, RemoteInvalid, RemoteNotSupported
from pocketos.remote.session import AsyncRemoteSession, RemoteSession
from pocketos.remote.sync import RemoteVM

__all__ = [
    "AsyncRemoteSession",
    "AsyncRemoteVM",
    "RemoteError",
    "RemoteInvalid",
    "RemoteNotSupported",
    "RemoteSession",
    "RemoteVM",
]
