"""Discovery: which files a schedules tree holds, and the paths refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.errors import PathNotFound
from reconciler.declare.files import discover


def test_discover_is_recursive_sorted_and_takes_both_suffixes_in_any_case(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yml", "a/c.yaml", "notes.txt", "c.YAML.bak", "D.YML", "e.Yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path).files]
    assert found == ["D.YML", "a/c.yaml", "a/z.yml", "b.yaml", "e.Yaml"]


def test_missing_root_is_fatal_and_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PathNotFound, match="typo"):
        discover(tmp_path / "typo")


def test_hidden_folders_and_files_are_skipped(tmp_path: Path) -> None:
    for name in (".git/config.yaml", ".github/workflows/ci.yml", "a/.#lock.yaml", "a/b.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("tasks: {}\n")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path).files] == ["a/b.yaml"]


def test_symlinks_that_leave_the_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.yaml").write_text("tasks: {}\n")
    root = tmp_path / "schedules"
    (root / "inner").mkdir(parents=True)
    (root / "inner" / "real.yaml").write_text("tasks: {}\n")
    (root / "file-link.yaml").symlink_to(outside / "secret.yaml")
    (root / "dir-link").symlink_to(outside / "sub")
    (root / "inside-link.yaml").symlink_to(root / "inner" / "real.yaml")
    (root / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    found = discover(root)
    assert [p.relative_to(root).as_posix() for p in found.files] == ["inner/real.yaml", "inside-link.yaml"]
    assert sorted((d.code, Path(d.source.file).name) for d in found.diagnostics) == [
        ("io-error", "dangling.yaml"), ("symlink-outside", "dir-link"), ("symlink-outside", "file-link.yaml"),
    ]
