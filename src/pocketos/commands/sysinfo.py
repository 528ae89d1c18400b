"""System identity: uname, hostname, whoami, id and nproc."""

from __future__ import annotations

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, report
from pocketos.commands._fs import (
    q,
    show_help,
    user_maps,
)
from pocketos.commands._util import HELP, _try, parse
from pocketos.kernel.process import Context

KERNEL_RELEASE = "6.1.0-pocketos"
KERNEL_VERSION = "#1 SMP PREEMPT_DYNAMIC pocketos"
MACHINE = "x86_64"
NPROC = 2


def _hostname(ctx: Context) -> str:
    try:
        name = ctx.fs.read_text("/etc/hostname").strip()
    except OSError:
        name = ""
    return name or "pocketos"


@command("uname")
async def uname(ctx: Context) -> int:
    spec = [
        Opt("a", "all"),
        Opt("s", "kernel-name"),
        Opt("n", "nodename"),
        Opt("r", "kernel-release"),
        Opt("v", "kernel-version"),
        Opt("m", "machine"),
        Opt("p", "processor"),
        Opt("i", "hardware-platform"),
        Opt("o", "operating-system"),
        HELP,
    ]
    try:
        p = parse("uname", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: uname [OPTION]...\nPrint certain system "
            "information.  With no OPTION, same as -s.\n\n"
            "  -a, --all  -s  -n  -r  -v  -m  -p  -i  -o\n",
        )
    if p.operands:
        return await report(
            ctx, UsageError(f"uname: extra operand {q(p.operands[0])}\n{_try('uname')}")
        )
    fields = [
        ("s", "Linux"),
        ("n", _hostname(ctx)),
        ("r", KERNEL_RELEASE),
        ("v", KERNEL_VERSION),
        ("m", MACHINE),
        ("p", MACHINE),
        ("i", MACHINE),
        ("o", "GNU/Linux"),
    ]
    if p.flag("a"):
        chosen = [v for k, v in fields if k not in ("p", "i")]
    else:
        chosen = [v for k, v in fields if p.flag(k)]
        if not chosen:
            chosen = ["Linux"]
    await ctx.out(" ".join(chosen) + "\n")
    return 0


@command("hostname")
async def hostname(ctx: Context) -> int:
    spec = [
        Opt("s", "short"),
        Opt("f", "fqdn"),
        Opt("", "long", dest="f"),
        Opt("i", "ip-address"),
        Opt("I", "all-ip-addresses"),
        Opt("d", "domain"),
        HELP,
    ]
    try:
        p = parse("hostname", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx, "Usage: hostname [-s|-f|-i|-I|-d]\nShow the VM's host name (from /etc/hostname).\n"
        )
    if p.operands:
        await ctx.err("you must be root to change the host name")
        return 1
    name = _hostname(ctx)
    if p.flag("i") or p.flag("I"):
        await ctx.out("127.0.0.1\n")
    elif p.flag("d"):
        await ctx.out(name.partition(".")[2] + "\n")
    elif p.flag("s"):
        await ctx.out(name.split(".")[0] + "\n")
    else:
        await ctx.out(name + "\n")
    return 0


def _identity(ctx: Context) -> tuple[str, int, int]:
    """(user name, uid, gid) of the current user: $USER if known, else uid 1000."""
    uids, unames, _, _ = user_maps(ctx.fs)
    name = ctx.env.get("USER") or ctx.env.get("LOGNAME") or ""
    uid = unames.get(name)
    if uid is None:
        uid = 1000
        name = uids.get(uid, name or "user")
    gid = uid
    try:
        for line in ctx.fs.read_text("/etc/passwd").splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == name and parts[3].isdigit():
                gid = int(parts[3])
                break
    except OSError:
        pass
    return name, uid, gid


@command("whoami")
async def whoami(ctx: Context) -> int:
    try:
        p = parse("whoami", ctx.argv[1:], [HELP])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(ctx, "Usage: whoami\nPrint the user name of the current user.\n")
    if p.operands:
        return await report(
            ctx, UsageError(f"whoami: extra operand {q(p.operands[0])}\n{_try('whoami')}")
        )
    await ctx.out(_identity(ctx)[0] + "\n")
    return 0


