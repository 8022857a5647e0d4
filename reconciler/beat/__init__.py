"""Celery beat: the reconciling scheduler (``beat.scheduler``), which applies at start-up and
wakes on changes, and the one table of schedule kinds (``beat.kinds``: model, spec, row →
the Celery schedule beat runs) that read, apply, the row digest and predictions share.
Only shells import ``beat.scheduler``; everything but ``core/`` may import ``beat.kinds``."""
