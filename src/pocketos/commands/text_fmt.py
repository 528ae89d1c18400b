"""column and fmt: laying text out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._common import leading_number_option
from pocketos.commands.text_common import decode, encode, read_all, usage

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

HELP = Opt("", "help")


def _width(s: str) -> int:
    return sum(0 if "\udc80" <= ch <= "\udcff" else 1 for ch in s)


# ------------------------------------------------------------------------------------- column


@command("column")
async def column(ctx: Context) -> int:
    spec = [
        Opt("t", "table"),
        Opt("s", "separator", "required"),
        Opt("o", "output-separator", "required"),
        Opt("c", "output-width", "required"),
        Opt("x", "fillrows"),
        Opt("N", "table-columns", "required"),
        Opt("R", "table-right", "required"),
        Opt("L", "keep-empty-lines"),
        Opt("n", "table-name", "required"),
        Opt("e", "table-header-repeat"),
        Opt("H", "table-hide", "required"),
        Opt("d", "table-noheadings"),
        HELP,
    ]
    try:
        p = parse("column", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage:\n column [options] [<file>...]\n\n"
            "Columnate lists.\n"
            "  -t -s SEP -o SEP -c WIDTH -x -N NAMES -R COLS -H COLS -d -L",
        )
    width = 80
    cw = p.str("output_width") or ctx.env.get("COLUMNS")
    if cw is not None:
        if not cw.isdigit() or len(cw) > 18:
            await ctx.stderr.write(encode(f"column: invalid columns argument: '{cw}'\n"))
            return 1
        width = int(cw)
    lines: list[str] = []
    status = 0
    for name in p.operands or ["-"]:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.stderr.write(encode(f"column: cannot open {name}: {exc.strerror}\n"))
            status = 1
            continue
        text = decode(data)
        parts = text.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        lines.extend(parts)
    keep_empty = p.flag("keep_empty_lines")
    if p.flag("table"):
        sep_chars = p.str("separator")
        osep = p.str("output_separator", "  ") or ""
        rows: list[list[str]] = []
        for ln in lines:
            if not ln.strip(" \t") if sep_chars is None else not ln:
                if keep_empty:
                    rows.append([])
                continue
            if sep_chars is None:
                rows.append(ln.split())
            else:
                rx = "[" + re.escape(sep_chars) + "]"
                rows.append(re.split(rx, ln))
        header = p.str("table_columns")
        if header is not None:
            rows.insert(0, header.split(","))
        hide: set[int] = set()
        names = header.split(",") if header else []
        for h in (p.str("table_hide") or "").split(","):
            if h.isdigit():
                hide.add(int(h) - 1)
            elif h in names:
                hide.add(names.index(h))
        right: set[int] = set()
        for h in (p.str("table_right") or "").split(","):
            if h.isdigit():
                right.add(int(h) - 1)
            elif h in names:
                right.add(names.index(h))
        if p.flag("table_noheadings") and header is not None:
            rows.pop(0)
        ncols = max((len(r) for r in rows), default=0)
        cols = [c for c in range(ncols) if c not in hide]
        widths = {c: max((_width(r[c]) for r in rows if c < len(r)), default=0) for c in cols}
        out: list[str] = []
        for r in rows:
            if not r:
                out.append("\n")
                continue
            cells = []
            for k, c in enumerate(cols):
                cell = r[c] if c < len(r) else ""
                pad = widths[c] - _width(cell)
                if c in right:
                    cell = " " * pad + cell
                elif k < len(cols) - 1:
                    cell = cell + " " * pad
                cells.append(cell)
            out.append(osep.join(cells) + "\n")
        await ctx.stdout.write(encode("".join(out)))
        return status
    items = [ln for ln in lines if ln.strip(" \t") or (keep_empty and ln)]
    items = [ln for ln in items if ln != ""]
    if not items:
        return status
    maxlen = max(_width(x) for x in items)
    maxlen = (maxlen + 8) & ~7
    numcols = max(width // maxlen, 1)
    out_parts: list[str] = []
    if p.flag("fillrows"):
        chcnt = col = 0
        endcol = maxlen
        n = len(items)
        for k, item in enumerate(items):
            out_parts.append(item)
            chcnt += _width(item)
            if k == n - 1:
                break
            col += 1
            if col == numcols:
                chcnt = col = 0
                endcol = maxlen
                out_parts.append("\n")
            else:
                while chcnt < endcol:
                    out_parts.append("\t")
                    chcnt = (chcnt + 8) & ~7
                endcol += maxlen
        out_parts.append("\n")
    else:
        n = len(items)
        numrows = n // numcols + (1 if n % numcols else 0)
        for row in range(numrows):
            endcol = maxlen
            base = row
            chcnt = 0
            for _ in range(numcols):
                item = items[base]
                out_parts.append(item)
                chcnt += _width(item)
                base += numrows
                if base >= n:
                    break
                while chcnt < endcol:
                    out_parts.append("\t")
                    chcnt = (chcnt + 8) & ~7
                endcol += maxlen
            out_parts.append("\n")
    await ctx.stdout.write(encode("".join(out_parts)))
    return status


# ---------------------------------------------------------------------------------------- fmt


@dataclass
class _Word:
    text: str
    length: int
    space: int = 1
    paren: bool = False
    punct: bool = False
    period: bool = False
    final: bool = False
    best_cost: int = 0
    next_break: int = 0
    line_length: int = 0


def _equiv(n: int) -> int:
    return n * n


_LINE_COST = _equiv(70)
_SENTENCE_BONUS = _equiv(50)
_NOBREAK_COST = _equiv(600)
_PAREN_BONUS = _equiv(40)
_PUNCT_BONUS = _equiv(40)
_MAXCOST = 1 << 62


def _short_cost(n: int) -> int:
    return _equiv(n * 10)


def _ragged_cost(n: int) -> int:
    return _short_cost(n) // 2


def _widow_cost(n: int) -> int:
    return _equiv(200 // (n + 2))


def _orphan_cost(n: int) -> int:
    return _equiv(150 // (n + 2))


_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _words_of(lines: list[str], uniform: bool) -> list[_Word]:
    words: list[_Word] = []
    for line in lines:
        for m in re.finditer(r"(\S+)(\s*)", line):
            text, sp = m.group(1), m.group(2)
            w = _Word(text, len(encode(text)))
            w.paren = text[0] in "(['`\""
            w.punct = text[-1] in _PUNCT
            fin = len(text) - 1
            while fin > 0 and text[fin] in ")]'\"":
                fin -= 1
            w.period = text[fin] in ".?!"
            at_eol = m.end() == len(line)
            col = 0
            for ch in sp:
                col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
            w.space = col
            w.final = at_eol and w.period or (w.period and w.space > 1)
            if at_eol or uniform:
                w.space = 2 if w.final else 1
            words.append(w)
    return words


def _fmt_paragraph(
    words: list[_Word], first_indent: int, other_indent: int, max_width: int, goal_width: int
) -> list[list[_Word]]:
    n = len(words)
    sentinel = _Word("", max_width)
    ws = words + [sentinel]
    sentinel.best_cost = 0

    def line_cost(nxt: int, length: int) -> int:
        if nxt == n:
            return 0
        cost = _short_cost(goal_width - length)
        if ws[nxt].next_break != n:
            cost += _ragged_cost(length - ws[nxt].line_length)
        return cost

    def base_cost(this: int) -> int:
        cost = _LINE_COST
        if this > 0:
            prev = ws[this - 1]
            if prev.period:
                cost += -_SENTENCE_BONUS if prev.final else _NOBREAK_COST
            elif prev.punct:
                cost -= _PUNCT_BONUS
            elif this > 1 and ws[this - 2].final:
                cost += _widow_cost(prev.length)
        if ws[this].paren:
            cost -= _PAREN_BONUS
        elif ws[this].final:
            cost += _orphan_cost(ws[this].length)
        return cost

    for start in range(n - 1, -1, -1):
        best = _MAXCOST
        length = (first_indent if start == 0 else other_indent) + ws[start].length
        w = start
        while True:
            w += 1
            wcost = line_cost(w, length) + ws[w].best_cost
            if wcost < best:
                best = wcost
                ws[start].next_break = w
                ws[start].line_length = length
            if w == n:
                break
            length += ws[w - 1].space + ws[w].length
            if length >= max_width:
                break
        ws[start].best_cost = best + base_cost(start)
    out: list[list[_Word]] = []
    k = 0
    while k < n:
        nb = ws[k].next_break
        out.append(words[k:nb])
        k = nb
    return out


def _indent_of(line: str) -> int:
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col = (col // 8 + 1) * 8
        else:
            break
    return col


@command("fmt")
async def fmt(ctx: Context) -> int:
    spec = [
        Opt("c", "crown-margin"),
        Opt("p", "prefix", "required"),
        Opt("s", "split-only"),
        Opt("t", "tagged-paragraph"),
        Opt("u", "uniform-spacing"),
        Opt("w", "width", "required"),
        Opt("g", "goal", "required"),
        HELP,
    ]
    args = leading_number_option(ctx.argv[1:], "w")
    try:
        p = parse("fmt", args, spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: fmt [-WIDTH] [OPTION]... [FILE]...\n"
            "Reformat each paragraph in the FILE(s), writing to standard output.\n"
            "  -c -p PREFIX -s -t -u -w WIDTH -g GOAL",
        )
    ws_ = p.str("width")
    max_width = 75
    if ws_ is not None:
        if not ws_.isdigit() or len(ws_) > 4 or int(ws_) > 2500:
            await ctx.err(f"invalid width: '{ws_}'")
            return 1
        max_width = int(ws_)
    gs = p.str("goal")
    if gs is not None:
        if not gs.isdigit():
            await ctx.err(f"invalid width: '{gs}'")
            return 1
        goal = int(gs)
        if ws_ is None:
            max_width = goal + 10
    else:
        goal = max_width * (2 * (100 - 7) + 1) // 200
    if goal > max_width:
        await ctx.err("GOAL cannot be greater than WIDTH.")
        return 1
    uniform = p.flag("uniform_spacing")
    split_only = p.flag("split_only")
    crown = p.flag("crown_margin")
    tagged = p.flag("tagged_paragraph")
    prefix = p.str("prefix", "") or ""
    status = 0
    for name in p.operands or ["-"]:
        try:
            data = await read_all(ctx, name)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"cannot open '{name}' for reading: {exc.strerror}")
            status = 1
            continue
        text = decode(data)
        lines = text.split("\n")
        trailing_nl = text.endswith("\n")
        if trailing_nl:
            lines.pop()
        out: list[str] = []
        i = 0
        n = len(lines)

        def body(ln: str) -> str | None:
            st = ln.lstrip(" \t") if prefix else ln
            if prefix and not st.startswith(prefix):
                return None
            return st[len(prefix) :] if prefix else ln

        while i < n:
            ctx.check_killed()
            b = body(lines[i])
            if b is None or not b.strip():
                out.append(lines[i] + "\n")
                i += 1
                continue
            first_indent = _indent_of(b)
            para = [b]
            j = i + 1
            other_indent = first_indent
            if not split_only:
                if crown or tagged:
                    if j < n:
                        nb = body(lines[j])
                        if (
                            nb is not None
                            and nb.strip()
                            and (not tagged or _indent_of(nb) != first_indent)
                        ):
                            other_indent = _indent_of(nb)
                            para.append(nb)
                            j += 1
                            while j < n:
                                nb = body(lines[j])
                                if nb is None or not nb.strip() or _indent_of(nb) != other_indent:
                                    break
                                para.append(nb)
                                j += 1
                else:
                    while j < n:
                        nb = body(lines[j])
                        if nb is None or not nb.strip() or _indent_of(nb) != first_indent:
                            break
                        para.append(nb)
                        j += 1
            words = _words_of([x.strip(" \t") for x in para], uniform)
            pre = ""
            if prefix:
                lead = lines[i][: len(lines[i]) - len(lines[i].lstrip(" \t"))]
                pre = lead + prefix
            for k, line_words in enumerate(
                _fmt_paragraph(
                    words,
                    first_indent,
                    other_indent,
                    max_width - len(pre),
                    goal - len(pre) if goal > len(pre) else goal,
                )
            ):
                ind = first_indent if k == 0 else other_indent
                parts = [" " * ind]
                for m, w in enumerate(line_words):
                    parts.append(w.text)
                    if m < len(line_words) - 1:
                        parts.append(" " * w.space)
                out.append(pre + "".join(parts) + "\n")
            i = j
        result = "".join(out)
        if not trailing_nl and result.endswith("\n") and text and not text.endswith("\n"):
            pass
        await ctx.stdout.write(encode(result))
    return status
