"""Canonical forms: compare by meaning, write one spelling."""
from __future__ import annotations

import pytest

from reconciler.core.schedule import Interval
from reconciler.core.specs import TaskSpec, canonical_json


def test_canonical_json_sorts_keys_and_drops_spaces() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'


def test_digest_changes_with_any_managed_field_and_not_otherwise() -> None:
    base = TaskSpec("n", "t", Interval(60))
    assert base.digest() == TaskSpec("n", "t", Interval(60)).digest()
    for changed in (
        TaskSpec("n2", "t", Interval(60)),
        TaskSpec("n", "t", Interval(61)),
        TaskSpec("n", "t", Interval(60), args="[1]"),
        TaskSpec("n", "t", Interval(60), enabled=False),
        TaskSpec("n", "t", Interval(60), queue="q"),
    ):
        assert changed.digest() != base.digest()


@pytest.mark.parametrize("value", [
    {}, [], (), (1, "t"), False, 0.0, "", "é \"quoted\" \\ back\nline", 0, -1, 10 ** 30, 1.5, float("nan"),
    float("inf"), None, True,
    {"b": [1, 2.5, None, False], "a": {"z": "ü", "y": []}, "": "empty key"}, ["x", {"k": "v"}],
])
def test_canonical_json_is_the_sorted_compact_json_text(value: object) -> None:
    """The digests stored in ownership are of this text: it must never change spelling."""
    import json

    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
