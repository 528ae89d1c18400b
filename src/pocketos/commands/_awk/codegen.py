"""The awk compiler's state and name analysis: which names are arrays (globally and per
function), the constants table (compiled regexes), the scope being compiled and the emission of
Python source lines. The expression, builtin and statement compilers build on it."""

from __future__ import annotations

import math
import re
from typing import Any

from pocketos.commands._awk.blocks import BlockPlan, unparen
from pocketos.commands._awk.lexer import AwkSyntaxError
from pocketos.commands._awk.parser import Node, Program
from pocketos.commands._awk.regex import AwkRegexError, compile_ere
from pocketos.commands._awk.values import fmt_special

__all__ = ["CodeGen", "CompiledProgram"]

SPECIAL_SET = {"FS", "OFS", "ORS", "RS", "SUBSEP", "CONVFMT", "OFMT", "NR", "FNR"}
BUILTIN_ARRAYS = {"ENVIRON", "ARGV", "PROCINFO"}
_PYOP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_CMPNAME = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


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
        #: fields past this one are never read (0: all may be), see field_split_limit
        self.split_limit = 0
        #: the main rule run over whole blocks of records, when it only accumulates fields
        self.block_plan: BlockPlan | None = None


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


class CodeGen:
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


def field_split_limit(prog: Program, most: int = 64) -> int:
    """The highest field the program reads when it only reads fields by constant index, never
    assigns one and never uses NF (a record then needs splitting only that far); else 0."""
    parts: list[Any] = [prog.begin, prog.end, prog.rules, prog.beginfile, prog.endfile]
    parts += [f.body for f in prog.functions.values()]
    k = 0
    for n in _walk(parts):
        kind = n[0]
        if kind == "var" and n[1] == "NF":
            return 0
        if kind == "field":
            idx = unparen(n[1])
            if idx[0] != "num" or idx[1] != int(idx[1]) or not 0 <= idx[1] <= most:
                return 0
            k = max(k, int(idx[1]))
        elif kind in ("assign", "postinc", "preinc", "getline"):
            target = n[2]
            if target is not None and unparen(target)[0] == "field":
                return 0
        elif (kind == "forin" and unparen(n[1])[0] == "field") or (
            kind == "builtin" and n[1] in ("sub", "gsub")
        ):
            return 0
    return k


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
