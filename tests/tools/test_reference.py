"""The Markdown reference generated for prompts."""

from __future__ import annotations

from pocketos import VM
from pocketos.tools import install, reference_markdown
from tests.tools.sample_kits import KITS, math


def test_reference_for_one_kit() -> None:
    md = reference_markdown([math])
    assert md.endswith(
        "## math\n\nArithmetic\n\n"
        "### `pocketos-math add`\n\nAdd two numbers.\n\n"
        "| flag | type | required | description |\n|---|---|---|---|\n"
        "| `--a` | number | yes | First operand |\n"
        "| `--b` | number | no (default `0`) | Second operand |\n\n"
        "### `pocketos-math scale`\n\nScale numbers.\n\n"
        "| flag | type | required | description |\n|---|---|---|---|\n"
        "| `--values` | integer[] | yes |  |\n"
        "| `--factor` | number | no (default `1.0`) |  |\n"
        '| `--mode` | string (up, down) | no (default `"up"`) |  |\n'
    )
    assert md.startswith(
        "# Host tools\n\nCall a tool from the shell as `pocketos-<kit> <tool> --flag value`"
    )


def test_reference_from_vm_with_schemas_and_examples() -> None:
    with VM() as vm:
        install(vm.kernel, KITS)
        md = reference_markdown(vm, schemas=True)
    assert "## github\n\nIssues of a GitHub repository\n" in md
    assert (
        "Example:\n\n```sh\npocketos-github create-issue --repo a/b --title 'Crash' "
        "--labels bug\n```\n"
    ) in md
    assert md.count("```json\n") == 6


def test_reference_without_kits() -> None:
    assert reference_markdown([]).endswith("No toolkits are installed.\n")
