"""Typed syntax tree of a shell script (produced by :mod:`pocketos.shell.parser`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform


class Node:
    """Equality and repr by fields, the same as a dataclass's. A dataclass generates and
    compiles both for each class, which made importing the shell slow; here they are written
    once. Like a dataclass with ``eq``, a node is not hashable."""

    __slots__ = ()
    __dataclass_fields__: dict[str, Any]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Node)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__dataclass_fields__)
        return f"{self.__class__.__qualname__}({args})"


_N = TypeVar("_N", bound=Node)


@dataclass_transform(field_specifiers=(field,))
def _node(cls: type[_N]) -> type[_N]:
    return dataclass(slots=True, eq=False, repr=False)(cls)


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


@dataclass(slots=True)
class CondParen:
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
