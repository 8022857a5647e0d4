"""A schedule's run-time policy: what beat does when a run overlaps the next slot, with the slots
missed while no beat was scheduling, and with each run it sends (jitter, the scheduled time as
a keyword, a hard time limit). Plain values, no Django.

Every option has a default that is today's behaviour of Celery beat, so a declaration without
policies means what it always meant. Only options that differ from their default take part in
a spec's fields (``fields``): the digest of a declaration without policies is unchanged, and a
plan shows "overlap: allow → skip" for a policy added later (``value_of`` gives the default of
an option a side lacks). docs/policies.md explains each option and why its default.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

OVERLAP = ("allow", "skip", "queue_one")
CATCHUP = ("skip", "once", "all")
DEFAULT_CATCHUP_MAX = 10  # runs sent by ``catchup: all`` when ``catchup_max`` is not declared
DURATION_OPTIONS = ("max_runtime", "time_limit", "catchup_window", "jitter")  # seconds


@dataclass(frozen=True)
class Policy:
    overlap: str = "allow"  # allow | skip | queue_one
    max_runtime: int | None = None  # seconds: longer is running-long; with overlap, the lease's lifetime
    time_limit: int | None = None  # seconds: the run's hard time limit, passed to Celery
    catchup: str = "once"  # skip | once | all: the slots missed while no beat was scheduling
    catchup_window: int | None = None  # seconds: older missed slots are dropped
    catchup_max: int | None = None  # with ``all``: at most this many runs (DEFAULT_CATCHUP_MAX)
    jitter: int | None = None  # seconds: each send is delayed by a stable offset in [0, jitter)
    scheduled_time_kwarg: str | None = None  # the slot's time is also passed as this keyword

    def fields(self) -> dict[str, Any]:
        """Option → value, for the options that differ from their default (the diff's unit)."""
        return {name: value for name, value in _values(self).items() if value != DEFAULTS[name]}

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_POLICY

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

    def to_json(self) -> str:
        """What ownership stores (``ManagedTask.policy``): the non-default options, or ``""``."""
        options = self.fields()
        return json.dumps(options, sort_keys=True, separators=(",", ":")) if options else ""

    @classmethod
    def from_json(cls, text: str | None) -> Policy:
        """The stored policy; an unreadable one is the default (the next apply rewrites it)."""
        if not text:
            return DEFAULT_POLICY
        try:
            options = json.loads(text)
            return cls(**{name: value for name, value in options.items() if name in DEFAULTS})
        except (ValueError, TypeError, AttributeError):
            return DEFAULT_POLICY


def _values(policy: Policy) -> dict[str, Any]:
    return {f.name: getattr(policy, f.name) for f in fields(policy)}


DEFAULT_POLICY = Policy()
DEFAULTS: dict[str, Any] = _values(DEFAULT_POLICY)
OPTIONS = tuple(DEFAULTS)


def value_of(field_values: dict[str, Any], name: str) -> Any:
    """A spec field's value where a policy option a side leaves out is its default."""
    return field_values[name] if name in field_values else DEFAULTS.get(name)
