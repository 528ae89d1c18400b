"""awk / gawk: the awk language (POSIX plus common gawk extensions).

The program is parsed once and compiled to Python source (one coroutine per BEGIN, main and
END part and per user function); records are read streaming from stdin or files through
``ctx.fs``; pipes and ``system()`` run ``sh -c`` as child processes.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse, report
from pocketos.commands._awk.blocks import BlockPlan, increment
from pocketos.commands._awk.compiler import CompiledProgram, compile_program
from pocketos.commands._awk.lexer import AwkSyntaxError, unescape
from pocketos.commands._awk.parser import parse_program
from pocketos.commands._awk.runtime import BIG_STRING, AwkExit, NextFile, NextRecord, Runtime
from pocketos.commands._awk.values import (
    UNINIT,
    AwkArray,
    AwkFatal,
    StrNum,
    cmp_eq,
    cmp_ge,
    cmp_gt,
    cmp_le,
    cmp_lt,
    cmp_ne,
    num,
    strnum_value,
    truth,
)
from pocketos.kernel.budget import check_alloc
from pocketos.kernel.process import Context

__all__ = ["awk"]

USAGE = """\
Usage: awk [POSIX or GNU style options] -f progfile [--] file ...
Usage: awk [POSIX or GNU style options] [--] 'program' file ...
POSIX options:          GNU long options: (standard)
        -f progfile             --file=progfile
        -F fs                   --field-separator=fs
        -v var=val              --assign=var=val
Short options:          GNU long options: (extensions)
        -e 'program-text'       --source='program-text'
        -V                      --version
        -h                      --help
