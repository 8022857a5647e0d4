"""``scheduler_users``: the system check E006's question, asked before most manage.py commands."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.declare.tree import scheduler_users

TASK = "tasks:\n  t:\n    task: project.tasks.heartbeat\n"

# file text -> the declarations that need our scheduler
CASES = {
    "plain cron": (TASK + '    cron: "0 9 * * *"\n', ()),
    "cron mapping": (TASK + "    cron:\n      minute: 0\n      hour: 9\n", ()),
    "monitor alone": (TASK + "    every: 1h\n    monitor: {owner: ops}\n", ()),
    "overlap": (TASK + "    every: 1h\n    overlap: skip\n    max_runtime: 10m\n", ("t",)),
    "flow cron list": (TASK + '    cron: ["0 9 * * *", "0 17 * * *"]\n', ("t",)),
    "block cron list": (TASK + '    cron:  # twice a day\n      - "0 9 * * *"\n      - "0 17 * * *"\n', ("t",)),
    "in defaults, flow style": ("defaults: {jitter: 1m}\n" + TASK + "    every: 1h\n", ("t",)),
    "quoted key": (TASK + '    every: 1h\n    "max_runs": 3\n', ("t",)),
    "a key in a comment only": (TASK + "    every: 1h  # overlap: skip one day\n", ()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_declarations_that_need_our_scheduler(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    (tmp_path / "s.yaml").write_text(text)
    assert scheduler_users([tmp_path]) == expected


def test_a_file_naming_no_such_key_is_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plain.yaml").write_text(TASK + '    cron: "0 9 * * *"\n')
    (tmp_path / "policy.yaml").write_text(TASK.replace("  t:", "  p:") + "    every: 1h\n    jitter: 1m\n")
    parsed: list[str] = []
    from reconciler.declare import tree

    real = tree.parse_source
    monkeypatch.setattr(tree, "parse_source", lambda source: parsed.append(source.name) or real(source))
    assert scheduler_users([tmp_path]) == ("p",)
    assert [Path(name).name for name in parsed] == ["policy.yaml"]
