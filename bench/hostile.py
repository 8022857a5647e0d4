"""Benchmark: how long hostile YAML takes to be refused. An alias bomb (a few hundred bytes
that expand to ten million or a trillion values) must be refused by counting the node graph,
never by expanding it: target well under 1 s of work each, the whole validation included.
(The tests assert the refusal and the bounded memory; the durations are figures, here.)

Usage: .venv/bin/python bench/hostile.py [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
TARGET_S = 1.0


def bomb(levels: int, width: int = 10) -> str:
    """``width ** levels`` values once expanded (the bomb of tests/declare/test_safe_yaml.py)."""
    lines = ["tasks:", "  a:", "    task: project.tasks.heartbeat", "    every: 30s", "    kwargs:"]
    lines.append(f"      l0: &l0 [{', '.join(['x'] * width)}]")
    lines += [f"      l{i}: &l{i} [{', '.join(['*l' + str(i - 1)] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    import django

    django.setup()
    from reconciler.declare.load import load_text
    from reconciler.pipeline import default_registry, validate_paths

    registry = default_registry()
    for levels, label in ((7, "ten million"), (12, "a trillion")):
        text = bomb(levels)

        def load(text: str = text) -> None:
            assert [d.code for d in load_text(text, "bomb.yaml").diagnostics] == ["alias-expansion"]

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "bomb.yaml").write_text(text)

            def validate(folder: Path = Path(tmp)) -> None:
                result = validate_paths([folder], registry=registry, use_cache=False)
                assert [d.code for d in result.diagnostics] == ["alias-expansion"], result.diagnostics

            validate()  # warm-up: imports and lazily built validators
            load_s, validate_s = best_of(options.runs, load), best_of(options.runs, validate)
        print(f"alias bomb, {len(text)} bytes expanding to {label} values:")
        print(f"  refused by the loader:            {load_s * 1000:8.1f} ms  (target < {TARGET_S:.0f} s)")
        print(f"  refused by the whole validation:  {validate_s * 1000:8.1f} ms  (target < {TARGET_S:.0f} s)")


if __name__ == "__main__":
    main()
