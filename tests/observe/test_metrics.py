"""/metrics: who may read it, and what it says, parsed with prometheus-client's own parser."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import states
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from prometheus_client.parser import text_string_to_metric_families

from reconciler.core.monitor import Monitor
from reconciler.models import ApplyRecord
from reconciler.observe.views import allowed
from tests.support.engine import apply_yaml
from tests.support.observe import record_run, set_monitor

LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("addr", "auth", "networks", "token", "ok"),
    [
        ("127.0.0.1", "", LOOPBACK, "", True),
        ("::1", "", LOOPBACK, "", True),
        ("10.0.0.7", "", LOOPBACK, "", False),
        ("10.0.0.7", "", ["10.0.0.0/8"], "", True),
        ("10.0.0.7", "Bearer s3cret", [], "s3cret", True),
        ("10.0.0.7", "Bearer wrong", [], "s3cret", False),
        ("10.0.0.7", "Bearer ", [], "", False),  # no token configured: a bearer header proves nothing
        ("not-an-ip", "", LOOPBACK, "", False),
        ("::ffff:127.0.0.1", "", LOOPBACK, "", True),  # an IPv4 client of a server bound to [::]
        ("::ffff:10.0.0.7", "", LOOPBACK, "", False),
        ("::ffff:10.0.0.7", "", ["10.0.0.0/8"], "", True),
        ("::ffff:10.0.0.7", "", ["::ffff:10.0.0.0/104"], "", True),  # written as IPv6, still matches
    ],
    ids=["loopback", "ipv6-loopback", "other-network", "allowed-network", "token", "wrong-token", "no-token-set",
         "bad-address", "mapped-loopback", "mapped-other-network", "mapped-allowed-network", "mapped-ipv6-network"],
)
def test_who_may_read_the_metrics(addr: str, auth: str, networks: list[str], token: str, ok: bool) -> None:
    assert allowed(addr, auth, networks, token) is ok


YAML = """tasks:
  beat-a:
    task: project.tasks.heartbeat
    every: 30s
  beat-b:
    task: project.tasks.heartbeat
    every: 1h
  flaky:
    task: project.tasks.flaky
    every: 10m
