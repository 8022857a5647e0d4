"""What the admin pages show, as pure values: moments, signatures as written, docstrings,
the one message of enable/disable, the charts' labels and axes."""
from __future__ import annotations

import inspect
import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.admin.actions import toggled_message
from reconciler.admin.catalogue import doc_html
from reconciler.admin.display import moment
from reconciler.declare.catalogue import argument_hints, shown
from reconciler.observe.chart import LABEL_GAP, LEFT, RIGHT, WIDTH, forecast_svg, runs_svg, spread
from reconciler.observe.forecast import BusyMinute, Forecast
from reconciler.observe.runs import Run

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def sync(warehouse: str, full: bool = False, batch_size: int = 500, *, note: str | None = None) -> dict[str, Any]:
    return {}


def test_a_signature_is_shown_as_written() -> None:
    signature = inspect.signature(sync)  # string annotations: this module has `from __future__ import annotations`
    assert "'int'" in str(signature)
    assert shown(signature) == (
        "(warehouse: str, full: bool = False, batch_size: int = 500, *, note: str | None = None) -> dict[str, Any]")


def test_the_run_forms_hints_come_from_the_signature() -> None:
    assert argument_hints(inspect.signature(sync)) == (
        "warehouse: str", '{"full": false, "batch_size": 500, "note": null}')
    assert argument_hints(None) == ("", "")


@pytest.mark.parametrize(("doc", "html"), [
    ("Render it; ``bind=True``: ``self`` is not one.",
     "Render it; <code>bind=True</code>: <code>self</code> is not one."),
    ("Shows as `failing` <b>", "Shows as <code>failing</code> &lt;b&gt;"),
    ("plain", "plain"),
], ids=["double-backticks", "single-backticks-escaped", "plain"])
def test_docstring_literals_become_code(doc: str, html: str) -> None:
    assert doc_html(doc) == html


@pytest.mark.parametrize(("changed", "skipped", "said"), [
    ([], ["beat"], "Nothing disabled. Left 1 managed schedule as git declares it (beat): git decides whether a "
                   "managed schedule runs; use Suspend… to pause it."),
    (["a", "b"], [], "Disabled 2 schedules: a, b."),
    (["a"], ["b", "c"], "Disabled 1 schedule: a. Left 2 managed schedules as git declares them (b, c): git decides "
                        "whether a managed schedule runs; use Suspend… to pause it."),
], ids=["only-managed", "only-unmanaged", "both"])
def test_one_message_for_disable(changed: list[str], skipped: list[str], said: str) -> None:
    assert toggled_message("disable", changed, skipped) == said


def test_moments_written_one_way(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    at = datetime(2026, 12, 2, 15, 4, 27, 999_000, tzinfo=UTC)
    assert moment(at) == "2026-12-02T16:04:27+01:00"
    assert moment(None) == "—" and moment(None, empty="never") == "never"


def test_spread_keeps_labels_apart_and_inside() -> None:
    spots = spread([100.0, 100.5, 101.0, 1190.0, 1190.2], LEFT, WIDTH - RIGHT)
    assert all(b - a >= LABEL_GAP for a, b in itertools.pairwise(spots))
    assert spots[0] >= LEFT and spots[-1] <= WIDTH - RIGHT and spots[0] == 100.0


def test_the_forecasts_ten_busiest_neighbours_are_numbered_apart() -> None:
    """Ten busiest minutes side by side in a day: each number readable, each led to its minute."""
    per_minute = [1] * 1440
    busiest = []
    for i in range(10):
        per_minute[300 + i] = 5
        busiest.append(BusyMinute(START + timedelta(minutes=300 + i), 5, (("heartbeat", 5),)))
    forecast = Forecast(START, START + timedelta(days=1), tuple(per_minute), tuple(busiest), 1)
    root = ET.fromstring(forecast_svg(forecast, UTC))
    ranks = [(float(t.get("x", "0")), t.text) for t in root.iter(f"{SVG}text") if t.get("class") == "rank"]
    assert [text for _, text in ranks] == [str(n) for n in range(1, 11)]
    xs = sorted(x for x, _ in ranks)
    assert all(b - a >= LABEL_GAP for a, b in itertools.pairwise(xs)), xs
    assert len([line for line in root.iter(f"{SVG}line") if line.get("class") == "leader"]) == 10


def test_the_runs_chart_has_axes() -> None:
    runs = [Run(f"id{i}", "heartbeat", "project.tasks.heartbeat", "SUCCESS", START + timedelta(seconds=30 * i),
                START + timedelta(seconds=30 * i, milliseconds=400 + 100 * i), "w1", "") for i in range(4)]
    root = ET.fromstring(runs_svg(list(reversed(runs))))
    lines = [line for line in root.iter(f"{SVG}line") if line.get("class") == "axis"]
    assert len(lines) == 2  # y (runtime) and x (start time)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "0 s" in texts and "0.7 s" in texts  # the longest run's runtime tops the y axis
    assert "03:00:00" in texts and "03:01:30" in texts  # the first and last start, to the second
    assert any(re.match(r"started \(UTC\)", t) for t in texts)
