"""sed: the stream editor (POSIX with the GNU extensions people use)."""

from __future__ import annotations

import posixpath

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse
from pocketos.commands._sed.fast import (
    _fast_filter,
    _fast_s,
    _fast_y,
    run_fast_filter,
    run_fast_s,
    run_fast_y,
)
from pocketos.commands._sed.runner import Input, Runner
from pocketos.commands._sed.script import ENC, ERRS, SedError, SedPanic, _Quit, parse_script
from pocketos.kernel.process import Context

HELP = """\
Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...

  -n, --quiet, --silent
                 suppress automatic printing of pattern space
  -e script, --expression=script
                 add the script to the commands to be executed
  -f script-file, --file=script-file
                 add the contents of script-file to the commands to be executed
  -i[SUFFIX], --in-place[=SUFFIX]
                 edit files in place (makes backup if SUFFIX supplied)
  -l N, --line-length=N
                 specify the desired line-wrap length for the `l' command
  --posix
                 disable GNU extensions (accepted, ignored)
  -E, -r, --regexp-extended
                 use extended regular expressions in the script
  -s, --separate
                 consider files as separate rather than as a single
                 continuous long stream.
  -z, --null-data
                 separate lines by NUL characters
      --help     display this help and exit

If no -e, --expression, -f, or --file option is given, then the first
non-option argument is taken as the sed script to interpret.  All
remaining arguments are names of input files; if no input files are
specified, then the standard input is read.
"""


OPTS = [
    Opt("n", "quiet"),
    Opt("", "silent", dest="quiet"),
    Opt("e", "expression", "required", dest="expr", multiple=True),
    Opt("f", "file", "required", dest="file", multiple=True),
    Opt("i", "in-place", "optional"),
    Opt("l", "line-length", "required"),
    Opt("", "posix"),
    Opt("E", "regexp-extended"),
    Opt("r", "", dest="regexp_extended"),
    Opt("s", "separate"),
    Opt("z", "null-data"),
    Opt("u", "unbuffered"),
    Opt("", "debug"),
    Opt("", "sandbox"),
    Opt("", "follow-symlinks"),
    Opt("b", "binary"),
    Opt("", "help"),
    Opt("", "version"),
]


@command("sed")
async def sed(ctx: Context) -> int:
    try:
        p = parse("sed", ctx.argv[1:], OPTS)
    except UsageError as e:
        msg = e.message.split("\n")[0]
        await ctx.stderr.write((msg + "\n" + HELP).encode(ENC, ERRS))
        return 1
    if p.flag("help"):
        await ctx.out(HELP)
        return 0
    if p.flag("version"):
        await ctx.out("sed (pocketos) 4.9\n")
        return 0
    ere = p.flag("regexp_extended")
    pieces: list[tuple[int, str]] = []
    texts: list[str] = []
    operands = list(p.operands)
    offset = 0
    nexpr = 0
    for key, val in p.order:
        if key == "expr":
            nexpr += 1
            t = str(val)
            pieces.append((offset, f"-e expression #{nexpr}"))
            texts.append(t)
            offset += len(t) + 1
        elif key == "file":
            name = str(val)
            try:
                if name == "-":
                    data = await ctx.stdin.read()
                else:
                    data = ctx.fs.read_bytes(name)
            except OSError as exc:
                await ctx.err(f"couldn't open file {name}: {exc.strerror or exc}")
                return 1
            t = data.decode(ENC, ERRS)
            if t.endswith("\n"):
                t = t[:-1]
            pieces.append((offset, f"file {name}"))
            texts.append(t)
            offset += len(t) + 1
    if not texts:
        if not operands:
            await ctx.stderr.write(HELP.encode())
            return 1
        t = operands.pop(0)
        pieces.append((0, "-e expression #1"))
        texts.append(t)
    script = "\n".join(texts)
    try:
        cmds, hash_n = parse_script(script, pieces, ere)
    except SedError as exc:
        await ctx.err(str(exc))
        return 4 if isinstance(exc, SedPanic) else 1
    in_place = p.get("in_place") is not None
    suffix_v = p.get("in_place")
    suffix = suffix_v if isinstance(suffix_v, str) else None
    line_len = 70
    if p.get("line_length") is not None:
        try:
            line_len = int(p.str("line_length") or "")
        except ValueError:
            await ctx.err(f"invalid line length: {p.str('line_length')}")
            return 1
    sep = "\0" if p.flag("null_data") else "\n"
    runner = Runner(
        ctx,
        cmds,
        p.flag("quiet") or hash_n,
        sep,
        line_len,
        ere,
        p.flag("separate"),
        in_place,
        suffix,
        p.flag("posix"),
    )
    for c in cmds:
        if c.name in "wW" and c.text not in ("/dev/stdout", "/dev/stderr"):
            runner.wfiles.setdefault(c.text, [])
        if c.wfile is not None and c.wfile not in ("/dev/stdout", "/dev/stderr"):
            runner.wfiles.setdefault(c.wfile, [])
    files = operands or ["-"]
    status = 0
    try:
        if in_place:
            if not operands:
                await ctx.err("no input files")
                return 1
            status = await _run_in_place(ctx, runner, files, ere)
        else:
            inp = Input(ctx, files, sep, runner)
            try:
                fast = _fast_s(cmds, sep, ere)
                ffilter = _fast_filter(cmds, sep, ere)
                fast_y = _fast_y(cmds, sep, runner.quiet)
                if fast is not None and not runner.separate:
                    await run_fast_s(runner, inp, fast)
                elif fast_y is not None and not runner.separate:
                    await run_fast_y(runner, inp, fast_y)
                elif ffilter is not None and not runner.separate:
                    await run_fast_filter(runner, inp, ffilter)
                else:
                    await runner.run_all(inp)
            except _Quit as q:
                status = q.status
    except SedError as exc:
        await runner.flush()
        await ctx.err(str(exc))
        return 4
    await runner.flush()
    if runner.missing_nl:
        runner.missing_nl = False
    await runner.write_wfiles()
    if status:
        return status
    return runner.status


async def _run_in_place(ctx: Context, runner: Runner, files: list[str], ere: bool) -> int:
    status = 0
    for name in files:
        if name == "-":
            await ctx.err("couldn't edit -: not a regular file")
            runner.status = 4
            continue
        try:
            st = ctx.fs.stat(name)
        except OSError as exc:
            await ctx.err(f"can't read {name}: {exc.strerror or exc}")
            runner.status = 2
            continue
        if not st.is_file():
            await ctx.err(f"couldn't edit {name}: not a regular file")
            runner.status = 4
            continue
        runner.inplace_buf = []
        runner.missing_nl = False
        runner.lineno = 0
        inp = Input(ctx, [name], runner.sep, runner)
        quit_status: int | None = None
        try:
            await runner.run_all(inp)
        except _Quit as q:
            quit_status = q.status
        data = "".join(runner.inplace_buf).encode(ENC, ERRS)
        runner.inplace_buf = None
        runner.missing_nl = False
        try:
            if runner.suffix:
                if "*" in runner.suffix:
                    base = posixpath.basename(name)
                    bname = runner.suffix.replace("*", base)
                    if "/" not in bname:
                        bname = posixpath.join(posixpath.dirname(name), bname)
                else:
                    bname = name + runner.suffix
                ctx.fs.write_bytes(bname, ctx.fs.read_bytes(name))
            ctx.fs.write_bytes(name, data)
        except OSError as exc:
            await ctx.err(f"couldn't edit {name}: {exc.strerror or exc}")
            runner.status = 4
        if quit_status is not None:
            status = quit_status
            break
    return status


__all__ = ["sed"]