"""


def scrape(client: Client, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples by name and labels, as Prometheus stores them: a label with an empty value (the
    owner and severity of a schedule that declares none) is no label."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v != ""))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


@pytest.mark.django_db
@pytest.mark.db_backend
def test_metrics_of_schedules_applies_and_drift(tmp_path: Path, settings, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_METRICS_TOKEN = "s3cret"
    settings.RECONCILER_METRICS_ALLOWED_NETWORKS = ["192.168.0.0/16"]
    apply_yaml(tmp_path, YAML, now=timezone.now())
    now = timezone.now()
    ok_at = now - timedelta(seconds=10)
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, ok_at)
    record_run("flaky", "project.tasks.flaky", states.FAILURE, now - timedelta(seconds=5))
    record_run("flaky", "project.tasks.flaky", states.SUCCESS, now - timedelta(seconds=50))
    PeriodicTask.objects.filter(name="beat-b").update(description="edited in the admin")  # drift
    ApplyRecord.objects.create(started_at=now, outcome="failed")

    client = Client(HTTP_HOST="localhost")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    with django_assert_max_num_queries(8):  # six, and the tracked runs and the skip totals
        m = scrape(client, REMOTE_ADDR="10.9.9.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert scrape(client, REMOTE_ADDR="192.168.4.4").keys() == m.keys()

    assert m["reconciler_schedule_last_run_timestamp_seconds"][
        (("name", "beat-a"), ("task", "project.tasks.heartbeat"))] == pytest.approx(ok_at.timestamp())
    flaky = (("name", "flaky"), ("task", "project.tasks.flaky"))
    success_at = (now - timedelta(seconds=50)).timestamp()
    assert m["reconciler_schedule_last_success_timestamp_seconds"][flaky] == pytest.approx(success_at)
    next_runs = m["reconciler_schedule_next_run_timestamp_seconds"]
    assert set(next_runs) == {(("name", n), ("task", t)) for n, t in (
        ("beat-a", "project.tasks.heartbeat"), ("beat-b", "project.tasks.heartbeat"), ("flaky", "project.tasks.flaky"))}
    assert m["reconciler_schedule_late"] == {((("name", n),)): 0 for n in ("beat-a", "beat-b", "flaky")}
    assert m["reconciler_schedule_failing"][(("name", "flaky"),)] == 1
    assert m["reconciler_schedule_runs_total"] == {
        (("name", "beat-a"), ("state", "SUCCESS")): 1,
        (("name", "flaky"), ("state", "FAILURE")): 1,
        (("name", "flaky"), ("state", "SUCCESS")): 1,
    }
    assert m["reconciler_applies_total"][(("outcome", "applied"),)] == 1
    assert m["reconciler_applies_total"][(("outcome", "failed"),)] == 1
    assert m["reconciler_drifted_schedules"] == {(): 1}
    assert m["reconciler_schedules"][(("health", "failing"),)] == 1
    assert m["reconciler_schedules"][(("health", "never-run"),)] == 1


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_suspended_schedule_is_counted_as_suspended(tmp_path: Path) -> None:
    from reconciler.operate import suspend

    apply_yaml(tmp_path, YAML, now=timezone.now())
    suspend("flaky", "incident 42", by="alice")
    m = scrape(Client(HTTP_HOST="localhost"), REMOTE_ADDR="127.0.0.1")
    assert m["reconciler_schedules"][(("health", "suspended"),)] == 1
    assert m["reconciler_schedules"][(("health", "disabled"),)] == 0
    assert m["reconciler_schedules"][(("health", "never-run"),)] == 2
    assert m["reconciler_schedule_late"][(("name", "flaky"),)] == 0


@pytest.mark.django_db
@pytest.mark.db_backend
def test_drift_clears_once_git_matches_the_row_and_is_applied(tmp_path: Path) -> None:
    """The documented alert (reconciler_drifted_schedules > 0) must clear when git is changed to
    match the edited row: plan and apply then say in sync, and so must the gauge."""
    from tests.support.engine import plan_yaml

    client = Client(HTTP_HOST="localhost")
    apply_yaml(tmp_path, YAML, now=timezone.now())
    assert scrape(client, REMOTE_ADDR="127.0.0.1")["reconciler_drifted_schedules"] == {(): 0}
    PeriodicTask.objects.filter(name="beat-b").update(description="edited in the admin")
    assert scrape(client, REMOTE_ADDR="127.0.0.1")["reconciler_drifted_schedules"] == {(): 1}

    matching = YAML.replace("    every: 1h\n", "    every: 1h\n    description: edited in the admin\n")
    apply_yaml(tmp_path, matching, now=timezone.now())
    assert not plan_yaml(tmp_path).has_changes, "git now matches the row: in sync"
    assert scrape(client, REMOTE_ADDR="127.0.0.1")["reconciler_drifted_schedules"] == {(): 0}
    assert PeriodicTask.objects.get(name="beat-b").description == "edited in the admin"

    PeriodicTask.objects.filter(name="beat-a").update(description="edited again")  # a new drift still counts
    assert scrape(client, REMOTE_ADDR="127.0.0.1")["reconciler_drifted_schedules"] == {(): 1}


ACCEPTS = [
    "", "text/plain;version=0.0.4", "text/plain;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text", "application/openmetrics-text;version=1.0.0;escaping=underscores",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=dots",  # through prometheus-client's encoder
]


def _their_encoding(families: list, accept: str) -> tuple[bytes, str]:  # type: ignore[type-arg]
    """What prometheus-client's own encoder writes for the same families."""
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import Collector, CollectorRegistry

    class Fixed(Collector):
        def collect(self):  # type: ignore[no-untyped-def]
            return [family.to_metric() for family in families]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


