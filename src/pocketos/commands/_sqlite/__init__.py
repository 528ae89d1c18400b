"""The sqlite3 shell's parts: SQL text, output modes, dot-commands and limits."""
