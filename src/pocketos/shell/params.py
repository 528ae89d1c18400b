# mypy: disable-error-code="misc"
"""Parameter expansion: ``$name`` and every ``${...}`` form (defaults and errors, lengths,
substrings, prefix/suffix removal, pattern substitution, case changes, ``@`` transforms,
indirection and array subscripts), as the base of the word expander.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pocketos.kernel import budget as budget_mod
from pocketos.shell import pattern as pat
from pocketos.shell.ast import DQ, Lit, Param, Word
from pocketos.shell.fields import _Fields, _Split
from pocketos.shell.globmatch import Matcher, nodes_for
from pocketos.shell.state import ATTR_ASSOC, FatalError, quote_word, unbound_error

if TYPE_CHECKING:
    from pocketos.shell.interp import Shell

__all__ = ["ParamExpander"]


class ParamExpander:
    """Mixin for :class:`Shell` (through :class:`~pocketos.shell.expand.Expander`): the value
    of one parameter expansion."""

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
            if val is None and self.opts.nounset and name not in ("@", "*"):
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
                if self.opts.nounset and name not in ("@", "*"):
                    raise unbound_error(name, 1 if index in ("@", "*") else 127)
                return "0"
            if isinstance(val, list):
                return str(len(val))
            return str(len(val))
        if not op:
            if (
                val is None
                and self.opts.nounset
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
            if self.opts.nounset:
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
            return _strip(v, pt, op, self.shopt.extglob)
        if op in ("/", "//", "/#", "/%"):
            pt = await self.expand_pattern(p.arg) if p.arg is not None else ""
            rep = await self.expand_pattern(p.arg2) if p.arg2 is not None else ""
            return _replace(v, pt, rep, op, self.shopt.patsub_replacement, self.shopt.extglob)
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
                from pocketos.shell.parser import ShellSyntaxError, parse_subscript

                try:
                    word = parse_subscript(index)
                except ShellSyntaxError:  # an unclosed $( or ${ in the key
                    raise FatalError(f"{name}[{index}]: bad array subscript", 1) from None
                return await self.expand_str(word)
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
