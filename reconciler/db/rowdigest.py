"""A digest of each ``PeriodicTask`` row and its schedule row, computed by the database, so
that a row the reconciler wrote and nobody touched since is not read in full again.

Why: at 100,000 rows a no-op apply spent most of its time fetching and canonicalising rows
that had not changed. Apply stores, in the ownership row (``ManagedTask.row_digest``), the
digest the database computes for each row it has just written; read computes it again for
every row in the one query that lists them. A row whose digest is unchanged, and whose
declaration digest (``spec_hash``) equals the declaration it is compared with, is column for
column the row that very declaration wrote (``read`` then takes the declaration as the row).
Any change to a digested column (the admin, a script, raw SQL, or a shared schedule row
edited) changes the digest, and the row is read and compared in full, drift and all.

The text hashed is the row's values as SQL literals (quoted, NULL as NULL), by one call of
``format('%L|%L…')`` (PostgreSQL) or ``printf('%Q|%Q…')`` (SQLite): two different rows never
give the same text, and one function call per row is what keeps SQLite fast (an expression
per column cost it 0.9 s at 100,000 rows; this, 0.3 s). ``MD5`` is PostgreSQL's own, and on
SQLite the function Django registers on each connection. On PostgreSQL the rows an apply
creates get the same digest computed as they are sent (``rowtext``), byte for byte this one.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django_celery_beat.models import PeriodicTask

from ..beat.kinds import BY_FIELD
from ..models import ManagedTask
from .bulk import insert_rows

# The text hashed is a stored format (``ManagedTask.row_digest``): its columns keep the order
# they were first digested in, or every stored digest goes stale (each row then read in full at
# every plan until it is next written). The kinds table says which columns; these two, in what
# order (tests/db/test_rowdigest.py checks that each names every kind once).
SCHEDULE_RELATIONS = ("interval", "crontab", "clocked", "solar")  # the foreign keys
SCHEDULE_COLUMN_ORDER = ("interval", "clocked", "solar", "crontab")  # the schedule rows' columns

# What a row's spec is read from (``read.spec_from_row``), as ORM lookups; the digest covers
# exactly these, plus the schedule foreign keys. Beat's own columns are left out.
ROW_FIELDS = (
    "name", "task", "args", "kwargs", "enabled", "one_off", "description", "queue", "exchange",
    "routing_key", "priority", "headers", "expire_seconds", "expires", "start_time",
    *(f"{kind.field}__{column}"
      for kind in map(BY_FIELD.__getitem__, SCHEDULE_COLUMN_ORDER) for column in kind.columns),
)
BATCH = 500  # ids per statement when rows are read by id: under SQLite's variable limit


_SQL: dict[str, tuple[str, str]] = {}


def supported(using: str) -> bool:
    """The backends whose SQL this module speaks; elsewhere rows are always read in full."""
    return connections[using].vendor in FORMAT




def _sql(using: str) -> tuple[str, str]:
    """(the digest expression, the FROM clause with the schedule joins), per backend."""
    connection = connections[using]
    if connection.vendor not in _SQL:
        _SQL[connection.vendor] = _build_sql(connection.ops.quote_name, FORMAT[connection.vendor])
    return _SQL[connection.vendor]


QUOTED = {"printf": "%Q", "format": "%L"}  # a value as an SQL literal; NULL as NULL
FORMAT = {"sqlite": "printf", "postgresql": "format"}  # (SQLite has format too since 3.38)


def _build_sql(quote: Callable[[str], str], format_function: str) -> tuple[str, str]:
    meta = PeriodicTask._meta
    task = quote(meta.db_table)
    joins = []
    for relation in SCHEDULE_RELATIONS:
        field = meta.get_field(relation)
        joins.append(f"LEFT JOIN {quote(field.related_model._meta.db_table)} {quote('s_' + relation)} "
                     f"ON {quote('s_' + relation)}.{quote('id')} = {task}.{quote(field.column)}")
    columns = [f"{task}.{quote(meta.get_field(relation).column)}" for relation in SCHEDULE_RELATIONS]
    for lookup in ROW_FIELDS:
        relation, _, column = lookup.rpartition("__")
        if relation:
            model = meta.get_field(relation).related_model
            columns.append(f"{quote('s_' + relation)}.{quote(model._meta.get_field(column).column)}")
        else:
            columns.append(f"{task}.{quote(meta.get_field(column).column)}")
    template = "|".join([QUOTED[format_function]] * len(columns))
    return f"MD5({format_function}('{template}', {', '.join(columns)}))", f"{task} {' '.join(joins)}"


def heads_query(using: str, sources: int | None = None, names: int = 0) -> str:
    """Every row: id, name, beat's two columns, its ownership columns (NULL when not owned),
    the stored digest and the digest now; ordered by name. With ``sources`` (how many): only
    the rows owned by those sources, given as parameters (``read_heads``), and with ``names``
    (how many) only those of these names, given after them."""
    connection = connections[using]
    digest, source = _sql(using)
    quote = connection.ops.quote_name
    task, owned = quote(PeriodicTask._meta.db_table), quote(ManagedTask._meta.db_table)
    ownership = ", ".join(f"{owned}.{quote(c)}" for c in (*OWNERSHIP_FIELDS, "row_digest"))
    where = ""
    if sources is not None:  # a query with parameters: its own % are doubled
        digest = digest.replace("%", "%%")
        where = f"WHERE {owned}.{quote('source')} IN ({', '.join(['%s'] * sources)}) "
        if names:
            where += f"AND {task}.{quote('name')} IN ({', '.join(['%s'] * names)}) "
    return (
        f"SELECT {task}.{quote('id')}, {task}.{quote('name')}, {task}.{quote('last_run_at')}, "
        f"{task}.{quote('total_run_count')}, {ownership}, {digest} FROM {source} "
        f"LEFT JOIN {owned} ON {owned}.{quote('periodic_task_id')} = {task}.{quote('id')} "
        f"{where}ORDER BY {task}.{quote('name')}"
    )


def names_outside(
    using: str, sources: Sequence[str], names: Collection[str] | None = None,
) -> list[tuple[int, str]]:
    """(id, name) of every row not owned by ``sources`` (of ``names`` only, when given): the
    names alone, for a plan to find the few a declaration takes (a conflict) without reading
    the others."""
    connection = connections[using]
    quote = connection.ops.quote_name
    task, owned = quote(PeriodicTask._meta.db_table), quote(ManagedTask._meta.db_table)
    sql = (
        f"SELECT {task}.{quote('id')}, {task}.{quote('name')} FROM {task} "
        f"LEFT JOIN {owned} ON {owned}.{quote('periodic_task_id')} = {task}.{quote('id')} "
        f"WHERE ({owned}.{quote('source')} IS NULL "
        f"OR {owned}.{quote('source')} NOT IN ({', '.join(['%s'] * len(sources))}))"
    )
    with connection.cursor() as cursor:
        if names is None:
            cursor.execute(sql, list(sources))
            return cursor.fetchall()
        ordered, found = sorted(names), []
        for start in range(0, len(ordered), BATCH):
            batch = ordered[start:start + BATCH]
            cursor.execute(f"{sql} AND {task}.{quote('name')} IN ({', '.join(['%s'] * len(batch))})",
                           [*sources, *batch])
            found.extend(cursor.fetchall())
        return found


OWNERSHIP_FIELDS = (  # what ``read`` builds an Ownership from
    "periodic_task_id", "spec_hash", "source_file", "source_line", "source",
    "suspended_at", "suspended_by", "suspend_reason", "policy", "calendar", "monitor",
)


def read_heads(
    using: str, sources: Sequence[str] | None = None, names: Collection[str] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows of ``heads_query`` (only those owned by ``sources``, when given, and of those
    only the rows of ``names``, when given), raw: date-times as the driver returns them
    (``datetimes``)."""
    with connections[using].cursor() as cursor:
        if sources is None:
            cursor.execute(heads_query(using))
            return cursor.fetchall()
        if names is None:
            cursor.execute(heads_query(using, len(sources)), list(sources))
            return cursor.fetchall()
        ordered, heads = sorted(names), []
        for start in range(0, len(ordered), BATCH):
            batch = ordered[start:start + BATCH]
            cursor.execute(heads_query(using, len(sources), len(batch)), [*sources, *batch])
            heads.extend(cursor.fetchall())
        return heads


