"""Schedules as code for Django + Celery: YAML declarations reconciled into django-celery-beat."""
from __future__ import annotations

__version__ = "0.1.0"
