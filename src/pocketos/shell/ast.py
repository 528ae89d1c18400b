"""Typed syntax tree of a shell script (produced by :mod:`pocketos.shell.parser`)."""

from __future__ import annotations

from pocketos.kernel.record import SlotRecord


class Node(SlotRecord):
    """A syntax-tree node: its fields are its ``__slots__`` (in ``__init__``'s order), with
    equality and repr by fields from :class:`SlotRecord`. Each class writes its ``__init__``: a
    dataclass would generate and compile the methods of each of the ~35 node classes when the
    shell is imported, which the first exec of every process paid for. Like a dataclass with
    ``eq``, a node is not hashable."""

    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]


# --- word parts ---------------------------------------------------------------------------


class Lit(Node):
    """Unquoted literal text (subject to brace expansion, tilde, globbing)."""

    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        self.text = text


class Quoted(Node):
    """Quoted literal text ('...', $'...', backslash escape)."""

    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        self.text = text


class DQ(Node):
    """A double-quoted string."""

    __slots__ = ("parts",)
    parts: list[Part]

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts


class Param(Node):
    """``$name`` / ``${...}``. ``op`` is "" for a plain reference."""

    __slots__ = (
        "name",
        "index",
        "op",
        "arg",
        "arg2",
        "length",
        "indirect",
        "prefix_list",
        "keys",
        "text",
    )
    name: str
    index: str | None  # raw subscript text ("@", "*", "0", "i+1" ...)
    op: str  # ":-" "#" "//" "^^" "@" ":" (substring) ...
    arg: Word | None
    arg2: Word | None  # replacement for / forms, length for substrings
    length: bool  # ${#x}
    indirect: bool  # ${!x}
    prefix_list: str  # ${!pre*} / ${!pre@}
    keys: bool  # ${!a[@]}
    text: str  # source text (for messages)

    def __init__(
        self,
        name: str,
        index: str | None = None,
        op: str = "",
        arg: Word | None = None,
        arg2: Word | None = None,
        length: bool = False,
        indirect: bool = False,
        prefix_list: str = "",
        keys: bool = False,
        text: str = "",
    ) -> None:
        self.name = name
        self.index = index
        self.op = op
        self.arg = arg
        self.arg2 = arg2
        self.length = length
        self.indirect = indirect
        self.prefix_list = prefix_list
        self.keys = keys
        self.text = text


class CmdSub(Node):
    __slots__ = ("body", "text")
    body: Script
    text: str

    def __init__(self, body: Script, text: str = "") -> None:
        self.body = body
        self.text = text


class ArithSub(Node):
    __slots__ = ("expr",)
    expr: str

    def __init__(self, expr: str) -> None:
        self.expr = expr


class ProcSub(Node):
    __slots__ = ("direction", "body")
    direction: str  # "<" or ">"
    body: Script

    def __init__(self, direction: str, body: Script) -> None:
        self.direction = direction
        self.body = body


class BadSub(Node):
    """A substitution bash rejects only when it is expanded."""

    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        self.text = text


Part = Lit | Quoted | DQ | Param | CmdSub | ArithSub | ProcSub | BadSub


class Word(Node):
    __slots__ = ("parts", "simple", "text", "assign")
    parts: list[Part]
    #: the plain string when the word needs no expansion at all
    simple: str | None
    text: str
    #: set when the word has the form ``name=value`` / ``name[i]+=value`` / ``name=(...)``
    assign: Assign | None

    def __init__(
        self,
        parts: list[Part],
        simple: str | None = None,
        text: str = "",
        assign: Assign | None = None,
    ) -> None:
        self.parts = parts
        self.simple = simple
        self.text = text
        self.assign = assign


# --- commands -----------------------------------------------------------------------------


class Assign(Node):
    __slots__ = ("name", "index", "value", "array", "append", "text", "cmdsub")
    name: str
    index: str | None
    value: Word | None
    array: list[Word | Assign] | None
    append: bool
    text: str
    #: cached: does the value contain a command substitution (sets $?)
    cmdsub: bool | None

    def __init__(
        self,
        name: str,
        index: str | None = None,
        value: Word | None = None,
        array: list[Word | Assign] | None = None,
        append: bool = False,
        text: str = "",
        cmdsub: bool | None = None,
    ) -> None:
        self.name = name
        self.index = index
        self.value = value
        self.array = array
        self.append = append
        self.text = text
        self.cmdsub = cmdsub


