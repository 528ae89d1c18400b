"""The Python side of the Paperclip adapter ``pocketos_local``: the runner that executes one
Paperclip heartbeat in a pocketos VM (``python -m pocketos.paperclip``), the adapter config
(capability policy included), the per-task workspace store and the typed ``paperclip`` tools.

The Node side lives in ``integrations/paperclip/``; see docs/paperclip.md."""

from __future__ import annotations

from pocketos.paperclip.config import ConfigError, RunConfig, build_policy, parse_config
from pocketos.paperclip.prompt import build_prompt, task_key
from pocketos.paperclip.runner import run, state_dir_for
from pocketos.paperclip.tools import PaperclipAPI, PaperclipAPIError, paperclip_toolkit
from pocketos.paperclip.workspace import WorkspaceStore

__all__ = [
    "ConfigError",
    "PaperclipAPI",
    "PaperclipAPIError",
    "RunConfig",
    "WorkspaceStore",
    "build_policy",
    "build_prompt",
    "paperclip_toolkit",
    "parse_config",
    "run",
    "state_dir_for",
    "task_key",
]
