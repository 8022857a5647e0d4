"""Beat's incremental reload: what changed since the last load, read by the rows' own change
stamps (``PeriodicTask.date_changed``) instead of every row again (issue 21).

A full load of 100,000 rows takes seconds, and beat sends nothing meanwhile; after a one-row
change beat reads here only:

- **the stamped rows**: one ``GROUP BY date_changed`` over the rows stamped since the latest
  stamp seen less ``MARGIN`` gives how many rows carry each stamp; the rows of a stamp that is
  new, or that more rows carry than were read, are read again (enabled or not). The margin is
  for the writers whose stamp is older than their commit: an apply stamps its rows with the
  clock read before it waits for the reconcile lock, diffs and writes, and commits them all at
  once; a transaction that commits late is read at the next reload as long as its stamp is
  within the margin of the latest one. Counting per stamp is what makes re-reading the margin
  cheap: a stamp read before is read again only if more rows carry it;
- **the enabled count**: deletions leave no stamp, nor do the ``UPDATE``\\ s that only flip
  ``enabled`` (the admin's enable and disable actions, a suspension, a calendar's last run).
  ``COUNT(*)`` of the enabled rows against the rows loaded; only when they differ are the
  enabled ids read, the missing dropped and the new ones loaded.

A change that neither explains (the marker moved, yet no stamp is new and the count agrees: an
in-place edit of a schedule row, an ``UPDATE`` that stamps nothing, a toggle that disables one
row and enables another) is answered by a full load, and so are many stamped rows: past
``FULL_FRACTION`` of the loaded rows a full load costs little more (a first apply of 100,000).
What it cannot see, the safety reload finds (``safety``): docs/deploy.md ("Beat's reload").
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DateTimeField, ExpressionWrapper, Q, Subquery, Value
from django_celery_beat.schedulers import SCHEDULE_SYNC_MAX_INTERVAL

from .kinds import load_rows

log = logging.getLogger("reconciler.scheduler")

MARGIN = timedelta(seconds=SCHEDULE_SYNC_MAX_INTERVAL)  # how far before the latest stamp a late commit is still read
FULL_FRACTION = 0.25  # more stamped (or appeared) rows than this share of the loaded ones: a full load
FULL_MINIMUM = 100  # ... but never for fewer rows than this
MAX_STAMPS = 500  # distinct stamps named in one query (SQLite's variable limit); more new ones: a full load
ID_BATCH = 500  # rows that appeared without a stamp, loaded by primary key in batches


@dataclass
class Stamps:
    """The change stamps the loaded schedule has seen: the latest, and how many rows carried
    each stamp within ``MARGIN`` of it."""

    high: datetime | None = None
    counts: dict[datetime, int] = field(default_factory=dict)

    @classmethod
    def current(cls, model: type[Any]) -> Stamps:
        """What the table holds now (one query): read before a full load, so that what commits
        during the load is read again by the next reload."""
        latest = model.objects.order_by("-date_changed").values("date_changed")[:1]
        rows = model.objects.filter(date_changed__gt=ExpressionWrapper(
            Subquery(latest) - Value(MARGIN), output_field=DateTimeField()))
        counts = dict(rows.order_by().values_list("date_changed").annotate(count=Count("id")))
        return cls(max(counts) if counts else None, counts)

    @property
    def since(self) -> datetime | None:
        return None if self.high is None else self.high - MARGIN

    def unseen(self, counts: dict[datetime, int]) -> list[datetime]:
        """The stamps more rows carry now than were read."""
        return [stamp for stamp, count in counts.items() if count > self.counts.get(stamp, 0)]

    def saw(self, read: Iterable[datetime], counts: dict[datetime, int] | None = None) -> None:
        """Remember the stamps of the rows read: added to the counts, or, with ``counts`` (every
        stamp of the window, counted), the counts are those, or the rows read when more
        (committed since the count)."""
        if counts is not None:
            self.counts = dict(counts)
        for stamp, count in Counter(read).items():
            known = self.counts.get(stamp, 0)
            self.counts[stamp] = max(count, known) if counts is not None else known + count
        if self.counts:
            self.high = max(self.high, max(self.counts)) if self.high is not None else max(self.counts)
        since = self.since
        self.counts = {stamp: count for stamp, count in self.counts.items() if since is None or stamp > since}

    def left(self, stamps: Iterable[datetime]) -> None:
        """Rows read again no longer carry these stamps (each once)."""
        for stamp in stamps:
            if self.counts.get(stamp, 0) > 0:
                self.counts[stamp] -= 1


def stamp_counts(model: type[Any], since: datetime | None) -> dict[datetime, int]:
    """Rows per ``date_changed`` after ``since`` (every row when None)."""
    rows = model.objects.all() if since is None else model.objects.filter(date_changed__gt=since)
    return dict(rows.order_by().values_list("date_changed").annotate(count=Count("id")))


@dataclass
class Changes:
    """What a reload found: the rows to load again (enabled or not, each with its schedule,
    policy and calendar), the ids that are no longer enabled, and whether anything explains
    the marker's move."""

    rows: list[Any]
    gone: set[int]
    explained: bool


