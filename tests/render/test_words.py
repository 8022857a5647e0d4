"""Words of the plan: the run-time policy options as they are written in the YAML."""
from __future__ import annotations

from typing import Any

import pytest

from reconciler.render.words import show_field

CASES = [
    ("max_runtime", 600, "10m"),
    ("time_limit", 5400, "90m"),
    ("catchup_window", 7200, "2h"),
    ("jitter", 90, "90s"),
    ("max_runtime", None, "(none)"),
    ("overlap", "queue_one", "queue_one"),
    ("catchup", "all", "all"),
    ("catchup_max", 4, "4"),
    ("scheduled_time_kwarg", "as_of", "as_of"),
    ("queue", "reports", '"reports"'),  # other text fields keep their quotes
]


@pytest.mark.parametrize(("field", "value", "shown"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_policy_options_read_as_written(field: str, value: Any, shown: str) -> None:
    assert show_field(field, value, None) == shown
