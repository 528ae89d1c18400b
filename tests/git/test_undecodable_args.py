"""An argument that is not valid UTF-8 (a surrogate escape) is reported, never a crash."""

from __future__ import annotations

from pocketos import VM


def test_unknown_subcommand_with_undecodable_bytes() -> None:
    with VM() as vm:
        r = vm.run(["git", "\udcff"])
        assert r.exit_code == 1
        assert r.stderr_bytes == b"git: '\xff' is not a git command. See 'git --help'.\n"
