"""reconciler.conf: every ``RECONCILER_*`` setting in one table, read at each access, and
docs/settings.md is that table for people."""
from __future__ import annotations

import ast
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from reconciler import conf as conf_module
from reconciler.conf import PREFIX, SETTINGS, Computed, conf, default_source_name, import_path, schedules_dir
from reconciler.declare.lint_herd import HERD_LIMIT
from tests.support.cli import REPO

PACKAGE = REPO / "reconciler"
NAMED = re.compile(r"\bRECONCILER_([A-Z][A-Z0-9_]*[A-Z0-9])")
READ = re.compile(r"\bconf\.([A-Z][A-Z0-9_]*)\b")


def _texts(paths: list[Path]) -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in paths}


def _code() -> dict[Path, str]:
    return _texts(sorted(PACKAGE.rglob("*.py")))


def _docs() -> dict[Path, str]:
    docs = REPO / "docs"
    return _texts([*sorted(docs.rglob("*.md")), *sorted(docs.rglob("*.json")), REPO / "README.md"])


def _default(name: str) -> Any:
    default = SETTINGS[name].default
    return default.make() if isinstance(default, Computed) else default


def test_every_setting_named_in_the_code_or_the_docs_is_in_the_table() -> None:
    named = {(match, path.relative_to(REPO).as_posix())
             for path, text in {**_code(), **_docs()}.items() for match in NAMED.findall(text)}
    assert named, "the pattern finds the settings the code and the docs name"
    assert sorted((name, where) for name, where in named if name not in SETTINGS) == []


def test_every_setting_the_code_reads_is_in_the_table() -> None:
    read = {(match, path.relative_to(REPO).as_posix())
            for path, text in _code().items() for match in READ.findall(text)}
    assert read
    assert sorted((name, where) for name, where in read if name not in SETTINGS) == []


def _django_reads(tree: ast.AST) -> list[str]:
    """``settings.RECONCILER_X``, ``getattr(settings, "RECONCILER_X", ...)`` and ``hasattr`` alike."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings"
                and node.attr.startswith(PREFIX)):
            found.append(node.attr)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id == "settings"
              and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith(PREFIX)):
            found.append(str(node.args[1].value))
    return found


def test_no_module_but_conf_reads_a_reconciler_setting_from_django() -> None:
    sample = 'getattr(settings, "RECONCILER_X", 1) or settings.RECONCILER_Y or hasattr(settings, "RECONCILER_Z")'
    assert sorted(_django_reads(ast.parse(sample))) == ["RECONCILER_X", "RECONCILER_Y", "RECONCILER_Z"]
    found = {path.relative_to(REPO).as_posix(): _django_reads(ast.parse(text))
             for path, text in _code().items() if path.name != "conf.py"}
    assert {where: names for where, names in found.items() if names} == {}


def _documented() -> list[tuple[str, str, str]]:
    """docs/settings.md's table: (name, default cell, meaning) in the order it lists them."""
    rows = []
    for line in (REPO / "docs" / "settings.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| `{PREFIX}"):
            name, default, meaning = (cell.strip() for cell in line.strip().strip("|").split(" | "))
            rows.append((name.strip("`").removeprefix(PREFIX), default, meaning))
    return rows


def test_docs_list_every_setting_of_the_table_in_its_order() -> None:
    assert [name for name, _, _ in _documented()] == list(SETTINGS)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_docs_give_each_setting_its_default_and_its_meaning(name: str) -> None:
    documented = {row[0]: row[1:] for row in _documented()}
    default, meaning = documented[name]
    expected = SETTINGS[name].default
    if isinstance(expected, Computed):
        assert default == expected.words
    else:
        assert default.startswith("`") and default.endswith("`"), default
        value = ast.literal_eval(default.strip("`"))
        assert (type(value), value) == (type(expected), expected)
    assert meaning == SETTINGS[name].doc


def test_every_setting_has_a_one_line_doc() -> None:
    assert all(s.doc and "\n" not in s.doc and "|" not in s.doc for s in SETTINGS.values())


@pytest.mark.parametrize("name", list(SETTINGS))
def test_an_unset_setting_reads_as_its_default(name: str, settings: Any) -> None:
    if hasattr(settings, PREFIX + name):
        delattr(settings, PREFIX + name)
    assert getattr(conf, name) == _default(name)


def test_defaults_that_are_computed_or_shared_with_a_module() -> None:
    assert _default("CACHE_DIR") == Path(tempfile.gettempdir()) / f"reconciler-cache-{os.getuid()}"
    assert SETTINGS["HERD_LIMIT"].default == HERD_LIMIT  # the lint's own default, when called without settings


def test_a_setting_set_to_none_is_none_not_its_default(settings: Any) -> None:
    settings.RECONCILER_CACHE_DIR = None
    assert conf.CACHE_DIR is None


def test_a_change_of_settings_is_seen_at_the_next_access(settings: Any) -> None:
    settings.RECONCILER_HERD_LIMIT = 3
    assert conf.HERD_LIMIT == 3
    with override_settings(RECONCILER_HERD_LIMIT=7, RECONCILER_SOURCE_URL="https://x/{path}"):
        assert (conf.HERD_LIMIT, conf.SOURCE_URL) == (7, "https://x/{path}")
    assert conf.HERD_LIMIT == 3
    settings.RECONCILER_PRUNE = False
    assert conf.PRUNE is False
    del settings.RECONCILER_PRUNE
    assert conf.PRUNE is True


def test_a_name_not_in_the_table_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="RECONCILER_SCHEDULE_DIR is not a setting"):
        conf.SCHEDULE_DIR  # noqa: B018
    assert getattr(conf, "__wrapped__", None) is None
    assert not hasattr(conf, "schedules_dir")
    assert dir(conf) == sorted(SETTINGS)


def test_the_schedules_folder_and_the_default_source_name(settings: Any, tmp_path: Path) -> None:
    settings.BASE_DIR = tmp_path
    settings.RECONCILER_SCHEDULES_DIR = "ops/schedules"
    settings.RECONCILER_SOURCE_NAME = ""
    assert schedules_dir() == tmp_path / "ops" / "schedules"
    assert default_source_name() == "ops/schedules"
    settings.RECONCILER_SOURCE_NAME = "billing"
    assert default_source_name() == "billing"
    settings.RECONCILER_SCHEDULES_DIR = "/srv/schedules"
    assert schedules_dir() == Path("/srv/schedules")


def test_the_celery_app_setting_as_an_import_path() -> None:
    assert import_path("mysite.celery:app") == "mysite.celery.app"


def _app_imports(path: Path) -> list[str]:
    """The modules of the app that ``path`` imports, absolute."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.append(module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return sorted(m for m in found if m == "reconciler" or m.startswith("reconciler."))


def test_conf_imports_nothing_else_of_the_app() -> None:
    assert _app_imports(Path(conf_module.__file__)) == []


def test_migrations_import_nothing_of_the_app_but_conf() -> None:
    imports = {path.name: _app_imports(path) for path in sorted((PACKAGE / "migrations").glob("0*.py"))}
    assert {name: found for name, found in imports.items() if found} == {
        "0005_ownership_source.py": ["reconciler.conf"],
    }
