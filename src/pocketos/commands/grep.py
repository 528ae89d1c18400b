"""grep, egrep and fgrep: search files for lines matching patterns.

This module reads grep's options; the settings, the matcher, file selection and the search it
shares with rg are in :mod:`pocketos.commands._grep`.
"""

from __future__ import annotations

import re

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._grep.config import ENC, ERRS, Config, count_arg
from pocketos.commands._grep.matcher import Matcher, build_regex
from pocketos.commands._grep.search import run_search
from pocketos.commands._regex import RegexError
from pocketos.kernel.process import Context

__all__ = ["grep"]

GREP_HELP = """\
Usage: grep [OPTION]... PATTERNS [FILE]...
Search for PATTERNS in each FILE.
Example: grep -i 'hello world' menu.h main.c
PATTERNS can contain multiple patterns separated by newlines.

Pattern selection and interpretation:
  -E, --extended-regexp     PATTERNS are extended regular expressions
  -F, --fixed-strings       PATTERNS are strings
  -G, --basic-regexp        PATTERNS are basic regular expressions
  -P, --perl-regexp         PATTERNS are Python regular expressions
  -e, --regexp=PATTERNS     use PATTERNS for matching
  -f, --file=FILE           take PATTERNS from FILE
  -i, --ignore-case         ignore case distinctions in patterns and data
  -w, --word-regexp         match only whole words
  -x, --line-regexp         match only whole lines
  -z, --null-data           a data line ends in 0 byte, not newline

Miscellaneous:
  -s, --no-messages         suppress error messages
  -v, --invert-match        select non-matching lines

Output control:
  -m, --max-count=NUM       stop after NUM selected lines
  -b, --byte-offset         print the byte offset with output lines
  -n, --line-number         print line number with output lines
  -H, --with-filename       print file name with output lines
  -h, --no-filename         suppress the file name prefix on output
      --label=LABEL         use LABEL as the standard input file name prefix
  -o, --only-matching       show only nonempty parts of lines that match
  -q, --quiet, --silent     suppress all normal output
  -a, --text                equivalent to --binary-files=text
  -I                        equivalent to --binary-files=without-match
  -r, --recursive           search directories recursively
  -R, --dereference-recursive  likewise, but follow all symlinks
      --include=GLOB        search only files that match GLOB
      --exclude=GLOB        skip files that match GLOB
      --exclude-dir=GLOB    skip directories that match GLOB
  -L, --files-without-match  print only names of FILEs with no selected lines
  -l, --files-with-matches  print only names of FILEs with selected lines
  -c, --count               print only a count of selected lines per FILE
  -T, --initial-tab         make tabs line up (if needed)
  -Z, --null                print 0 byte after FILE name

Context control:
  -B, --before-context=NUM  print NUM lines of leading context
  -A, --after-context=NUM   print NUM lines of trailing context
  -C, --context=NUM         print NUM lines of output context
  -NUM                      same as --context=NUM
      --group-separator=SEP  print SEP on line between matches with context
      --no-group-separator  do not print separator for matches with context
  -d, --directories=ACTION  read (report), skip or recurse into directories
      --color[=WHEN]        accepted; output is never coloured

Exit status is 0 if any line is selected, 1 otherwise;
if any error occurs and -q is not given, the exit status is 2.
"""


_VALUE_SHORTS = set("efmABCd")
_VALUE_LONGS = (
    "--regexp",
    "--file",
    "--max-count",
    "--after-context",
    "--before-context",
    "--context",
    "--label",
    "--include",
    "--exclude",
    "--exclude-dir",
    "--binary-files",
    "--directories",
    "--devices",
    "--group-separator",
)


