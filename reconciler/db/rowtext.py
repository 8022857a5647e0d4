"""The row digest of a task row this apply creates, computed here, byte for byte as
``rowdigest``'s SQL computes it on PostgreSQL: the new rows' ownership then goes in by one
``COPY``, digest included, instead of through a temporary table and an ``INSERT … SELECT``
joined to the task rows and their schedule rows (at 100,000 rows, psql in one transaction:
0.8-0.9 s against 0.3-0.5 s plus 1.45-1.55 s).

What makes it exact:

- the task row's own columns are the values this apply sends: integers, booleans and texts,
  quoted here as ``format('%L')`` quotes them (``quote_literal``: ``'`` and ``\\`` doubled, and
  an ``E`` before the quote when the text holds a ``\\``); ``NULL`` bare;
- its moments (``expires``, ``start_time``) and every column of the schedule rows it refers
  to are quoted by the database itself: one query for the distinct moments, one per kind of
  schedule for the rows the new tasks use (time stamps, numerics: the server's own spelling);
- the MD5 of the UTF-8 text: only on a database whose encoding is UTF8.

Anywhere else (SQLite, another encoding), ``rowdigest.insert_owned`` computes them in SQL. A
digest that came out different would only cost speed, never correctness: the row would read
as changed since its apply and be read in full at every plan (``read._pristine``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from django.db import connections
from django_celery_beat.models import PeriodicTask

from ..beat.kinds import BY_FIELD
from .rowdigest import ROW_FIELDS, SCHEDULE_COLUMN_ORDER, SCHEDULE_RELATIONS

_MOMENTS = ("expires", "start_time")  # the task's own columns the database quotes: the last of them
_OWN = tuple(name for name in ROW_FIELDS if "__" not in name)
if _OWN[-len(_MOMENTS):] != _MOMENTS:  # pragma: no cover - the digested columns are a stored format
    raise ImportError(f"rowtext expects the row's moments last among its own columns: {_OWN}")
_NULL = "NULL"


def supported(using: str) -> bool:
    """PostgreSQL with a UTF8 database: where ``RowDigests`` gives the database's digests."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_encoding')")
        return bool(cursor.fetchone()[0] == "UTF8")


class RowDigests:
    """The digests of new task rows (given as ``columns`` → values) that refer to ``schedules``
    (field → the ids used) and hold ``moments``."""

    def __init__(
        self, using: str, columns: Sequence[str], schedules: dict[str, set[int]], moments: Iterable[datetime | None],
    ) -> None:
        meta = PeriodicTask._meta
        at = {column: index for index, column in enumerate(columns)}
        relations = {relation: at[meta.get_field(relation).column] for relation in SCHEDULE_RELATIONS}
        self._keys = itemgetter(*relations.values())
        self._keys_in_order = itemgetter(*(relations[field] for field in SCHEDULE_COLUMN_ORDER))
        self._texts = itemgetter(*(at[meta.get_field(name).column] for name in _OWN[:-len(_MOMENTS)]))
        self._moment_values = itemgetter(*(at[meta.get_field(name).column] for name in _MOMENTS))
        self._moments = _quoted_moments(using, {moment for moment in moments if moment is not None})
        self._segments = {field: _schedule_segments(using, field, ids) for field, ids in schedules.items()}
        self._absent = {field: "|".join([_NULL] * len(BY_FIELD[field].columns)) for field in SCHEDULE_COLUMN_ORDER}
        self._around: dict[tuple[Any, ...], tuple[str, str]] = {}

    def of(self, row: Sequence[Any]) -> str:
        """The digest ``rowdigest`` computes for this row, once written. What comes from its
        schedule (its keys before its own values, the schedule row's columns after) is made once
        per schedule: 100,000 rows share a few thousand. A text with nothing to double, most
        values, is quoted inline, without a call."""
        around = self._around.get(self._keys(row))
        if around is None:
            around = self._schedule_parts(row)
        own = "|".join([
            f"'{value}'" if value.__class__ is str and "'" not in value and "\\" not in value else literal(value)
            for value in self._texts(row)
        ])
        moments = "|".join([_NULL if value is None else self._moments[value] for value in self._moment_values(row)])
        return hashlib.md5(f"{around[0]}|{own}|{moments}|{around[1]}".encode("utf-8", "surrogatepass"),
                           usedforsecurity=False).hexdigest()

    def _schedule_parts(self, row: Sequence[Any]) -> tuple[str, str]:
        keys = self._keys(row)
        before = "|".join(literal(pk) for pk in keys)
        after = "|".join(self._absent[field] if pk is None else self._segments[field][pk]
                         for field, pk in zip(SCHEDULE_COLUMN_ORDER, self._keys_in_order(row), strict=True))
        self._around[keys] = before, after
        return before, after


def literal(value: Any) -> str:
    """``format('%L', value)`` of an integer, a boolean, a text or NULL, as PostgreSQL spells it;
    the most common case first (a text with nothing to double: 100,000 rows, a dozen values each)."""
    if value.__class__ is str and "'" not in value and "\\" not in value:
        return f"'{value}'"
    if value is None:
        return _NULL
    if value is True or value is False:
        return "'t'" if value else "'f'"
    if isinstance(value, int):
        return f"'{value}'"
    if not isinstance(value, str):
        raise TypeError(f"no literal here for a {type(value).__name__}: the database quotes those")
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return f"'{quoted}'"


def _quoted_moments(using: str, moments: set[datetime]) -> dict[datetime, str]:
    if not moments:
        return {}
    ordered = list(moments)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT format('%%L', moment) FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS given(moment, place) "
            "ORDER BY place", [ordered],
        )
        return {moment: text for moment, (text,) in zip(ordered, cursor.fetchall(), strict=True)}


def _schedule_segments(using: str, field: str, ids: set[int]) -> dict[int, str]:
    """pk → the ``%L|%L…`` text of that schedule row's digested columns, by the database."""
    if not ids:
        return {}
    kind = BY_FIELD[field]
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = kind.model._meta
    columns = ", ".join(quote(meta.get_field(column).column) for column in kind.columns)
    template = "|".join(["%%L"] * len(kind.columns))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(meta.pk.column)}, format('{template}', {columns}) FROM {quote(meta.db_table)} "
            f"WHERE {quote(meta.pk.column)} = ANY(%s)", [sorted(ids)],
        )
        return dict(cursor.fetchall())
