"""git's output formats: patches, ``--stat``, ``--name-status``, dates and commit headers."""

from __future__ import annotations

import stat as st
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from dulwich.objects import Commit

from pocketos.commands._diff import _hunks as diff_hunks
from pocketos.commands._diff import compute_changes
from pocketos.git.repo import Repo
from pocketos.kernel.budget import check_time

__all__ = [
    "FileDiff",
    "format_date",
    "format_patch",
    "format_stat",
    "format_summary",
    "is_binary",
    "line_counts",
    "short",
]

EMPTY_BLOB = b"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def short(sha: bytes, n: int = 7) -> str:
    return sha.decode()[:n]


def tz_string(offset: int) -> str:
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return f"{sign}{offset // 3600:02d}{offset % 3600 // 60:02d}"


def format_date(ts: int, offset: int, style: str = "default") -> str:
    tz = timezone(timedelta(seconds=offset))
    d = datetime.fromtimestamp(ts, tz)
    if style == "iso":
        return d.strftime("%Y-%m-%d %H:%M:%S ") + tz_string(offset)
    if style == "iso-strict":
        return d.isoformat()
    if style == "short":
        return d.strftime("%Y-%m-%d")
    if style == "unix":
        return str(ts)
    if style == "raw":
        return f"{ts} {tz_string(offset)}"
    if style == "rfc":
        return d.strftime("%a, %-d %b %Y %H:%M:%S ") + tz_string(offset)
    return d.strftime("%a %b %-d %H:%M:%S %Y ") + tz_string(offset)


def parse_date(text: str) -> tuple[int, int]:
    """Dates as ``GIT_AUTHOR_DATE`` takes them: ``@TS [+ZZZZ]``, ``TS +ZZZZ``, ISO 8601."""
    t = text.strip()
    if t.startswith("@"):
        t = t[1:]
    parts = t.split()
    if parts and parts[0].isdigit():
        return int(parts[0]), _tz(parts[1]) if len(parts) > 1 else 0
    iso = t.replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S"):
        try:
            d = datetime.strptime(iso, fmt)
        except ValueError:
            continue
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        off = d.utcoffset()
        return int(d.timestamp()), int(off.total_seconds()) if off else 0
    try:
        from email.utils import parsedate_to_datetime

        d = parsedate_to_datetime(t)
        off = d.utcoffset()
        return int(d.timestamp()), int(off.total_seconds()) if off else 0
    except (TypeError, ValueError):
        pass
    raise ValueError(f"invalid date format: {text}")