def _preprocess_numeric(args: list[str]) -> list[str]:
    """``-5`` -> ``--context=5`` (before ``--``, and not as the value of an option)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            out.extend(args[i:])
            break
        prev = args[i - 1] if i else ""
        takes_value = (len(prev) == 2 and prev[0] == "-" and prev[1] in _VALUE_SHORTS) or (
            prev.startswith("--")
            and "=" not in prev
            and any(o.startswith(prev) for o in _VALUE_LONGS)
            and len(prev) > 2
        )
        if not takes_value and len(a) > 1 and a[0] == "-" and a[1:].isdigit():
            out.append(f"--context={a[1:]}")
        else:
            out.append(a)
    return out


GREP_OPTS = [
    Opt("E", "extended-regexp", dest="mode_E"),
    Opt("F", "fixed-strings", dest="mode_F"),
    Opt("G", "basic-regexp", dest="mode_G"),
    Opt("P", "perl-regexp", dest="mode_P"),
    Opt("e", "regexp", "required", dest="regexp", multiple=True),
    Opt("f", "file", "required", dest="file", multiple=True),
    Opt("i", "ignore-case"),
    Opt("y", "", dest="ignore_case"),
    Opt("", "no-ignore-case"),
    Opt("v", "invert-match"),
    Opt("w", "word-regexp"),
    Opt("x", "line-regexp"),
    Opt("c", "count"),
    Opt("", "color", "optional"),
    Opt("", "colour", "optional", dest="color"),
    Opt("L", "files-without-match"),
    Opt("l", "files-with-matches"),
    Opt("m", "max-count", "required"),
    Opt("o", "only-matching"),
    Opt("q", "quiet"),
    Opt("", "silent", dest="quiet"),
    Opt("s", "no-messages"),
    Opt("b", "byte-offset"),
    Opt("H", "with-filename"),
    Opt("h", "no-filename"),
    Opt("", "label", "required"),
    Opt("n", "line-number"),
    Opt("T", "initial-tab"),
    Opt("Z", "null"),
    Opt("z", "null-data"),
    Opt("a", "text"),
    Opt("I", "", dest="binary_nomatch"),
    Opt("", "binary-files", "required"),
    Opt("r", "recursive"),
    Opt("R", "dereference-recursive"),
    Opt("", "include", "required", multiple=True),
    Opt("", "exclude", "required", multiple=True),
    Opt("", "exclude-dir", "required", multiple=True),
    Opt("A", "after-context", "required"),
    Opt("B", "before-context", "required"),
    Opt("C", "context", "required"),
    Opt("U", "binary"),
    Opt("", "line-buffered"),
    Opt("V", "version"),
    Opt("", "help"),
    Opt("u", "unix-byte-offsets"),
    Opt("", "no-line-number"),
    Opt("", "group-separator", "required"),
    Opt("", "no-group-separator"),
    Opt("d", "directories", "required"),
    Opt("D", "devices", "required"),
]


async def _read_pattern_file(ctx: Context, path: str) -> list[str]:
    if path == "-":
        data = await ctx.stdin.read()
    else:
        data = ctx.fs.read_bytes(path)
    text = data.decode(ENC, ERRS)
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


@command("grep", "egrep", "fgrep")
async def grep(ctx: Context) -> int:
    name = ctx.name
    try:
        p = parse("grep", _preprocess_numeric(ctx.argv[1:]), GREP_OPTS, status=2)
    except UsageError as e:
        usage = "Usage: grep [OPTION]... PATTERNS [FILE]...\n"
        msg = e.message.split("\n")[0]
        if "Try" in e.message:
            e.message = f"{msg}\n{usage}Try 'grep --help' for more information."
        return await report(ctx, e)
    if p.flag("help"):
        await ctx.out(GREP_HELP)
        return 0
    if p.flag("version"):
        await ctx.out("grep (pocketos) 3.8\n")
        return 0
    mode = "G"
    if name == "egrep":
        mode = "E"
    elif name == "fgrep":
        mode = "F"
    for key, _v in p.order:
        if key.startswith("mode_"):
            mode = key[-1]
    cfg = Config(name="grep")
    try:
        cfg.invert = p.flag("invert_match")
        cfg.count = p.flag("count")
        cfg.files_with = p.flag("files_with_matches")
        cfg.files_without = p.flag("files_without_match")
        for key, _v in p.order:
            if key == "files_with_matches":
                cfg.files_without = False
            elif key == "files_without_match":
                cfg.files_with = False
        cfg.quiet = p.flag("quiet")
        cfg.only = p.flag("only_matching")
        cfg.line_number = p.flag("line_number") and not p.flag("no_line_number")
        cfg.byte_offset = p.flag("byte_offset")
        cfg.null_name = p.flag("null")
        cfg.initial_tab = p.flag("initial_tab")
        cfg.no_messages = p.flag("no_messages")
        cfg.label = p.str("label") or "(standard input)"
        if p.flag("null_data"):
            cfg.eol = "\0"
        if p.get("max_count") is not None:
            mc = p.str("max_count") or ""
            if mc.startswith("-") and mc[1:].isdigit():
                cfg.max_count = None  # GNU: a negative count means no limit
            else:
                cfg.max_count = count_arg("grep", mc, "max count")
        ctxn = p.str("context")
        if ctxn is not None:
            cfg.before = cfg.after = count_arg("grep", ctxn, "context length")
        if p.get("after_context") is not None:
            cfg.after = count_arg("grep", p.str("after_context") or "", "context length")
        if p.get("before_context") is not None:
            cfg.before = count_arg("grep", p.str("before_context") or "", "context length")
        bf = p.str("binary_files")
        if bf is not None:
            if bf not in ("binary", "text", "without-match"):
                raise UsageError(
                    "grep: invalid argument '" + bf + "' for '--binary-files'\n"
                    "Valid arguments are:\n  - 'binary'\n  - 'text'\n"
                    "  - 'without-match'\n"
                    "Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                    "Try 'grep --help' for more information.",
                    2,
                )
            cfg.binary = bf
        if p.flag("text"):
            cfg.binary = "text"
        if p.flag("binary_nomatch"):
            cfg.binary = "without-match"
        cfg.context_opt = any(
            p.get(k) is not None for k in ("context", "after_context", "before_context")
        )
        if p.get("group_separator") is not None:
            cfg.group_sep = p.str("group_separator")
        if p.flag("no_group_separator"):
            cfg.group_sep = None
        dirs = p.str("directories")
        if dirs is not None and dirs not in ("read", "skip", "recurse"):
            raise UsageError(
                f"grep: invalid argument '{dirs}' for '--directories'\n"
                "Valid arguments are:\n  - 'read'\n  - 'recurse'\n  - 'skip'\n"
                "Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                "Try 'grep --help' for more information.",
                2,
            )
        cfg.skip_dirs = dirs == "skip"
        cfg.recursive = p.flag("recursive") or p.flag("dereference_recursive") or dirs == "recurse"
        cfg.deref = p.flag("dereference_recursive")
        cfg.includes = p.list("include")
        cfg.excludes = p.list("exclude")
        cfg.exclude_dirs = p.list("exclude_dir")
    except UsageError as e:
        return await report(ctx, e)
    icase = p.flag("ignore_case")
    for key, _v in p.order:
        if key == "ignore_case":
            icase = True
        elif key == "no_ignore_case":
            icase = False
    operands = list(p.operands)
    patterns: list[str] = []
    have_patterns = False
    for key, val in p.order:
        if key == "regexp":
            patterns.extend(str(val).split("\n"))
            have_patterns = True
        elif key == "file":
            have_patterns = True
            try:
                patterns.extend(await _read_pattern_file(ctx, str(val)))
            except OSError as exc:
                await ctx.os_error(exc, str(val))
                return 2
    if not have_patterns:
        if not operands:
            await ctx.stderr.write(
                b"Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                b"Try 'grep --help' for more information.\n"
            )
            return 2
        patterns = operands.pop(0).split("\n")
    warnings: list[str] = []
    try:
        rx = build_regex(
            patterns,
            mode,
            icase,
            p.flag("word_regexp"),
            p.flag("line_regexp"),
            multiline=cfg.eol == "\n",
            warnings=warnings,
        )
        for w in warnings:
            await ctx.err(f"warning: {w}")
    except RegexError as exc:
        await ctx.err(str(exc))
        return 2
    except re.error as exc:
        await ctx.err(str(exc))
        return 2
    if cfg.max_count == 0:
        return 1
    implicit_dot = False
    if not operands:
        if cfg.recursive:
            operands = ["."]
            implicit_dot = True
        else:
            operands = ["-"]
    if p.flag("with_filename") or p.flag("no_filename"):
        cfg.with_filename = False
        for key, _v in p.order:
            if key == "with_filename":
                cfg.with_filename = True
            elif key == "no_filename":
                cfg.with_filename = False
    else:
        cfg.with_filename = len(operands) > 1 or (
            cfg.recursive and (implicit_dot or ctx.fs.isdir(operands[0]))
        )
    return await run_search(ctx, cfg, Matcher(rx), operands, implicit_dot)
