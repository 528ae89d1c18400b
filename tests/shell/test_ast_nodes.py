"""The syntax-tree node classes are written out by hand (no dataclass): their slots, annotations
and ``__init__`` must agree, and they behave as the dataclasses they replaced did."""

from __future__ import annotations

import inspect
import pickle

import pytest

import pocketos.shell.ast as A
from pocketos.shell.parser import parse

NODES = sorted(
    (
        c
        for c in vars(A).values()
        if isinstance(c, type) and issubclass(c, A.Node) and c is not A.Node
    ),
    key=lambda c: c.__name__,
)


def test_there_are_nodes() -> None:
    assert len(NODES) > 30


@pytest.mark.parametrize("cls", NODES, ids=lambda c: c.__name__)
def test_slots_annotations_and_init_agree(cls: type[A.Node]) -> None:
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert list(cls.__slots__) == list(cls.__annotations__) == params


def test_value_semantics() -> None:
    a = A.Word([A.Lit("x")], None, "x")
    assert a == A.Word([A.Lit("x")], None, "x")
    assert a != A.Word([A.Lit("y")], None, "y")
    assert repr(a) == "Word(parts=[Lit(text='x')], simple=None, text='x', assign=None)"
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)
    with pytest.raises(AttributeError):
        a.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        A.Lit()  # type: ignore[call-arg]


def test_each_default_list_is_fresh() -> None:
    p, q = A.Pipeline([]), A.Pipeline([])
    p.stderr_too.append(True)
    assert q.stderr_too == []


def test_a_parsed_tree_pickles_and_compares() -> None:
    tree = parse("for i in a b; do case $i in a) echo ${i:-x};; esac; done | cat >/dev/null")
    assert pickle.loads(pickle.dumps(tree)) == tree
