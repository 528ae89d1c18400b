"""Filesystem backends, the mount table and path resolution."""

from pocketos.kernel.fs.api import Backend, StatResult

__all__ = ["Backend", "StatResult"]
