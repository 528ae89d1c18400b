"""Searching inputs: one file or stdin read in chunks of whole lines, and the walk over the
operands (files, directories, ``-``) with grep's exit status.

Text is decoded with ``utf-8``/``surrogateescape`` one chunk of whole lines at a time.
Context output (``-A/-B/-C``) and ``-z`` go line by line."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from itertools import compress, filterfalse, islice
from operator import not_

from pocketos.commands._grep.config import CHUNK, ENC, ERRS, Config, Stop
from pocketos.commands._grep.files import dir_wanted, display_path, file_wanted, walk_files
from pocketos.commands._grep.matcher import Matcher, iter_selected
from pocketos.kernel.process import Context
from pocketos.lib import safe_regex
from pocketos.lib.safe_regex import RegexSliceExceeded


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
    """Search one input; return True if some line was selected. Raise Stop for -q."""
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
    # -c alone: count the selected lines of a chunk in one C call when that is exact
    counter = None
    if cfg.count and not per_line and not (cfg.files_with or cfg.files_without or cfg.quiet):
        counter = m.line_counter()

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
        if counter is not None:
            k = len(counter.findall(text))
            if invert:
                k = text.count("\n") - k
            if max_count is not None and nsel + k >= max_count:
                nsel = max_count
                break
            nsel += k
            continue
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
                        raise Stop()
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
                        raise Stop()
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
    # a small regular file in one read (checked by the policy as an open is); a large one,
    # or a device, streams
    data = ctx.fs.read_regular(path, max_size=CHUNK)
    if data is not None:
        if data:
            yield data
        return
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


async def run_search(
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
                if not cfg.rg and not dir_wanted(cfg, op):
                    continue
                for path, werr in walk_files(ctx, cfg, op):
                    ctx.check_killed()
                    shown = display_path(path, implicit_dot)
                    if werr is not None:
                        if not cfg.no_messages:
                            await ctx.os_error(werr, shown)
                        if not str(werr.strerror).startswith("warning"):
                            cfg.error = True
                        continue
                    await one(path, shown)
                continue
            if not file_wanted(cfg, op, True):
                continue
            await one(op, op)
    except Stop:
        return 0
    if cfg.error and not (cfg.quiet and matched):
        return 2
    return 0 if matched else 1
