"""grep, egrep, fgrep and rg: search files for lines matching patterns.

Text is decoded with ``utf-8``/``surrogateescape`` one chunk of whole lines at a time; the
compiled expression runs over the whole chunk (``re.MULTILINE``) so lines that do not match cost
no Python work. Context output (``-A/-B/-C``) and ``-z`` go line by line.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import compress, filterfalse, islice
from operator import not_

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._regex import RegexError, translate
from pocketos.kernel.process import Context
from pocketos.kernel.streams import BytesSource, NullInput
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import RegexSliceExceeded, SafePattern

__all__ = ["grep", "rg"]

ENC = "utf-8"
ERRS = "surrogateescape"
CHUNK = 256 * 1024

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

RG_TYPES: dict[str, list[str]] = {
    "py": ["*.py", "*.pyi"],
    "python": ["*.py", "*.pyi"],
    "js": ["*.js", "*.jsx", "*.mjs", "*.cjs"],
    "ts": ["*.ts", "*.tsx", "*.mts", "*.cts"],
    "rust": ["*.rs"],
    "rs": ["*.rs"],
    "go": ["*.go"],
    "c": ["*.c", "*.h"],
    "cpp": ["*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.hxx", "*.h"],
    "java": ["*.java"],
    "kotlin": ["*.kt", "*.kts"],
    "rb": ["*.rb"],
    "ruby": ["*.rb"],
    "php": ["*.php"],
    "sh": ["*.sh", "*.bash", "*.zsh"],
    "md": ["*.md", "*.markdown"],
    "markdown": ["*.md", "*.markdown"],
    "json": ["*.json", "*.jsonl"],
    "yaml": ["*.yaml", "*.yml"],
    "toml": ["*.toml"],
    "html": ["*.html", "*.htm"],
    "css": ["*.css", "*.scss", "*.sass", "*.less"],
    "txt": ["*.txt"],
    "sql": ["*.sql"],
    "xml": ["*.xml"],
    "csv": ["*.csv"],
    "swift": ["*.swift"],
    "cs": ["*.cs"],
    "lua": ["*.lua"],
    "make": ["Makefile", "makefile", "GNUmakefile", "*.mk"],
    "docker": ["Dockerfile", "*.dockerfile"],
    "ini": ["*.ini", "*.cfg"],
}


class _Stop(Exception):
    """Stop searching everything (``-q`` found a match)."""


@dataclass
class Config:
    name: str = "grep"
    invert: bool = False
    count: bool = False
    files_with: bool = False
    files_without: bool = False
    quiet: bool = False
    only: bool = False
    line_number: bool = False
    byte_offset: bool = False
    with_filename: bool = False
    max_count: int | None = None
    before: int = 0
    after: int = 0
    context_opt: bool = False  # -A/-B/-C given (even 0): groups get separators
    group_sep: str | None = "--"
    skip_dirs: bool = False
    null_name: bool = False
    initial_tab: bool = False
    eol: str = "\n"
    binary: str = "binary"  # binary | text | without-match
    no_messages: bool = False
    label: str = "(standard input)"
    recursive: bool = False
    deref: bool = False
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    exclude_dirs: list[str] = field(default_factory=list)
    # rg-specific
    rg: bool = False
    hidden: bool = False
    globs: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    types_not: list[str] = field(default_factory=list)
    # state shared across files
    printed_group: bool = False
    error: bool = False


# --- the matcher -------------------------------------------------------------------------


class Matcher:
    """Compiled patterns. ``search(text, pos)`` works on a chunk of lines (MULTILINE);
    ``line(text)`` tells whether one line (without terminator) matches."""

    def __init__(self, rx: SafePattern) -> None:
        self.rx = rx
        self.search = rx.search
        #: ``\``` / ``\'`` anchor to the whole subject: such patterns go line by line
        self.per_line = "\\A" in rx.pattern or "\\Z" in rx.pattern

    def line_matches(self, line: str) -> bool:
        return self.rx.search(line) is not None


def build_regex(
    patterns: list[str],
    mode: str,
    icase: bool,
    word: bool,
    line: bool,
    multiline: bool = True,
    warnings: list[str] | None = None,
) -> SafePattern:
    """Compile grep patterns. ``mode``: G (BRE), E (ERE), F (fixed), P (Python)."""
    parts: list[str] = []
    groups = 0
    for p in patterns:
        if mode == "F":
            t = re.escape(p)
        elif mode == "P":
            t = p
        else:
            t = translate(
                p, ere=(mode == "E"), multiline=multiline, group_offset=groups, warnings=warnings
            )
        if mode in "GE":
            try:
                groups += re.compile(t).groups
            except re.error:
                pass
        parts.append(t)
    if not parts:
        body = "(?!)"
    elif len(parts) == 1:
        body = parts[0]
    else:
        body = "|".join(f"(?:{t})" for t in parts)
    if line:
        body = f"^(?:{body})$" if multiline else rf"\A(?:{body})\Z"
    elif word:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    flags = re.MULTILINE if multiline else 0
    if icase:
        flags |= re.IGNORECASE
    return safe_regex.compile(body, flags)


def iter_matching(text: str, m: Matcher, eol: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``text`` that matches; ``end`` indexes its terminator.
    ``text`` is a run of whole lines, each ending with ``eol``."""
    search = m.search
    n = len(text)
    pos = 0
    find = text.find
    rfind = text.rfind
    while pos < n:
        hit = search(text, pos)
        if hit is None:
            return
        s = hit.start()
        if s >= n:
            return
        ls = rfind(eol, 0, s) + 1
        if ls < pos:
            ls = pos
        le = find(eol, s)
        if le < 0:
            le = n
        if hit.end() > le and not m.line_matches(text[ls:le]):
            pos = le + 1
            continue
        yield ls, le
        pos = le + 1


