"""Schemathesis against the schema the API serves: generated requests to every operation
(bounded examples, a staff token), no 500, every response conforming to the schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import positive_data_acceptance

from tests.api.test_api import YAML
from tests.support.api import ALL_PERMISSIONS, broker_at, user_with
from tests.support.engine import apply_yaml, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


@contextmanager
def in_test_transaction() -> Iterator[None]:
    """Serve WSGI requests inside the test's transaction, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_conforms_to_the_served_schema(
    tmp_path: Path, settings: Any, redis_broker: str
) -> None:
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    write_schedules(tmp_path, YAML)
    apply_yaml(tmp_path)
    token = Token.objects.create(user=user_with(*ALL_PERMISSIONS, username="staff", staff=True))
    auth = {"Authorization": f"Token {token.key}"}
    with in_test_transaction(), broker_at(redis_broker):
        schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), headers=auth)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 13  # every endpoint but the schema and the docs
        for operation in operations:
            _check(operation, auth)


def _check(operation: Any, auth: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # Every check but "positive data accepted": a schema cannot say that arguments must bind
        # to a Celery task's signature, nor that a schedule must be suspended before a resume.
        case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])

    run()


def test_the_schema_has_no_warnings(tmp_path: Path) -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/tasks/{name}/run/" in (tmp_path / "schema.yaml").read_text()
