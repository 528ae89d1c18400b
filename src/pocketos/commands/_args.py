"""GNU-style option parsing shared by the commands.

``parse(ctx_name, argv, spec)`` understands clustered short options (``-rf``), short options
with attached or separate values (``-n3``, ``-n 3``), long options with ``=`` or a separate value,
unambiguous long-option prefixes (``--verb`` for ``--verbose``), ``--`` and, unless
``stop_at_operand`` is set, options after operands (GNU permutation).

Errors raise :class:`UsageError` carrying the exact GNU message, e.g.::

    ls: invalid option -- 'z'
    Try 'ls --help' for more information.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from functools import partial

__all__ = ["Opt", "Parsed", "UsageError", "parse"]


class UsageError(Exception):
    """Bad command line. ``str(exc)`` is the full message (with the 'Try' line)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Opt:
    """One option. ``short`` is a single character or "", ``long`` a name without dashes or "".
    ``arg``: "none", "required" or "optional" (optional values attach only: ``--x=v``/``-xv``).
    ``dest`` is the key in :attr:`Parsed.opts` (default: long name with - -> _, else short)."""

    short: str = ""
    long: str = ""
    arg: str = "none"
    dest: str = ""
    multiple: bool = False

    def key(self) -> str:
        if self.dest:
            return self.dest
        if self.long:
            return self.long.replace("-", "_")
        return self.short


class Parsed:
    """What :func:`parse` found: ``opts`` by key, ``operands``, and ``order``, the options in
    command-line order as (key, value) — for commands where order matters."""

    __slots__ = ("opts", "operands", "order")

    def __init__(
        self,
        opts: dict[str, object] | None = None,
        operands: list[str] | None = None,
        order: list[tuple[str, object]] | None = None,
    ) -> None:
        self.opts: dict[str, object] = {} if opts is None else opts
        self.operands: list[str] = [] if operands is None else operands
        self.order: list[tuple[str, object]] = [] if order is None else order

    def __eq__(self, other: object) -> bool:
        if type(other) is not Parsed:
            return NotImplemented
        return (self.opts, self.operands, self.order) == (other.opts, other.operands, other.order)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Parsed(opts={self.opts!r}, operands={self.operands!r}, order={self.order!r})"

    def get(self, key: str, default: object = None) -> object:
        return self.opts.get(key, default)

    def flag(self, key: str) -> bool:
        return bool(self.opts.get(key))

    def count(self, key: str) -> int:
        v = self.opts.get(key, 0)
        return int(v) if isinstance(v, (int, bool)) else 1

    def str(self, key: str, default: str | None = None) -> str | None:
        v = self.opts.get(key)
        if v is None:
            return default
        if isinstance(v, list):
            return str(v[-1])
        return str(v)

    def list(self, key: builtins.str) -> builtins.list[builtins.str]:
        v = self.opts.get(key)
        if v is None:
            return []
        if isinstance(v, list):
            return [str(x) for x in v]
        return [str(v)]


def _store(out: Parsed, o: Opt, value: object) -> None:
    """Record option ``o`` with ``value`` (True for a flag: flags count their repeats)."""
    k = o.key()
    if o.arg == "none":
        prev = out.opts.get(k, 0)
        out.opts[k] = (prev + 1) if isinstance(prev, int) and not isinstance(prev, bool) else 1
        if value is not True:
            out.opts[k] = value
    elif o.multiple:
        lst = out.opts.setdefault(k, [])
        assert isinstance(lst, list)
        lst.append(value)
    else:
        out.opts[k] = value
    out.order.append((k, value))


def _try(name: str) -> str:
    return f"Try '{name} --help' for more information."


#: option tables built lately, by the ``id`` of their spec and kind: (spec, its length, table).
#: Most commands parse with one module-level spec, so its tables are built once; the spec is
#: kept in the entry, so its ``id`` cannot name another list while the entry lives
_TABLES: dict[tuple[int, bool], tuple[list[Opt], int, dict[str, Opt]]] = {}
_MAX_TABLES = 512


