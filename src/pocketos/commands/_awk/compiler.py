"""Compile an awk syntax tree to Python source: one ``async def`` per BEGIN/main/END part and
per user function, run against a globals dict holding awk variables (``V_name``) and runtime
helpers (names starting with ``_``)."""

from __future__ import annotations

import math
import re
from typing import Any

from pocketos.commands._awk.lexer import AwkSyntaxError
from pocketos.commands._awk.parser import Node, Program
from pocketos.commands._awk.regex import AwkRegexError, compile_ere
from pocketos.commands._awk.values import fmt_special

__all__ = ["CompiledProgram", "compile_program"]

SPECIAL_SET = {"FS", "OFS", "ORS", "RS", "SUBSEP", "CONVFMT", "OFMT", "NR", "FNR"}
BUILTIN_ARRAYS = {"ENVIRON", "ARGV", "PROCINFO"}
_PYOP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_CMPNAME = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_NUM_BUILTINS = {
    "length",
    "index",
    "split",
    "sub",
    "gsub",
    "match",
    "int",
    "sin",
    "cos",
    "atan2",
    "exp",
    "log",
    "sqrt",
    "rand",
    "srand",
    "close",
    "system",
    "fflush",
    "systime",
    "mktime",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "compl",
    "strtonum",
    "isarray",
    "asort",
    "asorti",
    "patsplit",
}


class CompiledProgram:
    def __init__(
        self,
        source: str,
        consts: dict[str, Any],
        global_names: set[str],
        global_arrays: set[str],
        has_main: bool,
        has_end: bool,
        uses_getline: bool,
        uses_rt: bool,
        has_beginfile: bool,
        has_endfile: bool,
    ) -> None:
        self.source = source
        self.code = compile(source, "<awk>", "exec")
        self.consts = consts
        self.global_names = global_names
        self.global_arrays = global_arrays
        self.has_main = has_main
        self.has_end = has_end
        self.uses_getline = uses_getline
        self.uses_rt = uses_rt
        self.has_beginfile = has_beginfile
        self.has_endfile = has_endfile
        self.warnings: list[str] = []


