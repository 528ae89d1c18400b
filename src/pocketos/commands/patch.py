"""patch."""

from __future__ import annotations

import posixpath
import re
import stat as _stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands.text_common import decode, encode, read_all, usage

if TYPE_CHECKING:
    from pocketos.kernel.process import Context

from pocketos.commands._diff import HELP, _split_keep


@dataclass
class Hunk:
    old_start: int  # 1-based; 0 when the old side is empty
    old_lines: list[bytes]
    new_start: int
    new_lines: list[bytes]
    text: list[bytes]  # the hunk as written in the patch, for .rej files
    kind: str = "unified"
    # unified hunks: list of (tag, line) with tag in " -+"
    body: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class FilePatch:
    old_name: str | None
    new_name: str | None
    header: list[bytes]
    hunks: list[Hunk] = field(default_factory=list)
    kind: str = "unified"


_UNI_HDR = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NORMAL_CMD = re.compile(rb"^(\d+)(?:,(\d+))?([acd])(\d+)(?:,(\d+))?\s*$")
_CTX_OLD = re.compile(rb"^\*\*\* (\d+)(?:,(\d+))? \*\*\*\*")
_CTX_NEW = re.compile(rb"^--- (\d+)(?:,(\d+))? ----")


def _hdr_name(line: bytes) -> str:
    name = decode(line[4:].rstrip(b"\n").rstrip(b"\r"))
    if "\t" in name:
        name = name.split("\t", 1)[0]
    elif re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", name):
        name = re.split(r" \d{4}-\d\d-\d\d ", name, maxsplit=1)[0]
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = name[1:-1]
    return name


def _take_normal(
    lines: list[bytes], i: int, count: int, mark: bytes, dest: list[bytes], text: list[bytes]
) -> int:
    """Read up to ``count`` normal-format lines marked ``< `` or ``> `` from ``lines[i:]``
    into ``dest`` (mark removed) and ``text`` (as is), with any ``\\ No newline`` marker;
    returns the index after them."""
    n = len(lines)
    for _ in range(count):
        if i < n and lines[i].startswith(mark):
            dest.append(lines[i][2:])
            text.append(lines[i])
            i += 1
            if i < n and lines[i].startswith(b"\\"):
                _strip_nl_marker(dest)
                text.append(lines[i])
                i += 1
    return i


def _strip_nl_marker(lines: list[bytes]) -> None:
    """Apply a ``\\ No newline at end of file`` marker to the last line in place."""
    if lines and lines[-1].endswith(b"\n"):
        lines[-1] = lines[-1][:-1]


class PatchError(ValueError):
    """A patch that cannot be read; GNU patch reports it as ``**** MESSAGE``, status 2."""


def _show_line(line: bytes) -> str:
    return line.decode("utf-8", "surrogateescape").rstrip("\n")


