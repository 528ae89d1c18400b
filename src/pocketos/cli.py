"""The pocketos command line: ``pocketos`` or ``python -m pocketos``.

Subcommands: ``shell`` (interactive), ``exec`` and ``run`` (one script in a fresh VM),
``snapshot export|import|inspect``, ``warmup``, ``bench``, ``agent``, ``demo`` and ``version``.
``shell``, ``exec``, ``run`` and ``snapshot export`` share the VM options (mounts, policy,
network allow rules, environment, limits, snapshots, cwd, timeout); see docs/cli.md.

Errors are one line on stderr (``pocketos: error: ...``): status 2 for a malformed command
line, 1 for everything else. ``--debug`` shows the traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import io
import json
import os
import re
import signal
import sys
import tomllib
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from pocketos.errors import PocketOSError

if TYPE_CHECKING:
    from pocketos.vm import AsyncVM, ExecResult

__all__ = [
    "main",
    "CLIError",
    "build_parser",
    "parse_mount",
    "parse_limit",
    "load_policy",
    "vm_store_dir",
]

PROG = "pocketos"

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

MOUNT_MODES = ("ro", "rw", "overlay")
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT])(?:i?[bB])?")
_SIZE_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class CLIError(Exception):
    """A failure reported as one ``pocketos: error: ...`` line with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) raised as :class:`CLIError`."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')", 2)


# --- option values ---------------------------------------------------------------------------
def parse_mount(spec: str) -> tuple[str, str, str]:
    """``HOST:GUEST[:ro|rw|overlay]`` -> ``(host, guest, mode)``; the mode defaults to ro."""
    parts = spec.split(":")
    mode = "ro"
    if len(parts) >= 3 and parts[-1] in MOUNT_MODES:
        mode = parts.pop()
    elif len(parts) >= 3 and not parts[-1].startswith("/"):
        raise CLIError(f"bad mount spec {spec!r}: mode must be one of {', '.join(MOUNT_MODES)}", 2)
    if len(parts) < 2:
        raise CLIError(f"bad mount spec {spec!r}: expected HOST:GUEST[:ro|rw|overlay]", 2)
    host, guest = ":".join(parts[:-1]), parts[-1]
    if not host:
        raise CLIError(f"bad mount spec {spec!r}: the host directory is empty", 2)
    if not guest.startswith("/"):
        raise CLIError(f"bad mount spec {spec!r}: the guest path must be absolute", 2)
    return host, guest, mode


def _number(text: str) -> int | float | None:
    t = text.strip()
    if t.lower() in ("none", "null", "off", "unlimited"):
        return None
    try:
        return int(t.replace("_", ""))
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        pass
    m = _SIZE.fullmatch(t)
    if m:
        value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
        return int(value)
    raise ValueError(text)


def parse_limit(spec: str) -> tuple[str, int | float | None]:
    """``name=value`` with a number (``10``, ``2.5``, ``64M``) or ``none``."""
    from pocketos.kernel.limits import Limits

    name, sep, value = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise CLIError(f"bad limit {spec!r}: expected NAME=VALUE", 2)
    known = Limits.names()
    if name not in known:
        raise CLIError(f"unknown limit {name!r} (known: {', '.join(known)})", 2)
    try:
        return name, _number(value)
    except ValueError:
        raise CLIError(f"bad limit {spec!r}: {value!r} is not a number", 2)


def parse_env(spec: str) -> tuple[str, str]:
    """``K=V``; a bare ``K`` copies the host's value (an explicit grant)."""
    key, sep, value = spec.partition("=")
    if not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise CLIError(f"bad --env {spec!r}: expected NAME=VALUE", 2)
    if not sep:
        if key not in os.environ:
            raise CLIError(f"--env {key}: not set in the host environment", 2)
        value = os.environ[key]
    return key, value


