"""Declared arguments against type hints: strict about types, lenient about what JSON cannot
say. Plain functions (their annotations are strings here, as in most projects)."""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from reconciler.declare.arguments import first_mismatch, resolved_hints


class Opaque:
    """A class pydantic cannot build a validator for: any value is accepted."""


def untyped(a, b=None, **rest):  # type: ignore[no-untyped-def]
    return a


def flags(name: str, *, include_drafts: bool = False, ratio: float = 1.0) -> None: ...


def shapes(pair: tuple[int, int], items: Sequence[int], tags: set[str], when: datetime) -> None: ...


def containers(names: list[str] | None = None, weights: dict[str, int] | None = None) -> None: ...


def variadic(first: int, *numbers: int, **labels: str) -> None: ...


def unresolvable(thing: NotImportedAnywhere, other: Opaque) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def any_value(payload: Any, count: int = 0) -> None: ...


# (function, args, kwargs) → the key path of the first mismatch, or None when everything fits
CASES: dict[str, tuple[Any, tuple[Any, ...], dict[str, Any], tuple[Any, ...] | None]] = {
    "untyped-accepts-anything": (untyped, ({"x": [1]},), {"b": "s", "z": 3.5}, None),
    "bool-refuses-a-string": (flags, ("staff",), {"include_drafts": "yes please"}, ("kwargs", "include_drafts")),
    "bool-refuses-a-number": (flags, ("staff",), {"include_drafts": 1}, ("kwargs", "include_drafts")),
    "bool-accepts-a-bool": (flags, ("staff",), {"include_drafts": True}, None),
    "str-refuses-a-number": (flags, (3,), {}, ("args", 0)),
    "float-accepts-an-int": (flags, ("staff",), {"ratio": 3}, None),
    "float-refuses-a-string": (flags, ("staff",), {"ratio": "3.5"}, ("kwargs", "ratio")),
    "tuple-set-sequence-accept-arrays": (shapes, ([1, 2], [3], ["a"], "2030-01-01T00:00:00Z"), {}, None),
    "tuple-checks-its-items": (shapes, ([1, "x"], [3], ["a"], "2030-01-01T00:00:00Z"), {}, ("args", 0)),
    "datetime-refuses-a-non-date": (shapes, ([1, 2], [3], ["a"], "soon"), {}, ("args", 3)),
    "list-item-of-the-wrong-type": (containers, (), {"names": ["a", 3]}, ("kwargs", "names")),
    "optional-accepts-null": (containers, (None,), {"weights": None}, None),
    "dict-values-checked": (containers, (), {"weights": {"a": "heavy"}}, ("kwargs", "weights")),
    "star-args-each-checked": (variadic, (1, 2, "3"), {}, ("args", 2)),
    "star-kwargs-each-checked": (variadic, (1,), {"colour": "red", "size": 4}, ("kwargs", "size")),
    "unresolvable-hints-accept": (unresolvable, ("anything",), {"other": 3}, None),
    "any-accepts-anything": (any_value, ({"a": None},), {"count": 4}, None),
    "int-refuses-a-bool": (any_value, (None,), {"count": True}, ("kwargs", "count")),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_arguments_against_hints(case: str) -> None:
    function, args, kwargs, expected = CASES[case]
    signature = inspect.signature(function)
    signature.bind(*args, **kwargs)  # the cases bind: only their types are in question
    mismatch = first_mismatch(signature, resolved_hints(function, signature), args, kwargs)
    assert (mismatch.where if mismatch else None) == expected


def test_mismatch_message_says_where_inside_a_container() -> None:
    signature = inspect.signature(containers)
    mismatch = first_mismatch(signature, resolved_hints(containers, signature), (), {"names": ["a", 3]})
    assert mismatch is not None
    assert mismatch.message("tasks.notify") == (
        "argument 'names' of tasks.notify expects list[str] | None, got list ['a', 3] "
        "(at [1]: Input should be a valid string)"
    )