"""

VERSION = "GNU Awk 5.2.1 compatible (pocketos awk)\n"

_SPEC = [
    Opt("F", "field-separator", arg="required", dest="F"),
    Opt("v", "assign", arg="required", dest="v", multiple=True),
    Opt("f", "file", arg="required", dest="f", multiple=True),
    Opt("e", "source", arg="required", dest="e", multiple=True),
    Opt("h", "help", dest="help"),
    Opt("V", "version", dest="version"),
    Opt("b", "characters-as-bytes", dest="bytes"),
    Opt("P", "posix", dest="posix"),
    Opt("r", "re-interval", dest="reinterval"),
    Opt("S", "sandbox", dest="sandbox"),
    Opt("L", "lint", arg="optional", dest="lint"),
    Opt("O", "optimize", dest="optimize"),
    Opt("c", "traditional", dest="traditional"),
    Opt("N", "use-lc-numeric", dest="lcnumeric"),
]

_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=", re.DOTALL)
_code_cache: dict[tuple[str, bool], CompiledProgram] = {}


def _cat(*parts: str) -> str:
    """Concatenation; a long result is checked against the memory budget before it is made
    (``s = s s`` doubles a string until the host runs out of memory)."""
    n = 0
    for p in parts:
        n += len(p)
    if n > 65536:
        check_alloc(n, "awk: string")
        note = BIG_STRING.get()
        if note is not None:
            note(n)
    return "".join(parts)


def _div(a: float, b: float) -> float:
    if b == 0.0:
        raise AwkFatal("division by zero attempted")
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0.0:
        raise AwkFatal("division by zero attempted in `%'")
    return math.fmod(a, b)


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or float(b).is_integer() and int(b) % 2 == 0 else -math.inf
    except ValueError:
        if a == 0.0:
            return math.inf
        return -math.nan


def _int(x: float) -> float:
    if math.isfinite(x):
        return float(int(x))
    return x


def _toint(x: float) -> int:
    if not math.isfinite(x):
        return 0
    n = int(x)
    return n if n >= 0 else n & 0xFFFFFFFFFFFFFFFF


def _aset(a: AwkArray, k: str, v: Any) -> Any:
    a[k] = v
    return v


def _inca(a: AwkArray, k: str, d: float, post: bool) -> float:
    old = num(a[k])
    a[k] = old + d
    return old if post else old + d


def _typeof(v: Any) -> str:
    if v is UNINIT:
        return "untyped"
    if v.__class__ is float:
        return "number"
    if v.__class__ is StrNum:
        return "strnum" if strnum_value(v) is not None else "string"
    return "string"


def _exit(code: float | None) -> AwkExit:
    if code is None:
        return AwkExit(None)
    return AwkExit(int(code) & 0xFF if math.isfinite(code) else 0)


def _build_globals(
    rt: Runtime, cp: CompiledProgram, argv: list[str], env: dict[str, str]
) -> dict[str, Any]:
    G: dict[str, Any] = {
        "_U": UNINIT,
        "_SN": StrNum,
        "_Arr": AwkArray,
        "_num": num,
        "_str": rt.tostr,
        "_outs": rt.tostr_out,
        "_truth": truth,
        "_cmp_lt": cmp_lt,
        "_cmp_le": cmp_le,
        "_cmp_gt": cmp_gt,
        "_cmp_ge": cmp_ge,
        "_cmp_eq": cmp_eq,
        "_cmp_ne": cmp_ne,
        "_div": _div,
        "_cat": _cat,
        "_mod": _mod,
        "_pow": _pow,
        "_INF": math.inf,
        "_getf": rt.getf,
        "_getfs": rt.getfs,
        "_getfn": rt.getfn,
        "_getnf": rt.getnf,
        "_setnf": rt.setnf,
        "_setf": rt.setf,
        "_rec": rt.get0,
        "_fidx": rt.fidx,
        "_setsp": rt.setsp,
        "_incf": rt.incf,
        "_touchf": rt.touchf,
        "_aset": _aset,
        "_inca": _inca,
        "_ob": rt.ob,
        "_flush": rt.flush,
        "_redir": rt.redirect,
        "_tick": rt.tick,
        "_NextRecord": NextRecord,
        "_NextFile": NextFile,
        "_Exit": _exit,
        "_dynre": rt.dynre,
        "_rmatch": rt.rmatch,
        "_substr": rt.substr,
        "_split": rt.split,
        "_patsplit": rt.patsplit,
        "_fpat": rt.fpat,
        "_subst": rt.subst,
        "_match": rt.match,
        "_sprintf": rt.sprintf,
        "_gensub": rt.gensub,
        "_tolower": rt.tolower,
        "_toupper": rt.toupper,
        "_m_sin": math.sin,
        "_m_cos": math.cos,
        "_m_atan2": math.atan2,
        "_m_exp": rt.exp,
        "_m_log": rt.log,
        "_m_sqrt": rt.sqrt,
        "_m_int": _int,
        "_m_compl": lambda x: float(~_toint(x) & 0x1FFFFFFFFFFFFF),
        "_m_and": lambda *a: float(_reduce(lambda x, y: x & y, a)),
        "_m_or": lambda *a: float(_reduce(lambda x, y: x | y, a)),
        "_m_xor": lambda *a: float(_reduce(lambda x, y: x ^ y, a)),
        "_m_lshift": lambda a, b: float(_toint(a) << _toint(b)),
        "_m_rshift": lambda a, b: float(_toint(a) >> _toint(b)),
        "_rand": rt.rand,
        "_srand": rt.srand,
        "_systime": rt.systime,
        "_mktime": rt.mktime,
        "_strftime": rt.strftime,
        "_strtonum": rt.strtonum,
        "_close": rt.close,
        "_fflush": rt.fflush,
        "_system": rt.system,
        "_typeof": _typeof,
        "_asort": rt.asort,
        "_keys": rt.keys,
        "_glv": lambda: rt.glv,
        "_gl_main": rt.getline_main,
        "_gl_file": rt.getline_file,
        "_gl_cmd": rt.getline_cmd,
    }
    G.update(cp.consts)
    for name in cp.global_names:
        G["V_" + name] = AwkArray() if name in cp.global_arrays else UNINIT
    for name in cp.global_arrays:
        G.setdefault("V_" + name, AwkArray())
    G.update(
        {
            "V_FS": " ",
            "V_OFS": " ",
            "V_ORS": "\n",
            "V_RS": "\n",
            "V_SUBSEP": "\x1c",
            "V_CONVFMT": "%.6g",
            "V_OFMT": "%.6g",
            "V_NR": 0.0,
            "V_FNR": 0.0,
            "V_FILENAME": "",
            "V_RSTART": 0.0,
            "V_RLENGTH": 0.0,
            "V_RT": "",
            "V_ARGC": float(len(argv)),
        }
    )
    av = G["V_ARGV"] = AwkArray()
    for i, a in enumerate(argv):
        av[str(i)] = StrNum(a)
    envarr = G["V_ENVIRON"] = AwkArray()
    for k, v in env.items():
        envarr[k] = StrNum(v)
    proc = G.setdefault("V_PROCINFO", AwkArray())
    proc["version"] = "5.2.1"
    proc["FS"] = "FS"
    return G


def _reduce(fn: Any, args: tuple[float, ...]) -> int:
    acc = _toint(args[0])
    for a in args[1:]:
        acc = fn(acc, _toint(a))
    return acc


def _syntax_message(name: str, exc: AwkSyntaxError, where: str) -> str:
    if exc.source and exc.line and not exc.fatal:
        lines = exc.source.split("\n")
        text = lines[exc.line - 1] if exc.line - 1 < len(lines) else ""
        prefix = f"{name}: {where}:{exc.line}: "
        msg = exc.message
        if msg == "syntax error":
            return f"{prefix}{text}\n{prefix}{' ' * exc.col}^ {msg}\n"
        return f"{prefix}{text}\n{prefix}{' ' * exc.col}^ {msg}\n"
    return f"{name}: {where}:1: fatal: {exc.message}\n"


@command("awk", "gawk")
async def awk(ctx: Context) -> int:
    name = ctx.name
    try:
        opts = parse(name, ctx.argv[1:], _SPEC, stop_at_operand=True, status=1)
    except UsageError as e:
        e.message = e.message.split("\n")[0] + "\n" + USAGE.replace("awk", name).rstrip("\n")
        return await report(ctx, e)
    if opts.flag("help"):
        await ctx.out(USAGE.replace("awk", name))
        return 0
    if opts.flag("version"):
        await ctx.out(VERSION)
        return 0
    operands = list(opts.operands)
    sources: list[str] = []
    where = "cmd. line"
    progfiles = opts.list("f")
    for pf in progfiles:
        try:
            if pf in ("-", "/dev/stdin"):
                data = await ctx.stdin.read()
            else:
                data = ctx.fs.read_bytes(pf)
        except OSError as exc:
            await ctx.stderr.write(
                f"{name}: fatal: can't open source file `{pf}' for reading: "
                f"{exc.strerror or exc}\n".encode("utf-8", "surrogateescape")
            )
            return 2
        sources.append(data.decode("latin-1"))
        where = pf
    sources += [str(e).encode("utf-8", "surrogateescape").decode("latin-1") for e in opts.list("e")]
    if not sources:
        if not operands:
            await ctx.stderr.write(USAGE.replace("awk", name).encode())
            return 1
        sources.append(operands.pop(0).encode("utf-8", "surrogateescape").decode("latin-1"))
    env = ctx.env
    loc = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    utf8 = ("UTF-8" in loc.upper() or "UTF8" in loc.upper()) and not opts.flag("bytes")
    codec = "utf-8" if utf8 else "latin-1"
    src = "\n".join(sources)
    if utf8:
        src = src.encode("latin-1").decode("utf-8", "surrogateescape")
    key = (src, not utf8)
    cp = _code_cache.get(key)
    if cp is None:
        try:
            prog = parse_program(src)
            cp = compile_program(prog, byte_chars=not utf8)
        except AwkSyntaxError as exc:
            msg = _syntax_message(name, exc, where)
            await ctx.stderr.write(msg.encode(codec, "surrogateescape"))
            return 2 if exc.fatal else 1
        except (RecursionError, SyntaxError, MemoryError, ValueError):
            await ctx.stderr.write(f"{name}: fatal: program too deeply nested\n".encode())
            return 2
        if len(_code_cache) > 64:
            _code_cache.clear()
        _code_cache[key] = cp

    def dec(s: str) -> str:
        return s.encode("utf-8", "surrogateescape").decode(codec, "surrogateescape")

    for w in cp.warnings:
        await ctx.stderr.write(f"{name}: {where}:1: {w}\n".encode(codec, "surrogateescape"))
    rt = Runtime(ctx, {}, codec, name)
    G = _build_globals(
        rt, cp, [name] + [dec(a) for a in operands], {dec(k): dec(v) for k, v in env.items()}
    )
    rt.G = G
    rt.uses_rt = cp.uses_rt
    rt.split_limit = cp.split_limit
    exec(cp.code, G)
    try:
        fs = opts.str("F")
        if fs is not None:
            fs = dec(fs)
            rt.setsp("FS", unescape(fs))
        for assign in opts.list("v"):
            assign = dec(assign)
            if not _ASSIGN.match(assign):
                await ctx.stderr.write(
                    f"{name}: `{assign}' argument to `-v' not in `var=value' form\n\n".encode(
                        codec, "surrogateescape"
                    )
                    + USAGE.replace("awk", name).encode()
                )
                return 1
            rt.assign_operand(assign)
    except AwkFatal as exc:
        await rt.warn(f"fatal: {exc.message}")
        return 2
    try:
        return await _execute(ctx, cp, rt, G)
    finally:
        rt.cancel_children()
        rt.held_arrays.close()


async def _execute(ctx: Context, cp: CompiledProgram, rt: Runtime, G: dict[str, Any]) -> int:
    status = 0
    try:
        try:
            await G["_begin"]()
            if cp.has_main or cp.has_end:
                if cp.has_beginfile:
                    rt.beginfile = G["_beginfile"]
                if cp.has_endfile:
                    rt.endfile = G["_endfile"]
                plan = cp.block_plan
                if plan is not None and _blocks_apply(plan, G):
                    await _block_loop(rt, G, plan)
                else:
                    await _main_loop(ctx, rt, G)
        except AwkExit as e:
            if e.code is not None:
                rt.exit_code = e.code
        try:
            await G["_end"]()
        except AwkExit as e:
            if e.code is not None:
                rt.exit_code = e.code
        status = rt.exit_code
    except (NextRecord, NextFile):
        await _fatal(rt, G, AwkFatal("`next' called from BEGIN or END"))
        status = 2
    except AwkFatal as exc:
        await _fatal(rt, G, exc)
        status = 2
    except RecursionError:
        await _fatal(rt, G, AwkFatal("function call nesting too deep"))
        status = 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        await _fatal(rt, G, AwkFatal(exc.strerror or str(exc), False))
        status = 2
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        ArithmeticError,
        re.error,
    ) as exc:
        await _fatal(rt, G, AwkFatal(f"internal error: {type(exc).__name__}: {exc}"))
        status = 2
    try:
        await rt.close_all()
    except AwkFatal as exc:
        await _fatal(rt, G, exc)
        status = 2
    return status


async def _fatal(rt: Runtime, G: dict[str, Any], exc: AwkFatal) -> None:
    if not exc.located:
        await rt.warn(f"fatal: {exc.message}")
        return
    where = ""
    fnr = G.get("V_FNR", 0.0)
    if isinstance(fnr, float) and fnr > 0:
        where = f"(FILENAME={rt.tostr(G.get('V_FILENAME', ''))} FNR={rt.tostr(fnr)}) "
    await rt.warn(f"cmd. line:1: {where}fatal: {exc.message}")


def _blocks_apply(plan: BlockPlan, G: dict[str, Any]) -> bool:
    """Whether the block plan holds for the whole input: records end at newlines and fields
    split as the plan can, and no operand assignment (``FS=: file``) can change that."""
    if G["V_RS"] != "\n" or not plan.handles_fs(G["V_FS"]):
        return False
    argv = G["V_ARGV"]
    for i in range(1, int(num(G["V_ARGC"]))):
        v = argv.get(str(i))
        if v is not None and v.__class__ is not AwkArray and _ASSIGN.match(str(v)):
            return False
    return True


async def _block_loop(rt: Runtime, G: dict[str, Any], plan: BlockPlan) -> None:
    """The main rule over whole blocks of records (see BlockPlan), one deadline and memory
    check per block."""
    fs = G["V_FS"]
    batch_main = G["_main_batch"]
    while True:
        blk = await rt.next_block()
        if blk is None:
            return
        r = rt.main_reader
        assert r is not None
        nrec = blk.count("\n") + 1
        if plan.run(G, blk, nrec, fs, rt.ob):
            G["V_NR"] = increment(num(G["V_NR"]), nrec)
            G["V_FNR"] = increment(num(G["V_FNR"]), nrec)
            if rt.uses_rt:
                G["V_RT"] = r.rt
            rt.rec = blk[blk.rfind("\n") + 1 :]
            rt.fields = None
            rt.dirty = False
            rt.split_fs = fs
        else:
            r.batch = blk.split("\n")
            r.bi = 0
            await batch_main(r, r.batch, rt)
            if rt.uses_rt:
                G["V_RT"] = r.rt
        if rt.ob:
            await rt.flush()
        await rt.tick()


async def _main_loop(ctx: Context, rt: Runtime, G: dict[str, Any]) -> None:
    main = G["_main"]
    batch_main = G.get("_main_batch")
    uses_rt = rt.uses_rt
    n = 0
    while True:
        r = rt.main_reader
        if r is not None and r.bi < len(r.batch) and G["V_RS"] == "\n":
            if batch_main is not None:
                # the compiled loop over the whole batch (see Compiler.batch_function)
                try:
                    await batch_main(r, r.batch, rt)
                except NextFile:
                    await rt.skip_file()
                continue
            # fast path: a batch of newline-terminated records is already split
            batch = r.batch
            while r.bi < len(batch):
                rec = batch[r.bi]
                r.bi += 1
                G["V_NR"] += 1.0
                G["V_FNR"] += 1.0
                if uses_rt:
                    G["V_RT"] = "\n"
                rt.rec = rec
                rt.fields = None
                rt.dirty = False
                rt.split_fs = G["V_FS"]
                try:
                    await main()
                except NextRecord:
                    pass
                except NextFile:
                    await rt.skip_file()
                    break
                n += 1
                if not n & 1023:
                    await rt.tick()
                if rt.main_reader is not r or G["V_RS"] != "\n" or r.batch is not batch:
                    break
            continue
        rec2 = await rt.next_main()
        if rec2 is None:
            break
        rt.rec = rec2
        rt.fields = None
        rt.dirty = False
        rt.split_fs = G["V_FS"]
        try:
            await main()
        except NextRecord:
            pass
        except NextFile:
            await rt.skip_file()
        n += 1
        if not n & 1023:
            await rt.tick()
