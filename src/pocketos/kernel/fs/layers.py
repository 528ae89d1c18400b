"""The list of an overlay's lower layers: any change to it counts as a change of names."""

from __future__ import annotations

from typing import Any

from pocketos.kernel.fs import memory as _memory
from pocketos.kernel.fs.api import Backend

__all__ = ["Layers"]


class Layers(list[Backend]):
    """An overlay's lower layers, highest first. Every change to the list counts in
    ``memory.changes``, which the lookup caches above are keyed on: a layer added, removed or
    replaced by anyone is seen at once."""

    def __setitem__(self, *args: Any) -> None:  # type: ignore[override]
        super().__setitem__(*args)
        _memory.namespace_changed()

    def __delitem__(self, *args: Any) -> None:  # type: ignore[override]
        super().__delitem__(*args)
        _memory.namespace_changed()

    def __iadd__(self, *args: Any) -> Any:  # type: ignore[override, misc]
        super().__iadd__(*args)
        _memory.namespace_changed()
        return self

    def insert(self, *args: Any) -> None:  # type: ignore[override]
        super().insert(*args)
        _memory.namespace_changed()

    def append(self, *args: Any) -> None:  # type: ignore[override]
        super().append(*args)
        _memory.namespace_changed()

    def __imul__(self, *args: Any) -> Any:  # type: ignore[misc]
        super().__imul__(*args)
        _memory.namespace_changed()
        return self

    def extend(self, *args: Any) -> None:  # type: ignore[override]
        super().extend(*args)
        _memory.namespace_changed()

    def pop(self, *args: Any) -> Backend:  # type: ignore[override]
        layer = super().pop(*args)
        _memory.namespace_changed()
        return layer

    def remove(self, *args: Any) -> None:  # type: ignore[override]
        super().remove(*args)
        _memory.namespace_changed()

    def clear(self) -> None:
        super().clear()
        _memory.namespace_changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().sort(*args, **kwargs)
        _memory.namespace_changed()

    def reverse(self) -> None:
        super().reverse()
        _memory.namespace_changed()
