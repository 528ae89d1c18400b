# mypy: disable-error-code="misc"
"""Simple commands: word expansion with declaration words, aliases, ``set -x`` tracing,
assignments, temporary environments, builtins, shell functions and external programs, as a mixin of
the interpreter."""

from __future__ import annotations

import asyncio
import errno
import inspect
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from pocketos.errors import LimitExceeded
from pocketos.kernel.jobctl import checkpoint, must_pause
from pocketos.kernel.streams import (
    InputStream,
    NullInput,
    NullOutput,
    OutputStream,
)
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.ast import (
    Assign,
    CmdSub,
    FuncDef,
    Group,
    Simple,
    Word,
)
from pocketos.shell.builtins import lookup as lookup_builtin
from pocketos.shell.parser import ShellSyntaxError, parse, parse_word_text
from pocketos.shell.printer import format_command
from pocketos.shell.redirect import _close_all, _ClosedOut, _strerror
from pocketos.shell.state import (
    ATTR_ARRAY,
    ATTR_ASSOC,
    ATTR_EXPORT,
    ATTR_INTEGER,
    ATTR_LOWER,
    ATTR_READONLY,
    ATTR_UPPER,
    ExitShell,
    FatalError,
    ReportedError,
    ReturnFn,
    ShellAttrs,
    ShellError,
    Var,
    quote_word,
)

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["SimpleCommands"]

#: nesting levels run on one Python stack before ``Shell.nested`` starts a fresh one
HOP_EVERY = 8
_T = TypeVar("_T")
#: builtins whose ``name=value`` arguments are assignments
_DECLARATION = frozenset(["local", "declare", "typeset", "export", "readonly"])
_HOLDS_INPUT = frozenset(["exec", "eval", "source", "."])


def _has_cmdsub(a: Assign) -> bool:
    if a.value is None:
        return False
    from pocketos.shell.ast import DQ as _DQ

    def walk(parts: list[Any]) -> bool:
        for p in parts:
            if isinstance(p, CmdSub):
                return True
            if isinstance(p, _DQ) and walk(p.parts):
                return True
        return False

    return walk(a.value.parts)


