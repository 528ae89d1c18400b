"""Typed syntax tree of a shell script (produced by :mod:`pocketos.shell.parser`)."""

from __future__ import annotations

from dataclasses import MISSING, Field, field
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform

from pocketos.kernel.record import SlotRecord


class Node(SlotRecord):
    """A syntax-tree node: slots, ``__init__``, equality and repr by fields, like a dataclass
    with ``slots=True``. A dataclass generates and compiles its methods for each class when the
    module is imported, which made the first exec in a process slow; here equality and repr come
    from :class:`SlotRecord`, and a class's ``__init__`` is compiled the first time the class is
    instantiated (a script uses a few of the ~35 node types). Like a dataclass with ``eq``, a
    node is not hashable. Its fields, in ``__init__``'s order, are its ``__slots__``."""

    __slots__: tuple[str, ...] = ()
    #: field name -> default value, or a ``_Factory`` for a ``field(default_factory=...)``
    _node_defaults: dict[str, Any] = {}

    if not TYPE_CHECKING:

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            cls = self.__class__
            init = _compile_init(cls)
            cls.__init__ = init
            init(self, *args, **kwargs)

    __hash__ = None  # type: ignore[assignment]


class _Factory:
    """A default made fresh for each node (``field(default_factory=...)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        self.make = make


def _compile_init(cls: type[Node]) -> Any:
    """``cls.__init__``, written for its fields like the one a dataclass generates."""
    env: dict[str, Any] = {}
    params, body = ["self"], []
    for name in cls.__slots__:
        if name not in cls._node_defaults:
            params.append(name)
            body.append(f"    self.{name} = {name}")
            continue
        default = cls._node_defaults[name]
        env[f"_d_{name}"] = default
        params.append(f"{name}=_d_{name}")
        if isinstance(default, _Factory):
            env[f"_f_{name}"] = default.make
            body.append(f"    self.{name} = _f_{name}() if {name} is _d_{name} else {name}")
        else:
            body.append(f"    self.{name} = {name}")
    src = f"def __init__({', '.join(params)}) -> None:\n" + ("\n".join(body) or "    pass")
    exec(compile(src, f"<{cls.__qualname__}.__init__>", "exec"), env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


_N = TypeVar("_N", bound=Node)


@dataclass_transform(field_specifiers=(field,))
def _node(cls: type[_N]) -> type[_N]:
    """Make ``cls`` a node: its annotated names become slots and fields, and their values in the
    class body their defaults (``field(default_factory=f)`` for a fresh one)."""
    ns = dict(cls.__dict__)
    names = tuple(ns.get("__annotations__", {}))
    defaults: dict[str, Any] = {}
    for name in names:
        if name in ns:
            value = ns.pop(name)
            if isinstance(value, Field):
                value = (
                    value.default
                    if value.default_factory is MISSING
                    else _Factory(value.default_factory)
                )
            defaults[name] = value
        elif defaults:
            raise TypeError(f"non-default field {name!r} follows a default one in {cls.__name__}")
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    ns["__slots__"] = names
    ns["_node_defaults"] = defaults
    new = type(cls.__name__, cls.__bases__, ns)
    new.__qualname__ = cls.__qualname__
    return new


# --- word parts ---------------------------------------------------------------------------


@_node
class Lit(Node):
    """Unquoted literal text (subject to brace expansion, tilde, globbing)."""

    text: str


@_node
class Quoted(Node):
    """Quoted literal text ('...', $'...', backslash escape)."""

    text: str


@_node
class DQ(Node):
    """A double-quoted string."""

    parts: list[Part]


@_node
class Param(Node):
    """``$name`` / ``${...}``. ``op`` is "" for a plain reference."""

    name: str
    index: str | None = None  # raw subscript text ("@", "*", "0", "i+1" ...)
    op: str = ""  # ":-" "#" "//" "^^" "@" ":" (substring) ...
    arg: Word | None = None
    arg2: Word | None = None  # replacement for / forms, length for substrings
    length: bool = False  # ${#x}
    indirect: bool = False  # ${!x}
    prefix_list: str = ""  # ${!pre*} / ${!pre@}
    keys: bool = False  # ${!a[@]}
    text: str = ""  # source text (for messages)


@_node
class CmdSub(Node):
    body: Script
    text: str = ""


@_node
class ArithSub(Node):
    expr: str


@_node
class ProcSub(Node):
    direction: str  # "<" or ">"
    body: Script


@_node
class BadSub(Node):
    """A substitution bash rejects only when it is expanded."""

    text: str


Part = Lit | Quoted | DQ | Param | CmdSub | ArithSub | ProcSub | BadSub


@_node
class Word(Node):
    parts: list[Part]
    #: the plain string when the word needs no expansion at all
    simple: str | None = None
    text: str = ""
    #: set when the word has the form ``name=value`` / ``name[i]+=value`` / ``name=(...)``
    assign: Assign | None = None


# --- commands -----------------------------------------------------------------------------


@_node
class Assign(Node):
    name: str
    index: str | None = None
    value: Word | None = None
    array: list[Word | Assign] | None = None
    append: bool = False
    text: str = ""
    #: cached: does the value contain a command substitution (sets $?)
    cmdsub: bool | None = None


@_node
class HereDoc(Node):
    delimiter: str
    strip_tabs: bool
    quoted: bool
    body: Word | None = None


@_node
class Redir(Node):
    fd: int | None
    op: str  # < > >> >| <> <& >& &> &>> << <<- <<<
    target: Word | None = None
    heredoc: HereDoc | None = None
    fdvar: str | None = None


@_node
class Simple(Node):
    assigns: list[Assign]
    words: list[Word]
    redirs: list[Redir]
    line: int = 0


@_node
class Pipeline(Node):
    cmds: list[Command]
    negate: bool = False
    stderr_too: list[bool] = field(default_factory=list)  # |& after stage i
    line: int = 0
    timed: bool = False


@_node
class AndOr(Node):
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@_node
class ListItem(Node):
    node: AndOr
    background: bool = False


@_node
class Script(Node):
    items: list[ListItem]
    warnings: list[str] = field(default_factory=list)


@_node
class Subshell(Node):
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class Group(Node):
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class If(Node):
    clauses: list[tuple[Script, Script]]
    orelse: Script | None
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class While(Node):
    cond: Script
    body: Script
    until: bool = False
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class For(Node):
    var: str
    words: list[Word] | None
    body: Script
    select: bool = False
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class ArithFor(Node):
    init: str
    cond: str
    step: str
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class CaseItem(Node):
    patterns: list[Word]
    body: Script
    term: str  # ";;" ";&" ";;&"


@_node
class Case(Node):
    word: Word
    items: list[CaseItem]
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@_node
class FuncDef(Node):
    name: str
    body: Command
    line: int = 0
    source: str = ""


@_node
class ArithCmd(Node):
    expr: str
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


# [[ ]] expressions
@_node
class CondWord(Node):
    word: Word


@_node
class CondUnary(Node):
    op: str
    arg: Word


@_node
class CondBinary(Node):
    op: str
    left: Word
    right: Word


@_node
class CondNot(Node):
    expr: CondExpr


@_node
class CondAnd(Node):
    left: CondExpr
    right: CondExpr


@_node
class CondOr(Node):
    left: CondExpr
    right: CondExpr


@_node
class CondParen(Node):
    """``( expr )`` inside ``[[ ]]``: kept so that the command prints as it was written."""

    expr: CondExpr


CondExpr = CondWord | CondUnary | CondBinary | CondNot | CondAnd | CondOr | CondParen


@_node
class CondCmd(Node):
    expr: CondExpr
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


Command = (
    Simple | Subshell | Group | If | While | For | ArithFor | Case | FuncDef | ArithCmd | CondCmd
)
