"""mktemp."""

from __future__ import annotations

import re
import secrets

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import _start, q, strerror
from pocketos.kernel.process import Context

MKTEMP_HELP = """Usage: mktemp [OPTION]... [TEMPLATE]
Create a temporary file or directory, safely, and print its name.
TEMPLATE must contain at least 3 consecutive 'X's in last component.
If TEMPLATE is not specified, use tmp.XXXXXXXXXX, and --tmpdir is implied.

  -d, --directory     create a directory, not a file
  -u, --dry-run       do not create anything; merely print a name (unsafe)
  -q, --quiet         suppress diagnostics about file/dir-creation failure
      --suffix=SUFF   append SUFF to TEMPLATE
  -p DIR, --tmpdir[=DIR]  interpret TEMPLATE relative to DIR ($TMPDIR, else /tmp)
  -t                  interpret TEMPLATE as a single file name component, relative to a directory
"""

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@command("mktemp")
async def mktemp(ctx: Context) -> int:
    spec = [
        Opt("d", "directory"),
        Opt("u", "dry-run"),
        Opt("q", "quiet"),
        Opt("", "suffix", "required"),
        Opt("p", "", "required", dest="tmpdir_p"),
        Opt("", "tmpdir", "optional"),
        Opt("t"),
    ]
    p = await _start(ctx, spec, MKTEMP_HELP)
    if isinstance(p, int):
        return p
    if len(p.operands) > 1:
        return await report(
            ctx, UsageError("mktemp: too many templates\nTry 'mktemp --help' for more information.")
        )
    quiet = p.flag("q")
    template = p.operands[0] if p.operands else None
    tmpdir_opt = p.get("tmpdir")
    pdir = p.str("tmpdir_p")
    use_dir: str | None = None
    if pdir is not None:
        use_dir = pdir
    elif tmpdir_opt is not None:
        use_dir = tmpdir_opt if isinstance(tmpdir_opt, str) and tmpdir_opt else ""
    if template is None:
        template = "tmp.XXXXXXXXXX"
        if use_dir is None:
            use_dir = ""
    elif p.flag("t") and use_dir is None:
        use_dir = ""
    suffix = p.str("suffix") or ""
    if suffix and "/" in suffix:
        await ctx.err(f"invalid suffix {q(suffix)}, contains directory separator")
        return 1
    if not suffix:
        m = re.search(r"X*$", template)
        tail_x = m.group(0) if m else ""
        if not tail_x:
            # GNU: X's must end the template unless --suffix is given
            idx = template.rfind("X")
            if idx >= 0 and template[: idx + 1].endswith("XXX"):
                suffix = template[idx + 1 :]
                template = template[: idx + 1]
    if use_dir is not None:
        if (
            "/" in template
            and template.startswith("/")
            and (p.flag("t") or pdir is not None or tmpdir_opt is not None)
        ):
            await ctx.err(f"invalid template, {q(template)}; with --tmpdir, it may not be absolute")
            return 1
        base = use_dir or ctx.env.get("TMPDIR") or "/tmp"
        if p.flag("t") and pdir is None and not isinstance(tmpdir_opt, str):
            base = ctx.env.get("TMPDIR") or "/tmp"
        template = base.rstrip("/") + "/" + template
    m = re.search(r"X{3,}$", template)
    if not m or "/" in template[m.start() :]:
        await ctx.err(f"too few X's in template {q(template + suffix)}")
        return 1
    head = template[: m.start()]
    nx = len(m.group(0))
    fs = ctx.fs
    for _ in range(100):
        name = head + "".join(secrets.choice(_ALNUM) for _ in range(nx)) + suffix
        if p.flag("u"):
            if fs.lexists(name):
                continue
            await ctx.out(name + "\n")
            return 0
        try:
            if p.flag("d"):
                fs.mkdir(name, mode=0o700)
            else:
                fs.write_bytes(name, b"", mode=0o600, exclusive=True)
        except FileExistsError:
            continue
        except OSError as exc:
            if not quiet:
                what = "directory" if p.flag("d") else "file"
                await ctx.err(
                    f"failed to create {what} via template "
                    f"{q(head + 'X' * nx + suffix)}: {strerror(exc)}"
                )
            return 1
        try:
            fs.chmod(name, 0o700 if p.flag("d") else 0o600)
        except OSError:
            pass
        await ctx.out(name + "\n")
        return 0
    if not quiet:
        await ctx.err(f"failed to create file via template {q(template)}: File exists")
    return 1
