"""The text-processing family: importing this module registers every text command."""

from __future__ import annotations

from pocketos.commands import (
    cmp,  # noqa: F401
    diff,  # noqa: F401
    patch,  # noqa: F401
    text_basic,  # noqa: F401
    text_bin,  # noqa: F401
    text_cols,  # noqa: F401
    text_fmt,  # noqa: F401
    text_sort,  # noqa: F401
)
