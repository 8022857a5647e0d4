"""Plain tuples into a table, without a model instance per row (building those costs more
than writing the rows): what apply writes created and changed rows and ownership with."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from django.db import connections
from django.db.models import Model

Adapt = Callable[[Any], Any]  # a value as the database stores it
COPY_FROM_ROWS = 1_000  # ``insert_returning_pks`` on PostgreSQL: from this many rows, by ``COPY``


def insert_rows(
    model: type[Model], columns: Sequence[str], rows: Iterable[tuple[Any, ...]], using: str, into: str | None = None,
) -> None:
    """Insert plain tuples, without building a model instance per row (that costs more than
    writing the row). PostgreSQL: ``COPY … FROM STDIN``, in the binary format where the
    columns' types allow (``_binary_types``), else the text format (psycopg formats the rows in
    C; the ``UNNEST`` of arrays that Django's bulk_create sends is built in Python, 3x slower
    at 100,000 rows). SQLite: one executemany, in-process. ``rows`` is read once; on PostgreSQL as
    it is sent, so that a generator's work overlaps the server's. ``into``: another table with
    the model's columns (a temporary one), written instead of the model's."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(into or model._meta.db_table)
    head = f"{table} ({', '.join(quote(c) for c in columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = _binary_types(cursor, table, columns)
            with cursor.cursor.copy(f"COPY {head} FROM STDIN{' (FORMAT BINARY)' if types else ''}") as copy:
                if types:
                    copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        else:
            prepared = list(_adapted(rows, _moments(model, columns, connection.ops.adapt_datetimefield_value)))
            cursor.executemany(f"INSERT INTO {head} VALUES ({', '.join(['%s'] * len(columns))})", prepared)


# Types whose values psycopg writes in COPY's binary format from what the apply holds (int,
# str, bool, Decimal, aware datetime, None): bool, int2, int4, int8, text, varchar, bpchar,
# float4, float8, numeric, timestamptz.
_BINARY_OIDS = frozenset({16, 21, 23, 20, 25, 1043, 1042, 700, 701, 1700, 1184})


def _binary_types(cursor: Any, table: str, columns: Sequence[str]) -> list[int] | None:
    """The columns' type OIDs, when every one is in ``_BINARY_OIDS``: then ``insert_rows`` sends
    the rows in COPY's binary format (at 100,000 task rows, a quarter of the text format's
    client CPU, and less parsing on the server); else None, the text format. The binary format
    has no implicit casts: each value is sent as the column's own type, so the table says which."""
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped", [table],
    )
    found: dict[str, int] = dict(cursor.fetchall())
    types = [found.get(column, 0) for column in columns]
    return types if all(oid in _BINARY_OIDS for oid in types) else None


def allocate_ids(model: type[Model], count: int, using: str) -> list[int]:
    """``count`` new primary keys of ``model``, for rows inserted with their key (``insert_rows``):
    no read-back of what the database chose (at 100,000 rows, 0.2-0.3 s). PostgreSQL: drawn
    from the column's own sequence, as any other insert draws them. SQLite, inside the writing
    transaction (no other writer): after the largest key ever given, ``AUTOINCREMENT``'s
    ``sqlite_sequence`` included, which the insert then moves on."""
    if count <= 0:
        return []
    connection = connections[using]
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the sequence named once: per row, its lookup cost 8x the draw
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [connection.ops.quote_name(table), pk])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
            return [key for key, in cursor.fetchall()]
        cursor.execute(f"SELECT MAX({connection.ops.quote_name(pk)}) FROM {connection.ops.quote_name(table)}")
        largest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            given = cursor.fetchone()
            largest = max(largest, given[0] if given else 0)
    return list(range(largest + 1, largest + 1 + count))


