"""What happens to the declared schedules: their runs, their health, Prometheus metrics and a
forecast of the runs to come. Shells (the ``reconcile status``/``forecast`` commands, the admin,
the API, ``/metrics``) call these functions:

- runs: ``runs.last_runs(name, limit, offset)``, ``runs.runs_queryset(name)`` (to paginate),
  ``runs.count_runs(name)``, ``runs.summaries()``; ``Run.to_json()``
- health: ``health.read_health(names=None)`` → ``ScheduleHealth`` per schedule (``.to_json()``),
  ``health.health_of(name)``, ``health.names_with(["late"])`` (a filter); ``health.decide`` is
  the pure rule
- the run in flight and skipped runs (beat's records, no result store needed):
  ``leases.read_runs(names, now)`` → ``RunState`` per tracked schedule (running long or not);
  ``skips.recent_skips(names, now)``, ``skips.last_skips(name)``, ``skips.skip_totals()``
- rows: ``rows.read_rows(names=None)`` → a ``Row`` per PeriodicTask (one query); ``expected``:
  when its next run is due, by Celery's math (``expected.row_math``, kept between reads)
- forecast: ``forecast.read_forecast(hours)`` → ``Forecast``; ``chart.forecast_svg(forecast, tz)``,
  ``chart.runs_svg(runs)``; staff views ``views.forecast_chart``, ``views.runs_chart``
- metrics: ``metrics.ReconcilerCollector``, served by ``views.metrics`` (``observe/urls.py``)

Runs come from django-celery-results (``CELERY_RESULT_EXTENDED = True``): each is linked to
its schedule by the ``periodic_task_name`` beat puts on the message, never by the task name.
"""
