"""``pocketos shell``: an interactive (or batch) read-eval-print loop over a VM's persistent
shell, with Ctrl-C, history, continuation lines and durable or snapshot-backed VMs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pocketos.cli_base import CLIError
from pocketos.cli_vm import _make_vm, _save_snapshot, _sigint, _write_bytes, _Writer, vm_store_dir
from pocketos.errors import PocketOSError

if TYPE_CHECKING:
    from pocketos.vm import AsyncVM

__all__ = ["InteractiveShell", "cmd_shell"]

_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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
    elif getattr(args, "host_mounts", False):
        raise CLIError("--host-mounts needs --vm NAME", 2)
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
