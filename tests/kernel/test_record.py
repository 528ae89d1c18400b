"""``record`` against ``dataclasses.dataclass`` as the oracle: the same class built both ways
behaves the same (construction, defaults, errors, repr, equality, hash, frozen, replace, asdict,
pickling, __post_init__)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from pocketos.kernel.fs.api import StatResult
from pocketos.kernel.limits import Limits
from pocketos.kernel.process import ProcessInfo
from pocketos.kernel.record import record
from pocketos.vm_api import ExecResult

BUILDERS: list[Callable[..., Any]] = [dataclasses.dataclass, record]


def _make(build: Callable[..., Any], **options: Any) -> Any:
    class Point:
        """A point."""

        x: int
        y: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)
        note: str = dataclasses.field(default="", repr=False, compare=False)
        hidden: int = dataclasses.field(default=7, init=False)

    # a module-level name, so that pickle finds the class
    name = f"Point_{build.__name__}_{'_'.join(options) or 'plain'}"
    Point.__name__ = Point.__qualname__ = name
    made = build(**options)(Point)
    globals()[name] = made
    return made


def _outcome(fn: Callable[[], Any]) -> tuple[str, str]:
    try:
        return "ok", repr(fn())
    except Exception as e:  # the error type and message are part of the behaviour
        return type(e).__name__, str(e).replace("_dataclass_", "_").replace("_record_", "_")


def _behaviour(P: Any) -> list[Any]:
    a = P(1, 2, ["t"], "n")
    return [
        repr(a),
        _outcome(lambda: P()),
        _outcome(lambda: P(1, 2, [], "", 5)),
        _outcome(lambda: P(1, x=2)),
        _outcome(lambda: P(1, z=2)),
        _outcome(lambda: P(1, hidden=2)),
        repr(P(x=3)),
        P(1).tags is not P(1).tags,
        a == P(1, 2, ["t"], "other note"),
        a == P(1, 3, ["t"]),
        a == (1, 2),
        _outcome(lambda: hash(P(1, 2, ())) == hash(P(1, 2, ()))),
        _outcome(lambda: setattr(a, "x", 9)),
        repr(dataclasses.replace(a, y=5)),
        dataclasses.asdict(a),
        [f.name for f in dataclasses.fields(P)],
        dataclasses.is_dataclass(P),
        pickle.loads(pickle.dumps(a)) == a,
        copy.deepcopy(a) == a,
        P.__match_args__,
        P.__doc__,
    ]


OPTIONS = [{}, {"frozen": True}, {"slots": True}, {"frozen": True, "slots": True}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "plain")
def test_record_behaves_like_dataclass(options: dict[str, bool]) -> None:
    d, r = (_behaviour(_make(build, **options)) for build in BUILDERS)
    d[0], d[6], d[13] = (x.replace("_dataclass_", "_") for x in (d[0], d[6], d[13]))
    r[0], r[6], r[13] = (x.replace("_record_", "_") for x in (r[0], r[6], r[13]))
    assert d == r


def test_missing_arguments_are_named_like_a_dataclass() -> None:
    outs = []
    for build in BUILDERS:

        @build
        class Three:
            a: int
            b: int
            c: int

        outs.append([_outcome(lambda: Three()), _outcome(lambda: Three(1))])  # type: ignore[call-arg]
    assert outs[0] == outs[1]


def test_post_init_runs_and_can_reject() -> None:
    for build in BUILDERS:

        @build(frozen=True)
        class Positive:
            n: int = 1

            def __post_init__(self) -> None:
                if self.n < 0:
                    raise ValueError("negative")

        assert Positive(3).n == 3  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="negative"):
            Positive(-1)  # type: ignore[call-arg]


def test_a_method_the_class_defines_is_kept() -> None:
    @record(slots=True)
    class Own:
        a: int

        def __init__(self, a: int) -> None:
            self.a = a * 2

        def __repr__(self) -> str:
            return "own"

    assert Own(2).a == 4
    assert repr(Own(1)) == "own"
    assert Own(1) == Own(1)


def test_a_recursive_repr_does_not_recurse_forever() -> None:
    outs = []
    for build in BUILDERS:

        @build
        class Box:
            items: list[Any]

        b = Box([])  # type: ignore[call-arg]
        b.items.append(b)
        outs.append(repr(b))
    assert (
        outs[0]
        == outs[1]
        == "test_a_recursive_repr_does_not_recurse_forever.<locals>.Box(items=[...])"
    )


@pytest.mark.parametrize(
    "cls", [Limits, ProcessInfo, StatResult, ExecResult], ids=lambda c: c.__name__
)
def test_a_written_init_takes_the_fields_with_their_defaults(cls: Any) -> None:
    """These classes write their ``__init__`` (they are built often); it must take exactly the
    dataclass's fields, in order, with the same defaults (``None`` for a default factory)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert p.default is None, f.name
        else:
            assert p.default is inspect.Parameter.empty, f.name
    defaults = [p.default for p in params if p.default is not inspect.Parameter.empty]
    required = len(params) - len(defaults)
    made = cls(*range(1, required + 1)) if cls is not Limits else cls()
    for f in fields:
        if f.default_factory is not dataclasses.MISSING:
            fresh = f.default_factory()
            value = getattr(made, f.name)
            assert type(value) is type(fresh), f.name
            assert value == fresh or isinstance(fresh, float), f.name  # a time differs
