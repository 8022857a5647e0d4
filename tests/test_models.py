"""The reconciler's models match its migrations, and the admin shows history read-only."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.management import call_command

from reconciler.models import ApplyRecord, ManagedTask


@pytest.mark.django_db
def test_models_match_migrations() -> None:
    out = io.StringIO()
    call_command("makemigrations", "reconciler", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize("model", [ApplyRecord, ManagedTask], ids=["history", "ownership"])
def test_admin_is_read_only(model, rf) -> None:  # type: ignore[no-untyped-def]
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = type(
        "U", (), {"is_active": True, "is_staff": True, "is_superuser": True, "has_perm": lambda *a: True}
    )()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
