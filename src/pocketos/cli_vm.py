"""The VM options of ``shell``, ``exec``, ``run`` and ``snapshot export`` (mounts, network
allow rules, env, policy file, limits, snapshots, cwd, timeout, isolation): their parsers and
the VM they build, and running one script in it with its output streamed to the terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pocketos.cli_base import CLIError
from pocketos.errors import PocketOSError

if TYPE_CHECKING:
    from pocketos.vm import AsyncVM, ExecResult

__all__ = ["load_policy", "parse_limit", "parse_mount", "vm_store_dir"]

MOUNT_MODES = ("ro", "rw", "overlay")


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT])(?:i?[bB])?")


_SIZE_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


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


def _add_script_arguments(
    p: argparse.ArgumentParser, dest: str, metavar: str, func: Callable[[argparse.Namespace], int]
) -> None:
    """What ``exec`` and ``run`` take: the script (or file), its ARGs, ``--json``, the VM
    options and ``--isolation``."""
    p.add_argument(dest, metavar=metavar)
    p.add_argument("args", nargs="*", metavar="ARG")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_vm_options(p)
    _add_isolation_option(p)
    p.set_defaults(func=func)


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
            if getattr(args, "host_mounts", False):
                kw["host_mounts"] = True  # the host folders the VM had mounted come back
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