@command("id")
async def id_cmd(ctx: Context) -> int:
    spec = [
        Opt("u", "user"),
        Opt("g", "group"),
        Opt("G", "groups"),
        Opt("n", "name"),
        Opt("r", "real"),
        Opt("z", "zero"),
        HELP,
    ]
    try:
        p = parse("id", ctx.argv[1:], spec)
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: id [OPTION]... [USER]...\n"
            "Print user and group information for each specified USER,\n"
            "or (when USER omitted) for the current user.\n\n"
            "  -g, --group  -G, --groups  -n, --name  -r, --real  "
            "-u, --user\n",
        )
    uids, unames, gids, _ = user_maps(ctx.fs)
    targets: list[tuple[str, int, int]] = []
    if p.operands:
        for who in p.operands:
            uid = unames.get(who)
            if uid is None and who.isdigit() and int(who) in uids:
                uid = int(who)
                who = uids[uid]
            if uid is None:
                await ctx.err(f"{q(who)}: no such user")
                return 1
            gid = uid
            try:
                for line in ctx.fs.read_text("/etc/passwd").splitlines():
                    parts = line.split(":")
                    if len(parts) > 3 and parts[0] == who and parts[3].isdigit():
                        gid = int(parts[3])
            except OSError:
                pass
            targets.append((who, uid, gid))
    else:
        targets.append(_identity(ctx))
    modes = sum(p.flag(k) for k in ("u", "g", "G"))
    if modes > 1:
        await ctx.err('cannot print "only" of more than one choice')
        return 1
    if (p.flag("n") or p.flag("r")) and not modes:
        await ctx.err("cannot print only names or real IDs in default format")
        return 1
    lines = []
    for name, uid, gid in targets:
        groups = [gid]
        try:
            for line in ctx.fs.read_text("/etc/group").splitlines():
                parts = line.split(":")
                if len(parts) > 3 and parts[2].isdigit() and name in parts[3].split(","):
                    g = int(parts[2])
                    if g not in groups:
                        groups.append(g)
        except OSError:
            pass
        if p.flag("u"):
            lines.append(name if p.flag("n") else str(uid))
        elif p.flag("g"):
            lines.append(gids.get(gid, str(gid)) if p.flag("n") else str(gid))
        elif p.flag("G"):
            sep = "\0" if p.flag("z") else " "
            lines.append(sep.join(gids.get(g, str(g)) if p.flag("n") else str(g) for g in groups))
        else:
            gtext = ",".join(f"{g}({gids.get(g, str(g))})" for g in groups)
            lines.append(f"uid={uid}({name}) gid={gid}({gids.get(gid, str(gid))}) groups={gtext}")
    end = "\0" if p.flag("z") else "\n"
    await ctx.out("".join(line + end for line in lines))
    return 0


@command("nproc")
async def nproc(ctx: Context) -> int:
    try:
        p = parse("nproc", ctx.argv[1:], [Opt("", "all"), Opt("", "ignore", "required"), HELP])
    except UsageError as e:
        return await report(ctx, e)
    if p.flag("help"):
        return await show_help(
            ctx,
            "Usage: nproc [OPTION]...\nPrint the number of processing "
            f"units available (always {NPROC} in the VM).\n\n"
            "      --all       print the number of installed "
            "processors\n      --ignore=N  if possible, exclude N "
            "processing units\n",
        )
    if p.operands:
        return await report(
            ctx, UsageError(f"nproc: extra operand {q(p.operands[0])}\n{_try('nproc')}")
        )
    n = NPROC
    ign = p.str("ignore")
    if ign is not None:
        if not ign.isdigit():
            await ctx.err(f"invalid number: {q(ign)}")
            return 1
        n = max(1, n - int(ign))
    await ctx.out(f"{n}\n")
    return 0
