"""Fatal conditions. Everything else is a Diagnostic. Exit codes are mapped in one place."""
from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGES = 2  # plan --detailed-exitcode, Terraform's convention


class ReconcilerError(Exception):
    """A fatal condition: the message says what happened and what to do next."""

    exit_code = EXIT_ERROR


class DatabaseUnavailable(ReconcilerError):
    """The database could not be reached; nothing was changed."""


class NotMigrated(DatabaseUnavailable):
    """The database is reachable but has no reconciler tables (yet): ``migrate`` first.
    Unattended shells retry it like an outage: a recreated database is migrated by the deploy."""


class RefusedApply(ReconcilerError):
    """Apply refused to run (empty declaration set, conflicts, invalid files)."""


class LockTimeout(ReconcilerError):
    """Another apply held the reconcile lock for longer than we may wait."""


class PathNotFound(ReconcilerError):
    """A schedules path that does not exist: a typo must never look like an empty folder."""

    exit_code = EXIT_USAGE


class UnknownName(ReconcilerError):
    """An operation named a schedule (or a task) that does not exist."""


class OperationRefused(ReconcilerError):
    """An operation (suspend, resume, run) does not apply to this row in its current state."""
