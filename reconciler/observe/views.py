"""``/metrics`` for Prometheus: a plain Django view, readable by the networks in
``RECONCILER_METRICS_ALLOWED_NETWORKS`` (default: loopback) or with the bearer token
``RECONCILER_METRICS_TOKEN``. The client address is ``REMOTE_ADDR``: behind a proxy, allow the
proxy's network or use the token (forwarded headers are not trusted)."""
from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

DEFAULT_NETWORKS = ("127.0.0.0/8", "::1/128")


def allowed(remote_addr: str, authorization: str, networks: Sequence[str], token: str) -> bool:
    """May this client read the metrics? A matching bearer token, or an address in a network."""
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    from .metrics import render_latest

    networks = getattr(settings, "RECONCILER_METRICS_ALLOWED_NETWORKS", DEFAULT_NETWORKS)
    token = getattr(settings, "RECONCILER_METRICS_TOKEN", "") or ""
    if not allowed(request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", ""), networks, token):
        return HttpResponse("forbidden: not an allowed network and no valid bearer token\n", status=403,
                            content_type="text/plain")
    body, content_type = render_latest(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