@pytest.mark.parametrize("accept", ACCEPTS, ids=lambda a: a or "no-accept")
def test_the_exposition_is_byte_for_byte_prometheus_clients(accept: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile names and tasks (quotes, backslashes, new lines, non-ASCII), every kind of value."""
    from datetime import UTC, datetime

    from reconciler.observe import metrics
    from reconciler.observe.health import Health, ScheduleHealth
    from reconciler.observe.runs import RunSummary

    def health(name: str, task: str, state: Health, owner: str = "", **moments: datetime) -> ScheduleHealth:
        return ScheduleHealth(
            name=name, task=task, queue="", enabled=True, managed=True, health=state,
            last_run_at=moments.get("last"), last_state=None, last_success_at=moments.get("success"),
            next_run_at=moments.get("next"), expected_at=None, grace_seconds=60.0,
            runs=RunSummary(counts={"SUCCESS": 3, "FAILURE": 12345678}),
            monitor=Monitor(owner=owner, severity="pa\\ge" if owner else ""),
        )

    at = datetime(2026, 3, 29, 1, 0, 0, 123456, tzinfo=UTC)
    schedules = [
        health('quote"d', "back\\slash", Health.LATE, 'team-"ü"\n', last=at, success=at, next=at),
        health("new\nline", "tâche.ünïcode", Health.FAILING, next=datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        health("plain", "project.tasks.heartbeat", Health.OK),
    ]
    families = [*metrics.schedule_data(schedules), *metrics.apply_data({"applied": 2, "failed": 0}, 3),
                *metrics.skip_data([('quote"d', "overlap", 3), ("new\nline", "catchup", 12)], schedules)]
    families.append(metrics.Family(  # three labels, not in order: written sorted by name
        "reconciler_test_three", "counter", 'A "quoted" \\ help\nline.', ("task", "name", "a"),
        ((("t", 'n"', "x"), 0.5), (("t\n", "n", ""), 1e21)),
    ))
    monkeypatch.setattr(metrics, "read_families", lambda: families)
    assert metrics.render_latest(accept) == _their_encoding(families, accept)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_scrape_is_byte_for_byte_prometheus_clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.observe import metrics

    apply_yaml(tmp_path, YAML, now=timezone.now())
    record_run("flaky", "project.tasks.flaky", states.FAILURE, timezone.now() - timedelta(seconds=5))
    families = metrics.read_families()  # read once: the next run of a due schedule moves with the clock
    monkeypatch.setattr(metrics, "read_families", lambda: families)
    for accept in ACCEPTS:
        assert metrics.render_latest(accept) == _their_encoding(families, accept), accept


@pytest.mark.django_db
@pytest.mark.db_backend
def test_what_a_scrape_keeps_for_the_next_follows_beat_applies_and_suspensions(tmp_path: Path) -> None:
    """A scrape keeps each row, each schedule's run summary and each formatted value for the next
    (keyed on what the database sent): a beat run, another run of the same state, an apply and a
    suspension between two scrapes in one process must each show in the next scrape."""
    from reconciler.operate import suspend

    client = Client(HTTP_HOST="localhost")
    apply_yaml(tmp_path, YAML, now=timezone.now())
    beat_a = (("name", "beat-a"), ("task", "project.tasks.heartbeat"))
    first = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert beat_a not in first.get("reconciler_schedule_last_run_timestamp_seconds", {})
    assert first["reconciler_schedules"][(("health", "never-run"),)] == 3

    sent = timezone.now() - timedelta(seconds=20)  # beat sends beat-a, the worker stores its run
    PeriodicTask.objects.filter(name="beat-a").update(last_run_at=sent, total_run_count=1)
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, sent)
    ran = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert ran["reconciler_schedule_last_run_timestamp_seconds"][beat_a] == pytest.approx(sent.timestamp())
    assert ran["reconciler_schedule_next_run_timestamp_seconds"][beat_a] != (
        first["reconciler_schedule_next_run_timestamp_seconds"][beat_a])
    assert ran["reconciler_schedule_runs_total"] == {(("name", "beat-a"), ("state", "SUCCESS")): 1}
    assert ran["reconciler_schedules"][(("health", "never-run"),)] == 2

    again = sent + timedelta(seconds=5)  # same schedule, same state: only the count and the moment move
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, again)
    twice = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert twice["reconciler_schedule_runs_total"] == {(("name", "beat-a"), ("state", "SUCCESS")): 2}
    assert twice["reconciler_schedule_last_run_timestamp_seconds"][beat_a] == pytest.approx(again.timestamp())

    apply_yaml(tmp_path, YAML.replace("project.tasks.flaky", "project.tasks.heartbeat"), now=timezone.now())
    applied = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert set(applied["reconciler_schedule_next_run_timestamp_seconds"]) == {
        (("name", n), ("task", "project.tasks.heartbeat")) for n in ("beat-a", "beat-b", "flaky")}

    suspend("beat-a", "incident 42", by="alice")
    suspended = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert suspended["reconciler_schedules"][(("health", "suspended"),)] == 1
    assert suspended["reconciler_schedules"][(("health", "ok"),)] == 0
    assert beat_a not in suspended["reconciler_schedule_next_run_timestamp_seconds"]


@pytest.mark.django_db
@pytest.mark.db_backend
def test_running_long_and_skipped_runs_in_a_scrape(tmp_path: Path) -> None:
    """running-long counted like the other healths (its own gauge, the per-health count), and
    the runs beat skipped as a counter per schedule and reason, from ``SkipTotal``: it does not
    drop when the ``SkippedRun`` rows behind it are pruned."""
    from reconciler.models import SkippedRun
    from tests.support.observe import record_skip, set_policy, track_run

    apply_yaml(tmp_path, YAML, now=timezone.now())
    now = timezone.now()
    set_policy("flaky", overlap="skip", max_runtime=60)
    track_run("flaky", now - timedelta(minutes=5), started=now - timedelta(minutes=4), max_runtime=60)
    record_skip("flaky", "overlap", now - timedelta(minutes=1), now - timedelta(minutes=1))
    record_skip("flaky", "overlap", now - timedelta(seconds=30), now - timedelta(seconds=30))
    record_skip("beat-a", "catchup", now - timedelta(minutes=2), now - timedelta(minutes=1), count=12)
    client = Client(HTTP_HOST="localhost")
    m = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert m["reconciler_schedule_running_long"] == {
        (("name", "beat-a"),): 0, (("name", "beat-b"),): 0, (("name", "flaky"),): 1}
    assert m["reconciler_schedules"][(("health", "running-long"),)] == 1
    assert m["reconciler_schedule_skipped_total"] == {
        (("name", "beat-a"), ("reason", "catchup")): 12, (("name", "flaky"), ("reason", "overlap")): 2}
    SkippedRun.objects.all().delete()  # the retention prunes the decisions, never the counters
    assert scrape(client, REMOTE_ADDR="127.0.0.1")["reconciler_schedule_skipped_total"] == (
        m["reconciler_schedule_skipped_total"])


PER_SCHEDULE = (
    "reconciler_schedule_last_run_timestamp_seconds", "reconciler_schedule_last_success_timestamp_seconds",
    "reconciler_schedule_next_run_timestamp_seconds", "reconciler_schedule_late", "reconciler_schedule_failing",
    "reconciler_schedule_running_long", "reconciler_schedule_runs_total", "reconciler_schedule_skipped_total",
)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_owner_and_severity_label_every_per_schedule_metric_in_a_scrape(tmp_path: Path) -> None:
    """The monitor's owner and severity (``ManagedTask.monitor``) on every sample of a schedule,
    with its thresholds applied to the failing gauge."""
    from tests.support.observe import record_skip

    apply_yaml(tmp_path, YAML, now=timezone.now())
    now = timezone.now()
    set_monitor("flaky", owner="team-billing", severity="page", failure_threshold=2)
    set_monitor("beat-a", owner="team-ops")
    record_run("flaky", "project.tasks.flaky", states.SUCCESS, now - timedelta(seconds=50))
    record_run("flaky", "project.tasks.flaky", states.FAILURE, now - timedelta(seconds=5))
    record_run("beat-a", "project.tasks.heartbeat", states.FAILURE, now - timedelta(seconds=5))
    record_skip("flaky", "overlap", now - timedelta(minutes=1), now - timedelta(minutes=1))
    m = scrape(Client(HTTP_HOST="localhost"), REMOTE_ADDR="127.0.0.1")
    billing = (("name", "flaky"), ("owner", "team-billing"), ("severity", "page"))
    assert m["reconciler_schedule_failing"] == {
        billing: 0, (("name", "beat-a"), ("owner", "team-ops")): 1, (("name", "beat-b"),): 0}  # 1 failure of 2
    for name in PER_SCHEDULE:
        flaky = [labels for labels in m[name] if ("name", "flaky") in labels]
        assert flaky and all(set(billing) <= set(labels) for labels in flaky), name
    assert m["reconciler_schedule_skipped_total"] == {tuple(sorted((*billing, ("reason", "overlap")))): 1}
    record_run("flaky", "project.tasks.flaky", states.FAILURE, now - timedelta(seconds=2))
    assert scrape(Client(HTTP_HOST="localhost"), REMOTE_ADDR="127.0.0.1")["reconciler_schedule_failing"][billing] == 1


def _doc_yaml(heading: str) -> Any:
    """The YAML block under a heading of docs/observe.md, parsed."""
    import re

    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "observe.md").read_text()
    section = text[text.index(heading):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, heading
    return yaml.safe_load(block.group(1))


def _route(route: dict[str, Any], labels: dict[str, str]) -> str:
    """Alertmanager's choice: the first child route whose matchers all match (a missing label is
    ""; ``=~`` is anchored), else this route's receiver."""
    import re

    for child in route.get("routes", ()):
        matched = True
        for matcher in child["matchers"]:
            found = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher)
            assert found is not None, matcher
            name, op, value = found.groups()
            have = labels.get(name, "")
            ok = re.fullmatch(value, have) is not None if op == "=~" else (have == value) == (op == "=")
            matched = matched and ok
        if matched:
            return _route(child, labels) if child.get("routes") else str(child["receiver"])
    return str(route["receiver"])


