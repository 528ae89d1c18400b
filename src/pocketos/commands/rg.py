"""rg: ripgrep's options over the grep search (recursive by default, hidden files and
binary files skipped, ``--type``/``--glob`` selection)."""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._grep.config import ENC, ERRS, Config, count_arg
from pocketos.commands._grep.files import RG_TYPES, display_path, walk_files
from pocketos.commands._grep.matcher import Matcher, build_regex
from pocketos.commands._grep.search import run_search
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSource, NullInput

__all__ = ["rg"]

RG_HELP = """\
Usage: rg [OPTIONS] PATTERN [PATH ...]
       rg [OPTIONS] --files [PATH ...]
Recursively search the current directory for lines matching a regex (Python syntax).
Hidden files and directories are skipped unless --hidden is given.

  -e, --regexp PATTERN      a pattern (may repeat)
  -F, --fixed-strings       treat patterns as literals
  -i, --ignore-case         case insensitive search
  -s, --case-sensitive      case sensitive search (default)
  -S, --smart-case          insensitive unless the pattern has an uppercase letter
  -v, --invert-match        select non-matching lines
  -w, --word-regexp         match whole words only
  -x, --line-regexp         match whole lines only
  -n, --line-number         show line numbers
  -N, --no-line-number      hide line numbers (the default)
  -H, --with-filename       always show the file path
  -I, --no-filename         never show the file path
  -l, --files-with-matches  only print paths with matches
      --files-without-match only print paths without matches
  -c, --count               print a count of matching lines per file
  -o, --only-matching       print only the matched parts
  -m, --max-count NUM       stop after NUM matching lines per file
  -q, --quiet               print nothing, exit 0 on the first match
  -A/-B/-C NUM              context lines after/before/around
  -g, --glob GLOB           include (or with a leading ! exclude) matching paths
  -t, --type TYPE           only search files of TYPE (py, js, ts, rust, go, c, cpp, ...)
  -T, --type-not TYPE       skip files of TYPE
  -., --hidden              search hidden files and directories
  -L, --follow              follow symbolic links
  -a, --text                search binary files as text
  -u, --unrestricted        -u: no ignore files (none are read); -uu: also --hidden
      --files               list the files that would be searched
      --no-heading, --heading, --color WHEN, --sort path  accepted
"""


RG_OPTS = [
    Opt("e", "regexp", "required", multiple=True),
    Opt("F", "fixed-strings"),
    Opt("i", "ignore-case"),
    Opt("s", "case-sensitive"),
    Opt("S", "smart-case"),
    Opt("v", "invert-match"),
    Opt("w", "word-regexp"),
    Opt("x", "line-regexp"),
    Opt("n", "line-number"),
    Opt("N", "no-line-number"),
    Opt("H", "with-filename"),
    Opt("I", "no-filename"),
    Opt("l", "files-with-matches"),
    Opt("", "files-without-match"),
    Opt("c", "count"),
    Opt("o", "only-matching"),
    Opt("m", "max-count", "required"),
    Opt("q", "quiet"),
    Opt("A", "after-context", "required"),
    Opt("B", "before-context", "required"),
    Opt("C", "context", "required"),
    Opt("g", "glob", "required", multiple=True),
    Opt("t", "type", "required", multiple=True),
    Opt("T", "type-not", "required", multiple=True),
    Opt(".", "hidden"),
    Opt("L", "follow"),
    Opt("a", "text"),
    Opt("u", "unrestricted"),
    Opt("", "files"),
    Opt("", "no-heading"),
    Opt("", "heading"),
    Opt("", "color", "required"),
    Opt("", "colour", "required", dest="color"),
    Opt("", "sort", "required"),
    Opt("", "no-ignore"),
    Opt("", "help"),
    Opt("V", "version"),
    Opt("0", "null"),
    Opt("z", "search-zip"),
    Opt("", "no-messages"),
    Opt("b", "byte-offset"),
    Opt("", "column"),
    Opt("", "vimgrep"),
    Opt("P", "pcre2"),
]


def _stdin_has_data(ctx: Context) -> bool:
    """rg searches stdin when it is not a terminal-like empty input."""
    st = ctx.stdin
    if isinstance(st, NullInput):
        return False
    if isinstance(st, BytesSource):
        return bool(st._buf) and not st.closed
    return True


