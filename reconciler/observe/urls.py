"""Mount with ``path("", include("reconciler.observe.urls"))``: ``/metrics`` for Prometheus, and
two SVG charts for staff that the admin embeds (``<img src>``): the forecast, a schedule's runs."""
from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("metrics", views.metrics, name="reconciler-metrics"),
    path("observe/forecast.svg", views.forecast_chart, name="reconciler-forecast-chart"),
    path("observe/runs/<path:name>.svg", views.runs_chart, name="reconciler-runs-chart"),
]
