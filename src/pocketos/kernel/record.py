"""A small value class for the types built when a VM is first used.

A dataclass generates and compiles ``__init__``, ``__repr__`` and ``__eq__`` for each class when
its module is imported (about 0.2–1 ms a class), and the first exec of a new process imports
dozens of them. A :class:`SlotRecord` subclass lists its fields in ``__slots__`` and writes its
``__init__``; equality, hash and repr by the fields are written once, here.
"""

from __future__ import annotations

__all__ = ["SlotRecord"]


class SlotRecord:
    """Equality, hash and repr by the fields named in the class's own ``__slots__``, like a
    frozen dataclass (a subclass holding a mutable field, such as a list, is unhashable in
    practice; one with ``__hash__ = None`` is unhashable, like a dataclass with ``eq``)."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, SlotRecord)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.__class__, self._fields()))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({args})"
