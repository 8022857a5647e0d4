"""A forecast drawn for people: a terminal histogram, and a server-rendered SVG chart (no
script, nothing fetched: it renders wherever the admin does). Pure functions of the forecast
and the time zone to show it in."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from xml.sax.saxutils import escape, quoteattr

from ..render.words import iso
from .forecast import BusyMinute, Forecast
from .runs import Run

BAR_WIDTH = 50
MAX_ROWS = 48
NICE_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


def local(moment: datetime, tz: tzinfo) -> str:
    """Times written one way (``render.words.iso``): ISO 8601, whole seconds."""
    return iso(moment, tz)


def who(busy: BusyMinute, limit: int = 6) -> str:
    names = [f"{name} \u00d7{n}" if n > 1 else name for name, n in busy.schedules[:limit]]
    more = len(busy.schedules) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def forecast_text(forecast: Forecast, tz: tzinfo) -> str:
    minutes = len(forecast.per_minute)
    peak = max(forecast.per_minute, default=0)
    lines = [
        f"forecast {local(forecast.start, tz)} → {local(forecast.end, tz)}: {forecast.total:,} runs of "
        f"{forecast.schedules} schedules, at most {peak} in a minute",
    ]
    if not forecast.total:
        return "\n".join([*lines, "nothing is due in this window"]) + "\n"
    bucket = next((b for b in NICE_BUCKETS if minutes / b <= MAX_ROWS), NICE_BUCKETS[-1])
    lines.append(f"runs per minute (a row: {bucket} min; █ its average minute, ░ up to its busiest)")
    for first in range(0, minutes, bucket):
        counts = forecast.per_minute[first:first + bucket]
        lines.append(f"{forecast.minute(first).astimezone(tz):%a %H:%M} │{_bar(counts, peak)} "
                     f"{max(counts):>4}/min {sum(counts):>7,} runs")
    lines.extend(["", "busiest minutes:"])
    for rank, busy in enumerate(forecast.busiest, 1):
        lines.append(f"{rank:>3}. {local(busy.minute, tz)}  {busy.runs:>5} runs  {who(busy)}")
    if forecast.capped:
        lines.append(f"capped (too many runs to count): {', '.join(forecast.capped)}")
    return "\n".join(lines) + "\n"


def _bar(counts: tuple[int, ...], peak: int) -> str:
    mean = math.ceil(sum(counts) / len(counts) / peak * BAR_WIDTH)
    busiest = math.ceil(max(counts) / peak * BAR_WIDTH)
    return ("█" * mean + "░" * (busiest - mean)).ljust(BAR_WIDTH)


def forecast_json(forecast: Forecast) -> str:
    return json.dumps(forecast.to_json(), indent=2, ensure_ascii=False) + "\n"


# --- SVG -------------------------------------------------------------------------------------

WIDTH, HEIGHT = 1200, 600
LEFT, RIGHT, TOP, PLOT_HEIGHT = 64, 24, 84, 280
STYLE = (
    "text{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:12px;fill:#333}"
    ".title{font-size:16px;font-weight:600}.axis{stroke:#888;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}"
    ".bar{fill:#417690}.peak{fill:#d9534f}.rank{font-size:10px;fill:#d9534f;font-weight:600}.list{font-size:12px}"
    ".leader{stroke:#d9534f;stroke-width:0.75;opacity:0.7}"
)


def forecast_svg(forecast: Forecast, tz: tzinfo, title: str = "Runs per minute") -> str:
    minutes = max(1, len(forecast.per_minute))
    peak = max(max(forecast.per_minute, default=0), 1)
    width = WIDTH - LEFT - RIGHT
    step = width / minutes
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label={quoteattr(title)}>',
        f"<style>{STYLE}</style>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text class="title" x="{LEFT}" y="24">{escape(title)}: {local(forecast.start, tz)} → '
        f"{local(forecast.end, tz)}</text>",
        f'<text x="{LEFT}" y="46">{forecast.total:,} runs of {forecast.schedules} schedules; '
        f"busiest minute: {max(forecast.per_minute, default=0)} runs</text>",
        *_y_axis(peak, width),
        *_bars(forecast, peak, step),
        *_x_axis(forecast, tz, step),
        *_peaks(forecast, peak, step),
        *_busiest_list(forecast, tz),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _y(value: float, peak: int) -> float:
    return TOP + PLOT_HEIGHT - value / peak * PLOT_HEIGHT


def _y_axis(peak: int, width: float) -> list[str]:
    step = next(n * 10**e for e in range(9) for n in (1, 2, 5) if peak / (n * 10**e) <= 5)
    ticks = sorted({*range(0, peak + 1, step), peak})
    out = []
    for tick in ticks:
        y = _y(tick, peak)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + width:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    out.append(f'<text x="16" y="{TOP + PLOT_HEIGHT / 2}" transform="rotate(-90 16 {TOP + PLOT_HEIGHT / 2})"'
               ' text-anchor="middle">runs / minute</text>')
    return out


def _bars(forecast: Forecast, peak: int, step: float) -> list[str]:
    """One rectangle per run of equal minutes: a steady schedule is one shape, not 1,440."""
    out = []
    counts = forecast.per_minute
    i = 0
    while i < len(counts):
        j = i
        while j + 1 < len(counts) and counts[j + 1] == counts[i]:
            j += 1
        if counts[i]:
            y = _y(counts[i], peak)
            w = max((j - i + 1) * step, 0.6)
            out.append(f'<rect class="bar" x="{LEFT + i * step:.2f}" y="{y:.1f}" width="{w:.2f}"'
                       f' height="{TOP + PLOT_HEIGHT - y:.1f}"/>')
        i = j + 1
    return out


def _x_axis(forecast: Forecast, tz: tzinfo, step: float) -> list[str]:
    base = TOP + PLOT_HEIGHT
    out = [f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>']
    hours = len(forecast.per_minute) / 60
    every = next((h for h in (1, 2, 3, 4, 6, 12, 24, 48) if hours / h <= 13), 168)
    first = forecast.start.astimezone(tz).replace(minute=0)
    moment = first + timedelta(hours=1)
    while moment < forecast.end:
        if moment.astimezone(tz).hour % every == 0 or every > 24:
            x = LEFT + (moment - forecast.start).total_seconds() / 60 * step
            label = moment.astimezone(tz).strftime("%a %H:%M" if moment.astimezone(tz).hour == 0 else "%H:%M")
            out.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 5}"/>')
            out.append(f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle">{label}</text>')
        moment += timedelta(hours=1)
    out.append(f'<text x="{WIDTH - RIGHT}" y="{base + 34}" text-anchor="end">time ({escape(str(tz))})</text>')
    return out


LABEL_GAP = 16  # px between two rank labels' centres: "10" at 10 px bold is ~13 px wide


def _peaks(forecast: Forecast, peak: int, step: float) -> list[str]:
    """The busiest minutes in red, each numbered above the plot; the numbers spread apart where
    the minutes are close, a thin leader line from each number down to its minute."""
    bars, out = [], []
    for busy in forecast.busiest:
        index = round((busy.minute - forecast.start).total_seconds() / 60)
        bars.append((LEFT + index * step + max(step, 1.5) / 2, _y(busy.runs, peak), busy))
    order = sorted(range(len(bars)), key=lambda i: (bars[i][0], i))
    spots = spread([bars[i][0] for i in order], LEFT, WIDTH - RIGHT)
    label_x = {i: spot for i, spot in zip(order, spots, strict=True)}
    label_y = TOP - 14
    for rank, (x, y, busy) in enumerate(bars, 1):
        width = max(step, 1.5)
        out.append(f'<rect class="peak" x="{x - width / 2:.2f}" y="{y:.1f}" width="{width:.2f}"'
                   f' height="{TOP + PLOT_HEIGHT - y:.1f}"><title>{escape(who(busy, 20))}</title></rect>')
        lx = label_x[rank - 1]
        out.append(f'<line class="leader" x1="{lx:.1f}" y1="{label_y + 3}" x2="{x:.1f}" y2="{y - 1:.1f}"/>')
        out.append(f'<text class="rank" x="{lx:.1f}" y="{label_y}" text-anchor="middle">{rank}</text>')
    return out


def spread(wanted: Sequence[float], low: float, high: float, gap: float = LABEL_GAP) -> list[float]:
    """Positions as near as may be to ``wanted`` (sorted), at least ``gap`` apart, within [low, high]."""
    spots: list[float] = []
    for x in wanted:
        spots.append(max(x, low, spots[-1] + gap) if spots else max(x, low))
    for i in range(len(spots) - 1, -1, -1):  # pushed past the right edge: back, keeping the gaps
        limit = high if i == len(spots) - 1 else spots[i + 1] - gap
        spots[i] = min(spots[i], limit)
    return spots


def _busiest_list(forecast: Forecast, tz: tzinfo) -> list[str]:
    y = TOP + PLOT_HEIGHT + 52
    out = [f'<text class="title" x="{LEFT}" y="{y}" style="font-size:13px">The ten busiest minutes</text>']
    for rank, busy in enumerate(forecast.busiest, 1):
        line = f"{rank}. {local(busy.minute, tz)} — {busy.runs} runs: {who(busy)}"
        out.append(f'<text class="list" x="{LEFT}" y="{y + rank * 17}">{escape(line[:170])}</text>')
    return out


# --- a schedule's recent runs ----------------------------------------------------------------

RUN_COLOURS = {"SUCCESS": "#3c8d40", "FAILURE": "#d9534f", "REVOKED": "#d9534f", "RETRY": "#e5a000"}


def runs_svg(runs: Sequence[Run], width: int = 480, height: int = 150, tz: tzinfo = UTC) -> str:
    """A small chart of a schedule's recent runs, oldest on the left: bar height the runtime
    (the y axis, in seconds), colour the outcome (green success, red failure, amber retry, grey
    running); the x axis from the first run's start to the last's."""
    ordered = list(reversed(runs))  # runs come newest first
    longest = max((r.runtime_seconds or 0.0 for r in ordered), default=0.0) or 1.0
    left, right, top, bottom = 52, 8, 22, height - 30
    step = (width - left - right) / max(len(ordered), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' role="img" aria-label="recent runs">',
        "<style>text{font-family:system-ui,sans-serif;font-size:11px;fill:#333}"
        ".axis{stroke:#888;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}</style>",
        f'<text x="{left}" y="12">last {len(ordered)} runs, longest {longest:.3g} s</text>' if ordered
        else f'<text x="{left}" y="12">no runs recorded</text>',
    ]
    for tick in (0.0, longest / 2, longest):
        y = bottom - tick / longest * (bottom - top)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:.3g} s</text>')
    for i, run in enumerate(ordered):
        runtime = run.runtime_seconds
        bar = max(2.0, (runtime or 0.0) / longest * (bottom - top))
        colour = RUN_COLOURS.get(run.state, "#999")
        tip = f"{local(run.started_at, tz)} {run.state} "
        tip += (f"{runtime:.3f} s" if runtime is not None else "") + (f" {run.exception}" if run.exception else "")
        parts.append(
            f'<rect x="{left + i * step + 0.5:.1f}" y="{bottom - bar:.1f}" width="{max(step - 1, 1):.1f}"'
            f' height="{bar:.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>'
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{bottom}" y2="{bottom}"/>')
    if ordered:
        parts.extend(_run_times(ordered, tz, left, width - right, bottom))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _run_times(ordered: Sequence[Run], tz: tzinfo, left: float, right: float, bottom: float) -> list[str]:
    """The x axis: when the first and the last run shown started (to the second), and the time zone."""
    first, last = (run.started_at.astimezone(tz) for run in (ordered[0], ordered[-1]))
    fmt = "%H:%M:%S" if first.date() == last.date() else "%m-%d %H:%M:%S"
    return [
        f'<text x="{left}" y="{bottom + 14}">{first:{fmt}}</text>',
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end">{last:{fmt}}</text>',
        f'<text x="{(left + right) / 2:.1f}" y="{bottom + 26}" text-anchor="middle">started ({escape(str(tz))}),'
        " oldest → newest</text>",
    ]
