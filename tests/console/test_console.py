"""The web console in a real browser: the terminal, the file browser, a live agent session and
a permission denied with a click."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.agent.fake_llm import FakeServer, openai_text, openai_tool
from tests.server.harness import with_llm

WAIT = 60_000


def _terminal_text(page: Page) -> str:
    return page.evaluate("window.pocketosConsole.terminalText()")


def _wait_terminal(page: Page, text: str) -> None:
    page.wait_for_function(
        "t => window.pocketosConsole.terminalText().includes(t)", arg=text, timeout=WAIT
    )


def test_terminal_echo_and_upload_seen_by_ls(serve_console, page: Page, shots, tmp_path) -> None:
    srv = serve_console()
    vid = srv.client().post("/v1/vms", json={}).json()["id"]
    page.goto(srv.url + "/")
    page.locator(f'#vm-list li[data-vm="{vid}"]').click()
    _wait_terminal(page, "user@pocketos:~$")
    page.locator("#terminal .xterm-helper-textarea").focus()
    page.keyboard.type("echo hi")
    page.keyboard.press("Enter")
    _wait_terminal(page, "echo hi\nhi\nuser@pocketos:~$")
    lines = _terminal_text(page).split("\n")
    assert "hi" in lines
    # Ctrl-Z stops the foreground job, fg gives it the terminal back
    page.keyboard.type("sh -c 'echo go; cat'")
    page.keyboard.press("Enter")
    _wait_terminal(page, "\ngo\n")
    page.keyboard.press("Control+z")
    _wait_terminal(page, "^Z\n[1]+  Stopped                 sh -c 'echo go; cat'\nuser@pocketos:~$")
    page.keyboard.type("fg")
    page.keyboard.press("Enter")
    page.keyboard.type("back")
    page.keyboard.press("Enter")
    _wait_terminal(page, "back\nback\n")
    page.keyboard.press("Control+d")
    _wait_terminal(page, "back\nback\nuser@pocketos:~$")
    shots(page, "terminal")

    # upload a file with the file browser, then see it from the shell
    local = tmp_path / "notes.txt"
    local.write_text("uploaded from the browser\n")
    page.locator("#tab-files").click()
    expect(page.locator("#path-input")).to_have_value("/home/user")
    page.locator("#upload-input").set_input_files(str(local))
    expect(page.locator('#file-rows [data-name="notes.txt"]')).to_be_visible(timeout=WAIT)
    page.locator('#file-rows [data-name="notes.txt"]').click()
    expect(page.locator("#file-text")).to_have_value("uploaded from the browser\n", timeout=WAIT)
    # edit it in the page and save
    page.locator("#file-text").fill("edited in the page\n")
    page.locator("#file-save").click()
    expect(page.locator("#files-status")).to_contain_text("saved", timeout=WAIT)
    shots(page, "files")
    page.locator("#tab-terminal").click()
    page.locator("#terminal .xterm-helper-textarea").focus()
    page.keyboard.type("ls; cat notes.txt")
    page.keyboard.press("Enter")
    _wait_terminal(page, "edited in the page")
    assert "notes.txt" in _terminal_text(page)
    assert srv.client().get(f"/v1/vms/{vid}/files/home/user/notes.txt").content == (
        b"edited in the page\n"
    )


def _llm_console(serve_console, replies):
    return with_llm(serve_console(), FakeServer(replies))


def test_agent_tool_calls_appear_live(serve_console, page: Page, shots) -> None:
    srv, llm = _llm_console(
        serve_console,
        [
            openai_tool(
                "bash", {"command": "echo made-by-agent > /home/user/out.txt; cat out.txt"}
            ),
            openai_text("The file is written."),
        ],
    )
    vid = srv.client().post("/v1/vms", json={}).json()["id"]
    page.goto(f"{srv.url}/#/vm/{vid}/sessions")
    page.locator("#session-new").click()
    expect(page.locator("#session-select option")).to_have_count(1, timeout=WAIT)
    page.locator("#prompt-input").fill("write out.txt")
    page.locator("#prompt-form button[type=submit]").click()
    tool = page.locator("#transcript li.tool")
    expect(tool).to_have_count(1, timeout=WAIT)
    expect(tool.locator('[data-role="output"]')).to_contain_text("made-by-agent", timeout=WAIT)
    expect(tool.locator('[data-role="status"]')).to_have_text("completed", timeout=WAIT)
    expect(page.locator("#transcript li.agent").last).to_contain_text(
        "The file is written.", timeout=WAIT
    )
    expect(page.locator("#transcript li.ended")).to_have_count(1, timeout=WAIT)
    shots(page, "session")
    assert srv.client().get(f"/v1/vms/{vid}/files/home/user/out.txt").content == b"made-by-agent\n"


def test_deny_button_gives_the_agent_a_denial(serve_console, page: Page, shots) -> None:
    srv, llm = _llm_console(
        serve_console,
        [
            openai_tool("write", {"path": "/home/user/secret.txt", "content": "x"}, "c1"),
            openai_text("Understood, I will not write it."),
        ],
    )
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    page.goto(f"{srv.url}/#/vm/{vid}/sessions")
    page.locator("#session-mode").select_option("ask")
    page.locator("#session-new").click()
    expect(page.locator("#session-select option")).to_have_count(1, timeout=WAIT)
    page.locator("#prompt-input").fill("write the secret")
    page.locator("#prompt-input").press("Control+Enter")
    ask = page.locator("#transcript li.permission")
    expect(ask).to_have_count(1, timeout=WAIT)
    shots(page, "permission")
    ask.locator('button[data-decision="deny"]').click()
    expect(ask.locator('[data-testid="permission-answer"]')).to_contain_text("denied", timeout=WAIT)
    expect(page.locator("#transcript li.ended")).to_have_count(1, timeout=WAIT)
    # the agent was told: its tool result is the refusal, and nothing was written
    tool_msgs = [m for m in llm.requests[-1]["json"]["messages"] if m["role"] == "tool"]
    assert "permission refused" in tool_msgs[0]["content"]
    assert c.get(f"/v1/vms/{vid}/files/home/user/secret.txt").json()["error"]["code"] == "ENOENT"
    # the audit tab lists what the policy refused (here: a request to the network)
    r = c.post(f"/v1/vms/{vid}/exec", json={"script": "curl -s http://127.0.0.1:9/ || true"})
    assert r.status_code == 200
    page.locator("#tab-audit").click()
    page.locator('#audit-form select[name="decision"]').select_option("deny")
    page.locator("#audit-form button[type=submit]").click()
    expect(page.locator("#audit-rows tr").first).to_contain_text("network", timeout=WAIT)
    expect(page.locator("#audit-rows tr").first).to_contain_text("deny")
    shots(page, "audit")
    assert json.dumps(c.get(f"/v1/vms/{vid}/permissions").json()) == '{"permissions": []}'


def test_console_asks_for_a_token_and_keeps_the_theme(serve_console, page: Page) -> None:
    from pocketos.server import Token

    srv = serve_console(tokens=[Token("alice", "alice-secret-1")], rate_limit=0)
    page.goto(srv.url + "/")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    page.locator("#token-input").fill("alice-secret-1")
    page.locator("#token-ok").click()
    page.locator("#new-vm").click()
    expect(page.locator("#vm-list li")).to_have_count(1, timeout=WAIT)
    _wait_terminal(page, "user@pocketos:~$")
    theme = page.evaluate("document.documentElement.dataset.theme")
    page.keyboard.press("Alt+T")
    assert page.evaluate("document.documentElement.dataset.theme") != theme
    # static assets need no token and come from the package
    r = srv.client().get("/console/vendor/xterm/xterm.js")
    assert r.status_code == 200 and r.content.startswith(b"!function")


def test_snapshots_and_workspace_runs_with_their_diff(
    serve_console, page: Page, shots, tmp_path
) -> None:
    srv = serve_console(store=str(tmp_path / "store"))
    c = srv.client()
    r = c.post("/v1/vms", json={"durable": True, "name": "project"})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    c.put(f"/v1/vms/{vid}/files/home/user/app.py", content=b"print('one')\n")
    assert c.post(f"/v1/vms/{vid}/save").status_code == 200
    c.put(f"/v1/vms/{vid}/files/home/user/app.py", content=b"print('two')\n")
    assert c.post(f"/v1/vms/{vid}/save").status_code == 200
    page.goto(f"{srv.url}/#/vm/{vid}/snapshots")
    expect(page.locator("#workspace-select")).to_have_value("project", timeout=WAIT)
    runs = page.locator("#run-rows tr")
    expect(runs.first).to_be_visible(timeout=WAIT)
    runs.first.get_by_role("button", name="Diff").click()
    diff = page.locator("#diff")
    expect(diff).to_contain_text("app.py", timeout=WAIT)
    expect(diff.locator(".add")).to_contain_text(["+print('two')"], timeout=WAIT)
    expect(diff.locator(".del")).to_contain_text(["-print('one')"], timeout=WAIT)
    page.locator("#snapshot-take").click()
    expect(page.locator("#snapshot-rows tr")).to_have_count(1, timeout=WAIT)
    shots(page, "snapshots")
    # a VM started from the snapshot has the file
    page.locator("#snapshot-rows button", has_text="Start VM").click()
    expect(page.locator("#vm-list li")).to_have_count(2, timeout=WAIT)
    expect(page.locator('#file-rows [data-name="app.py"]')).to_be_visible(timeout=WAIT)


def test_two_browsers_on_one_terminal(serve_console, browser, page: Page, shots) -> None:
    srv = serve_console()
    c = srv.client()
    vid = c.post("/v1/vms", json={}).json()["id"]
    page.goto(f"{srv.url}/#/vm/{vid}/terminal")
    _wait_terminal(page, "user@pocketos:~$")
    # a second person opens the same VM: the open terminal is offered, and someone is typing
    # there, so they watch
    other_ctx = browser.new_context(viewport={"width": 1000, "height": 600})
    try:
        other = other_ctx.new_page()
        other.goto(f"{srv.url}/#/vm/{vid}/terminal")
        expect(other.locator("#terminal-status")).to_contain_text("watching", timeout=WAIT)
        _wait_terminal(other, "user@pocketos:~$")
        page.locator("#terminal .xterm-helper-textarea").focus()
        page.keyboard.type("echo together")
        page.keyboard.press("Enter")
        _wait_terminal(page, "echo together\ntogether\n")
        _wait_terminal(other, "echo together\ntogether\n")
        # the watcher's keys do not reach the shell
        other.locator("#terminal .xterm-helper-textarea").focus()
        other.keyboard.type("echo intruder")
        other.keyboard.press("Enter")
        page.keyboard.type("echo after")
        page.keyboard.press("Enter")
        _wait_terminal(other, "echo after\nafter\n")
        assert "intruder" not in _terminal_text(page)
        shots(other, "watching")
        terminals = c.get(f"/v1/vms/{vid}/terminals").json()["terminals"]
        assert len(terminals) == 1
        assert sorted(x["role"] for x in terminals[0]["clients"]) == ["viewer", "writer"]
    finally:
        other_ctx.close()


ASK_POLICY = {
    "fs": {
        "default": "allow",
        "rules": [{"mode": "ask", "operations": ["write"], "paths": ["/home/user/asked/*"]}],
    }
}


def test_terminal_command_allowed_and_denied_with_a_click(serve_console, page: Page, shots):
    srv = serve_console()
    c = srv.client()
    vid = c.post("/v1/vms", json={"isolation": "in-process", "policy": ASK_POLICY}).json()["id"]
    c.post(f"/v1/vms/{vid}/mkdir/home/user/asked")
    page.goto(srv.url + "/")
    page.locator(f'#vm-list li[data-vm="{vid}"]').click()
    _wait_terminal(page, "$")
    for name, decision, shown in (
        ("yes", "allow", "st=0 done"),
        ("no", "deny", "Permission denied\nst=1 done"),
    ):
        page.locator("#terminal .xterm-helper-textarea").focus()
        page.keyboard.type(f"echo x > /home/user/asked/{name}.txt; echo st=$? d''one")
        page.keyboard.press("Enter")
        ask = page.locator("#terminal-asks li")
        expect(ask).to_contain_text(f"fs.write /home/user/asked/{name}.txt", timeout=WAIT)
        if decision == "deny":
            shots(page, "terminal-ask")
        ask.locator(f'button[data-decision="{decision}"]').click()
        _wait_terminal(page, shown)
        expect(page.locator("#terminal-asks li")).to_have_count(0, timeout=WAIT)
    assert c.get(f"/v1/vms/{vid}/files/home/user/asked/yes.txt").content == b"x\n"
    assert c.get(f"/v1/vms/{vid}/stat/home/user/asked/no.txt").status_code == 404