def iter_selected(text: str, m: Matcher, eol: str, invert: bool) -> Iterator[tuple[int, int]]:
    if not invert:
        yield from iter_matching(text, m, eol)
        return
    pos = 0
    find = text.find
    for ms, me in iter_matching(text, m, eol):
        while pos < ms:
            e = find(eol, pos)
            yield pos, e
            pos = e + 1
        pos = me + 1
    n = len(text)
    while pos < n:
        e = find(eol, pos)
        if e < 0:
            e = n
        yield pos, e
        pos = e + 1


# --- per-file search ---------------------------------------------------------------------


async def _chunks_of_lines(
    source: AsyncIterator[bytes], eol: bytes
) -> AsyncGenerator[tuple[bytes, bool], None]:
    """Whole-line chunks ending with ``eol``; (data, had_final_newline_missing)."""
    carry = b""
    async for chunk in source:
        if not chunk:
            continue
        data = carry + chunk if carry else chunk
        cut = data.rfind(eol)
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1], False
    if carry:
        yield carry + eol, True


async def search_source(
    ctx: Context, cfg: Config, m: Matcher, name: str, source: AsyncGenerator[bytes, None]
) -> bool:
    """Search one input; return True if some line was selected. Raise _Stop for -q."""
    chunks = _chunks_of_lines(source, cfg.eol.encode())
    try:
        return await _search(ctx, cfg, m, name, chunks)
    finally:
        await chunks.aclose()
        await source.aclose()


async def _selected_lines(text: str, m: Matcher, eol: str, invert: bool) -> list[tuple[int, int]]:
    try:
        with safe_regex.movable():
            return list(iter_selected(text, m, eol, invert))
    except RegexSliceExceeded:
        return await safe_regex.in_worker(lambda: list(iter_selected(text, m, eol, invert)))


