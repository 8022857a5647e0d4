"""What the three option sets of a declaration share (``Policy``, ``Calendar``, ``Monitor``): a
frozen dataclass of plain, JSON-able values with defaults, kept in ownership as the JSON of its
non-default options (the row has no column for them), and taking part in a spec's fields only
where an option differs from its default. So a declaration that uses none keeps the digest it
always had, and a plan shows "overlap: allow → skip" for an option added later (``value_of``)."""
from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import fields
from functools import lru_cache
from typing import Any, ClassVar, Self, TypeVar, cast

_O = TypeVar("_O", bound="OptionSet")


class OptionSet:
    """Mixed into a frozen dataclass whose fields all have defaults."""

    PREFIX: ClassVar[str] = ""  # of its options' names in a spec's fields ("monitor.grace")

    def fields(self) -> dict[str, Any]:
        """Prefixed option → value, for the options that differ from their default."""
        return dict(self._non_default())

    def _non_default(self) -> tuple[tuple[str, Any], ...]:
        """Kept in the instance's ``__dict__`` (not a field: equality and hashing ignore it), as
        ``to_json`` is: 100,000 specs share a few option sets (``shared``), and each is asked for
        its fields and its JSON several times (a memo keyed by the value hashed every field at each ask)."""
        found = self.__dict__.get("_non_default_options")
        if found is None:
            found = self.__dict__["_non_default_options"] = _non_default(self)
        return cast(tuple[tuple[str, Any], ...], found)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Prefixed option → its default."""
        return {f"{cls.PREFIX}{f.name}": f.default for f in fields(cls)}  # type: ignore[arg-type]

    @property
    def is_default(self) -> bool:
        return not self.fields()

    def to_json(self) -> str:
        """What ownership stores: the non-default options (unprefixed), or ``""``."""
        found = self.__dict__.get("_stored_json")
        if found is None:
            found = self.__dict__["_stored_json"] = _stored(self)
        return cast(str, found)

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        """The stored options (lists back to tuples); unreadable ones are the defaults (the next
        apply rewrites them). Memoised by text: the values are frozen, and a beat or a health
        read of 100,000 rows repeats a few distinct texts."""
        return cast(Self, _parsed(cast(Hashable, cls), text or ""))

    @classmethod
    def _parse(cls, text: str) -> Self:
        if not text:
            return cls()
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        try:
            stored = json.loads(text)
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known})
        except (ValueError, TypeError, AttributeError):
            return cls()


@lru_cache(maxsize=4096)
def _parsed(cls: Any, text: str) -> OptionSet:
    parsed: OptionSet = cls._parse(text)
    return parsed


_SHARED: dict[Any, Any] = {}
SHARED_LIMIT = 10_000  # distinct option sets kept: a tree repeats a few; a hostile one cannot grow this


def shared(options: _O) -> _O:
    """The one object of ``options``' value: 100,000 declarations repeat a few option sets, and
    what stores or sends them works once per object (ownership's JSON, the pickles from the
    validating processes) instead of once per declaration."""
    found = _SHARED.get(options)
    if found is None:
        if len(_SHARED) >= SHARED_LIMIT:
            return options
        found = _SHARED[options] = options
    return cast(_O, found)


def value_of(field_values: dict[str, Any], name: str, defaults: dict[str, Any]) -> Any:
    """A spec field's value where an option that one side leaves out is its default."""
    return field_values[name] if name in field_values else defaults.get(name)


def _stored(options: OptionSet) -> str:
    stored = {name.removeprefix(options.PREFIX): value for name, value in options._non_default()}
    return json.dumps(stored, sort_keys=True, separators=(",", ":")) if stored else ""


def _non_default(options: OptionSet) -> tuple[tuple[str, Any], ...]:
    defaults = options.defaults()
    prefix = options.PREFIX
    return tuple(
        (f"{prefix}{f.name}", value) for f in fields(options)  # type: ignore[arg-type]
        if (value := getattr(options, f.name)) != defaults[f"{prefix}{f.name}"]
    )
