"""``pocketos --remote URL exec|shell|agent ...``: the same commands against a server.

``--token`` (or ``$POCKETOS_TOKEN``) authenticates; ``--vm ID`` uses an existing VM of the
server, otherwise a VM is created for the command and deleted after it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from typing import Any

__all__ = ["main", "wants_remote"]


def wants_remote(argv: list[str]) -> bool:
    for a in argv:
        if a == "--debug":
            continue
        return a == "--remote" or a.startswith("--remote=")
    return False


def _parser() -> argparse.ArgumentParser:
    from pocketos.cli import _Parser

    ap = _Parser(
        prog="pocketos --remote URL",
        description="Run exec, shell or agent on a VM of a pocketos server.",
    )
    ap.add_argument("--remote", required=True, metavar="URL", help="the server, http(s)://...")
    ap.add_argument("--token", help="a bearer token (default $POCKETOS_TOKEN)")
    ap.add_argument("--vm", metavar="ID", help="use this VM of the server (default: a new one)")
    ap.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    ap.add_argument(
        "--isolation", choices=["process", "in-process"], help="the isolation of a new VM"
    )
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser, required=True)
    p = sub.add_parser("exec", help="run a bash script in the remote VM")
    p.add_argument("script", metavar="SCRIPT", help="the script ('-': read it from stdin)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--timeout", type=float, help="seconds before the script is stopped")
    p.add_argument("--cwd", help="the working directory in the VM")
    p = sub.add_parser("shell", help="an interactive shell on a terminal of the remote VM")
    p = sub.add_parser("agent", help="run the pocketos agent on a prompt in the remote VM")
    p.add_argument("prompt", metavar="PROMPT", help="the prompt ('-': read it from stdin)")
    p.add_argument("--model", help="the model (the provider is the server's)")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")
    return ap


def main(argv: list[str]) -> int:
    from pocketos.cli import CLIError
    from pocketos.remote import RemoteError, RemoteVM

    args = _parser().parse_args(argv)
    token = args.token or os.environ.get("POCKETOS_TOKEN") or None
    opts: dict[str, Any] = {"token": token}
    if args.vm:
        opts["vm_id"] = args.vm
    elif args.isolation:
        opts["isolation"] = args.isolation
    import httpx

    try:
        vm = RemoteVM(args.remote, **opts)
    except httpx.HTTPError as exc:
        raise CLIError(f"cannot reach {args.remote}: {exc}") from None
    except (RemoteError, OSError, ValueError) as exc:
        raise CLIError(f"{args.remote}: {exc}") from None
    try:
        if args.cmd == "exec":
            return _exec(vm, args)
        if args.cmd == "agent":
            return _agent(vm, args)
        return _shell(vm, args)
    except RemoteError as exc:
        raise CLIError(str(exc)) from None
    except httpx.HTTPError as exc:
        raise CLIError(f"{args.remote}: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            vm.close()


def _read_stdin(what: str) -> str:
    from pocketos.cli import CLIError

    if sys.stdin is None or sys.stdin.isatty():
        raise CLIError(f"{what} -: it is read from stdin, which is a terminal", 2)
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def _exec(vm: Any, args: argparse.Namespace) -> int:
    script = _read_stdin("exec") if args.script == "-" else args.script
    extra: dict[str, Any] = {"args": list(args.args)}
    if args.timeout is not None:
        extra["timeout"] = args.timeout
    if args.cwd:
        extra["cwd"] = args.cwd
    if args.json:
        res = vm.exec(script, **extra)
        print(json.dumps(res.to_dict()))
        return int(res.exit_code)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def write(stream: Any) -> Any:
        def w(data: bytes) -> None:
            stream.write(data)
            stream.flush()

        return w

    res = vm.exec(script, on_stdout=write(out), on_stderr=write(err), **extra)
    return int(res.exit_code)


def _agent(vm: Any, args: argparse.Namespace) -> int:
    from pocketos.agent.cli import _Printer

    prompt = _read_stdin("agent") if args.prompt == "-" else args.prompt
    options: dict[str, Any] = {}
    if args.model:
        options["model"] = args.model
    sess = vm.create_session("pocketos", **options)
    printer = _Printer(sys.stdout, sys.stderr, args.json)
    after = sess.start_prompt(prompt)
    stop = None
    for ev in sess.subscribe(since=after):
        printer(ev)
        if ev.kind == "prompt.ended":
            stop = ev.data.get("stopReason")
            if ev.data.get("error"):
                sys.stderr.write(f"pocketos: error: {ev.data['error']}\n")
            break
    if printer.mid_line and not args.json:
        sys.stdout.write("\n")
    with contextlib.suppress(Exception):
        sess.close()
    return 0 if stop == "end_turn" else 1


def _shell(vm: Any, args: argparse.Namespace) -> int:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    conn = vm.async_vm.conn
    size = os.get_terminal_size() if sys.stdout.isatty() else os.terminal_size((80, 24))
    url = f"{conn.ws_url}/v1/vms/{vm.id}/terminals/new/ws?cols={size.columns}&rows={size.lines}"
    tty = sys.stdin.isatty()
    saved = None
    if tty:
        import termios
        import tty as ttymod

        saved = termios.tcgetattr(sys.stdin.fileno())
        ttymod.setraw(sys.stdin.fileno())
    code = 0
    try:
        with connect(url, additional_headers=conn.headers, max_size=None) as ws:

            def pump() -> None:
                fd = sys.stdin.fileno()
                with contextlib.suppress(OSError, ConnectionClosed):
                    while True:
                        data = os.read(fd, 4096)
                        if not data:
                            if not tty:
                                ws.send(b"\x04")  # end of input: Ctrl-D
                            return
                        ws.send(data)

            if tty:
                import signal

                def resize(*_: Any) -> None:
                    s = os.get_terminal_size()
                    with contextlib.suppress(Exception):
                        ws.send(json.dumps({"type": "resize", "cols": s.columns, "rows": s.lines}))

                signal.signal(signal.SIGWINCH, resize)
            threading.Thread(target=pump, daemon=True).start()
            out = sys.stdout.buffer
            with contextlib.suppress(ConnectionClosed):
                while True:
                    msg = ws.recv()
                    if isinstance(msg, bytes):
                        out.write(msg)
                        out.flush()
                        continue
                    ctl = json.loads(msg)
                    if ctl.get("type") == "exit":
                        code = int(ctl.get("exit_code") or 0)
                        break
                    if ctl.get("type") == "detached":
                        code = 1
                        break
                    if ctl.get("type") == "error":
                        sys.stderr.write(f"pocketos: {ctl['error'].get('message')}\r\n")
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    return code