def load_policy(path: str) -> dict[str, Any]:
    """Read a policy file: TOML (``.toml``) or JSON; a top-level ``policy`` table is unwrapped."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CLIError(f"policy file not found: {path}")
    except OSError as exc:
        raise CLIError(f"cannot read policy file {path}: {exc.strerror}")
    text = raw.decode("utf-8", "replace")
    data: Any
    try:
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CLIError(f"invalid policy file {path}: {exc}")
    if isinstance(data, dict) and isinstance(data.get("policy"), dict) and len(data) == 1:
        data = data["policy"]
    if not isinstance(data, dict):
        raise CLIError(f"invalid policy file {path}: expected a table of domain -> rules")
    return data


def _with_network_rules(spec: dict[str, Any], patterns: list[str]) -> dict[str, Any]:
    """``spec`` with one more ``network`` allow rule for ``patterns`` (last match wins)."""
    out = dict(spec)
    net = out.get("network", "deny")
    rule = {"mode": "allow", "patterns": list(patterns)}
    if isinstance(net, str):
        if net == "allow":
            return out
        out["network"] = {"default": net, "rules": [rule]}
    elif isinstance(net, dict):
        rules = list(net.get("rules") or [])
        out["network"] = {**net, "rules": rules + [rule]}
    return out


def vm_store_dir() -> Path:
    """Where ``--vm NAME`` keeps its snapshots (``$XDG_DATA_HOME/pocketos/vms``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pocketos" / "vms"


def _save_snapshot(vm: AsyncVM, path: str | Path, root: str = "/") -> None:
    """Write ``vm.snapshot(root)`` to ``path`` atomically (a temp file, then a rename)."""
    dest = Path(path)
    data = vm.snapshot(root).to_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CLIError(f"cannot write snapshot {path}: {exc.strerror or exc}")


# --- VM construction -------------------------------------------------------------------------
def _add_vm_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("VM options")
    g.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="HOST:GUEST[:MODE]",
        help="mount a host directory (MODE ro (default), rw or overlay)",
    )
    g.add_argument(
        "--allow-net",
        action="append",
        default=[],
        metavar="PATTERN",
        help="allow network access to PATTERN (host, *.domain, host:port, URL)",
    )
    g.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set an environment variable (K alone copies the host value)",
    )
    g.add_argument("--policy", metavar="FILE", help="permission policy file (TOML or JSON)")
    g.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a resource limit (e.g. max_commands=1000, max_fs_bytes=64M)",
    )
    g.add_argument(
        "--from-snapshot",
        action="append",
        default=[],
        metavar="FILE",
        help="start from a snapshot (repeatable; later ones lie on top)",
    )
    g.add_argument("--snapshot-out", metavar="FILE", help="save a snapshot of / when done")
    g.add_argument("--cwd", metavar="DIR", help="working directory in the VM (created)")
    g.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit per script")


def _add_isolation_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--isolation",
        choices=["in-process", "process"],
        default="in-process",
        help="run the VM in this process (default) or in a sandboxed worker process "
        "with hard memory, CPU and wall-clock limits (see docs/isolation.md)",
    )


