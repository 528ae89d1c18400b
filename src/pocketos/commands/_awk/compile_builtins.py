"""Compile calls of awk's builtin functions (string, math, bit, time, I/O and gawk's array
functions) to calls of the runtime's helpers."""

from __future__ import annotations

from pocketos.commands._awk.codegen import _fatal
from pocketos.commands._awk.compile_expr import ExprCompiler
from pocketos.commands._awk.lexer import AwkSyntaxError
from pocketos.commands._awk.parser import Node

__all__ = ["BuiltinCompiler"]


class BuiltinCompiler(ExprCompiler):
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
