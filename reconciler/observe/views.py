"""Charts for the admin (staff only) and ``/metrics`` for Prometheus: a plain Django view, readable by the networks in
``RECONCILER_METRICS_ALLOWED_NETWORKS`` (default: loopback) or with the bearer token
``RECONCILER_METRICS_TOKEN``. The client address is ``REMOTE_ADDR``: behind a proxy, allow the
proxy's network or use the token (forwarded headers are not trusted)."""
from __future__ import annotations

import hmac
import ipaddress
import math
from collections.abc import Sequence

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..conf import conf
from ..core.extras import require
from .chart import forecast_svg, runs_svg
from .forecast import read_forecast
from .runs import last_runs


def allowed(remote_addr: str, authorization: str, networks: Sequence[str], token: str) -> bool:
    """May this client read the metrics? A matching bearer token, or an address in a network."""
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:127.0.0.1: an IPv4 client of a server bound to [::] is judged as its IPv4 address
        candidates.insert(0, address.ipv4_mapped)
    return any(a in ipaddress.ip_network(network, strict=False) for network in networks for a in candidates)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    require("metrics", "the /metrics endpoint")
    from .metrics import render_latest  # (a) prometheus_client: the [metrics] extra, checked just above

    networks = conf.METRICS_ALLOWED_NETWORKS
    token = conf.METRICS_TOKEN or ""
    if not allowed(request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", ""), networks, token):
        return HttpResponse("forbidden: not an allowed network and no valid bearer token\n", status=403,
                            content_type="text/plain")
    body, content_type = render_latest(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


@require_GET
@staff_member_required
def forecast_chart(request: HttpRequest) -> HttpResponse:
    """The next ``?hours=`` (default 24) as an SVG chart, for the admin's forecast page."""
    hours, problem = chart_hours(request.GET.get("hours"))
    if problem:
        return HttpResponse(problem + "\n", status=400, content_type="text/plain")
    svg = forecast_svg(read_forecast(hours), timezone.get_current_timezone(), f"Runs per minute, next {hours:g} h")
    return HttpResponse(svg, content_type="image/svg+xml")


MAX_CHART_HOURS = 24.0 * 31


def chart_hours(raw: str | None) -> tuple[float, str | None]:
    """``?hours=``: a finite number of hours from 1 to 31 days (default 24), or why not."""
    if raw is None or raw == "":
        return 24.0, None
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or not 1.0 <= hours <= MAX_CHART_HOURS:
        return 24.0, f"hours must be a number from 1 to {MAX_CHART_HOURS:g}, not {raw[:40]!r}"
    return hours, None


@require_GET
@staff_member_required
def runs_chart(request: HttpRequest, name: str) -> HttpResponse:
    """A schedule's last runs (durations, outcomes) as a small SVG chart, for its admin page."""
    if "\x00" in name:  # no schedule's name (and the database refuses it in a query)
        return HttpResponse("no schedule's name contains a NUL character\n", status=404, content_type="text/plain")
    svg = runs_svg(last_runs(name, 50), tz=timezone.get_current_timezone())
    return HttpResponse(svg, content_type="image/svg+xml")