def datetimes(using: str) -> Callable[[Any], Any]:
    """A raw date-time value → what Django's own reads return (aware on SQLite too)."""
    connection = connections[using]
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is None:  # PostgreSQL: the driver returns aware date-times
        return lambda value: value
    return lambda value: None if value is None else convert(value, None, connection)


PENDING = "pending"  # written by apply with a changed ownership row; replaced by ``record`` before commit
_INCOMING = "reconciler_incoming_ownership"  # a temporary table: one connection's, inside one transaction
_TEMPORARY = {"postgresql": "pg_temp", "sqlite": "temp"}  # its schema: a DROP never reaches a table of the same name


def insert_owned(columns: Sequence[str], rows: list[tuple[Any, ...]], using: str) -> None:
    """Insert new ownership rows (``columns``, without ``row_digest``) with the digest of each
    one's task row, computed on the way in: the rows go to a temporary table, then into
    ``ManagedTask`` by one ``INSERT … SELECT`` joined to their task rows. Writing them first
    and digesting them with an ``UPDATE`` wrote every row twice: at 100,000 rows 2.0 s against
    1.35 s on PostgreSQL, 0.85 s against 0.75 s on SQLite. A row whose task row is missing would
    be left out by the join: that is refused (the transaction rolls back), never lost."""
    if not rows:
        return
    if not supported(using):
        insert_rows(ManagedTask, [*columns, "row_digest"], [(*row, PENDING) for row in rows], using)
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    digest, source = _sql(using)
    owned, task = quote(ManagedTask._meta.db_table), quote(PeriodicTask._meta.db_table)
    incoming = f"{_TEMPORARY[connection.vendor]}.{quote(_INCOMING)}"
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {incoming}")
        cursor.execute(f"CREATE TEMPORARY TABLE {quote(_INCOMING)} AS SELECT {names} FROM {owned} WHERE 1 = 0")
        insert_rows(ManagedTask, columns, rows, using, into=_INCOMING)
        chosen = ", ".join(f"{incoming}.{quote(column)}" for column in columns)
        with _hash_memory(cursor, connection.vendor):
            cursor.execute(
                f"INSERT INTO {owned} ({names}, {quote('row_digest')}) SELECT {chosen}, {digest} FROM {source} "
                f"JOIN {incoming} ON {incoming}.{quote('periodic_task_id')} = {task}.{quote('id')}"
            )
            inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {incoming}")
    if inserted != len(rows):
        raise RuntimeError(f"ownership of {len(rows) - inserted} new row(s) found no task row; nothing was written")


