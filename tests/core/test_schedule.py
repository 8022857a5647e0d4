"""Schedule values in canonical form: compare by meaning, write one spelling."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from reconciler.core.schedule import Clocked, Crontab, Solar, canonical_cron_field, format_duration

CRON_FIELD_CASES = [
    ("minute", "0", "0"),
    ("minute", "00", "0"),
    ("minute", "*", "*"),
    ("minute", "0-59", "*"),
    ("minute", "*/15", "*/15"),
    ("minute", "0,15,30,45", "*/15"),
    ("minute", "5,1,3,2,4", "1-5"),
    ("minute", "1,2,10", "1-2,10"),
    ("hour", "9-17", "9-17"),
    ("day_of_week", "mon", "1"),
    ("day_of_week", "1", "1"),
    ("day_of_week", "mon-fri", "1-5"),
    ("day_of_week", "sun,sat", "0,6"),
    ("day_of_week", "*", "*"),
    ("day_of_month", "1-31", "*"),
    ("day_of_month", "*/2", "*/2"),
    ("month_of_year", "jan-jun", "1-6"),
    ("month_of_year", "*/3", "*/3"),
]


@pytest.mark.parametrize(
    ("field", "raw", "canonical"), CRON_FIELD_CASES, ids=[f"{f}:{r}" for f, r, _ in CRON_FIELD_CASES]
)
def test_cron_field_canonical_form(field: str, raw: str, canonical: str) -> None:
    assert canonical_cron_field(field, raw) == canonical


def test_canonical_cron_field_is_a_fixed_point() -> None:
    for field, raw, canonical in CRON_FIELD_CASES:
        assert canonical_cron_field(field, canonical) == canonical, (field, raw)


def test_invalid_cron_field_raises_celerys_error() -> None:
    with pytest.raises(ValueError, match="59"):
        canonical_cron_field("minute", "61")


def test_same_meaning_crontabs_are_equal() -> None:
    a = Crontab.canonical("UTC", minute="00", hour="3", day_of_week="mon")
    b = Crontab.canonical("UTC", minute="0", hour="03", day_of_week="1")
    assert a == b and a.expression == "0 3 * * 1"


def test_clocked_is_held_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    assert Clocked(datetime(2030, 1, 1, 12, tzinfo=paris)) == Clocked(datetime(2030, 1, 1, 10, tzinfo=UTC))
    with pytest.raises(ValueError):
        Clocked(datetime(2030, 1, 1))


def test_solar_coordinates_quantised_like_the_model() -> None:
    assert Solar("sunset", 48.8566, 2.3522) == Solar("sunset", Decimal("48.856600"), Decimal("2.352200"))


@pytest.mark.parametrize(("seconds", "text"), [(30, "30s"), (90, "90s"), (900, "15m"), (7200, "2h"), (86400, "1d")])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
