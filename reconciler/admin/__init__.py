"""The reconciler in the Django admin: its own tables (read-only), and django-celery-beat's
PeriodicTask admin replaced by one that knows which rows git manages."""
from __future__ import annotations

from . import history, pages, periodic_tasks  # noqa: F401  (registering is importing)
