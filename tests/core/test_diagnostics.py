"""Diagnostics as data: the did-you-mean hint every phase shares."""
from __future__ import annotations

from reconciler.core.diagnostics import did_you_mean


def test_did_you_mean_names_the_close_choices() -> None:
    assert did_you_mean("evrey", ["every", "cron", "at"]) == "did you mean 'every'?"


def test_did_you_mean_falls_back_to_choices_that_start_with_the_word() -> None:
    assert did_you_mean("s", ["staging", "production", "sandbox"]) == "did you mean 'staging' or 'sandbox'?"


def test_did_you_mean_is_none_when_nothing_is_close() -> None:
    assert did_you_mean("zzz", ["every", "cron"]) is None