async def _search(
    ctx: Context, cfg: Config, m: Matcher, name: str, chunks: AsyncIterator[tuple[bytes, bool]]
) -> bool:
    eol = cfg.eol
    out_parts: list[str] = []
    prefix_name = ""
    if cfg.with_filename:
        prefix_name = name + ("\0" if cfg.null_name else "")
    nsel = 0
    lineno = 0
    byteno = 0
    binary = False
    max_count = cfg.max_count
    listing = cfg.count or cfg.files_with or cfg.files_without or cfg.quiet
    context = cfg.context_opt and not listing
    per_line = context or eol != "\n" or m.per_line
    before: deque[tuple[int, int, str]] = deque(maxlen=cfg.before or 1)
    after_left = 0
    last_printed = 0
    stop_after_context = False
    invert = cfg.invert
    only = cfg.only
    want_lineno = cfg.line_number or context
    write = ctx.stdout.write
    # the dense path (see below) handles the plain output forms and -c
    dense_ok = not per_line and not only and not cfg.byte_offset and not (listing and not cfg.count)
    dense = False
    line_search = m.rx.search

    def prefix(ln: int, off: int, sep: str) -> str:
        pre = ""
        if cfg.with_filename:
            pre = prefix_name if cfg.null_name else prefix_name + sep
        if cfg.line_number:
            pre += f"{ln}{sep}"
        if cfg.byte_offset:
            pre += f"{off}{sep}"
        if cfg.initial_tab and pre:
            pre += "\t"
        return pre

    async def flush() -> None:
        if out_parts:
            data = "".join(out_parts).encode(ENC, ERRS)
            out_parts.clear()
            await write(data)

    def emit_line(ln: int, off: int, line: str, sep: str) -> None:
        if only:
            return
        out_parts.append(prefix(ln, off, sep) + line + eol)

    def emit_only(ln: int, off: int, line: str) -> None:
        for hit in m.rx.finditer(line):
            s, e = hit.span()
            if s == e:
                continue
            o = off + len(line[:s].encode(ENC, ERRS)) if cfg.byte_offset else 0
            out_parts.append(prefix(ln, o, ":") + line[s:e] + eol)

    def separator(first_ln: int) -> None:
        if (
            cfg.group_sep is not None
            and cfg.printed_group
            and (last_printed == 0 or first_ln > last_printed + 1)
        ):
            out_parts.append(cfg.group_sep + "\n")

    async for raw, _missing in chunks:
        ctx.check_killed()
        if not binary and eol == "\n" and cfg.binary != "text" and b"\0" in raw:
            binary = True
            if cfg.binary == "without-match":
                return False
        text = raw.decode(ENC, ERRS)
        # a pattern that could backtrack for long on a chunk this size: select its lines first,
        # moving to a worker thread if that takes more than a slice of the event loop
        risky = not per_line and len(text) > m.rx.safe_len
        if risky:
            chosen = await _selected_lines(text, m, eol, invert)
        if not per_line and dense and not binary and not risky:
            # most lines are selected: test each line with one C-level pass (split + filter)
            # and write the selected lines of the chunk at once
            lines = text.split("\n")
            lines.pop()  # the chunk ends with a newline
            nl = len(lines)
            left = None if max_count is None else max_count - nsel
            if cfg.line_number:
                flags = map(line_search, lines)
                idxs = list(compress(range(nl), map(not_, flags) if invert else flags))
                if left is not None:
                    del idxs[left:]
                k = len(idxs)
                if not listing and k:
                    base = lineno + 1
                    out_parts.extend([prefix(base + i, 0, ":") + lines[i] + "\n" for i in idxs])
            else:
                it = (filterfalse if invert else filter)(line_search, lines)
                sel = list(it if left is None else islice(it, left))
                k = len(sel)
                if not listing and k:
                    pre = prefix(0, 0, ":")
                    if pre:
                        out_parts.append(pre + ("\n" + pre).join(sel) + "\n")
                    else:
                        out_parts.append("\n".join(sel) + "\n")
            nsel += k
            lineno += nl
            await flush()
            if left is not None and k >= left:
                break
            if k * 8 < nl:
                dense = False
            continue
        nsel_before = nsel
        if not per_line:
            pos_ln = 0  # position up to which line numbers were counted
            pos_b = 0
            for ls, le in chosen if risky else iter_selected(text, m, eol, invert):
                nsel += 1
                if listing:
                    if cfg.quiet:
                        raise _Stop()
                    if cfg.files_with or cfg.files_without:
                        break
                    if max_count is not None and nsel >= max_count:
                        break
                    continue
                if binary:
                    await flush()
                    await ctx.stderr.write(
                        f"{cfg.name}: {name}: binary file matches\n".encode(ENC, ERRS)
                    )
                    return True
                if want_lineno:
                    lineno += text.count(eol, pos_ln, ls)
                    pos_ln = ls
                if cfg.byte_offset:
                    byteno += len(text[pos_b:ls].encode(ENC, ERRS))
                    pos_b = ls
                if only:
                    if not invert:
                        emit_only(lineno + 1, byteno, text[ls:le])
                else:
                    out_parts.append(prefix(lineno + 1, byteno, ":") + text[ls:le] + eol)
                if max_count is not None and nsel >= max_count:
                    break
            else:
                if want_lineno:
                    lineno += text.count(eol, pos_ln)
                if cfg.byte_offset:
                    byteno += len(text[pos_b:].encode(ENC, ERRS))
                await flush()
                if dense_ok and (nsel - nsel_before) * 4 > text.count(eol):
                    dense = True
                continue
            # max count reached
            await flush()
            break
        # context mode: line by line
        pos = 0
        n = len(text)
        line_matches = m.line_matches
        done = False
        while pos < n:
            le = text.find(eol, pos)
            line = text[pos:le]
            lineno += 1
            off = byteno
            if cfg.byte_offset:
                byteno += len(line.encode(ENC, ERRS)) + 1
            pos = le + 1
            if stop_after_context:
                if after_left <= 0:
                    done = True
                    break
                emit_line(lineno, off, line, "-")
                last_printed = lineno
                after_left -= 1
                continue
            if line_matches(line) != invert:
                nsel += 1
                if listing:
                    if cfg.quiet:
                        raise _Stop()
                    if (
                        cfg.files_with
                        or cfg.files_without
                        or (max_count is not None and nsel >= max_count)
                    ):
                        done = True
                        break
                    continue
                if binary:
                    await flush()
                    await ctx.stderr.write(
                        f"{cfg.name}: {name}: binary file matches\n".encode(ENC, ERRS)
                    )
                    return True
                first = before[0][0] if before and cfg.before else lineno
                separator(first)
                if cfg.before:
                    for bl, bo, btext in before:
                        emit_line(bl, bo, btext, "-")
                    before.clear()
                if only:
                    if not invert:
                        emit_only(lineno, off, line)
                else:
                    emit_line(lineno, off, line, ":")
                cfg.printed_group = True
                last_printed = lineno
                after_left = cfg.after
                if max_count is not None and nsel >= max_count:
                    stop_after_context = True
                    if after_left <= 0:
                        done = True
                        break
            elif after_left > 0:
                emit_line(lineno, off, line, "-")
                last_printed = lineno
                after_left -= 1
            elif cfg.before:
                before.append((lineno, off, line))
        await flush()
        if done:
            break
    await flush()
    if cfg.count:
        shown = nsel
        pre = ""
        if cfg.with_filename:
            pre = name + ("\0" if cfg.null_name else ":")
        await write(f"{pre}{shown}\n".encode(ENC, ERRS))
    if cfg.files_with and nsel:
        await write((name + ("\0" if cfg.null_name else "\n")).encode(ENC, ERRS))
    if cfg.files_without and not nsel:
        await write((name + ("\0" if cfg.null_name else "\n")).encode(ENC, ERRS))
    return nsel > 0


