"""Prometheus metrics of the schedules, computed at scrape time in a bounded set of queries
(whatever the number of schedules and runs): the rows with their schedules and ownership (1),
the runs' summaries (1, grouped), the tracked runs with their policies (1), the skip totals (1),
the applies per outcome (1) and the actual state for drift (2).

``schedule_data`` and ``apply_data`` are pure functions of what was read (plain ``Family``
values), so their output is tested without a scrape; ``exposition`` writes them as
prometheus-client's encoders would; ``ReconcilerCollector`` plugs them into a registry.

``reconciler_schedule_runs_total`` counts the runs the result store still holds: when
``result_expires`` deletes old rows the value drops, which Prometheus' ``rate()`` and
``increase()`` treat as a counter reset. ``reconciler_schedule_skipped_total`` is a true counter:
``SkipTotal`` only grows (the ``SkippedRun`` rows behind it are pruned, the totals are not).

Every per-schedule family carries the schedule's ``owner`` and ``severity`` (its monitor,
``core.monitor``; empty when it declares none) besides its ``name``: an alert rule keeps them
and Alertmanager routes by them (docs/observe.md).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from ..core.allocation import paused_gc
from ..engine.read import read_actual, read_moved_owned
from ..models import ApplyRecord
from .health import Health, ScheduleHealth, read_health
from .skips import skip_totals

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """One metric family as plain data: ``labels`` names the label values of each sample."""

    name: str
    kind: str  # "gauge" or "counter" (its samples are named ``<name>_total``)
    documentation: str
    labels: Labels
    samples: tuple[tuple[Labels, float], ...]

    def to_metric(self) -> Metric:
        cls = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = cls(self.name, self.documentation, labels=list(self.labels))
        for values, value in self.samples:
            family.add_metric(list(values), value)
        return family


SCHEDULE = ("name", "owner", "severity")  # the labels of every per-schedule family, first


def schedule_data(schedules: Sequence[ScheduleHealth]) -> list[Family]:
    """Every schedule's families, then the schedules by health: a pure function of the healths."""
    moments: dict[str, list[tuple[Labels, float]]] = {"last_run": [], "last_success": [], "next_run": []}
    late: list[tuple[Labels, float]] = []
    failing: list[tuple[Labels, float]] = []
    running_long: list[tuple[Labels, float]] = []
    runs: list[tuple[Labels, float]] = []
    for s in schedules:
        who = (s.name, s.owner, s.severity)
        for key, value in (("last_run", s.last_run_at), ("last_success", s.last_success_at),
                           ("next_run", s.next_run_at)):
            if value is not None:
                moments[key].append(((*who, s.task), value.timestamp()))
        late.append((who, 1.0 if s.health is Health.LATE else 0.0))
        failing.append((who, 1.0 if s.health is Health.FAILING else 0.0))
        running_long.append((who, 1.0 if s.health is Health.RUNNING_LONG else 0.0))
        runs.extend(((*who, state), float(count)) for state, count in sorted(s.runs.counts.items()))
    return [
        Family("reconciler_schedule_last_run_timestamp_seconds", "gauge",
               "When the schedule's last stored run started (Unix time).", (*SCHEDULE, "task"),
               tuple(moments["last_run"])),
        Family("reconciler_schedule_last_success_timestamp_seconds", "gauge",
               "When the schedule's last successful run started.", (*SCHEDULE, "task"),
               tuple(moments["last_success"])),
        Family("reconciler_schedule_next_run_timestamp_seconds", "gauge",
               "When beat will next send the schedule's task.", (*SCHEDULE, "task"), tuple(moments["next_run"])),
        Family("reconciler_schedule_late", "gauge", "1 when an expected run is missing past its grace.", SCHEDULE,
               tuple(late)),
        Family("reconciler_schedule_failing", "gauge",
               "1 when the schedule is failing: its last run failed (or, with monitor thresholds, "
               "failure_threshold runs in a row, until recovery_threshold successes in a row).", SCHEDULE,
               tuple(failing)),
        Family("reconciler_schedule_running_long", "gauge",
               "1 when the schedule's tracked run is unfinished past its max_runtime.", SCHEDULE,
               tuple(running_long)),
        Family("reconciler_schedule_runs", "counter", "Runs of the schedule in the result store, by state.",
               (*SCHEDULE, "state"), tuple(runs)),
        _health_counts(schedules),
    ]


def _health_counts(schedules: Sequence[ScheduleHealth]) -> Family:
    counts = {h: 0 for h in Health}
    for s in schedules:
        counts[s.health] += 1
    return Family("reconciler_schedules", "gauge", "Schedules by health.", ("health",),
                  tuple(((h.value,), float(n)) for h, n in counts.items()))


def skip_data(
    totals: Sequence[tuple[str, str, int]], schedules: Sequence[ScheduleHealth] = (),
) -> list[Family]:
    """Runs beat did not send, per schedule and reason (``observe.skips.skip_totals``), with the
    owner and severity of the schedule of that name (none for a schedule since deleted). Pure."""
    labels = {s.name: (s.owner, s.severity) for s in schedules}
    return [
        Family("reconciler_schedule_skipped", "counter",
               "Runs beat did not send, by reason: overlap (the previous run still in flight), "
               "catchup (a missed slot dropped by the catch-up policy).", (*SCHEDULE, "reason"),
               tuple(((name, *labels.get(name, ("", "")), reason), float(total)) for name, reason, total in totals)),
    ]


