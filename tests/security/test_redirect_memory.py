"""A ``<`` file is opened when the redirection is made and read when the command reads it; its
first read takes up to 1 MiB at once, which is held whole, so it is checked against what is
left of the exec's memory like any whole-file read (a 900 KB file under a 256 KiB limit grew
the host uncharged once reads moved to the command)."""

from __future__ import annotations

import pytest

from pocketos import VM

KiB = 1024


@pytest.mark.parametrize("script", ["wc -c < /tmp/f", "cat < /tmp/f | wc -c", "x=$(< /tmp/f)"])
def test_a_redirected_file_is_checked_against_the_memory_limit(script: str) -> None:
    with VM(limits={"max_memory": 256 * KiB}) as vm:
        vm.write_file("/tmp/f", b"x" * 900_000)
        r = vm.exec(script)
        assert r.exit_code == 125 and r.limit_hit == "max_memory"
        assert "reading /tmp/f: memory limit exceeded" in r.stderr


def test_a_redirected_file_that_fits_is_read() -> None:
    with VM(limits={"max_memory": 256 * KiB}) as vm:
        vm.write_file("/tmp/f", b"x" * 60_000)
        r = vm.exec("wc -c < /tmp/f; cat < /tmp/f | wc -c")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "60000\n60000\n", "")
