"""pocketos: an operating system for AI agents that runs inside a Python process.

The public names load on first use, so ``import pocketos.kernel`` (or any other layer) does not
pull in the facade and everything above it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> the module that defines it
_WHERE = {
    "AsyncVM": "pocketos.vm",
    "Backend": "pocketos.kernel.fs.api",
    "ExecResult": "pocketos.vm",
    "LimitExceeded": "pocketos.errors",
    "Limits": "pocketos.kernel.limits",
    "PermissionRequest": "pocketos.kernel.permissions",
    "PocketOSError": "pocketos.errors",
    "Policy": "pocketos.kernel.permissions",
    "Process": "pocketos.vm",
    "StatResult": "pocketos.kernel.fs.api",
    "Store": "pocketos.store",
    "VM": "pocketos.vm",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'pocketos' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