class HereDoc(Node):
    __slots__ = ("delimiter", "strip_tabs", "quoted", "body")
    delimiter: str
    strip_tabs: bool
    quoted: bool
    body: Word | None

    def __init__(
        self, delimiter: str, strip_tabs: bool, quoted: bool, body: Word | None = None
    ) -> None:
        self.delimiter = delimiter
        self.strip_tabs = strip_tabs
        self.quoted = quoted
        self.body = body


class Redir(Node):
    __slots__ = ("fd", "op", "target", "heredoc", "fdvar")
    fd: int | None
    op: str  # < > >> >| <> <& >& &> &>> << <<- <<<
    target: Word | None
    heredoc: HereDoc | None
    fdvar: str | None

    def __init__(
        self,
        fd: int | None,
        op: str,
        target: Word | None = None,
        heredoc: HereDoc | None = None,
        fdvar: str | None = None,
    ) -> None:
        self.fd = fd
        self.op = op
        self.target = target
        self.heredoc = heredoc
        self.fdvar = fdvar


class Simple(Node):
    __slots__ = ("assigns", "words", "redirs", "line")
    assigns: list[Assign]
    words: list[Word]
    redirs: list[Redir]
    line: int

    def __init__(
        self, assigns: list[Assign], words: list[Word], redirs: list[Redir], line: int = 0
    ) -> None:
        self.assigns = assigns
        self.words = words
        self.redirs = redirs
        self.line = line


class Pipeline(Node):
    __slots__ = ("cmds", "negate", "stderr_too", "line", "timed")
    cmds: list[Command]
    negate: bool
    stderr_too: list[bool]  # |& after stage i
    line: int
    timed: bool

    def __init__(
        self,
        cmds: list[Command],
        negate: bool = False,
        stderr_too: list[bool] | None = None,
        line: int = 0,
        timed: bool = False,
    ) -> None:
        self.cmds = cmds
        self.negate = negate
        self.stderr_too = [] if stderr_too is None else stderr_too
        self.line = line
        self.timed = timed


class AndOr(Node):
    __slots__ = ("first", "rest")
    first: Pipeline
    rest: list[tuple[str, Pipeline]]

    def __init__(self, first: Pipeline, rest: list[tuple[str, Pipeline]]) -> None:
        self.first = first
        self.rest = rest


class ListItem(Node):
    __slots__ = ("node", "background")
    node: AndOr
    background: bool

    def __init__(self, node: AndOr, background: bool = False) -> None:
        self.node = node
        self.background = background


class Script(Node):
    __slots__ = ("items", "warnings")
    items: list[ListItem]
    warnings: list[str]

    def __init__(self, items: list[ListItem], warnings: list[str] | None = None) -> None:
        self.items = items
        self.warnings = [] if warnings is None else warnings


class Subshell(Node):
    __slots__ = ("body", "redirs", "line")
    body: Script
    redirs: list[Redir]
    line: int

    def __init__(self, body: Script, redirs: list[Redir] | None = None, line: int = 0) -> None:
        self.body = body
        self.redirs = [] if redirs is None else redirs
        self.line = line


class Group(Node):
    __slots__ = ("body", "redirs", "line")
    body: Script
    redirs: list[Redir]
    line: int

    def __init__(self, body: Script, redirs: list[Redir] | None = None, line: int = 0) -> None:
        self.body = body
        self.redirs = [] if redirs is None else redirs
        self.line = line


class If(Node):
    __slots__ = ("clauses", "orelse", "redirs", "line")
    clauses: list[tuple[Script, Script]]
    orelse: Script | None
    redirs: list[Redir]
    line: int

    def __init__(
        self,
        clauses: list[tuple[Script, Script]],
        orelse: Script | None,
        redirs: list[Redir] | None = None,
        line: int = 0,
    ) -> None:
        self.clauses = clauses
        self.orelse = orelse
        self.redirs = [] if redirs is None else redirs
        self.line = line


class While(Node):
    __slots__ = ("cond", "body", "until", "redirs", "line")
    cond: Script
    body: Script
    until: bool
    redirs: list[Redir]
    line: int

    def __init__(
        self,
        cond: Script,
        body: Script,
        until: bool = False,
        redirs: list[Redir] | None = None,
        line: int = 0,
    ) -> None:
        self.cond = cond
        self.body = body
        self.until = until
        self.redirs = [] if redirs is None else redirs
        self.line = line


