from __future__ import annotations

from django.apps import AppConfig


class ReconcilerConfig(AppConfig):
    name = "reconciler"
    verbose_name = "Schedules as code"
    default_auto_field = "django.db.models.BigAutoField"
