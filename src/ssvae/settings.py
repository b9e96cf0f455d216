"""Settings declared once: each field of a configuration dataclass carries its help, choices and bounds.

The command line's flags, the estimator's checks, a grid file's type checks and the messages they print are
all derived from these declarations (`ssvae.training.config`, `ssvae.core.objectives`), so a setting is added
or changed in one place. Messages name a setting as the interface the user is in spells it: `--batch-size`
on the command line, `batch_size` in Python and in grid files.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Iterable

import numpy as np

from .errors import SSVAEError

Spelling = Callable[[str], str]


class _Always:
    """The `before_it_existed` of a setting that every run has had."""

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS = _Always()


def python_name(name: str) -> str:
    """A setting's name in Python (the estimator's parameters, grid files)."""
    return name


def flag_name(name: str) -> str:
    """A setting's command-line flag."""
    return "--" + name.replace("_", "-")


def is_on(value: Any) -> bool:
    """A switch (`Setting.shown_when`) is on unless it is False, None, 0 or "none"."""
    return bool(value) and value != "none"


@dataclass(frozen=True)
class Setting:
    """What a user needs to know of one setting, and what the code that reads it may assume."""

    help: str
    choices: Callable[[], Iterable[str]] | tuple[str, ...] | None = None  # a callable reads a registry lazily
    at_least: float | None = None
    above: float | None = None  # strictly
    below: float | None = None  # strictly
    group: str = "optimisation"  # where the command line lists it
    cli: bool = True  # a flag of `ssvae train` (False: settable from Python and grid files only)
    flag_choices: bool = True  # argparse checks the choices (False: the run does, with its own message)
    explicit: bool = False  # the flag defaults to None, so that a command can tell whether it was given
    resumable: bool = False  # may change when a run is resumed (e.g. to train longer, or on another machine)
    before_it_existed: Any = ALWAYS  # the behaviour runs made before this setting existed had
    per_run: bool = False  # may differ between runs stacked into one training step
    shown_when: str | None = None  # only meaningful (in run names, tables) when this switch is on
    type: Callable[[str], Any] | None = None  # for settings outside a dataclass (model options)
    finite: bool = True  # a number here must be finite: NaN and infinities are refused (no setting means them)

    def known(self) -> list[str]:
        choices = self.choices() if callable(self.choices) else self.choices
        return list(choices or ())


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, **meta: Any) -> Any:
    """A dataclass field with its declaration (`Setting(**meta)`) in the field's metadata."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"setting": Setting(**meta)})


def declared(cls_or_obj: Any) -> dict[str, Setting]:
    """name -> Setting for every declared field, in field order."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(cls_or_obj) if "setting" in f.metadata}


def kinds(cls: type) -> dict[str, str]:
    """name -> 'bool', 'int', 'float', 'str', 'tuple' or 'dict' (None allowed or not: see `optional`)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if typing.get_origin(t) in (typing.Union, types.UnionType):  # X | None
            t = next(a for a in typing.get_args(t) if a is not type(None))
        out[f.name] = (typing.get_origin(t) or t).__name__
    return out


def optional(cls: type) -> set[str]:
    """The fields whose type admits None."""
    hints = typing.get_type_hints(cls)
    return {f.name for f in dataclasses.fields(cls) if type(None) in typing.get_args(hints[f.name])}


def check_value(name: str, value: Any, s: Setting, spell: Spelling = python_name) -> None:
    """One line naming the setting, as the user spells it, when `value` breaks its declaration."""
    if value is None:
        return
    if s.finite and not all_finite(value):
        raise SSVAEError(f"{spell(name)} must be a finite number, got {value}")
    known = s.known() if s.flag_choices else []  # otherwise the run checks them itself, in its own words
    if known and value not in known:
        raise SSVAEError(f"unknown {spell(name)} {value!r}; known: {', '.join(map(str, known))}")
    if s.at_least is not None and not value >= s.at_least:
        at_least = f"at least {s.at_least:g}" if s.at_least else "0 or more"
        raise SSVAEError(f"{spell(name)} must be {at_least}, got {value}")
    if s.above is not None and not value > s.above:
        raise SSVAEError(f"{spell(name)} must be {'positive' if s.above == 0 else f'above {s.above:g}'}, got {value}")
    if s.below is not None and not value < s.below:
        raise SSVAEError(f"{spell(name)} must be below {s.below:g}, got {value}")


def all_finite(value: Any) -> bool:
    """False for a float (or a tuple or list holding one) that is NaN or infinite; True for anything else."""
    if isinstance(value, (tuple, list)):
        return all(all_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def check(obj: Any, spell: Spelling = python_name) -> None:
    """Every declared field of a configuration object against its declaration."""
    for name, s in declared(obj).items():
        check_value(name, getattr(obj, name), s, spell)


KIND_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "tuple": "a list of two numbers",
    "dict": "a table",
}


def fits_kind(value: Any, kind: str) -> bool:
    """Whether a value from Python (numpy's numbers included) is of a declared kind ('int', 'float', 'str',
    'bool'); other kinds are not checked here."""
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if kind == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if kind == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if kind == "str":
        return isinstance(value, str)
    return True


def coerce(cls: type, name: str, value: Any, where: str) -> Any:
    """A value from a grid file (TOML) for field `name`, converted to the field's declared type, or one line."""
    kind = kinds(cls)[name]
    bad = SSVAEError(f"{where} {name}: {value!r} is not {KIND_WORDS.get(kind, kind)}")
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "tuple":
        ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
        value = tuple(float(v) for v in value) if ok else value
    else:
        ok = isinstance(value, dict)
    if not ok:
        raise bad
    return value
