"""Print a function definition the way bash's ``declare -f`` / ``type`` do."""

from __future__ import annotations

from typing import Any

from pocketos.shell.ast import (
    AndOr,
    ArithCmd,
    ArithFor,
    Case,
    CondAnd,
    CondBinary,
    CondCmd,
    CondExpr,
    CondNot,
    CondOr,
    CondParen,
    CondUnary,
    CondWord,
    For,
    FuncDef,
    Group,
    If,
    Pipeline,
    Redir,
    Script,
    Simple,
    Subshell,
    While,
)

__all__ = ["format_andor", "format_command", "format_cond", "format_function", "format_pipeline"]

IND = "    "


def format_function(f: FuncDef) -> str:
    return _Printer().function(f, 0)


def format_pipeline(pl: Pipeline) -> str:
    """A pipeline on one line, as ``jobs`` shows it."""
    return _Printer().pipeline(pl, 0)


def format_command(c: Any) -> str:
    return _Printer().command(c, 0)


def format_andor(node: AndOr) -> str:
    return _Printer().andor(node, 0)


def format_cond(e: CondExpr) -> str:
    """The expression of ``[[ ]]`` as bash prints it (``[[ $x ]]`` is ``-n $x``)."""
    return _Printer().cond(e)


class _Printer:
    def __init__(self) -> None:
        self.heredocs: list[str] = []

    def function(self, f: FuncDef, level: int) -> str:
        body = f.body
        pad = IND * level
        if isinstance(body, Group):
            inner = self.lines(body.body, level + 1, trailing=False)
            text = f"{f.name} () \n{pad}{{ \n{inner}\n{pad}}}"
            return text + self.redirs(body.redirs)
        return f"{f.name} () \n{pad}{{ \n{pad}{IND}{self.command(body, level + 1)}\n{pad}}}"

    # a list printed one command per line
    def lines(self, s: Script, level: int, trailing: bool) -> str:
        pad = IND * level
        out: list[str] = []
        n = len(s.items)
        for i, item in enumerate(s.items):
            text = self.andor(item.node, level)
            if item.background:
                text += " &"
            elif (i < n - 1 or trailing) and not self.heredocs:
                text += ";"
            if self.heredocs:
                text += "\n" + "".join(self.heredocs)
                self.heredocs = []
            out.append(pad + text)
        return "\n".join(out)

    # a list printed on one line (conditions, subshells)
    def inline(self, s: Script, level: int) -> str:
        parts: list[str] = []
        for item in s.items:
            t = self.andor(item.node, level)
            parts.append(t + (" &" if item.background else ""))
        sep = "; "
        text = ""
        for i, p in enumerate(parts):
            if i:
                text += " " if parts[i - 1].endswith("&") else sep
            text += p
        return text

    def andor(self, node: AndOr, level: int) -> str:
        text = self.pipeline(node.first, level)
        for op, pl in node.rest:
            text += f" {op} " + self.pipeline(pl, level)
        return text

    def pipeline(self, pl: Pipeline, level: int) -> str:
        parts = [self.command(c, level) for c in pl.cmds]
        text = ""
        for i, p in enumerate(parts):
            if i:
                text += " |& " if pl.stderr_too and pl.stderr_too[i - 1] else " | "
            text += p
        if pl.negate:
            text = "! " + text
        if pl.timed:
            text = "time " + text
        return text

    def command(self, c: Any, level: int) -> str:
        pad = IND * level
        inner = IND * (level + 1)
        if isinstance(c, Simple):
            words = [a.text for a in c.assigns] + [w.text for w in c.words]
            return " ".join(words) + self.redirs(c.redirs)
        if isinstance(c, FuncDef):
            return self.function(c, level)
        if isinstance(c, Group):
            return (
                "{ \n" + self.lines(c.body, level + 1, False) + f"\n{pad}}}" + self.redirs(c.redirs)
            )
        if isinstance(c, Subshell):
            return "( " + self.inline(c.body, level) + " )" + self.redirs(c.redirs)
        if isinstance(c, If):
            return self.if_(c.clauses, c.orelse, level) + self.redirs(c.redirs)
        if isinstance(c, While):
            kw = "until" if c.until else "while"
            return (
                f"{kw} {self.inline(c.cond, level)}; do\n"
                f"{self.lines(c.body, level + 1, True)}\n{pad}done" + self.redirs(c.redirs)
            )
        if isinstance(c, For):
            kw = "select" if c.select else "for"
            wtext = " ".join(w.text for w in c.words) if c.words is not None else '"$@"'
            return (
                f"{kw} {c.var} in {wtext};\n{pad}do\n"
                f"{self.lines(c.body, level + 1, True)}\n{pad}done" + self.redirs(c.redirs)
            )
        if isinstance(c, ArithFor):
            head = "; ".join(x.strip() for x in (c.init, c.cond, c.step))
            return (
                f"for (({head}))\n{pad}do\n"
                f"{self.lines(c.body, level + 1, True)}\n{pad}done" + self.redirs(c.redirs)
            )
        if isinstance(c, Case):
            out = [f"case {c.word.text} in "]
            for item in c.items:
                pats = " | ".join(p.text for p in item.patterns)
                out.append(f"{inner}{pats})")
                if item.body.items:
                    out.append(self.lines(item.body, level + 2, False))
                out.append(f"{inner}{item.term}")
            out.append(f"{pad}esac")
            return "\n".join(out) + self.redirs(c.redirs)
        if isinstance(c, ArithCmd):
            return f"(({c.expr}))" + self.redirs(c.redirs)
        if isinstance(c, CondCmd):
            return f"[[ {self.cond(c.expr)} ]]" + self.redirs(c.redirs)
        return ""

    def if_(self, clauses: list[tuple[Script, Script]], orelse: Script | None, level: int) -> str:
        pad = IND * level
        cond, body = clauses[0]
        text = f"if {self.inline(cond, level)}; then\n{self.lines(body, level + 1, True)}\n"
        if len(clauses) > 1:
            text += f"{pad}else\n{pad}{IND}" + self.if_(clauses[1:], orelse, level + 1) + ";\n"
        elif orelse is not None:
            text += f"{pad}else\n{self.lines(orelse, level + 1, True)}\n"
        return text + f"{pad}fi"

    def cond(self, e: CondExpr) -> str:
        if isinstance(e, CondAnd):
            return f"{self.cond(e.left)} && {self.cond(e.right)}"
        if isinstance(e, CondOr):
            return f"{self.cond(e.left)} || {self.cond(e.right)}"
        if isinstance(e, CondNot):
            return f"! {self.cond(e.expr)}"
        if isinstance(e, CondParen):
            return f"( {self.cond(e.expr)} )"
        if isinstance(e, CondUnary):
            return f"{e.op} {e.arg.text}"
        if isinstance(e, CondBinary):
            return f"{e.left.text} {e.op} {e.right.text}"
        if isinstance(e, CondWord):
            return f"-n {e.word.text}"
        return ""

    def redirs(self, redirs: list[Redir]) -> str:
        out = ""
        for r in redirs:
            fd = "" if r.fd is None else str(r.fd)
            if r.heredoc is not None:
                hd = r.heredoc
                out += f" {fd}{r.op}{_heredoc_word(hd.delimiter, hd.quoted)}"
                body = hd.body.text if hd.body is not None else ""
                self.heredocs.append(f"{body}{hd.delimiter}\n")
            elif r.op in (">&", "<&"):
                tgt = r.target.text if r.target is not None else ""
                out += f" {fd}{r.op}{tgt}"
            else:
                tgt = r.target.text if r.target is not None else ""
                out += f" {fd}{r.op} {tgt}"
        return out


def _heredoc_word(delim: str, quoted: bool) -> str:
    return f"'{delim}'" if quoted else delim
