from __future__ import annotations

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class ReconcilerConfig(AppConfig):
    name = "reconciler"
    verbose_name = "Schedules as code"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        # Our models point at django-celery-beat's: without its app Django would stop on a
        # traceback about PeriodicTask's app_label. Say what to do instead.
        if not self.apps.is_installed("django_celery_beat"):
            # (b) not at the top: Django imports this module while it populates its registry.
            from .checks import beat_app_missing

            problem = beat_app_missing()
            raise ImproperlyConfigured(f"{problem.id}: {problem.msg} {problem.hint}")
        super().import_models()

    def ready(self) -> None:
        from . import checks  # noqa: F401  (b) registers the system checks once the registry is ready
        from .runtime import signals

        signals.connect()  # a worker marks the runs our beat sent started and finished (run leases)