def insert_returning_pks(
    model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]], using: str,
) -> list[Any]:
    """Insert plain tuples of ``columns`` (field names) and return their primary keys in the
    rows' order. Each value is adapted by its field (``get_db_prep_save``, as ``bulk_create``
    does; ``_adapted``): rows without a unique column to read them back by (schedule rows),
    19,000 of them for a large first apply, without a model instance each. On PostgreSQL, one
    ``INSERT … SELECT * FROM UNNEST(arrays) RETURNING`` (a statement of 100,000 placeholders
    costs psycopg more to parse than the server to run); from ``COPY_FROM_ROWS`` rows, the keys
    are drawn first (``allocate_ids``) and the rows go in by ``COPY`` (``insert_rows``), where
    psycopg built each array in Python (at 19,000 rows, 0.1 s of 0.5). Elsewhere, multi-row
    ``INSERT … RETURNING`` in batches under the parameter limit, whose keys come back in the
    rows' order, the order Django's ``bulk_create`` relies on."""
    if not rows:
        return []
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(column) for column in columns]
    prepared = list(_adapted(rows, [(i, partial(field.get_db_prep_save, connection=connection))
                                    for i, field in enumerate(fields)]))
    if connection.vendor == "postgresql" and len(prepared) >= COPY_FROM_ROWS:
        keys = allocate_ids(model, len(prepared), using)
        insert_rows(model, [model._meta.pk.column, *(f.column for f in fields)],
                    [(key, *row) for key, row in zip(keys, prepared, strict=True)], using)
        return keys
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
    tail = f" RETURNING {quote(model._meta.pk.column)}"
    pks: list[Any] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one array per column, as bulk_create sends them (no truncation)
            arrays = ", ".join(f"(%s)::{field.db_type(connection).split('(')[0]}[]" for field in fields)
            columns_of_rows = [list(column) for column in zip(*prepared, strict=True)]
            cursor.execute(f"{head}SELECT * FROM UNNEST({arrays}){tail}", columns_of_rows)
            return [pk for pk, in cursor.fetchall()]
        one = f"({', '.join(['%s'] * len(fields))})"
        size = max(1, (connection.features.max_query_params or 999) // len(fields))
        for start in range(0, len(prepared), size):
            batch = prepared[start:start + size]
            cursor.execute(f"{head}VALUES {', '.join([one] * len(batch))}{tail}", [v for row in batch for v in row])
            pks.extend(pk for pk, in cursor.fetchall())
    return pks


def update_rows(
    model: type[Model], key: str, columns: Sequence[str], rows: list[tuple[Any, ...]], using: str,
) -> None:
    """``UPDATE`` each row whose ``key`` column equals a tuple's last value, setting ``columns``
    to its other values: one parameterised statement per row, sent with ``executemany``
    (psycopg pipelines it). Django's ``bulk_update`` builds a ``CASE WHEN`` per column and row,
    resolved in Python: 40 rows of 20 columns cost about 0.1 s, 100,000 rows minutes."""
    if not rows:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(key)} = %s"
    params: Sequence[Sequence[Any]] = rows
    if connection.vendor != "postgresql":  # psycopg adapts date-times itself
        params = list(_adapted(rows, _moments(model, (*columns, key), connection.ops.adapt_datetimefield_value)))
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _moments(model: type[Model], columns: Sequence[str], adapt: Adapt) -> list[tuple[int, Adapt]]:
    """``adapt`` at the positions of ``columns`` that hold date-times (SQLite stores them as
    Django formats them)."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    return [(i, adapt) for i, c in enumerate(columns) if fields[c].get_internal_type() == "DateTimeField"]


def _adapted(rows: Iterable[tuple[Any, ...]], adapters: Sequence[tuple[int, Adapt]]) -> Iterable[Sequence[Any]]:
    """The rows with the value at each adapter's position adapted, each value object once per
    position: the rows share many (the apply's start, None, a cron's fields). By identity, not
    equality: equal datetimes may be different instants (``fold``), and the rows hold every
    value alive while the memo holds it (no id is reused). Lazily: each row as it is read."""
    if not adapters:
        return rows
    return _adapting(rows, adapters)


def _adapting(rows: Iterable[tuple[Any, ...]], adapters: Sequence[tuple[int, Adapt]]) -> Iterator[list[Any]]:
    memos: list[dict[int, tuple[Any, Any]]] = [{} for _ in adapters]  # id → (the value, adapted)
    for row in rows:
        values = list(row)
        for (i, adapt), memo in zip(adapters, memos, strict=True):
            value = values[i]
            known = memo.get(id(value))
            if known is None:
                known = memo[id(value)] = (value, adapt(value))
            values[i] = known[1]
        yield values
