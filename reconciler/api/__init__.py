"""The REST API (Django REST framework): schedules and their status, the task catalogue,
validate, plan, apply, run, suspend, resume; its OpenAPI schema. Thin shells over the
pipeline and ``reconciler.operate``; access by model permissions (see ``permissions``)."""
