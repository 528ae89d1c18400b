"""The shell's options as typed objects: :class:`SetOptions` (``set -o``/``set -e``…) and
:class:`Shopts` (``shopt``). Each option is a named boolean attribute, so the interpreter's
per-command checks (``opts.errexit``, ``opts.xtrace``, ``opts.noglob``) are plain attribute
reads; builtins reach an option by its bash name through :meth:`OptionSet.get` /
:meth:`OptionSet.set`, which refuse names bash does not know.

The name tables are in bash 5.2's order, the order ``set -o``, ``set +o``, ``shopt`` and
``shopt -p`` print in. A subshell starts with a :meth:`~OptionSet.copy` of its parent's
options."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Self

__all__ = [
    "FLAG_LETTERS",
    "OptionSet",
    "SET_OPTION_NAMES",
    "SHOPT_NAMES",
    "SetOptions",
    "Shopts",
    "shopt_line",
]

#: ``set -o`` names, in the order bash lists them
SET_OPTION_NAMES: tuple[str, ...] = (
    "allexport",
    "braceexpand",
    "emacs",
    "errexit",
    "errtrace",
    "functrace",
    "hashall",
    "histexpand",
    "history",
    "ignoreeof",
    "interactive-comments",
    "keyword",
    "monitor",
    "noclobber",
    "noexec",
    "noglob",
    "nolog",
    "notify",
    "nounset",
    "onecmd",
    "physical",
    "pipefail",
    "posix",
    "privileged",
    "verbose",
    "vi",
    "xtrace",
)

#: ``set``'s one-letter flags and the option each stands for, in the order ``$-`` shows them
FLAG_LETTERS: dict[str, str] = {
    "a": "allexport",
    "b": "notify",
    "e": "errexit",
    "f": "noglob",
    "h": "hashall",
    "k": "keyword",
    "m": "monitor",
    "n": "noexec",
    "p": "privileged",
    "t": "onecmd",
    "u": "nounset",
    "v": "verbose",
    "x": "xtrace",
    "B": "braceexpand",
    "C": "noclobber",
    "E": "errtrace",
    "H": "histexpand",
    "P": "physical",
    "T": "functrace",
}

#: ``shopt`` names, in the order bash lists them (bash's own table order: not sorted)
SHOPT_NAMES: tuple[str, ...] = (
    "autocd",
    "assoc_expand_once",
    "cdable_vars",
    "cdspell",
    "checkhash",
    "checkjobs",
    "checkwinsize",
    "cmdhist",
    "compat31",
    "compat32",
    "compat40",
    "compat41",
    "compat42",
    "compat43",
    "compat44",
    "complete_fullquote",
    "direxpand",
    "dirspell",
    "dotglob",
    "execfail",
    "expand_aliases",
    "extdebug",
    "extglob",
    "extquote",
    "failglob",
    "force_fignore",
    "globasciiranges",
    "globskipdots",
    "globstar",
    "gnu_errfmt",
    "histappend",
    "histreedit",
    "histverify",
    "hostcomplete",
    "huponexit",
    "inherit_errexit",
    "interactive_comments",
    "lastpipe",
    "lithist",
    "localvar_inherit",
    "localvar_unset",
    "login_shell",
    "mailwarn",
    "no_empty_cmd_completion",
    "nocaseglob",
    "nocasematch",
    "noexpand_translation",
    "nullglob",
    "patsub_replacement",
    "progcomp",
    "progcomp_alias",
    "promptvars",
    "restricted_shell",
    "shift_verbose",
    "sourcepath",
    "varredir_close",
    "xpg_echo",
)


def _attr(name: str) -> str:
    return name.replace("-", "_")


_set = object.__setattr__


class OptionSet:
    """A fixed set of named boolean options. Subclasses list the bash names in ``NAMES`` and
    declare each option as an attribute (a ``-`` in a name is ``_`` in its attribute) and in
    ``__slots__`` (``_slots(NAMES)``): a slot is the fastest attribute to read, which the
    per-command checks do.

    A set marked by :meth:`share` (a fork holds it too) refuses changes (``RuntimeError``):
    its holder changes a :meth:`copy` (``ShellState.own_opts``), so a change never reaches
    the other shell. Copying slots one by one costs a few µs, so sharing keeps copies off
    the paths that fork (a ``$(...)``, a pipeline stage)."""

    __slots__ = ("_shared",)
    _shared: bool

    NAMES: ClassVar[tuple[str, ...]] = ()
    #: the options that start on
    ON: ClassVar[frozenset[str]] = frozenset()
    _ATTRS: ClassVar[dict[str, str]] = {}
    _VALUES: ClassVar[Callable[[Any], tuple[bool, ...]]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._ATTRS = {n: _attr(n) for n in cls.NAMES}
        cls._VALUES = operator.attrgetter(*cls._ATTRS.values())

    def __init__(self) -> None:
        for name, attr in self._ATTRS.items():
            _set(self, attr, name in self.ON)
        _set(self, "_shared", False)

    def __setattr__(self, attr: str, on: bool) -> None:
        if self._shared:
            raise RuntimeError("options shared with a fork: change a copy (own_opts())")
        _set(self, attr, on)  # AttributeError for a name that is not an option (slots)

    def copy(self) -> Self:
        """An independent copy (a subshell's options), free to change."""
        cls = type(self)
        new = object.__new__(cls)
        for attr, on in zip(self._ATTRS.values(), type(self)._VALUES(self), strict=True):
            _set(new, attr, on)
        _set(new, "_shared", False)
        return new

    def share(self) -> Self:
        """Mark this set as held by a fork too: from now on it refuses changes."""
        _set(self, "_shared", True)
        return self

    @property
    def shared(self) -> bool:
        """Whether a fork holds this set too (see :meth:`share`)."""
        return self._shared

    def snapshot(self) -> dict[str, bool]:
        """Every option's value by bash name (what ``local -`` saves)."""
        return dict(self.items())

    def restore(self, saved: Mapping[str, bool]) -> None:
        """Put back the values of a :meth:`snapshot` (``local -`` at function return)."""
        attrs = self._ATTRS
        for name, on in saved.items():
            setattr(self, attrs[name], on)

    def __contains__(self, name: object) -> bool:
        return name in self._ATTRS

    def get(self, name: str) -> bool:
        """The option called ``name`` in bash; KeyError for a name bash does not have."""
        return bool(getattr(self, self._ATTRS[name]))

    def set(self, name: str, on: bool) -> None:
        """Turn the option called ``name`` on or off; KeyError for a name bash does not have."""
        setattr(self, self._ATTRS[name], on)

    def items(self) -> Iterator[tuple[str, bool]]:
        """Every option's bash name and value, in bash's order."""
        return zip(self._ATTRS, type(self)._VALUES(self), strict=True)

    def enabled(self) -> str:
        """The names of the options that are on, joined by ``:`` (``$SHELLOPTS``,
        ``$BASHOPTS``)."""
        return ":".join(name for name, on in self.items() if on)


class SetOptions(OptionSet):
    """``set -o`` options."""

    NAMES = SET_OPTION_NAMES
    __slots__ = tuple(_attr(n) for n in SET_OPTION_NAMES) + ("_no_errexit",)
    ON = frozenset({"braceexpand", "hashall", "interactive-comments"})

    allexport: bool
    braceexpand: bool
    emacs: bool
    errexit: bool
    errtrace: bool
    functrace: bool
    hashall: bool
    histexpand: bool
    history: bool
    ignoreeof: bool
    interactive_comments: bool
    keyword: bool
    monitor: bool
    noclobber: bool
    noexec: bool
    noglob: bool
    nolog: bool
    notify: bool
    nounset: bool
    onecmd: bool
    physical: bool
    pipefail: bool
    posix: bool
    privileged: bool
    verbose: bool
    vi: bool
    xtrace: bool

    #: these options with errexit off, shared (see :meth:`without_errexit`)
    _no_errexit: SetOptions | None

    def __init__(self) -> None:
        super().__init__()
        _set(self, "_no_errexit", None)

    def __setattr__(self, attr: str, on: bool) -> None:
        super().__setattr__(attr, on)
        _set(self, "_no_errexit", None)  # made again from the new values when next asked

    def copy(self) -> Self:
        new = super().copy()
        _set(new, "_no_errexit", None)
        return new

    def without_errexit(self) -> SetOptions:
        """These options with errexit off, as a set shared with whoever asks (what a
        ``$(...)`` runs with unless ``shopt -s inherit_errexit``): made once, kept until
        these options change, so a substitution under ``set -e`` copies nothing."""
        off = self._no_errexit
        if off is None:
            off = self.copy()
            off.errexit = False
            off.share()
            _set(self, "_no_errexit", off)
        return off

    def set(self, name: str, on: bool) -> None:
        super().set(name, on)
        # the two line-editing modes exclude each other, as in bash
        if on and name == "vi":
            self.emacs = False
        elif on and name == "emacs":
            self.vi = False

    def flags(self) -> str:
        """The one-letter flags that are on, in ``$-``'s order (without ``c``/``s``/``i``)."""
        return "".join(c for c, name in FLAG_LETTERS.items() if getattr(self, name))

    def print_lines(self, as_commands: bool, names: list[str] | None = None) -> str:
        """``set -o`` (``name<TAB>on``) or, with ``as_commands``, ``set +o`` (``set -o name``)
        output for ``names`` (default: all)."""
        return "".join(
            (f"set {'-' if on else '+'}o {name}\n" if as_commands else _table_line(name, on))
            for name, on in self._select(names)
        )

    def _select(self, names: list[str] | None) -> Iterator[tuple[str, bool]]:
        if names is None:
            yield from self.items()
        else:
            for name in names:
                yield name, self.get(name)


class Shopts(OptionSet):
    """``shopt`` options."""

    NAMES = SHOPT_NAMES
    __slots__ = tuple(_attr(n) for n in SHOPT_NAMES)
    ON = frozenset(
        {
            "checkwinsize",
            "cmdhist",
            "complete_fullquote",
            "extquote",
            "force_fignore",
            "globasciiranges",
            "globskipdots",
            "hostcomplete",
            "interactive_comments",
            "patsub_replacement",
            "progcomp",
            "promptvars",
            "sourcepath",
        }
    )

    autocd: bool
    assoc_expand_once: bool
    cdable_vars: bool
    cdspell: bool
    checkhash: bool
    checkjobs: bool
    checkwinsize: bool
    cmdhist: bool
    compat31: bool
    compat32: bool
    compat40: bool
    compat41: bool
    compat42: bool
    compat43: bool
    compat44: bool
    complete_fullquote: bool
    direxpand: bool
    dirspell: bool
    dotglob: bool
    execfail: bool
    expand_aliases: bool
    extdebug: bool
    extglob: bool
    extquote: bool
    failglob: bool
    force_fignore: bool
    globasciiranges: bool
    globskipdots: bool
    globstar: bool
    gnu_errfmt: bool
    histappend: bool
    histreedit: bool
    histverify: bool
    hostcomplete: bool
    huponexit: bool
    inherit_errexit: bool
    interactive_comments: bool
    lastpipe: bool
    lithist: bool
    localvar_inherit: bool
    localvar_unset: bool
    login_shell: bool
    mailwarn: bool
    no_empty_cmd_completion: bool
    nocaseglob: bool
    nocasematch: bool
    noexpand_translation: bool
    nullglob: bool
    patsub_replacement: bool
    progcomp: bool
    progcomp_alias: bool
    promptvars: bool
    restricted_shell: bool
    shift_verbose: bool
    sourcepath: bool
    varredir_close: bool
    xpg_echo: bool


def _table_line(name: str, on: bool) -> str:
    """One line of ``set -o`` / ``shopt`` output: the name padded to 15, a tab, on/off."""
    return f"{name:<15}\t{'on' if on else 'off'}\n"


def shopt_line(name: str, on: bool, as_command: bool) -> str:
    """One line of ``shopt`` (``name<TAB>on``) or ``shopt -p`` (``shopt -s name``) output."""
    return f"shopt -{'s' if on else 'u'} {name}\n" if as_command else _table_line(name, on)