HASH_MEMORY = "64MB"


@contextmanager
def _hash_memory(cursor: Any, vendor: str) -> Iterator[None]:
    """PostgreSQL: ``work_mem`` raised to ``HASH_MEMORY`` (never lowered) for one statement. The
    task rows written just before have no statistics yet, so the planner sizes the join's hash
    for a few thousand of them: at 100,000 it spilled to temporary files in two batches of long
    bucket chains (1.73-1.88 s against 1.55-1.67 s for the insert, psql, same transaction)."""
    if vendor != "postgresql":
        yield
        return
    cursor.execute(
        "SELECT current_setting('work_mem'), CASE WHEN pg_size_bytes(current_setting('work_mem')) "
        "< pg_size_bytes(%s) THEN set_config('work_mem', %s, true) END", [HASH_MEMORY, HASH_MEMORY],
    )
    before, raised = cursor.fetchone()
    try:
        yield
    finally:
        if raised is not None:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [before])


def record(using: str) -> None:
    """Store the digest of the rows just written, which apply marked ``PENDING`` (inside its
    transaction: nobody else ever sees the mark, and it never equals a digest anyway)."""
    if not supported(using):
        return
    connection = connections[using]
    digest, source = _sql(using)
    digest = digest.replace("%", "%%")
    quote = connection.ops.quote_name
    owned, task = quote(ManagedTask._meta.db_table), quote(PeriodicTask._meta.db_table)
    column, link = quote("row_digest"), f"{task}.{quote('id')} = {owned}.{quote('periodic_task_id')}"
    if connection.vendor == "postgresql":  # a join: one pass, not one subquery per row
        sql = f"UPDATE {owned} SET {column} = {digest} FROM {source} WHERE {link} AND {owned}.{column} = %s"
    else:
        sql = f"UPDATE {owned} SET {column} = (SELECT {digest} FROM {source} WHERE {link}) WHERE {column} = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [PENDING])
