"""The reconciler in the Django admin: its own tables, read-only (git is the source of truth)."""
from __future__ import annotations

from . import history  # noqa: F401  (registers the model admins)
