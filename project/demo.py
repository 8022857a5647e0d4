"""What ``bin/demo`` asks the project: the queues its worker must consume."""
from __future__ import annotations

from celery import current_app


def worker_queues() -> list[str]:
    """Celery's default queue and every ``queue:`` the declarations in the schedules folder use."""
    from reconciler.pipeline import validate_paths

    declared = validate_paths().declared.tasks
    return sorted({current_app.conf.task_default_queue} | {t.spec.queue for t in declared if t.spec.queue})


if __name__ == "__main__":
    import django

    django.setup()
    print(",".join(worker_queues()))