@command("rg")
async def rg(ctx: Context) -> int:
    try:
        p = parse("rg", ctx.argv[1:], RG_OPTS, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(RG_HELP)
        return 0
    if p.flag("version"):
        await ctx.out("ripgrep 14.1.0 (pocketos)\n")
        return 0
    cfg = Config(name="rg", rg=True, recursive=True, label="<stdin>")
    try:
        cfg.invert = p.flag("invert_match")
        cfg.count = p.flag("count")
        cfg.files_with = p.flag("files_with_matches")
        cfg.files_without = p.flag("files_without_match")
        cfg.quiet = p.flag("quiet")
        cfg.only = p.flag("only_matching")
        cfg.byte_offset = p.flag("byte_offset")
        cfg.null_name = p.flag("null")
        cfg.no_messages = p.flag("no_messages")
        cfg.hidden = p.flag("hidden") or p.count("unrestricted") >= 2
        cfg.deref = p.flag("follow")
        if p.flag("text") or p.count("unrestricted") >= 3:
            cfg.binary = "text"
        else:
            cfg.binary = "without-match"
        cfg.globs = p.list("glob")
        cfg.types = p.list("type")
        cfg.types_not = p.list("type_not")
        for t in cfg.types + cfg.types_not:
            if t not in RG_TYPES:
                raise UsageError(f"rg: unrecognized file type: {t}", 2)
        if p.get("max_count") is not None:
            cfg.max_count = count_arg("rg", p.str("max_count") or "", "max count")
        ctxn = p.str("context")
        if ctxn is not None:
            cfg.before = cfg.after = count_arg("rg", ctxn, "context")
        if p.get("after_context") is not None:
            cfg.after = count_arg("rg", p.str("after_context") or "", "context")
        if p.get("before_context") is not None:
            cfg.before = count_arg("rg", p.str("before_context") or "", "context")
        cfg.context_opt = bool(cfg.before or cfg.after)
    except UsageError as e:
        return await report(ctx, e)
    operands = list(p.operands)
    patterns: list[str] = []
    if p.get("regexp") is not None:
        for pat in p.list("regexp"):
            patterns.extend(str(pat).split("\n"))
    elif not p.flag("files"):
        if not operands:
            await ctx.stderr.write(b"rg: no pattern given\n")
            return 2
        patterns = operands.pop(0).split("\n")
    implicit_dot = not operands
    if implicit_dot:
        operands = ["-"] if _stdin_has_data(ctx) and not p.flag("files") else ["."]
        implicit_dot = operands == ["."]
    if p.flag("files"):
        found = False
        for op in operands:
            if ctx.fs.isdir(op):
                for path, exc in walk_files(ctx, cfg, op):
                    if exc is None:
                        found = True
                        await ctx.out(display_path(path, implicit_dot) + "\n")
            elif ctx.fs.exists(op):
                found = True
                await ctx.out(op + "\n")
            else:
                await ctx.err(f"{op}: No such file or directory (os error 2)")
                cfg.error = True
        if cfg.error:
            return 2
        return 0 if found else 1
    icase = p.flag("ignore_case")
    for key, _v in p.order:
        if key == "ignore_case":
            icase = True
        elif key == "case_sensitive":
            icase = False
        elif key == "smart_case":
            icase = not any(c.isupper() for pat in patterns for c in pat)
    mode = "F" if p.flag("fixed_strings") else "P"
    try:
        rx = build_regex(patterns, mode, icase, p.flag("word_regexp"), p.flag("line_regexp"))
    except re.error as exc:
        await ctx.stderr.write(f"rg: regex parse error:\n    {exc}\n".encode(ENC, ERRS))
        return 2
    single_file = len(operands) == 1 and (operands[0] == "-" or not ctx.fs.isdir(operands[0]))
    cfg.with_filename = not single_file
    if p.flag("with_filename"):
        cfg.with_filename = True
    if p.flag("no_filename"):
        cfg.with_filename = False
    cfg.line_number = p.flag("line_number") and not p.flag("no_line_number")
    if p.flag("vimgrep"):
        cfg.line_number = True
        cfg.with_filename = True
    return await run_search(ctx, cfg, Matcher(rx), operands, implicit_dot)
