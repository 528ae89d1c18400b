"""``pocketos shell`` on a pseudo-terminal: prompt, line editing input, continuation lines,
Ctrl-C interrupting a running command (not the shell), Ctrl-C at the prompt, Ctrl-D."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import child_env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a Linux pty")


class Term:
    """A tiny expect: a child on a pty, read until a text appears."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.seen = b""
        self.status: int | None = None

    def expect(self, text: bytes, timeout: float = 30.0) -> bytes:
        """Wait until ``text`` appears after what was already consumed; return what preceded."""
        end = time.monotonic() + timeout
        while text not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {text!r}; got {self.seen!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF waiting for {text!r}; got {self.seen!r}")
            self.seen += chunk
        before, _, self.seen = self.seen.partition(text)
        return before

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 30.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                self.seen += chunk
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        raise AssertionError(f"the shell did not exit; got {self.seen!r}")

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        os.close(self.fd)


@pytest.fixture
def term(tmp_path: Path) -> Term:
    env = child_env(tmp_path, TERM="dumb")
    t = Term([sys.executable, "-m", "pocketos", "shell", "--no-history"], env, str(tmp_path))
    yield t  # type: ignore[misc]
    t.close()


PROMPT = b"user@pocketos:~$ "


def interrupt(term: Term, then: bytes) -> None:
    """Press Ctrl-C until ``then`` appears (at most three times). A Ctrl-C that lands before the
    program waits for it can be missed: before a command is marked running, or just before
    CPython's readline enters select() (where a signal that already arrived is only noticed at
    the next key). A user presses again; so does the test."""
    for _attempt in range(3):
        term.send(b"\x03")
        try:
            term.expect(then, timeout=5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"Ctrl-C three times and no {then!r}; got {term.seen!r}")


def test_interactive_session(term: Term) -> None:
    term.expect(PROMPT)
    term.send(b"cd /tmp; echo hi\r")
    assert term.expect(b"user@pocketos:/tmp$ ").endswith(b"hi\r\n")
    # a multi-line command gets the continuation prompt
    term.send(b"for i in 1 2; do\r")
    term.expect(b"> ")
    term.send(b"echo n$i; done\r")
    assert term.expect(b"user@pocketos:/tmp$ ").endswith(b"n1\r\nn2\r\n")
    # Ctrl-C interrupts the running command; the shell stays, $? is 130
    # the command says when it runs (a Ctrl-C before that is pressed again by interrupt())
    term.send(b"echo started; sleep 100\r")
    term.expect(b"echo started; sleep 100\r\nstarted\r\n")
    interrupt(term, b"user@pocketos:/tmp$ ")
    term.send(b"echo status=$?\r")
    assert term.expect(b"user@pocketos:/tmp$ ").endswith(b"status=130\r\n")
    # a shell loop is interrupted too
    term.send(b"while :; do echo looping; sleep infinity; done\r")
    term.expect(b"while :; do echo looping; sleep infinity; done\r\nlooping\r\n")
    interrupt(term, b"user@pocketos:/tmp$ ")
    # Ctrl-C at the prompt discards the line
    term.send(b"echo discarded")
    term.expect(b"echo discarded")
    interrupt(term, b"user@pocketos:/tmp$ ")
    term.send(b"echo alive\r")
    assert term.expect(b"user@pocketos:/tmp$ ").endswith(b"alive\r\n")
    # Ctrl-D exits with the last status
    term.send(b"\x04")
    assert term.wait() == 0
    assert b"exit" in term.seen


def test_exit_builtin_ends_the_shell(term: Term) -> None:
    term.expect(PROMPT)
    term.send(b"exit 4\r")
    assert term.wait() == 4
