"""The shell's fast paths against bash: scripts from tests/shell/diffgen.py run in bash and in
a VM, and stdout, stderr and status must be the same. ``python -m tests.shell.diffgen --count
N`` runs more of them."""

from __future__ import annotations

import shutil

import pytest

from tests.shell.diffgen import difference, script_for
from tests.shell.test_bash_compat import _have_vm_shell

pytestmark = [
    pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed"),
    pytest.mark.skipif(not _have_vm_shell(), reason="the VM shell is not available"),
]

#: the deterministic sample the unit tests run
SAMPLE = range(200)


def test_generator_is_deterministic() -> None:
    assert [script_for(s) for s in range(10)] == [script_for(s) for s in range(10)]
    assert len({script_for(s) for s in range(50)}) == 50


def test_the_check_can_fail() -> None:
    """A script whose output the VM cannot match (a host path) is reported."""
    assert difference("pwd\n") is not None


@pytest.mark.parametrize("seed", SAMPLE)
def test_same_as_bash(seed: int) -> None:
    diff = difference(script_for(seed))
    assert diff is None, diff
