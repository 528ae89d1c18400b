# mypy: disable-error-code="misc"
"""Compound commands: subshells, groups, ``if``, ``while``/``until``, ``for``, ``select``,
arithmetic ``for``, ``case``, function definitions, ``((...))`` and ``[[...]]``, as a mixin of the
interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketos.kernel.streams import (
    InputStream,
)
from pocketos.shell import pattern as pat
from pocketos.shell.arith import ArithError
from pocketos.shell.ast import (
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
    Subshell,
    While,
    Word,
)
from pocketos.shell.state import (
    ATTR_ARRAY,
    ExitShell,
    FatalError,
    LoopControl,
    ReturnFn,
    ShellAttrs,
    ShellError,
    Var,
    _err_status,
)
from pocketos.shell.traps import arith_for_text, command_text

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Compound"]


_ERE_CACHE: dict[tuple[str, int], Any] = {}


def _compile_ere(py_rx: str, flags: int) -> Any:
    """A guarded (:mod:`pocketos.lib.safe_regex`) pattern, cached: loops test the same
    regex again and again."""
    key = (py_rx, flags)
    compiled = _ERE_CACHE.get(key)
    if compiled is None:
        from pocketos.lib import safe_regex

        compiled = safe_regex.compile(py_rx, flags)
        if len(_ERE_CACHE) >= 256:
            _ERE_CACHE.pop(next(iter(_ERE_CACHE)))
        _ERE_CACHE[key] = compiled
    return compiled


def _ere_to_py(rx: str) -> str:
    """POSIX ERE -> Python regex (bracket classes, literal braces)."""
    out = []
    i = 0
    n = len(rx)
    while i < n:
        c = rx[i]
        if c == "\\" and i + 1 < n:
            out.append(rx[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and rx[j] == "^":
                j += 1
            if j < n and rx[j] == "]":
                j += 1
            while j < n and rx[j] != "]":
                if rx[j] == "[" and j + 1 < n and rx[j + 1] == ":":
                    k = rx.find(":]", j + 2)
                    if k > 0:
                        j = k + 2
                        continue
                j += 1
            body = rx[i + 1 : j]
            neg = body.startswith("^")
            if neg:
                body = body[1:]
            conv = []
            k = 0
            while k < len(body):
                if body.startswith("[:", k):
                    e = body.find(":]", k)
                    name = body[k + 2 : e]
                    conv.append(pat._CLASSES.get(name, ""))
                    k = e + 2
                    continue
                ch = body[k]
                conv.append("\\" + ch if ch in "\\[]^" else ch)
                k += 1
            out.append("[" + ("^" if neg else "") + "".join(conv) + "]")
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


class Compound(ShellAttrs):
    """Mixin for :class:`Shell`: compound commands (subshells, groups, if, loops, case, arithmetic
    and [[ ]])."""

    # --- compound commands ----------------------------------------------------------------------
    async def _exec_subshell(self: Shell, cmd: Subshell) -> int:
        sub = self.clone()
        sub.subshell_level += 1
        self.lineno = cmd.line
        try:
            status = await sub.exec_script(cmd.body)
        except ExitShell as e:
            status = e.status
        except LoopControl:
            status = 0
        except ReturnFn as r:
            status = r.status
        except ShellError as e:
            await sub.report(e)
            status = _err_status(e)
        finally:
            sub.release_memory()
        status = await sub.run_exit_trap(status)
        self.last_status = status
        return status

    async def _exec_group(self: Shell, cmd: Group) -> int:
        return await self.exec_script(cmd.body)

    async def _exec_if(self: Shell, cmd: If) -> int:
        for cond, body in cmd.clauses:
            self.errexit_suppressed += 1
            try:
                st = await self.exec_script(cond)
            finally:
                self.errexit_suppressed -= 1
            if st == 0:
                return await self.exec_script(body)
        if cmd.orelse is not None:
            return await self.exec_script(cmd.orelse)
        self.last_status = 0
        return 0

    async def _exec_while(self: Shell, cmd: While) -> int:
        status = 0
        budget = self.ctx.budget
        self.loop_depth += 1
        try:
            while True:
                budget.loop()
                self.errexit_suppressed += 1
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                try:
                    try:
                        st = await self.exec_script(cmd.cond)
                    finally:
                        self.errexit_suppressed -= 1
                    if (st == 0) == cmd.until:
                        break
                    status = await self.exec_script(cmd.body)
                except LoopControl as lc:
                    if not lc.here():
                        raise
                    if lc.breaks:
                        status = lc.status
                        break
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _exec_for(self: Shell, cmd: For) -> int:
        self.lineno = cmd.line
        if cmd.words is None:
            items = list(self.positional)
        else:
            items = await self.expand_words(cmd.words)
        if cmd.select:
            if self.traps and "DEBUG" in self.traps:
                await self.debug_trap(command_text(cmd))
            return await self._exec_select(cmd, items)
        status = 0
        budget = self.ctx.budget
        name = cmd.var
        self.loop_depth += 1
        try:
            head = None
            for it in items:
                budget.loop()
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                # the trap may be set by the loop's body: looked for at each iteration
                if self.traps and "DEBUG" in self.traps and cmd.words is not None:
                    if head is None:
                        head = command_text(cmd)
                    await self.debug_trap(head)
                try:
                    self.assign_var(name, it)
                except ShellError as e:
                    await self._loop_var_failed(cmd, e)
                    status = 1
                    break
                try:
                    status = await self.exec_script(cmd.body)
                except LoopControl as lc:
                    if not lc.here():
                        raise
                    if lc.breaks:
                        status = lc.status
                        break
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _loop_var_failed(self: Shell, cmd: For, e: ShellError) -> None:
        """A ``for``/``select`` variable could not be assigned (it is readonly): the loop
        fails and the script goes on, as in bash, which runs no ERR trap for it but ends
        under ``set -e``."""
        if isinstance(e, FatalError):
            raise e
        self.lineno = cmd.line
        await self.error(e.message)
        if self.opts.errexit:  # even where set -e is ignored (an ``if`` test, ``||``)
            raise ExitShell(1)

    async def _exec_select(self: Shell, cmd: For, items: list[str]) -> int:
        status = 0
        self.loop_depth += 1
        try:
            while True:
                self.ctx.budget.loop()
                menu = "".join(f"{i + 1}) {it}\n" for i, it in enumerate(items))
                ps3 = self.get_str("PS3")
                await self.write_err(menu + (ps3 if ps3 is not None else "#? "))
                stdin = self.fds.get(0)
                line = await stdin.readline() if isinstance(stdin, InputStream) else b""
                if not line:
                    await self.write_out("\n")
                    status = 1
                    break
                reply = line.decode("utf-8", "surrogateescape").rstrip("\n")
                self.assign_var("REPLY", reply)
                if not reply.strip():
                    continue
                try:
                    k = int(reply.strip())
                    choice = items[k - 1] if 1 <= k <= len(items) else ""
                except ValueError:
                    choice = ""
                try:
                    self.assign_var(cmd.var, choice)
                except ShellError as e:
                    await self._loop_var_failed(cmd, e)
                    status = 1
                    break
                try:
                    status = await self.exec_script(cmd.body)
                except LoopControl as lc:
                    if not lc.here():
                        raise
                    if lc.breaks:
                        status = lc.status
                        break
        finally:
            self.loop_depth -= 1
        return status

    async def _exec_arith_for(self: Shell, cmd: ArithFor) -> int:
        try:
            return await self._arith_for_loop(cmd)
        except _ForArithError as e:  # bash ends the loop with status 1 and goes on
            await self.error(f"((: {e.message}")
            self.last_status = 1
            return 1

    async def _arith_for_loop(self: Shell, cmd: ArithFor) -> int:
        self.lineno = cmd.line
        status = 0
        budget = self.ctx.budget
        init, cond, step = cmd.init, cmd.cond, cmd.step
        plain = "$" not in init + cond + step and "`" not in init + cond + step
        try:
            if self.traps and "DEBUG" in self.traps:
                await self.debug_trap(arith_for_text(init))
            if plain:
                from pocketos.shell.arith import compile_expr

                f_init, f_cond, f_step = (
                    compile_expr(init),
                    compile_expr(cond.strip() or "1"),
                    compile_expr(step),
                )
                _for_arith(self, f_init)
            else:
                await self.arith_text(init)
        except ArithError as e:
            raise ShellError(f"((: {e}")
        except ZeroDivisionError:
            raise ShellError("division by 0") from None
        self.loop_depth += 1
        try:
            while True:
                budget.loop()
                if not budget.loop_iterations & 0xFF:
                    await self._yield()
                if self.traps and "DEBUG" in self.traps:
                    await self.debug_trap(arith_for_text(cond))
                if plain:
                    c = _for_arith(self, f_cond)
                else:
                    c = await self.arith_text(cond) if cond.strip() else 1
                if not c:
                    break
                try:
                    status = await self.exec_script(cmd.body)
                except LoopControl as lc:
                    if not lc.here():
                        raise
                    if lc.breaks:
                        status = lc.status
                        break
                if self.traps and "DEBUG" in self.traps:
                    await self.debug_trap(arith_for_text(step))
                if plain:
                    _for_arith(self, f_step)
                else:
                    await self.arith_text(step)
        finally:
            self.loop_depth -= 1
        self.last_status = status
        return status

    async def _exec_case(self: Shell, cmd: Case) -> int:
        self.lineno = cmd.line
        if self.traps and "DEBUG" in self.traps:
            await self.debug_trap(command_text(cmd))
        word = await self.expand_str(cmd.word)
        status = 0
        nocase = self.shopt.nocasematch
        items = cmd.items
        i = 0
        n = len(items)
        matched_any = False
        while i < n:
            item = items[i]
            hit = False
            for pw in item.patterns:
                p = await self.expand_pattern(pw)
                if pat.match(p, word, nocase, tick=self.ctx.budget.check_time):
                    hit = True
                    break
            if not hit:
                i += 1
                continue
            matched_any = True
            status = await self.exec_script(item.body)
            while item.term == ";&" and i + 1 < n:
                i += 1
                item = items[i]
                status = await self.exec_script(item.body)
            if item.term == ";;&":
                i += 1
                continue
            break
        if not matched_any:
            status = 0
        self.last_status = status
        return status

    async def _exec_funcdef(self: Shell, cmd: FuncDef) -> int:
        self.functions[cmd.name] = cmd
        self.last_status = 0
        return 0

    async def _exec_arith(self: Shell, cmd: ArithCmd) -> int:
        self.ctx.budget.command()
        self.lineno = cmd.line
        if self.opts.xtrace:
            await self.write_err(f"{self.get_str('PS4') or ''}(( {cmd.expr.strip()} ))\n")
        try:
            v = await self.arith_text(cmd.expr)
        except ShellError as e:
            if isinstance(e, FatalError):
                raise  # ``set -u``, ``${x:?}``: the shell ends, as for any expansion
            await self.write_err(f"{self.prefix()}((: {e.message}\n")
            self.last_status = 1
            return 1
        st = 0 if v else 1
        self.last_status = st
        return st

    async def _exec_cond(self: Shell, cmd: CondCmd) -> int:
        self.ctx.budget.command()
        self.lineno = cmd.line
        try:
            r = await self.eval_cond(cmd.expr)
        except ShellError as e:
            if isinstance(e, FatalError):
                raise
            await self.error(e.message)
            self.last_status = 2
            return 2
        st = 0 if r else 1
        self.last_status = st
        return st

    async def _trace_cond(self: Shell, prefix: str, text: str) -> None:
        ps4 = self.get_str("PS4")
        ps4 = "+ " if ps4 is None else ps4
        if ps4:
            ps4 = ps4[0] * self.trace_level + ps4
        await self.write_err(f"{ps4}[[ {prefix}{text} ]]\n")

    async def eval_cond(self: Shell, e: CondExpr, prefix: str = "") -> bool:
        if isinstance(e, CondAnd):
            return await self.eval_cond(e.left, prefix) and await self.eval_cond(e.right)
        if isinstance(e, CondOr):
            return await self.eval_cond(e.left, prefix) or await self.eval_cond(e.right)
        if isinstance(e, CondNot):
            return not await self.eval_cond(e.expr, prefix + "! ")
        if isinstance(e, CondParen):
            return await self.eval_cond(e.expr, prefix)
        if isinstance(e, CondWord):
            w = await self.expand_str(e.word)
            if self.opts.xtrace:
                await self._trace_cond(prefix, w)
            return w != ""
        if isinstance(e, CondUnary):
            op = e.op
            arg = await self.expand_str(e.arg)
            if self.opts.xtrace:
                await self._trace_cond(prefix, f"{op} {arg}")
            if op == "-v":
                return self.var_isset(arg)
            if op == "-z":
                return arg == ""
            if op == "-n":
                return arg != ""
            if op == "-o":
                return arg in self.opts and self.opts.get(arg)
            from pocketos.shell.testexpr import evaluate_test

            st, err = evaluate_test([op, arg], self.fs.with_cwd(self.cwd), isatty=self.fd_isatty)
            if err:
                raise ShellError(err)
            return st == 0
        assert isinstance(e, CondBinary)
        op = e.op
        left = await self.expand_str(e.left)
        if self.opts.xtrace:
            await self._trace_cond(prefix, f"{left} {op} {await self.expand_str(e.right)}")
        if op in ("==", "=", "!="):
            p = await self.expand_pattern(e.right)
            r = pat.match(p, left, self.shopt.nocasematch, tick=self.ctx.budget.check_time)
            return r if op != "!=" else not r
        if op == "=~":
            return await self._regex_match(left, e.right)
        right = await self.expand_str(e.right)
        if op == "<":
            return left.encode("utf-8", "surrogateescape") < right.encode(
                "utf-8", "surrogateescape"
            )
        if op == ">":
            return left.encode("utf-8", "surrogateescape") > right.encode(
                "utf-8", "surrogateescape"
            )
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            a = await self.arith_text(left) if left.strip() else 0
            b = await self.arith_text(right) if right.strip() else 0
            return {
                "-eq": a == b,
                "-ne": a != b,
                "-lt": a < b,
                "-le": a <= b,
                "-gt": a > b,
                "-ge": a >= b,
            }[op]
        from pocketos.shell.testexpr import evaluate_test

        st, err = evaluate_test([left, op, right], self.fs.with_cwd(self.cwd))
        if err:
            raise ShellError(err)
        return st == 0

    async def _regex_match(self: Shell, left: str, w: Word) -> bool:
        import re

        # quoted parts match literally
        from pocketos.shell.expand import _Fields

        fb = _Fields()
        await self._expand_parts(w.parts, fb, False)
        rx_parts = []
        for text, q in zip(fb.text, fb.qs, strict=False):
            rx_parts.append(re.escape(text) if q else text)
        rx = "".join(rx_parts)
        from pocketos.lib import safe_regex

        try:
            flags = re.IGNORECASE if self.shopt.nocasematch else 0
            compiled = _compile_ere(_ere_to_py(rx), flags)
        except re.error:
            return False  # bash: status 2 for an invalid regex
        # bounded like grep: a slice of the loop, then a worker thread until the deadline
        try:
            with safe_regex.movable():
                m = compiled.search(left)
        except safe_regex.RegexSliceExceeded:
            m = await safe_regex.in_worker(compiled.search, left)
        if m is None:
            self.set_var_obj("BASH_REMATCH", Var({}, ATTR_ARRAY))
            return False
        groups = {0: m.group(0)}
        for i, g in enumerate(m.groups(), 1):
            groups[i] = g if g is not None else ""
        self.set_var_obj("BASH_REMATCH", Var(groups, ATTR_ARRAY))
        return True


class _ForArithError(ShellError):
    """An arithmetic error in the head of ``for (( ))``: the loop ends with status 1."""


def _for_arith(sh: Shell, f: Any) -> int:
    try:
        return int(f(sh))
    except ZeroDivisionError:
        raise _ForArithError("division by 0") from None
    except ArithError as e:
        raise _ForArithError(str(e)) from None
