"""New rows' digests computed in Python (PostgreSQL): byte for byte the database's own, for
every kind of schedule and the values that quoting treats apart (quotes, backslashes, text
beyond ASCII, NULLs, moments with microseconds and offsets, coordinates)."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reconciler.db import rowdigest, rowtext
from reconciler.models import ManagedTask
from tests.support.engine import apply_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.only_backend("postgresql")]

HOSTILE = r"""tasks:
  "it's a \\ name":
    task: project.tasks.send_digest
    cron: "5,35 */2 1-15 1,6 mon-fri"
    timezone: America/Argentina/Buenos_Aires
    args: ["C:\\reports\\'q2' naïve ☃ 😀 中文"]
    kwargs: {include_drafts: true}
    description: "quotes ' and '' and a backslash \\ and E'x'"
    queue: "q'ueue"
    exchange: "ex\\change"
    routing_key: "rk ü"
    priority: 0
    headers: {"x-tag": "a\\b", "x-name": "o'brien"}
    expires: "2031-03-01T10:20:30.123456+05:30"
    start_time: "2026-01-01T00:00:00.000001-03:00"
  plain:
    task: project.tasks.sync_inventory
    every: 90s
    args: [north]
    priority: 255
    expires: 1h
  "tab\tand ‮ marks":
    task: project.tasks.generate_report
    at: "2031-05-01T02:00:00.5-07:00"
    args: ["q2", ["a@example.com"]]
    description: ""
  south:
    task: project.tasks.open_garden_lights
    solar: {event: dusk_civil, latitude: -33.86882, longitude: 151.20929}
    args: ["back\\yard"]
  rounded:
    task: project.tasks.open_garden_lights
    solar: {event: sunrise, latitude: 48.85661234, longitude: -0.0000004}
    args: [front]
"""


@pytest.mark.parametrize("value, cast", [
    (None, "text"), (True, "boolean"), (False, "boolean"), (0, "bigint"), (-7, "bigint"), (2 ** 40, "bigint"),
    ("", "text"), ("plain", "text"), ("it's", "text"), ("back\\slash", "text"), ("both ' and \\ \\'", "text"),
    ("é ü ☃ 😀 中文", "text"), ("tab\tnew\nline\r", "text"), ("\u202e\u2066 marks \x7f\x01", "text"),
    ("E'x'", "text"), ("''", "text"),
])
def test_literal_spells_a_value_as_format_does(value: object, cast: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT format('%%L', %s::{cast})", [value])
        assert rowtext.literal(value) == cursor.fetchone()[0]


def test_a_created_rows_digest_is_the_one_the_database_computes(tmp_path: Path) -> None:
    """Created rows' ownership goes in by one COPY with digests made here (no temporary table),
    and each equals the digest the database computes for its row now."""
    assert rowtext.supported("default")
    with CaptureQueriesContext(connection) as queries:
        apply_yaml(tmp_path, HOSTILE)
    assert not [q for q in queries.captured_queries if "reconciler_incoming_ownership" in q["sql"]]
    heads = rowdigest.read_heads("default")
    assert len(heads) == 5 == ManagedTask.objects.count()
    assert [(head[1], head[-2]) for head in heads] == [(head[1], head[-1]) for head in heads]
    assert len({head[-1] for head in heads}) == 5


def test_literal_refuses_what_the_database_must_quote() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    for value in (datetime(2031, 1, 1, tzinfo=UTC), Decimal("1.5"), 1.5):
        with pytest.raises(TypeError):
            rowtext.literal(value)


def test_an_adopted_row_beside_created_ones_gets_the_databases_digest_too(tmp_path: Path) -> None:
    """Adopted rows' ownership still goes through the SQL digest, in the same apply."""
    apply_yaml(tmp_path, HOSTILE)
    ManagedTask.objects.filter(periodic_task__name="south").delete()  # an unowned row, declared
    more = HOSTILE + "  added:\n    task: project.tasks.open_garden_lights\n    every: 5m\n    args: [\"it's\"]\n"
    with CaptureQueriesContext(connection) as queries:
        apply_yaml(tmp_path, more, adopt=True)
    assert [q for q in queries.captured_queries if "reconciler_incoming_ownership" in q["sql"]]  # the adopted one
    heads = rowdigest.read_heads("default")
    assert len(heads) == 6 == ManagedTask.objects.count()
    assert all(len(head[-2]) == 32 and head[-2] == head[-1] for head in heads)
