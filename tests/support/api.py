"""Helpers for API tests: users holding exactly one permission through a group, token
clients, and the Celery app pointed at the test Redis."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import Group, Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ALL_PERMISSIONS = ("view_managedtask", "run_schedule", "suspend_schedule", "apply_schedules")


def user_with(*codenames: str, username: str | None = None, staff: bool = False) -> User:
    """A user whose permissions come from a group, as an administrator would give them."""
    user = User.objects.create_user(username or "u-" + "-".join(codenames or ("none",)), is_staff=staff)
    if codenames:
        group, _ = Group.objects.get_or_create(name="g-" + "-".join(codenames))
        group.permissions.set(Permission.objects.filter(content_type__app_label="reconciler", codename__in=codenames))
        user.groups.add(group)
    return user


def token_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point the project's Celery app at the test Redis for the duration."""
    from reconciler.pipeline import celery_app

    app = celery_app()
    previous = app.conf.broker_url
    app.conf.broker_url = url
    _fresh_pools(app)  # connect to the test broker, not to whatever an earlier test used
    try:
        yield
    finally:
        app.conf.broker_url = previous
        _fresh_pools(app)


def _fresh_pools(app) -> None:  # type: ignore[no-untyped-def]
    from kombu import pools

    pools.reset()  # kombu's process-wide producer pools, keyed by connection: drop them all
    app._pool = None
    app.amqp._producer_pool = None