def _tz(s: str) -> int:
    s = s.replace(":", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    return sign * (int(s[:2]) * 3600 + int(s[2:4] or 0) * 60)


def now_date() -> tuple[int, int]:
    ts = int(time.time())
    return ts, -time.altzone if time.daylight and time.localtime(ts).tm_isdst else -time.timezone


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def line_counts(a: bytes, b: bytes) -> tuple[int, int]:
    """(insertions, deletions) between two texts, like ``--numstat``."""
    la, lb = _lines(a), _lines(b)
    ins = dels = 0
    for c in compute_changes(la, lb):
        ins += c.inserted
        dels += c.deleted
    return ins, dels


@dataclass
class FileDiff:
    """One path's change: modes 0 and shas None for the missing side."""

    old_path: bytes
    new_path: bytes
    old_mode: int
    new_mode: int
    old_sha: bytes | None
    new_sha: bytes | None
    old_data: bytes
    new_data: bytes

    @property
    def status(self) -> str:
        if self.old_sha is None:
            return "A"
        if self.new_sha is None:
            return "D"
        if self.old_path != self.new_path:
            return "R"
        if st.S_ISLNK(self.old_mode) != st.S_ISLNK(self.new_mode):
            return "T"
        return "M"

    @property
    def binary(self) -> bool:
        return is_binary(self.old_data) or is_binary(self.new_data)


def _is_funcname(line: bytes) -> bool:
    """git's default hunk-header context: a line that starts with a letter, ``_`` or ``$``."""
    return line[:1].isalpha() or line[:1] in (b"_", b"$")


def _hunk_range(start: int, count: int) -> str:
    if count == 0:
        return f"{start},0"
    if count == 1:
        return f"{start + 1}"
    return f"{start + 1},{count}"


def _emit(prefix: bytes, line: bytes) -> bytes:
    if line.endswith(b"\n"):
        return prefix + line
    return prefix + line + b"\n\\ No newline at end of file\n"


def unified(a_data: bytes, b_data: bytes, context: int = 3) -> bytes:
    a, b = _lines(a_data), _lines(b_data)
    out: list[bytes] = []
    scanned = 0  # lines before this index have been searched for the hunk-header context
    func = b""
    for grp, s0, e0, s1, e1 in diff_hunks(compute_changes(a, b), context, len(a)):
        check_time()
        head = f"@@ -{_hunk_range(s0, e0 - s0)} +{_hunk_range(s1, e1 - s1)} @@".encode()
        for k in range(scanned, s0):
            if _is_funcname(a[k]):
                func = b" " + a[k].rstrip()[:80]
        scanned = max(scanned, s0)
        out.append(head + func + b"\n")
        i = s0
        for c in grp:
            out.extend(_emit(b" ", a[k]) for k in range(i, c.line0))
            out.extend(_emit(b"-", a[c.line0 + k]) for k in range(c.deleted))
            out.extend(_emit(b"+", b[c.line1 + k]) for k in range(c.inserted))
            i = c.line0 + c.deleted
        out.extend(_emit(b" ", a[k]) for k in range(i, e0))
    return b"".join(out)


def format_patch(d: FileDiff, abbrev: int = 7) -> bytes:
    a = b"a/" + d.old_path
    b = b"b/" + d.new_path
    out = [b"diff --git " + a + b" " + b + b"\n"]
    oldsha = (d.old_sha or b"0" * 40)[:abbrev]
    newsha = (d.new_sha or b"0" * 40)[:abbrev]
    status = d.status
    mode_tail = b""
    if status == "A":
        out.append(f"new file mode {d.new_mode:o}\n".encode())
    elif status == "D":
        out.append(f"deleted file mode {d.old_mode:o}\n".encode())
    elif status == "R":
        out.append(b"similarity index 100%\n")
        out.append(b"rename from " + d.old_path + b"\nrename to " + d.new_path + b"\n")
        if d.old_sha == d.new_sha:
            return b"".join(out)
    elif d.old_mode != d.new_mode:
        out.append(f"old mode {d.old_mode:o}\nnew mode {d.new_mode:o}\n".encode())
        if d.old_sha == d.new_sha:
            return b"".join(out)
    else:
        mode_tail = f" {d.new_mode:o}".encode()
    out.append(b"index " + oldsha + b".." + newsha + mode_tail + b"\n")
    if d.old_data == d.new_data:
        return b"".join(out)
    if d.binary:
        out.append(
            b"Binary files "
            + (b"/dev/null" if status == "A" else a)
            + b" and "
            + (b"/dev/null" if status == "D" else b)
            + b" differ\n"
        )
        return b"".join(out)
    out.append(b"--- " + (b"/dev/null" if status == "A" else a) + b"\n")
    out.append(b"+++ " + (b"/dev/null" if status == "D" else b) + b"\n")
    out.append(unified(d.old_data, d.new_data))
    return b"".join(out)


RESET = b"\x1b[m"


def colorize_patch(patch: bytes) -> bytes:
    """git's default colours for a patch (``--color=always``)."""
    out: list[bytes] = []
    header = False
    for line in patch.split(b"\n")[:-1] if patch.endswith(b"\n") else patch.split(b"\n"):
        if line.startswith(b"diff --git "):
            header = True
        if line.startswith(b"@@"):
            header = False
            end = line.index(b"@@", 2) + 2
            head, rest = line[:end], line[end:]
            func = b" " + RESET + rest[1:] + RESET if rest else b""
            out.append(b"\x1b[36m" + head + RESET + func)
        elif header and line.startswith(b"Binary files "):
            out.append(line)
        elif header:
            out.append(b"\x1b[1m" + line + RESET)
        elif line.startswith(b"-"):
            out.append(b"\x1b[31m" + line + RESET)
        elif line.startswith(b"+"):
            body = b"\x1b[32m" + line[1:] + RESET if len(line) > 1 else b""
            out.append(b"\x1b[32m+" + RESET + body)
        else:
            out.append(line + RESET)
    return b"".join(o + b"\n" for o in out)


def format_summary(files: int, ins: int, dels: int) -> str:
    s = f" {files} file{'s' if files != 1 else ''} changed"
    if ins or not dels:
        s += f", {ins} insertion{'s' if ins != 1 else ''}(+)"
    if dels or not ins:
        s += f", {dels} deletion{'s' if dels != 1 else ''}(-)"
    if ins == 0 and dels == 0:
        s = f" {files} file{'s' if files != 1 else ''} changed, 0 insertions(+), 0 deletions(-)"
    return s + "\n"


def format_stat(diffs: list[FileDiff], width: int = 80, color: bool = False) -> str:
    rows: list[tuple[str, str, int, int]] = []
    total_i = total_d = 0
    for d in diffs:
        name = d.new_path.decode()
        if d.status == "R":
            name = rename_name(d.old_path.decode(), d.new_path.decode())
        if d.binary:
            old_n, new_n = str(len(d.old_data)), str(len(d.new_data))
            if color:
                old_n, new_n = f"\x1b[31m{old_n}\x1b[m", f"\x1b[32m{new_n}\x1b[m"
            rows.append((name, f"Bin {old_n} -> {new_n} bytes", 0, 0))
            continue
        i, x = line_counts(d.old_data, d.new_data)
        total_i += i
        total_d += x
        rows.append((name, str(i + x), i, x))
    if not rows:
        return ""
    name_w = max(len(r[0]) for r in rows)
    num_w = max((len(r[1]) for r in rows if not r[1].startswith("Bin")), default=0)
    num_w = max(num_w, 3) if any(r[1].startswith("Bin") for r in rows) else num_w
    max_change = max((r[2] + r[3] for r in rows), default=0)
    graph_w = width - name_w - num_w - 6
    if graph_w < 6:
        graph_w = 6
    lines = []
    for name, num, i, x in rows:
        if num.startswith("Bin"):
            lines.append(f" {name.ljust(name_w)} | {num}")
            continue
        if max_change > graph_w:
            scale_i = (i * graph_w + max_change - 1) // max_change if i else 0
            scale_d = (x * graph_w + max_change - 1) // max_change if x else 0
        else:
            scale_i, scale_d = i, x
        if color:
            graph = (f"\x1b[32m{'+' * scale_i}\x1b[m" if scale_i else "") + (
                f"\x1b[31m{'-' * scale_d}\x1b[m" if scale_d else ""
            )
        else:
            graph = "+" * scale_i + "-" * scale_d
        lines.append(f" {name.ljust(name_w)} | {num.rjust(num_w)}{' ' + graph if graph else ''}")
    return "\n".join(lines) + "\n" + format_summary(len(rows), total_i, total_d)


def rename_name(old: str, new: str) -> str:
    """``a/{one => uno}``: git's short form of a rename, common leading and trailing
    directories pulled out of the braces."""
    pre = 0
    i = 0
    while i < min(len(old), len(new)) and old[i] == new[i]:
        if old[i] == "/":
            pre = i + 1
        i += 1
    suf = 0
    j = 0
    while j < min(len(old), len(new)) - pre and old[-1 - j] == new[-1 - j]:
        if old[-1 - j] == "/":
            suf = j + 1
        j += 1
    if pre == 0 and suf == 0:
        return f"{old} => {new}"
    mid_old = old[pre : len(old) - suf]
    mid_new = new[pre : len(new) - suf]
    return f"{old[:pre]}{{{mid_old} => {mid_new}}}{old[len(old) - suf :]}"


def person(raw: bytes) -> tuple[str, str]:
    text = raw.decode("utf-8", "replace")
    name, _, rest = text.partition(" <")
    return name, rest.rstrip(">")


def commit_header(
    repo: Repo, sha: bytes, c: Commit, date_style: str = "default", color: bool = False
) -> str:
    out = f"\x1b[33mcommit {sha.decode()}\x1b[m\n" if color else f"commit {sha.decode()}\n"
    if len(c.parents) > 1:
        out += "Merge: " + " ".join(short(p) for p in c.parents) + "\n"
    out += f"Author: {c.author.decode('utf-8', 'replace')}\n"
    out += f"Date:   {format_date(c.author_time, c.author_timezone, date_style)}\n\n"
    msg = c.message.decode("utf-8", "replace").rstrip("\n")
    out += "".join(f"    {line}\n" for line in msg.split("\n"))
    return out
