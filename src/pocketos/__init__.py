"""pocketos: an operating system for AI agents that runs inside a Python process."""

from pocketos.errors import LimitExceeded, PocketOSError
from pocketos.kernel.fs.api import Backend, StatResult
from pocketos.kernel.limits import Limits
from pocketos.kernel.permissions import PermissionRequest, Policy
from pocketos.store import Store
from pocketos.vm import VM, AsyncVM, ExecResult, Process

__version__ = "0.1.0"

__all__ = [
    "AsyncVM",
    "Backend",
    "ExecResult",
    "LimitExceeded",
    "Limits",
    "PermissionRequest",
    "PocketOSError",
    "Policy",
    "Process",
    "StatResult",
    "Store",
    "VM",
    "__version__",
]