def _make_vm(
    args: argparse.Namespace, extra_snapshots: Sequence[str] = (), durable: str | None = None
) -> AsyncVM:
    from pocketos.kernel.permissions import DEFAULT_POLICY
    from pocketos.snapshot import Snapshot
    from pocketos.vm import AsyncVM

    mounts = [parse_mount(m) for m in args.mount]
    limits = dict(parse_limit(s) for s in args.limit)
    env = dict(parse_env(s) for s in args.env)
    if args.timeout is not None and args.timeout <= 0:
        raise CLIError("--timeout must be a positive number of seconds", 2)
    if args.cwd is not None and not args.cwd.startswith("/"):
        raise CLIError(f"--cwd {args.cwd!r}: the path must be absolute", 2)
    spec: dict[str, Any] | None = load_policy(args.policy) if args.policy else None
    if args.allow_net:
        spec = _with_network_rules(
            spec if spec is not None else dict(DEFAULT_POLICY), args.allow_net
        )
    snaps: list[Snapshot] = []
    for path in [*extra_snapshots, *args.from_snapshot]:
        try:
            snaps.append(Snapshot.load(path))
        except FileNotFoundError:
            raise CLIError(f"snapshot not found: {path}")
        except OSError as exc:
            raise CLIError(f"cannot read snapshot {path}: {exc.strerror or exc}")
        except (ValueError, KeyError) as exc:
            raise CLIError(f"bad snapshot {path}: {exc}")
    for host, _guest, _mode in mounts:
        if not os.path.isdir(host):
            what = "not a directory" if os.path.exists(host) else "no such directory"
            raise CLIError(f"cannot mount {host}: {what}")
    process = getattr(args, "isolation", "in-process") == "process"
    try:
        if durable is not None:
            if snaps:
                raise CLIError("--vm cannot be combined with --from-snapshot", 2)
            # a durable VM keeps its saved env and cwd unless they are given again
            kw: dict[str, Any] = {"policy": spec, "limits": limits or None}
            if env:
                kw["env"] = env
            if args.cwd:
                kw["cwd"] = args.cwd
            vm = AsyncVM.open(durable, store=getattr(args, "store", None), **kw)
        elif process:
            # host mounts are given at creation: the worker is confined to them
            vm = AsyncVM(
                isolation="process",
                policy=spec,
                limits=limits or None,
                env=env or None,
                cwd=args.cwd or "/home/user",
                snapshots=snaps or None,
                mounts={
                    guest: {"host": os.path.abspath(host), "mode": mode}
                    for host, guest, mode in mounts
                },
            )
            mounts = []
        else:
            vm = AsyncVM(
                policy=spec,
                limits=limits or None,
                env=env or None,
                cwd=args.cwd or "/home/user",
                snapshots=snaps or None,
            )
    except ValueError as exc:
        what = "policy" if spec is not None else "VM options"
        raise CLIError(f"invalid {what}: {exc}")
    except PocketOSError as exc:
        raise CLIError(f"cannot start the VM: {exc}")
    try:
        for host, guest, mode in mounts:
            vm.mount(guest, host=os.path.abspath(host), mode=mode)
        if args.cwd:
            vm.mkdir(os.path.normpath(args.cwd), parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        vm.close()
        raise CLIError(f"cannot set up the VM: {_os_text(exc)}")
    return vm


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _stdin_bytes() -> bytes:
    """The host's stdin for a script: its bytes when redirected, nothing from a terminal."""
    stream = sys.stdin
    if stream is None or stream.closed:
        return b""
    try:
        if stream.isatty():
            return b""
        return stream.buffer.read()
    except (OSError, ValueError):
        return b""


class _Writer:
    """Writes a VM's output through to a host stream as it comes, counting the bytes."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.written = 0

    def __call__(self, data: bytes) -> None:
        self.written += len(data)
        _write_bytes(self.stream, data)

    def rest(self, full: bytes) -> None:
        """Write what ``full`` holds beyond the streamed part (messages the VM adds at the
        end, like a timeout notice, do not pass through the callbacks)."""
        if len(full) > self.written:
            self(full[self.written :])


def _sigint(how: int) -> None:
    """Block or unblock SIGINT for this thread (where the platform can)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(how, {signal.SIGINT})


def _write_bytes(stream: IO[str], data: bytes) -> None:
    out = getattr(stream, "buffer", None)
    if out is not None:
        stream.flush()
        out.write(data)
        out.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


def _run_script(
    args: argparse.Namespace, script: str, script_args: list[str], argv0: str = "bash"
) -> int:
    """Run ``script`` in a fresh VM; stream or JSON-print the result; save a snapshot."""
    vm = _make_vm(args)
    stdin = _stdin_bytes()
    loop = asyncio.new_event_loop()
    try:
        kw: dict[str, Any] = {"stdin": stdin, "timeout": args.timeout, "argv0": argv0}
        if script_args:
            kw["args"] = script_args
        out, err = _Writer(sys.stdout), _Writer(sys.stderr)
        if not args.json:
            kw["on_stdout"], kw["on_stderr"] = out, err
        r: ExecResult = loop.run_until_complete(vm.exec(script, **kw))
        if args.json:
            print(json.dumps(r.to_dict(), indent=2))
        else:
            out.rest(r.stdout_bytes)
            err.rest(r.stderr_bytes)
        if args.snapshot_out:
            _save_snapshot(vm, args.snapshot_out)
        return r.exit_code
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(vm.aclose())
        loop.close()


# --- subcommands -----------------------------------------------------------------------------
def cmd_exec(args: argparse.Namespace) -> int:
    script = args.script
    if script == "-":
        script = _stdin_text_or_fail()
    return _run_script(args, script, list(args.args))


def _stdin_text_or_fail() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise CLIError("exec -: the script is read from stdin, which is a terminal", 2)
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def cmd_run(args: argparse.Namespace) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except FileNotFoundError:
        raise CLIError(f"script not found: {args.file}")
    except IsADirectoryError:
        raise CLIError(f"{args.file}: is a directory")
    except OSError as exc:
        raise CLIError(f"cannot read {args.file}: {exc.strerror}")
    text = raw.decode("utf-8", "surrogateescape")
    return _run_script(args, text, list(args.args), argv0=args.file)


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


# --- interactive shell -----------------------------------------------------------------------
def _incomplete(source: str) -> bool:
    """True when ``source`` needs more lines (open quote, block, or a trailing backslash)."""
    from pocketos.shell.parser import ShellSyntaxError, parse

    stripped = source.rstrip("\n")
    tail = len(stripped) - len(stripped.rstrip("\\"))
    if tail % 2 == 1:
        return True
    try:
        parse(source)
    except ShellSyntaxError as exc:
        msg = exc.message
        return "unexpected end of file" in msg or "unexpected EOF" in msg
    except Exception:
        return False
    return False


class InteractiveShell:
    """A read-eval-print loop over a persistent VM shell (``vm.shell()``).

    Ctrl-C while a command runs sends SIGINT to the shell's processes (a second Ctrl-C
    abandons the line); Ctrl-C at the prompt discards the line; Ctrl-D exits.
    """

    def __init__(
        self,
        vm: AsyncVM,
        *,
        interactive: bool,
        timeout: float | None = None,
        history: Path | None = None,
    ) -> None:
        self.vm = vm
        self.interactive = interactive
        self.timeout = timeout
        self.history = history
        self.loop = asyncio.new_event_loop()
        self.session = vm.shell()
        self.status = 0
        self.exited = False

    def prompt(self) -> str:
        env = self.vm.env
        home = env.get("HOME", "/home/user")
        cwd = self.session.cwd
        if cwd == home:
            shown = "~"
        elif cwd.startswith(home.rstrip("/") + "/"):
            shown = "~" + cwd[len(home.rstrip("/")) :]
        else:
            shown = cwd
        user = env.get("USER", "user")
        host = env.get("HOSTNAME", "pocketos").split(".")[0]
        return f"{user}@{host}:{shown}{'#' if user == 'root' else '$'} "

    async def _run(self, source: str) -> int:
        out, err = _Writer(sys.stdout), _Writer(sys.stderr)
        task = asyncio.ensure_future(
            self.session.run(source, timeout=self.timeout, on_stdout=out, on_stderr=err)
        )
        loop = asyncio.get_running_loop()
        interrupts = 0
        shell_info = self.session.ctx.info

        def on_sigint() -> None:
            nonlocal interrupts
            interrupts += 1
            if shell_info is not None and shell_info.status == "running":
                with contextlib.suppress(ProcessLookupError):
                    self.vm.kernel.kill(shell_info.pid, "INT")
            if interrupts > 1 and not task.done():
                task.cancel()

        installed = False
        if self.interactive:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGINT, on_sigint)
                installed = True
        if installed:
            _sigint(signal.SIG_UNBLOCK)  # from here a Ctrl-C reaches on_sigint
        try:
            r = await task
            status = r.exit_code
            out.rest(r.stdout_bytes)
            err.rest(r.stderr_bytes)
        except asyncio.CancelledError:
            status = 130
        finally:
            if installed:
                _sigint(signal.SIG_BLOCK)  # held until execute() is done with the loop
                loop.remove_signal_handler(signal.SIGINT)
            if shell_info is not None:
                shell_info.pending_signal = None
        if interrupts:
            _write_bytes(sys.stdout, b"\n")
        return status

    def execute(self, source: str) -> int:
        # A Ctrl-C must never land in the event loop's own code (it would escape as a
        # KeyboardInterrupt from run_until_complete and end the shell): it is held while the
        # loop runs, except inside _run where the loop's SIGINT handler takes it.
        held = self.interactive
        if held:
            _sigint(signal.SIG_BLOCK)
        try:
            self.status = self.loop.run_until_complete(self._run(source))
        finally:
            if held:
                _sigint(signal.SIG_UNBLOCK)  # one that came meanwhile is raised now
        exited = getattr(self.session, "exited", None)
        if exited is None:
            exited = getattr(self.session.shell, "exited", False)
        self.exited = bool(exited)
        return self.status

    def _setup_readline(self) -> None:
        try:
            import readline
        except ImportError:
            return
        if self.history is not None:
            with contextlib.suppress(OSError):
                readline.read_history_file(self.history)
        readline.parse_and_bind("tab: complete")

    def _save_history(self) -> None:
        if self.history is None:
            return
        try:
            import readline
        except ImportError:
            return
        with contextlib.suppress(OSError):
            self.history.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(self.history)

    def _lines(self) -> Iterator[str]:
        """Lines from a non-interactive stdin (a pipe or a file)."""
        for raw in sys.stdin.buffer:
            yield raw.decode("utf-8", "surrogateescape")

    def loop_forever(self) -> int:
        if self.interactive:
            self._setup_readline()
            try:
                return self._interactive_loop()
            finally:
                self._save_history()
        buf = ""
        for line in self._lines():
            buf += line
            if _incomplete(buf):
                continue
            self.execute(buf)
            buf = ""
            if self.exited:
                return self.status
        if buf.strip():
            self.execute(buf)
        return self.status

    def _interactive_loop(self) -> int:
        while True:
            buf = ""
            try:
                prompt = self.prompt()
                while True:
                    line = input(prompt)
                    buf += line + "\n"
                    if not _incomplete(buf):
                        break
                    prompt = "> "
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                sys.stdout.flush()
                self.status = 130
                continue
            except EOFError:
                sys.stderr.write("exit\n")
                sys.stderr.flush()
                return self.status
            if not buf.strip():
                continue
            try:
                self.execute(buf)
            except KeyboardInterrupt:  # a Ctrl-C that came as the command began or ended
                sys.stdout.write("\n")
                sys.stdout.flush()
                self.status = 130
            if self.exited:
                return self.status

    def close(self) -> None:
        with contextlib.suppress(Exception):
            closer = getattr(self.session, "aclose", None)
            if closer is not None:
                self.loop.run_until_complete(closer())
            else:
                self.session.close()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.vm.aclose())
        self.loop.close()


