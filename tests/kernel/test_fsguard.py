"""The rename/link judge: which rules can apply below a directory, and ask-mode answers."""

from __future__ import annotations

import pytest

from pocketos import VM
from pocketos.kernel.fsguard import could_match_below


@pytest.mark.parametrize(
    ("pattern", "parts", "expected"),
    [
        ("/a/**", ["a"], True),
        ("/a/**", ["a", "b", "c"], True),
        ("/a/*", ["a"], True),
        ("/a/*", ["a", "x"], False),
        ("/a/*", ["b"], False),
        ("/a/b", ["a"], True),
        ("/a/b", ["a", "b"], False),
        ("/a", [], True),
        ("/", [], False),
        ("**/k", ["x", "y"], True),
        ("/x/**/k", ["x", "y", "z"], True),
        ("/x/**/k", ["q"], False),
        ("/*/k2", ["s"], True),
        ("/*/k2", ["s", "k2"], False),
        ("/da*/x", ["data"], True),
        ("/da*/x", ["other"], False),
    ],
)
def test_could_match_below(pattern: str, parts: list[str], expected: bool) -> None:
    assert could_match_below(pattern, parts) is expected


def test_moving_out_from_an_ask_rule_asks_for_the_guarded_permission() -> None:
    asked: list[str] = []
    answer = {"value": "deny"}

    def handler(req: object) -> str:
        asked.append(f"{req.capability} {req.resource}")  # type: ignore[attr-defined]
        return answer["value"]

    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "ask", "operations": ["read"], "paths": ["/s/**"]}],
        }
    }
    with VM() as setup:
        setup.write_file("/s/d/k", b"secret", parents=True)
        with setup.fork(policy=pol, permission_handler=handler) as vm:
            with pytest.raises(PermissionError, match="fs.read on /s"):
                vm.rename("/s/d", "/t")
            assert asked == ["fs.read /s/d"]
            # moving inside the protected tree keeps the protection: nothing to ask
            asked.clear()
            vm.rename("/s/d", "/s/e")
            assert asked == []
            answer["value"] = "allow_once"
            vm.rename("/s/e", "/t")
            assert sorted(vm.readdir("/t")) == ["k"]
