"""Plain tuples into a table, without a model instance per row (building those costs more
than writing the rows): what apply writes created rows and ownership with."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model


def insert_rows(
    model: type[Model], columns: Sequence[str], rows: list[tuple[Any, ...]], using: str,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert plain tuples, without building a model instance per row (that costs more than
    writing the row). PostgreSQL: ``COPY … FROM STDIN`` (psycopg formats the rows in C; the
    ``UNNEST`` of arrays that Django's bulk_create sends is built in Python, 3x slower at
    100,000 rows), then ``returning`` read back by its first column. SQLite: one executemany,
    in-process; nothing is returned (the caller looks the ids up)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    head = f"{table} ({', '.join(quote(c) for c in columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {head} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if not returning:
                return []
            key = columns.index(returning[0])
            cursor.execute(
                f"SELECT {', '.join(quote(c) for c in returning)} FROM {table} WHERE {quote(returning[0])} = ANY(%s)",
                [[row[key] for row in rows]],
            )
            return cursor.fetchall()
        fields = {f.column: f for f in model._meta.concrete_fields}
        moments = [i for i, c in enumerate(columns) if fields[c].get_internal_type() == "DateTimeField"]
        prepared = _adapted(rows, moments, connection.ops.adapt_datetimefield_value)
        cursor.executemany(f"INSERT INTO {head} VALUES ({', '.join(['%s'] * len(columns))})", prepared)
        return []


def _adapted(
    rows: list[tuple[Any, ...]], positions: Sequence[int], adapt: Callable[[Any], Any],
) -> list[tuple[Any, ...]] | list[list[Any]]:
    """The rows with their values at ``positions`` adapted, each value object once: the rows
    share a few (the apply's start, None). By identity, not equality: equal datetimes may be
    different instants (``fold``), the rows hold every value alive (no id is reused)."""
    if not positions:
        return rows
    adapted: dict[int, Any] = {}
    prepared = []
    for row in rows:
        values = list(row)
        for i in positions:
            value = values[i]
            key = id(value)
            if key not in adapted:
                adapted[key] = adapt(value)
            values[i] = adapted[key]
        prepared.append(values)
    return prepared