@pytest.mark.django_db
@pytest.mark.db_backend
def test_the_documented_alert_rules_and_route_use_what_a_scrape_exposes(tmp_path: Path) -> None:
    """docs/observe.md: the rules' metrics and labels exist in a real scrape; the route sends a
    failing team-billing `page` schedule to its pager, its other alerts to its chat, and alerts
    of schedules with no owner (and about the reconciler) to the platform."""
    import re

    from tests.support.observe import record_skip

    rules = _doc_yaml("### Example alert rules")["groups"][0]["rules"]
    alertmanager = _doc_yaml("### An Alertmanager route by owner")
    assert {r["name"] for r in alertmanager["receivers"]} >= {"platform", "billing-pager", "billing-chat"}

    apply_yaml(tmp_path, YAML, now=timezone.now())
    now = timezone.now()
    set_monitor("flaky", owner="team-billing", severity="page")
    set_monitor("beat-a", owner="team-billing")
    record_run("flaky", "project.tasks.flaky", states.FAILURE, now - timedelta(seconds=5))
    record_run("beat-a", "project.tasks.heartbeat", states.FAILURE, now - timedelta(seconds=5))
    record_run("beat-b", "project.tasks.heartbeat", states.FAILURE, now - timedelta(seconds=5))
    record_skip("flaky", "overlap", now, now)
    m = scrape(Client(HTTP_HOST="localhost"), REMOTE_ADDR="127.0.0.1")
    labels_seen = {name for samples in m.values() for labels in samples for name, _ in labels}
    for rule in rules:
        assert rule["alert"] and rule["expr"]
        for metric in re.findall(r"\breconciler_[a-z_]+", rule["expr"]):
            assert metric in m, (rule["alert"], metric)
        templates = " ".join([*rule.get("labels", {}).values(), *rule.get("annotations", {}).values()])
        assert set(re.findall(r"\$labels\.(\w+)", templates)) <= labels_seen, rule["alert"]
    matchers = [mt for route in alertmanager["route"]["routes"] for mt in route["matchers"]]
    assert {re.match(r"\w+", mt).group(0) for mt in matchers} <= labels_seen  # type: ignore[union-attr]
    assert set(alertmanager["route"]["group_by"]) - {"alertname"} <= labels_seen

    def alert(series: tuple[tuple[str, str], ...], name: str) -> dict[str, str]:
        labels = {"alertname": name, **dict(series)}
        labels.setdefault("severity", "warning")  # the rules' template
        return labels

    failing = {dict(series)["name"]: series for series, value in m["reconciler_schedule_failing"].items() if value}
    assert set(failing) == {"flaky", "beat-a", "beat-b"}
    route = alertmanager["route"]
    assert _route(route, alert(failing["flaky"], "ScheduleFailing")) == "billing-pager"
    assert _route(route, alert(failing["beat-a"], "ScheduleFailing")) == "billing-chat"
    assert _route(route, alert(failing["beat-b"], "ScheduleFailing")) == "platform"
    assert _route(route, {"alertname": "SchedulesDrifted", "severity": "warning"}) == "platform"
    assert _route(route, {"alertname": "ScheduleLate", "owner": "team-ops", "severity": "page"}) == "on-call-pager"
