"""The prompt of one heartbeat run, built from Paperclip's wake context: the issue, why the
agent was woken, and the comments that are new since it last ran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["AGENT_INSTRUCTIONS", "build_prompt", "task_key", "issue_of"]

AGENT_INSTRUCTIONS = """You work for Paperclip, a control plane that assigns you issues. Your
files live in the workspace (your working directory); it is kept between runs of the same
issue. Use the paperclip tools to talk to Paperclip: when you have done something, post a short
comment saying what you did (paperclip_comment); when the issue is finished, set its status to
done (paperclip_update-issue with status "done"); if you are stuck, say why in a comment and set
the status to blocked. Paperclip never changes the status for you. An action the policy denies
fails with a permission error: do not retry it, say in your comment that it was denied."""

_REASONS = {
    "issue_assigned": "You were assigned this issue.",
    "issue_commented": "There is a new comment on this issue.",
    "issue_reopened_via_comment": "The issue was reopened with a comment.",
    "issue_comment_mentioned": "You were mentioned in a comment.",
    "issue_status_changed": "The status of this issue changed.",
    "issue_children_completed": "The sub-issues of this issue are complete.",
}


def _obj(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


def _str(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def task_key(context: Mapping[str, Any]) -> str | None:
    """The task key the way Paperclip computes it: the first of taskKey, taskId, issueId in the
    context, then in the wake payload."""
    wake = _obj(context.get("paperclipWake"))
    for src in (context, wake):
        for k in ("taskKey", "taskId", "issueId"):
            v = _str(src.get(k))
            if v:
                return v
    return None


def issue_of(context: Mapping[str, Any]) -> dict[str, Any]:
    issue = _obj(context.get("paperclipIssue")) or _obj(
        _obj(context.get("paperclipWake")).get("issue")
    )
    if not issue.get("id") and _str(context.get("issueId")):
        issue["id"] = _str(context.get("issueId"))
    return issue


def build_prompt(context: Mapping[str, Any], *, resumed: bool) -> str:
    """The text of the run's prompt. On a resumed session the issue itself is already in the
    conversation, so only the wake and the new comments are sent (plus the title, to anchor)."""
    issue = issue_of(context)
    wake = _obj(context.get("paperclipWake"))
    reason = _str(context.get("wakeReason")) or _str(wake.get("reason"))
    parts: list[str] = []
    ident = _str(issue.get("identifier"))
    title = _str(issue.get("title"))
    if ident and title:
        parts.append(f"# {ident}: {title}")
    elif ident or title:
        parts.append(f"# {ident or title}")
    if not resumed:
        desc = issue.get("description")
        if isinstance(desc, str) and desc.strip():
            parts.append(desc.strip())
        status = _str(issue.get("status"))
        if status:
            parts.append(f"Status: {status}")
    if reason:
        parts.append("## Why you are running\n" + _REASONS.get(reason, f"Wake reason: {reason}."))
    comments = [c for c in wake.get("comments") or [] if isinstance(c, Mapping)]
    lines = []
    for c in comments:
        body = _str(c.get("body"))
        if not body:
            continue
        author = _obj(c.get("author"))
        who = _str(author.get("type")) or "someone"
        lines.append(f"- {who}: {body}")
    if lines:
        parts.append("## New comments\n" + "\n".join(lines))
    handoff = _str(context.get("paperclipSessionHandoffMarkdown"))
    if handoff:
        parts.append("## Handoff from your previous session\n" + handoff)
    if not parts:
        parts.append(
            "You were woken by Paperclip with no issue. Check whether anything needs doing."
        )
    return "\n\n".join(parts)