async def _file_chunks(ctx: Context, path: str) -> AsyncGenerator[bytes, None]:
    fh = ctx.fs.open(path, "rb")
    try:
        while True:
            data = fh.read(CHUNK)
            if not data:
                return
            yield data
    finally:
        fh.close()


async def _stdin_chunks(ctx: Context) -> AsyncGenerator[bytes, None]:
    async for chunk in ctx.stdin.chunks(CHUNK):
        yield chunk


# --- file selection ----------------------------------------------------------------------


def _glob_match(name: str, pats: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in pats)


def _grep_file_wanted(cfg: Config, path: str, command_line: bool) -> bool:
    base = posixpath.basename(path.rstrip("/")) or path
    if cfg.rg:
        return _rg_file_wanted(cfg, path, command_line)
    if cfg.excludes and (
        _glob_match(base, cfg.excludes) or (command_line and _glob_match(path, cfg.excludes))
    ):
        return False
    return not (cfg.includes and not _glob_match(base, cfg.includes))


def _rg_file_wanted(cfg: Config, path: str, command_line: bool) -> bool:
    if command_line:
        return True
    base = posixpath.basename(path)
    rel = path[2:] if path.startswith("./") else path
    if cfg.types:
        pats = [g for t in cfg.types for g in RG_TYPES.get(t, [])]
        if not _glob_match(base, pats):
            return False
    if cfg.types_not:
        pats = [g for t in cfg.types_not for g in RG_TYPES.get(t, [])]
        if _glob_match(base, pats):
            return False
    if cfg.globs:
        incl = [g for g in cfg.globs if not g.startswith("!")]
        excl = [g[1:] for g in cfg.globs if g.startswith("!")]

        def hit(pats: list[str]) -> bool:
            for g in pats:
                g2 = g[3:] if g.startswith("**/") else g
                if "/" in g2:
                    if fnmatch.fnmatchcase(rel, g2) or fnmatch.fnmatchcase(rel, g):
                        return True
                elif fnmatch.fnmatchcase(base, g2):
                    return True
            return False

        if excl and hit(excl):
            return False
        if incl and not hit(incl):
            return False
    return True


def _dir_wanted(cfg: Config, path: str) -> bool:
    base = posixpath.basename(path.rstrip("/"))
    if cfg.rg:
        if not cfg.hidden and base.startswith(".") and base not in (".", ".."):
            return False
        for g in cfg.globs:
            if g.startswith("!") and fnmatch.fnmatchcase(base, g[1:].rstrip("/")):
                return False
        return True
    return not (
        cfg.exclude_dirs and base not in (".", "..") and _glob_match(base, cfg.exclude_dirs)
    )