def parse_patch(data: bytes) -> list[FilePatch]:
    lines = data.split(b"\n")
    lines = [ln + b"\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    patches: list[FilePatch] = []
    i = 0
    n = len(lines)
    pending_header: list[bytes] = []
    normal: FilePatch | None = None
    while i < n:
        ln = lines[i]
        if ln.startswith(b"--- ") and i + 1 < n and lines[i + 1].startswith(b"+++ "):
            fp = FilePatch(_hdr_name(ln), _hdr_name(lines[i + 1]), [ln, lines[i + 1]])
            patches.append(fp)
            normal = None
            i += 2
            while i < n:
                m = _UNI_HDR.match(lines[i])
                if not m:
                    break
                os_, oc, ns, nc = m.groups()
                for num in (os_, oc, ns, nc):
                    if num is not None and len(num.lstrip(b"0")) > 18:
                        raise PatchError(
                            f"line number {num.decode()} is too large at line "
                            f"{i + 1}: {_show_line(lines[i])}"
                        )
                ocount = int(oc) if oc is not None else 1
                ncount = int(nc) if nc is not None else 1
                hunk = Hunk(int(os_), [], int(ns), [], [lines[i]])
                hunk_line = i
                i += 1
                o_left, n_left = ocount, ncount
                while i < n and (o_left > 0 or n_left > 0):
                    t = lines[i]
                    tag = t[:1]
                    if t in (b"\n", b"\r\n") and o_left > 0 and n_left > 0:
                        tag, t = b" ", b" " + t
                    if tag == b" ":
                        hunk.old_lines.append(t[1:])
                        hunk.new_lines.append(t[1:])
                        hunk.body.append((" ", t[1:]))
                        o_left -= 1
                        n_left -= 1
                    elif tag == b"-":
                        hunk.old_lines.append(t[1:])
                        hunk.body.append(("-", t[1:]))
                        o_left -= 1
                    elif tag == b"+":
                        hunk.new_lines.append(t[1:])
                        hunk.body.append(("+", t[1:]))
                        n_left -= 1
                    elif tag == b"\\":
                        pass
                    else:
                        break
                    hunk.text.append(lines[i])
                    i += 1
                    if i < n and lines[i].startswith(b"\\"):
                        hunk.text.append(lines[i])
                        prev = hunk.body[-1][0] if hunk.body else " "
                        if prev in (" ", "-"):
                            _strip_nl_marker(hunk.old_lines)
                        if prev in (" ", "+"):
                            _strip_nl_marker(hunk.new_lines)
                        if hunk.body:
                            tg, bl = hunk.body[-1]
                            hunk.body[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
                        i += 1
                if o_left > 0 or n_left > 0:
                    at = min(i, n - 1) if i < n else hunk_line
                    raise PatchError(
                        f"malformed patch at line {at + 1}: "
                        f"{_show_line(lines[at]) if i < n else ''}"
                    )
                fp.hunks.append(hunk)
            continue
        if (
            ln.startswith(b"*** ")
            and i + 1 < n
            and lines[i + 1].startswith(b"--- ")
            and not _CTX_OLD.match(ln)
        ):
            fp = FilePatch(
                _hdr_name(ln), _hdr_name(lines[i + 1]), [ln, lines[i + 1]], kind="context"
            )
            patches.append(fp)
            normal = None
            i += 2
            while i < n and lines[i].startswith(b"***************"):
                i = _parse_ctx_hunk(lines, i, fp)
            continue
        m = _NORMAL_CMD.match(ln)
        if m:
            if normal is None:
                normal = FilePatch(None, None, pending_header, kind="normal")
                patches.append(normal)
            a1, a2, op, b1, b2 = m.groups()
            s0 = int(a1)
            e0 = int(a2) if a2 else s0
            s1 = int(b1)
            e1 = int(b2) if b2 else s1
            hunk = Hunk(0, [], 0, [], [ln], kind="normal")
            i += 1
            if op in (b"c", b"d"):
                i = _take_normal(lines, i, e0 - s0 + 1, b"< ", hunk.old_lines, hunk.text)
                if op == b"c" and i < n and lines[i].startswith(b"---"):
                    hunk.text.append(lines[i])
                    i += 1
            if op in (b"c", b"a"):
                i = _take_normal(lines, i, e1 - s1 + 1, b"> ", hunk.new_lines, hunk.text)
            hunk.old_start = s0 if op != b"a" else s0 + 1
            hunk.new_start = s1 if op != b"d" else s1 + 1
            if op == b"a":
                hunk.old_start = s0
            if op == b"d":
                hunk.new_start = s1
            normal.hunks.append(hunk)
            continue
        if ln.startswith(b"diff ") or ln.startswith(b"Index:") or ln.startswith(b"Only in"):
            normal = None
        pending_header = [ln]
        i += 1
    return [p for p in patches if p.hunks or p.kind != "normal"]


def _parse_ctx_hunk(lines: list[bytes], i: int, fp: FilePatch) -> int:
    n = len(lines)
    text = [lines[i]]
    i += 1
    if i >= n:
        return i
    m = _CTX_OLD.match(lines[i])
    if not m:
        return i
    o1 = int(m.group(1))
    text.append(lines[i])
    i += 1
    old_part: list[tuple[str, bytes]] = []
    while i < n and not _CTX_NEW.match(lines[i]):
        t = lines[i]
        if t.startswith(b"\\"):
            if old_part:
                tg, bl = old_part[-1]
                old_part[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
        elif t[:2] in (b"  ", b"- ", b"! "):
            old_part.append((t[:1].decode(), t[2:]))
        else:
            break
        text.append(t)
        i += 1
    new_part: list[tuple[str, bytes]] = []
    n1 = 1
    if i < n:
        m2 = _CTX_NEW.match(lines[i])
        if m2:
            n1 = int(m2.group(1))
            text.append(lines[i])
            i += 1
            while i < n:
                t = lines[i]
                if t.startswith(b"\\"):
                    if new_part:
                        tg, bl = new_part[-1]
                        new_part[-1] = (tg, bl[:-1] if bl.endswith(b"\n") else bl)
                elif t[:2] in (b"  ", b"+ ", b"! "):
                    new_part.append((t[:1].decode(), t[2:]))
                else:
                    break
                text.append(t)
                i += 1
    old_lines = [ln for _, ln in old_part]
    if not new_part:
        new_lines = [ln for tg, ln in old_part if tg == " "]
    else:
        new_lines = [ln for _, ln in new_part]
    if not old_part:
        old_lines = [ln for tg, ln in new_part if tg == " "]
    fp.hunks.append(Hunk(o1, old_lines, n1, new_lines, text, kind="context"))
    return i


def _strip_path(name: str | None, strip: int | None) -> str | None:
    if name is None or name == "/dev/null":
        return name
    if strip is None:
        return posixpath.basename(name)
    parts = name.split("/")
    if strip >= len(parts):
        return None
    return "/".join(parts[strip:]) if strip else name


def _find_hunk(lines: list[bytes], old: list[bytes], where: int, lo: int) -> int | None:
    """Index at which ``old`` matches ``lines``, searching outward from ``where``."""
    n = len(lines)
    k = len(old)
    maxoff = max(where - lo, n - where) + 1

    def ok(pos: int) -> bool:
        return lo <= pos and pos + k <= n and lines[pos : pos + k] == old

    if ok(where):
        return where
    for d in range(1, maxoff + 1):
        if ok(where + d):
            return where + d
        if ok(where - d):
            return where - d
    return None


@command("patch")
async def patch(ctx: Context) -> int:
    spec = [
        Opt("p", "strip", "required"),
        Opt("R", "reverse"),
        Opt("i", "input", "required"),
        Opt("o", "output", "required"),
        Opt("", "dry-run"),
        Opt("N", "forward"),
        Opt("s", "silent"),
        Opt("", "quiet", dest="silent"),
        Opt("f", "force"),
        Opt("t", "batch"),
        Opt("E", "remove-empty-files"),
        Opt("b", "backup"),
        Opt("r", "reject-file", "required"),
        Opt("d", "directory", "required"),
        Opt("u", "unified"),
        Opt("n", "normal"),
        Opt("c", "context"),
        Opt("F", "fuzz", "required"),
        Opt("l", "ignore-whitespace"),
        Opt("", "no-backup-if-mismatch"),
        Opt("", "verbose"),
        HELP,
    ]
    try:
        p = parse("patch", ctx.argv[1:], spec, status=2)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await usage(
            ctx,
            "Usage: patch [OPTION]... [ORIGFILE [PATCHFILE]]\n"
            "  -p NUM -R -i PATCHFILE -o FILE --dry-run -N -s -E -r FILE "
            "-d DIR",
        )
    strip: int | None = None
    ps = p.str("strip")
    if ps is not None:
        if not ps.isdigit():
            await ctx.err(f"strip count {ps} is not a number")
            return 2
        strip = int(ps)
    ops = p.operands
    target = ops[0] if ops else None
    pfile = p.str("input") or (ops[1] if len(ops) > 1 else None)
    fs = ctx.fs
    workdir = p.str("directory")
    if workdir is not None:
        if not fs.isdir(workdir):
            await ctx.err(f"Can't change to directory {workdir} : No such file or directory")
            return 2
        fs = fs.with_cwd(fs.abspath(workdir))
    try:
        pdata = (
            await read_all(ctx, pfile)
            if pfile is not None and pfile != "-"
            else await ctx.stdin.read(-1)
        )
    except BrokenPipeError:
        raise
    except OSError as exc:
        await ctx.err(f"Can't open patch file {pfile} : {exc.strerror}")
        return 2
    try:
        patches = parse_patch(pdata)
    except PatchError as exc:
        await ctx.err(f"**** {exc}")
        return 2
    silent = p.flag("silent")
    dry = p.flag("dry_run")
    reverse = p.flag("reverse")
    forward = p.flag("forward")
    outname = p.str("output")
    out_msgs: list[str] = []
    status = 0
    if not any(fp.hunks for fp in patches):
        await ctx.err("**** Only garbage was found in the patch input.")
        return 2
    for fp in patches:
        ctx.check_killed()
        old_n = _strip_path(fp.old_name, strip)
        new_n = _strip_path(fp.new_name, strip)
        creating = fp.old_name == "/dev/null" or (
            fp.hunks and all(h.old_start == 0 and not h.old_lines for h in fp.hunks)
        )
        deleting = fp.new_name == "/dev/null"
        if reverse:
            old_n, new_n = new_n, old_n
            creating, deleting = deleting, creating
        name: str | None
        if target is not None:
            name = target
        else:
            cands = [x for x in (old_n, new_n) if x and x != "/dev/null"]
            name = next((x for x in cands if fs.exists(x)), None)
            if name is None:
                if creating and cands:
                    name = new_n if new_n and new_n != "/dev/null" else cands[0]
                elif cands:
                    name = cands[0]
        if name is None:
            await ctx.stdout.write(
                b"can't find file to patch at input line 1\nNo file to patch.  Skipping patch.\n"
            )
            status = 1
            continue
        exists = fs.exists(name)
        if exists:
            try:
                data = fs.read_bytes(name)
            except BrokenPipeError:
                raise
            except OSError as exc:
                await ctx.err(f"Can't open file {name} : {exc.strerror}")
                status = 2
                continue
        elif creating:
            data = b""
        else:
            await ctx.stdout.write(
                encode(
                    f"can't find file to patch at input line 1\n"
                    f"No such file: {name}\nSkipping patch.\n"
                )
            )
            status = 1
            continue
        lines = _split_keep(data)
        verb = "checking" if dry else "patching"
        shown = name if outname is None else f"{outname} (read from {name})"
        if not silent:
            out_msgs.append(f"{verb} file {shown}\n")
        result, failed, msgs, reversed_seen, exact = _apply(lines, fp.hunks, reverse)
        if reversed_seen and not reverse:
            # every hunk would apply backwards: the patch was probably applied already
            if forward:
                out_msgs.append(
                    "Reversed (or previously applied) patch detected!  Skipping patch.\n"
                )
            else:
                out_msgs.append(
                    "Reversed (or previously applied) patch detected!  "
                    "Assume -R? [n] \nApply anyway? [n] \nSkipping patch.\n"
                )
            out_msgs.append(
                f"{len(fp.hunks)} out of {len(fp.hunks)} hunk"
                f"{'s' if len(fp.hunks) != 1 else ''} ignored"
                + (f" -- saving rejects to file {name}.rej\n" if not dry else "\n")
            )
            if not dry:
                _write_rej(fs, p.str("reject_file") or name + ".rej", fp, fp.hunks, name)
            status = max(status, 1)
            continue
        if not silent:
            out_msgs.extend(msgs)
        if failed:
            total = len(fp.hunks)
            rej = p.str("reject_file") or name + ".rej"
            msg = f"{len(failed)} out of {total} hunk{'s' if total != 1 else ''} FAILED"
            if dry:
                out_msgs.append(msg + "\n")
            else:
                out_msgs.append(msg + f" -- saving rejects to file {rej}\n")
                _write_rej(fs, rej, fp, failed, name)
            status = max(status, 1)
        if dry:
            continue
        payload = b"".join(result)
        want_backup = p.flag("backup") or (
            not exact and exists and outname is None and not p.flag("no_backup_if_mismatch")
        )
        if want_backup:
            try:
                fs.write_bytes(name + ".orig", data)
            except OSError:
                pass
        try:
            if outname is not None:
                fs.write_bytes(outname, payload)
            elif deleting and not payload or not payload and p.flag("remove_empty_files"):
                fs.unlink(name)
            else:
                if exists:
                    st = fs.stat(name)
                    fs.write_bytes(name, payload)
                    fs.chmod(name, _stat.S_IMODE(st.st_mode))
                else:
                    parent = posixpath.dirname(fs.abspath(name))
                    if not fs.isdir(parent):
                        fs.mkdir(parent, parents=True, exist_ok=True)
                    fs.write_bytes(name, payload)
        except BrokenPipeError:
            raise
        except OSError as exc:
            await ctx.err(f"{name}: {exc.strerror}")
            status = 2
    await ctx.stdout.write(encode("".join(out_msgs)))
    return status


def _apply(
    lines: list[bytes], hunks: list[Hunk], reverse: bool
) -> tuple[list[bytes], list[Hunk], list[str], bool, bool]:
    """Apply hunks; returns (lines, failed hunks, messages, looks-reversed, exact)."""
    out = list(lines)
    failed: list[Hunk] = []
    msgs: list[str] = []
    last_offset = 0
    growth = 0
    lo = 0
    reversed_ok = 0
    exact = True
    for num, h in enumerate(hunks, 1):
        old, new = (h.new_lines, h.old_lines) if reverse else (h.old_lines, h.new_lines)
        start = h.new_start if reverse else h.old_start
        stated = max(start - 1, 0) if old else start
        where = max(0, min(stated + last_offset + growth, len(out)))
        pos = _find_hunk(out, old, where, lo)
        if pos is None:
            exact = False
            if new and _find_hunk(out, new, where, 0) is not None:
                reversed_ok += 1
            failed.append(h)
            msgs.append(f"Hunk #{num} FAILED at {start + last_offset}.\n")
            continue
        out[pos : pos + len(old)] = new
        delta = pos - growth - stated
        if delta:
            exact = False
            at = pos + 1 if old else pos + 1
            msgs.append(
                f"Hunk #{num} succeeded at {at} "
                f"(offset {delta} line{'s' if abs(delta) != 1 else ''}).\n"
            )
        last_offset = delta
        growth += len(new) - len(old)
        lo = pos + len(new)
    all_reversed = bool(hunks) and reversed_ok == len(hunks) and len(failed) == len(hunks)
    return out, failed, msgs, all_reversed, exact


def _write_rej(fs: object, path: str, fp: FilePatch, hunks: list[Hunk], name: str) -> None:
    parts: list[bytes] = []
    if fp.kind == "unified":
        parts = [encode(f"--- {name}\n+++ {name}\n")]
    elif fp.kind == "context":
        parts = [encode(f"*** {name}\n--- {name}\n")]
    for h in hunks:
        parts.extend(h.text)
    try:
        fs.write_bytes(path, b"".join(parts))  # type: ignore[attr-defined]
    except OSError:
        pass
