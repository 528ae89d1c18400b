"""The command table of one VM: what a name runs.

The kernel knows no command. The facade gives each VM a :class:`CommandTable` built from
*sources* (providers of commands: coreutils, the shell, wasm runtimes, the network
commands, host tools …) and the kernel only asks it to resolve a name. A source lists its
names up front and produces a command on first use, so nothing is imported until a VM runs
it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

__all__ = ["CommandFunc", "CommandSource", "CommandTable", "StaticSource"]

#: a command: ``async def cmd(ctx) -> exit status``
CommandFunc = Callable[["Context"], Awaitable[int]]


@runtime_checkable
class CommandSource(Protocol):
    """A provider of commands."""

    @property
    def name(self) -> str:
        """What the provider is called (``"coreutils"``, ``"wasm"`` …)."""
        ...

    def names(self) -> frozenset[str]:
        """Every command name it provides, known without loading any command."""
        ...

    def get(self, name: str) -> CommandFunc | None:
        """The command ``name`` (loaded on first use), or None when it cannot be had."""
        ...


class StaticSource:
    """A source made of command functions given up front."""

    def __init__(self, name: str, commands: Mapping[str, CommandFunc]) -> None:
        self._name = name
        self._commands = dict(commands)
        self._names = frozenset(self._commands)

    @property
    def name(self) -> str:
        return self._name

    def names(self) -> frozenset[str]:
        return self._names

    def get(self, name: str) -> CommandFunc | None:
        return self._commands.get(name)

    def __repr__(self) -> str:
        return f"StaticSource({self._name!r}, {sorted(self._names)})"


#: sources tuple -> command name -> index of the source that provides it (shared by every
#: table built from the same sources, so creating a VM does not rebuild it)
_INDEXES: dict[tuple[CommandSource, ...], dict[str, int]] = {}


def _index(sources: tuple[CommandSource, ...]) -> dict[str, int]:
    idx = _INDEXES.get(sources)
    if idx is None:
        idx = {}
        for i, src in enumerate(sources):  # a later source replaces an earlier one
            for n in src.names():
                idx[n] = i
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        _INDEXES[sources] = idx
    return idx


class CommandTable:
    """The commands of one VM: per-VM commands first, then the sources, the last source
    that provides a name winning."""

    __slots__ = ("_sources", "_index", "_found", "extra")

    def __init__(self, sources: Iterable[CommandSource] = ()) -> None:
        self._sources = tuple(sources)
        self._index: dict[str, int] | None = None
        #: what the sources gave for each name asked so far (a source's command, once loaded,
        #: stays what the name runs: its names are fixed up front)
        self._found: dict[str, CommandFunc] = {}
        #: commands of this VM alone (host tools install theirs here)
        self.extra: dict[str, CommandFunc] = {}

    @property
    def sources(self) -> tuple[CommandSource, ...]:
        return self._sources

    def resolve(self, name: str) -> CommandFunc | None:
        fn = self.extra.get(name)
        if fn is not None:
            return fn
        fn = self._found.get(name)
        if fn is not None:
            return fn
        fn = self._from_sources(name)
        if fn is not None:
            self._found[name] = fn
        return fn

    def _from_sources(self, name: str) -> CommandFunc | None:
        idx = self._index
        if idx is None:
            idx = self._index = _index(self._sources)
        i = idx.get(name)
        if i is None:
            return None
        fn = self._sources[i].get(name)
        if fn is not None:
            return fn
        # the source could not load it: an earlier source may still provide the name
        for src in reversed(self._sources[:i]):
            if name in src.names():
                fn = src.get(name)
                if fn is not None:
                    return fn
        return None

    def add(self, name: str, fn: CommandFunc) -> None:
        """Give this VM the command ``name`` (it takes precedence over every source)."""
        self.extra[name] = fn

    def names(self) -> set[str]:
        idx = self._index
        if idx is None:
            idx = self._index = _index(self._sources)
        return set(idx) | set(self.extra)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names()))

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return (
            f"CommandTable(sources={[s.name for s in self._sources]}, extra={sorted(self.extra)})"
        )
