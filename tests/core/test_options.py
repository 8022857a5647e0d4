"""``core.options.shared``: one object per distinct option set, so that what stores or sends
100,000 declarations' option sets works once per value, not once per declaration."""
from __future__ import annotations

import pytest

from reconciler.core import options
from reconciler.core.calendar import Calendar
from reconciler.core.monitor import Monitor
from reconciler.core.policy import Policy


@pytest.mark.parametrize("make", [
    lambda: Policy(overlap="skip", jitter=30),
    lambda: Calendar(until="2031-01-01T00:00:00+00:00"),
    lambda: Monitor(owner="team-growth", grace=60),
])
def test_equal_option_sets_become_one_object(make) -> None:  # type: ignore[no-untyped-def]
    first, second = make(), make()
    assert first == second and first is not second
    assert options.shared(first) is options.shared(second) is options.shared(first)


def test_past_the_limit_a_value_is_returned_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options, "_SHARED", {})
    monkeypatch.setattr(options, "SHARED_LIMIT", 2)
    kept = [options.shared(Policy(jitter=seconds)) for seconds in (1, 2)]
    late, again = Policy(jitter=3), Policy(jitter=3)
    assert options.shared(late) is late and options.shared(again) is again
    assert options.shared(Policy(jitter=1)) is kept[0]
    assert len(options._SHARED) == 2


@pytest.mark.parametrize("make", [
    lambda: Policy(overlap="skip", jitter=30),
    lambda: Calendar(until="2031-01-01T00:00:00+00:00"),
    lambda: Monitor(owner="team-growth", grace=60),
    Policy,
])
def test_what_an_option_set_keeps_of_itself_leaves_equality_hashing_and_pickles_alone(make) -> None:  # type: ignore[no-untyped-def]
    """``fields`` and ``to_json`` are kept on the instance: equal sets stay equal, with the
    same hash, and a pickle of an asked one loads equal to a fresh one, answering the same."""
    import pickle

    asked, fresh = make(), make()
    stored, fields = asked.to_json(), asked.fields()
    assert asked == fresh and hash(asked) == hash(fresh)
    loaded = pickle.loads(pickle.dumps(asked))
    assert loaded == fresh and loaded.to_json() == stored == fresh.to_json()
    assert loaded.fields() == fields == fresh.fields()
    assert (stored == "") is asked.is_default
