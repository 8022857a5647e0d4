"""Django system checks (``manage.py check``): a missing piece of the set-up is reported with an
id and a hint when the project starts, not as a traceback at first use. See docs/install.md.

| id | level | what |
|---|---|---|
| reconciler.E001 | error | django_celery_beat is not in INSTALLED_APPS (raised while loading models) |
| reconciler.E002 | error | USE_TZ is off |
| reconciler.E003 | error | RECONCILER_CELERY_APP cannot be imported |
| reconciler.E004 | error | RECONCILER_BEAT_WATCH without watchdog (the [watch] extra) |
| reconciler.E005 | error | PostgreSQL without psycopg 3 (the [postgres] extra) |
| reconciler.E006 | error | declarations use a run-time policy or a calendar but beat's scheduler is not ours |
| reconciler.W001 | warning | the schedules folder does not exist |
| reconciler.W002 | warning | no Celery app is loaded: no task can be found |
| reconciler.W003 | warning | beat's scheduler does not read the database (silence it when beat gets ``-S``) |
| reconciler.W004 | warning | a Redis broker without the redis client (the [redis] extra) |
| reconciler.W005 | warning | the API is mounted but rest_framework is not in INSTALLED_APPS |
| reconciler.W006 | warning | RECONCILER_SOURCE_NAME is not set: the source's name is only a fallback |
"""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .conf import conf, folder_name, import_path, schedules_dir
from .core.errors import ReconcilerError
from .core.extras import install_hint, installed

SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"
TAG = "reconciler"


def beat_app_missing() -> Error:
    return Error(
        "django_celery_beat is not in INSTALLED_APPS: the reconciler writes django-celery-beat's tables.",
        hint='Add "django_celery_beat" to INSTALLED_APPS, next to "reconciler".', id="reconciler.E001",
    )


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not settings.USE_TZ:
        problems.append(Error(
            "USE_TZ is False: schedules, one-off moments and the apply history are time-zone aware.",
            hint="Set USE_TZ = True (Django's default since 5.0).", id="reconciler.E002",
        ))
    if conf.BEAT_WATCH and not installed("watchdog"):
        problems.append(Error(
            "RECONCILER_BEAT_WATCH is on but watchdog is not installed.",
            hint=install_hint("watch"), id="reconciler.E004",
        ))
    if _uses_postgresql() and not installed("psycopg"):
        problems.append(Error(
            "the database is PostgreSQL but psycopg 3 is not installed (the reconcile and beat locks use it).",
            hint=install_hint("postgres"), id="reconciler.E005",
        ))
    return problems


def _uses_postgresql() -> bool:
    return any("postgresql" in db.get("ENGINE", "") for db in settings.DATABASES.values())


