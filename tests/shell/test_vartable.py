"""The variable table on its own: copy-on-write forks, function scopes, nameref chains."""

from __future__ import annotations

from pocketos.shell.state import ATTR_EXPORT, ATTR_NAMEREF, Var
from pocketos.shell.vartable import NAMEREF_MAX, VarTable


def _table(**values: str) -> VarTable:
    return VarTable((k, Var(v)) for k, v in values.items())


def test_a_fork_shares_until_either_side_changes_a_variable() -> None:
    parent = _table(a="1", b="2")
    parent["arr"] = Var({0: "x"})
    child = parent.fork()
    assert child["a"] is parent["a"]  # shared, not copied
    v = child.own("a")
    assert v is not None
    v.value = "child"
    arr = child.own("arr")
    assert arr is not None and isinstance(arr.value, dict)
    arr.value[1] = "y"
    pv = parent.own("b")
    assert pv is not None
    pv.value = "parent"
    assert (parent["a"].value, parent["arr"].value, parent["b"].value) == ("1", {0: "x"}, "parent")
    assert (child["a"].value, child["arr"].value, child["b"].value) == (
        "child",
        {0: "x", 1: "y"},
        "2",
    )


def test_own_copies_once_then_changes_in_place() -> None:
    t = _table(a="1")
    first = t.own("a")
    assert first is t.own("a")
    t.fork()
    assert t.own("a") is not first  # shared with the fork again: copied on the next change
    assert t.own("missing") is None


def test_scopes_hide_and_restore_outer_variables() -> None:
    t = _table(x="outer")
    t["x"].attrs |= ATTR_EXPORT
    t.push_scope()
    assert t.declare_local("x") and t.declare_local("y")
    assert not t.declare_local("x")  # already local in this scope
    assert (t["x"].value, t["x"].attrs) == (None, ATTR_EXPORT)
    t["x"] = Var("inner")
    t["y"] = Var("new")
    assert t.local_in_scope("x")
    changed, opts = t.pop_scope()
    assert (changed, opts) == (True, None)
    assert t["x"].value == "outer" and "y" not in t
    assert not t.local_in_scope("x")


def test_a_fork_gets_its_own_copy_of_the_scopes() -> None:
    t = _table(x="outer")
    t.push_scope()
    t.declare_local("x")
    child = t.fork()
    child.push_scope()
    assert len(child.scopes) == 2 and len(t.scopes) == 1
    child.scopes[0]["z"] = None
    assert "z" not in t.scopes[0]


def test_nameref_chains_cycles_and_the_length_limit() -> None:
    t = VarTable()
    t["a"] = Var("b", ATTR_NAMEREF)
    t["b"] = Var("c", ATTR_NAMEREF)
    t["c"] = Var("value")
    assert t.resolve("a") == ("c", False)
    t["c"] = Var("a", ATTR_NAMEREF)
    assert t.resolve("a") == (None, True)
    long = VarTable()
    for i in range(NAMEREF_MAX + 2):
        long[f"n{i}"] = Var(f"n{i + 1}", ATTR_NAMEREF)
    assert long.resolve("n0") == (None, False)
