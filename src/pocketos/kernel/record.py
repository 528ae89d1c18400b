"""Value classes for the types built when a VM is first used, without per-class code generation.

A dataclass generates and compiles ``__init__``, ``__repr__``, ``__eq__`` (and ``__hash__``) for
each class when its module is imported: parsing and compiling that source was a quarter of what
the first exec of a new process cost. Two cheaper forms, written once here:

- :class:`SlotRecord`: a class lists its fields in ``__slots__`` and writes its ``__init__``;
  equality, hash and repr by those fields come from here (internal types: syntax-tree nodes,
  policy rules, mounts).
- :func:`record`: a real dataclass (``fields``, ``replace``, ``asdict`` and ``is_dataclass`` work
  as before) whose ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` are generic methods
  reading the dataclass's fields, for the public types (``Limits``, ``ExecResult``, ...). A class
  built often may write its own ``__init__`` (as with a dataclass, it is kept). Type checkers see
  ``dataclasses.dataclass``: a module imports ``record`` as ``dataclass`` under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import dataclasses
import reprlib
from typing import Any, TypeVar

__all__ = ["SlotRecord", "record"]

_T = TypeVar("_T")
_MISSING = dataclasses.MISSING


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


# --- record: a dataclass with generic methods ------------------------------------------------


class _Spec:
    """What the generic methods of one record class need, computed once from its fields."""

    __slots__ = ("init", "other", "repr", "compare", "hash")

    def __init__(self, cls: Any) -> None:
        fields = dataclasses.fields(cls)
        self.init: tuple[tuple[str, Any, Any], ...]
        self.other: tuple[tuple[str, Any, Any], ...]
        #: (name, default, default_factory) of each ``__init__`` parameter, in order
        self.init = tuple((f.name, f.default, f.default_factory) for f in fields if f.init)
        #: the same for the fields ``__init__`` sets without a parameter
        self.other = tuple(
            (f.name, f.default, f.default_factory)
            for f in fields
            if not f.init and (f.default is not _MISSING or f.default_factory is not _MISSING)
        )
        self.repr = tuple(f.name for f in fields if f.repr)
        self.compare = tuple(f.name for f in fields if f.compare)
        self.hash = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = self.__class__
    spec: _Spec = self.__record_spec__
    params = spec.init
    if len(args) > len(params):
        required = sum(1 for _, d, f in params if d is _MISSING and f is _MISSING)
        takes = f"{len(params) + 1}" if required == len(params) else f"from {required + 1} to "
        takes += f"{len(params) + 1}" if required != len(params) else ""
        raise TypeError(
            f"{cls.__qualname__}.__init__() takes {takes} positional arguments "
            f"but {len(args) + 1} were given"
        )
    set_ = object.__setattr__  # the way a frozen dataclass's __init__ sets its fields
    missing = []
    for i, (name, default, factory) in enumerate(params):
        if i < len(args):
            if name in kwargs:
                raise TypeError(
                    f"{cls.__qualname__}.__init__() got multiple values for argument '{name}'"
                )
            value = args[i]
        elif name in kwargs:
            value = kwargs.pop(name)
        elif default is not _MISSING:
            value = default
        elif factory is not _MISSING:
            value = factory()
        else:
            missing.append(name)
            continue
        set_(self, name, value)
    if kwargs:
        raise TypeError(
            f"{cls.__qualname__}.__init__() got an unexpected keyword argument "
            f"'{next(iter(kwargs))}'"
        )
    if missing:
        quoted = [f"'{n}'" for n in missing]
        if len(quoted) == 1:
            names = quoted[0]
        elif len(quoted) == 2:
            names = " and ".join(quoted)
        else:
            names = ", ".join(quoted[:-1]) + ", and " + quoted[-1]
        s = "s" if len(missing) > 1 else ""
        raise TypeError(
            f"{cls.__qualname__}.__init__() missing {len(missing)} required positional "
            f"argument{s}: {names}"
        )
    for name, default, factory in spec.other:
        set_(self, name, factory() if default is _MISSING else default)
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    spec: _Spec = self.__record_spec__
    args = ", ".join(f"{name}={getattr(self, name)!r}" for name in spec.repr)
    return f"{self.__class__.__qualname__}({args})"


def _eq(self: Any, other: object) -> bool:
    names: tuple[str, ...] = self.__record_spec__.compare
    if other.__class__ is not self.__class__:
        return NotImplemented
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self.__record_spec__.hash))


def record(cls: type[_T] | None = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """``@record``, ``@record(frozen=True, slots=True)``: the class as
    ``@dataclasses.dataclass`` with the same options would make it (equality by fields, a frozen
    one hashable by them, an unfrozen one unhashable), with generic methods instead of generated
    ones. A method the class defines itself is kept."""

    def wrap(c: type[_T]) -> type[_T]:
        own = c.__dict__
        if "__init__" not in own:
            c.__init__ = _init  # type: ignore[method-assign]
        if "__repr__" not in own:
            c.__repr__ = _repr  # type: ignore[method-assign]
        if "__eq__" not in own:
            c.__eq__ = _eq  # type: ignore[method-assign]
            if "__hash__" not in own:
                c.__hash__ = _hash if frozen else None  # type: ignore[assignment]
        made: Any = dataclasses.dataclass(
            c, init=False, repr=False, eq=False, frozen=frozen, slots=slots
        )
        made.__record_spec__ = _Spec(made)
        return made  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)
