"""Parsing find's expression into a tree of :class:`~pocketos.commands._find.state.Node`."""

from __future__ import annotations

import re

from pocketos.commands._find.actions import Actions
from pocketos.commands._find.predicates import Tests
from pocketos.commands._find.state import FindError, Node


class Parser(Tests, Actions):
    """The expression: operators by precedence (``,`` < ``-o`` < ``-a`` < ``!``), global
    options, and the tests and actions as leaves."""

    def parse(self, args: list[str]) -> Node | None:
        self.args = args
        self.pos = 0
        if not args:
            return None
        node = self.p_comma()
        if self.pos < len(args):
            tok = args[self.pos]
            if tok == ")":
                raise FindError("invalid expression; you have too many ')'")
            raise FindError(f"paths must precede expression: `{tok}'")
        return node

    def p_comma(self) -> Node:
        left = self.p_or()
        while self.peek() == ",":
            self.take()
            right = self.p_or()
            left = Node("comma", [left, right])
        return left

    def p_or(self) -> Node:
        left = self.p_and()
        while self.peek() in ("-o", "-or"):
            tok = self.take()
            if self.peek() is None or self.peek() in (")", "-o", "-or", "-a", "-and", ","):
                raise FindError(f"expected an expression after '{tok}'")
            right = self.p_and()
            left = Node("or", [left, right])
        return left

    def p_and(self) -> Node:
        left = self.p_unary()
        while True:
            tok = self.peek()
            if tok is None or tok in (")", "-o", "-or", ","):
                return left
            if tok in ("-a", "-and"):
                self.take()
                if self.peek() is None or self.peek() in (")", "-o", "-or", "-a", "-and", ","):
                    raise FindError(f"expected an expression after '{tok}'")
            right = self.p_unary()
            left = Node("and", [left, right])

    def p_unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise FindError("expected an expression")
        if tok in ("!", "-not"):
            self.take()
            if self.peek() is None:
                raise FindError(f"expected an expression after '{tok}'")
            return Node("not", [self.p_unary()])
        if tok == "(":
            self.take()
            if self.peek() == ")":
                raise FindError("invalid expression; empty parentheses are not allowed.")
            inner = self.p_comma()
            if self.peek() != ")":
                raise FindError(
                    "invalid expression; I was expecting to find a ')' somewhere "
                    "but did not see one."
                )
            self.take()
            return inner
        if tok == ")":
            raise FindError("invalid expression; you have too many ')'")
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        leaf = Node("leaf", name=tok)
        global_opts = {
            "-maxdepth",
            "-mindepth",
            "-depth",
            "-d",
            "-xdev",
            "-mount",
            "-noleaf",
            "-follow",
            "-regextype",
            "-daystart",
            "-ignore_readdir_race",
            "-noignore_readdir_race",
            "-warn",
            "-nowarn",
        }
        if tok in global_opts:
            if self.seen_non_option and tok not in (
                "-daystart",
                "-follow",
                "-regextype",
                "-warn",
                "-nowarn",
            ):
                self.warnings.append(
                    f"find: warning: you have specified the global option {tok} after the "
                    f"argument {self.seen_non_option}, but global options are not positional, "
                    f"i.e., {tok} affects tests specified before it as well as those specified "
                    "after it.  Please specify global options before other arguments."
                )
            if tok in ("-maxdepth", "-mindepth"):
                v = self.arg(tok)
                if not re.fullmatch(r"\+?\d+", v):
                    raise FindError(
                        f"Expected a positive decimal integer argument to {tok}, but got `{v}'"
                    )
                if tok == "-maxdepth":
                    self.maxdepth = int(v)
                else:
                    self.mindepth = int(v)
            elif tok in ("-depth", "-d"):
                self.depth_first = True
            elif tok == "-follow":
                self.follow = "L"
            elif tok == "-regextype":
                v = self.arg(tok)
                if v not in (
                    "emacs",
                    "posix-basic",
                    "posix-extended",
                    "posix-egrep",
                    "egrep",
                    "findutils-default",
                    "grep",
                    "posix-awk",
                    "awk",
                    "gnu-awk",
                    "sed",
                    "ed",
                ):
                    raise FindError(
                        f"Unknown regular expression type `{v}'; valid types are "
                        "`findutils-default', `ed', `emacs', `gnu-awk', `grep', "
                        "`posix-awk', `awk', `posix-basic', `posix-egrep', "
                        "`egrep', `posix-extended', `sed'."
                    )
                self.regextype = v
            elif tok == "-daystart":
                self.daystart = True
            leaf.fn = lambda e: True
            return leaf
        if not self.seen_non_option:
            self.seen_non_option = tok
        if self.test(tok, leaf) or self.action(tok, leaf):
            return leaf
        if tok.startswith("-"):
            raise FindError(f"unknown predicate `{tok}'")
        raise FindError(f"paths must precede expression: `{tok}'")
