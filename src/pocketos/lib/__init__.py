"""Shared library for commands: pieces every command family uses."""