@register(TAG)
def check_schedules_dir(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    folder = schedules_dir()
    if folder.exists():  # a folder, or a single file
        return []
    return [Warning(
        f"the schedules folder {folder} does not exist: validate, plan and apply have nothing to read.",
        hint="Create it, or point RECONCILER_SCHEDULES_DIR at it (a relative path is resolved against BASE_DIR).",
        id="reconciler.W001",
    )]


@register(TAG)
def check_source_name(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A fallback name (the folder's path) can stand for another project's folder over a shared
    database; ``reconciler.sources`` refuses such an apply, this says so before it happens."""
    from .declare.sources import explicit_name  # start-up: docs/architecture.md, "The import rules"

    if explicit_name():
        return []
    name = folder_name(schedules_dir())
    return [Warning(
        f"RECONCILER_SOURCE_NAME is not set: the schedules source is named {name!r} after its folder, a "
        "name another project (or a folder outside BASE_DIR with the same name) may also take; an apply "
        "under a name that stands for another folder is refused.",
        hint='Set RECONCILER_SOURCE_NAME = "<this project>" (a name of its own per project sharing the database; '
        f'"{name}" keeps the rows already applied). See docs/deploy.md, "Schedules sources".',
        id="reconciler.W006",
    )]


@register(TAG)
def check_celery(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    app, problem = _celery_app()
    if problem is not None:
        return [problem]
    problems: list[CheckMessage] = []
    scheduler = _scheduler_problem(str(app.conf.beat_scheduler or ""))
    if scheduler:
        problems.append(scheduler)
    policies = _policy_problem(str(app.conf.beat_scheduler or ""))
    if policies:
        problems.append(policies)
    broker = str(app.conf.broker_url or "")
    if broker.startswith(("redis://", "rediss://", "redis+socket://")) and not installed("redis"):
        problems.append(Warning(
            f"the Celery broker is Redis ({broker.split('://')[0]}://) but the redis client is not installed.",
            hint=install_hint("redis"), id="reconciler.W004",
        ))
    return problems


def _celery_app() -> tuple[Any, CheckMessage | None]:
    """The app the reconciler will use, or the message that says why there is none."""
    from celery import _state
    from django.utils.module_loading import import_string

    dotted = conf.CELERY_APP
    if dotted:
        try:
            return import_string(import_path(str(dotted))), None
        except ImportError as exc:
            return None, Error(
                f"RECONCILER_CELERY_APP = {dotted!r} cannot be imported: {exc}",
                hint='Name your Celery app as "module:attribute", e.g. "mysite.celery:app".', id="reconciler.E003",
            )
    app = _state.get_current_app()
    if not app.set_as_current:  # Celery's fallback, made when no app of the project exists
        return None, Warning(
            "no Celery app is loaded, so no declared task can be found in a registry.",
            hint="Create the project's celery.py and import it in the project package's __init__.py "
            "(docs/install.md), or set RECONCILER_CELERY_APP = \"mysite.celery:app\".", id="reconciler.W002",
        )
    return app, None


def _scheduler_problem(name: str) -> CheckMessage | None:
    """Beat only reads the rows the reconciler writes through django-celery-beat's scheduler."""
    from celery.utils.imports import symbol_by_name
    from django_celery_beat.schedulers import DatabaseScheduler

    try:
        scheduler = symbol_by_name(name) if name else None
    except (ImportError, AttributeError, ValueError):
        scheduler = None
    if isinstance(scheduler, type) and issubclass(scheduler, DatabaseScheduler):
        return None
    return Warning(
        f"Celery beat's scheduler is {name or 'not set'}, which does not read the schedules the reconciler "
        "writes into the database.",
        hint=f'Set CELERY_BEAT_SCHEDULER = "{SCHEDULER}", or silence this check '
        '(SILENCED_SYSTEM_CHECKS = ["reconciler.W003"]) when beat is started with -S.', id="reconciler.W003",
    )


def _policy_problem(name: str) -> CheckMessage | None:
    """Run-time policies (overlap, catch-up, jitter, the scheduled time …) and calendars (more
    crons, exclusions, an end) are applied by our scheduler alone: under another, beat would
    quietly ignore them (and run a calendar's first cron only). The declarations are read
    (without the registry) only when the configured scheduler is not ours."""
    from .declare.tree import scheduler_users  # start-up: docs/architecture.md, "The import rules"

    if _is_ours(name):
        return None
    try:
        names = scheduler_users()
    except ReconcilerError:  # an unknown RECONCILER_ENV: the commands say so
        return None
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return Error(
        f"{len(names)} declaration(s) use a run-time policy or a calendar ({shown}), which only the reconciler's "
        f"scheduler applies, but Celery beat's scheduler is {name or 'not set'}: beat would ignore the policies "
        "and run a calendar's first cron alone.",
        hint=f'Set CELERY_BEAT_SCHEDULER = "{SCHEDULER}" (the Celery app\'s beat_scheduler), and start beat '
        f"without -S or with -S {SCHEDULER}. See docs/policies.md and docs/calendars.md.", id="reconciler.E006",
    )


def _is_ours(name: str) -> bool:
    """Whether ``name`` is our scheduler or a subclass: compared by name, as the shells may not
    import one another (the scheduler is beside this module in the layers)."""
    from celery.utils.imports import symbol_by_name

    try:
        scheduler = symbol_by_name(name) if name else None
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(scheduler, type) and any(
        cls.__name__ == "ReconcilingScheduler" and cls.__module__.startswith("reconciler.") for cls in scheduler.__mro__
    )


@register(TAG, "urls")
def check_api(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The API's browsable HTML needs DRF's templates, which come with its app."""
    from django.urls import NoReverseMatch, reverse

    if apps.is_installed("rest_framework") or not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("reconciler:tasks")
    except (NoReverseMatch, ImportError, ReconcilerError):  # not mounted, or Django's URL checks say why
        return []
    return [Warning(
        "the reconciler API is mounted but rest_framework is not in INSTALLED_APPS.",
        hint='Add "rest_framework" to INSTALLED_APPS (its templates render the browsable API).',
        id="reconciler.W005",
    )]
