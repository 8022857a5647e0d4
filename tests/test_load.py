from __future__ import annotations

from pathlib import Path

from reconciler.load import discover, load_text


def test_duplicate_keys_are_noticed_with_both_positions() -> None:
    document = load_text("tasks:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml")
    assert [(d.key, d.first, d.second) for d in document.duplicates] == [("a", (2, 3), (4, 3))]
    assert document.data == {"tasks": {"a": 3, "b": 2}}


def test_merge_keys_are_not_duplicates() -> None:
    document = load_text("base: &b {queue: q}\nt:\n  <<: *b\n  queue: r\n", "f.yaml")
    assert document.duplicates == ()
    assert document.data["t"] == {"queue": "r"}


def test_syntax_error_carries_its_position() -> None:
    document = load_text("tasks:\n  a: [1\n", "f.yaml")
    [diagnostic] = document.diagnostics
    assert diagnostic.code == "yaml-syntax" and diagnostic.source.line == 3
    assert document.data is None


def test_discover_is_recursive_sorted_and_takes_both_suffixes(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yml", "a/c.yaml", "notes.txt", "c.YAML.bak"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["a/c.yaml", "a/z.yml", "b.yaml"]


def test_values_match_pyyaml_safe_load() -> None:
    import yaml

    text = (
        "a: 1\nb: 0x1f\nc: 010\nd: on\ne: ~\nf: 1.5\ng: 2030-01-01\nh: 2030-01-01 10:00:00+02:00\n"
        "i: [x, 'y', {z: .inf}]\nj: !!str 12\nk: &anchor {q: 1}\nl: *anchor\nm: !!set {p: null}\n"
    )
    assert load_text(text, "f.yaml").data == yaml.safe_load(text)


def test_aliases_share_one_object_instead_of_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 12)]
    document = load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert document.data["a11"][0] is document.data["a10"]


def test_several_duplicates_in_one_mapping_each_reported_once() -> None:
    document = load_text("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert sorted(d.key for d in document.duplicates) == ["a", "b"]