def _walk(node: Any) -> Any:
    """Yield every tuple node below ``node`` (inclusive)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, tuple):
            if n and isinstance(n[0], str):
                yield n
            stack.extend(n)
        elif isinstance(n, list):
            stack.extend(n)


class _Scope:
    def __init__(self, kind: str, params: list[str] | None = None, fname: str = "") -> None:
        self.kind = kind  # begin | main | end | func | beginfile | endfile
        self.params = params or []
        self.fname = fname
        self.assigned: set[str] = set()
        self.loops: list[tuple[str, Any]] = []


class Compiler:
    def __init__(self, prog: Program, byte_chars: bool) -> None:
        self.prog = prog
        self.byte_chars = byte_chars
        self.consts: dict[str, Any] = {}
        self.const_ids: dict[tuple[str, str], str] = {}
        self.ntmp = 0
        self.global_names: set[str] = set()
        self.global_arrays: set[str] = set(BUILTIN_ARRAYS)
        self.local_arrays: dict[str, set[str]] = {f: set() for f in prog.functions}
        self.lines: list[str] = []
        self.ind = 0
        self.scope = _Scope("begin")
        self.nrange = 0
        self.uses_getline = False
        self.uses_rt = False

    # --- analysis -------------------------------------------------------------------------
    def analyze(self) -> None:
        prog = self.prog
        scopes: list[tuple[str | None, Any]] = [
            (None, prog.begin),
            (None, prog.end),
            (None, prog.rules),
            (None, prog.beginfile),
            (None, prog.endfile),
        ]
        for f in prog.functions.values():
            scopes.append((f.name, f.body))
        changed = True

        def mark(fname: str | None, name: str) -> None:
            nonlocal changed
            if fname is not None and name in prog.functions[fname].params:
                if name not in self.local_arrays[fname]:
                    self.local_arrays[fname].add(name)
                    changed = True
            elif name not in self.global_arrays:
                self.global_arrays.add(name)
                changed = True

        while changed:
            changed = False
            for fname, body in scopes:
                for n in _walk(body):
                    k = n[0]
                    if k == "index":
                        mark(fname, n[1])
                    elif k == "in":
                        mark(fname, n[2])
                    elif k == "delete":
                        mark(fname, n[1])
                    elif k == "forin":
                        mark(fname, n[2])
                    elif k == "builtin":
                        name, args = n[1], n[2]
                        pos = {
                            "split": (1, 3),
                            "match": (2,),
                            "asort": (0, 1),
                            "asorti": (0, 1),
                            "patsplit": (1, 3),
                        }.get(name, ())
                        for p in pos:
                            if p < len(args) and args[p][0] == "var":
                                mark(fname, args[p][1])
                    elif k == "call":
                        callee = prog.functions.get(n[1])
                        if callee is None:
                            continue
                        for i, a in enumerate(n[2]):
                            if (
                                i < len(callee.params)
                                and a[0] == "var"
                                and callee.params[i] in self.local_arrays[callee.name]
                            ):
                                mark(fname, a[1])
                            # an array passed in makes the callee's parameter an array
                            if i < len(callee.params) and a[0] == "var":
                                an = a[1]
                                is_arr = (
                                    (an in self.local_arrays[fname])
                                    if (fname is not None and an in prog.functions[fname].params)
                                    else (an in self.global_arrays)
                                )
                                if (
                                    is_arr
                                    and callee.params[i] not in self.local_arrays[callee.name]
                                ):
                                    self.local_arrays[callee.name].add(callee.params[i])
                                    changed = True
        for fname, body in scopes:
            params = prog.functions[fname].params if fname else []
            for n in _walk(body):
                if n[0] in ("var", "index", "forin", "delete", "in"):
                    name = n[2] if n[0] in ("forin", "in") else n[1]
                    if name not in params:
                        self.global_names.add(name)
                    if n[0] == "forin" and n[1][1] not in params:
                        self.global_names.add(n[1][1])
                if n[0] == "getline":
                    self.uses_getline = True
        for fname in prog.functions:
            if fname in self.global_names or fname in self.global_arrays:
                raise _fatal(f"function name `{fname}' previously defined")
        scalars = SPECIAL_SET | {"NF", "FILENAME", "RSTART", "RLENGTH", "ARGC", "RT"}
        for name in self.global_names:
            if name in scalars and name in self.global_arrays:
                raise _fatal(f"attempt to use scalar `{name}' as array")
        if "RT" in self.global_names:
            self.uses_rt = True

    # --- emission helpers ---------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def tmp(self) -> str:
        self.ntmp += 1
        return f"_t{self.ntmp}"

    def const(self, kind: str, value: str) -> str:
        key = (kind, value)
        name = self.const_ids.get(key)
        if name is None:
            name = f"_C{len(self.const_ids)}"
            self.const_ids[key] = name
            if kind == "re":
                try:
                    self.consts[name] = compile_ere(value, re.ASCII if self.byte_chars else 0)
                except AwkRegexError as exc:
                    raise _fatal(f"invalid regexp: {exc}: /{value}/")
        return name

    def is_local(self, name: str) -> bool:
        return self.scope.kind == "func" and name in self.scope.params

    def is_array(self, name: str) -> bool:
        if self.is_local(name):
            return name in self.local_arrays[self.scope.fname]
        return name in self.global_arrays

    def array_ref(self, name: str) -> str:
        if not self.is_array(name):
            raise _fatal(f"attempt to use scalar `{name}' as array")
        return ("L_" if self.is_local(name) else "V_") + name

    def var_ref(self, name: str) -> str:
        if self.is_local(name):
            return "L_" + name
        return "V_" + name

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

    def x_builtin(self, node: Node) -> tuple[str, str]:
        name, args = node[1], node[2]
        meth = getattr(self, "b_" + name, None)
        if meth is None:
            raise _fatal(f"function `{name}' not supported")
        return meth(args)  # type: ignore[no-any-return]

    def _nargs(self, name: str, args: list[Node], lo: int, hi: int) -> None:
        if not lo <= len(args) <= hi:
            raise _fatal(f"{name}: called with {len(args)} arguments")

    def b_length(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("length", args, 0, 1)
        if not args:
            return "float(len(_rec()))", "num"
        a = args[0]
        if a[0] == "var" and self.is_array(a[1]):
            return f"float(len({self.array_ref(a[1])}))", "num"
        return f"float(len({self.s(a)}))", "num"

    def b_substr(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("substr", args, 2, 3)
        third = f", {self.n(args[2])}" if len(args) == 3 else ""
        return f"_substr({self.s(args[0])}, {self.n(args[1])}{third})", "str"

    def b_index(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("index", args, 2, 2)
        return f"float({self.s(args[0])}.find({self.s(args[1])}) + 1)", "num"

    def _arr_arg(self, fn: str, a: Node) -> str:
        if a[0] != "var":
            raise _fatal(f"{fn}: second argument is not an array")
        return self.array_ref(a[1])

    def b_split(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("split", args, 2, 4)
        arr = self._arr_arg("split", args[1])
        fs = "None"
        if len(args) >= 3:
            a = args[2]
            fs = self.const("re", a[1]) if a[0] == "regex" else self.s(a)
        seps = f", {self._arr_arg('split', args[3])}" if len(args) == 4 else ""
        return f"_split({self.s(args[0])}, {arr}, {fs}{seps})", "num"

    def _subgsub(self, args: list[Node], glob: bool) -> tuple[str, str]:
        self._nargs("gsub" if glob else "sub", args, 2, 3)
        target = args[2] if len(args) == 3 else ("field", ("num", 0.0))
        while target[0] == "paren":
            target = target[1]
        pat = self.regex_of(args[0])
        t = self.tmp()
        call = f"({t} := _subst({pat}, {self.s(args[1])}, {self.s(target)}, {glob}))"
        if target[0] not in ("var", "field", "index"):
            return f"{call}[0]", "num"
        assign = self.assign_expr(target, f"{t}[1]")
        other = f"_touchf({self.fidx(target[1])})" if target[0] == "field" else "0.0"
        return f"(({assign}, {t}[0])[1] if {call}[0] else {other})", "num"

    def b_sub(self, args: list[Node]) -> tuple[str, str]:
        return self._subgsub(args, False)

    def b_gsub(self, args: list[Node]) -> tuple[str, str]:
        return self._subgsub(args, True)

    def b_match(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("match", args, 2, 3)
        arr = f", {self._arr_arg('match', args[2])}" if len(args) == 3 else ""
        return f"_match({self.s(args[0])}, {self.regex_of(args[1])}{arr})", "num"

    def b_gensub(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("gensub", args, 3, 4)
        target = self.s(args[3]) if len(args) == 4 else "_rec()"
        how = self.ex(args[2])[0]
        return (f"_gensub({self.regex_of(args[0])}, {self.s(args[1])}, {how}, {target})", "str")

    def b_sprintf(self, args: list[Node]) -> tuple[str, str]:
        if not args:
            raise AwkSyntaxError("sprintf: no arguments")
        rest = ", ".join(self.ex(a)[0] for a in args[1:])
        return f"_sprintf({self.s(args[0])}, [{rest}])", "str"

    def b_tolower(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("tolower", args, 1, 1)
        return f"_tolower({self.s(args[0])})", "str"

    def b_toupper(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("toupper", args, 1, 1)
        return f"_toupper({self.s(args[0])})", "str"

    def _math1(self, fn: str, args: list[Node]) -> tuple[str, str]:
        self._nargs(fn, args, 1, 1)
        return f"_m_{fn}({self.n(args[0])})", "num"

    def b_sin(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("sin", args)

    def b_cos(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("cos", args)

    def b_exp(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("exp", args)

    def b_log(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("log", args)

    def b_sqrt(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("sqrt", args)

    def b_int(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("int", args)

    def b_compl(self, args: list[Node]) -> tuple[str, str]:
        return self._math1("compl", args)

    def b_atan2(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("atan2", args, 2, 2)
        return f"_m_atan2({self.n(args[0])}, {self.n(args[1])})", "num"

    def _bits(self, fn: str, args: list[Node]) -> tuple[str, str]:
        if len(args) < 2:
            raise _fatal(f"{fn}: called with less than two arguments")
        return f"_m_{fn}({', '.join(self.n(a) for a in args)})", "num"

    def b_and(self, args: list[Node]) -> tuple[str, str]:
        return self._bits("and", args)

    def b_or(self, args: list[Node]) -> tuple[str, str]:
        return self._bits("or", args)

    def b_xor(self, args: list[Node]) -> tuple[str, str]:
        return self._bits("xor", args)

    def b_lshift(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("lshift", args, 2, 2)
        return self._bits("lshift", args)

    def b_rshift(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("rshift", args, 2, 2)
        return self._bits("rshift", args)

    def b_rand(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("rand", args, 0, 0)
        return "_rand()", "num"

    def b_srand(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("srand", args, 0, 1)
        return f"_srand({self.ex(args[0])[0] if args else ''})", "num"

    def b_systime(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("systime", args, 0, 0)
        return "_systime()", "num"

    def b_mktime(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("mktime", args, 1, 2)
        return f"_mktime({self.s(args[0])})", "num"

    def b_strftime(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("strftime", args, 0, 3)
        return f"_strftime({', '.join(self.ex(a)[0] for a in args)})", "str"

    def b_strtonum(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("strtonum", args, 1, 1)
        return f"_strtonum({self.ex(args[0])[0]})", "num"

    def b_close(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("close", args, 1, 2)
        return f"(await _close({self.s(args[0])}))", "num"

    def b_fflush(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("fflush", args, 0, 1)
        return f"(await _fflush({self.s(args[0]) if args else ''}))", "num"

    def b_system(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("system", args, 1, 1)
        return f"(await _system({self.s(args[0])}))", "num"

    def b_isarray(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("isarray", args, 1, 1)
        a = args[0]
        return ("1.0" if a[0] == "var" and self.is_array(a[1]) else "0.0"), "num"

    def b_typeof(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("typeof", args, 1, 1)
        a = args[0]
        if a[0] == "var" and self.is_array(a[1]):
            return "'array'", "str"
        return f"_typeof({self.ex(a)[0]})", "str"

    def _asort(self, args: list[Node], by_index: bool) -> tuple[str, str]:
        fn = "asorti" if by_index else "asort"
        self._nargs(fn, args, 1, 3)
        src = self._arr_arg(fn, args[0])
        dest = self._arr_arg(fn, args[1]) if len(args) >= 2 else "None"
        return f"_asort({src}, {dest}, {by_index})", "num"

    def b_patsplit(self, args: list[Node]) -> tuple[str, str]:
        self._nargs("patsplit", args, 2, 4)
        arr = self._arr_arg("patsplit", args[1])
        pat = self.regex_of(args[2]) if len(args) >= 3 else "_dynre(_fpat())"
        seps = self._arr_arg("patsplit", args[3]) if len(args) == 4 else "None"
        return f"_patsplit({self.s(args[0])}, {arr}, {pat}, {seps})", "num"

    def b_asort(self, args: list[Node]) -> tuple[str, str]:
        return self._asort(args, False)

    def b_asorti(self, args: list[Node]) -> tuple[str, str]:
        return self._asort(args, True)

    # --- statements -------------------------------------------------------------------------
    def stmt(self, node: Node) -> None:
        k = node[0]
        getattr(self, "s_" + k)(node)

    def s_block(self, node: Node) -> None:
        if not node[1]:
            self.emit("pass")
            return
        for st in node[1]:
            self.stmt(st)

    def s_expr(self, node: Node) -> None:
        e = node[1]
        while e[0] == "paren":
            e = e[1]
        k = e[0]
        if k == "assign" and e[1] == "=":
            lv = e[2]
            if (
                lv[0] == "var"
                and not self.is_array(lv[1])
                and lv[1] != "NF"
                and lv[1] not in SPECIAL_SET
            ):
                code, _ = self.ex(e[3])
                name = lv[1]
                if self.is_local(name):
                    self.emit(f"L_{name} = {code}")
                else:
                    self.scope.assigned.add(name)
                    self.emit(f"V_{name} = {code}")
                return
            if lv[0] == "index":
                code, _ = self.ex(e[3])
                self.emit(f"{self.array_ref(lv[1])}[{self.key(lv[2])}] = {code}")
                return
        if k in ("postinc", "preinc") or (
            k == "assign" and e[1] in ("+=", "-=", "*=", "/=", "%=", "^=")
        ):
            lv = e[2]
            if k == "assign":
                bop = e[1][0]
                rhs = self.n(e[3])
                if _side_effects(e[3]):
                    t = self.tmp()
                    self.emit(f"{t} = {rhs}")
                    rhs = t
            else:
                bop = "+" if e[1] == "++" else "-"
                rhs = "1.0"
            if lv[0] == "index":
                arr = self.array_ref(lv[1])
                kc = self.key(lv[2])
                if not all(x[0] in ("num", "str") for x in lv[2]):
                    t = self.tmp()
                    self.emit(f"{t} = {kc}")
                    kc = t
                self.emit(f"{arr}[{kc}] = {_arith(bop, f'_num({arr}[{kc}])', rhs)}")
                return
            if (
                lv[0] == "var"
                and not self.is_array(lv[1])
                and lv[1] != "NF"
                and lv[1] not in SPECIAL_SET
            ):
                name = lv[1]
                ref = self.var_ref(name)
                if not self.is_local(name):
                    self.scope.assigned.add(name)
                self.emit(f"{ref} = {_arith(bop, f'_num({ref})', rhs)}")
                return
        code, _ = self.ex(e)
        self.emit(code)

    def s_print(self, node: Node) -> None:
        args, redir, target = node[1], node[2], node[3]
        if not args:
            s = "_rec() + V_ORS"
        elif len(args) == 1:
            s = f"{self.o(args[0])} + V_ORS"
        else:
            s = " + V_OFS + ".join(self.o(a) for a in args) + " + V_ORS"
        self._write(s, redir, target)

    def s_printf(self, node: Node) -> None:
        args, redir, target = node[1], node[2], node[3]
        rest = ", ".join(self.ex(a)[0] for a in args[1:])
        self._write(f"_sprintf({self.s(args[0])}, [{rest}])", redir, target)

    def _write(self, s: str, redir: str | None, target: Node | None) -> None:
        if redir is None:
            self.emit(f"_ob.append({s})")
            self.emit("if len(_ob) > 512: await _flush()")
        else:
            assert target is not None
            self.emit(f"await _redir({redir!r}, {self.s(target)}, {s})")

    def s_if(self, node: Node) -> None:
        self.emit(f"if {self.cond(node[1])}:")
        self.ind += 1
        self.stmt(node[2])
        self.ind -= 1
        if node[3] is not None:
            self.emit("else:")
            self.ind += 1
            self.stmt(node[3])
            self.ind -= 1

    def _tick(self) -> None:
        self.emit("_tk += 1")
        self.emit("if not _tk & 4095: await _tick()")

    def s_while(self, node: Node) -> None:
        self.emit(f"while {self.cond(node[1])}:")
        self.ind += 1
        self._tick()
        self.scope.loops.append(("while", None))
        self.stmt(node[2])
        self.scope.loops.pop()
        self.ind -= 1

    def s_do(self, node: Node) -> None:
        self.emit("while True:")
        self.ind += 1
        self._tick()
        c = self.cond(node[2])
        self.scope.loops.append(("do", c))
        self.stmt(node[1])
        self.scope.loops.pop()
        self.emit(f"if not {c}: break")
        self.ind -= 1

    def s_for(self, node: Node) -> None:
        init, cond, incr, body = node[1], node[2], node[3], node[4]
        if init is not None:
            self.stmt(init)
        c = self.cond(cond) if cond is not None else "True"
        self.emit(f"while {c}:")
        self.ind += 1
        self._tick()
        self.scope.loops.append(("for", incr))
        self.stmt(body)
        self.scope.loops.pop()
        if incr is not None:
            self.stmt(incr)
        self.ind -= 1

    def s_forin(self, node: Node) -> None:
        lv, arr, body = node[1], node[2], node[3]
        t = self.tmp()
        self.emit(f"for {t} in _keys({self.array_ref(arr)}):")
        self.ind += 1
        self._tick()
        self.stmt(("expr", ("assign", "=", lv, ("_raw", f"_SN({t})"))))
        self.scope.loops.append(("while", None))
        self.stmt(body)
        self.scope.loops.pop()
        self.ind -= 1

    def x__raw(self, node: Node) -> tuple[str, str]:
        return node[1], "any"

    def s_break(self, node: Node) -> None:
        self.emit("break")

    def s_continue(self, node: Node) -> None:
        loops = self.scope.loops
        i = len(loops) - 1
        while i >= 0 and loops[i][0] == "switch":
            i -= 1
        if i < 0:
            raise AwkSyntaxError("`continue' is not allowed outside a loop")
        if i != len(loops) - 1:
            # inside a switch: leave it, then continue the enclosing loop
            self.emit(f"{loops[-1][1]} = True")
            self.emit("break")
            return
        kind, extra = loops[i]
        if kind == "for" and extra is not None:
            self.stmt(extra)
        elif kind == "do":
            self.emit(f"if not {extra}: break")
        self.emit("continue")

    def s_switch(self, node: Node) -> None:
        subject, cases = node[1], node[2]
        sv = self.tmp()
        matched = self.tmp()
        flag = self.tmp()
        self.emit(f"{sv} = {self.ex(subject)[0]}")
        self.emit(f"{matched} = False")
        self.emit(f"{flag} = False")
        self.emit("while True:")
        self.ind += 1
        self.scope.loops.append(("switch", flag))
        default_idx = None
        for i, (label, _body) in enumerate(cases):
            if label is None:
                default_idx = i
        order = list(range(len(cases)))
        for i in order:
            label, body = cases[i]
            if label is None:
                continue
            if label[0] == "regex":
                test = f"{self.const('re', label[1])}.search(_str({sv})) is not None"
            elif label[0] == "num":
                test = f"_cmp_eq({sv}, {float(label[1])!r})"
            else:
                test = f"_str({sv}) == {label[1]!r}"
            self.emit(f"if {matched} or {test}:")
            self.ind += 1
            self.emit(f"{matched} = True")
            for st in body:
                self.stmt(st)
            self.ind -= 1
        if default_idx is not None:
            # default runs when nothing matched; fallthrough continues into later cases
            self.emit(f"if not {matched}:")
            self.ind += 1
            self.emit(f"{matched} = True")
            for st in cases[default_idx][1]:
                self.stmt(st)
            for j in range(default_idx + 1, len(cases)):
                for st in cases[j][1]:
                    self.stmt(st)
            self.ind -= 1
        self.emit("break")
        self.scope.loops.pop()
        self.ind -= 1
        if any(kind != "switch" for kind, _ in self.scope.loops):
            self.emit(f"if {flag}:")
            self.ind += 1
            self.s_continue(("continue",))
            self.ind -= 1

    def s_next(self, node: Node) -> None:
        if self.scope.kind in ("begin", "end"):
            raise _fatal(f"`next' used in {self.scope.kind.upper()} action")
        if self.scope.kind == "main":
            self.emit("return")
        else:
            self.emit("raise _NextRecord()")

    def s_nextfile(self, node: Node) -> None:
        if self.scope.kind in ("begin", "end"):
            raise _fatal(f"`nextfile' used in {self.scope.kind.upper()} action")
        self.emit("raise _NextFile()")

    def s_exit(self, node: Node) -> None:
        if node[1] is None:
            self.emit("raise _Exit(None)")
        else:
            self.emit(f"raise _Exit({self.n(node[1])})")

    def s_return(self, node: Node) -> None:
        if node[1] is None:
            self.emit("return _U")
        else:
            e = node[1]
            if e[0] == "var" and self.is_array(e[1]):
                raise _fatal(f"attempt to use array `{e[1]}' in a scalar context")
            self.emit(f"return {self.ex(e)[0]}")

    def s_delete(self, node: Node) -> None:
        arr = self.array_ref(node[1])
        if node[2] is None:
            self.emit(f"{arr}.clear()")
        else:
            self.emit(f"{arr}.pop({self.key(node[2])}, None)")

    # --- program ---------------------------------------------------------------------------
    def function(
        self,
        name: str,
        scope: _Scope,
        body: list[Node] | None,
        params: str = "",
        prologue: list[str] | None = None,
        rules: bool = False,
    ) -> list[str]:
        self.scope = scope
        saved = self.lines
        self.lines = []
        self.ind = 1
        self.emit("_tk = 0")
        for line in prologue or []:
            self.emit(line)
        if rules:
            self.rules_body()
        else:
            for st in body or []:
                self.stmt(st)
        if scope.kind == "func":
            self.emit("return _U")
        body_lines = self.lines
        self.lines = saved
        head = [f"async def {name}({params}):"]
        if scope.assigned:
            head.append("    global " + ", ".join("V_" + n for n in sorted(scope.assigned)))
        return head + body_lines

    def rules_body(self) -> None:
        for pat, pat2, action in self.prog.rules:
            if pat is None:
                self.emit("if True:")
            elif pat2 is None:
                self.emit(f"if {self.cond(pat)}:")
            else:
                i = self.nrange
                self.nrange += 1
                self.emit(f"if _rng[{i}] or {self.cond(pat)}:")
                self.ind += 1
                self.emit(f"_rng[{i}] = not {self.cond(pat2)}")
                self.ind -= 1
            self.ind += 1
            if action is None:
                self.emit("_ob.append(_rec() + V_ORS)")
                self.emit("if len(_ob) > 512: await _flush()")
            else:
                self.stmt(action)
            self.ind -= 1

    def batch_function(self, main: list[str]) -> list[str]:
        """``_main_batch(_r, _batch, _rt)``: the main rules run over the records of one
        input batch in a loop, so a record costs no coroutine and no driver round trip.
        Built from the lines of ``_main``: its ``next`` (a bare ``return``) becomes
        ``raise _NextRecord()``, caught per record. It stops, like the generic driver, when
        the reader, its batch or RS changes."""
        names = {"V_NR", "V_FNR"} | ({"V_RT"} if self.uses_rt else set())
        body: list[str] = []
        for line in main[1:]:
            stripped = line.strip()
            if line.startswith("    global "):
                names.update(n.strip() for n in line[len("    global ") :].split(","))
                continue
            if line == "    _tk = 0":
                continue
            if stripped == "return":
                line = line[: len(line) - len(stripped)] + "raise _NextRecord()"
            body.append("            " + line[4:])
        if not body:
            body.append("            pass")
        head = [
            "async def _main_batch(_r, _batch, _rt):",
            "    global " + ", ".join(sorted(names)),
            "    _tk = 0",
            "    _n = 0",
            "    _i = _r.bi",
            "    _len = len(_batch)",
            "    while _i < _len:",
            "        _rt.rec = _batch[_i]",
            "        _i += 1",
            "        _r.bi = _i",
            "        V_NR += 1.0",
            "        V_FNR += 1.0",
        ]
        if self.uses_rt:
            head.append("        V_RT = '\\n'")
        head += [
            "        _rt.fields = None",
            "        _rt.dirty = False",
            "        _rt.split_fs = V_FS",
            "        try:",
        ]
        tail = [
            "        except _NextRecord:",
            "            pass",
            "        _n += 1",
            "        if not _n & 1023: await _tick()",
            "        if _rt.main_reader is not _r or V_RS != '\\n' or _r.batch is not _batch:",
            "            break",
            "        _i = _r.bi",
        ]
        return head + body + tail

    def compile(self) -> CompiledProgram:
        self.analyze()
        prog = self.prog
        out: list[str] = []
        for f in prog.functions.values():
            scope = _Scope("func", f.params, f.name)
            params = ", ".join(
                f"L_{p}=None" if p in self.local_arrays[f.name] else f"L_{p}=_U" for p in f.params
            )
            prologue = [
                f"if L_{p} is None: L_{p} = _Arr()"
                for p in f.params
                if p in self.local_arrays[f.name]
            ]
            out += self.function(f"F_{f.name}", scope, f.body[1], params, prologue)
        out += self.function("_begin", _Scope("begin"), [s for b in prog.begin for s in b[1]])
        main = self.function("_main", _Scope("main"), None, rules=True)
        out += main
        if not self.uses_getline:
            out += self.batch_function(main)
        out += self.function("_end", _Scope("end"), [s for b in prog.end for s in b[1]])
        out += self.function(
            "_beginfile", _Scope("beginfile"), [s for b in prog.beginfile for s in b[1]]
        )
        out += self.function("_endfile", _Scope("endfile"), [s for b in prog.endfile for s in b[1]])
        out.append(f"_rng = [False] * {self.nrange}")
        source = "\n".join(out) + "\n"
        return CompiledProgram(
            source,
            self.consts,
            self.global_names,
            self.global_arrays,
            bool(prog.rules),
            bool(prog.end),
            self.uses_getline,
            self.uses_rt,
            bool(prog.beginfile),
            bool(prog.endfile),
        )


_EFFECTS = {"assign", "preinc", "postinc", "call", "getline"}


def _side_effects(node: Node) -> bool:
    """Whether evaluating ``node`` may change variables."""
    for n in _walk(node):
        if n[0] in _EFFECTS or (
            n[0] == "builtin" and n[1] in ("sub", "gsub", "split", "match", "srand")
        ):
            return True
    return False


def _fatal(msg: str) -> AwkSyntaxError:
    return AwkSyntaxError(msg, fatal=True)


def _numstr(v: float) -> str:
    if v.is_integer():
        return "%d" % v  # noqa: UP031
    if v != v or math.isinf(v):
        return fmt_special(v)
    return "%.6g" % v  # noqa: UP031


def _arith(op: str, a: str, b: str) -> str:
    if op in "+-*":
        return f"({a} {op} {b})"
    if op == "/":
        return f"_div({a}, {b})"
    if op == "%":
        return f"_mod({a}, {b})"
    return f"_pow({a}, {b})"


def compile_program(prog: Program, byte_chars: bool = True) -> CompiledProgram:
    cp = Compiler(prog, byte_chars).compile()
    cp.warnings = list(prog.warnings)
    return cp
