"""The tool commands in a VM: flag mapping, every error message, help, pipelines, policy,
audit, timeouts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pocketos import VM
from pocketos.tools import install
from tests.tools.conftest import tool_policy
from tests.tools.sample_kits import KITS

CI = "pocketos-github create-issue"
TRY = f"Try '{CI} --help' for more information.\n"


def ok(result: Any) -> str:
    return json.dumps({"ok": True, "result": result}, ensure_ascii=False) + "\n"


def issue(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "repo": "a/b",
        "title": "t",
        "body": "",
        "labels": [],
        "draft": False,
        "meta": None,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "args, result",
    [
        ("--repo a/b --title t", issue()),
        ("--repo=a/b --title=t --body 'two words'", issue(body="two words")),
        ("--repo a/b --title t --labels bug --labels ui", issue(labels=["bug", "ui"])),
        ("--repo a/b --title t --draft", issue(draft=True)),
        ("--repo a/b --title t --draft --no-draft", issue(draft=False)),
        ("--repo a/b --title t --draft=false", issue(draft=False)),
        (
            "--repo a/b --title t --meta '{\"priority\": 2}'",
            issue(meta={"priority": 2, "owner": "nobody"}),
        ),
        ('--json \'{"repo": "a/b", "title": "t", "draft": true}\'', issue(draft=True)),
        ('--json \'{"repo": "x/y", "title": "t"}\' --repo a/b', issue()),
        ("--title t --repo a/b --title-x", None),
    ],
)
def test_flag_mapping(vm: VM, args: str, result: Any) -> None:
    r = vm.exec(f"{CI} {args}")
    if result is None:
        assert r.exit_code == 1
        return
    assert (r.exit_code, r.stdout, r.stderr) == (0, ok(result), "")


@pytest.mark.parametrize(
    "args, message",
    [
        ("--repo a/b", "missing required flag --title"),
        (
            "--repo a/b --title t --zz",
            "unknown flag '--zz' (flags: --repo, --title, --body, --labels, --draft, --meta)",
        ),
        ("--repo a/b --title t -x", "unknown flag '-x' (tool flags are long: --name VALUE)"),
        (
            "--repo a/b --title t extra",
            "unexpected argument 'extra' (tool arguments are given as --flags)",
        ),
        ("--repo a/b --title", "flag --title needs a value"),
        ("--repo a/b --title t --title u", "flag --title given more than once"),
        (
            "--repo a/b --title t --draft=maybe",
            "invalid value for --draft: 'maybe' is not a boolean (use true or false)",
        ),
        ("--repo a/b --title t --no-draft=1", "flag --no-draft takes no value"),
        (
            "--repo a/b --title t --meta '{'",
            "invalid value for --meta: not valid JSON (Expecting "
            "property name enclosed in double quotes at line 1 "
            "column 2)",
        ),
        (
            '--repo a/b --title t --meta \'{"priority": "high"}\'',
            "invalid value for --meta (at priority): Input should be a valid integer, unable to "
            'parse string as an integer (got "high")',
        ),
        (
            "--repo a/b --title t --meta '{}'",
            "invalid value for --meta (at priority): Field required",
        ),
        ("--json '[1]'", "--json must be a JSON object, not an array"),
        (
            "--json '{bad'",
            "invalid JSON in --json: Expecting property name enclosed in double "
            "quotes at line 1 column 2",
        ),
        ('--json \'{"repo": "a", "title": "t", "extra": 1}\'', "unknown argument 'extra'"),
        ("--json '{}' --json '{}'", "--json/--json-file given more than once"),
        ("--json-file nope.json", None),
        ("--json", "flag --json needs a value"),
        ("-- x", "unexpected argument 'x' (tool arguments are given as --flags)"),
    ],
)
def test_argument_errors(vm: VM, args: str, message: str | None) -> None:
    r = vm.exec(f"{CI} {args}", cwd="/tmp")
    assert (r.exit_code, r.stdout) == (1, "")
    if message is None:
        assert r.stderr == f"{CI}: nope.json: No such file or directory\n"
    else:
        assert r.stderr == f"{CI}: {message}\n{TRY}"


@pytest.mark.parametrize(
    "cmd, message",
    [
        (
            "pocketos-github list-issues --repo a --limit abc",
            "invalid value for --limit: 'abc' is not an integer",
        ),
        (
            "pocketos-github list-issues --repo a --limit 0",
            "invalid value for --limit: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            "pocketos-github list-issues --repo a --state shut",
            "invalid value for --state: Input should be 'open' or 'closed' (got \"shut\")",
        ),
        ("pocketos-math add --a x", "invalid value for --a: 'x' is not a number"),
        ("pocketos-math add --a inf", "invalid value for --a: 'inf' is not a finite number"),
        (
            "pocketos-math scale --values 1 --values x",
            "invalid value for --values: 'x' is not an integer",
        ),
        (
            "pocketos-math scale --values 1 --mode sideways",
            "invalid value for --mode: Input should be 'up' or 'down' (got \"sideways\")",
        ),
    ],
)
def test_value_errors(vm: VM, cmd: str, message: str) -> None:
    r = vm.exec(cmd)
    prog = " ".join(cmd.split()[:2])
    assert (r.exit_code, r.stdout, r.stderr) == (
        1,
        "",
        f"{prog}: {message}\nTry '{prog} --help' for more information.\n",
    )


def test_numbers_arrays_enums_models(vm: VM) -> None:
    assert vm.exec("pocketos-math add --a 1.5 --b 2").stdout == ok(3.5)
    assert vm.exec("pocketos-math scale --values 1 --values 2 --factor 3").stdout == ok([3.0, 6.0])
    assert vm.exec("pocketos-github list-issues --repo r --state closed --limit 2").stdout == ok(
        [{"repo": "r", "state": "closed", "n": 0}, {"repo": "r", "state": "closed", "n": 1}]
    )


def test_stdin_json(vm: VM) -> None:
    r = vm.exec('echo \'{"a": 2, "b": 3}\' | pocketos-math add')
    assert r.stdout == ok(5.0)
    r = vm.exec("echo '{\"a\": 2}' | pocketos-math add --json-file - ")
    assert r.stdout == ok(2.0)
    r = vm.exec("echo '{\"a\": 2}' | pocketos-math add --b 1 --json-file -")
    assert r.stdout == ok(3.0)
    r = vm.exec("echo '[]' | pocketos-math add")
    assert (r.exit_code, r.stderr) == (
        1,
        "pocketos-math add: stdin must hold a JSON object\n"
        "Try 'pocketos-math add --help' for more "
        "information.\n",
    )
    # flags given: stdin is not read
    r = vm.exec("echo '{\"a\": 9}' | pocketos-math add --a 1")
    assert r.stdout == ok(1.0)
    vm.write_file("/tmp/args.json", b'{"a": 4}')
    assert vm.exec("pocketos-math add --json-file /tmp/args.json").stdout == ok(4.0)


def test_pipelines(vm: VM) -> None:
    r = vm.exec("echo '{\"a\":1}' | pocketos-math add --json-file - | jq .result")
    assert (r.exit_code, r.stdout) == (0, "1.0\n")
    r = vm.exec(
        "pocketos-github list-issues --repo r | jq -r '.result[].n' | "
        'while read n; do pocketos-math add --a "$n" --b 10; done | jq -c .result'
    )
    assert r.stdout == "10.0\n11.0\n12.0\n"
    r = vm.exec("pocketos list-tools | cut -f1 | sort | head -n 2")
    assert r.stdout == "github create-issue\ngithub explode\n"


def test_failures_and_timeouts(vm: VM) -> None:
    r = vm.exec("pocketos-github explode --message 'it broke'")
    assert (r.exit_code, r.stdout, r.stderr) == (
        1,
        "",
        "pocketos-github explode: RuntimeError: it broke\n",
    )
    r = vm.exec("pocketos-github wait-forever")
    assert (r.exit_code, r.stdout, r.stderr) == (
        1,
        "",
        "pocketos-github wait-forever: timed out after 0.2s\n",
    )
    events = [(e.resource, e.decision, e.detail["ok"], e.reason) for e in vm.audit_log(kind="tool")]
    assert events == [
        ("github:explode", "allow", False, "RuntimeError: it broke"),
        ("github:wait-forever", "allow", False, "timeout"),
    ]


def test_help(vm: VM) -> None:
    r = vm.exec(f"{CI} --help")
    assert r.exit_code == 0
    assert r.stdout == (
        f"Usage: {CI} [FLAGS]\n"
        f"       {CI} --json '{{...}}'\n"
        f"       {CI} --json-file FILE   (- reads stdin)\n"
        "\n"
        "Create an issue in a repository.\n"
        "\n"
        "Flags:\n"
        "  --repo TEXT           (required)\n"
        "  --title TEXT          (required)\n"
        '  --body TEXT           (default: "")\n'
        "  --labels TEXT         (default: null) (repeat the flag for each value)\n"
        "  --draft / --no-draft  (default: false)\n"
        "  --meta JSON           (default: null)\n"
        "\n"
        'Output: {"ok": true, "result": ...} on stdout, exit status 0; errors go\n'
        "to stderr with exit status 1. '--help --json' prints the JSON schema.\n"
        "\n"
        "Examples:\n"
        "  pocketos-github create-issue --repo a/b --title 'Crash' --labels bug\n"
    )
    r = vm.exec("pocketos-github list-issues --help | grep -e --limit")
    assert r.stdout == "  --limit INT            How many to return (default: 10)\n"
    r = vm.exec(f"{CI} --help --json")
    doc = json.loads(r.stdout)
    assert doc["input_schema"]["required"] == ["repo", "title"]
    assert (doc["kit"], doc["name"]) == ("github", "create-issue")
    r = vm.exec("pocketos-github --help")
    assert r.stdout == (
        "Usage: pocketos-github TOOL [FLAGS]\n\nIssues of a GitHub repository\n\nTools:\n"
        "  create-issue  Create an issue in a repository.\n"
        "  list-issues   List issues.\n"
        "  wait-forever  Never returns.\n"
        "  explode       Always fails.\n\n"
        "Run 'pocketos-github TOOL --help' for the flags of one tool, "
        "'pocketos-github --help --json' for every schema.\n"
    )
    r = vm.exec("pocketos-github --help --json | jq -r '.[].name'")
    assert r.stdout == "create-issue\nlist-issues\nwait-forever\nexplode\n"


def test_kit_and_master_errors(vm: VM) -> None:
    cases = [
        (
            "pocketos-github",
            "pocketos-github: missing tool name\n"
            "Try 'pocketos-github --help' for more information.\n",
        ),
        (
            "pocketos-github nope",
            "pocketos-github: unknown tool 'nope' (tools: create-issue, "
            "list-issues, wait-forever, explode)\n"
            "Try 'pocketos-github --help' for more information.\n",
        ),
        (
            "pocketos-github --zz",
            "pocketos-github: unknown flag '--zz' (expected a tool name)\n"
            "Try 'pocketos-github --help' for more information.\n",
        ),
        (
            "pocketos",
            "pocketos: missing command (list-tools or a toolkit name)\n"
            "Try 'pocketos --help' for more information.\n",
        ),
        (
            "pocketos nope",
            "pocketos: unknown toolkit 'nope' (toolkits: github, math)\n"
            "Try 'pocketos --help' for more information.\n",
        ),
        ("pocketos list-tools x", "pocketos list-tools: unexpected argument 'x'\n"),
    ]
    for cmd, err in cases:
        r = vm.exec(cmd)
        assert (r.exit_code, r.stdout, r.stderr) == (1, "", err), cmd


def test_master_command(vm: VM) -> None:
    r = vm.exec("pocketos list-tools")
    assert r.stdout == (
        "github create-issue\tCreate an issue in a repository.\n"
        "github list-issues\tList issues.\n"
        "github wait-forever\tNever returns.\n"
        "github explode\tAlways fails.\n"
        "math add\tAdd two numbers.\n"
        "math scale\tScale numbers.\n"
    )
    r = vm.exec("pocketos list-tools --json | jq -r '.[] | .kit + \":\" + .name' | tail -n 1")
    assert r.stdout == "math:scale\n"
    assert vm.exec("pocketos math add --a 1 --b 1").stdout == ok(2.0)
    r = vm.exec("pocketos math add --zz")
    assert r.stderr == (
        "pocketos math add: unknown flag '--zz' (flags: --a, --b)\n"
        "Try 'pocketos math add --help' for more information.\n"
    )
    assert vm.exec("pocketos --help").stdout.startswith("Usage: pocketos list-tools [--json]\n")
    assert vm.exec("pocketos math --help").stdout.startswith("Usage: pocketos math TOOL")


def test_master_without_toolkits() -> None:
    with VM() as vm:
        r = vm.exec("pocketos list-tools; echo $?")
        assert r.stdout == "0\n"


def test_denied_by_default_policy() -> None:
    with VM() as vm:
        install(vm.kernel, KITS)
        r = vm.exec("pocketos-math add --a 1")
        assert (r.exit_code, r.stdout, r.stderr) == (
            1,
            "",
            "pocketos-math add: permission denied: tool.invoke on math:add\n",
        )
        # help and listing are not invocations
        assert vm.exec("pocketos-math add --help").exit_code == 0
        assert vm.exec("pocketos list-tools").exit_code == 0
        (ev,) = vm.audit_log(kind="tool")
        assert (ev.capability, ev.resource, ev.decision, ev.reason) == (
            "tool.invoke",
            "math:add",
            "deny",
            "policy",
        )


def test_policy_rules_per_tool() -> None:
    pol = tool_policy(
        {
            "default": "deny",
            "rules": [
                {"mode": "allow", "patterns": ["math:*"]},
                {"mode": "deny", "patterns": ["math:scale"]},
            ],
        }
    )
    with VM(policy=pol) as vm:
        install(vm.kernel, KITS)
        assert vm.exec("pocketos-math add --a 1").exit_code == 0
        assert vm.exec("pocketos-math scale --values 1").exit_code == 1
        assert vm.exec("pocketos-github list-issues --repo r").exit_code == 1


def test_ask_mode() -> None:
    asked: list[tuple[str, str]] = []

    def handler(req: Any) -> str:
        asked.append((req.capability, req.resource))
        return "allow_once" if req.resource == "math:add" else "deny"

    with VM(policy=tool_policy({"default": "ask"}), permission_handler=handler) as vm:
        install(vm.kernel, KITS)
        assert vm.exec("pocketos-math add --a 1").stdout == ok(1.0)
        r = vm.exec("pocketos-math scale --values 1")
        assert r.stderr == (
            "pocketos-math scale: permission denied: tool.invoke on math:scale (not granted)\n"
        )
    assert asked == [("tool.invoke", "math:add"), ("tool.invoke", "math:scale")]


def test_audit_of_successful_calls(vm: VM) -> None:
    vm.exec("pocketos-math add --a 1; pocketos math scale --values 2")
    evs = vm.audit_log(kind="tool")
    assert [(e.capability, e.resource, e.decision, e.detail["ok"]) for e in evs] == [
        ("tool.invoke", "math:add", "allow", True),
        ("tool.invoke", "math:scale", "allow", True),
    ]
    assert all(isinstance(e.detail["duration"], float) and e.pid for e in evs)


def test_run_without_shell(vm: VM) -> None:
    r = vm.run(["pocketos-math", "add", "--a", "2"])
    assert (r.exit_code, r.stdout) == (0, ok(2.0))
    r = vm.run(["pocketos-math", "add"], stdin=b'{"a": 5}')
    assert r.stdout == ok(5.0)


def test_async_vm_tool_host_invoke(vm: VM) -> None:
    import asyncio

    host = vm.kernel.tools

    async def main() -> Any:
        return await host.invoke("math", "add", {"a": 1, "b": 2})

    assert asyncio.run(main()) == 3.0


def test_endless_stdin_is_bounded(vm: VM) -> None:
    r = vm.exec("yes | pocketos-math add")
    assert (r.exit_code, r.stderr) == (
        1,
        "pocketos-math add: stdin holds more than 16777216 "
        "bytes of JSON\nTry 'pocketos-math add --help' for "
        "more information.\n",
    )
