"""How a schedule is watched: its own grace, failure and recovery thresholds, and the labels an
alert is routed by (``owner``, ``severity``). Health, metrics, the admin, the API and
``reconcile status`` read it from ownership; beat does not. docs/observe.md."""
from __future__ import annotations

from dataclasses import dataclass

from .options import OptionSet


@dataclass(frozen=True)
class Monitor(OptionSet):
    PREFIX = "monitor."

    grace: int | None = None  # seconds: late after the slot + grace (None: the global rule)
    failure_threshold: int = 1  # failing after this many failed runs in a row
    recovery_threshold: int = 1  # ok again after this many successful runs in a row
    owner: str = ""  # a label: carried to metrics, the admin, the API, status
    severity: str = ""  # a free-form label for alert routing


NO_MONITOR = Monitor()
