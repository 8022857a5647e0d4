"""The entry beat keeps for each task: django-celery-beat's ``ModelEntry``, whose save writes
only beat's own columns.

django-celery-beat's ``ModelEntry.save`` reads the row, sets beat's columns on it and saves the
whole row back. An apply that commits between that read and that write is undone: the old
arguments, schedule and options are written back, and no change marker moves (beat's save says
``no_changes``), so neither beat nor the next plan's fast path notices at once. One ``UPDATE``
of beat's own columns cannot undo what another writer changed in the others."""
from __future__ import annotations

from django_celery_beat.schedulers import ModelEntry

BEAT_COLUMNS = ("last_run_at", "total_run_count")  # ``save_fields`` less ``no_changes``, not a column


class ScheduledEntry(ModelEntry):
    def save(self) -> None:
        """An ``UPDATE`` sends no ``post_save``: the change marker stays put, as ``no_changes`` asks."""
        columns = {column: getattr(self.model, column) for column in BEAT_COLUMNS}
        type(self.model)._default_manager.filter(pk=self.model.pk).update(**columns)
