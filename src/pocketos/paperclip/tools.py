"""The ``paperclip`` toolkit: typed host tools through which the agent talks to Paperclip about
its current issue. They run on the host with the run's JWT, which never enters the VM; every
call is policy-checked (``tool.invoke`` on ``paperclip:<tool>``) and audited by the VM."""

from __future__ import annotations

from typing import Any, Literal

from pocketos.tools import Toolkit

__all__ = ["PaperclipAPI", "PaperclipAPIError", "ISSUE_STATUSES", "paperclip_toolkit"]

#: the issue statuses Paperclip accepts
ISSUE_STATUSES = ("backlog", "todo", "in_progress", "in_review", "done", "blocked", "cancelled")
Status = Literal["backlog", "todo", "in_progress", "in_review", "done", "blocked", "cancelled"]


class PaperclipAPIError(Exception):
    """Paperclip refused a request, or could not be reached; the message says which."""


class PaperclipAPI:
    """A small client of the Paperclip REST API, authenticated as the agent for one run."""

    def __init__(
        self, base_url: str, token: str, run_id: str = "", *, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.run_id = run_id
        self.timeout = timeout
        self._client: Any = None

    def _headers(self) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if self.run_id:
            h["X-Paperclip-Run-Id"] = self.run_id
        return h

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        if self._client is None:
            from pocketos.agent.providers import tls_context

            self._client = httpx.AsyncClient(timeout=self.timeout, verify=tls_context())
        url = self.base_url + path
        try:
            resp = await self._client.request(method, url, json=body, headers=self._headers())
        except httpx.HTTPError as exc:
            raise PaperclipAPIError(
                f"cannot reach Paperclip at {self.base_url}: {type(exc).__name__}: {exc}"
            ) from None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code >= 400:
            detail = ""
            if isinstance(data, dict):
                detail = str(data.get("error") or data.get("message") or "")
                if data.get("details"):
                    detail += f" ({data['details']})"
            elif resp.text:
                detail = resp.text[:300]
            raise PaperclipAPIError(
                f"Paperclip answered {resp.status_code} to {method} {path}"
                + (f": {detail}" if detail else "")
            )
        return data

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _comment_view(c: Any) -> dict[str, Any]:
    if not isinstance(c, dict):
        return {"comment": c}
    keep = ("id", "body", "authorAgentId", "authorUserId", "createdAt")
    return {k: c.get(k) for k in keep if c.get(k) is not None}


def _issue_view(i: Any) -> dict[str, Any]:
    if not isinstance(i, dict):
        return {"issue": i}
    keep = (
        "id",
        "identifier",
        "title",
        "description",
        "status",
        "priority",
        "parentId",
        "assigneeAgentId",
        "createdAt",
        "updatedAt",
    )
    return {k: i.get(k) for k in keep if i.get(k) is not None}


def paperclip_toolkit(api: PaperclipAPI, issue_id: str | None) -> Toolkit:
    """The toolkit for one run on ``issue_id`` (tools answer clearly when the run has no
    issue, e.g. a timer wake)."""
    kit = Toolkit(
        "paperclip",
        "Paperclip, the control plane that assigned you this issue: comment on it, update its "
        "status, read it and its comments, create sub-issues.",
    )

    def need_issue() -> str:
        if not issue_id:
            raise PaperclipAPIError("this run has no current issue (it was not woken by one)")
        return issue_id

    @kit.tool(timeout=60)
    async def comment(body: str) -> dict[str, Any]:
        """Post a comment (markdown) on the current issue."""
        if not body.strip():
            raise ValueError("body is empty")
        c = await api.request("POST", f"/api/issues/{need_issue()}/comments", {"body": body})
        return _comment_view(c)

    @kit.tool(name="update-issue", timeout=60)
    async def update_issue(status: Status, comment: str | None = None) -> dict[str, Any]:
        """Set the status of the current issue (done when finished), optionally with a comment."""
        body: dict[str, Any] = {"status": status}
        if comment:
            body["comment"] = comment
        i = await api.request("PATCH", f"/api/issues/{need_issue()}", body)
        return _issue_view(i)

    @kit.tool(name="get-issue", timeout=60)
    async def get_issue() -> dict[str, Any]:
        """Read the current issue: title, description, status."""
        return _issue_view(await api.request("GET", f"/api/issues/{need_issue()}"))

    @kit.tool(name="list-comments", timeout=60)
    async def list_comments() -> list[dict[str, Any]]:
        """List the comments of the current issue, oldest first."""
        data = await api.request("GET", f"/api/issues/{need_issue()}/comments")
        items = data.get("comments", data.get("items", [])) if isinstance(data, dict) else data
        out = [_comment_view(c) for c in (items or [])]
        out.sort(key=lambda c: str(c.get("createdAt") or ""))
        return out

    @kit.tool(name="create-sub-issue", timeout=60)
    async def create_sub_issue(title: str, description: str = "") -> dict[str, Any]:
        """Create a sub-issue of the current issue."""
        if not title.strip():
            raise ValueError("title is empty")
        body: dict[str, Any] = {"title": title}
        if description:
            body["description"] = description
        i = await api.request("POST", f"/api/issues/{need_issue()}/children", body)
        return _issue_view(i.get("issue", i) if isinstance(i, dict) else i)

    return kit
