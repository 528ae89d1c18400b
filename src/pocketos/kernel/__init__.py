"""The kernel: filesystem, permissions, processes, limits and audit. Knows nothing of shells."""
