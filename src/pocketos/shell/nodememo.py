"""Answers computed once per syntax-tree node: what a command's text alone decides (whether its
words only read variables, which name it runs), asked again each time a loop runs it.

A node is not hashable (its fields are lists), so answers are kept by ``id``, each with its
node, which keeps that id from being reused while the answer is held; the table starts over
when it is full. Nodes are not changed once parsed, so an answer never goes stale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["NodeMemo"]

N = TypeVar("N")
T = TypeVar("T")


class NodeMemo(Generic[N, T]):
    """``memo(node)`` is ``fn(node)``, computed once per node."""

    __slots__ = ("_fn", "_table", "_cap")

    def __init__(self, fn: Callable[[N], T], cap: int = 4096) -> None:
        self._fn = fn
        self._table: dict[int, tuple[N, T]] = {}
        self._cap = cap

    def __call__(self, node: N) -> T:
        hit = self._table.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        value = self._fn(node)
        if len(self._table) >= self._cap:
            self._table.clear()
        self._table[id(node)] = (node, value)
        return value