def cmd_shell(args: argparse.Namespace) -> int:
    store: str | None = None
    if args.vm and args.persist:
        raise CLIError("--vm and --persist cannot be used together", 2)
    if args.vm:
        if not _VM_NAME.fullmatch(args.vm):
            raise CLIError(f"bad VM name {args.vm!r}: use letters, digits, '.', '_' and '-'", 2)
    elif args.store:
        raise CLIError("--store needs --vm NAME", 2)
    elif args.persist:
        store = args.persist
    extra = [store] if store and os.path.exists(store) else []
    try:
        vm = _make_vm(args, extra, durable=args.vm)
    except (OSError, PocketOSError) as exc:
        raise CLIError(f"cannot open VM {args.vm}: {exc}")
    stdin_tty = sys.stdin is not None and sys.stdin.isatty()
    interactive = stdin_tty if args.interactive is None else args.interactive
    history = None
    if interactive and not args.no_history:
        history = vm_store_dir().parent / "shell_history"
    sh = InteractiveShell(vm, interactive=interactive, timeout=args.timeout, history=history)
    try:
        status = sh.loop_forever()
        if args.vm:
            with contextlib.suppress(Exception):
                vm.cwd = str(sh.session.cwd)  # the shell's cwd comes back next time
            try:
                vm.save("shell session")
            except (OSError, PocketOSError) as exc:
                raise CLIError(f"cannot save VM {args.vm}: {exc}")
        if store:
            _save_snapshot(vm, store)
        if args.snapshot_out:
            _save_snapshot(vm, args.snapshot_out)
        return status
    finally:
        sh.close()


