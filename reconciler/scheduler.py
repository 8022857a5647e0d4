"""The path users name in their settings: ``-S reconciler.scheduler:ReconcilingScheduler``.
The scheduler lives in ``reconciler.beat.scheduler``."""
from __future__ import annotations

from .beat.scheduler import ReconcilingScheduler

__all__ = ["ReconcilingScheduler"]