class Reloader:
    """The rows the loaded schedule was built from (each enabled row's id → its name, those that
    could not be read included), the stamp each row read carried, and the stamps seen."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.stamps = Stamps()
        self.loaded: dict[int, str] = {}
        self.stamp_of: dict[int, datetime] = {}  # every row read (enabled or not) → its stamp then

    def full(self, stamps: Stamps, rows: Iterable[Any]) -> None:
        """A full load read ``rows``, after ``stamps`` (``Stamps.current``)."""
        self.stamps = stamps
        self.loaded, self.stamp_of = {}, {}
        for row in rows:
            self.loaded[row.pk] = row.name
            self.stamp_of[row.pk] = row.date_changed

    def limit(self) -> int:
        return max(FULL_MINIMUM, int(len(self.loaded) * FULL_FRACTION))

    def stamped(self) -> tuple[list[Any], bool, int | None] | None:
        """The rows of the stamps not read yet, whether there were any, and the enabled rows
        counted (None: not counted); None: a full load.

        Usually one aggregate and one read (each a pass over the table): the rows stamped after
        the latest stamp seen are read; within the margin up to it, no row carries a stamp not
        seen, and the rows are as many as counted, less those the rows read carried before
        (nothing committed late, nothing deleted). Otherwise, or with more than ``MAX_STAMPS``
        distinct stamps in the margin (100,000 single saves within it, not an apply's one
        stamp), the count per stamp says which stamps to read (``_by_stamp``, slower in such a
        crowded margin)."""
        since, high = self.stamps.since, self.stamps.high
        if since is None or high is None or len(self.stamps.counts) > MAX_STAMPS:
            return self._by_stamp(since)
        window = Q(date_changed__gt=since, date_changed__lte=high)
        unseen = window & ~Q(date_changed__in=list(self.stamps.counts)) if self.stamps.counts else window
        counted = self.model.objects.aggregate(
            late=Count("id", filter=window), newer=Count("id", filter=Q(date_changed__gt=high)),
            unseen=Count("id", filter=unseen), enabled=Count("id", filter=Q(enabled=True)))
        if counted["newer"] > self.limit():
            return None
        rows = load_rows(self.model.objects.filter(date_changed__gt=high)) if counted["newer"] else []
        left = [self.stamp_of[row.pk] for row in rows if row.pk in self.stamp_of]
        left = [stamp for stamp in left if since < stamp <= high]
        if counted["unseen"] or counted["late"] != sum(self.stamps.counts.values()) - len(left):
            return self._by_stamp(since)
        self.stamps.left(left)
        self.stamps.saw(row.date_changed for row in rows)
        self._read(rows)
        return rows, bool(rows), counted["enabled"]

    def _by_stamp(self, since: datetime | None) -> tuple[list[Any], bool, int | None] | None:
        counts = stamp_counts(self.model, since)
        unseen = self.stamps.unseen(counts)
        if len(unseen) > MAX_STAMPS or sum(counts[stamp] for stamp in unseen) > self.limit():
            return None
        rows = load_rows(self.model.objects.filter(date_changed__in=unseen)) if unseen else []
        self.stamps.saw((row.date_changed for row in rows), counts)
        self._read(rows)
        return rows, bool(unseen), None

    def _read(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.stamp_of[row.pk] = row.date_changed

    def appeared(self, enabled_count: int | None) -> tuple[set[int], list[Any]] | None:
        """(the loaded ids no longer enabled, the enabled rows not loaded), read only when the
        enabled rows (counted now, or before the stamped rows were read) are not as many as
        those loaded; None: a full load (too many appeared)."""
        enabled = self.model.objects.filter(enabled=True)
        if (enabled.count() if enabled_count is None else enabled_count) == len(self.loaded):
            return set(), []
        ids = set(enabled.values_list("id", flat=True))
        gone, new = self.loaded.keys() - ids, sorted(ids - self.loaded.keys())
        if len(new) > self.limit():
            return None
        rows = [row for start in range(0, len(new), ID_BATCH)
                for row in load_rows(self.model.objects.filter(pk__in=new[start:start + ID_BATCH]))]
        self._read(rows)
        return gone, rows

    def read(self, merge: Callable[[Changes], Any]) -> bool:
        """Read what changed and ``merge`` it; False when a full load is due instead."""
        stamped = self.stamped()
        if stamped is None:
            return False
        rows, explained, enabled = stamped
        merge(Changes(rows, set(), explained))
        counted = self.appeared(enabled)
        if counted is None:
            return False
        gone, appeared = counted
        if gone or appeared:
            merge(Changes(appeared, gone, True))
        return explained or bool(gone or appeared)

    # -- the schedule -----------------------------------------------------------------------

    def verify(self, schedule: dict[str, Any], differing: list[Any], missing: set[int], high: datetime | None,
               build: Callable[[Any, bool], Any]) -> MergeResult:
        """Fix ``schedule`` where the safety reload found it differs from the rows (``safety``):
        ``differing`` rows are built again, the entries of ``missing`` ids dropped, except what
        was merged since the rows were read (a later stamp than the row read, or than ``high``,
        the latest stamp then). A row rebuilt keeps the latest run beat sent meanwhile."""
        result = MergeResult()
        for pk in missing:
            stamp = self.stamp_of.get(pk)
            if pk in self.loaded and (high is None or stamp is None or stamp <= high):
                self._drop(schedule, pk, result)
        rows = []
        for row in differing:
            known = self.stamp_of.get(row.pk)
            if known is not None and known > row.date_changed:
                continue  # merged since the thread read it
            name = self.loaded.get(row.pk)
            current = schedule.get(name) if name is not None else None
            if current is not None and current.model.pk == row.pk:
                ran = current.model.last_run_at
                if ran is not None and (row.last_run_at is None or ran > row.last_run_at):
                    row.last_run_at = ran
                row.total_run_count = max(row.total_run_count, current.model.total_run_count)
            rows.append(row)
        self._read(rows)
        merged = self.merge(schedule, Changes(rows, set(), True), build, rebuild=True)
        result.replaced += merged.replaced
        result.added += merged.added
        return result

    def merge(self, schedule: dict[str, Any], changes: Changes, build: Callable[[Any, bool], Any],
              rebuild: bool = False) -> MergeResult:
        """Apply ``changes`` to ``schedule`` (name → entry) and to the loaded ids. A changed row
        gets a new entry (``build(row, catching_up)``) that keeps the ``catching_up`` of the
        entry of its name (a name new to the schedule catches up, as in a full load); a row
        read again as it was loaded (same name, same stamp, still enabled) keeps its entry,
        unless ``rebuild``."""
        result = MergeResult()
        for pk in changes.gone:
            self._drop(schedule, pk, result)
        for row in changes.rows:
            current = schedule.get(row.name)
            if (not rebuild and row.enabled and self.loaded.get(row.pk) == row.name and current is not None
                    and current.model.pk == row.pk and current.model.date_changed == row.date_changed):
                continue  # read again as it was loaded
            previous = current
            self._drop(schedule, row.pk, result)
            if not row.enabled:
                continue
            self.loaded[row.pk] = row.name
            try:
                entry = build(row, getattr(previous, "catching_up", True))
            except ValueError:
                log.warning("skipping %s: its schedule or arguments cannot be read", row.name)
                continue
            if previous is not None:
                result.replaced.append(previous)
            schedule[row.name] = entry
            result.added.append(entry)
        return result

    def _drop(self, schedule: dict[str, Any], pk: int, result: MergeResult) -> None:
        """Forget row ``pk``: its entry leaves the schedule, unless its name is another row's now."""
        name = self.loaded.pop(pk, None)
        entry = schedule.get(name) if name is not None else None
        if entry is not None and entry.model.pk == pk:
            del schedule[name]  # type: ignore[arg-type]
            result.replaced.append(entry)


@dataclass
class MergeResult:
    """The entries a merge took out of the schedule and those it put in."""

    replaced: list[Any] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)
