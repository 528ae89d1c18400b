"""Compile awk expressions to Python expressions: string, numeric, output and truth
values, comparisons, assignment, increments, user-function calls and getline."""

from __future__ import annotations

import math

from pocketos.commands._awk.codegen import (
    _CMPNAME,
    _PYOP,
    SPECIAL_SET,
    CodeGen,
    _arith,
    _fatal,
    _numstr,
    _side_effects,
)
from pocketos.commands._awk.lexer import AwkSyntaxError
from pocketos.commands._awk.parser import Node

__all__ = ["ExprCompiler"]


class ExprCompiler(CodeGen):
    # --- expressions ------------------------------------------------------------------------
    def s(self, node: Node) -> str:
        """Code for the string value of ``node``."""
        k = node[0]
        if k == "field":
            return f"_getfs({self.fidx(node[1])})"
        if k == "paren":
            return self.s(node[1])
        if k == "num" and node[1].is_integer():
            return repr(_numstr(node[1]))
        code, t = self.ex(node)
        if t == "str":
            return code
        return f"_str({code})"

    def n(self, node: Node) -> str:
        """Code for the numeric value of ``node``."""
        k = node[0]
        if k == "field":
            return f"_getfn({self.fidx(node[1])})"
        if k == "paren":
            return self.n(node[1])
        code, t = self.ex(node)
        if t == "num":
            return code
        return f"_num({code})"

    def o(self, node: Node) -> str:
        """Code for the output string (OFMT) of ``node``."""
        k = node[0]
        if k == "field":
            return f"_getfs({self.fidx(node[1])})"
        if k == "paren":
            return self.o(node[1])
        if k == "num":
            v = node[1]
            if v.is_integer():
                return repr("%d" % v)  # noqa: UP031
        code, t = self.ex(node)
        if t == "str":
            return code
        return f"_outs({code})"

    def fidx(self, node: Node) -> str:
        if node[0] == "num":
            v = node[1]
            if v < 0:
                raise _fatal(f"attempt to access field {int(v)}")
            return str(int(v))
        if node[0] == "paren":
            return self.fidx(node[1])
        return f"_fidx({self.n(node)})"

    def key(self, subs: list[Node]) -> str:
        parts = []
        for e in subs:
            if e[0] == "num" and e[1].is_integer():
                parts.append(repr(_numstr(e[1])))
            else:
                parts.append(self.s(e))
        if len(parts) == 1:
            return parts[0]
        return "(" + " + V_SUBSEP + ".join(parts) + ")"

    def regex_of(self, node: Node) -> str:
        """Code for a compiled regex from a regex literal or a dynamic string."""
        if node[0] == "regex":
            return self.const("re", node[1])
        if node[0] == "str":
            return self.const("re", node[1])
        return f"_dynre({self.s(node)})"

    def cond(self, node: Node) -> str:
        """Code for a Python bool telling whether ``node`` is true."""
        k = node[0]
        if k == "paren":
            return self.cond(node[1])
        if k == "cmp":
            return self.cmp(node[1], node[2], node[3])
        if k == "and":
            return f"({self.cond(node[1])} and {self.cond(node[2])})"
        if k == "or":
            return f"({self.cond(node[1])} or {self.cond(node[2])})"
        if k == "not":
            return f"(not {self.cond(node[1])})"
        if k == "regex":
            return f"({self.const('re', node[1])}.search(_rec()) is not None)"
        if k == "match":
            rx = node[3]
            if rx[0] in ("regex", "str"):
                r = f"({self.regex_of(rx)}.search({self.s(node[2])}) is not None)"
            else:
                # the left operand is evaluated first
                r = f"_rmatch({self.s(node[2])}, {self.s(rx)})"
            return f"(not {r})" if node[1] else r
        if k == "in":
            return f"({self.key(node[1])} in {self.array_ref(node[2])})"
        if k == "num":
            return "True" if node[1] != 0 else "False"
        code, t = self.ex(node)
        if t == "num":
            return f"({code} != 0.0)"
        if t == "str":
            return f"({code} != '')"
        return f"_truth({code})"

    def cmp(self, op: str, a: Node, b: Node) -> str:
        ca, ta = self.ex(a)
        cb, tb = self.ex(b)
        if ta == "num" and tb == "num":
            return f"({ca} {_PYOP[op]} {cb})"
        if ta == "str" or tb == "str":
            sa = ca if ta == "str" else (self.s(a))
            sb = cb if tb == "str" else (self.s(b))
            return f"({sa} {_PYOP[op]} {sb})"
        return f"_cmp_{_CMPNAME[op]}({ca}, {cb})"

    def ex(self, node: Node) -> tuple[str, str]:
        k = node[0]
        meth = getattr(self, "x_" + k, None)
        if meth is None:
            raise AwkSyntaxError("syntax error")
        return meth(node)  # type: ignore[no-any-return]

    def x_num(self, node: Node) -> tuple[str, str]:
        v = node[1]
        if math.isinf(v):
            return ("_INF" if v > 0 else "(-_INF)"), "num"
        return repr(float(v)), "num"

    def x_str(self, node: Node) -> tuple[str, str]:
        return repr(node[1]), "str"

    def x_regex(self, node: Node) -> tuple[str, str]:
        return f"(1.0 if {self.cond(node)} else 0.0)", "num"

    def x_paren(self, node: Node) -> tuple[str, str]:
        return self.ex(node[1])

    def x_group(self, node: Node) -> tuple[str, str]:
        raise AwkSyntaxError("syntax error")

    def x_var(self, node: Node) -> tuple[str, str]:
        name = node[1]
        if self.is_array(name):
            raise _fatal(f"attempt to use array `{name}' in a scalar context")
        if name == "NF" and not self.is_local(name):
            return "_getnf()", "num"
        return self.var_ref(name), "any"

    def x_field(self, node: Node) -> tuple[str, str]:
        idx = node[1]
        if idx[0] == "num" and idx[1] == 0:
            return "_SN(_rec())", "any"
        return f"_getf({self.fidx(idx)})", "any"

    def x_index(self, node: Node) -> tuple[str, str]:
        return f"{self.array_ref(node[1])}[{self.key(node[2])}]", "any"

    def x_cond(self, node: Node) -> tuple[str, str]:
        a, ta = self.ex(node[2])
        b, tb = self.ex(node[3])
        t = ta if ta == tb else "any"
        return f"({a} if {self.cond(node[1])} else {b})", t

    def x_and(self, node: Node) -> tuple[str, str]:
        return f"(1.0 if {self.cond(node)} else 0.0)", "num"

    x_or = x_and
    x_in = x_and
    x_match = x_and
    x_cmp = x_and

    def x_not(self, node: Node) -> tuple[str, str]:
        return f"(0.0 if {self.cond(node[1])} else 1.0)", "num"

    def x_concat(self, node: Node) -> tuple[str, str]:
        # inline while short; a long result goes through _cat, which checks the memory budget
        # before making it
        parts = [self.s(p) for p in node[1]]
        ts = [self.tmp() for _ in parts]
        cond = " + ".join(f"len({t} := {c})" for t, c in zip(ts, parts, strict=True))
        return f"({' + '.join(ts)} if {cond} < 65536 else _cat({', '.join(ts)}))", "str"

    def x_binop(self, node: Node) -> tuple[str, str]:
        op = node[1]
        a = self.n(node[2])
        b = self.n(node[3])
        if op in "+-*":
            return f"({a} {op} {b})", "num"
        if op == "/":
            return f"_div({a}, {b})", "num"
        if op == "%":
            return f"_mod({a}, {b})", "num"
        return f"_pow({a}, {b})", "num"

    def x_unary(self, node: Node) -> tuple[str, str]:
        if node[1] == "-":
            return f"(-{self.n(node[2])})", "num"
        return self.n(node[2]), "num"

    # --- assignment -----------------------------------------------------------------------
    def assign_expr(self, lv: Node, val: str) -> str:
        k = lv[0]
        if k == "var":
            name = lv[1]
            if self.is_array(name):
                raise _fatal(f"attempt to use array `{name}' in a scalar context")
            if self.is_local(name):
                return f"(L_{name} := {val})"
            if name == "NF":
                return f"_setnf({val})"
            if name in SPECIAL_SET:
                return f"_setsp({name!r}, {val})"
            self.scope.assigned.add(name)
            return f"(V_{name} := {val})"
        if k == "field":
            return f"_setf({self.fidx(lv[1])}, {val})"
        if k == "index":
            return f"_aset({self.array_ref(lv[1])}, {self.key(lv[2])}, {val})"
        if k == "paren":
            return self.assign_expr(lv[1], val)
        raise _fatal("assignment to non-lvalue")

    def x_assign(self, node: Node) -> tuple[str, str]:
        op, lv, rhs = node[1], node[2], node[3]
        if op == "=":
            code, t = self.ex(rhs)
            if code.startswith("_SN(_rec())"):
                t = "any"
            return self.assign_expr(lv, code), t
        bop = op[0]
        if lv[0] == "index" and lv[2] and not all(e[0] in ("num", "str") for e in lv[2]):
            t = self.tmp()
            arr = self.array_ref(lv[1])
            new = _arith(bop, f"_num({arr}[{t}])", self.n(rhs))
            return f"_aset({arr}, ({t} := {self.key(lv[2])}), {new})", "num"
        if lv[0] == "field" and lv[1][0] != "num":
            t = self.tmp()
            new = _arith(bop, f"_num(_getfs({t}))", self.n(rhs))
            return f"_setf(({t} := {self.fidx(lv[1])}), {new})", "num"
        cur = self.n(lv)
        if _side_effects(rhs):
            t = self.tmp()
            value = f"({t} := {self.n(rhs)})"
            return f"({value}, {self.assign_expr(lv, _arith(bop, cur, t))})[1]", "num"
        return self.assign_expr(lv, _arith(bop, cur, self.n(rhs))), "num"

    def x_preinc(self, node: Node) -> tuple[str, str]:
        d = "1.0" if node[1] == "++" else "-1.0"
        lv = node[2]
        if (
            lv[0] == "var"
            or (lv[0] == "field" and lv[1][0] == "num")
            or (lv[0] == "index" and all(e[0] in ("num", "str") for e in lv[2]))
        ):
            return self.assign_expr(lv, f"({self.n(lv)} + {d})"), "num"
        return self._incdec(lv, d, False), "num"

    def x_postinc(self, node: Node) -> tuple[str, str]:
        d = "1.0" if node[1] == "++" else "-1.0"
        lv = node[2]
        if lv[0] == "var":
            t = self.tmp()
            return f"(({t} := {self.n(lv)}), {self.assign_expr(lv, f'({t} + {d})')})[0]", "num"
        return self._incdec(lv, d, True), "num"

    def _incdec(self, lv: Node, d: str, post: bool) -> str:
        if lv[0] == "paren":
            return self._incdec(lv[1], d, post)
        if lv[0] == "field":
            return f"_incf({self.fidx(lv[1])}, {d}, {post})"
        if lv[0] == "index":
            return f"_inca({self.array_ref(lv[1])}, {self.key(lv[2])}, {d}, {post})"
        if lv[0] == "var":
            t = self.tmp()
            if post:
                return f"(({t} := {self.n(lv)}), {self.assign_expr(lv, f'({t} + {d})')})[0]"
            return self.assign_expr(lv, f"({self.n(lv)} + {d})")
        raise AwkSyntaxError("syntax error")

    # --- calls ------------------------------------------------------------------------------
    def x_call(self, node: Node) -> tuple[str, str]:
        name, args = node[1], node[2]
        f = self.prog.functions.get(name)
        if f is None:
            raise _fatal(f"function `{name}' not defined")
        if len(args) > len(f.params):
            raise AwkSyntaxError(f"function `{name}' called with more arguments than declared")
        codes = []
        for i, a in enumerate(args):
            p = f.params[i]
            if p in self.local_arrays[name]:
                if a[0] != "var" or not self.is_array(a[1]):
                    raise AwkSyntaxError(
                        f"function `{name}': argument #{i + 1}: attempt to use scalar as array"
                    )
                codes.append(self.array_ref(a[1]))
            elif a[0] == "var" and self.is_array(a[1]):
                codes.append(self.array_ref(a[1]))
            else:
                codes.append(self.ex(a)[0])
        return f"(await F_{name}({', '.join(codes)}))", "any"

    def x_getline(self, node: Node) -> tuple[str, str]:
        kind, var, src = node[1], node[2], node[3]
        into = var is None
        if kind == "simple":
            call = f"(await _gl_main({into}))"
        elif kind == "file":
            call = f"(await _gl_file({self.s(src)}, {into}))"
        else:
            call = f"(await _gl_cmd({self.s(src)}, {into}))"
        if into:
            return call, "num"
        t = self.tmp()
        assign = self.assign_expr(var, "_glv()")
        return f"(({assign}, {t})[1] if ({t} := {call}) > 0 else {t})", "num"
