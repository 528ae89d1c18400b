"""Interactive terminals on a VM (``vm.open_shell()``): a shell behind a prompt with line
editing, history and completion, a terminal device for its commands, several clients."""

from pocketos.terminal.clients import TerminalClient
from pocketos.terminal.terminal import Terminal, open_terminal

__all__ = ["Terminal", "TerminalClient", "open_terminal"]
