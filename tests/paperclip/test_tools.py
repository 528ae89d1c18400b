"""The typed paperclip tools in a VM, against a stand-in Paperclip API: arguments are checked
by their schema, Paperclip's errors come back clearly, every call is audited, and the run's
JWT stays on the host."""

from __future__ import annotations

import json
from typing import Any

from pocketos import VM
from pocketos.paperclip import PaperclipAPI, build_policy, paperclip_toolkit
from tests.paperclip.fake_api import FakeAPI


def vm_for(api: FakeAPI, issue: str | None = "i1") -> VM:
    kit = paperclip_toolkit(PaperclipAPI(api.url, api.token, "run-7"), issue)
    return VM(policy=build_policy(None), toolkits=[kit])


def call(vm: VM, line: str) -> tuple[int, Any, str]:
    r = vm.exec(line)
    out = json.loads(r.stdout) if r.stdout.strip() else None
    if isinstance(out, dict) and out.get("ok") is True:
        out = out["result"]
    return r.exit_code, out, r.stderr + r.stdout


def test_each_tool_calls_paperclip() -> None:
    issues = {"i1": {"id": "i1", "title": "T", "status": "todo", "secret": "x"}}
    with FakeAPI(issues=issues) as api:
        vm = vm_for(api)
        try:
            assert call(vm, "pocketos-paperclip get-issue")[1] == {
                "id": "i1",
                "title": "T",
                "status": "todo",
            }
            code, out, _ = call(vm, "pocketos-paperclip comment --body 'first'")
            assert code == 0 and out["body"] == "first"
            call(vm, "pocketos-paperclip comment --body 'second'")
            code, out, _ = call(vm, "pocketos-paperclip list-comments")
            assert [c["body"] for c in out] == ["first", "second"]
            code, out, _ = call(
                vm, "pocketos-paperclip create-sub-issue --title 'Part A' --description 'd'"
            )
            assert code == 0 and (out["title"], out["parentId"]) == ("Part A", "i1")
            code, out, _ = call(vm, "pocketos-paperclip update-issue --status done")
            assert code == 0 and out["status"] == "done"
            paths = [(r["method"], r["path"]) for r in api.requests]
            assert paths == [
                ("GET", "/api/issues/i1"),
                ("POST", "/api/issues/i1/comments"),
                ("POST", "/api/issues/i1/comments"),
                ("GET", "/api/issues/i1/comments"),
                ("POST", "/api/issues/i1/children"),
                ("PATCH", "/api/issues/i1"),
            ]
            assert {r["headers"]["authorization"] for r in api.requests} == {"Bearer run-jwt"}
            assert {r["headers"]["x-paperclip-run-id"] for r in api.requests} == {"run-7"}
            audited = [e.resource for e in vm.audit_log(kind="tool")]
            assert audited == [
                "paperclip:get-issue",
                "paperclip:comment",
                "paperclip:comment",
                "paperclip:list-comments",
                "paperclip:create-sub-issue",
                "paperclip:update-issue",
            ]
            # the JWT is nowhere in the VM
            r = vm.exec("env; cat /proc/self/environ 2>/dev/null; true")
            assert "run-jwt" not in r.stdout
        finally:
            vm.close()


def test_bad_arguments_and_paperclip_errors_are_clear() -> None:
    with FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        vm = vm_for(api)
        try:
            code, _, err = call(vm, "pocketos-paperclip update-issue --status finished")
            assert code == 1 and "status" in err and "'done'" in err
            assert api.requests == []  # refused before any request
            # Paperclip's own refusal (the stand-in refuses in_review) comes back with its text
            code, _, err = call(vm, "pocketos-paperclip update-issue --status in_review")
            assert code == 1
            assert (
                "Paperclip answered 400 to PATCH /api/issues/i1: Validation error (bad status)"
                in err
            )
            code, _, err = call(vm, "pocketos-paperclip comment --body ' '")
            assert code == 1 and "body is empty" in err
        finally:
            vm.close()
        # a wrong token, a missing issue, no issue at all
        vm = VM(
            policy=build_policy(None),
            toolkits=[paperclip_toolkit(PaperclipAPI(api.url, "stale"), "i1")],
        )
        try:
            code, _, err = call(vm, "pocketos-paperclip get-issue")
            assert "Paperclip answered 401 to GET /api/issues/i1: Unauthorized" in err
        finally:
            vm.close()
        vm = vm_for(api, "gone")
        try:
            code, _, err = call(vm, "pocketos-paperclip get-issue")
            assert "Paperclip answered 404 to GET /api/issues/gone: Issue not found" in err
        finally:
            vm.close()
        vm = vm_for(api, None)
        try:
            code, _, err = call(vm, "pocketos-paperclip comment --body hi")
            assert code == 1 and "this run has no current issue" in err
        finally:
            vm.close()


def test_unreachable_paperclip_is_named() -> None:
    vm = VM(
        policy=build_policy(None),
        toolkits=[paperclip_toolkit(PaperclipAPI("http://127.0.0.1:9", "t"), "i1")],
    )
    try:
        code, _, err = call(vm, "pocketos-paperclip get-issue")
        assert code == 1 and "cannot reach Paperclip at http://127.0.0.1:9" in err
    finally:
        vm.close()


def test_a_policy_can_take_the_tools_away() -> None:
    with FakeAPI(issues={"i1": {"id": "i1"}}) as api:
        kit = paperclip_toolkit(PaperclipAPI(api.url, api.token), "i1")
        vm = VM(policy=build_policy({"tool": "deny"}), toolkits=[kit])
        try:
            code, _, err = call(vm, "pocketos-paperclip comment --body hi")
            assert code != 0 and "permission denied: tool.invoke on paperclip:comment" in err
            assert api.requests == []
        finally:
            vm.close()
