"""Writes whose durability may be traded for speed: on PostgreSQL, a statement run on its own
(autocommit) can commit without waiting for its WAL to reach the disk, by setting
``synchronous_commit = off`` for its own transaction from inside the statement — one round trip,
no BEGIN/SET/COMMIT. The write is visible to every other session at once and never half-applied;
only a crash of the database server may lose the last fraction of a second of such commits.
The run leases use it: the flush of each commit, not the statement, was most of a tracked run's
cost, and a lease lost in a server crash costs at worst one overlapping run (docs/policies.md).
"""
from __future__ import annotations

from django.db import connections

# A one-row FROM item whose evaluation switches the statement's transaction to asynchronous commit.
RELAXED = "(SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"


def relaxed_from(using: str = "default") -> str | None:
    """The FROM item to join into a statement that should commit asynchronously: on PostgreSQL
    and outside a transaction the caller opened (whose commit, and durability, are the caller's);
    else None."""
    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return RELAXED
    return None
