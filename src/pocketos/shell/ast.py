"""Typed syntax tree of a shell script (produced by :mod:`pocketos.shell.parser`)."""

from __future__ import annotations

from dataclasses import dataclass, field

# --- word parts ---------------------------------------------------------------------------


@dataclass(slots=True)
class Lit:
    """Unquoted literal text (subject to brace expansion, tilde, globbing)."""

    text: str


@dataclass(slots=True)
class Quoted:
    """Quoted literal text ('...', $'...', backslash escape)."""

    text: str


@dataclass(slots=True)
class DQ:
    """A double-quoted string."""

    parts: list[Part]


@dataclass(slots=True)
class Param:
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


@dataclass(slots=True)
class CmdSub:
    body: Script
    text: str = ""


@dataclass(slots=True)
class ArithSub:
    expr: str


@dataclass(slots=True)
class ProcSub:
    direction: str  # "<" or ">"
    body: Script


@dataclass(slots=True)
class BadSub:
    """A substitution bash rejects only when it is expanded."""

    text: str


Part = Lit | Quoted | DQ | Param | CmdSub | ArithSub | ProcSub | BadSub


@dataclass(slots=True)
class Word:
    parts: list[Part]
    #: the plain string when the word needs no expansion at all
    simple: str | None = None
    text: str = ""
    #: set when the word has the form ``name=value`` / ``name[i]+=value`` / ``name=(...)``
    assign: Assign | None = None


# --- commands -----------------------------------------------------------------------------


@dataclass(slots=True)
class Assign:
    name: str
    index: str | None = None
    value: Word | None = None
    array: list[Word | Assign] | None = None
    append: bool = False
    text: str = ""
    #: cached: does the value contain a command substitution (sets $?)
    cmdsub: bool | None = None


@dataclass(slots=True)
class HereDoc:
    delimiter: str
    strip_tabs: bool
    quoted: bool
    body: Word | None = None


@dataclass(slots=True)
class Redir:
    fd: int | None
    op: str  # < > >> >| <> <& >& &> &>> << <<- <<<
    target: Word | None = None
    heredoc: HereDoc | None = None
    fdvar: str | None = None


@dataclass(slots=True)
class Simple:
    assigns: list[Assign]
    words: list[Word]
    redirs: list[Redir]
    line: int = 0


@dataclass(slots=True)
class Pipeline:
    cmds: list[Command]
    negate: bool = False
    stderr_too: list[bool] = field(default_factory=list)  # |& after stage i
    line: int = 0
    timed: bool = False


@dataclass(slots=True)
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@dataclass(slots=True)
class ListItem:
    node: AndOr
    background: bool = False


@dataclass(slots=True)
class Script:
    items: list[ListItem]
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Subshell:
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class Group:
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class If:
    clauses: list[tuple[Script, Script]]
    orelse: Script | None
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class While:
    cond: Script
    body: Script
    until: bool = False
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class For:
    var: str
    words: list[Word] | None
    body: Script
    select: bool = False
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class ArithFor:
    init: str
    cond: str
    step: str
    body: Script
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class CaseItem:
    patterns: list[Word]
    body: Script
    term: str  # ";;" ";&" ";;&"


@dataclass(slots=True)
class Case:
    word: Word
    items: list[CaseItem]
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class FuncDef:
    name: str
    body: Command
    line: int = 0
    source: str = ""


@dataclass(slots=True)
class ArithCmd:
    expr: str
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


# [[ ]] expressions
@dataclass(slots=True)
class CondWord:
    word: Word


@dataclass(slots=True)
class CondUnary:
    op: str
    arg: Word


@dataclass(slots=True)
class CondBinary:
    op: str
    left: Word
    right: Word


@dataclass(slots=True)
class CondNot:
    expr: CondExpr


@dataclass(slots=True)
class CondAnd:
    left: CondExpr
    right: CondExpr


@dataclass(slots=True)
class CondOr:
    left: CondExpr
    right: CondExpr


CondExpr = CondWord | CondUnary | CondBinary | CondNot | CondAnd | CondOr


@dataclass(slots=True)
class CondCmd:
    expr: CondExpr
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


Command = (
    Simple | Subshell | Group | If | While | For | ArithFor | Case | FuncDef | ArithCmd | CondCmd
)
