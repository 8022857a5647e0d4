"""The YAML loader's guards: duplicate keys, aliases built once and bounded, values as
``yaml.safe_load`` gives them (through ``load_text``, its one caller)."""
from __future__ import annotations

import tracemalloc

import pytest

from reconciler.declare.load import load_text


def test_duplicate_keys_are_noticed_with_both_positions() -> None:
    document = load_text("tasks:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml")
    assert [(d.key, d.first, d.second) for d in document.duplicates] == [("a", (2, 3), (4, 3))]
    assert document.data == {"tasks": {"a": 3, "b": 2}}


def test_merge_keys_are_not_duplicates() -> None:
    document = load_text("base: &b {queue: q}\nt:\n  <<: *b\n  queue: r\n", "f.yaml")
    assert document.duplicates == ()
    assert document.data["t"] == {"queue": "r"}


def test_values_match_pyyaml_safe_load() -> None:
    import yaml

    text = (
        "a: 1\nb: 0x1f\nc: 010\nd: on\ne: ~\nf: 1.5\ng: 2030-01-01\nh: 2030-01-01 10:00:00+02:00\n"
        "i: [x, 'y', {z: .inf}]\nj: !!str 12\nk: &anchor {q: 1}\nl: *anchor\nm: !!set {p: null}\n"
        # quoted and block scalars are strings whatever their text; the same text plain is not
        "n: '1'\no: \"true\"\np: |\n  12\nq: >\n  null\nr: \"~\"\ns: ''\nt: 1\nu: true\nv: null\nw:\n"
    )
    assert load_text(text, "f.yaml").data == yaml.safe_load(text)


def test_aliases_share_one_object_instead_of_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 5)]
    document = load_text("\n".join(lines) + "\n", "shared.yaml")
    assert document.data["a4"][0] is document.data["a3"]


def test_several_duplicates_in_one_mapping_each_reported_once() -> None:
    document = load_text("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert sorted(d.key for d in document.duplicates) == ["a", "b"]


def _bomb(levels: int, width: int = 10) -> str:
    lines = ["tasks:", "  a:", "    task: project.tasks.heartbeat", "    every: 30s", "    kwargs:"]
    lines.append(f"      l0: &l0 [{', '.join(['x'] * width)}]")
    lines += [f"      l{i}: &l{i} [{', '.join(['*l' + str(i - 1)] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 12], ids=["ten-million", "a-trillion"])
def test_alias_bomb_is_refused_in_bounded_memory(levels: int) -> None:
    text = _bomb(levels)
    assert len(text) < 1000
    tracemalloc.start()
    try:
        document = load_text(text, "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [d.code for d in document.diagnostics] == ["alias-expansion"]
    assert document.data is None
    # Counted on the node graph, not by expanding it: the expansion would hold 10^7 or 10^12
    # values. (How long the refusal takes is a figure of bench/hostile.py.)
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"


def test_aliases_below_the_limit_still_load() -> None:
    document = load_text(_bomb(3), "shared.yaml")
    assert document.diagnostics == ()
    assert len(document.data["tasks"]["a"]["kwargs"]["l2"]) == 10


def test_recursive_alias_is_a_diagnostic() -> None:
    document = load_text("a: &a [1, *a]\n", "loop.yaml")
    assert [(d.code, d.source.line, d.source.column) for d in document.diagnostics] == [("recursive-alias", 1, 4)]
