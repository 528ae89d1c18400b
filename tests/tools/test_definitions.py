"""Defining tools and toolkits: names, descriptions, schemas, duplicates."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from pocketos import VM
from pocketos.tools import Tool, Toolkit, install, toolkit
from tests.tools.sample_kits import KITS, github, math


def test_names_and_descriptions() -> None:
    assert list(github.tools) == ["create-issue", "list-issues", "wait-forever", "explode"]
    assert github.tools["create-issue"].description == "Create an issue in a repository."
    assert github.tools["create-issue"].full_name == "github:create-issue"
    assert math.tools["add"].takes_model
    assert github.tools["wait-forever"].timeout == 0.2


def test_schema_from_type_hints() -> None:
    schema = github.tools["create-issue"].input_schema()
    assert schema["required"] == ["repo", "title"]
    assert list(schema["properties"]) == ["repo", "title", "body", "labels", "draft", "meta"]
    assert schema["additionalProperties"] is False
    add_schema = math.tools["add"].input_schema()
    assert add_schema["required"] == ["a"]
    assert add_schema["properties"]["a"]["description"] == "First operand"


def f_ok(x: int) -> int:
    """Fine."""
    return x


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: Toolkit("GitHub", "d"),
            "invalid toolkit name 'GitHub': use lowercase letters, "
            "digits and dashes, starting with a letter",
        ),
        (
            lambda: Toolkit("git_hub", "d"),
            "invalid toolkit name 'git_hub': use lowercase letters, "
            "digits and dashes, starting with a letter",
        ),
        (lambda: Toolkit("list-tools", "d"), "toolkit name 'list-tools' is reserved"),
        (lambda: Toolkit("kit", ""), "toolkit 'kit' needs a description"),
        (
            lambda: toolkit("kit", [f_ok, f_ok], description="d"),
            "toolkit 'kit': duplicate tool name 'f-ok'",
        ),
        (
            lambda: Tool.from_function(lambda x: x, name="l", description="d"),
            "tool 'l': parameter 'x' has no type hint",
        ),
        (
            lambda: Tool.from_function(f_ok, name="Bad Name"),
            "invalid tool name 'Bad Name': use lowercase letters, digits and dashes, starting with a "
            "letter",
        ),
    ],
)
def test_definition_errors(build: Any, message: str) -> None:
    with pytest.raises(ValueError) as ei:
        build()
    assert str(ei.value) == message


def test_description_required_and_reserved_arguments() -> None:
    def nodoc(x: int) -> int:
        return x

    with pytest.raises(ValueError) as ei:
        Tool.from_function(nodoc)
    assert str(ei.value) == (
        "tool 'nodoc' needs a description (pass description=... or give the function a docstring)"
    )
    assert Tool.from_function(nodoc, description="Explicit.").description == "Explicit."

    def clash(json: str) -> str:
        """Clash."""
        return json

    with pytest.raises(ValueError) as ei:
        Tool.from_function(clash)
    assert (
        str(ei.value) == "tool 'clash': argument name 'json' is reserved (it would clash "
        "with --json)"
    )


class Args(BaseModel):
    n: int


def double(args: Args) -> int:
    """Double."""
    return args.n * 2


def test_model_argument_tool() -> None:
    t = Tool.from_function(double)
    assert t.takes_model and t.call_args(t.validate({"n": 2}))[0][0].n == 2


def test_duplicate_toolkits_refused_at_install() -> None:
    with VM() as vm:
        other = Toolkit("github", "Another github")
        with pytest.raises(ValueError) as ei:
            install(vm.kernel, [github, other])
        assert str(ei.value) == "duplicate toolkit name(s): github"
        install(vm.kernel, KITS)
        with pytest.raises(ValueError) as ei:
            install(vm.kernel, [other])
        assert str(ei.value) == "duplicate toolkit name(s): github"


def test_install_registers_commands() -> None:
    with VM() as vm:
        host = install(vm.kernel, KITS)
        assert vm.kernel.tools is host
        assert {"pocketos", "pocketos-github", "pocketos-math"} <= set(vm.kernel.extra_commands)
        assert vm.exec("which pocketos-github pocketos-math").stdout == (
            "/usr/bin/pocketos-github\n/usr/bin/pocketos-math\n"
        )
    with VM() as other:
        assert other.exec("pocketos-github --help").exit_code == 127
