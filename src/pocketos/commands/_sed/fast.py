"""Fast paths of sed: a script made of one ``s``, ``y`` or filtering command runs over whole
chunks of lines and only lines that match are touched from Python.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from operator import is_not

from pocketos.commands._grep.matcher import Matcher, iter_selected
from pocketos.commands._regex import RegexError, translate
from pocketos.commands._sed.runner import Input, Runner, _may_match_empty, _template, make_replacer
from pocketos.commands._sed.script import Cmd, SedError
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import SafePattern


def _fast_s(cmds: list[Cmd], sep: str, ere: bool) -> SafePattern | None:
    """The chunk filter for a script of one plain ``s`` command, or None."""
    if len(cmds) != 1 or sep != "\n":
        return None
    c = cmds[0]
    if c.name != "s" or c.a1 is not None or c.negate or c.eflag or c.wfile is not None:
        return None
    if c.regex is None or c.regex.rx is None or c.regex.mline:
        return None
    try:
        ml = safe_regex.compile(
            translate(c.regex.source, ere=ere, multiline=True, escapes=True),
            re.MULTILINE | (re.IGNORECASE if c.regex.icase else 0),
        )
    except (RegexError, re.error):
        return None
    if "\\A" in ml.pattern or "\\Z" in ml.pattern:
        return None
    return ml


async def run_fast_s(runner: Runner, inp: Input, ml: SafePattern) -> None:
    """``s/re/rep/[gpN I]`` alone: search whole chunks, touch matching lines only."""
    c = runner.cmds[0]
    search = ml.search
    quiet = runner.quiet
    cross = not runner.separate
    # when most lines match, substitute line by line in one C-level pass instead
    line_sub = None if quiet or c.pflag else _line_sub(c)
    dense = False
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        inp.cur_name = inp.filename
        runner.lineno += len(lines)
        if dense and line_sub is not None:
            assert c.regex is not None
            runner.last_rx = c.regex.rx
            new_lines = list(map(line_sub, lines))
            runner.emit_raw("\n".join(new_lines))
            if final_missing:
                runner.missing_nl = True
            else:
                runner.emit_raw("\n")
            # unchanged lines come back as the same object: count the changed ones
            if sum(map(is_not, new_lines, lines)) * 8 < len(lines):
                dense = False
            await runner.flush()
            runner.ctx.check_killed()
            continue
        text = "\n".join(lines)
        n = len(text)
        nmatched = 0
        out: list[str] = []
        printed: list[str] = []
        last_final = False
        pos = 0
        while pos <= n:
            m = search(text, pos)
            if m is None:
                break
            s = m.start()
            ls = text.rfind("\n", 0, s) + 1
            if ls < pos:
                ls = pos
            le = text.find("\n", s)
            if le < 0:
                le = n
            line = text[ls:le]
            nmatched += 1
            new, did = runner.substitute(c, line)
            if quiet:
                if did and c.pflag:
                    printed.append(new)
                    last_final = le >= n
            else:
                out.append(text[pos:ls])
                out.append(new)
                if did and c.pflag:
                    out.append("\n" + new)
                out.append(text[le : le + 1])
            pos = le + 1
        if quiet:
            if printed:
                runner.emit_raw("\n".join(printed))
                if last_final and final_missing:
                    runner.missing_nl = True
                else:
                    runner.emit_raw("\n")
        else:
            out.append(text[pos:])
            runner.emit_raw("".join(out))
            if final_missing:
                runner.missing_nl = True
            else:
                runner.emit_raw("\n")
        if nmatched * 4 > len(lines):
            dense = True
        await runner.flush()
        runner.ctx.check_killed()


def _line_sub(c: Cmd) -> Callable[[str], str] | None:
    """``line -> substituted line`` for a plain ``s`` (first match, or ``g`` with an
    expression that never matches empty, where Python's ``sub`` agrees with GNU); None for
    the other forms."""
    if c.regex is None or c.regex.rx is None or c.nth != 1:
        return None
    rx = c.regex.rx
    try:
        rep = make_replacer(c.repl, rx.groups)
    except SedError:
        return None
    repl: str | Callable[[re.Match[str]], str] = _template(c.repl) or rep
    if c.gflag:
        if _may_match_empty(rx):
            return None
        return functools.partial(rx.sub, repl)
    return functools.partial(rx.sub, repl, count=1)


def _fast_y(cmds: list[Cmd], sep: str, quiet: bool) -> list[dict[int, str]] | None:
    """The translation tables of a script made only of ``y`` commands without addresses
    (none mapping the line separator), or None."""
    if quiet or sep != "\n" or not cmds:
        return None
    maps: list[dict[int, str]] = []
    for c in cmds:
        if c.name != "y" or c.a1 is not None or c.negate or c.ymap is None:
            return None
        if 10 in c.ymap:
            return None
        maps.append(c.ymap)
    return maps


async def run_fast_y(runner: Runner, inp: Input, maps: list[dict[int, str]]) -> None:
    """``y/abc/xyz/`` alone: translate whole chunks at once."""
    cross = not runner.separate
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        inp.cur_name = inp.filename
        runner.lineno += len(lines)
        text = "\n".join(lines)
        for table in maps:
            text = text.translate(table)
        runner.emit_raw(text)
        if final_missing:
            runner.missing_nl = True
        else:
            runner.emit_raw("\n")
        await runner.flush()
        runner.ctx.check_killed()


def _fast_filter(cmds: list[Cmd], sep: str, ere: bool) -> SafePattern | None:
    """The chunk regex for a script of one ``/re/p`` or ``/re/d`` (``!`` allowed), or None."""
    if len(cmds) != 1 or sep != "\n":
        return None
    c = cmds[0]
    if c.name not in ("p", "d") or c.a1 is None or c.a2 is not None or c.a1.kind != "re":
        return None
    rx = c.a1.regex
    if rx is None or rx.rx is None or rx.mline:
        return None
    try:
        ml = safe_regex.compile(
            translate(rx.source, ere=ere, multiline=True, escapes=True),
            re.MULTILINE | (re.IGNORECASE if rx.icase else 0),
        )
    except (RegexError, re.error):
        return None
    if "\\A" in ml.pattern or "\\Z" in ml.pattern:
        return None
    return ml


async def run_fast_filter(runner: Runner, inp: Input, ml: SafePattern) -> None:
    """``/re/p`` or ``/re/d`` alone: find the selected lines with one search per chunk."""
    c = runner.cmds[0]
    assert c.a1 is not None and c.a1.regex is not None and c.a1.regex.rx is not None
    matcher = Matcher(ml)
    # a chunk match is confirmed on its own line with the exact (non-multiline) expression
    line_rx = c.a1.regex.rx
    matcher.line_matches = lambda line: line_rx.search(line) is not None  # type: ignore[method-assign]
    quiet = runner.quiet
    cross = not runner.separate
    while True:
        if not inp.lines and not await inp._fill(cross):
            return
        lines = list(inp.lines)
        inp.lines.clear()
        final_missing = inp.src_done and inp.last_missing
        text = "\n".join(lines) + "\n"
        n = len(text)
        out: list[str] = []
        last_end = -1
        if c.name == "p":
            if quiet:
                for ls, le in iter_selected(text, matcher, "\n", c.negate):
                    out.append(text[ls : le + 1])
                    last_end = le + 1
            else:
                pos = 0
                for ls, le in iter_selected(text, matcher, "\n", c.negate):
                    out.append(text[pos : le + 1])
                    out.append(text[ls : le + 1])
                    pos = le + 1
                out.append(text[pos:])
                last_end = n
        elif not quiet:
            for ls, le in iter_selected(text, matcher, "\n", not c.negate):
                out.append(text[ls : le + 1])
                last_end = le + 1
        if out:
            chunk = "".join(out)
            if final_missing and last_end == n:
                runner.emit_raw(chunk[:-1])
                runner.missing_nl = True
            else:
                runner.emit_raw(chunk)
        await runner.flush()
        runner.ctx.check_killed()
