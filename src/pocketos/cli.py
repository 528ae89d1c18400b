"""The pocketos command line: ``pocketos`` or ``python -m pocketos``.

Subcommands: ``shell`` (interactive), ``exec`` and ``run`` (one script in a fresh VM),
``snapshot export|import|inspect``, ``warmup``, ``bench``, ``agent``, ``demo`` and ``version``.
``shell``, ``exec``, ``run`` and ``snapshot export`` share the VM options (mounts, policy,
network allow rules, environment, limits, snapshots, cwd, timeout); see docs/cli.md.

Errors are one line on stderr (``pocketos: error: ...``): status 2 for a malformed command
line, 1 for everything else. ``--debug`` shows the traceback of an unexpected failure.

The subcommands live by concept: the VM options and ``exec``/``run`` in
:mod:`pocketos.cli_vm`, ``shell`` in :mod:`pocketos.cli_shell`, ``snapshot`` in
:mod:`pocketos.cli_snapshot`, ``workspace``, ``sessions`` and ``serve`` in their own
``cli_*`` modules, errors and the parser class in :mod:`pocketos.cli_base`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketos.cli_base import PROG, CLIError, _Parser
from pocketos.cli_sandbox import add_sandbox_parser
from pocketos.cli_shell import InteractiveShell as InteractiveShell
from pocketos.cli_shell import _incomplete as _incomplete
from pocketos.cli_shell import cmd_shell
from pocketos.cli_snapshot import cmd_snapshot_export, cmd_snapshot_import, cmd_snapshot_inspect
from pocketos.cli_vm import (
    _add_script_arguments,
    _add_vm_options,
    cmd_exec,
    cmd_run,
    load_policy,
    parse_limit,
    parse_mount,
    vm_store_dir,
)
from pocketos.cli_vm import _with_network_rules as _with_network_rules

__all__ = [
    "main",
    "CLIError",
    "build_parser",
    "parse_mount",
    "parse_limit",
    "load_policy",
    "vm_store_dir",
]

DEMO = r"""
mkdir -p /home/user/demo && cd /home/user/demo
printf 'apple 3\nbanana 7\ncherry 5\napple 2\n' > fruit.txt
echo "== totals per fruit"
awk '{s[$1]+=$2} END {for (f in s) print f, s[f]}' fruit.txt | sort
echo "== the biggest"
sort -k2 -n -r fruit.txt | head -n 1
echo "== files"
ls -l | tail -n +2 | awk '{print $1, $5, $NF}'
echo "== python3 in WebAssembly (the first use compiles the runtime once, 1-2 minutes)"
python3 -c 'import statistics, sys; n = [int(l.split()[1]) for l in open("fruit.txt")]; print("mean", statistics.mean(n), "on", sys.platform)'
"""


def cmd_demo(args: argparse.Namespace) -> int:
    from pocketos import VM

    with VM() as vm:
        r = vm.exec(DEMO)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.exit_code


def cmd_version(args: argparse.Namespace) -> int:
    from pocketos import __version__

    print(f"pocketos {__version__}")
    return 0


# --- warmup, bench, agent --------------------------------------------------------------------
class _ProgressSink(io.TextIOBase):
    """A text stream that shows each line the warmup writes on a spinner (or plain)."""

    def __init__(self, update: Callable[[str], None]) -> None:
        self._buf = ""
        self._update = update

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line.strip():
                self._update(line.strip())
        return len(s)

    def flush(self) -> None:
        pass


def cmd_warmup(args: argparse.Namespace) -> int:
    from pocketos.wasm import warmup

    kw: dict[str, Any] = {"python": not args.no_python, "js": not args.no_js, "fuel": args.fuel}
    if not (kw["python"] or kw["js"]):
        raise CLIError("nothing to warm up (both --no-python and --no-js given)", 2)
    console: Any = None
    if not args.plain and sys.stderr.isatty():
        try:
            from rich.console import Console

            console = Console(stderr=True)
        except ImportError:
            console = None
    try:
        if console is not None:
            with console.status("pocketos: warming up the wasm runtimes...") as status:

                def show(line: str) -> None:
                    console.log(line)
                    status.update(f"pocketos: {line}")

                done = warmup(progress=_ProgressSink(show), **kw)  # type: ignore[arg-type]
        else:

            def plain(line: str) -> None:
                print(f"pocketos: {line}", file=sys.stderr, flush=True)

            done = warmup(progress=_ProgressSink(plain), **kw)  # type: ignore[arg-type]
    except RuntimeError as exc:
        raise CLIError(f"warmup failed: {exc}")
    missing = [name for name, ok in done.items() if not ok]
    for name in sorted(done):
        label = {"python": "python3", "js": "node"}.get(name, name)
        print(f"{label}: {'ready' if done[name] else 'not available (package not installed)'}")
    return 1 if missing else 0


def _source_tree() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "bench" / "run.py").is_file() else None


def cmd_bench(args: argparse.Namespace) -> int:
    root = _source_tree()
    if root is None:
        raise CLIError(
            "the benchmark suite is not installed: it lives in the source tree "
            "(bench/); run 'python -m bench.run' from a checkout"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    loaded = sys.modules.get("bench")
    if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(str(root)):
        for name in [m for m in sys.modules if m == "bench" or m.startswith("bench.")]:
            del sys.modules[name]
    try:
        mod = importlib.import_module("bench.run")
    except ImportError as exc:
        raise CLIError(f"cannot load the benchmark suite from {root / 'bench'}: {exc}")
    return _delegate(mod, list(args.bench_args))


def cmd_agent(args: argparse.Namespace) -> int:
    try:
        spec = importlib.util.find_spec("pocketos.agent.cli")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        raise CLIError(
            "the pocketos agent is not available in this installation "
            "(pocketos.agent.cli is missing)"
        )
    mod = importlib.import_module("pocketos.agent.cli")
    return _delegate(mod, list(args.agent_args))


def _delegate(mod: Any, argv: list[str]) -> int:
    """Run ``mod.main`` on what followed the subcommand (a leading ``--`` dropped); a
    SystemExit it raises becomes the status."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    try:
        return int(mod.main(argv) or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def cmd_acp(args: argparse.Namespace) -> int:
    from pocketos.agent.acp_server import main as acp_main

    return acp_main(list(args.acp_args))


# --- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog=PROG,
        description="pocketos: an operating system for AI agents, "
        "in-process. Each command runs in a fresh VM.",
    )
    ap.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    ap.add_argument(
        "--remote",
        metavar="URL",
        help="run exec, shell or agent on a pocketos server (see 'pocketos --remote URL --help')",
    )
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "shell",
        help="an interactive shell in a VM",
        description="An interactive bash-compatible shell in a VM. Ctrl-C "
        "interrupts the running command, Ctrl-D exits.",
    )
    p.add_argument(
        "--persist",
        metavar="FILE",
        help="load the VM from FILE if it exists and save it there on exit",
    )
    p.add_argument(
        "--vm",
        metavar="NAME",
        help="a durable VM: its files, env and cwd are kept in a workspace store",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="the workspace store of --vm (default $POCKETOS_WORKSPACES or "
        "~/.local/share/pocketos/workspaces)",
    )
    p.add_argument(
        "--host-mounts",
        action="store_true",
        help="with --vm: mount again the host folders the VM had mounted (the store is "
        "trusted to name them)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "-i",
        "--interactive",
        dest="interactive",
        action="store_true",
        default=None,
        help="prompt and line editing even if stdin is not a tty",
    )
    mode.add_argument(
        "--batch",
        dest="interactive",
        action="store_false",
        help="read commands from stdin without prompts",
    )
    p.add_argument("--no-history", action="store_true", help="do not load or save history")
    _add_vm_options(p)
    p.set_defaults(func=cmd_shell)

    p = sub.add_parser(
        "exec",
        help="run a bash script in a fresh VM",
        description="Run SCRIPT (bash) in a fresh VM; ARGs become $1...; '-' "
        "reads the script from stdin. stdout, stderr and the exit "
        "status pass through.",
    )
    _add_script_arguments(p, "script", "SCRIPT", cmd_exec)

    p = sub.add_parser(
        "run",
        help="run a host script file in a fresh VM",
        description="Run the host file FILE (bash) in a fresh VM with ARGs as $1...",
    )
    _add_script_arguments(p, "file", "FILE", cmd_run)

    p = sub.add_parser(
        "snapshot",
        help="export, import or inspect snapshots",
        description="Snapshots: a deterministic, content-addressed file holding a VM's tree.",
    )
    ssub = p.add_subparsers(dest="snapcmd", metavar="ACTION", parser_class=_Parser, required=True)
    s = ssub.add_parser("export", help="write a snapshot of a fresh VM (after --exec)")
    s.add_argument("output", metavar="OUT")
    s.add_argument("--exec", metavar="SCRIPT", help="run SCRIPT first (its output goes to stderr)")
    s.add_argument("--path", default="/", help="the subtree to export (default /)")
    s.add_argument("--force", action="store_true", help="write even if --exec fails")
    _add_vm_options(s)
    s.set_defaults(func=cmd_snapshot_export)
    s = ssub.add_parser("import", help="load a snapshot into a VM and list its entries")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--json", action="store_true", help="print the listing as JSON")
    s.set_defaults(func=cmd_snapshot_import)
    s = ssub.add_parser("inspect", help="print a snapshot's summary")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(func=cmd_snapshot_inspect)

    p = sub.add_parser(
        "warmup",
        help="precompile the Python and JavaScript runtimes",
        description="Compile the wasm runtimes into the module cache so that "
        "a first python3/node run is fast.",
    )
    p.add_argument("--no-python", action="store_true", help="skip the Python runtime")
    p.add_argument("--no-js", action="store_true", help="skip the JavaScript runtime")
    p.add_argument("--fuel", action="store_true", help="also build the fuel-metered variants")
    p.add_argument("--plain", action="store_true", help="plain progress lines, no spinner")
    p.set_defaults(func=cmd_warmup)

    from pocketos.cli_workspace import add_workspace_parser

    add_workspace_parser(sub, _Parser)

    from pocketos.cli_sessions import add_sessions_parser

    add_sessions_parser(sub, _Parser)

    from pocketos.cli_server import add_serve_parser

    add_serve_parser(sub, _Parser)

    p = sub.add_parser("bench", help="run the benchmark suite (source tree only)", add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("agent", help="run the pocketos agent on a prompt", add_help=False)
    p.add_argument("agent_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser(
        "acp", help="serve the sandboxed pocketos agent to an editor over ACP", add_help=False
    )
    p.add_argument("acp_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_acp)

    add_sandbox_parser(sub)
    p = sub.add_parser("demo", help="run a short demo in a fresh VM")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)
    return ap


#: options of ``exec``/``run`` that take a value (to find where SCRIPT/FILE starts)
_VALUE_OPTS = frozenset(
    [
        "--mount",
        "--allow-net",
        "--env",
        "--policy",
        "--limit",
        "--from-snapshot",
        "--snapshot-out",
        "--cwd",
        "--timeout",
        "--isolation",
    ]
)


def _split_script_args(argv: list[str]) -> list[str]:
    """For ``exec``/``run``: everything after SCRIPT/FILE is an argument of the script, even
    when it looks like an option, so insert ``--`` before SCRIPT (like ``bash -c``)."""
    i = 0
    while i < len(argv) and argv[i] == "--debug":
        i += 1
    if i >= len(argv) or argv[i] not in ("exec", "run"):
        return argv
    name = argv[i]
    j = i + 1
    while j < len(argv):
        a = argv[j]
        if a == "--":
            if j + 1 >= len(argv):
                break
            return argv
        if a in ("-h", "--help"):
            return argv
        if a in _VALUE_OPTS:
            j += 2
            continue
        if a.startswith("--") and a.split("=", 1)[0] in _VALUE_OPTS:
            j += 1
            continue
        if a == "--json":
            j += 1
            continue
        if a.startswith("--"):
            raise CLIError(f"{name}: unrecognized option '{a}' (see '{PROG} {name} --help')", 2)
        if a.startswith("-") and a != "-":
            raise CLIError(f"{name}: invalid option -- '{a[1:2]}' (see '{PROG} {name} --help')", 2)
        return argv[:j] + ["--"] + argv[j:]
    what = "SCRIPT" if name == "exec" else "FILE"
    raise CLIError(f"{name}: missing {what} (see '{PROG} {name} --help')", 2)


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = (
        "--debug" in args_list[: args_list.index("--")]
        if "--" in args_list
        else "--debug" in args_list
    )
    try:
        from pocketos.cli_remote import wants_remote

        if wants_remote(args_list):
            from pocketos.cli_remote import main as remote_main

            return remote_main(args_list)
        args_list = _split_script_args(args_list)
        ap = build_parser()
        rest = [a for a in args_list if a != "--debug"]
        if rest and rest[0] == "acp":
            from pocketos.agent.acp_server import main as acp_main

            return acp_main(args_list[args_list.index("acp") + 1 :])
        if rest and rest[0] in ("bench", "agent"):
            # everything after the name belongs to the delegate, options included
            i = args_list.index(rest[0])
            ns = argparse.Namespace(
                debug=debug, bench_args=args_list[i + 1 :], agent_args=args_list[i + 1 :]
            )
            return cmd_bench(ns) if rest[0] == "bench" else cmd_agent(ns)
        args = ap.parse_args(args_list)
        if args.version:
            return cmd_version(args)
        if getattr(args, "func", None) is None:
            ap.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except CLIError as exc:
        _error(exc.message)
        return exc.status
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _error(
            f"{type(exc).__name__}: {exc}"
            + ("" if debug else " (run with --debug for the traceback)")
        )
        return 1


def _error(message: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{PROG}: error: {message}\n")
        sys.stderr.flush()
