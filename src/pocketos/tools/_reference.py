"""A Markdown reference of toolkits, generated for prompts: how to call each tool from the
shell, its flags and its JSON schema."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pocketos.tools._cli import flag_specs
from pocketos.tools._model import Toolkit

__all__ = ["reference_markdown"]


def _kits(toolkits: Any) -> list[Toolkit]:
    host_kits = getattr(getattr(toolkits, "kernel", None), "tools", None)
    if host_kits is not None and hasattr(host_kits, "kits"):
        return list(host_kits.kits.values())
    if hasattr(toolkits, "kits"):
        return list(toolkits.kits.values())
    if isinstance(toolkits, Toolkit):
        return [toolkits]
    return list(toolkits)


def reference_markdown(toolkits: Iterable[Toolkit] | Any, *, schemas: bool = False) -> str:
    """Markdown describing every tool of ``toolkits`` (a list of toolkits, a VM or a tool host).
    ``schemas=True`` adds each tool's JSON schema."""
    kits = _kits(toolkits)
    out = [
        "# Host tools",
        "",
        "Call a tool from the shell as `pocketos-<kit> <tool> --flag value` (or "
        "`pocketos <kit> <tool> ...`). Flags are the arguments in kebab-case; booleans are "
        "`--x` / `--no-x`; repeat a flag to give a list; pass objects as JSON. The whole "
        "arguments object can be given as `--json '{...}'`, `--json-file FILE` or "
        '`--json-file -` (stdin). Success prints `{"ok": true, "result": ...}` and exits '
        "0; errors go to stderr with exit status 1. `pocketos list-tools` lists every tool; "
        "`<command> --help` explains one.",
        "",
    ]
    if not kits:
        out.append("No toolkits are installed.")
    for kit in kits:
        out += [f"## {kit.name}", "", kit.description, ""]
        for tool in kit.tools.values():
            out += [f"### `pocketos-{kit.name} {tool.name}`", "", tool.description, ""]
            specs = flag_specs(tool)
            if specs:
                out += ["| flag | type | required | description |", "|---|---|---|---|"]
                for s in specs:
                    typ = s.kind + ("[]" if s.array else "")
                    if s.choices:
                        typ += " (" + ", ".join(str(c) for c in s.choices) + ")"
                    flag = f"`--{s.flag}`" + (
                        f" / `--no-{s.flag}`" if s.kind == "boolean" and not s.array else ""
                    )
                    req = (
                        "yes"
                        if s.required
                        else (f"no (default `{json.dumps(s.default)}`)" if s.has_default else "no")
                    )
                    desc = s.description.replace("|", "\\|")
                    out.append(f"| {flag} | {typ} | {req} | {desc} |")
                out.append("")
            else:
                out += ["No arguments.", ""]
            if tool.examples:
                out += ["Example:", "", "```sh", *tool.examples, "```", ""]
            if schemas:
                out += ["```json", json.dumps(tool.input_schema(), indent=2), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"
