"""The shell's variable table: names to :class:`~pocketos.shell.state.Var`, the stack of function
scopes that ``local`` saves outer variables in, nameref chains, and copy-on-write forks.

A subshell, a command substitution or a pipeline stage starts with a fork of its parent's table.
The fork shares every ``Var`` with the parent; whichever side changes a variable in place first
takes a copy of it (:meth:`VarTable.own`). A fork therefore costs one dict copy instead of a copy
of every variable, and neither side ever sees the other's changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pocketos.shell.state import ATTR_EXPORT, ATTR_NAMEREF, Var

__all__ = ["NAMEREF_MAX", "Scope", "VarTable"]

#: longest chain of namerefs bash follows
NAMEREF_MAX = 8

#: one function call's saved variables: the outer ``Var`` a ``local`` hid (``None``: there was
#: none), and under ``"-"`` the options ``local -`` saved
Scope = dict[str, Var | None]


class VarTable(dict[str, Var]):
    """Variables by name, with function scopes and copy-on-write forks. Reading is plain dict
    access (``get``, ``in``, iteration); code that changes a variable in place gets it from
    :meth:`own`, and replaces one by item assignment."""

    __slots__ = ("scopes", "_token")

    def __init__(
        self,
        items: Mapping[str, Var] | Iterable[tuple[str, Var]] = (),
        scopes: list[Scope] | None = None,
    ) -> None:
        super().__init__(items)
        self.scopes: list[Scope] = scopes if scopes is not None else []
        #: the mark of the variables this table may change in place
        self._token = object()

    # --- copy on write ----------------------------------------------------------------------------
    def own(self, name: str) -> Var | None:
        """The variable ``name`` ready to be changed in place (``None`` when it does not exist):
        a variable still shared with a fork is copied first."""
        v = self.get(name)
        if v is not None and v.owner is not self._token:
            v = v.copy()
            v.owner = self._token
            self[name] = v
        return v

    def fork(self) -> VarTable:
        """A table for a subshell: the same variables and scopes, changed independently."""
        child = _new_table(VarTable)
        dict.update(child, self)
        child.scopes = [dict(s) for s in self.scopes]
        child._token = object()
        # what this table owned is now shared with the child: a new mark makes both copy first
        self._token = object()
        return child

    # --- scopes -------------------------------------------------------------------------------
    def push_scope(self) -> None:
        """A function call starts: ``local`` saves into a new scope."""
        self.scopes.append({})

    def pop_scope(self) -> tuple[bool, dict[str, bool] | None]:
        """A function call ends: put back what its ``local``\\ s hid. Returns whether any
        variable changed and the options ``local -`` saved (``None`` if it was not used)."""
        scope = self.scopes.pop()
        opts: dict[str, bool] | None = None
        for name, old in scope.items():
            if name == "-":
                if old is not None and isinstance(old.value, dict):
                    opts = dict(old.value)
            elif old is None:
                self.pop(name, None)
            else:
                self[name] = old
        return bool(scope), opts

    def declare_local(self, name: str) -> bool:
        """``local name`` in the innermost scope: hide the outer variable (keeping only its
        export attribute) until the function returns. False when it already was local there."""
        scope = self.scopes[-1]
        if name in scope:
            return False
        old = self.get(name)
        scope[name] = old
        if old is not None:
            self[name] = Var(None, old.attrs & ATTR_EXPORT)
        return True

    def local_in_scope(self, name: str) -> bool:
        """Whether any active function scope made ``name`` local."""
        return any(name in s for s in self.scopes)

    # --- namerefs -----------------------------------------------------------------------------
    def resolve(self, name: str) -> tuple[str | None, bool]:
        """Follow the nameref chain starting at ``name``: the variable it ends at, and whether
        it loops. ``(None, True)`` for a cycle, ``(None, False)`` for a chain longer than
        bash's limit."""
        seen = {name}
        cur = name
        for _ in range(NAMEREF_MAX + 1):
            v = self.get(cur)
            if v is None or not v.attrs & ATTR_NAMEREF:
                return cur, False
            nxt = v.value
            if not isinstance(nxt, str) or not nxt:
                return cur, False
            if nxt in seen:
                return None, True
            seen.add(nxt)
            cur = nxt
        return None, False


_new_table = dict.__new__
