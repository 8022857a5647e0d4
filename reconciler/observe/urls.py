"""Mount with ``path("", include("reconciler.observe.urls"))``: serves ``/metrics``."""
from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("metrics", views.metrics, name="reconciler-metrics"),
]
