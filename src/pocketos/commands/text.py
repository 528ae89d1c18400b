"""The text-processing family: importing this module registers every text command."""

from __future__ import annotations

from pocketos.commands import text_basic  # noqa: F401
from pocketos.commands import text_sort  # noqa: F401
from pocketos.commands import text_cols  # noqa: F401
from pocketos.commands import text_bin  # noqa: F401
from pocketos.commands import text_fmt  # noqa: F401
