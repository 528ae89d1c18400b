# mypy: disable-error-code="misc"
"""Word expansion: brace, tilde, parameter, command and arithmetic substitution, IFS field
splitting, pathname expansion and quote removal.

The :class:`Expander` mixin is part of :class:`pocketos.shell.interp.Shell`; it uses the
shell's variables, options and command-substitution runner.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pocketos.kernel import budget as budget_mod
from pocketos.shell import pattern as pat
from pocketos.shell.arith import ArithError, evaluate
from pocketos.shell.ast import DQ, ArithSub, BadSub, CmdSub, Lit, Param, Part, ProcSub, Quoted, Word
from pocketos.shell.globmatch import Matcher, nodes_for
from pocketos.shell.parser import ShellSyntaxError, parse_word_text
from pocketos.shell.state import ATTR_ASSOC, FatalError, ShellError, quote_word, unbound_error

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["Expander", "brace_expand"]


class _Split(list[str]):
    """The words of an unquoted ``${x:-word}``: split already, with their glob patterns."""

    def __init__(self, fields: list[tuple[str, str, bool]]) -> None:
        super().__init__(t for t, _, _ in fields)
        self.fields = fields


class _Fields:
    """Builds fields: ``text`` is the value, ``pat`` the same with quoted characters
    escaped for globbing."""

    __slots__ = ("out", "text", "pat", "has", "glob", "qs")

    def __init__(self) -> None:
        self.out: list[tuple[str, str, bool]] = []
        self.text: list[str] = []
        self.pat: list[str] = []
        self.qs: list[bool] = []
        self.has = False
        self.glob = False

    def lit(self, s: str) -> None:
        self.text.append(s)
        self.pat.append(s)
        self.qs.append(False)
        if not self.glob and pat.has_glob(s):
            self.glob = True
        self.has = self.has or bool(s)

    def quoted(self, s: str) -> None:
        self.text.append(s)
        self.pat.append(pat.escape(s))
        self.qs.append(True)
        self.has = True

    def end(self, force: bool = False) -> None:
        if self.has or force or self.text and any(self.text):
            self.out.append(("".join(self.text), "".join(self.pat), self.glob))
        self.text = []
        self.pat = []
        self.qs = []
        self.has = False
        self.glob = False

    def split(self, s: str, ifs: str) -> None:
        if not s:
            return
        if not ifs:
            self.lit(s)
            return
        ws = "".join(c for c in ifs if c in " \t\n")
        nws = "".join(c for c in ifs if c not in " \t\n")
        n = len(s)
        i = 0
        while i < n and s[i] in ws:
            i += 1
        if i:
            self.end()
        if i >= n:
            return
        cur: list[str] = []
        while i < n:
            c = s[i]
            if c in ifs:
                self.lit("".join(cur))
                self.end(True)
                cur = []
                if c in nws:
                    i += 1
                    while i < n and s[i] in ws:
                        i += 1
                else:
                    while i < n and s[i] in ws:
                        i += 1
                    if i < n and s[i] in nws:
                        i += 1
                        while i < n and s[i] in ws:
                            i += 1
                continue
            cur.append(c)
            i += 1
        if cur:
            self.lit("".join(cur))


_BRACE_SEQ = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")
#: texts at least this long are checked against the exec's memory before they are joined
BIG_TEXT = 1024 * 1024
#: a word that is one brace sequence between plain text: ``a{1..9}b``
_SIMPLE_SEQ_WORD = re.compile(r"^([^{}$,*?\[\\~'\"`]*)\{([^{}]*)\}([^{}$,*?\[\\~'\"`]*)$")
#: host bytes one generated word costs, beyond its characters: as a plain string (fast path),
#: and as the per-character items of the general brace expander
_WORD_COST = 120
_ITEM_COST = 72


def _seq_budget(count: int, per_word: int) -> None:
    """Refuse a brace sequence whose words would not fit in the exec's memory, before
    making any of them (``{1..100000000}``)."""
    if count > 4096:
        budget_mod.check_alloc(count * per_word, "brace expansion")
        budget_mod.check_time()


def _grown(count: int, items: int) -> None:
    """Nested braces multiply: check what the words made so far hold."""
    if count > 4096:
        budget_mod.check_alloc(count * _ITEM_COST * (items + 4), "brace expansion")
        budget_mod.check_time()


def simple_sequence(text: str) -> list[str] | None:
    """``pre{a..b}post`` with plain text around it -> its words, made directly (no
    per-character items); ``None`` for anything else."""
    m = _SIMPLE_SEQ_WORD.match(text)
    if m is None:
        return None
    pre, body, post = m.groups()
    seq = _sequence(body, _WORD_COST + len(pre) + len(post))
    if seq is None:
        return None
    if pre or post:
        seq = [pre + x + post for x in seq]
    return seq


def brace_expand(parts: list[Part]) -> list[list[Part]]:
    """Brace expansion over parts (only unquoted literal text is scanned)."""
    # flatten into items: ("c", char) for unquoted literal chars, ("p", part) otherwise
    items: list[tuple[str, Any]] = []
    for p in parts:
        if isinstance(p, Lit):
            items.extend(("c", c) for c in p.text)
        else:
            items.append(("p", p))
    results = _brace_items(items)
    out: list[list[Part]] = []
    for r in results:
        plist: list[Part] = []
        buf: list[str] = []
        for kind, v in r:
            if kind == "c":
                buf.append(v)
            else:
                if buf:
                    plist.append(Lit("".join(buf)))
                    buf = []
                plist.append(v)
        if buf:
            plist.append(Lit("".join(buf)))
        out.append(plist)
    return out


def _brace_items(items: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    n = len(items)
    i = 0
    while i < n:
        if items[i] == ("c", "$") and i + 1 < n and items[i + 1] == ("c", "{"):
            i += 2
            continue
        if items[i] == ("c", "{"):
            depth = 0
            commas: list[int] = []
            j = i
            close = -1
            while j < n:
                it = items[j]
                if it == ("c", "{"):
                    depth += 1
                elif it == ("c", "}"):
                    depth -= 1
                    if depth == 0:
                        close = j
                        break
                elif it == ("c", ",") and depth == 1:
                    commas.append(j)
                j += 1
            if close < 0:
                return [items]
            pre = items[:i]
            post = items[close + 1 :]
            if commas:
                alts: list[list[tuple[str, Any]]] = []
                start = i + 1
                for c in commas + [close]:
                    alts.append(items[start:c])
                    start = c + 1
                res: list[list[tuple[str, Any]]] = []
                for a in alts:
                    res.extend(_brace_items(pre + a + post))
                    _grown(len(res), n)
                return res
            inner = items[i + 1 : close]
            if all(k == "c" for k, _ in inner):
                seq = _sequence("".join(v for _, v in inner), _ITEM_COST * (n + 4))
                if seq is not None:
                    res = []
                    for s in seq:
                        _grown(len(res), n)
                        mid: list[tuple[str, Any]] = (
                            [("c", c) for c in s] if s else [("p", Quoted(""))]
                        )
                        res.extend(_brace_items(pre + mid + post))
                    return res
            # not an expansion: keep the brace literal, continue after it
            rest = _brace_items(items[i + 1 :])
            return [items[: i + 1] + r for r in rest]
        i += 1
    return [items]


def _sequence(s: str, per_word: int = _WORD_COST) -> list[str] | None:
    m = _BRACE_SEQ.match(s)
    if not m:
        return None
    a, b, step_s = m.group(1), m.group(2), m.group(3)
    step = abs(int(step_s)) if step_s else 1
    if step == 0:
        step = 1
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        x, y = int(a), int(b)
        width = 0
        if (len(a.lstrip("-")) > 1 and a.lstrip("-").startswith("0")) or (
            len(b.lstrip("-")) > 1 and b.lstrip("-").startswith("0")
        ):
            width = max(len(a), len(b))
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        _seq_budget(len(rng), per_word + max(len(a), len(b)))
        if width:
            return [f"{v:0{width}d}" if v >= 0 else "-" + f"{-v:0{width - 1}d}" for v in rng]
        return [str(v) for v in rng]
    if len(a) == 1 and len(b) == 1 and not a.isdigit() and not b.isdigit():
        x, y = ord(a), ord(b)
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        return ["" if v == 92 else chr(v) for v in rng]
    return None


class Expander:
    """Mixin for :class:`Shell`."""

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
        plists = [w.parts]
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
        noglob = self.opt_noglob
        for text, p, g in fields:
            if g and not noglob:
                gi = self.get_str("GLOBIGNORE")
                matches = pat.glob(
                    self.fs,
                    p,
                    dotglob=self.shopt["dotglob"] or bool(gi),
                    globstar=self.shopt["globstar"],
                    extglob=self.shopt["extglob"],
                    nocase=self.shopt["nocaseglob"],
                )
                if gi and matches:
                    ignore = [x for x in gi.split(":") if x]
                    matches = [m for m in matches if not any(pat.match(x, m) for x in ignore)]
                if matches:
                    out.extend(matches)
                    continue
                if self.shopt["failglob"]:
                    raise ShellError(f"no match: {pat.unescape(p)}")
                if self.shopt["nullglob"]:
                    continue
                out.append(pat.unescape(p))
            else:
                out.append(text)
        return out

    async def expand_str(self: Shell, w: Word, *, assign: bool = False) -> str:
        """Expand without splitting or globbing (assignments, here-strings, case words)."""
        s = w.simple
        if s is not None:
            if assign and "~" in s:
                return self._tilde_assign(s)
            return s
        parts = w.parts
        if len(parts) == 1 and type(parts[0]) is ArithSub:
            return str(await self.arith_text(parts[0].expr))
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

    # --- parameters ---------------------------------------------------------------------------
    async def param_value(self: Shell, p: Param, in_dq: bool) -> str | list[str] | None:
        name = p.name
        # fast path: plain $name
        if (
            not p.op
            and p.index is None
            and not p.length
            and not p.indirect
            and not p.prefix_list
            and not p.keys
        ):
            v = self.vars.get(name)
            if (
                v is not None
                and type(v.value) is str
                and not v.attrs & 128
                and name not in self.dynamic
            ):
                return v.value
            val = self.lookup(name, None)
            if val is None and self.opt_nounset and name not in ("@", "*"):
                raise unbound_error(name)
            return val
        if p.prefix_list:
            return sorted(
                k for k, v in self.vars.items() if k.startswith(name) and v.value is not None
            )
        if p.keys:
            var = self.vars.get(name)
            if var is None or not isinstance(var.value, dict):
                return ["0"] if var is not None and var.value is not None else []
            return [str(k) for k in self._sorted_keys(var.value)]
        index = p.index
        if p.indirect:
            nv = self.vars.get(name)
            if nv is not None and nv.attrs & 128 and index is None:
                return nv.value if isinstance(nv.value, str) else None
            ref = self.lookup(name, index if index is not None else None)
            if isinstance(ref, list):
                ref = " ".join(ref)
            # bash: an unset or malformed reference is fatal whatever the operator
            if ref is None:
                raise FatalError(f"{name}: invalid indirect expansion", 1)
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:\[(.*)\])?", ref)
            if not m:
                raise FatalError(f"{ref}: invalid variable name", 1)
            name, index = m.group(1), m.group(2)
        if index is not None and index not in ("@", "*"):
            index = await self.subscript_key(name, index)
        val = self.lookup(name, index) if name else None
        op = p.op
        if p.length:
            if val is None or (val == [] and name not in ("@", "*") and name not in self.vars):
                if self.opt_nounset and name not in ("@", "*"):
                    raise unbound_error(name, 1 if index in ("@", "*") else 127)
                return "0"
            if isinstance(val, list):
                return str(len(val))
            return str(len(val))
        if not op:
            if (
                val is None
                and self.opt_nounset
                and name not in ("@", "*")
                and index not in ("@", "*")
            ):
                raise unbound_error(p.text[2:-1] if p.text.startswith("${") else name)
            return val
        if op in ("-", ":-", "=", ":=", "+", ":+", "?", ":?"):
            colon = op[0] == ":"
            if isinstance(val, list):
                is_set = bool(val) if name in ("@", "*") or index in ("@", "*") else True
                null = not val or (len(val) == 1 and val[0] == "") if colon else not is_set
            else:
                is_set = val is not None
                null = (val is None or val == "") if colon else not is_set
            base = op[-1]
            if base == "+":
                if null:
                    return [] if (name in ("@", "*") or index in ("@", "*")) else ""
                return await self._param_arg(p.arg, in_dq)
            if not null:
                return val
            if base == "-":
                return await self._param_arg(p.arg, in_dq)
            if base == "=":
                new = await self.expand_str(p.arg) if p.arg is not None else ""
                if name in ("@", "*", "#", "?", "$", "!", "-") or name.isdigit():
                    raise FatalError(f"${name}: cannot assign in this way", 1)
                var = self.vars.get(name)
                if index in ("@", "*") and (var is None or not var.attrs & ATTR_ASSOC):
                    err = FatalError(f"{name}[{index}]: bad array subscript", 1)
                    err.sub_status = 2
                    raise err
                self.assign_var(name, new, index=index)
                return new
            msg = await self.expand_str(p.arg) if p.arg is not None and p.arg.parts else ""
            if not msg:
                msg = "parameter null or not set" if colon else "parameter not set"
            err = FatalError(f"{name}: {msg}", 127)
            err.sub_status = 1
            raise err
        if val is None:
            if op == "@" and p.arg is not None and p.arg.simple == "a" and name in self.vars:
                return self._attr_letters(name)
            if self.opt_nounset:
                raise unbound_error(name)
            return None
        if op == ":":
            return await self._substring(p, val, name, index)
        if op == "@":
            return self._transform(p, val, name)
        if isinstance(val, list):
            return [await self._apply_op(p, v, in_dq) for v in val]
        return await self._apply_op(p, val, in_dq)

    async def _param_arg(self: Shell, w: Word | None, in_dq: bool) -> str | list[str]:
        if w is None:
            return ""
        if in_dq:
            if not any(isinstance(x, (Param, DQ)) for x in w.parts):
                return await self.expand_str(w)
            fb = _Fields()
            await self._expand_dq(w.parts, fb, True)
            fb.end()
            vals = [t for t, _, _ in fb.out]
            if len(vals) == 1:
                return vals[0]
            return vals if vals else ""
        fb = _Fields()
        ifs = self.ifs()
        for k, part in enumerate(w.parts):
            if type(part) is Lit and not (k == 0 and part.text.startswith("~")):
                fb.split(part.text, ifs)  # unquoted text in the word is split too
            else:
                await self._expand_parts([part], fb, True)
        fb.end()
        return _Split(fb.out)

    async def _apply_op(self: Shell, p: Param, v: str, in_dq: bool) -> str:
        op = p.op
        if op in ("#", "##", "%", "%%"):
            pt = await self.expand_pattern(p.arg) if p.arg is not None else ""
            return _strip(v, pt, op, self.shopt["extglob"])
        if op in ("/", "//", "/#", "/%"):
            pt = await self.expand_pattern(p.arg) if p.arg is not None else ""
            rep = await self.expand_pattern(p.arg2) if p.arg2 is not None else ""
            return _replace(v, pt, rep, op, self.shopt["patsub_replacement"], self.shopt["extglob"])
        if op in ("^", "^^", ",", ",,", "~", "~~"):
            pt = await self.expand_pattern(p.arg) if p.arg is not None and p.arg.parts else ""
            upper = op[0] == "^"
            allc = len(op) == 2
            out = []
            for i, c in enumerate(v):
                if (allc or i == 0) and (not pt or pat.match(pt, c)):
                    if op[0] == "~":
                        out.append(c.lower() if c.isupper() else c.upper())
                    else:
                        out.append(c.upper() if upper else c.lower())
                else:
                    out.append(c)
            return "".join(out)
        raise FatalError(f"{p.text}: bad substitution", 1)

    async def _substring(
        self: Shell, p: Param, val: str | list[str], name: str, index: str | None
    ) -> str | list[str]:
        off_text = p.arg.simple if p.arg is not None else "0"
        off = await self.arith_text(off_text or "0")
        length: int | None = None
        if p.arg2 is not None:
            length = await self.arith_text(p.arg2.simple or "0")
        if isinstance(val, list):
            items = val
            if name in ("@", "*") and index is None:
                items = [self.argv0] + val
            n = len(items)
            if off < 0:
                off = n + off
                if off < 0:
                    return []
            if length is not None and length < 0:
                raise FatalError(f"{p.arg2.simple if p.arg2 else ''}: substring expression < 0")
            end = n if length is None else off + length
            return items[off:end]
        n = len(val)
        if off < 0:
            off = n + off
            if off < 0:
                return ""
        if length is None:
            return val[off:]
        if length < 0:
            end = n + length
            if end < off:
                raise FatalError(f"{p.arg2.simple if p.arg2 else ''}: substring expression < 0")
            return val[off:end]
        return val[off : off + length]

    def _transform(self: Shell, p: Param, val: str | list[str], name: str) -> str | list[str]:
        op = p.arg.simple if p.arg is not None else ""
        if isinstance(val, list):
            if op == "a":
                return self._attr_letters(name)
            if op == "K":
                var = self.vars.get(name)
                if var is not None and isinstance(var.value, dict):
                    text = " ".join(
                        f"{k} {_dquote(x)}"
                        for k, x in ((k, var.value[k]) for k in self._sorted_keys(var.value))
                    )
                    # bash 5.2 ends an associative array's pairs with a space, not an indexed one's
                    return text + " " if var.attrs & ATTR_ASSOC and text else text
            return [self._transform1(op or "", v, name) for v in val]
        return self._transform1(op or "", val, name)

    def _transform1(self: Shell, op: str, v: str, name: str) -> str:
        if op == "Q":
            if any(ord(c) < 32 or ord(c) == 127 for c in v):
                return quote_word(v)
            return "'" + v.replace("'", "'\\''") + "'"
        if op == "E":
            from pocketos.shell.parser import ansi_c_decode

            return ansi_c_decode(v)[0]
        if op == "U":
            return v.upper()
        if op == "u":
            return v[:1].upper() + v[1:]
        if op == "L":
            return v.lower()
        if op == "a":
            return self._attr_letters(name)
        if op == "P":
            return v
        if op == "A":
            var = self.vars.get(name)
            q = "'" + v.replace("'", "'\\''") + "'"
            flags = self._attr_letters(name) if var is not None else ""
            if flags:
                return f"declare -{flags} {name}={q}"
            return f"{name}={q}"
        if op == "K":
            return quote_word(v)
        raise FatalError(f"${{{name}@{op}}}: bad substitution", 1)

    def _attr_letters(self: Shell, name: str) -> str:
        from pocketos.shell.builtins import attr_letters

        var = self.vars.get(name)
        return attr_letters(var.attrs, var.value) if var is not None else ""

    async def subscript_key(self: Shell, name: str, index: str) -> str:
        var = self.vars.get(name)
        if var is not None and var.attrs & ATTR_ASSOC:
            if any(c in index for c in "$`\\'\""):
                from pocketos.shell.parser import parse_subscript

                return await self.expand_str(parse_subscript(index))
            return index
        v = await self.arith_text(index)
        return str(v)


def _dquote(s: str) -> str:
    return (
        '"'
        + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        + '"'
    )


def _strip(v: str, p: str, op: str, extglob: bool = True) -> str:
    if not p:
        return v
    if not pat.has_glob(p, extglob):
        lit = pat.unescape(p)
        if op[0] == "#":
            return v[len(lit) :] if v.startswith(lit) else v
        return v[: len(v) - len(lit)] if lit and v.endswith(lit) else v
    m = Matcher(nodes_for(p, extglob), v, tick=budget_mod.check_time)
    if op[0] == "#":
        ends = m.ends_from(0)
        if not ends:
            return v
        i = (ends & -ends).bit_length() - 1 if op == "#" else ends.bit_length() - 1
        return v[i:]
    starts = m.suffix_starts()
    if not starts:
        return v
    i = starts.bit_length() - 1 if op == "%" else (starts & -starts).bit_length() - 1
    return v[:i]


def _rep(rep: str, matched: str, amp: bool) -> str:
    if "\\" not in rep and (not amp or "&" not in rep):
        return rep
    out: list[str] = []
    i = 0
    while i < len(rep):
        c = rep[i]
        if c == "\\" and i + 1 < len(rep):
            out.append(rep[i + 1])
            i += 2
            continue
        out.append(matched if (c == "&" and amp) else c)
        i += 1
    return "".join(out)


def _replace(v: str, p: str, rep: str, op: str, amp: bool = True, extglob: bool = True) -> str:
    n = len(v)
    if not p:
        if op == "/#":
            return _rep(rep, "", amp) + v
        if op == "/%":
            return v + _rep(rep, "", amp)
        return v
    if not pat.has_glob(p, extglob):
        lit = pat.unescape(p)
        r = _rep(rep, lit, amp)
        if op == "/#":
            return r + v[len(lit) :] if v.startswith(lit) else v
        if op == "/%":
            return v[: n - len(lit)] + r if v.endswith(lit) else v
        return v.replace(lit, r, 1 if op == "/" else -1)
    m = Matcher(nodes_for(p, extglob), v, tick=budget_mod.check_time)
    if op == "/#":
        ends = m.ends_from(0)
        if not ends:
            return v
        i = ends.bit_length() - 1
        return _rep(rep, v[:i], amp) + v[i:]
    if op == "/%":
        starts = m.suffix_starts()
        if not starts:
            return v
        i = (starts & -starts).bit_length() - 1
        return v[:i] + _rep(rep, v[i:], amp)
    # the leftmost match and the longest from there, then on after it; an empty match
    # before a character replaces nothing and steps over that character, like bash
    starts = m.match_starts()
    out: list[str] = []
    pos = 0
    while True:
        cand = starts >> pos << pos
        if not cand:
            break
        i = (cand & -cand).bit_length() - 1
        j = m.ends_from(i).bit_length() - 1
        if j > i:
            out.append(v[pos:i])
            out.append(_rep(rep, v[i:j], amp))
            pos = j
        elif i < n:
            out.append(v[pos:i])
            out.append(_rep(rep, "", amp))
            out.append(v[i])
            pos = i + 1
        else:
            break
        if op == "/":
            break
    out.append(v[pos:])
    return "".join(out)