class For(Node):
    __slots__ = ("var", "words", "body", "select", "redirs", "line")
    var: str
    words: list[Word] | None
    body: Script
    select: bool
    redirs: list[Redir]
    line: int

    def __init__(
        self,
        var: str,
        words: list[Word] | None,
        body: Script,
        select: bool = False,
        redirs: list[Redir] | None = None,
        line: int = 0,
    ) -> None:
        self.var = var
        self.words = words
        self.body = body
        self.select = select
        self.redirs = [] if redirs is None else redirs
        self.line = line


class ArithFor(Node):
    __slots__ = ("init", "cond", "step", "body", "redirs", "line")
    init: str
    cond: str
    step: str
    body: Script
    redirs: list[Redir]
    line: int

    def __init__(
        self,
        init: str,
        cond: str,
        step: str,
        body: Script,
        redirs: list[Redir] | None = None,
        line: int = 0,
    ) -> None:
        self.init = init
        self.cond = cond
        self.step = step
        self.body = body
        self.redirs = [] if redirs is None else redirs
        self.line = line


class CaseItem(Node):
    __slots__ = ("patterns", "body", "term")
    patterns: list[Word]
    body: Script
    term: str  # ";;" ";&" ";;&"

    def __init__(self, patterns: list[Word], body: Script, term: str) -> None:
        self.patterns = patterns
        self.body = body
        self.term = term


class Case(Node):
    __slots__ = ("word", "items", "redirs", "line")
    word: Word
    items: list[CaseItem]
    redirs: list[Redir]
    line: int

    def __init__(
        self, word: Word, items: list[CaseItem], redirs: list[Redir] | None = None, line: int = 0
    ) -> None:
        self.word = word
        self.items = items
        self.redirs = [] if redirs is None else redirs
        self.line = line


class FuncDef(Node):
    __slots__ = ("name", "body", "line", "source")
    name: str
    body: Command
    line: int
    source: str

    def __init__(self, name: str, body: Command, line: int = 0, source: str = "") -> None:
        self.name = name
        self.body = body
        self.line = line
        self.source = source


class ArithCmd(Node):
    __slots__ = ("expr", "redirs", "line")
    expr: str
    redirs: list[Redir]
    line: int

    def __init__(self, expr: str, redirs: list[Redir] | None = None, line: int = 0) -> None:
        self.expr = expr
        self.redirs = [] if redirs is None else redirs
        self.line = line


# [[ ]] expressions
class CondWord(Node):
    __slots__ = ("word",)
    word: Word

    def __init__(self, word: Word) -> None:
        self.word = word


class CondUnary(Node):
    __slots__ = ("op", "arg")
    op: str
    arg: Word

    def __init__(self, op: str, arg: Word) -> None:
        self.op = op
        self.arg = arg


class CondBinary(Node):
    __slots__ = ("op", "left", "right")
    op: str
    left: Word
    right: Word

    def __init__(self, op: str, left: Word, right: Word) -> None:
        self.op = op
        self.left = left
        self.right = right


class CondNot(Node):
    __slots__ = ("expr",)
    expr: CondExpr

    def __init__(self, expr: CondExpr) -> None:
        self.expr = expr


class CondAnd(Node):
    __slots__ = ("left", "right")
    left: CondExpr
    right: CondExpr

    def __init__(self, left: CondExpr, right: CondExpr) -> None:
        self.left = left
        self.right = right


class CondOr(Node):
    __slots__ = ("left", "right")
    left: CondExpr
    right: CondExpr

    def __init__(self, left: CondExpr, right: CondExpr) -> None:
        self.left = left
        self.right = right


class CondParen(Node):
    """``( expr )`` inside ``[[ ]]``: kept so that the command prints as it was written."""

    __slots__ = ("expr",)
    expr: CondExpr

    def __init__(self, expr: CondExpr) -> None:
        self.expr = expr


CondExpr = CondWord | CondUnary | CondBinary | CondNot | CondAnd | CondOr | CondParen


class CondCmd(Node):
    __slots__ = ("expr", "redirs", "line")
    expr: CondExpr
    redirs: list[Redir]
    line: int

    def __init__(self, expr: CondExpr, redirs: list[Redir] | None = None, line: int = 0) -> None:
        self.expr = expr
        self.redirs = [] if redirs is None else redirs
        self.line = line


Command = (
    Simple | Subshell | Group | If | While | For | ArithFor | Case | FuncDef | ArithCmd | CondCmd
)
