"""The shell's typed options (``set -o`` and ``shopt``) on their own, and how a fork shares
them with its parent until one side changes them. What the option builtins print is checked
against real bash in ``cases/options.txt``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pocketos.shell  # noqa: F401  (registers bash/sh)
from pocketos import VM
from pocketos._loop import run_sync
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSink, BytesSource
from pocketos.shell.interp import Shell
from pocketos.shell.options import (
    FLAG_LETTERS,
    SET_OPTION_NAMES,
    SHOPT_NAMES,
    SetOptions,
    Shopts,
)


def test_every_option_is_a_named_attribute_with_bash_default() -> None:
    opts, shopt = SetOptions(), Shopts()
    assert [n for n, on in opts.items() if on] == ["braceexpand", "hashall", "interactive-comments"]
    assert opts.interactive_comments is True and opts.errexit is False
    assert shopt.sourcepath is True and shopt.extglob is False
    assert [n for n, _ in shopt.items()] == list(SHOPT_NAMES)
    assert set(FLAG_LETTERS.values()) <= set(SET_OPTION_NAMES)


def test_get_and_set_by_bash_name_refuse_unknown_names() -> None:
    opts = SetOptions()
    opts.set("interactive-comments", False)
    assert opts.interactive_comments is False and not opts.get("interactive-comments")
    opts.set("errexit", True)
    assert opts.errexit and opts.flags() == "ehB"
    assert "nosuch" not in opts and "errexit" in opts
    with pytest.raises(KeyError):
        opts.set("nosuch", True)
    with pytest.raises(KeyError):
        Shopts().get("errexit")  # a set -o name is not a shopt name


def test_flags_follow_bash_letter_order() -> None:
    opts = SetOptions()
    for name in ("noclobber", "nounset", "allexport", "functrace"):
        opts.set(name, True)
    assert opts.flags() == "ahuBCT"
    assert opts.enabled() == "allexport:braceexpand:functrace:hashall:interactive-comments:" + (
        "noclobber:nounset"
    )


def test_a_shared_set_refuses_changes_and_a_copy_is_free() -> None:
    opts = SetOptions().share()
    with pytest.raises(RuntimeError):
        opts.errexit = True
    with pytest.raises(RuntimeError):
        opts.set("nounset", True)
    with pytest.raises(RuntimeError):
        opts.restore({"xtrace": True})
    mine = opts.copy()
    mine.errexit = True
    assert mine.errexit and not mine.shared and not opts.errexit and opts.shared


def test_only_options_can_be_assigned() -> None:
    opts = Shopts()
    with pytest.raises(AttributeError):
        opts.extglb = True  # a misspelt option is not silently added
    assert not hasattr(opts, "extglb")


def test_copy_and_snapshot_are_independent() -> None:
    opts = SetOptions()
    saved = opts.snapshot()
    twin = opts.copy()
    opts.xtrace = True
    assert twin.xtrace is False and saved["xtrace"] is False
    opts.restore(saved)
    assert opts.xtrace is False


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    v = VM()
    yield v
    v.close()


def _shell(vm: VM) -> Shell:
    ctx = Context(
        vm.kernel,
        ["bash"],
        env={},
        cwd="/",
        stdin=BytesSource(b""),
        stdout=BytesSink(),
        stderr=BytesSink(),
    )
    return Shell(ctx)


def test_a_fork_shares_options_until_either_side_changes_them(vm: VM) -> None:
    parent = _shell(vm)
    child = parent.clone()
    assert child.opts is parent.opts and child.shopt is parent.shopt  # not copied
    with pytest.raises(RuntimeError):
        child.opts.errexit = True  # a change must go through own_opts()
    child.own_opts().errexit = True
    child.own_shopt().extglob = True
    assert (parent.opts.errexit, parent.shopt.extglob) == (False, False)
    assert (child.opts.errexit, child.shopt.extglob) == (True, True)
    # the parent changing its options after a fork does not reach the fork either
    second = parent.clone()
    parent.own_opts().nounset = True
    assert second.opts.nounset is False and child.opts.nounset is False
    assert parent.opts.nounset is True


def test_set_in_a_subshell_leaves_the_parent_alone(vm: VM) -> None:
    shell = _shell(vm)

    async def go() -> int:
        return await shell.run("(set -eu; shopt -s nullglob); x=$(set -f; shopt -s dotglob)")

    assert run_sync(go()) == 0
    assert not (shell.opts.errexit or shell.opts.nounset or shell.opts.noglob)
    assert not (shell.shopt.nullglob or shell.shopt.dotglob)


def test_substitutions_under_set_e_share_one_errexit_free_set() -> None:
    opts = SetOptions()
    opts.errexit = True
    off = opts.without_errexit()
    assert off.errexit is False and off.shared and opts.errexit is True
    assert opts.without_errexit() is off  # made once
    opts.nounset = True  # a change makes it again from the new values
    again = opts.without_errexit()
    assert again is not off and again.nounset and not again.errexit


def test_set_positional_after_a_fork_copies_no_options(vm: VM) -> None:
    shell = _shell(vm)

    async def go() -> tuple[int, SetOptions, SetOptions]:
        await shell.run("set -e; x=$(echo a; echo b)")  # a subshell: a fork
        before = shell.opts
        st = await shell.run('set -- $x; [ "$2" = b ]')
        return st, before, shell.opts

    status, before, after = run_sync(go())
    assert status == 0 and after is before and before.shared  # ``set --`` changed no option
    run_sync(shell.run("set -u"))
    assert shell.opts is not before and shell.opts.nounset and not before.nounset
