"""Demo Django project: its Celery app is loaded with Django so that tasks register."""
from __future__ import annotations

from .celery import app as celery_app

__all__ = ["celery_app"]