def _table(spec: list[Opt], long: bool) -> dict[str, Opt]:
    """``{long name: Opt}`` (``long``) or ``{short letter: Opt}`` of ``spec``."""
    key = (id(spec), long)
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is spec and hit[1] == len(spec):
        return hit[2]
    table = {o.long: o for o in spec if o.long} if long else {o.short: o for o in spec if o.short}
    if len(_TABLES) >= _MAX_TABLES:
        _TABLES.clear()
    _TABLES[key] = (spec, len(spec), table)
    return table


def parse(
    name: str,
    args: list[str],
    spec: list[Opt],
    *,
    stop_at_operand: bool = False,
    status: int = 1,
    allow_numeric: bool = False,
) -> Parsed:
    """Parse ``args`` (argv without argv[0]). ``status`` is the exit status for usage errors.

    ``allow_numeric``: treat ``-5`` style words as operands (``head -5`` is handled by callers).
    """
    # the tables are built on first use: many command lines have no option of one kind
    shorts: dict[str, Opt] | None = None
    longs: dict[str, Opt] | None = None
    out = Parsed()
    store = partial(_store, out)

    i = 0
    n = len(args)
    while i < n:
        a = args[i]
        if a == "--":
            out.operands.extend(args[i + 1 :])
            break
        if a.startswith("--") and len(a) > 2:
            body = a[2:]
            nm, eq, val = body.partition("=")
            if longs is None:
                longs = _table(spec, True)
            o = longs.get(nm)
            if o is None:
                cands = [k for k in longs if k.startswith(nm)]
                if len(cands) == 1:
                    o = longs[cands[0]]
                elif len(cands) > 1:
                    opts = " ".join(f"'--{c}'" for c in sorted(cands))
                    raise UsageError(
                        f"{name}: option '--{nm}' is ambiguous; possibilities: {opts}\n{_try(name)}",
                        status,
                    )
                else:
                    raise UsageError(f"{name}: unrecognized option '--{nm}'\n{_try(name)}", status)
            if o.arg == "none":
                if eq:
                    raise UsageError(
                        f"{name}: option '--{o.long}' doesn't allow an argument\n{_try(name)}",
                        status,
                    )
                store(o, True)
            elif o.arg == "optional":
                store(o, val if eq else True)
            else:
                if eq:
                    store(o, val)
                elif i + 1 < n:
                    i += 1
                    store(o, args[i])
                else:
                    raise UsageError(
                        f"{name}: option '--{o.long}' requires an argument\n{_try(name)}", status
                    )
            i += 1
            continue
        if a.startswith("-") and len(a) > 1 and not (allow_numeric and a[1:].isdigit()):
            j = 1
            if shorts is None:
                shorts = _table(spec, False)
            while j < len(a):
                c = a[j]
                o = shorts.get(c)
                if o is None:
                    raise UsageError(f"{name}: invalid option -- '{c}'\n{_try(name)}", status)
                if o.arg == "none":
                    store(o, True)
                    j += 1
                    continue
                rest = a[j + 1 :]
                if rest:
                    store(o, rest)
                elif o.arg == "optional":
                    store(o, True)
                elif i + 1 < n:
                    i += 1
                    store(o, args[i])
                else:
                    raise UsageError(
                        f"{name}: option requires an argument -- '{c}'\n{_try(name)}", status
                    )
                break
            i += 1
            continue
        out.operands.append(a)
        if stop_at_operand:
            out.operands.extend(args[i + 1 :])
            break
        i += 1
    return out


async def report(ctx: object, exc: UsageError) -> int:
    """Write a usage error to the command's stderr and return its exit status."""
    stderr = ctx.stderr  # type: ignore[attr-defined]
    await stderr.write(exc.message.encode("utf-8", "surrogateescape") + b"\n")
    return exc.status
