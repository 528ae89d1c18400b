"""Hooks for the whole suite: tests marked ``own_process`` run in a child pytest process
(tests/_own_process.py says why)."""

from tests._own_process import (
    pytest_collection_finish,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_runtest_protocol,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_unconfigure,
)

__all__ = [
    "pytest_collection_finish",
    "pytest_configure",
    "pytest_runtest_logreport",
    "pytest_runtest_protocol",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_unconfigure",
]
