"""Who may do what: Django model permissions of ``reconciler.ManagedTask``, which an
administrator gives to groups. Anonymous callers get 401 (token) or 403; authenticated
callers without the permission get 403."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

VIEW = "view_managedtask"
RUN = "run_schedule"
SUSPEND = "suspend_schedule"
APPLY = "apply_schedules"


class HasPermission(BasePermission):
    def __init__(self, codename: str) -> None:
        self.codename = codename
        self.message = f"this needs the permission reconciler.{codename}"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(f"reconciler.{self.codename}"))


class IsAuthenticated(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)
