"""Settings of the demo project, read from the environment with sane defaults.

- ``DATABASE_URL``: any URL dj-database-url understands; default an SQLite file in ``var/``.
- ``CELERY_BROKER_URL``: default Redis on 127.0.0.1:6379.
- ``RECONCILER_SCHEDULES_DIR``: the folder of schedule declarations; default ``schedules/``.
- ``DJANGO_DEBUG``: off unless ``1`` (``bin/demo`` turns it on).
- ``RECONCILER_SOURCE_URL``: a link template for "declared in" (``{path}``, ``{line}``).
- ``RECONCILER_HEALTH_GRACE``: seconds a missing run may be late before its schedule is
  ``late``; default relative to each schedule's period (see reconciler/observe/health.py).
- ``RECONCILER_METRICS_TOKEN`` / ``RECONCILER_METRICS_ALLOWED_NETWORKS`` (comma-separated):
  who may read ``/metrics``; default loopback only.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PROJECT_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_celery_results",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reconciler",
    "project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"

_DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _DEFAULT_SQLITE), conn_max_age=0
    ),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (beat, worker, the watcher) share the file: wait for locks, do not fail.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Celery's filesystem transport: the embedded demo runs beat and a worker with no server.
    _BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", VAR_DIR / "broker"))
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),  # exchange tables; default: ./control
        "store_processed": False,
    }
# Every run stored with the name of the schedule that sent it (beat puts it on the message;
# django-celery-results keeps it with result_extended): what reconciler.observe reads.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True  # a run's row exists from its start: runtime and runs in progress
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"  # the run-time policies need it (check E006)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    # Token first: an anonymous call gets 401 with ``WWW-Authenticate: Token``; sessions need CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Schedules reconciler API",
    "DESCRIPTION": "Schedules declared in git: their status, validate, plan, apply; run, suspend, resume.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # assets from the drf-spectacular-sidecar package: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # the reconciler's own names for the choice sets its fields share (reconciler/api/openapi.py),
    # for `manage.py spectacular`'s schema of the whole project (drf-spectacular 0.30 warns otherwise)
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "reconciler.observe.sync.STATES", "TrackedRunStateEnum": "reconciler.observe.leases.RUN_STATES",
        "SkipReasonEnum": "reconciler.observe.skips.REASONS",
    },
}

RECONCILER_SCHEDULES_DIR = os.environ.get("RECONCILER_SCHEDULES_DIR", str(BASE_DIR / "schedules"))
RECONCILER_SOURCE_NAME = os.environ.get("RECONCILER_SOURCE_NAME", "")  # "": named after the folder
RECONCILER_CACHE_DIR = VAR_DIR / "cache"  # what validation derives from each unchanged file
RECONCILER_BEAT_WATCH = os.environ.get("RECONCILER_BEAT_WATCH", "0") == "1"
RECONCILER_APPLY_ON_BEAT_START = os.environ.get("RECONCILER_APPLY_ON_BEAT_START", "1") == "1"
RECONCILER_BEAT_INCREMENTAL = os.environ.get("RECONCILER_BEAT_INCREMENTAL", "1") == "1"  # bench/beat_reload.py: 0
if os.environ.get("RECONCILER_BEAT_SAFETY_RELOAD"):  # bench/beat_reload.py --modes safety
    RECONCILER_BEAT_SAFETY_RELOAD = float(os.environ["RECONCILER_BEAT_SAFETY_RELOAD"])
# Several deployments from one schedules folder: the names, and the one this process is.
RECONCILER_ENVIRONMENTS = [name for name in os.environ.get("RECONCILER_ENVIRONMENTS", "").split(",") if name]
RECONCILER_ENV = os.environ.get("RECONCILER_ENV") or None
RECONCILER_SOURCE_URL = os.environ.get("RECONCILER_SOURCE_URL", "")
if os.environ.get("RECONCILER_HEALTH_GRACE"):
    RECONCILER_HEALTH_GRACE = float(os.environ["RECONCILER_HEALTH_GRACE"])
RECONCILER_METRICS_TOKEN = os.environ.get("RECONCILER_METRICS_TOKEN", "")
RECONCILER_METRICS_ALLOWED_NETWORKS = [
    net for net in os.environ.get("RECONCILER_METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128").split(",") if net
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"reconciler": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
