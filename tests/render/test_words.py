"""Words of the plan: the run-time policy, calendar and monitor options as they are written in the
YAML; a cron list and the exclusions of a calendar in words."""
from __future__ import annotations

from typing import Any

import pytest

from reconciler.render.words import CALENDAR_WORDS, cron_list_words, show_field

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


OPTION_CASES = [
    ("holidays", "DE-BY", "DE-BY"),
    ("zone", "Europe/Paris", "Europe/Paris"),
    ("max_runs", 5, "5"),
    ("monitor.grace", 300, "5m"),
    ("monitor.failure_threshold", 3, "3"),
    ("monitor.owner", "team-billing", "team-billing"),
    ("monitor.severity", "page", "page"),
    ("also_cron", ("30 14 * * 1-5",), '["30 14 * * 1-5"]'),
    ("until", "2027-03-31T21:59:59+00:00", "2027-03-31T21:59:59+00:00"),  # no declaration: in UTC
]


@pytest.mark.parametrize(("field", "value", "shown"), OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_calendar_and_monitor_options_read_as_written(field: str, value: Any, shown: str) -> None:
    assert show_field(field, value, None) == shown


CRON_LISTS = [
    (["0 9 * * 1-5", "30 14 * * 1-5"], "2 times a weekday: 09:00, 14:30"),
    (["0 17 * * *", "0 9 * * *"], "2 times a day: 09:00, 17:00"),
    (["0 9,17 * 1 *", "30 12 * 1 *"], "3 times a day, only in January: 09:00, 12:30, 17:00"),
    (["0 9 * * 1", "0 17 * * 1"], "2 times a day, only on Monday: 09:00, 17:00"),
    (["0 9 * * 1", "0 17 * * 2"], "At 09:00, only on Monday; At 17:00, only on Tuesday"),  # days differ
    (["*/15 * * * *", "0 9 * * *"], "Every 15 minutes; At 09:00"),  # too many times to list
]


@pytest.mark.parametrize(("crons", "words"), CRON_LISTS, ids=[c[1][:24] for c in CRON_LISTS])
def test_a_cron_list_in_words(crons: list[str], words: str) -> None:
    assert cron_list_words(crons) == words


EXCLUSIONS = [
    ("holidays", "FR", "except public holidays in France"),
    ("holidays", "US-NY", "except public holidays in United States (New York)"),
    ("exclude_dates", ("2026-12-24",), "except 2026-12-24"),
    ("exclude_dates", ("2026-12-24", "2026-12-26..2027-01-02", "2027-02-01"),
     "except 2026-12-24, 2026-12-26 to 2027-01-02 and 2027-02-01"),
    ("exclude_cron", ("* * 1 * *",), "except every minute, on day 1 of the month"),
]


@pytest.mark.parametrize(("field", "value", "words"), EXCLUSIONS, ids=[f"{c[0]}-{len(c[1])}" for c in EXCLUSIONS])
def test_exclusions_in_words(field: str, value: Any, words: str) -> None:
    assert CALENDAR_WORDS[field](value) == words