# --- snapshots -------------------------------------------------------------------------------
def cmd_snapshot_export(args: argparse.Namespace) -> int:
    vm = _make_vm(args)
    loop = asyncio.new_event_loop()
    try:
        status = 0
        if args.exec is not None:
            log = _Writer(sys.stderr)
            r = loop.run_until_complete(
                vm.exec(args.exec, timeout=args.timeout, on_stdout=log, on_stderr=log)
            )
            log.rest(r.stdout_bytes + r.stderr_bytes)
            status = r.exit_code
            if status != 0 and not args.force:
                raise CLIError(
                    f"the --exec script failed with status {status}; "
                    f"no snapshot written (use --force to write it anyway)"
                )
        if not args.path.startswith("/"):
            raise CLIError(f"--path {args.path!r}: the path must be absolute", 2)
        try:
            _save_snapshot(vm, args.output, os.path.normpath(args.path))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise CLIError(f"cannot snapshot {args.path}: {_os_text(exc)}")
        if args.snapshot_out:
            _save_snapshot(vm, args.snapshot_out)
        return 0
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(vm.aclose())
        loop.close()


def _load_snapshot(path: str) -> Any:
    from pocketos.snapshot import Snapshot

    try:
        return Snapshot.load(path)
    except FileNotFoundError:
        raise CLIError(f"snapshot not found: {path}")
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory")
    except OSError as exc:
        raise CLIError(f"cannot read snapshot {path}: {exc.strerror or exc}")
    except (ValueError, KeyError) as exc:
        raise CLIError(f"bad snapshot {path}: {exc}")


