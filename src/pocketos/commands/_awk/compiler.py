"""Compile an awk syntax tree to Python source: one ``async def`` per BEGIN/main/END part and
per user function, run against a globals dict holding awk variables (``V_name``) and runtime
helpers (names starting with ``_``)."""

from __future__ import annotations

from pocketos.commands._awk.blocks import block_plan
from pocketos.commands._awk.codegen import (
    SPECIAL_SET,
    CompiledProgram,
    _arith,
    _fatal,
    _Scope,
    _side_effects,
    field_split_limit,
)
from pocketos.commands._awk.compile_builtins import BuiltinCompiler
from pocketos.commands._awk.lexer import AwkSyntaxError
from pocketos.commands._awk.parser import Node, Program

__all__ = ["CompiledProgram", "compile_program"]


class Compiler(BuiltinCompiler):
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


def compile_program(prog: Program, byte_chars: bool = True) -> CompiledProgram:
    c = Compiler(prog, byte_chars)
    cp = c.compile()
    cp.warnings = list(prog.warnings)
    if not cp.uses_getline:
        cp.block_plan = block_plan(prog, c.global_arrays)
    cp.split_limit = field_split_limit(prog)
    return cp