def walk_files(
    ctx: Context, cfg: Config, top: str, seen: set[tuple[int, int]] | None = None
) -> Iterator[tuple[str, OSError | None]]:
    """Files under directory ``top`` in sorted order (errors are yielded as (path, exc)).
    ``seen`` holds the (device, inode) of the directories being walked, to stop loops."""
    if seen is None:
        seen = set()
    try:
        st_top = ctx.fs.stat(top)
        key = (st_top.st_dev, st_top.st_ino)
        if key in seen:
            yield top, OSError(40, "warning: recursive directory loop", top)
            return
        seen = seen | {key}
        names = sorted(ctx.fs.listdir(top))
    except OSError as exc:
        yield top, exc
        return
    for nm in names:
        if cfg.rg and not cfg.hidden and nm.startswith("."):
            continue
        path = nm if top == "\0" else (top + nm if top.endswith("/") else f"{top}/{nm}")
        try:
            lst = ctx.fs.lstat(path)
        except OSError as exc:
            yield path, exc
            continue
        st = lst
        if lst.is_symlink():
            if not cfg.deref:
                continue
            try:
                st = ctx.fs.stat(path)
            except OSError as exc:
                yield path, exc
                continue
        if st.is_dir():
            if _dir_wanted(cfg, path):
                yield from walk_files(ctx, cfg, path, seen)
        elif st.is_file() and _grep_file_wanted(cfg, path, False):
            yield path, None


def _display(path: str, implicit_dot: bool) -> str:
    if implicit_dot and path.startswith("./"):
        return path[2:]
    return path


# --- drivers -----------------------------------------------------------------------------


async def _run_search(
    ctx: Context, cfg: Config, m: Matcher, operands: list[str], implicit_dot: bool
) -> int:
    matched = False

    async def one(path: str, shown: str) -> None:
        nonlocal matched
        try:
            if path == "-":
                got = await search_source(ctx, cfg, m, cfg.label, _stdin_chunks(ctx))
            else:
                got = await search_source(ctx, cfg, m, shown, _file_chunks(ctx, path))
        except IsADirectoryError:
            if not cfg.no_messages:
                await ctx.err(f"{shown}: Is a directory")
            cfg.error = True
            return
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            if not cfg.no_messages:
                await ctx.os_error(exc, shown)
            cfg.error = True
            return
        matched = matched or got

    try:
        for op in operands:
            if op == "-":
                await one("-", cfg.label)
                continue
            try:
                st = ctx.fs.stat(op)
            except OSError as exc:
                if not cfg.no_messages:
                    await ctx.os_error(exc, op)
                cfg.error = True
                continue
            if st.is_dir():
                if cfg.skip_dirs:
                    continue
                if not cfg.recursive:
                    if not cfg.no_messages:
                        await ctx.err(f"{op}: Is a directory")
                    cfg.error = True
                    continue
                if not cfg.rg and not _dir_wanted(cfg, op):
                    continue
                for path, werr in walk_files(ctx, cfg, op):
                    ctx.check_killed()
                    shown = _display(path, implicit_dot)
                    if werr is not None:
                        if not cfg.no_messages:
                            await ctx.os_error(werr, shown)
                        if not str(werr.strerror).startswith("warning"):
                            cfg.error = True
                        continue
                    await one(path, shown)
                continue
            if not _grep_file_wanted(cfg, op, True):
                continue
            await one(op, op)
    except _Stop:
        return 0
    if cfg.error and not (cfg.quiet and matched):
        return 2
    return 0 if matched else 1


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


def _num(name: str, value: str, what: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise UsageError(f"{name}: {value}: invalid {what} argument", 2)
    if v < 0:
        raise UsageError(f"{name}: {value}: invalid {what} argument", 2)
    return v


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
                cfg.max_count = _num("grep", mc, "max count")
        ctxn = p.str("context")
        if ctxn is not None:
            cfg.before = cfg.after = _num("grep", ctxn, "context length")
        if p.get("after_context") is not None:
            cfg.after = _num("grep", p.str("after_context") or "", "context length")
        if p.get("before_context") is not None:
            cfg.before = _num("grep", p.str("before_context") or "", "context length")
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
    return await _run_search(ctx, cfg, Matcher(rx), operands, implicit_dot)


# --- rg ----------------------------------------------------------------------------------

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
            cfg.max_count = _num("rg", p.str("max_count") or "", "max count")
        ctxn = p.str("context")
        if ctxn is not None:
            cfg.before = cfg.after = _num("rg", ctxn, "context")
        if p.get("after_context") is not None:
            cfg.after = _num("rg", p.str("after_context") or "", "context")
        if p.get("before_context") is not None:
            cfg.before = _num("rg", p.str("before_context") or "", "context")
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
                        await ctx.out(_display(path, implicit_dot) + "\n")
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
    return await _run_search(ctx, cfg, Matcher(rx), operands, implicit_dot)
