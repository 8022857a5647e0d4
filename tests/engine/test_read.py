"""``read_planned``: a plan of one source reads the rows it owns and, of every other row, only
those a declaration names; the plan is the one every row would give. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.declare.sources import scope_for
from reconciler.engine.read import read_actual, read_planned
from reconciler.pipeline import plan_paths, validate_paths
from tests.support.engine import NOW, apply_yaml, registry, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

OURS = "tasks:\n  ours-a:\n    task: project.tasks.heartbeat\n    every: 60\n" \
       "  ours-b:\n    task: project.tasks.heartbeat\n    every: 120\n"
THEIRS = "tasks:\n  theirs-a:\n    task: project.tasks.heartbeat\n    every: 60\n" \
         "  theirs-b:\n    task: project.tasks.heartbeat\n    every: 90\n"


def unowned(name: str) -> None:
    every, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.create(name=name, task="project.tasks.heartbeat", interval=every)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Rows of two sources (``ours``, ``theirs``) and two rows made outside git."""
    apply_yaml(tmp_path / "ours", OURS)
    apply_yaml(tmp_path / "theirs", THEIRS)
    unowned("hand-made")
    unowned("also-hand-made")
    return tmp_path


def names_read(folder: Path) -> list[str]:
    state = validate_paths([folder], registry=registry(), now=NOW, lints=False).declared
    return [task.name for task in read_planned("default", state.specs(), scope_for([folder]).sources).tasks]


CASES = {  # what a folder declares → the rows its plan reads (in full or as their declarations)
    "empty folder of another source": ("elsewhere", "tasks: {}\n", []),
    "its own rows, to update and prune": (
        "ours", "tasks:\n  ours-a:\n    task: project.tasks.heartbeat\n    every: 61\n", ["ours-a", "ours-b"],
    ),
    "a name held outside git": (
        "ours", OURS + "  hand-made:\n    task: project.tasks.heartbeat\n    every: 30\n",
        ["hand-made", "ours-a", "ours-b"],
    ),
    "a name of another source": ("elsewhere", THEIRS.replace("theirs-b", "mine"), ["theirs-a"]),
}


@pytest.mark.parametrize(("folder", "text", "expected"), CASES.values(), ids=CASES)
def test_a_plan_reads_only_its_rows_and_the_names_it_takes(
    database: Path, folder: str, text: str, expected: list[str],
) -> None:
    write_schedules(database / folder, text)
    assert names_read(database / folder) == expected


@pytest.mark.parametrize(("folder", "text", "expected"), CASES.values(), ids=CASES)
@pytest.mark.parametrize("adopt", [False, True], ids=["", "adopt"])
def test_the_plan_is_the_one_every_row_gives(
    database: Path, folder: str, text: str, expected: list[str], adopt: bool,
) -> None:
    write_schedules(database / folder, text)
    plans = [
        plan_paths([database / folder], registry=registry(), now=NOW, adopt=adopt, every_row=every_row).plan
        for every_row in (False, True)
    ]
    assert plans[0] is not None and plans[0] == plans[1]


def test_an_empty_folder_reads_no_row_in_one_query(database: Path) -> None:
    (database / "empty").mkdir()
    with CaptureQueriesContext(connection) as queries:
        assert names_read(database / "empty") == []
    assert len(queries) == 1  # the heads of its own source's rows: none


def test_the_others_are_read_by_name_alone(database: Path) -> None:
    write_schedules(database / "ours", OURS.replace("every: 120", "every: 121"))
    with CaptureQueriesContext(connection) as queries:
        assert names_read(database / "ours") == ["ours-a", "ours-b"]
    full = [q["sql"] for q in queries if '"args"' in q["sql"]]
    assert full and all("WHERE" in sql for sql in full)  # ours, by source or by id: never every row
    names = [q["sql"] for q in queries if "IS NULL OR" in q["sql"]]
    assert len(names) == 1 and names[0].startswith(
        'SELECT "django_celery_beat_periodictask"."id", "django_celery_beat_periodictask"."name" FROM',
    )


def test_every_row_stays_read_for_the_pages(database: Path) -> None:
    assert {t.name for t in read_actual("default").tasks} == {
        "ours-a", "ours-b", "theirs-a", "theirs-b", "hand-made", "also-hand-made",
    }
