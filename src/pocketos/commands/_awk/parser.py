"""Recursive-descent parser for awk producing a small tuple-based syntax tree.

Expressions are tuples whose first item names the node kind, e.g. ``("num", 1.0)``,
``("binop", "+", left, right)``; statements likewise (``("print", args, redir, target)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pocketos.commands._awk.lexer import AwkSyntaxError, Lexer, Token

__all__ = ["Function", "Program", "parse_program"]

Node = tuple[Any, ...]


@dataclass
class Function:
    name: str
    params: list[str]
    body: Node


@dataclass
class Program:
    begin: list[Node] = field(default_factory=list)
    end: list[Node] = field(default_factory=list)
    beginfile: list[Node] = field(default_factory=list)
    endfile: list[Node] = field(default_factory=list)
    #: (pattern or None, second pattern for ranges or None, action block or None)
    rules: list[tuple[Node | None, Node | None, Node | None]] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "^="}
_CMP_OPS = {"<", "<=", "==", "!=", ">", ">="}
#: tokens that may start an operand of implicit concatenation
_CONCAT_START = {
    "NUMBER",
    "STRING",
    "ERE",
    "NAME",
    "FUNC_NAME",
    "BUILTIN",
    "$",
    "(",
    "!",
    "++",
    "--",
    "getline",
}


class Parser:
    def __init__(self, src: str) -> None:
        self.lx = Lexer(src)
        self.tok: Token = self.lx.next()
        self.in_function = False
        self.loop_depth = 0
        # print argument context: '>' is a redirection, not a comparison
        self.no_gt = 0

    # --- token helpers --------------------------------------------------------------------
    def advance(self) -> Token:
        t = self.tok
        self.tok = self.lx.next()
        return t

    def error(self, tok: Token | None = None, msg: str = "syntax error") -> AwkSyntaxError:
        t = tok or self.tok
        return self.lx.error(msg, t.pos)

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.error()
        return self.advance()

    def at(self, *kinds: str) -> bool:
        return self.tok.kind in kinds

    def opt_newlines(self) -> None:
        while self.tok.kind == "NEWLINE":
            self.advance()

    def skip_terms(self) -> None:
        while self.tok.kind in ("NEWLINE", ";"):
            self.advance()

    # --- program --------------------------------------------------------------------------
    def program(self) -> Program:
        prog = Program()
        self.skip_terms()
        while not self.at("EOF"):
            self.item(prog)
            self.skip_terms()
        return prog

    def item(self, prog: Program) -> None:
        t = self.tok
        if t.kind in ("BEGIN", "END", "BEGINFILE", "ENDFILE"):
            self.advance()
            self.opt_newlines()
            if not self.at("{"):
                raise self.error(msg=f"{t.kind} blocks must have an action part")
            body = self.block()
            {
                "BEGIN": prog.begin,
                "END": prog.end,
                "BEGINFILE": prog.beginfile,
                "ENDFILE": prog.endfile,
            }[t.kind].append(body)
            return
        if t.kind == "func":
            self.function(prog)
            return
        pat: Node | None = None
        pat2: Node | None = None
        if not self.at("{"):
            pat = self.expr()
            if self.at(","):
                self.advance()
                self.opt_newlines()
                pat2 = self.expr()
        if self.at("{"):
            action: Node | None = self.block()
        else:
            if not self.at("NEWLINE", ";", "EOF"):
                raise self.error()
            action = None
        prog.rules.append((pat, pat2, action))

    def function(self, prog: Program) -> None:
        self.advance()
        if self.tok.kind not in ("NAME", "FUNC_NAME"):
            raise self.error()
        name = self.advance().value
        if name in prog.functions:
            raise self.error(msg=f"function `{name}' previously defined")
        self.expect("(")
        params: list[str] = []
        self.opt_newlines()
        while not self.at(")"):
            if not self.at("NAME"):
                raise self.error()
            p = self.advance().value
            if p in params:
                raise self.error(msg=f"function `{name}': duplicate parameter `{p}'")
            params.append(p)
            self.opt_newlines()
            if self.at(","):
                self.advance()
                self.opt_newlines()
            elif not self.at(")"):
                raise self.error()
        self.advance()
        self.opt_newlines()
        self.in_function = True
        body = self.block()
        self.in_function = False
        prog.functions[name] = Function(name, params, body)

    # --- statements -----------------------------------------------------------------------
    def block(self) -> Node:
        self.expect("{")
        stmts: list[Node] = []
        self.skip_terms()
        while not self.at("}"):
            if self.at("EOF"):
                raise self.error()
            stmts.append(self.statement())
            self.skip_terms()
        self.advance()
        return ("block", stmts)

    def end_simple(self) -> None:
        if self.at(";", "NEWLINE"):
            self.advance()
        elif not self.at("}", "EOF"):
            raise self.error()

    def simple_or_block(self) -> Node:
        self.opt_newlines()
        if self.at(";"):
            self.advance()
            return ("block", [])
        return self.statement()

    def statement(self) -> Node:
        t = self.tok
        k = t.kind
        if k == "{":
            return self.block()
        if k == "if":
            self.advance()
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            then = self.simple_or_block()
            # look past newlines/semicolon for else
            save = (self.lx.pos, self.lx.line, self.tok)
            while self.at("NEWLINE", ";"):
                self.advance()
            if self.at("else"):
                self.advance()
                other = self.simple_or_block()
                return ("if", cond, then, other)
            self.lx.pos, self.lx.line, self.tok = save
            return ("if", cond, then, None)
        if k == "while":
            self.advance()
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            if self.at(";"):
                self.advance()
                return ("while", cond, ("block", []))
            self.loop_depth += 1
            body = self.simple_or_block()
            self.loop_depth -= 1
            return ("while", cond, body)
        if k == "do":
            self.advance()
            self.loop_depth += 1
            body = self.simple_or_block()
            self.loop_depth -= 1
            self.skip_terms()
            self.expect("while")
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            self.end_simple()
            return ("do", body, cond)
        if k == "for":
            return self.for_stmt()
        if k == "switch":
            return self.switch_stmt()
        if k in ("break", "continue"):
            self.advance()
            if self.loop_depth <= 0:
                raise self.error(t, f"`{k}' is not allowed outside a loop")
            self.end_simple()
            return (k,)
        if k in ("next", "nextfile"):
            self.advance()
            self.end_simple()
            return (k,)
        if k == "exit":
            self.advance()
            e = None if self.at(";", "NEWLINE", "}", "EOF") else self.expr()
            self.end_simple()
            return ("exit", e)
        if k == "return":
            if not self.in_function:
                raise self.error(t, "`return' used outside function context")
            self.advance()
            e = None if self.at(";", "NEWLINE", "}", "EOF") else self.expr()
            self.end_simple()
            return ("return", e)
        if k == "delete":
            self.advance()
            if not self.at("NAME"):
                raise self.error()
            name = self.advance().value
            if self.at("["):
                self.advance()
                subs = self.expr_list()
                self.expect("]")
                self.end_simple()
                return ("delete", name, subs)
            self.end_simple()
            return ("delete", name, None)
        if k in ("print", "printf"):
            s = self.print_stmt()
            self.end_simple()
            return s
        if k == ";":
            self.advance()
            return ("block", [])
        e = self.expr()
        self.end_simple()
        return ("expr", e)

    def for_stmt(self) -> Node:
        self.advance()
        self.expect("(")
        # for (var in array)
        if self.at("NAME"):
            save = (self.lx.pos, self.lx.line, self.tok)
            name = self.advance().value
            if self.at("in"):
                self.advance()
                if self.at("NAME"):
                    arr = self.advance().value
                    if self.at(")"):
                        self.advance()
                        self.loop_depth += 1
                        body = self.simple_or_block()
                        self.loop_depth -= 1
                        return ("forin", ("var", name), arr, body)
            self.lx.pos, self.lx.line, self.tok = save
        init = None if self.at(";") else self.simple_stmt_expr()
        self.expect(";")
        self.opt_newlines()
        cond = None if self.at(";") else self.expr()
        self.expect(";")
        self.opt_newlines()
        incr = None if self.at(")") else self.simple_stmt_expr()
        self.expect(")")
        if self.at(";"):
            self.advance()
            return ("for", init, cond, incr, ("block", []))
        self.loop_depth += 1
        body = self.simple_or_block()
        self.loop_depth -= 1
        return ("for", init, cond, incr, body)

    def simple_stmt_expr(self) -> Node:
        return ("expr", self.expr())

    def switch_stmt(self) -> Node:
        self.advance()
        self.expect("(")
        subject = self.expr()
        self.expect(")")
        self.opt_newlines()
        self.expect("{")
        cases: list[tuple[Node | None, list[Node]]] = []
        self.skip_terms()
        self.loop_depth += 1  # break is allowed
        while not self.at("}"):
            if self.at("case"):
                self.advance()
                if self.at("/", "/="):
                    label: Node | None = ("regex", self.lx.regex(self.tok.pos).value)
                    self.tok = self.lx.next()
                else:
                    neg = False
                    if self.at("-"):
                        self.advance()
                        neg = True
                    t = self.advance()
                    if t.kind == "NUMBER":
                        label = ("num", -t.num if neg else t.num)
                    elif t.kind == "STRING" and not neg:
                        label = ("str", t.value)
                    else:
                        raise self.error(t)
            elif self.at("default"):
                self.advance()
                label = None
            else:
                raise self.error()
            self.expect(":")
            self.skip_terms()
            body: list[Node] = []
            while not self.at("case", "default", "}"):
                body.append(self.statement())
                self.skip_terms()
            cases.append((label, body))
        self.loop_depth -= 1
        self.advance()
        return ("switch", subject, cases)

    def print_stmt(self) -> Node:
        kind = self.advance().kind
        args: list[Node] = []
        self.no_gt += 1
        try:
            if not self.at(";", "NEWLINE", "}", ">", ">>", "|", "EOF"):
                args = self.expr_list()
        finally:
            self.no_gt -= 1
        if len(args) == 1 and args[0][0] == "group":
            args = list(args[0][1])
        redir = None
        target = None
        if self.at(">", ">>", "|"):
            redir = self.advance().kind
            self.no_gt += 1
            try:
                target = self.concat()
            finally:
                self.no_gt -= 1
        if kind == "printf" and not args:
            raise self.error()
        return (kind, args, redir, target)

    def expr_list(self) -> list[Node]:
        items = [self.expr()]
        while self.at(","):
            self.advance()
            self.opt_newlines()
            items.append(self.expr())
        return items

    # --- expressions ----------------------------------------------------------------------
    def expr(self) -> Node:
        return self.ternary()

    def ternary(self) -> Node:
        cond = self.or_expr()
        if self.at("?"):
            self.advance()
            self.opt_newlines()
            a = self.ternary()
            self.opt_newlines()
            self.expect(":")
            self.opt_newlines()
            b = self.ternary()
            return ("cond", cond, a, b)
        if self.tok.kind in _ASSIGN_OPS or (self.tok.kind == "/="):
            op = self.tok.kind
            if cond[0] in ("var", "field", "index"):
                self.advance()
                self.opt_newlines()
                rhs = self.ternary()
                return ("assign", op, cond, rhs)
            if cond[0] == "group" or op != "/=":
                raise self.error()
        return cond

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.at("||"):
            self.advance()
            self.opt_newlines()
            right = self.and_expr()
            left = ("or", left, right)
        return left

    def and_expr(self) -> Node:
        left = self.in_expr()
        while self.at("&&"):
            self.advance()
            self.opt_newlines()
            right = self.in_expr()
            left = ("and", left, right)
        return left

    def in_expr(self) -> Node:
        left = self.match_expr()
        while self.at("in"):
            self.advance()
            name = self.expect("NAME").value
            subs = list(left[1]) if left[0] == "group" else [left]
            left = ("in", subs, name)
        return left

    def match_expr(self) -> Node:
        left = self.cmp_expr()
        while self.at("~", "!~"):
            neg = self.advance().kind == "!~"
            right = self.cmp_expr()
            left = ("match", neg, left, right)
        return left

    def cmp_expr(self) -> Node:
        left = self.concat()
        k = self.tok.kind
        if k in _CMP_OPS and not (k == ">" and self.no_gt):
            self.advance()
            right = self.concat()
            return ("cmp", k, left, right)
        return left

    def concat(self) -> Node:
        left = self.additive()
        parts = [left]
        while True:
            k = self.tok.kind
            if k == "|":
                # cmd | getline [var]
                save = (self.lx.pos, self.lx.line, self.tok)
                self.advance()
                if self.at("getline"):
                    self.advance()
                    var = self.opt_lvalue()
                    cmd = parts[0] if len(parts) == 1 else ("concat", parts)
                    parts = [("getline", "cmd", var, cmd)]
                    continue
                self.lx.pos, self.lx.line, self.tok = save
                break
            if k in _CONCAT_START:
                parts.append(self.additive())
                continue
            break
        if len(parts) == 1:
            return parts[0]
        return ("concat", parts)

    def additive(self) -> Node:
        left = self.mul()
        while self.at("+", "-"):
            op = self.advance().kind
            right = self.mul()
            left = ("binop", op, left, right)
        return left

    def mul(self) -> Node:
        left = self.unary()
        while self.at("*", "/", "%"):
            op = self.advance().kind
            right = self.unary()
            left = ("binop", op, left, right)
        return left

    def unary(self) -> Node:
        k = self.tok.kind
        if k == "!":
            self.advance()
            return ("not", self.unary())
        if k in ("-", "+"):
            self.advance()
            return ("unary", k, self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("^"):
            self.advance()
            # right associative; the exponent may carry a unary minus
            if self.at("-", "+", "!"):
                exp = self.unary()
            else:
                exp = self.power()
            return ("binop", "^", base, exp)
        return base

    def postfix(self) -> Node:
        e = self.primary()
        if self.at("++", "--") and e[0] in ("var", "field", "index"):
            op = self.advance().kind
            return ("postinc", op, e)
        return e

    def opt_lvalue(self) -> Node | None:
        k = self.tok.kind
        if k == "$":
            self.advance()
            return ("field", self.field_operand())
        if k == "NAME":
            name = self.advance().value
            if self.at("["):
                self.advance()
                subs = self.expr_list()
                self.expect("]")
                return ("index", name, subs)
            return ("var", name)
        return None

    def field_operand(self) -> Node:
        k = self.tok.kind
        if k in ("++", "--"):
            op = self.advance().kind
            lv = self.opt_lvalue()
            if lv is None:
                raise self.error()
            return ("preinc", op, lv)
        if k == "-":
            self.advance()
            return ("unary", "-", self.field_operand())
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        k = t.kind
        if k == "NUMBER":
            self.advance()
            return ("num", t.num)
        if k == "STRING":
            self.advance()
            return ("str", t.value)
        if k in ("/", "/="):
            rt = self.lx.regex(t.pos)
            self.tok = self.lx.next()
            return ("regex", rt.value)
        if k == "$":
            self.advance()
            return ("field", self.field_operand())
        if k in ("++", "--"):
            self.advance()
            lv = self.opt_lvalue()
            if lv is None:
                raise self.error()
            return ("preinc", k, lv)
        if k == "(":
            self.advance()
            saved = self.no_gt
            self.no_gt = 0
            try:
                self.opt_newlines()
                items = self.expr_list()
                self.opt_newlines()
                self.expect(")")
            finally:
                self.no_gt = saved
            if len(items) > 1:
                if self.at("in"):
                    # (i, j) in array binds like a primary
                    self.advance()
                    name = self.expect("NAME").value
                    return ("in", items, name)
                if not self.no_gt:
                    raise self.error()
                return ("group", items)
            return ("paren", items[0])
        if k == "NAME":
            self.advance()
            if self.at("["):
                self.advance()
                subs = self.expr_list()
                self.expect("]")
                return ("index", t.value, subs)
            return ("var", t.value)
        if k == "FUNC_NAME":
            self.advance()
            self.expect("(")
            self.opt_newlines()
            args: list[Node] = []
            if not self.at(")"):
                args = self.expr_list()
            self.opt_newlines()
            self.expect(")")
            return ("call", t.value, args)
        if k == "BUILTIN":
            self.advance()
            if self.at("("):
                self.advance()
                self.opt_newlines()
                args = []
                if not self.at(")"):
                    args = self.expr_list()
                self.opt_newlines()
                self.expect(")")
                return ("builtin", t.value, args)
            if t.value == "length":
                return ("builtin", "length", [])
            raise self.error()
        if k == "getline":
            self.advance()
            var = self.opt_lvalue()
            if self.at("<"):
                self.advance()
                src = self.getline_source()
                return ("getline", "file", var, src)
            return ("getline", "simple", var, None)
        if k == "-":
            self.advance()
            return ("unary", "-", self.unary())
        if k == "+":
            self.advance()
            return ("unary", "+", self.unary())
        if k == "!":
            self.advance()
            return ("not", self.unary())
        raise self.error()

    def getline_source(self) -> Node:
        # a non-concatenated expression: ``getline < dir "/" f`` reads from ``dir``
        saved = self.no_gt
        self.no_gt = 1
        try:
            return self.additive()
        finally:
            self.no_gt = saved


def parse_program(src: str) -> Program:
    p = Parser(src)
    prog = p.program()
    prog.warnings = p.lx.warnings
    return prog