def apply_data(applies: Mapping[str, int], drifted: int) -> list[Family]:
    return [
        Family("reconciler_applies", "counter", "Recorded applies by outcome.", ("outcome",),
               tuple(((outcome,), float(count)) for outcome, count in sorted(applies.items()))),
        Family("reconciler_drifted_schedules", "gauge",
               "Owned schedules changed outside git since their last apply.", (), (((), float(drifted)),)),
    ]


def schedule_families(schedules: Sequence[ScheduleHealth]) -> Iterator[Metric]:
    yield from (family.to_metric() for family in schedule_data(schedules))


def apply_families(applies: Mapping[str, int], drifted: int) -> Iterator[Metric]:
    yield from (family.to_metric() for family in apply_data(applies, drifted))


def read_applies() -> dict[str, int]:
    found = {outcome: 0 for outcome in ApplyRecord.Outcome.values}
    for row in ApplyRecord.objects.order_by().values("outcome").annotate(n=Count("id")):
        found[row["outcome"]] = row["n"]
    return found


def read_drifted() -> int:
    """Owned rows changed outside git since the apply that last wrote or settled them (an apply
    that finds git matching such a row settles it: ``apply.settle_drift``). Only the rows whose
    digest moved are read in full."""
    moved = read_moved_owned()
    tasks = read_actual().tasks if moved is None else moved
    return sum(1 for task in tasks if task.drifted)


def read_families() -> list[Family]:
    schedules = read_health()
    return [*schedule_data(schedules), *skip_data(skip_totals(), schedules),
            *apply_data(read_applies(), read_drifted())]


class ReconcilerCollector(Collector):
    """Reads the database at each scrape; register it once (``registry.register``)."""

    def collect(self) -> Iterator[Metric]:
        yield from (family.to_metric() for family in read_families())

    def describe(self) -> list[Any]:
        return []  # no describe-time collection: the registry must not query the database on register


FAST_ESCAPINGS = ("underscores", "allow-utf-8")  # leave our (legacy-valid) names as they are


def render_latest(accept: str = "") -> tuple[bytes, str]:
    """One scrape, in the format the scraper accepts (prometheus-client's own negotiation:
    the classic text format, or OpenMetrics when asked for): (body, content type). Written
    here, byte for byte as prometheus-client's encoders write it (at 10,000 schedules their
    sample objects cost more than reading the database); other name escapings go through them."""
    encoder, content_type = choose_encoder(accept)
    escaping = getattr(encoder, "keywords", {}).get("escaping", "underscores")
    if escaping in FAST_ESCAPINGS:
        with paused_gc():  # tens of thousands of short-lived values: no generation scans meanwhile
            return exposition(read_families(), content_type.startswith("application/openmetrics-text")), content_type
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReconcilerCollector())
    return encoder(registry), content_type


def exposition(families: Sequence[Family], openmetrics: bool = False) -> bytes:
    """The families in the classic text format (0.0.4) or in OpenMetrics (1.0.0)."""
    out: list[str] = []
    escaped: dict[str, str] = {}  # a label value appears in several families: escaped once
    for family in families:
        total = family.name + "_total" if family.kind == "counter" else family.name
        shown = family.name if openmetrics else total
        out.append(f"# HELP {shown} {_help(family.documentation, openmetrics)}\n# TYPE {shown} {family.kind}\n")
        out.extend(_samples(family, total, escaped))
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")


def _samples(family: Family, total: str, escaped: dict[str, str]) -> list[str]:
    """Sample lines, labels sorted by name (as prometheus-client writes them)."""
    order = sorted(range(len(family.labels)), key=family.labels.__getitem__)
    heads = [f'{"," if n else "{"}{family.labels[i]}="' for n, i in enumerate(order)]

    def label(value: str) -> str:
        found = escaped.get(value)
        if found is None:
            found = escaped[value] = _label(value)
        return found

    if not order:
        return [f"{total} {_number(value)}\n" for _, value in family.samples]
    if len(order) == 1:
        (head,) = heads
        return [f'{total}{head}{label(values[0])}"}} {_number(value)}\n' for values, value in family.samples]
    if len(order) == 2:
        (first, second), (i, j) = heads, order
        return [
            f'{total}{first}{label(values[i])}"{second}{label(values[j])}"}} {_number(value)}\n'
            for values, value in family.samples
        ]
    kept = _labelsets.setdefault(family.labels, {})
    if len(kept) >= LABELSETS_SIZE:
        kept.clear()

    def labelset(values: Labels) -> str:
        found = kept.get(values)
        if found is None:
            found = kept[values] = "".join(
                f'{head}{label(values[i])}"' for head, i in zip(heads, order, strict=True)) + "}"
        return found

    return [f"{total}{labelset(values)} {_number(value)}\n" for values, value in family.samples]


LABELSETS_SIZE = 200_000  # per label names: label sets (3 labels or more) written once; emptied when full
_labelsets: dict[Labels, dict[Labels, str]] = {}  # label names -> label values -> '{name="...",...}'



def _help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r'\"') if openmetrics else text


def _label(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


NUMBERS_SIZE = 200_000  # formatted values kept between scrapes (timestamps mostly repeat): emptied when full
_numbers: dict[float, str] = {0.0: "0.0", 1.0: "1.0"}


def _number(value: float) -> str:
    found = _numbers.get(value)
    if found is None:
        if len(_numbers) >= NUMBERS_SIZE:
            _numbers.clear()
        found = _numbers[value] = floatToGoString(value)
    return found