def cmd_snapshot_import(args: argparse.Namespace) -> int:
    """Load a snapshot into a new VM and list what it holds, as the VM sees it."""
    from pocketos.vm import AsyncVM

    snap = _load_snapshot(args.file)
    try:
        vm = AsyncVM(snapshots=[snap])
    except (ValueError, OSError) as exc:
        raise CLIError(f"cannot import {args.file}: {_os_text(exc)}")
    try:
        rows: list[dict[str, Any]] = []
        prefix = snap.root.rstrip("/")
        for e in snap.entries:
            path = f"{prefix}/{e['path']}" if e["path"] else (snap.root or "/")
            try:
                st = vm.lstat(path)
            except OSError as exc:
                raise CLIError(f"import check failed: {path}: {_os_text(exc)}")
            rows.append(
                {
                    "path": path,
                    "type": e["type"],
                    "mode": f"{st.st_mode & 0o7777:04o}",
                    "size": st.st_size if e["type"] in ("file", "hardlink") else 0,
                }
            )
        if args.json:
            print(json.dumps({"file": args.file, "root": snap.root, "entries": rows}, indent=2))
        else:
            for row in rows:
                print(f"{row['type']:<8} {row['mode']} {row['size']:>10} {row['path']}")
        return 0
    finally:
        vm.close()


def cmd_snapshot_inspect(args: argparse.Namespace) -> int:
    snap = _load_snapshot(args.file)
    info = snap.inspect()
    info["digest"] = snap.digest
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    for key in ("format", "version", "root", "entries", "blobs", "bytes", "digest"):
        print(f"{key}: {info[key]}")
    types = info.get("types") or {}
    print("types: " + ", ".join(f"{k}={types[k]}" for k in sorted(types)))
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
    argv = list(args.bench_args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    try:
        return int(mod.main(argv) or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


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
    argv = list(args.agent_args)
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
    p.add_argument("script", metavar="SCRIPT")
    p.add_argument("args", nargs="*", metavar="ARG")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_vm_options(p)
    _add_isolation_option(p)
    p.set_defaults(func=cmd_exec)

    p = sub.add_parser(
        "run",
        help="run a host script file in a fresh VM",
        description="Run the host file FILE (bash) in a fresh VM with ARGs as $1...",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("args", nargs="*", metavar="ARG")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_vm_options(p)
    _add_isolation_option(p)
    p.set_defaults(func=cmd_run)

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
