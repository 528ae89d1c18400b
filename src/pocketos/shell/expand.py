# mypy: disable-error-code="misc"
"""Word expansion: a word to its fields — brace expansion (shell/braces.py), tilde, parameters
(shell/params.py), command and arithmetic substitution, IFS field splitting, pathname expansion
and quote removal.

The :class:`Expander` mixin is part of :class:`pocketos.shell.interp.Shell`; it uses the
shell's variables, options and command-substitution runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketos.shell import pattern as pat
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.ast import DQ, ArithSub, BadSub, CmdSub, Lit, Param, Part, ProcSub, Quoted, Word
from pocketos.shell.braces import brace_expand, simple_sequence
from pocketos.shell.fields import _Fields, _Split
from pocketos.shell.params import ParamExpander
from pocketos.shell.parser import ShellSyntaxError, parse_word_text
from pocketos.shell.state import FatalError, ShellError

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Expander", "brace_expand"]


#: texts at least this long are checked against the exec's memory before they are joined
BIG_TEXT = 1024 * 1024


class Expander(ParamExpander):
    """Mixin for :class:`Shell`: a word's fields (parameter expansion comes from
    :class:`~pocketos.shell.params.ParamExpander`)."""

    # --- entry points ----------------------------------------------------------------------
    async def expand_words(self: Shell, words: list[Word]) -> list[str]:
        out: list[str] = []
        for w in words:
            s = w.simple
            if s is not None:
                out.append(s)
            else:
                out.extend(await self.expand_word(w))
        return out

    async def expand_word(self: Shell, w: Word) -> list[str]:
        parts = w.parts
        if len(parts) == 1 and type(parts[0]) is DQ:
            # ``"text"``, ``"$x"``, ``"${x:-y}"``, ``"$@"``: no splitting, globbing or braces
            inner = parts[0].parts
            if not inner:
                return [""]
            if len(inner) == 1:
                p0 = inner[0]
                if type(p0) is Quoted:
                    return [p0.text]
                if type(p0) is Param:
                    return self._quoted_fields(p0, await self.param_value(p0, True))
        plists = [parts]
        if any(isinstance(p, Lit) and "{" in p.text for p in w.parts):
            p0 = w.parts[0]
            if len(w.parts) == 1 and isinstance(p0, Lit):
                words = simple_sequence(p0.text)
                if words is not None:
                    return words
            plists = brace_expand(w.parts)
        fields: list[tuple[str, str, bool]] = []
        for parts in plists:
            fb = _Fields()
            await self._expand_parts(parts, fb, True)
            fb.end()
            fields.extend(fb.out)
        out: list[str] = []
        noglob = self.opts.noglob
        for text, p, g in fields:
            if g and not noglob:
                gi = self.get_str("GLOBIGNORE")
                matches = pat.glob(
                    self.fs,
                    p,
                    dotglob=self.shopt.dotglob or bool(gi),
                    globstar=self.shopt.globstar,
                    extglob=self.shopt.extglob,
                    nocase=self.shopt.nocaseglob,
                )
                if gi and matches:
                    ignore = [x for x in gi.split(":") if x]
                    matches = [m for m in matches if not any(pat.match(x, m) for x in ignore)]
                if matches:
                    out.extend(matches)
                    continue
                if self.shopt.failglob:
                    raise ShellError(f"no match: {pat.unescape(p)}")
                if self.shopt.nullglob:
                    continue
                out.append(text)
            else:
                out.append(text)
        return out

    def _quoted_fields(self: Shell, p: Param, val: str | list[str] | None) -> list[str]:
        """The fields of a word that is one double-quoted parameter with value ``val``, as
        :meth:`_expand_dq` gives them."""
        if type(val) is str:
            return [val]
        if isinstance(val, list):
            if p.name == "*" or p.index == "*":
                return [self.ifs()[:1].join(val)]
            return list(val)
        if val is None and p.index == "@" and p.name != "@":
            return []  # "${unset[@]}" is no word at all, like an empty array
        return [""]

    async def expand_str(self: Shell, w: Word, *, assign: bool = False) -> str:
        """Expand without splitting or globbing (assignments, here-strings, case words)."""
        s = w.simple
        if s is not None:
            if assign and "~" in s:
                return self._tilde_assign(s)
            return s
        parts = w.parts
        if len(parts) == 1:
            # ``x=$((…))``, ``x=$(cmd)``, ``x="$(cmd)"``: the value is the substitution's
            p0 = parts[0]
            if type(p0) is ArithSub:
                return str(await self.arith_text(p0.expr))
            t = type(p0)
            if t is CmdSub:
                return await self.command_subst(p0)  # type: ignore[arg-type]
            if t is DQ and len(p0.parts) == 1 and type(p0.parts[0]) is CmdSub:  # type: ignore[union-attr]
                return await self.command_subst(p0.parts[0])  # type: ignore[union-attr]
        fb = _Fields()
        await self._expand_parts(w.parts, fb, False, assign=assign)
        text = fb.text
        if len(text) > 1 and sum(map(len, text)) >= BIG_TEXT:
            # refuse a huge concatenation (``a=$a$a``) before making it
            budget = self.ctx.budget
            budget.check_alloc(sum(map(len, text)), "variables")
            budget.check_time()
        return "".join(text)

    async def expand_pattern(self: Shell, w: Word) -> str:
        """Expand to a pattern: quoted characters come back escaped."""
        s = w.simple
        if s is not None:
            if w.parts and isinstance(w.parts[0], Quoted):
                return pat.escape(s)
            return s
        fb = _Fields()
        await self._expand_parts(w.parts, fb, False)
        return "".join(fb.pat)

    # --- parts -------------------------------------------------------------------------------
    async def _expand_parts(
        self: Shell, parts: list[Part], fb: _Fields, split: bool, assign: bool = False
    ) -> None:
        first = True
        for p in parts:
            t = type(p)
            if t is Lit:
                text = p.text  # type: ignore[union-attr]
                if assign and "~" in text and (first or ":~" in text):
                    fb.quoted(
                        self._tilde_assign(text)
                        if first
                        else text.split(":", 1)[0] + ":" + self._tilde_assign(text.split(":", 1)[1])
                        if ":" in text
                        else text
                    )
                elif first and text.startswith("~"):
                    text = self._tilde(text, assign)
                    fb.quoted(text)
                else:
                    fb.lit(text)
            elif t is Quoted:
                fb.quoted(p.text)  # type: ignore[union-attr]
            elif t is DQ:
                await self._expand_dq(p.parts, fb, split)  # type: ignore[union-attr]
            elif t is Param:
                val = await self.param_value(p, False)  # type: ignore[arg-type]
                if type(val) is _Split and split:
                    # the fields of ${x:-word}: already split, quotes in the word respected
                    for k, (text, pt, g) in enumerate(val.fields):
                        if k:
                            fb.end(True)
                        fb.text.append(text)
                        fb.pat.append(pt)
                        fb.qs.append(True)
                        fb.has = True
                        fb.glob = fb.glob or g
                elif isinstance(val, list):
                    if split:
                        ifs = self.ifs()
                        for k, v in enumerate(val):
                            if k:
                                fb.end()
                            fb.split(v, ifs)
                    else:
                        fb.lit(
                            " ".join(val)
                            if p.name != "*" and p.index != "*"  # type: ignore[union-attr]
                            else self.ifs()[:1].join(val)
                        )
                elif val is not None:
                    if split:
                        fb.split(val, self.ifs())
                    else:
                        fb.lit(val)
            elif t is CmdSub:
                out = await self.command_subst(p)  # type: ignore[arg-type]
                if split:
                    fb.split(out, self.ifs())
                else:
                    fb.lit(out)
            elif t is ArithSub:
                v = str(await self.arith_text(p.expr))  # type: ignore[union-attr]
                if split:
                    fb.split(v, self.ifs())
                else:
                    fb.lit(v)
            elif t is ProcSub:
                fb.quoted(await self.process_subst(p))  # type: ignore[arg-type]
            elif t is BadSub:
                raise self.bad_sub(p.text)  # type: ignore[union-attr]
            first = False

    async def _expand_dq(self: Shell, parts: list[Part], fb: _Fields, split: bool) -> None:
        if not parts:
            fb.quoted("")
            return
        for p in parts:
            t = type(p)
            if t is Quoted:
                fb.quoted(p.text)  # type: ignore[union-attr]
            elif t is Param:
                val = await self.param_value(p, True)  # type: ignore[arg-type]
                if isinstance(val, list):
                    if p.name == "*" or p.index == "*" or not split:  # type: ignore[union-attr]
                        sep = self.ifs()[:1] if (p.name == "*" or p.index == "*") else " "  # type: ignore[union-attr]
                        fb.quoted(sep.join(val))
                    else:
                        for k, v in enumerate(val):
                            if k:
                                fb.end(True)
                            fb.quoted(v)
                        if not val and len(parts) > 1:
                            fb.has = True
                elif val is not None:
                    fb.quoted(val)
                elif p.index == "@" and split and p.name != "@":  # type: ignore[union-attr]
                    # "${unset[@]}" is no word at all, like an empty array
                    if len(parts) > 1:
                        fb.has = True
                else:
                    fb.quoted("")
            elif t is CmdSub:
                fb.quoted(await self.command_subst(p))  # type: ignore[arg-type]
            elif t is ArithSub:
                fb.quoted(str(await self.arith_text(p.expr)))  # type: ignore[union-attr]
            elif t is BadSub:
                raise self.bad_sub(p.text)  # type: ignore[union-attr]
            elif t is DQ:
                await self._expand_dq(p.parts, fb, split)  # type: ignore[union-attr]
            elif t is Lit:
                fb.quoted(p.text)  # type: ignore[union-attr]

    def bad_sub(self: Shell, text: str) -> ShellError:
        if text.startswith("`"):
            return ShellError(f"command substitution: {text}", 2)
        return FatalError(f"{text}: bad substitution", 1)

    def _tilde(self: Shell, text: str, assign: bool = False) -> str:
        end = text.find("/")
        prefix = text[1:] if end < 0 else text[1:end]
        rest = "" if end < 0 else text[end:]
        if assign and ":" in prefix:
            i = prefix.index(":")
            rest = prefix[i:] + rest
            prefix = prefix[:i]
            rest = self._tilde_assign(rest)
        if prefix == "":
            home = self.get_str("HOME")
            return (home if home is not None else "/home/user") + rest
        if prefix == "+":
            return self.cwd + rest
        if prefix == "-":
            old = self.get_str("OLDPWD")
            return (old if old is not None else "~-") + rest
        if prefix == "root":
            return "/root" + rest
        if prefix in ("user", self.get_str("USER") or "user"):
            return "/home/" + prefix + rest
        return text

    def _tilde_assign(self: Shell, text: str) -> str:
        pieces = text.split(":")
        return ":".join(self._tilde(x) if x.startswith("~") else x for x in pieces)

    def ifs(self: Shell) -> str:
        v = self.vars.get("IFS")
        if v is None or v.value is None:
            return " \t\n"
        return v.value if isinstance(v.value, str) else ""

    async def arith_text(self: Shell, expr: str) -> int:
        if "$" in expr or "`" in expr:
            try:
                word = parse_word_text(expr)
            except ShellSyntaxError:  # an unclosed ${, $( or ` inside $(( ))
                raise FatalError(f"{expr}: bad substitution", 1) from None
            expr = await self.expand_str(word)
        try:
            return evaluate(expr, self)
        except ArithError as e:
            raise ShellError(str(e), 1) from None
