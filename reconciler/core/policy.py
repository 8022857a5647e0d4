"""A schedule's run-time policy: what beat does when a run overlaps the next slot, with the slots
missed while no beat was scheduling, and with each run it sends (jitter, the scheduled time as
a keyword, a hard time limit). Plain values, no Django.

Every option has a default that is today's behaviour of Celery beat, so a declaration without
policies means what it always meant. Only options that differ from their default take part in
a spec's fields (``core.options``). docs/policies.md explains each option and why its default.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from .options import OptionSet

OVERLAP = ("allow", "skip", "queue_one")
CATCHUP = ("skip", "once", "all")
DEFAULT_CATCHUP_MAX = 10  # runs sent by ``catchup: all`` when ``catchup_max`` is not declared
DURATION_OPTIONS = ("max_runtime", "time_limit", "catchup_window", "jitter")  # seconds


@dataclass(frozen=True)
class Policy(OptionSet):
    overlap: str = "allow"  # allow | skip | queue_one
    max_runtime: int | None = None  # seconds: longer is running-long; with overlap, the lease's lifetime
    time_limit: int | None = None  # seconds: the run's hard time limit, passed to Celery
    catchup: str = "once"  # skip | once | all: the slots missed while no beat was scheduling
    catchup_window: int | None = None  # seconds: older missed slots are dropped
    catchup_max: int | None = None  # with ``all``: at most this many runs (DEFAULT_CATCHUP_MAX)
    jitter: int | None = None  # seconds: each send is delayed by a stable offset in [0, jitter)
    scheduled_time_kwarg: str | None = None  # the slot's time is also passed as this keyword

    @property
    def tracks_runs(self) -> bool:
        """Beat records each run it sends and the worker marks it started and finished: needed
        for overlap and for the running-long health state."""
        return self.overlap != "allow" or self.max_runtime is not None

    @property
    def effective_catchup_max(self) -> int:
        return self.catchup_max if self.catchup_max is not None else DEFAULT_CATCHUP_MAX

    def jitter_offset(self, name: str) -> timedelta:
        """The stable delay of every send of schedule ``name``: whole seconds in [0, jitter),
        from a hash of the name (never Python's ``hash()``: it differs between processes)."""
        if not self.jitter:
            return timedelta(0)
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        return timedelta(seconds=int.from_bytes(digest[:8], "big") % self.jitter)


DEFAULT_POLICY = Policy()
