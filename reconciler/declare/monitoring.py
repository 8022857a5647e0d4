"""``monitor:`` in the language: how a schedule is watched (its grace, failure and recovery
thresholds) and the labels its alerts are routed by (owner, severity). Health, metrics, the
admin, the API and ``reconcile status`` read it; beat does not. docs/observe.md."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..core import monitor
from ..core.options import shared
from .fields import Duration, as_text, shown

MAX_THRESHOLD = 100  # runs in a row: health reads no further back
MAX_LABEL = 64  # characters of owner and severity: a metric label, a filter in a URL


def _label(value: Any) -> str:
    text = as_text(value)
    if not text.strip() or text != text.strip() or len(text) > MAX_LABEL or not text.isprintable():
        raise PydanticCustomError(
            "schema", "a short label: 1 to {limit} printable characters, no space at either end, got {value}",
            {"limit": MAX_LABEL, "value": shown(value)},
        )
    return text


Label = Annotated[str, BeforeValidator(_label), Field(json_schema_extra={"minLength": 1, "maxLength": MAX_LABEL})]
Threshold = Annotated[int, Field(ge=1, le=MAX_THRESHOLD, strict=True)]


class Monitor(BaseModel):
    """How a schedule is watched; each key left out keeps the global rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    grace: Duration | None = Field(
        default=None, description="late after the slot + grace (replaces RECONCILER_HEALTH_GRACE for this schedule)",
    )
    failure_threshold: Threshold | None = Field(
        default=None, description="failing after this many failed runs in a row",
    )
    recovery_threshold: Threshold | None = Field(
        default=None, description="ok again after this many successes in a row",
    )
    owner: Label | None = Field(
        default=None, description="who owns it: a label on its metrics, a filter in the admin and the API",
    )
    severity: Label | None = Field(default=None, description="a free-form label for alert routing (page, ticket …)")


def monitor_of(declared: Monitor | None) -> monitor.Monitor:
    if declared is None:
        return monitor.NO_MONITOR
    found = monitor.Monitor(
        grace=declared.grace,
        failure_threshold=declared.failure_threshold or 1,
        recovery_threshold=declared.recovery_threshold or 1,
        owner=declared.owner or "",
        severity=declared.severity or "",
    )
    return monitor.NO_MONITOR if found == monitor.NO_MONITOR else shared(found)
