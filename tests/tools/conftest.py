from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pocketos import VM
from pocketos.kernel.permissions import DEFAULT_POLICY
from pocketos.tools import install
from tests.tools.sample_kits import KITS


def tool_policy(tool: Any = "allow") -> dict[str, Any]:
    pol = dict(DEFAULT_POLICY)
    pol["tool"] = tool
    return pol


@pytest.fixture
def vm() -> Iterator[VM]:
    v = VM(policy=tool_policy())
    install(v.kernel, KITS)
    yield v
    v.close()
