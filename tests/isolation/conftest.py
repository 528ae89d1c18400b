"""Fixtures shared with other suites."""

from tests.net.conftest import http_server

__all__ = ["http_server"]
