"""Tool and toolkit definitions: plain Python functions with type hints (or one pydantic model
argument) become typed tools with a JSON schema, grouped in named toolkits."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = [
    "Tool",
    "Toolkit",
    "toolkit",
    "tool_name",
    "NAME_RE",
    "RESERVED_KITS",
    "DEFAULT_TIMEOUT",
    "ValidationError",
]

#: tool and toolkit names: lowercase letters, digits and dashes, starting with a letter
NAME_RE = re.compile(r"[a-z][a-z0-9-]*\Z")
#: words of the master ``pocketos`` command that cannot be toolkit names
RESERVED_KITS = frozenset({"list-tools", "help", "describe"})
#: seconds a tool call may take unless the tool says otherwise
DEFAULT_TIMEOUT = 30.0


def tool_name(fn: Callable[..., Any]) -> str:
    """``create_issue`` -> ``create-issue``."""
    return getattr(fn, "__name__", "").strip("_").replace("_", "-").lower()


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"invalid {what} name {name!r}: use lowercase letters, digits and "
            f"dashes, starting with a letter"
        )
    return name


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


@dataclass
class Tool:
    """One typed tool. Build with :meth:`Toolkit.tool` or :func:`toolkit`."""

    name: str
    func: Callable[..., Any]
    description: str
    #: the pydantic model that validates the arguments
    model: type[BaseModel]
    #: the function takes one model instance instead of keyword arguments
    takes_model: bool = False
    timeout: float | None = DEFAULT_TIMEOUT
    examples: list[str] = field(default_factory=list)
    kit: str = ""

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        examples: Iterable[str] = (),
    ) -> Tool:
        if not callable(func):
            raise TypeError(f"a tool must be a function, not {type(func).__name__}")
        nm = _check_name(name if name is not None else tool_name(func), "tool")
        desc = description if description is not None else _first_line(func.__doc__)
        desc = " ".join(desc.split()) if desc else ""
        if not desc:
            raise ValueError(
                f"tool {nm!r} needs a description (pass description=... or give "
                f"the function a docstring)"
            )
        if timeout is not None and timeout <= 0:
            raise ValueError(f"tool {nm!r}: timeout must be positive")
        model, takes_model = _arguments_model(func, nm)
        for key in model.model_json_schema().get("properties", {}):
            if key.replace("_", "-") in ("help", "json", "json-file"):
                raise ValueError(
                    f"tool {nm!r}: argument name {key!r} is reserved (it would "
                    f"clash with --{key.replace('_', '-')})"
                )
        return cls(nm, func, desc, model, takes_model, timeout, list(examples))

    @property
    def full_name(self) -> str:
        return f"{self.kit}:{self.name}"

    @property
    def is_async(self) -> bool:
        call = self.func if inspect.isroutine(self.func) else type(self.func).__call__
        return inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(call)

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (an object schema)."""
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        schema.setdefault("properties", {})
        return schema

    def validate(self, args: dict[str, Any]) -> BaseModel:
        """Validate ``args`` (raises pydantic ``ValidationError``)."""
        return self.model.model_validate(args)

    def call_args(self, validated: BaseModel) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self.takes_model:
            return (validated,), {}
        return (), {k: getattr(validated, k) for k in type(validated).model_fields}

    def describe(self) -> dict[str, Any]:
        return {
            "kit": self.kit,
            "name": self.name,
            "description": self.description,
            "timeout": self.timeout,
            "input_schema": self.input_schema(),
        }


def _arguments_model(func: Callable[..., Any], name: str) -> tuple[type[BaseModel], bool]:
    sig = inspect.signature(func)
    try:
        hints = get_type_hints(func)
    except Exception as exc:
        raise ValueError(f"tool {name!r}: cannot read its type hints: {exc}") from exc
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if len(params) == 1:
        ann = hints.get(params[0].name)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann, True
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind is p.POSITIONAL_ONLY:
            raise ValueError(
                f"tool {name!r}: positional-only parameter {p.name!r} is not supported"
            )
        if p.name.replace("_", "-") in ("help", "json", "json-file"):
            raise ValueError(
                f"tool {name!r}: argument name {p.name!r} is reserved (it would "
                f"clash with --{p.name.replace('_', '-')})"
            )
        if p.name not in hints:
            raise ValueError(f"tool {name!r}: parameter {p.name!r} has no type hint")
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints[p.name], default)
    model_name = "".join(w.capitalize() for w in name.split("-")) + "Arguments"
    model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return model, False


class Toolkit:
    """A named group of tools: ``kit = Toolkit("github", "GitHub issues")`` then
    ``@kit.tool()`` on functions, or ``toolkit("github", [fn, ...], description=...)``."""

    def __init__(self, name: str, description: str = "", tools: Iterable[Any] = ()) -> None:
        self.name = _check_name(name, "toolkit")
        if name in RESERVED_KITS:
            raise ValueError(f"toolkit name {name!r} is reserved")
        self.description = " ".join(description.split())
        if not self.description:
            raise ValueError(f"toolkit {name!r} needs a description")
        self.tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(
        self,
        func: Callable[..., Any] | Tool,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        examples: Iterable[str] = (),
    ) -> Tool:
        """Add a function (or a ready :class:`Tool`); duplicate names raise ValueError."""
        t = (
            func
            if isinstance(func, Tool)
            else Tool.from_function(
                func, name=name, description=description, timeout=timeout, examples=examples
            )
        )
        if t.name in self.tools:
            raise ValueError(f"toolkit {self.name!r}: duplicate tool name {t.name!r}")
        t.kit = self.name
        self.tools[t.name] = t
        return t

    def tool(
        self,
        name: str | Callable[..., Any] | None = None,
        *,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        examples: Iterable[str] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register the function as a tool and return it unchanged."""
        if callable(name):  # used bare: @kit.tool
            fn = name
            self.add(fn)
            return fn  # type: ignore[return-value]
        assert name is None or isinstance(name, str)

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(fn, name=name, description=description, timeout=timeout, examples=examples)
            return fn

        return deco

    def __iter__(self) -> Any:
        return iter(self.tools.values())

    def __len__(self) -> int:
        return len(self.tools)

    def __repr__(self) -> str:
        return f"Toolkit({self.name!r}, tools={sorted(self.tools)})"


def toolkit(name: str, tools: Iterable[Callable[..., Any] | Tool], *, description: str) -> Toolkit:
    """A toolkit from a list of functions."""
    return Toolkit(name, description, tools)
