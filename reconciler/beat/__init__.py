"""Celery beat: the reconciling scheduler (``beat.scheduler``), which applies at start-up and
wakes on changes."""
