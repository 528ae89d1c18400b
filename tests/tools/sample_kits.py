"""Toolkits used by the tool tests (also loaded by the stdio MCP server test)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from pocketos.tools import Toolkit, toolkit

github = Toolkit("github", "Issues of a GitHub repository")


class Meta(BaseModel):
    priority: int
    owner: str = "nobody"


@github.tool(examples=["pocketos-github create-issue --repo a/b --title 'Crash' --labels bug"])
def create_issue(
    repo: str,
    title: str,
    body: str = "",
    labels: list[str] | None = None,
    draft: bool = False,
    meta: Meta | None = None,
) -> dict[str, object]:
    """Create an issue in a repository.

    The rest of the docstring is not part of the description.
    """
    return {
        "repo": repo,
        "title": title,
        "body": body,
        "labels": labels or [],
        "draft": draft,
        "meta": meta,
    }


class State(StrEnum):
    open = "open"
    closed = "closed"


@github.tool()
def list_issues(
    repo: str,
    state: State = State.open,
    limit: int = Field(10, ge=1, le=100, description="How many to return"),
) -> list[dict[str, object]]:
    """List issues."""
    return [{"repo": repo, "state": state.value, "n": i} for i in range(min(limit, 3))]


@github.tool(timeout=0.2)
async def wait_forever() -> str:
    """Never returns."""
    await asyncio.Event().wait()  # nothing sets it: only the tool's timeout ends the call
    return "unreachable"


@github.tool()
def explode(message: str = "boom") -> None:
    """Always fails."""
    raise RuntimeError(message)


class AddArgs(BaseModel):
    a: float = Field(description="First operand")
    b: float = Field(0, description="Second operand")


def add(args: AddArgs) -> float:
    """Add two numbers."""
    return args.a + args.b


def scale(
    values: list[int], factor: float = 1.0, mode: Literal["up", "down"] = "up"
) -> list[float]:
    """Scale numbers."""
    return [v * factor if mode == "up" else v / factor for v in values]


math = toolkit("math", [add, scale], description="Arithmetic")

KITS = [github, math]
