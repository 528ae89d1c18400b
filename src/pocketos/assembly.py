"""The composition root: which commands a VM gets.

Each provider lists the modules that define its commands and the names each defines, so a
VM's command table is built without importing any command: a module is imported the first
time one of its commands runs. :func:`command_table` assembles a table from providers (by
name, or any :class:`~pocketos.kernel.commands.CommandSource`, or a plain mapping of name to
function); ``AsyncVM(commands=...)`` takes the same spec, so a test can build a VM with
exactly the commands it needs. The kernel only ever sees the resulting table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pocketos.commands import CommandFunc, Provider
from pocketos.kernel.commands import CommandSource, CommandTable, StaticSource

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROVIDERS",
    "CommandSpec",
    "command_table",
    "default_names",
    "get_command",
    "load_all",
]

#: provider name -> provider; when two provide a name, the later one in a table wins
PROVIDERS: dict[str, Provider] = {
    # "not available yet" messages, replaced by the real commands of the providers below
    "placeholders": Provider(
        "placeholders",
        {
            "pocketos.commands.later": (
                "curl",
                "wget",
                "python",
                "python3",
                "pip",
                "pip3",
                "node",
                "js",
            )
        },
    ),
    "coreutils": Provider(
        "coreutils",
        {
            "pocketos.commands.awk": ("awk", "gawk"),
            "pocketos.commands.b64": ("base64",),
            "pocketos.commands.checksums": (
                "b2sum",
                "cksum",
                "md5sum",
                "sha1sum",
                "sha224sum",
                "sha256sum",
                "sha384sum",
                "sha512sum",
            ),
            "pocketos.commands.chmod": ("chgrp", "chmod", "chown"),
            "pocketos.commands.cmp": ("cmp",),
            "pocketos.commands.compress": (
                "bunzip2",
                "bzcat",
                "bzip2",
                "gunzip",
                "gzip",
                "unxz",
                "xz",
                "xzcat",
                "zcat",
            ),
            "pocketos.commands.cp": ("cp", "install", "mv"),
            "pocketos.commands.date": ("date",),
            "pocketos.commands.dd": ("dd", "sync"),
            "pocketos.commands.diff": ("diff",),
            "pocketos.commands.du": ("df", "du"),
            "pocketos.commands.echo": ("echo", "printf", "pwd"),
            "pocketos.commands.env": ("env", "printenv"),
            "pocketos.commands.expr": ("expr",),
            "pocketos.commands.factor": ("factor",),
            "pocketos.commands.file_cmd": ("file",),
            "pocketos.commands.find": ("find",),
            "pocketos.commands.grep": ("egrep", "fgrep", "grep"),
            "pocketos.commands.jq": ("jq",),
            "pocketos.commands.ln": ("ln",),
            "pocketos.commands.ls": ("dir", "ls"),
            "pocketos.commands.mktemp": ("mktemp",),
            "pocketos.commands.numfmt": ("numfmt",),
            "pocketos.commands.patch": ("patch",),
            "pocketos.commands.paths": ("basename", "dirname", "readlink", "realpath"),
            "pocketos.commands.rg": ("rg",),
            "pocketos.commands.rm": ("mkdir", "rm", "rmdir"),
            "pocketos.commands.sed": ("sed",),
            "pocketos.commands.seq": ("seq", "yes"),
            "pocketos.commands.sleep": ("sleep", "timeout"),
            "pocketos.commands.split": ("split",),
            "pocketos.commands.sqlite": ("sqlite3",),
            "pocketos.commands.stat_cmd": ("stat",),
            "pocketos.commands.sysinfo": ("hostname", "id", "nproc", "uname", "whoami"),
            "pocketos.commands.tar": ("tar",),
            "pocketos.commands.testcmd": ("[", "false", "test", "true"),
            "pocketos.commands.text_basic": ("cat", "rev", "tac", "tee"),
            "pocketos.commands.text_bin": ("hd", "hexdump", "od", "strings", "xxd"),
            "pocketos.commands.text_cols": ("fold", "nl", "paste"),
            "pocketos.commands.text_cut": ("cut",),
            "pocketos.commands.text_fmt": ("column", "fmt"),
            "pocketos.commands.text_headtail": ("head", "tail"),
            "pocketos.commands.text_join": ("comm", "join"),
            "pocketos.commands.text_sort": ("shuf", "sort"),
            "pocketos.commands.text_tabs": ("expand", "unexpand"),
            "pocketos.commands.text_tr": ("tr",),
            "pocketos.commands.text_uniq": ("uniq",),
            "pocketos.commands.text_wc": ("wc",),
            "pocketos.commands.touch": ("touch",),
            "pocketos.commands.tput": ("clear", "tput"),
            "pocketos.commands.tree": ("tree",),
            "pocketos.commands.tty": ("stty", "tty"),
            "pocketos.commands.truncate": ("truncate",),
            "pocketos.commands.which": ("which",),
            "pocketos.commands.xargs": ("xargs",),
            "pocketos.commands.yq": ("yq",),
            "pocketos.commands.zip_cmd": ("unzip", "zip"),
        },
    ),
    "shell": Provider("shell", {"pocketos.shell.command": ("bash", "sh")}),
    "wasm": Provider(
        "wasm",
        {"pocketos.wasm.commands": ("python", "python3", "pip", "pip3", "node", "js")},
    ),
    "net": Provider("net", {"pocketos.net.commands": ("curl", "wget")}),
    "tools": Provider("tools", {"pocketos.tools.commands": ("pocketos",)}),
    "sandbox": Provider("sandbox", {"pocketos.sandbox.command": ("sandbox",)}),
    "git": Provider("git", {"pocketos.git.command": ("git",)}),
}

#: the providers of a VM created without ``commands=``
DEFAULT_PROVIDERS = (
    "placeholders",
    "coreutils",
    "shell",
    "wasm",
    "net",
    "tools",
    "sandbox",
    "git",
)

#: what ``AsyncVM(commands=...)`` accepts: a table, or providers in precedence order, each a
#: provider name, a command source or a mapping of command name to function
CommandSpec = CommandTable | Iterable[str | CommandSource | Mapping[str, CommandFunc]]

_DEFAULT_SOURCES: tuple[CommandSource, ...] = tuple(PROVIDERS[n] for n in DEFAULT_PROVIDERS)


def _source(item: str | CommandSource | Mapping[str, CommandFunc], i: int) -> CommandSource:
    if isinstance(item, str):
        try:
            return PROVIDERS[item]
        except KeyError:
            known = ", ".join(PROVIDERS)
            raise ValueError(f"unknown command provider {item!r} (known: {known})") from None
    if isinstance(item, Mapping):
        return StaticSource(f"commands-{i}", item)
    if isinstance(item, CommandSource):
        return item
    raise TypeError(
        "commands= takes provider names, command sources or mappings of name to command, "
        f"not {type(item).__name__}"
    )


def command_table(spec: CommandSpec | None = None) -> CommandTable:
    """A new command table: the default providers, or those of ``spec``."""
    if spec is None:
        return CommandTable(_DEFAULT_SOURCES)
    if isinstance(spec, CommandTable):
        return CommandTable(spec.sources)
    if isinstance(spec, (str, Mapping)):
        spec = [spec]
    return CommandTable(tuple(_source(item, i) for i, item in enumerate(spec)))


_DEFAULT_NAMES: frozenset[str] = frozenset().union(*(src.names() for src in _DEFAULT_SOURCES))


def default_names() -> frozenset[str]:
    """Every command name of the default table (nothing is imported)."""
    return _DEFAULT_NAMES


def get_command(name: str) -> CommandFunc | None:
    """What ``name`` runs in a VM with the default commands."""
    return command_table().resolve(name)


def load_all() -> dict[str, CommandFunc]:
    """Import every default command now; name -> function as a default VM resolves it."""
    table = command_table()
    out: dict[str, CommandFunc] = {}
    for name in sorted(table.names()):
        fn = table.resolve(name)
        if fn is not None:
            out[name] = fn
    return out