class SimpleCommands(ShellAttrs):
    """Mixin for :class:`Shell`: simple commands (expansion, aliases, xtrace, assignments,
    builtins, functions, external programs)."""

    # --- simple commands ------------------------------------------------------------------------
    async def exec_simple(self: Shell, cmd: Simple) -> int:
        self.ctx.budget.command()
        if must_pause():
            await checkpoint()  # each command of a stopped job waits for CONT
        self.lineno = cmd.line
        words = cmd.words
        if self.shopt.expand_aliases and words and self.active_aliases:
            cmd = self._expand_alias(cmd)
            words = cmd.words
        if words and words[0].simple in _DECLARATION and len(words) > 1:
            argv = await self._expand_declaration(words)
        else:
            argv = await self.expand_words(words) if words else []
        if self.warnings:
            await self.flush_warnings()
        if not argv:
            return await self._assign_only(cmd)
        if self.opts.xtrace:
            await self._trace(cmd, argv)
        name = argv[0]
        self.last_arg = argv[-1]
        func = self.functions.get(name)
        # a function hides a builtin of its name; in posix mode not a special builtin
        if func is not None and not (self.opts.posix and name in self.special_builtins):
            if not cmd.assigns and not cmd.redirs:
                st = await self.call_function(func, argv)
                self.last_status = st
                return st
            return await self._with_env(cmd, self.call_function, func, argv)
        builtin = self.builtins.get(name) or lookup_builtin(name)
        if builtin is not None and not (self.disabled_builtins and name in self.disabled_builtins):
            if name in ("command", "builtin") and len(argv) > 1:
                pass
            return await self._with_env(cmd, self._call_builtin, builtin, argv)
        return await self.run_external(cmd, argv)

    async def _expand_declaration(self: Shell, words: list[Word]) -> list[str]:
        """Arguments of ``local``/``declare``/``export``/...: a ``name=value`` word is an
        assignment, its value neither split nor globbed (``local v=$1``), like bash."""
        if words[0].simple in self.functions:
            return await self.expand_words(words)
        argv = [words[0].simple or ""]
        for w in words[1:]:
            a = w.assign
            if a is not None and a.array is not None:
                argv.append(w.text)  # name=(...): the builtin expands the elements itself
                continue
            if a is None or a.value is None:
                argv.extend(await self.expand_word(w) if w.simple is None else [w.simple])
                continue
            head = a.name + (f"[{a.index}]" if a.index is not None else "")
            head += "+=" if a.append else "="
            argv.append(head + await self.expand_str(a.value, assign=True))
        return argv

    def _expand_alias(self: Shell, cmd: Simple) -> Simple:
        first = cmd.words[0].simple
        seen: set[str] = set()
        aliases = self.active_aliases
        while first is not None and first in aliases and first not in seen:
            seen.add(first)
            text = aliases[first]
            try:
                sub = parse(text + " ", self.shopt.extglob)
            except ShellSyntaxError:
                return cmd
            if (
                len(sub.items) != 1
                or sub.items[0].node.rest
                or len(sub.items[0].node.first.cmds) != 1
            ):
                return cmd
            inner = sub.items[0].node.first.cmds[0]
            if not isinstance(inner, Simple):
                return cmd
            rest = cmd.words[1:]
            if text.endswith(" ") and rest:
                rest = self._alias_next(rest, aliases, seen)
            cmd = Simple(
                cmd.assigns + inner.assigns, inner.words + rest, inner.redirs + cmd.redirs, cmd.line
            )
            first = cmd.words[0].simple if cmd.words else None
            if inner.words and inner.words[0].simple == first and first in seen:
                break
        return cmd

    def _alias_next(
        self: Shell, words: list[Word], aliases: dict[str, str], seen: set[str]
    ) -> list[Word]:
        """After an alias ending in a blank, the next word is alias-expanded too."""
        w = words[0].simple
        if w is None or w not in aliases or w in seen:
            return words
        seen.add(w)
        text = aliases[w]
        try:
            sub = parse(text + " ", self.shopt.extglob)
        except ShellSyntaxError:
            return words
        if len(sub.items) != 1 or sub.items[0].node.rest or len(sub.items[0].node.first.cmds) != 1:
            return words
        inner = sub.items[0].node.first.cmds[0]
        if not isinstance(inner, Simple) or inner.assigns or inner.redirs:
            return words
        rest = words[1:]
        if text.endswith(" ") and rest:
            rest = self._alias_next(rest, aliases, seen)
        return inner.words + rest

    async def _trace(
        self: Shell,
        cmd: Simple | None,
        argv: list[str],
        assigns: list[str] | None = None,
        ps4_before: str | None = None,
    ) -> None:
        ps4 = self.get_str("PS4") if ps4_before is None else ps4_before
        ps4 = ps4 if ps4 is not None else "+ "
        if ps4 and ("$" in ps4 or "`" in ps4):
            ps4 = await self._expand_ps4(ps4)
        if ps4:
            ps4 = ps4[0] * self.trace_level + ps4
        lines = []
        if assigns:
            for a in assigns:
                lines.append(ps4 + a + "\n")
        if argv:
            lines.append(ps4 + " ".join(quote_word(a) for a in argv) + "\n")
        await self.write_err("".join(lines))

    async def _expand_ps4(self: Shell, ps4: str) -> str:
        """PS4 expanded with tracing off (a ``$(...)`` in it is not traced, and does not
        expand PS4 again); a malformed PS4 is reported and used as it is, like bash."""
        if not self.opts.xtrace:
            return ps4
        self.own_opts().xtrace = False
        try:
            return await self.expand_str(parse_word_text(ps4))
        except ShellSyntaxError:
            await self.write_err(f"{self.argv0}: {ps4}: bad substitution\n")
        except ShellError:
            pass
        finally:
            # a ``$(...)`` in PS4 may have forked the shell, sharing the options: own them again
            self.own_opts().xtrace = True
        return ps4

    async def _assign_only(self: Shell, cmd: Simple) -> int:
        status = 0
        traced: list[str] = []
        if cmd.redirs:
            saved = self.fds
            opened: list[Any] = []
            try:
                self.fds = await self.apply_redirs(cmd.redirs, dict(saved), opened)
            except ShellError as e:
                self.fds = saved
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                return 1
            self.fds = saved
            _close_all(opened)
        # $? in the values is still the previous command's status (bash)
        had_sub = False
        ps4_before = self.get_str("PS4") if self.opts.xtrace else None
        for a in cmd.assigns:
            try:
                cs = a.cmdsub
                if cs is None:
                    cs = a.cmdsub = _has_cmdsub(a)
                had_sub = had_sub or cs
                val = await self.do_assign(a)
                if self.opts.xtrace:
                    traced.append(
                        f"{a.name}{'+' if a.append else ''}="
                        f"{quote_word(val) if isinstance(val, str) else val}"
                    )
            except ShellError as e:
                if isinstance(e, FatalError) or "readonly" not in e.message:
                    raise
                await self.error(e.message)
                self.last_status = 1
                if self.opts.errexit:
                    raise ExitShell(1) from None
                raise ReportedError(e.message, 1) from None
        if traced:
            await self._trace(None, [], traced, ps4_before)
        if had_sub:
            return self.last_status
        return status

    async def do_assign(self: Shell, a: Assign, local: bool = False) -> str:
        if a.array is not None:
            await self.assign_array(a.name, a.array, a.append, index=a.index)
            return "(" + " ".join(x.text for x in a.array) + ")"
        val = await self.expand_str(a.value, assign=True) if a.value is not None else ""
        index = a.index
        if index is not None:
            if index in ("@", "*"):
                raise ShellError(f"{a.name}[{index}]: bad array subscript")
            index = await self.subscript_key(a.name, index)
        self.assign_var(a.name, val, index=index, append=a.append)
        return val

    async def assign_array(
        self: Shell, name: str, elems: list[Any], append: bool, index: str | None = None
    ) -> None:
        var = self.vars.get(name)
        if var is not None and var.attrs & ATTR_READONLY:
            raise ShellError(f"{name}: readonly variable")
        assoc = var is not None and bool(var.attrs & ATTR_ASSOC)
        new: dict[Any, str] = {}
        if append and var is not None:
            if isinstance(var.value, dict):
                new = dict(var.value)
            elif var.value is not None:
                new = {0: var.value}
        nxt = (max(new) + 1) if (new and not assoc) else 0
        for e in elems:
            if isinstance(e, Assign):
                key_text = e.index or ""
                val = await self.expand_str(e.value, assign=True) if e.value is not None else ""
                if assoc:
                    key: Any = await self.expand_str(parse_word_text(key_text))
                else:
                    key = await self.arith_text(key_text)
                    if key < 0:
                        key += nxt
                    nxt = key + 1
                if e.append:
                    val = new.get(key, "") + val
                new[key] = self._coerce(var, val)
            else:
                if assoc:
                    fields = await self.expand_word(e)
                    for f in fields:
                        new[f] = ""
                    continue
                for f in await self.expand_word(e):
                    new[nxt] = self._coerce(var, f)
                    nxt += 1
        attrs = var.attrs if var is not None else 0
        if not assoc:
            attrs |= ATTR_ARRAY
        self.set_var_obj(name, Var(new, attrs))

    def _coerce(self: Shell, var: Var | None, val: str) -> str:
        if var is None:
            return val
        a = var.attrs
        if a & ATTR_INTEGER:
            try:
                val = str(evaluate(val, self)) if val.strip() else "0"
            except ArithError as e:
                raise ShellError(str(e)) from None
        if a & ATTR_LOWER:
            val = val.lower()
        elif a & ATTR_UPPER:
            val = val.upper()
        return val

    async def _with_env(self: Shell, cmd: Simple, fn: Any, target: Any, argv: list[str]) -> int:
        """Run a builtin/function with the command's assignments (temporary) and redirections."""
        saved_temp = self.temp_env
        temp: dict[str, Var | None] = {}
        self.temp_env = temp
        if cmd.assigns:
            for a in cmd.assigns:
                if a.name not in temp:
                    temp[a.name] = self.vars.get(a.name)
                val = await self.expand_str(a.value, assign=True) if a.value is not None else ""
                old = self.vars.get(a.name)
                attrs = (old.attrs if old is not None else 0) | ATTR_EXPORT
                self.vars[a.name] = Var(val, attrs)
            self.env_changed()
        saved_fds = self.fds
        opened: list[Any] = []
        try:
            if cmd.redirs:
                try:
                    # a function, ``exec``, ``eval`` or ``source`` runs other commands
                    # before its input is read
                    hold = fn is not self._call_builtin or argv[0] in _HOLDS_INPUT
                    self.fds = await self.apply_redirs(
                        cmd.redirs, dict(saved_fds), opened, hold=hold
                    )
                except ShellError as e:
                    self.fds = saved_fds
                    await self.error(e.message)
                    self.last_status = 1
                    return 1
            status = await fn(target, argv)
            self.last_status = status
            return status
        finally:
            if self.keep_fds:
                self.keep_fds = False
            else:
                self.fds = saved_fds
                _close_all(opened)
            self.temp_env = saved_temp
            if cmd.assigns:
                # POSIX special builtins keep their assignments, but only in posix mode; a
                # declaration builtin that took a name over drops it from ``temp``, as in bash
                special = (
                    self.opts.posix
                    and argv[0] in self.special_builtins
                    and self.builtins.get(argv[0]) is target
                )
                if not special:
                    for name, old in temp.items():
                        if old is None:
                            self.vars.pop(name, None)
                        else:
                            self.vars[name] = old
                self.env_changed()

    async def _call_builtin(self: Shell, builtin: Any, argv: list[str]) -> int:
        try:
            return await builtin(self, argv)
        except ShellError as e:
            if isinstance(e, FatalError):
                raise
            await self.error(e.message)
            return e.status
        except BrokenPipeError:
            raise
        except OSError as exc:
            await self.error(f"{argv[0]}: write error: {_strerror(exc)}")
            return 1

    async def nested(self: Shell, coro: Coroutine[Any, Any, _T]) -> _T:
        """Await ``coro``, one level deeper in the script's nesting (functions, eval, source,
        command substitutions, traps). Every ``HOP_EVERY`` levels it runs in a task of its own,
        which starts on a fresh Python stack: deep shell recursion is bounded by
        ``max_call_depth``, never by the host's recursion limit, which is left alone. The task
        is awaited at once, so a cancellation reaches it and it never outlives its caller."""
        try:
            self.ctx.budget.call_depth(self.nest + 1)
        except LimitExceeded:
            coro.close()
            raise
        self.nest += 1
        try:
            if self.nest % HOP_EVERY:
                return await coro
            return await asyncio.ensure_future(coro)
        finally:
            self.nest -= 1

    async def call_function(self: Shell, func: FuncDef, argv: list[str]) -> int:
        return await self.nested(self._call_function(func, argv))

    async def _call_function(self: Shell, func: FuncDef, argv: list[str]) -> int:
        return_trap_sets = self.return_trap_sets
        self.call_depth += 1
        self.ctx.budget.call_depth(self.call_depth)
        saved_pos = self.positional
        self.positional = argv[1:]
        self.vars.push_scope()
        self.funcnames.append(func.name)
        saved_loops = self.loop_depth
        saved_line = self.lineno
        self.loop_depth = 0
        body = func.body
        # like bash, a function does not inherit the DEBUG trap (unless functrace): it is
        # off while the function runs, and back when it returns unless the function set one
        debug = None
        if self.traps and not self.opts.functrace and self.traps.get("DEBUG"):
            debug = self.traps.pop("DEBUG")
        try:
            if self.opts.functrace and self.traps.get("DEBUG"):
                # under set -T bash runs the DEBUG trap once more as the function starts, at
                # the line where the function was defined
                self.lineno = func.line
                await self.debug_trap(self.get_str("BASH_COMMAND") or "")
            if type(body) is Group and not body.redirs:
                status = await self.exec_script(body.body)
            else:
                status = await self.exec_cmd(body)
        except ReturnFn as r:
            status = r.status
        except FatalError as e:
            if e.line is None:
                e.line = self.lineno  # bash reports it at its own line, not the caller's
            raise
        finally:
            self.loop_depth = saved_loops
            self.lineno = saved_line  # the caller's line again (an ERR trap on the call uses it)
            changed, saved_opts = self.vars.pop_scope()
            if saved_opts is not None:
                self.own_opts().restore(saved_opts)
            if changed:
                self.env_changed()
            self.positional = saved_pos
            self.funcnames.pop()
            self.call_depth -= 1
            if debug is not None and not self.traps.get("DEBUG"):
                self.traps["DEBUG"] = debug
        action = self.traps.get("RETURN")
        if (
            action
            and not self.in_trap
            and (self.return_trap_sets != return_trap_sets or self.opts.functrace)
        ):
            # like bash: functions do not inherit the RETURN trap unless functrace is on
            await self.run_trap("RETURN")
        self.last_status = status
        return status

    async def run_external(self: Shell, cmd: Simple, argv: list[str]) -> int:
        name = argv[0]
        env = self.exported_env()
        if cmd.assigns:
            env = dict(env)
            for a in cmd.assigns:
                env[a.name] = (
                    await self.expand_str(a.value, assign=True) if a.value is not None else ""
                )
        kernel = self.ctx.kernel
        saved_fds = self.fds
        opened: list[Any] = []
        if cmd.redirs:
            try:
                fds = await self.apply_redirs(cmd.redirs, dict(saved_fds), opened)
            except ShellError as e:
                _close_all(opened)
                await self.error(e.message)
                self.last_status = 1
                return 1
        else:
            fds = saved_fds
        try:
            func = kernel.find_command(name, env, self.cwd)
        except OSError as exc:
            func = None
            msg = f"{name}: {_strerror(exc)}"
            status = 126 if exc.errno in (errno.EACCES, errno.EISDIR) else 127
        else:
            msg = ""
        if func is None:
            if not msg:
                msg, status = f"{name}: command not found", 127
            self.fds = fds
            try:
                await self.error(msg)
            finally:
                self.fds = saved_fds
                _close_all(opened)
            self.last_status = status
            return status
        try:
            stdin = fds.get(0)
            stdout = fds.get(1)
            stderr = fds.get(2)
            if not isinstance(stdin, InputStream):
                stdin = NullInput()
            if not isinstance(stdout, OutputStream):
                stdout = _ClosedOut()
            if not isinstance(stderr, OutputStream):
                stderr = NullOutput()
            ctx = self.ctx
            run = kernel.run_command(
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=self.cwd,
                ppid=ctx.pid,
                limits=ctx.limits,
                budget=ctx.budget,
                func=func,
            )
            if self.opts.monitor and not self.is_subshell and self.fg_job is None:
                # the files it writes stay open while it is a stopped job
                files, opened = opened, []
                try:
                    status = await self.foreground(
                        lambda: run, format_command(cmd), lambda: _close_all(files)
                    )
                finally:
                    if inspect.getcoroutinestate(run) == inspect.CORO_CREATED:
                        run.close()  # the job never started: no "never awaited" warning
            else:
                status = await run
        finally:
            if opened:
                _close_all(opened)
        self.last_status = status
        return status
