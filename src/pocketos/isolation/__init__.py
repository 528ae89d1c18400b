"""Process isolation: a VM in a worker process with hard limits (see docs/isolation.md).

``VM(isolation="process")`` / ``AsyncVM(isolation="process")`` return a VM with the same API
whose work runs in a sandboxed worker; :class:`WorkerPool` keeps workers warm.
"""

from pocketos.isolation.client import AsyncProcessVM
from pocketos.isolation.pool import WorkerPool, default_pool
from pocketos.isolation.process import WorkerDied, WorkerLimits

__all__ = ["AsyncProcessVM", "WorkerDied", "WorkerLimits", "WorkerPool", "default_pool"]
