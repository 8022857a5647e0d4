"""Generate realistic schedule trees for the benchmarks: mixed kinds, files of ~100 tasks."""
from __future__ import annotations

import random
from pathlib import Path

TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
WAREHOUSES = ("north", "south", "east", "west", "central")


def declaration(i: int, rng: random.Random) -> str:
    kind = i % 10
    name = f"task-{i:06d}"
    if kind < 4:
        tz = TIMEZONES[i % len(TIMEZONES)]
        cron = f'"{rng.randrange(60)} {rng.randrange(24)} * * {rng.choice(["*", "mon-fri", "sat,sun", "1"])}"'
        return (
            f"  {name}:\n    task: project.tasks.send_digest\n    cron: {cron}\n"
            f"    timezone: {tz}\n    args: [team-{i % 50}]\n    kwargs:\n      include_drafts: false\n"
            f"    description: Digest for team {i % 50}\n"
        )
    if kind < 8:
        every = rng.choice(["30s", "5m", "15m", "1h", "2h", "1d", 45, 600])
        return (
            f"  {name}:\n    task: project.tasks.sync_inventory\n    every: {every}\n"
            f"    args: [{WAREHOUSES[i % 5]}]\n    kwargs:\n      batch_size: {100 * (1 + i % 9)}\n"
            f"    queue: inventory\n    expires: 10m\n"
        )
    if kind < 9:
        return (
            f"  {name}:\n    task: project.tasks.generate_report\n"
            f'    at: "2031-{1 + i % 12:02d}-{1 + i % 28:02d}T0{i % 10}:00:00+00:00"\n'
            f"    args: [report-{i}]\n    kwargs:\n      recipients: [ops@example.com]\n"
        )
    return (
        f"  {name}:\n    task: project.tasks.cleanup_sessions\n    cron:\n      minute: \"{i % 60}\"\n"
        f"      hour: \"{i % 24}\"\n      day_of_week: \"mon-fri\"\n    kwargs:\n      older_than_days: {7 + i % 30}\n"
    )


def write_tree(root: Path, count: int, per_file: int = 100, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, count, per_file):
        path = root / f"team-{start // per_file:04d}.yaml"
        body = "".join(declaration(i, rng) for i in range(start, min(start + per_file, count)))
        path.write_text("defaults:\n  enabled: true\ntasks:\n" + body, encoding="utf-8")
        files.append(path)
    return files
