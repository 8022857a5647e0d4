"""The import contracts (pyproject.toml [tool.importlinter], docs/architecture.md) hold, and bad
imports break them: lint-imports run on the real tree, then on a copy with deliberately wrong
imports. No database."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# module of the copy → (the import appended to it, what lint-imports must report)
BAD_IMPORTS = {
    "core/errors.py": (
        "from reconciler.cli import common",  # core importing a shell
        ["Layers: shells -> capabilities", "reconciler.core is not allowed to import reconciler.cli:",
         "reconciler.core.errors -> reconciler.cli.common"],
    ),
    "engine/diff.py": (
        "from django.db import models",  # the pure diff touching Django
        ["engine.diff is pure: no Django, no pydantic, no database BROKEN",
         "reconciler.engine.diff is not allowed to import django:"],
    ),
    "core/specs.py": (
        "from reconciler.core import plan",  # core.plan imports core.specs: a cycle
        ["No import cycles between the modules of a package BROKEN", "No cycles are allowed in reconciler.core."],
    ),
}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH is the tree under test, so that `reconciler` is found there before the
    # installed (editable) package.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken." in result.stdout


def test_bad_imports_break_the_contracts_they_cross(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "reconciler", tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for module, (line, _) in BAD_IMPORTS.items():
        path = tmp_path / "reconciler" / module
        path.write_text(f"{path.read_text()}\n{line}  # noqa: E402, F401  (deliberately wrong)\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    for module, (_, reported) in BAD_IMPORTS.items():
        for words in reported:
            assert words in result.stdout, f"{module}: {words!r} not in\n{result.stdout}"


# What Django's set-up of the demo project leaves imported, printed by a process of its own.
SETUP_IMPORTS = (
    "import os, sys, django\n"
    "os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'\n"
    "django.setup()\n"
    "print(' '.join(m for m in sys.modules if m == 'pydantic' or m.startswith('reconciler.')))\n"
)


def test_installing_the_app_does_not_load_the_schedule_language_into_every_django_process() -> None:
    """A worker, a web process, ``migrate``: Django imports our admin and system checks in each.
    The validate phase (pydantic, the schedule language) is for the commands, the API and the
    admin's pages, which import it when they run: at import it cost each process ~0.3 s."""
    done = subprocess.run([sys.executable, "-c", SETUP_IMPORTS], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.split())

    assert "reconciler.admin" in imported  # the admin is registered: the set-up did run
    assert imported.isdisjoint({"pydantic", "reconciler.pipeline", "reconciler.declare.tree",
                                "reconciler.declare.document", "reconciler.insync"}), sorted(imported)
