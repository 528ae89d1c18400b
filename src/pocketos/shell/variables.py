# mypy: disable-error-code="misc"
"""Shell variables: lookup, assignment with attributes, namerefs, local scopes, unset and the
arithmetic view of variables, as a mixin of the interpreter."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_NAMEREF,
    ATTR_READONLY,
    ATTR_UPPER,
    ShellAttrs,
    ShellError,
    Var,
    unbound_error,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Variables"]

#: values at least this long are charged to the exec's memory budget
BIG_VALUE = 64 * 1024
_DYNAMIC = frozenset(
    [
        "RANDOM",
        "SECONDS",
        "LINENO",
        "BASHPID",
        "EPOCHSECONDS",
        "SHELLOPTS",
        "BASHOPTS",
        "BASH_SUBSHELL",
        "EPOCHREALTIME",
        "SRANDOM",
        "FUNCNAME",
        "PIPESTATUS",
        "BASH_SOURCE",
        "BASH_LINENO",
        "GROUPS",
    ]
)


class Variables(ShellAttrs):
    """Mixin for :class:`Shell`: shell variables (lookup, assignment with attributes, namerefs,
    scopes, unset, arithmetic access, the memory big values hold)."""

    # --- variables --------------------------------------------------------------------------------
    def get_str(self: Shell, name: str) -> str | None:
        v = self.vars.get(name)
        if v is None:
            if name in self.dynamic:
                r = self.lookup(name, None)
                return r if isinstance(r, str) else None
            return None
        val = v.value
        if isinstance(val, dict):
            return val.get(0) if not v.attrs & ATTR_ASSOC else val.get("0")
        return val

    def resolve_nameref(self: Shell, name: str) -> str | None:
        """The variable a chain of namerefs starting at ``name`` ends at; ``None`` (and a
        warning for a cycle) when it loops or is longer than bash's limit of 8."""
        target, cycle = self.vars.resolve(name)
        if cycle:
            self.warnings.append(f"warning: {name}: circular name reference")
        return target

    async def flush_warnings(self: Shell) -> None:
        msgs, self.warnings = self.warnings, []
        for m in msgs:
            await self.error(m)

    def lookup(self: Shell, name: str, index: str | None) -> str | list[str] | None:
        """Value of a parameter; a list for ``$@``, ``$*`` and ``a[@]``."""
        v = self.vars.get(name)
        if v is not None and v.attrs & ATTR_NAMEREF and isinstance(v.value, str) and v.value:
            target = self.resolve_nameref(name)
            if target is None or target == name:
                return None
            return self.lookup(target, index)
        if v is not None and name not in self.dynamic:
            val = v.value
            if val is None:
                return None
            if isinstance(val, dict):
                if index is None:
                    return val.get("0" if v.attrs & ATTR_ASSOC else 0)
                if index in ("@", "*"):
                    if v.attrs & ATTR_ASSOC:
                        return list(val.values())
                    return [val[k] for k in sorted(val)]
                if v.attrs & ATTR_ASSOC:
                    return val.get(index)
                try:
                    k = int(index)
                except ValueError:
                    return None
                if k < 0:
                    k += (max(val) + 1) if val else 0
                return val.get(k)
            if index is None or index == "0":
                return val
            if index in ("@", "*"):
                return [val]
            return None
        if name.isdigit():
            if name == "0":
                return self.argv0
            k = int(name)
            return self.positional[k - 1] if k <= len(self.positional) else None
        if name in ("@", "*"):
            return list(self.positional)
        if name == "#":
            return str(len(self.positional))
        if name == "?":
            return str(self.last_status)
        if name == "$":
            return str(self.ctx.pid)
        if name == "!":
            return self.last_bg or None
        if name == "-":
            return self.flags_string()
        if name == "_":
            return self.last_arg
        if name == "RANDOM":
            return str(self._rand.randrange(32768))
        if name == "SRANDOM":
            return str(self._rand.getrandbits(32))
        if name == "SECONDS":
            return str(int(time.monotonic() - self.start_time))
        if name == "LINENO":
            return str(self.lineno)
        if name == "BASHPID":
            return str(self.bashpid)
        if name == "BASH_SUBSHELL":
            return str(self.subshell_level)
        if name == "SHELLOPTS":
            return self.opts.enabled()
        if name == "BASHOPTS":
            return self.shopt.enabled()
        if name == "EPOCHSECONDS":
            return str(int(time.time()))
        if name == "EPOCHREALTIME":
            return f"{time.time():.6f}"
        if name == "FUNCNAME":
            names = list(reversed(self.funcnames))
            if names and self.script_name:
                names.append("main")
            return self._index_list(names, index)
        if name == "PIPESTATUS":
            return self._index_list([str(s) for s in self.pipestatus], index)
        if name == "BASH_SOURCE":
            return self._index_list([self.script_name or ""] * (len(self.funcnames) + 1), index)
        if name == "GROUPS":
            return self._index_list(["1000"], index)
        if v is not None:
            val = v.value
            if isinstance(val, dict):
                return self.lookup_in(v, index)
            return val
        return None

    def lookup_in(self: Shell, v: Var, index: str | None) -> str | list[str] | None:
        val = v.value
        assert isinstance(val, dict)
        if index in ("@", "*"):
            return [val[k] for k in self._sorted_keys(val)]
        return val.get(index if v.attrs & ATTR_ASSOC else int(index or 0))

    def _index_list(self: Shell, items: list[str], index: str | None) -> str | list[str] | None:
        if index in ("@", "*"):
            return items
        try:
            k = int(index or "0")
        except ValueError:
            return None
        return items[k] if -len(items) <= k < len(items) else None

    def _sorted_keys(self: Shell, d: dict[Any, str]) -> list[Any]:
        keys = list(d)
        if keys and isinstance(keys[0], int):
            keys.sort()
        return keys

    def flags_string(self: Shell) -> str:
        s = self.opts.flags()
        return s + self.input_flag if not self.script_name else s

    def var_isset(self: Shell, arg: str) -> bool:
        import re

        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", arg)
        if not m:
            if arg.isdigit():
                return 0 < int(arg) <= len(self.positional)
            return False
        name, idx = m.group(1), m.group(2)
        v = self.vars.get(name)
        if v is None or v.value is None:
            return name in self.dynamic and self.lookup(name, idx) is not None
        if idx is None:
            if isinstance(v.value, dict):
                return ("0" if v.attrs & ATTR_ASSOC else 0) in v.value
            return True
        if idx in ("@", "*"):
            return bool(v.value) if isinstance(v.value, dict) else True
        if isinstance(v.value, dict):
            if v.attrs & ATTR_ASSOC:
                return idx in v.value
            try:
                k = evaluate(idx, self)
            except ArithError:
                return False
            if k < 0:
                k += (max(v.value) + 1) if v.value else 0
            return k in v.value
        return idx == "0"

    def set_var_obj(self: Shell, name: str, var: Var) -> None:
        old = self.vars.get(name)
        if old is not None and old.attrs & ATTR_EXPORT:
            var.attrs |= ATTR_EXPORT
        self.vars[name] = var
        if var.attrs & ATTR_EXPORT:
            self.env_changed()

    def assign_var(
        self: Shell, name: str, value: str, *, index: str | None = None, append: bool = False
    ) -> None:
        v = self.vars.own(name)
        if v is None:
            if name in ("RANDOM",):
                try:
                    self._rand.seed(int(value))
                except ValueError:
                    pass
                return
            if name == "SECONDS":
                try:
                    self.start_time = time.monotonic() - int(value)
                except ValueError:
                    pass
                return
            if len(value) >= BIG_VALUE:
                self.charge_value(None, value)
            if index is not None:
                self.vars[name] = Var({int(index): value}, ATTR_ARRAY)
                return
            attrs = ATTR_EXPORT if self.opts.allexport else 0
            self.vars[name] = Var(value, attrs)
            if attrs:
                self.env_changed()
            return
        a = v.attrs
        if a & ATTR_NAMEREF and isinstance(v.value, str) and v.value and v.value != name:
            target = self.resolve_nameref(name)
            if target is None:
                self.warnings.clear()
                raise ShellError(f"warning: {name}: circular name reference")
            if target != name:
                self.assign_var(target, value, index=index, append=append)
                return
        if a & ATTR_READONLY:
            raise ShellError(f"{name}: readonly variable")
        if a & (ATTR_INTEGER | ATTR_LOWER | ATTR_UPPER):
            if a & ATTR_INTEGER:
                try:
                    if append:
                        cur = self.lookup(name, index)
                        value = f"({cur if isinstance(cur, str) and cur else 0})+({value or 0})"
                        append = False
                    value = str(evaluate(value, self)) if value.strip() else "0"
                except ArithError as e:
                    raise ShellError(str(e)) from None
            if a & ATTR_LOWER:
                value = value.lower()
            elif a & ATTR_UPPER:
                value = value.upper()
        cur_val = v.value
        if isinstance(cur_val, dict):
            if index is None:
                index = "0"
            key: Any = index if a & ATTR_ASSOC else int(index)
            if not a & ATTR_ASSOC and key < 0:
                key += (max(cur_val) + 1) if cur_val else 0
                if key < 0:
                    raise ShellError(f"{name}[{index}]: bad array subscript")
            if append:
                value = cur_val.get(key, "") + value
            if len(value) >= BIG_VALUE or len(cur_val.get(key) or "") >= BIG_VALUE:
                self.charge_value(cur_val.get(key), value)
            cur_val[key] = value
            return
        if index is not None and index != "0":
            d: dict[Any, str] = {}
            if cur_val is not None:
                d[0] = cur_val
            d[int(index)] = value
            v.value = d
            v.attrs |= ATTR_ARRAY
            return
        if append and cur_val is not None:
            value = cur_val + value
        if len(value) >= BIG_VALUE or (cur_val is not None and len(cur_val) >= BIG_VALUE):
            self.charge_value(cur_val, value)
        v.value = value
        if a & ATTR_EXPORT:
            self.env_changed()

    def charge_value(self: Shell, old: str | None, new: str) -> None:
        """Account a big value replacing ``old`` to the exec's memory budget (and check the
        deadline): ``a=$a$a`` ends at ``max_memory`` instead of growing the host."""
        budget = self.ctx.budget
        budget.check_time()
        held = self.var_mem
        if held is None or held.budget is not budget:
            held = self.var_mem = budget.hold("variables")
        delta = (len(new) if len(new) >= BIG_VALUE else 0) - (
            len(old) if old is not None and len(old) >= BIG_VALUE else 0
        )
        if delta > 0:
            held.add(delta)
        elif delta < 0:
            held.sub(-delta)

    def release_memory(self: Shell) -> None:
        """A subshell ends: what its own variables held goes back to the budget."""
        if self.var_mem is not None:
            self.var_mem.close()
            self.var_mem = None

    def unset_var(self: Shell, name: str, index: str | None = None) -> None:
        v = self.vars.own(name)
        if v is None:
            return
        if v.attrs & ATTR_READONLY:
            raise ShellError(f"{name}: cannot unset: readonly variable")
        if index is not None and isinstance(v.value, dict):
            key: Any = index if v.attrs & ATTR_ASSOC else int(index)
            if not v.attrs & ATTR_ASSOC and key < 0:
                key += (max(v.value) + 1) if v.value else 0
            v.value.pop(key, None)
            return
        if self.vars.local_in_scope(name):
            # unset inside a function after local: keep the local slot but unset it
            v.value = None
            if v.attrs & ATTR_EXPORT:
                self.env_changed()
            return
        del self.vars[name]
        if v.attrs & ATTR_EXPORT:
            self.env_changed()

    def declare_local(self: Shell, name: str) -> None:
        if self.vars.declare_local(name):
            self.env_changed()

    # arithmetic environment
    def arith_get(self: Shell, name: str, index: str | None) -> int:
        if index is None:
            v = self.vars.get(name)
            if v is not None and type(v.value) is str and name not in _DYNAMIC:
                s = v.value
                if s.isdigit() and (s[0] != "0" or len(s) == 1):
                    return int(s)
            else:
                r = self.lookup(name, None)
                if r is None:
                    if self.opts.nounset:
                        raise unbound_error(name)
                    return 0
                s = r if isinstance(r, str) else ""
        else:
            key = self._arith_key(name, index)
            r = self.lookup(name, key)
            if r is None:
                return 0
            s = r if isinstance(r, str) else ""
        if not s:
            return 0
        if s.isdigit():
            return int(s) if s[0] != "0" or len(s) == 1 else evaluate(s, self)
        return evaluate(s, self)

    def _arith_key(self: Shell, name: str, index: str) -> str:
        v = self.vars.get(name)
        if v is not None and v.attrs & ATTR_ASSOC:
            return index
        if index in ("@", "*"):
            return "0"
        return str(evaluate(index, self))

    def arith_set(self: Shell, name: str, index: str | None, value: int) -> None:
        key = self._arith_key(name, index) if index is not None else None
        self.assign_var(name, str(value), index=key)
