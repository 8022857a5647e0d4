"""Prometheus metrics of the schedules, computed at scrape time in a bounded set of queries
(whatever the number of schedules and runs): the rows with their schedules (1), ownership (1),
the runs' summaries (1, grouped), the applies per outcome (1) and the actual state for drift (2).

``reconcile_collector_families`` is a pure function of what was read, so its output is tested
without a scrape; ``ReconcilerCollector`` plugs it into prometheus-client's registry.

``reconciler_schedule_runs_total`` counts the runs the result store still holds: when
``result_expires`` deletes old rows the value drops, which Prometheus' ``rate()`` and
``increase()`` treat as a counter reset.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .health import Health, ScheduleHealth


def schedule_families(schedules: Sequence[ScheduleHealth]) -> Iterator[Metric]:
    last_run = GaugeMetricFamily(
        "reconciler_schedule_last_run_timestamp_seconds", "When the schedule's last stored run started (Unix time).",
        labels=["name", "task"],
    )
    last_success = GaugeMetricFamily(
        "reconciler_schedule_last_success_timestamp_seconds", "When the schedule's last successful run started.",
        labels=["name", "task"],
    )
    next_run = GaugeMetricFamily(
        "reconciler_schedule_next_run_timestamp_seconds", "When beat will next send the schedule's task.",
        labels=["name", "task"],
    )
    late = GaugeMetricFamily("reconciler_schedule_late", "1 when an expected run is missing past its grace.",
                             labels=["name"])
    failing = GaugeMetricFamily("reconciler_schedule_failing", "1 when the schedule's last run failed.",
                                labels=["name"])
    runs = CounterMetricFamily("reconciler_schedule_runs", "Runs of the schedule in the result store, by state.",
                               labels=["name", "state"])
    for s in schedules:
        for family, value in ((last_run, s.last_run_at), (last_success, s.last_success_at), (next_run, s.next_run_at)):
            if value is not None:
                family.add_metric([s.name, s.task], value.timestamp())
        late.add_metric([s.name], 1.0 if s.health is Health.LATE else 0.0)
        failing.add_metric([s.name], 1.0 if s.health is Health.FAILING else 0.0)
        for state, count in sorted(s.runs.counts.items()):
            runs.add_metric([s.name, state], float(count))
    yield from (last_run, last_success, next_run, late, failing, runs)
    yield _health_counts(schedules)


def _health_counts(schedules: Sequence[ScheduleHealth]) -> Metric:
    counts = {h: 0 for h in Health}
    for s in schedules:
        counts[s.health] += 1
    family = GaugeMetricFamily("reconciler_schedules", "Schedules by health.", labels=["health"])
    for h, n in counts.items():
        family.add_metric([h.value], float(n))
    return family


def apply_families(applies: Mapping[str, int], drifted: int) -> Iterator[Metric]:
    total = CounterMetricFamily("reconciler_applies", "Recorded applies by outcome.", labels=["outcome"])
    for outcome, count in sorted(applies.items()):
        total.add_metric([outcome], float(count))
    yield total
    yield GaugeMetricFamily(
        "reconciler_drifted_schedules", "Owned schedules changed outside git since their last apply.", value=drifted,
    )


def read_applies() -> dict[str, int]:
    from django.db.models import Count

    from ..models import ApplyRecord

    found = {outcome: 0 for outcome in ApplyRecord.Outcome.values}
    for row in ApplyRecord.objects.order_by().values("outcome").annotate(n=Count("id")):
        found[row["outcome"]] = row["n"]
    return found


def read_drifted() -> int:
    """Owned rows changed outside git since the apply that last wrote or settled them (an apply
    that finds git matching such a row settles it: ``apply.settle_drift``). Only the rows whose
    digest moved are read in full."""
    from ..read import read_actual, read_moved_owned

    moved = read_moved_owned()
    tasks = read_actual().tasks if moved is None else moved
    return sum(1 for task in tasks if task.drifted)


class ReconcilerCollector(Collector):
    """Reads the database at each scrape; register it once (``registry.register``)."""

    def collect(self) -> Iterator[Metric]:
        from .health import read_health

        yield from schedule_families(read_health())
        yield from apply_families(read_applies(), read_drifted())

    def describe(self) -> list[Any]:
        return []  # no describe-time collection: the registry must not query the database on register


def render_latest(accept: str = "") -> tuple[bytes, str]:
    """One scrape, in the format the scraper accepts (prometheus-client's own negotiation:
    the classic text format, or OpenMetrics when asked for): (body, content type)."""
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReconcilerCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
