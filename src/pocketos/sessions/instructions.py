"""The OS instructions handed to an agent at the start of a session: where files are, which
commands exist, how to call host tools, and what the policy denies. Generated from the VM
itself, so they never drift from what the VM actually offers."""

from __future__ import annotations

from typing import Any

__all__ = ["os_instructions", "policy_summary", "host_tools", "host_tool_reference"]


def policy_summary(policy: Any) -> list[str]:
    """One line per permission domain, in plain words."""
    from pocketos.kernel.permissions import DOMAINS

    lines: list[str] = []
    for domain in DOMAINS:
        dp = policy.domains.get(domain)
        if dp is None:
            lines.append(f"- {domain}: denied (not granted)")
            continue
        words = {"allow": "allowed", "deny": "denied", "ask": "asks for approval"}
        text = f"- {domain}: {words.get(dp.default, dp.default)} by default"
        extra: list[str] = []
        for rule in dp.rules:
            ops = ",".join(rule.operations) if rule.operations else "all operations"
            pats = ", ".join(rule.patterns) if rule.patterns else "everything"
            extra.append(f"{words.get(rule.mode, rule.mode)}: {ops} on {pats}")
        if extra:
            text += "; " + "; ".join(extra)
        lines.append(text)
    return lines


def host_tools(vm: Any) -> list[dict[str, Any]]:
    """Host tools installed in the VM (``vm.kernel.tools``), as plain dicts:
    ``{"kit", "name", "description", "input_schema", "command"}``. Empty when none."""
    host = getattr(getattr(vm, "kernel", None), "tools", None)
    kits = getattr(host, "kits", None)
    if not kits:
        return []
    out: list[dict[str, Any]] = []
    for kit in kits.values():
        for tool in kit.tools.values():
            try:
                schema = tool.input_schema()
            except Exception:
                schema = {"type": "object", "properties": {}}
            out.append(
                {
                    "kit": kit.name,
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": schema,
                    "command": [f"pocketos-{kit.name}", tool.name],
                }
            )
    return out


def host_tool_reference(vm: Any) -> str:
    """The Markdown reference of host tools, or ``""`` when the VM has none."""
    if not host_tools(vm):
        return ""
    try:
        from pocketos.tools import reference_markdown
    except ImportError:
        return ""
    try:
        return str(reference_markdown(vm))
    except Exception:
        return ""


def os_instructions(vm: Any, *, cwd: str = "/home/user", extra: str | None = None) -> str:
    """Markdown instructions describing the VM to an agent."""
    names = sorted(vm.kernel.commands.names())
    env = getattr(vm, "env", {}) or {}
    out = [
        "# Your environment: a pocketos VM",
        "",
        "You work inside a pocketos virtual machine: an in-memory Linux-like filesystem, a "
        "bash-compatible shell and GNU-compatible commands, all under a deny-by-default "
        "permission policy. Nothing you do reaches the host unless the policy grants it.",
        "",
        "## Files",
        "",
        f"- Working directory: `{cwd}`; home: `{env.get('HOME', '/home/user')}`; scratch "
        "space: `/tmp`.",
        "- The filesystem is private to this VM and lives in memory; write results where "
        "you were asked to.",
        "- Paths are POSIX; text files are UTF-8.",
    ]
    try:
        mounts = [m for m in vm.mounts() if m.get("path") != "/"]
    except Exception:
        mounts = []
    for m in mounts:
        mode = "read-only" if m.get("readonly") else "read-write"
        out.append(f"- `{m['path']}` is a {m.get('kind', 'mounted')} mount ({mode}).")
    out += [
        "",
        "## Commands",
        "",
        "The shell is bash-compatible (pipes, redirections, globbing, `$(...)`, functions, "
        "control flow). These commands exist; anything else is not installed:",
        "",
        " ".join(f"`{n}`" for n in names),
        "",
        "Every command accepts `--help`. There is no package manager that reaches the "
        "network unless the policy allows it.",
        "",
        "## Permissions",
        "",
        'What the policy lets this VM do (a denied operation fails with "Permission '
        'denied"; do not retry it, report it):',
        "",
        *policy_summary(vm.policy),
    ]
    ref = host_tool_reference(vm)
    if ref:
        out += [
            "",
            ref.rstrip("\n")
            .replace("# Host tools", "## Host tools", 1)
            .replace("\n## ", "\n### ")
            .replace("\n### `", "\n#### `"),
        ]
    else:
        out += ["", "## Host tools", "", "No host tools are installed in this VM."]
    if extra:
        out += ["", "## Instructions from the operator", "", extra.strip()]
    return "\n".join(out).rstrip("\n") + "\n"
