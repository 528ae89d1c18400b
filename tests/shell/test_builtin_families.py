"""Builtin families are imported on first use: the table of which family defines which builtin
is exact, and a builtin works the same whether its family was loaded before or not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pocketos import VM
from pocketos.shell.builtins import BUILTINS, FAMILIES, all_builtins


def test_each_family_registers_exactly_the_builtins_listed_for_it() -> None:
    table = all_builtins()
    for family, names in FAMILIES.items():
        module = "pocketos.shell.builtins_" + family
        defined = {n for n, fn in table.items() if fn.__module__ == module}
        assert defined == set(names), family
    listed = [n for names in FAMILIES.values() for n in names]
    assert len(listed) == len(set(listed))
    core = {n for n, fn in BUILTINS.items() if fn.__module__ == "pocketos.shell.builtins"}
    assert core.isdisjoint(listed)


@pytest.mark.parametrize(
    ("script", "out"),
    [
        ("cd /tmp && pwd", "/tmp\n"),
        ("type read", "read is a shell builtin\n"),
        ("builtin cd /etc; pwd", "/etc\n"),
        ("command -V export", "export is a shell builtin\n"),
        ("command cd /usr; pwd", "/usr\n"),
        ("f() { local v=1; echo $v; }; f", "1\n"),
        ("read a b <<< 'x y'; echo $b$a", "yx\n"),
        ("help cd | head -1", "cd: cd [args]\n"),
    ],
)
def test_a_builtin_of_a_family_not_yet_loaded(script: str, out: str) -> None:
    """Each runs in a new process, where no family is loaded yet."""
    code = (
        "import sys\nfrom pocketos import VM\n"
        f"r = VM().exec({script!r})\n"
        "sys.stdout.write(r.stdout + '|' + r.stderr + '|' + str(r.exit_code))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{out}||0"


def test_help_lists_every_builtin() -> None:
    with VM() as vm:
        listed = vm.exec("help").stdout.split()
    for names in FAMILIES.values():
        assert set(names) <= set(listed)
